"""Prometheus metrics through the real Envoy: what an allowed and a denied OpenAI call add to /metrics."""

from __future__ import annotations

import time
import urllib.request
from collections.abc import Iterator

import openai
import pytest
import yaml
from prometheus_client.parser import text_string_to_metric_families

from conftest import Gateway, launch_gateway

MESSAGES = [{"role": "user", "content": "hello"}]


@pytest.fixture(scope="module")
def gw(tmp_path_factory: pytest.TempPathFactory, fake_provider) -> Iterator[Gateway]:
    with launch_gateway(tmp_path_factory.mktemp("metrics"), fake_provider) as gateway:
        yield gateway


def scrape(gw: Gateway) -> tuple[str, list]:
    port = yaml.safe_load(gw.config.read_text())["status"]["port"]
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=2) as response:
        assert response.status == 200
        content_type = response.headers["Content-Type"]
        text = response.read().decode()
    return content_type, [s for family in text_string_to_metric_families(text) for s in family.samples]


def value(samples: list, name: str, **labels: str) -> float:
    return sum(s.value for s in samples if s.name == name and labels.items() <= s.labels.items())


def client(gw: Gateway, key: str) -> openai.OpenAI:
    return openai.OpenAI(base_url=f"{gw.url}/v1", api_key=key, max_retries=0)


def test_an_allowed_and_a_denied_call_in_metrics(gw: Gateway) -> None:
    raw = client(gw, gw.keys["dev"]).chat.completions.with_raw_response.create(model="gpt-4o", messages=MESSAGES)
    allowed = gw.audit_for(raw.headers["x-request-id"])
    with pytest.raises(openai.PermissionDeniedError) as denied:
        client(gw, gw.keys["intern"]).chat.completions.create(model="gpt-4o", messages=MESSAGES)
    assert denied.value.status_code == 403
    # The denied exchange's audit line (and so its metrics) is written when Envoy closes its stream.
    deadline = time.monotonic() + 5
    while len(gw.audit_lines()) < 2:
        assert time.monotonic() < deadline, "no audit line for the denied call"
        time.sleep(0.05)

    content_type, samples = scrape(gw)
    assert content_type.startswith("text/plain; version=0.0.4")
    common = {"provider": "openai", "operation": "chat_completions", "model": "gpt-4o"}
    assert value(samples, "ztgate_exchanges_total", **common, decision="allow", status="200") == 1
    assert value(samples, "ztgate_exchanges_total", **common, decision="deny", status="403") == 1

    usage = allowed["usage"]
    assert usage["input_tokens"] > 0 and usage["output_tokens"] > 0
    assert value(samples, "ztgate_tokens_total", direction="input", **{k: common[k] for k in ("provider", "model")}) == usage["input_tokens"]
    assert value(samples, "ztgate_tokens_total", direction="output", model="gpt-4o") == usage["output_tokens"]
    assert value(samples, "ztgate_group_tokens_total", direction="output", group="developers") == usage["output_tokens"]
    assert value(samples, "ztgate_identity_tokens_total", direction="input", identity="alice@example.test") == usage["input_tokens"]
    assert value(samples, "ztgate_identity_tokens_total", identity="ivan@example.test") == 0  # denied: no tokens
    assert value(samples, "ztgate_cost_usd_total", model="gpt-4o") == pytest.approx(usage["cost_usd"])

    # Both exchanges were identified, parsed, inspected and judged; only the allowed one went upstream.
    for phase in ("identify", "parse", "detect", "policy"):
        assert value(samples, "ztgate_phase_seconds_count", phase=phase) == 2, phase
    assert value(samples, "ztgate_phase_seconds_count", phase="upstream") == 1
    assert value(samples, "ztgate_policy_eval_seconds_count", phase="request") == 2
    assert 0 < value(samples, "ztgate_policy_eval_seconds_sum", phase="request") < 0.1
    assert value(samples, "ztgate_processing_seconds_count") == 2
    assert value(samples, "ztgate_exchange_seconds_count", provider="openai", stream="false") == 2
    assert value(samples, "ztgate_exchanges_in_flight") == 0, "both exchanges have ended"

    # Scrape-time state: the policy in force, the memory usage store, the audit log.
    assert value(samples, "ztgate_policy_reloads_total", result="failure") == 0
    assert [s.labels["revision"] for s in samples if s.name == "ztgate_policy_info"] == [allowed["decision"]["policy_revision"]]
    assert value(samples, "ztgate_usage_store_available", backend="memory") == 1
    assert value(samples, "ztgate_audit_write_failures_total") == 0
