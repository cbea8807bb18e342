"""The decision log: OPA's record shape, erased fields, and what global shadow mode enforces."""

from __future__ import annotations

from pathlib import Path

import orjson
import pytest

from ztgate.policy.decision import DecisionError, parse_decision
from ztgate.telemetry.decision_log import DecisionLog, rule_path

INPUT = {
    "attributes": {"request": {"http": {"id": "req-1", "headers": {"cookie": "session=abc", "user-agent": "sdk"}}}},
    "identity": {"subject": "alice", "claims": {"email": "alice@example.test"}},
    "phase": "request",
}


def written(path: Path) -> list[dict]:
    return [orjson.loads(line) for line in path.read_bytes().splitlines()]


def test_a_record_has_opas_fields_and_erases_the_configured_ones(tmp_path: Path) -> None:
    log = DecisionLog.open(tmp_path / "d.jsonl", query="data.ztgate.decision", erase=["/input/attributes/request/http/headers/cookie", "/input/identity/claims"], version="1.2.3")
    log.write(decision_id="abc", input=INPUT, result={"allowed": True}, revision="rev-7", eval_ns=12_345, enforced=True)
    log.close()
    (record,) = written(tmp_path / "d.jsonl")
    assert record["decision_id"] == "abc" and record["path"] == "ztgate/decision"
    assert record["result"] == {"allowed": True}
    assert record["revision"] == "rev-7" and record["bundles"] == {"ztgate": {"revision": "rev-7"}}
    assert record["metrics"] == {"timer_rego_query_eval_ns": 12_345}
    assert record["timestamp"].endswith("Z") and len(record["timestamp"].split(".")[1]) == 10  # nanoseconds + Z
    assert record["labels"]["app"] == "ztgate" and record["labels"]["version"] == "1.2.3"
    assert record["erased"] == ["/input/attributes/request/http/headers/cookie", "/input/identity/claims"]
    assert "cookie" not in record["input"]["attributes"]["request"]["http"]["headers"]
    assert "claims" not in record["input"]["identity"]
    assert record["ztgate"] == {"enforced": True, "phase": "request", "request_id": "req-1"}
    # The caller's input is shared with the exchange: erasing must not touch it.
    assert INPUT["attributes"]["request"]["http"]["headers"]["cookie"] == "session=abc"


def test_a_failed_evaluation_is_logged_with_an_error(tmp_path: Path) -> None:
    log = DecisionLog.open(tmp_path / "d.jsonl", query="data.acme.authz.allow")
    log.write(decision_id="x", input=INPUT, result=None, revision="r", eval_ns=1, enforced=True, error="undefined")
    (record,) = written(tmp_path / "d.jsonl")
    assert record["path"] == "acme/authz/allow" and "result" not in record
    assert record["error"] == {"code": "evaluation_error", "message": "undefined"}


def test_rule_path() -> None:
    assert rule_path("data.ztgate.decision") == "ztgate/decision"


def test_dry_run_enforces_nothing_and_keeps_what_the_policy_wanted() -> None:
    denied = parse_decision({"allowed": False, "http_status": 403, "reasons": ["model gpt-4o not allowed"], "shadow_reasons": ["trial rule"]})
    dry = denied.as_dry_run()
    assert dry.allowed and dry.http_status == 200
    assert dry.shadow_reasons == ["model gpt-4o not allowed", "trial rule"]
    rewriting = parse_decision({"allowed": True, "tools_remove": ["shell"], "max_output_tokens": 10, "redactions": [{"type": "email"}]}).as_dry_run()
    assert rewriting.tools_remove == [] and rewriting.max_output_tokens is None and rewriting.redactions == []


def test_limits_are_kept_and_must_be_objects() -> None:
    limits = [{"name": "daily", "scope": "group", "key": "interns", "window": "day", "tokens": 100000}]
    assert parse_decision({"allowed": True, "limits": limits}).limits == limits
    with pytest.raises(DecisionError):
        parse_decision({"allowed": True, "limits": ["100 tokens"]})
