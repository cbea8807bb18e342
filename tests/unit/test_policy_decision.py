"""parse_decision: the policy's result, validated into a Decision (malformed -> DecisionError)."""

from __future__ import annotations

from typing import Any

import pytest

from ztgate.policy.decision import Decision, DecisionError, parse_decision


def test_boolean_decisions() -> None:
    assert parse_decision(True) == Decision(allowed=True, http_status=200)
    denied = parse_decision(False)
    assert denied.allowed is False and denied.http_status == 403
    assert denied.message == "denied by policy"


def test_opa_envoy_plugin_fields() -> None:
    decision = parse_decision(
        {
            "allowed": True,
            "headers": {"x-team": "ml", "x-multi": ["a", "b"]},
            "response_headers_to_add": {"x-policy": "v1"},
            "request_headers_to_remove": ["x-internal"],
            "dynamic_metadata": {"team": "ml"},
        }
    )
    assert decision.allowed and decision.http_status == 200
    assert decision.headers == {"x-team": "ml", "x-multi": "a, b"}
    assert decision.response_headers_to_add == {"x-policy": "v1"}
    assert decision.request_headers_to_remove == ["x-internal"]
    assert decision.dynamic_metadata == {"team": "ml"}


def test_llm_fields() -> None:
    decision = parse_decision(
        {
            "allowed": True,
            "model": "gpt-4o-mini",
            "tools_remove": ["shell"],
            "max_output_tokens": 1024,
            "redactions": [{"kind": "email"}],
            "log_content": True,
        }
    )
    assert decision.model == "gpt-4o-mini"
    assert decision.tools_remove == ["shell"]
    assert decision.max_output_tokens == 1024
    assert decision.redactions == [{"kind": "email"}]
    assert decision.log_content is True


def test_shipped_library_shape() -> None:
    decision = parse_decision(
        {"allowed": False, "http_status": 401, "reasons": ["b", "a"], "tools_remove": [], "max_output_tokens": None}
    )
    assert (decision.allowed, decision.http_status, decision.reasons) == (False, 401, ["b", "a"])
    assert decision.message == "b; a"


def test_deny_defaults_to_403() -> None:
    decision = parse_decision({"allowed": False, "reason": "no"})
    assert decision.http_status == 403 and decision.reasons == ["no"] and decision.message == "no"


def test_reason_and_reasons_combine() -> None:
    assert parse_decision({"allowed": False, "reason": "a", "reasons": ["b", ""]}).reasons == ["a", "b"]


def test_allow_alias() -> None:
    assert parse_decision({"allow": True}).allowed is True
    assert parse_decision({"allow": False}).http_status == 403
    assert parse_decision({"allow": True, "allowed": True}).allowed is True


def test_defaults_and_nulls() -> None:
    decision = parse_decision({"allowed": True, "model": None, "headers": None, "log_content": None})
    assert decision == Decision(allowed=True)
    assert decision.log_content is False and decision.max_output_tokens is None


def test_sets_and_float_statuses_from_engines() -> None:
    decision = parse_decision({"allowed": False, "http_status": 429.0, "reasons": {"b", "a"}, "tools_remove": {"y", "x"}})
    assert decision.http_status == 429
    assert decision.reasons == ["a", "b"] and decision.tools_remove == ["x", "y"]


@pytest.mark.parametrize(
    ("value", "fragment"),
    [
        (None, "boolean or an object"),
        ("allow", "boolean or an object"),
        ([True], "boolean or an object"),
        ({}, "no 'allowed'"),
        ({"allowed": "true"}, "'allowed' must be a boolean"),
        ({"allowed": 1}, "'allowed' must be a boolean"),
        ({"allowed": True, "allow": False}, "different values"),
        ({"allowed": False, "http_status": 200}, "needs 4xx or 5xx"),
        ({"allowed": False, "http_status": 302}, "needs 4xx or 5xx"),
        ({"allowed": False, "http_status": 600}, "100-599"),
        ({"allowed": True, "http_status": 42}, "100-599"),
        ({"allowed": False, "http_status": "403"}, "must be an integer"),
        ({"allowed": False, "http_status": True}, "must be an integer"),
        ({"allowed": False, "http_status": 403.5}, "must be an integer"),
        ({"allowed": False, "reason": 7}, "'reason' must be a string"),
        ({"allowed": False, "reasons": "one"}, "'reasons' must be a list"),
        ({"allowed": False, "reasons": ["a", 1]}, "only strings"),
        ({"allowed": True, "headers": ["x"]}, "'headers' must be an object"),
        ({"allowed": True, "headers": {"x": 1}}, "must be a string or a list of strings"),
        ({"allowed": True, "headers": {"x": ["a", 1]}}, "must be a string or a list of strings"),
        ({"allowed": True, "response_headers_to_add": {"x": None}}, "response_headers_to_add"),
        ({"allowed": True, "request_headers_to_remove": "x"}, "request_headers_to_remove"),
        ({"allowed": True, "dynamic_metadata": []}, "dynamic_metadata"),
        ({"allowed": True, "body": 1}, "'body' must be a string"),
        ({"allowed": True, "model": ""}, "non-empty string"),
        ({"allowed": True, "model": 4}, "non-empty string"),
        ({"allowed": True, "tools_remove": [1]}, "only strings"),
        ({"allowed": True, "max_output_tokens": 0}, "must be positive"),
        ({"allowed": True, "max_output_tokens": "10"}, "must be an integer"),
        ({"allowed": True, "redactions": {}}, "'redactions' must be a list"),
        ({"allowed": True, "log_content": "yes"}, "'log_content' must be a boolean"),
    ],
)
def test_malformed_decisions_raise(value: Any, fragment: str) -> None:
    with pytest.raises(DecisionError, match=fragment.replace("(", r"\(").replace(")", r"\)")):
        parse_decision(value)


def test_unknown_fields_are_ignored() -> None:
    """Forward compatibility: a newer policy may return fields this version does not apply."""
    assert parse_decision({"allowed": True, "budget": {"tokens": 5}}).allowed is True
