"""Rolling out policy through the real Envoy: decision ids, decision logs, hot reload, dry-run."""

from __future__ import annotations

import json
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import openai
import pytest
import yaml

from conftest import ROOT, Gateway, launch_gateway, policy_copy

MESSAGES = [{"role": "user", "content": "hello"}]


def client(gw: Gateway, key: str) -> openai.OpenAI:
    return openai.OpenAI(base_url=f"{gw.url}/v1", api_key=key, max_retries=0)


def decision_log(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()] if path.exists() else []


def healthz(gw: Gateway) -> dict:
    port = yaml.safe_load(gw.config.read_text())["status"]["port"]
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=2) as response:
        return json.loads(response.read())


def wait_until(condition, timeout: float = 8.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "condition not met in time"
        time.sleep(0.1)


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory, fake_provider) -> Iterator[tuple[Gateway, Path, Path]]:
    """A gateway over a copy of rego/ that the tests edit, writing decision logs to a file."""
    tmp = tmp_path_factory.mktemp("rollout")
    policy_dir = policy_copy(tmp)
    log_path = tmp / "decisions.jsonl"
    overrides = {
        "policy": {"dir": str(policy_dir), "reload_interval_s": 0.2},
        "decision_log": {"sink": "file", "path": str(log_path)},
    }
    with launch_gateway(tmp, fake_provider, **overrides) as gw:
        yield gw, policy_dir, log_path


def test_the_decision_id_reaches_the_client_the_audit_line_and_the_decision_log(live) -> None:
    gw, _, log_path = live
    raw = client(gw, gw.keys["dev"]).chat.completions.with_raw_response.create(model="gpt-4o", messages=MESSAGES)
    decision_id = raw.headers["x-ztgate-decision-id"]
    assert len(decision_id) == 32
    wait_until(lambda: any(r["decision_id"] == decision_id for r in decision_log(log_path)))
    record = next(r for r in decision_log(log_path) if r["decision_id"] == decision_id)
    # OPA's decision-log shape, so OPA log pipelines take it as it is.
    assert record["path"] == "ztgate/decision" and record["result"]["allowed"] is True
    assert record["input"]["identity"]["subject"] == "alice@example.test"
    assert record["revision"] and record["metrics"]["timer_rego_query_eval_ns"] > 0
    assert "authorization" not in record["input"]["attributes"]["request"]["http"]["headers"]
    wait_until(lambda: any(line.get("decision", {}).get("decision_id") == decision_id for line in gw.audit_lines()))


def test_a_denial_carries_its_decision_id_too(live) -> None:
    gw, _, log_path = live
    with pytest.raises(openai.PermissionDeniedError) as exc:
        client(gw, gw.keys["intern"]).chat.completions.create(model="gpt-4o", messages=MESSAGES)
    decision_id = exc.value.response.headers["x-ztgate-decision-id"]
    wait_until(lambda: any(r["decision_id"] == decision_id for r in decision_log(log_path)))
    record = next(r for r in decision_log(log_path) if r["decision_id"] == decision_id)
    assert record["result"]["allowed"] is False and record["ztgate"]["enforced"] is True


def test_a_policy_edit_applies_without_restart_and_a_broken_one_never_does(live) -> None:
    gw, policy_dir, _ = live
    intern = client(gw, gw.keys["intern"])
    with pytest.raises(openai.PermissionDeniedError):
        intern.chat.completions.create(model="gpt-4o", messages=MESSAGES)
    revision = healthz(gw)["policy"]["revision"]

    # Allow interns gpt-4o by editing data: the running gateway picks it up.
    data_file = policy_dir / "ztgate" / "config" / "data.json"
    data = json.loads(data_file.read_text())
    data["groups"]["interns"]["models"].append("gpt-4o")
    manifest = json.loads((policy_dir / ".manifest").read_text())
    manifest["revision"] = "e2e-edit-1"
    data_file.write_text(json.dumps(data))
    (policy_dir / ".manifest").write_text(json.dumps(manifest))
    wait_until(lambda: healthz(gw)["policy"]["revision"] == "e2e-edit-1")
    assert intern.chat.completions.create(model="gpt-4o", messages=MESSAGES).choices[0].message.content
    assert revision != "e2e-edit-1"

    # A broken file is rejected: the edited policy stays in force and /healthz says why.
    (policy_dir / "ztgate" / "broken.rego").write_text("package ztgate.broken\nimport rego.v1\nx := {\n")
    wait_until(lambda: healthz(gw)["policy"]["reload_failures"] >= 1)
    status = healthz(gw)
    assert status["policy"]["revision"] == "e2e-edit-1" and "broken.rego" in status["policy"]["last_error"]
    assert intern.chat.completions.create(model="gpt-4o", messages=MESSAGES).choices[0].message.content
    assert "policy reload (policy files changed) rejected" in gw.log()
    (policy_dir / "ztgate" / "broken.rego").unlink()


@pytest.fixture(scope="module")
def dry_run(tmp_path_factory: pytest.TempPathFactory, fake_provider) -> Iterator[tuple[Gateway, Path]]:
    tmp = tmp_path_factory.mktemp("dryrun")
    log_path = tmp / "decisions.jsonl"
    overrides = {
        "policy": {"dir": str(ROOT / "rego"), "shadow": True},
        "decision_log": {"sink": "file", "path": str(log_path)},
    }
    with launch_gateway(tmp, fake_provider, **overrides) as gw:
        yield gw, log_path


def test_global_shadow_mode_logs_the_denial_and_lets_the_request_through(dry_run) -> None:
    gw, log_path = dry_run
    raw = client(gw, gw.keys["intern"]).chat.completions.with_raw_response.create(model="gpt-4o", messages=MESSAGES)
    assert raw.http_response.status_code == 200
    decision_id = raw.headers["x-ztgate-decision-id"]
    wait_until(lambda: any(r["decision_id"] == decision_id for r in decision_log(log_path)))
    record = next(r for r in decision_log(log_path) if r["decision_id"] == decision_id)
    assert record["result"]["allowed"] is False and record["ztgate"]["enforced"] is False
    wait_until(lambda: any(line.get("decision", {}).get("decision_id") == decision_id for line in gw.audit_lines()))
    audit = next(line for line in gw.audit_lines() if line.get("decision", {}).get("decision_id") == decision_id)
    assert audit["decision"]["dry_run"] is True and audit["status"] == 200
    assert any("gpt-4o" in reason for reason in audit["decision"]["shadow_reasons"])


def test_shadow_mode_still_needs_a_caller(dry_run) -> None:
    """Dry-run relaxes the policy, not the gateway: an unknown key is still refused by identity."""
    gw, _ = dry_run
    with pytest.raises(openai.AuthenticationError):
        client(gw, "zt-00000000-not-a-real-key-000000000000").chat.completions.create(model="gpt-4o", messages=MESSAGES)


@pytest.fixture(scope="module")
def trial(tmp_path_factory: pytest.TempPathFactory, fake_provider) -> Iterator[Gateway]:
    """One rule on trial: data shadow_rules lists models.not_allowed; every other rule is enforced."""
    tmp = tmp_path_factory.mktemp("trial")
    policy_dir = policy_copy(tmp, lambda data: data.update(shadow_rules=["models.not_allowed"]))
    with launch_gateway(tmp, fake_provider, policy={"dir": str(policy_dir)}) as gw:
        yield gw


def test_a_rule_on_trial_is_logged_not_enforced_while_the_others_still_are(trial: Gateway) -> None:
    raw = client(trial, trial.keys["intern"]).chat.completions.with_raw_response.create(model="gpt-4o", messages=MESSAGES)
    assert raw.http_response.status_code == 200
    audit = trial.audit_for(raw.headers["x-request-id"])
    assert audit["decision"]["allowed"] is True and "dry_run" not in audit["decision"]
    assert any("gpt-4o" in reason for reason in audit["decision"]["shadow_reasons"])
    with pytest.raises(openai.PermissionDeniedError):  # a secret is still blocked
        client(trial, trial.keys["intern"]).chat.completions.create(
            model="gpt-4o-mini", messages=[{"role": "user", "content": "key AKIAZ7Q3XJ5NWB4LK2MT"}]
        )
