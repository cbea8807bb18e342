"""Usage through the real Envoy: exact accounting for every provider and mode, cost, budgets that
cannot be overrun under real concurrency (in-memory store, and Redis shared by two replicas), 429s
in each provider's format, and `ztgate usage`."""

from __future__ import annotations

import concurrent.futures
import json
import shutil
import sys
import time
from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path

import anthropic
import httpx2 as httpx
import openai
import pytest
from google import genai
from google.genai import types

from conftest import ROOT, Gateway, gateway_env, launch_gateway, policy_copy, ztgate_cli

sys.path.insert(0, str(ROOT / "tests"))
from redis_server import REDIS_SERVER, RedisServer  # noqa: E402

HELLO = [{"role": "user", "content": "hello there"}]


# ---- accounting ------------------------------------------------------------------------------------


def exact(gw: Gateway, request_id: str) -> dict:
    """The audit line's usage, checked against what the fake provider reported for the same request."""
    audit = gw.audit_for(request_id)
    reported = gw.provider.last.usage
    assert audit["usage"]["input_tokens"] == reported["input_tokens"]
    assert audit["usage"]["output_tokens"] == reported["output_tokens"]
    assert "estimated" not in audit["usage"]
    return audit


def test_openai_chat_and_responses_buffered_and_streamed_are_accounted_exactly(gateway: Gateway) -> None:
    client = openai.OpenAI(base_url=f"{gateway.url}/v1", api_key=gateway.keys["dev"], max_retries=0)
    raw = client.chat.completions.with_raw_response.create(model="gpt-4o", messages=HELLO)
    audit = exact(gateway, raw.headers["x-request-id"])
    assert audit["usage"]["cost_usd"] > 0, "gpt-4o has a list price"
    with client.chat.completions.with_streaming_response.create(model="gpt-4o", messages=HELLO, stream=True) as stream:
        request_id = stream.headers["x-request-id"]
        for _ in stream.iter_lines():
            pass
    exact(gateway, request_id)
    raw = client.responses.with_raw_response.create(model="gpt-4o", input="hello there")
    exact(gateway, raw.headers["x-request-id"])
    with client.responses.with_streaming_response.create(model="gpt-4o", input="hello there", stream=True) as stream:
        request_id = stream.headers["x-request-id"]
        for _ in stream.iter_lines():
            pass
    exact(gateway, request_id)


def test_anthropic_with_cache_reads_and_gemini_are_accounted_exactly(gateway: Gateway) -> None:
    client = anthropic.Anthropic(base_url=gateway.url, api_key=gateway.keys["dev"], max_retries=0)
    raw = client.messages.with_raw_response.create(
        model="claude-3-5-sonnet-latest", max_tokens=100, messages=HELLO, extra_headers={"x-fake-cache-read": "40"}
    )
    audit = exact(gateway, raw.headers["x-request-id"])
    assert audit["usage"]["cached_input_tokens"] == 40
    with client.messages.with_streaming_response.create(model="claude-3-5-sonnet-latest", max_tokens=100, messages=HELLO, stream=True) as stream:
        request_id = stream.headers["x-request-id"]
        for _ in stream.iter_lines():
            pass
    exact(gateway, request_id)
    gemini = genai.Client(api_key=gateway.keys["dev"], http_options=types.HttpOptions(base_url=gateway.url, headers={"x-request-id": "gemini-usage-1"}))
    gemini.models.generate_content(model="gemini-2.0-flash", contents="hello there")
    exact(gateway, "gemini-usage-1")
    streaming = genai.Client(api_key=gateway.keys["dev"], http_options=types.HttpOptions(base_url=gateway.url, headers={"x-request-id": "gemini-usage-2"}))
    for _ in streaming.models.generate_content_stream(model="gemini-2.0-flash", contents="hello there"):
        pass
    exact(gateway, "gemini-usage-2")


def test_a_stream_cut_short_is_estimated_and_marked_so(gateway: Gateway) -> None:
    """The client goes away mid-stream: the provider's usage never arrives, so ztgate estimates it."""
    with httpx.stream(
        "POST",
        f"{gateway.url}/v1/chat/completions",
        headers={"authorization": f"Bearer {gateway.keys['dev']}", "x-fake-chunks": "50", "x-fake-chunk-delay-ms": "20", "x-request-id": "cut-usage-1"},
        json={"model": "gpt-4o", "messages": HELLO, "stream": True},
    ) as response:
        for i, _ in enumerate(response.iter_lines()):
            if i > 5:
                break
    audit = gateway.audit_for("cut-usage-1", timeout=10)
    assert audit["usage"]["estimated"] is True and audit["usage"]["input_tokens"] > 0


# ---- budgets -----------------------------------------------------------------------------------------


def policy_with_limits(tmp: Path, limits: dict, **more: object) -> Path:
    """rego/ with these per-identity limits (and any other `limits` settings, e.g. cut_streams=True)."""
    return policy_copy(tmp, lambda data: data["limits"].update(identities=limits, **more))


def fire(urls: list[str], key: str, n: int, **extra) -> list[int]:
    """n requests at once, spread over the gateways; the statuses they got."""
    def one(i: int) -> int:
        response = httpx.post(
            f"{urls[i % len(urls)]}/v1/chat/completions",
            headers={"authorization": f"Bearer {key}", "x-fake-delay-ms": "300"},
            json={"model": "gpt-4o-mini", "messages": HELLO, **extra},
            timeout=30,
        )
        return response.status_code

    with concurrent.futures.ThreadPoolExecutor(max_workers=n) as pool:
        return list(pool.map(one, range(n)))


@pytest.fixture(scope="module")
def limited(tmp_path_factory: pytest.TempPathFactory, fake_provider) -> Iterator[Gateway]:
    """One gateway (in-memory store): ivan may make 7 requests a day and hold 1000 tokens a day."""
    tmp = tmp_path_factory.mktemp("limited")
    limits = {
        "ivan@example.test": [{"name": "ivan daily requests", "window": "day", "requests": 7}],
        "ann@example.test": [{"name": "ann daily requests", "window": "day", "requests": 1}],
    }
    policy_dir = policy_with_limits(tmp, limits)
    with launch_gateway(tmp, fake_provider, policy={"dir": str(policy_dir)}) as gw:
        yield gw


def test_concurrent_requests_never_overrun_a_request_budget(limited: Gateway) -> None:
    statuses = fire([limited.url], limited.keys["intern"], 20)
    assert statuses.count(200) == 7 and statuses.count(429) == 13


def test_over_budget_is_a_429_in_the_providers_format_with_retry_after(limited: Gateway) -> None:
    client = openai.OpenAI(base_url=f"{limited.url}/v1", api_key=limited.keys["intern"], max_retries=0)
    with pytest.raises(openai.RateLimitError) as exc:
        client.chat.completions.create(model="gpt-4o-mini", messages=HELLO)
    assert "ivan daily requests" in str(exc.value)
    assert int(exc.value.response.headers["retry-after"]) >= 1
    audit = limited.audit_for(exc.value.response.headers["x-request-id"])
    assert audit["status"] == 429 and audit["refused_limit"] == "ivan daily requests"
    claude = anthropic.Anthropic(base_url=limited.url, api_key=limited.keys["analyst"], max_retries=0)
    claude.messages.create(model="claude-3-5-haiku-latest", max_tokens=10, messages=HELLO)
    with pytest.raises(anthropic.RateLimitError) as over:
        claude.messages.create(model="claude-3-5-haiku-latest", max_tokens=10, messages=HELLO)
    assert over.value.body["error"]["type"] == "rate_limit_error" and "ann daily requests" in str(over.value)


@pytest.fixture(scope="module")
def token_budget(tmp_path_factory: pytest.TempPathFactory, fake_provider) -> Iterator[Gateway]:
    tmp = tmp_path_factory.mktemp("tokens")
    policy_dir = policy_with_limits(tmp, {"ivan@example.test": [{"name": "ivan daily tokens", "window": "day", "tokens": 1000}]})
    with launch_gateway(tmp, fake_provider, policy={"dir": str(policy_dir)}) as gw:
        yield gw


def test_a_token_budget_reserves_max_tokens_and_settles_to_what_was_used(token_budget: Gateway) -> None:
    """Each request reserves its input estimate plus max_tokens (450): two fit in 1000 at once. Once
    they end, only what they used stays counted, so the budget admits more."""
    first = fire([token_budget.url], token_budget.keys["intern"], 8, max_tokens=450)
    assert first.count(200) == 2 and first.count(429) == 6
    second = fire([token_budget.url], token_budget.keys["intern"], 8, max_tokens=450)
    assert second.count(200) >= 1, "settlement gave the unused reservation back"


@pytest.mark.skipif(REDIS_SERVER is None, reason="redis-server is not installed (make test installs it as root)")
def test_two_replicas_sharing_redis_never_overrun_a_budget(tmp_path_factory: pytest.TempPathFactory, fake_provider) -> None:
    tmp = tmp_path_factory.mktemp("replicas")
    policy_dir = policy_with_limits(tmp, {"ivan@example.test": [{"name": "ivan daily requests", "window": "day", "requests": 9}]})
    with RedisServer() as redis, ExitStack() as stack:
        gateways = []
        for name in ("a", "b"):
            (tmp / name).mkdir()
            usage = {"store": "redis", "redis_url": redis.url}
            gateways.append(stack.enter_context(launch_gateway(tmp / name, fake_provider, policy={"dir": str(policy_dir)}, usage=usage)))
        # Both replicas must know ivan's key: the second gets the first's keys file.
        shutil.copy(gateways[0].config.parent / "keys.json", gateways[1].config.parent / "keys.json")
        statuses = fire([gw.url for gw in gateways], gateways[0].keys["intern"], 24)
        assert statuses.count(200) == 9 and statuses.count(429) == 15


# ---- reporting ---------------------------------------------------------------------------------------


def test_ztgate_usage_reports_per_identity(gateway: Gateway) -> None:
    openai.OpenAI(base_url=f"{gateway.url}/v1", api_key=gateway.keys["analyst"], max_retries=0).chat.completions.create(
        model="gpt-4o-mini", messages=HELLO
    )
    result = ztgate_cli(gateway.config, "usage", "--json", env=gateway_env())
    assert result.returncode == 0, result.stderr
    rows = {row["key"]: row for row in json.loads(result.stdout)["rows"]}
    assert rows["ann@example.test"]["requests"] >= 1 and rows["ann@example.test"]["input_tokens"] > 0
    table = ztgate_cli(gateway.config, "usage", "--by", "model", env=gateway_env())
    assert table.returncode == 0 and "gpt-4o-mini" in table.stdout


# ---- policy on usage: downgrade instead of refusing, cut a stream at its budget ----------------------


@pytest.fixture(scope="module")
def budget_rules(tmp_path_factory: pytest.TempPathFactory, fake_provider) -> Iterator[Gateway]:
    tmp = tmp_path_factory.mktemp("budget-rules")
    policy_dir = policy_with_limits(
        tmp,
        {"alice@example.test": [{"name": "alice daily tokens", "window": "day", "tokens": 10_000_000}]},
        cut_streams=True,
        downgrade={"gpt-4o": {"to": "gpt-4o-mini", "window": "day", "tokens_over": 1}},
    )
    with launch_gateway(tmp, fake_provider, policy={"dir": str(policy_dir)}) as gw:
        yield gw


def test_a_caller_over_a_usage_mark_is_downgraded_by_policy(budget_rules: Gateway) -> None:
    client = openai.OpenAI(base_url=f"{budget_rules.url}/v1", api_key=budget_rules.keys["dev"], max_retries=0)
    client.chat.completions.create(model="gpt-4o", messages=HELLO)
    assert budget_rules.provider.last.json["model"] == "gpt-4o", "nothing used yet today"
    deadline = time.monotonic() + 5
    while True:  # settlement runs just after the reply
        client.chat.completions.create(model="gpt-4o", messages=HELLO)
        if budget_rules.provider.last.json["model"] == "gpt-4o-mini" or time.monotonic() > deadline:
            break
        time.sleep(0.1)
    assert budget_rules.provider.last.json["model"] == "gpt-4o-mini"


def test_a_stream_past_its_output_budget_is_cut_with_the_providers_error(budget_rules: Gateway) -> None:
    client = openai.OpenAI(base_url=f"{budget_rules.url}/v1", api_key=budget_rules.keys["dev"], max_retries=0)
    long_answer = " ".join(f"word{i}" for i in range(400))
    text = ""
    with pytest.raises(openai.APIError) as exc:
        stream = client.chat.completions.create(
            model="gpt-4o-mini", messages=HELLO, max_tokens=20, stream=True,
            extra_headers={"x-fake-answer": long_answer, "x-fake-chunks": "40", "x-request-id": "cut-budget-1"},
        )
        for chunk in stream:
            if chunk.choices:
                text += chunk.choices[0].delta.content or ""
    assert "budget" in str(exc.value)
    assert len(text) < len(long_answer) / 2
    audit = budget_rules.audit_for("cut-budget-1")
    assert audit["error"]["kind"] == "budget_exceeded"
