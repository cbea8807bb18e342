"""The shipped library decides the same on regorus's RVM (what the gateway runs) as on its interpreter
(what `ztgate policy test` runs, and the reference semantics).

The Rego tests run on the interpreter only (the RVM cannot compile `with`), and the two have differed:
the RVM does not fail a body on `x := <undefined>`, so a rule that reads optional data that way can
deny on the RVM and not in the tests. This runs the decision and every concern's outputs on both, over
inputs and data variants that reach every control, its optional data and its malformed data.
"""

from __future__ import annotations

import copy
import json
from typing import Any

import orjson
import pytest
import regorus

from ztgate.policy.engine import load_bundle

from test_rego_library import REGO

RULES = [
    "data.ztgate.decision",
    *(f"data.ztgate.{concern}.deny" for concern in ("authn", "access", "models", "tokens", "limits", "tools", "tool_args", "content", "topics", "compliance")),
    "data.ztgate.limits.limits",
    "data.ztgate.tools.remove",
    "data.ztgate.tokens.max_output_tokens",
    "data.ztgate.content.redactions",
    "data.ztgate.compliance.log_content",
    "data.ztgate.shadow_reasons",
]

ALWAYS = [{"from": "00:00", "to": "24:00"}]
NEVER = [{"days": [], "from": "00:00", "to": "24:00"}]

DATA_VARIANTS: dict[str, dict[str, Any]] = {
    "shipped": {},
    "everything": {
        "identities": {
            "carol": {"models": ["o3*"], "models_deny": ["gpt-4o"], "tools": ["send_email"], "max_output_tokens": 100},
        },
        "models": {"deny": ["gpt-4o-2024-05-13", "gpt-4o-realtime*"]},
        "authn": {"methods": ["api_key", "jwt", "mtls"], "routes": {"openai/embeddings": {"methods": ["mtls"]}, "anthropic": {"methods": ["jwt"]}}},
        "tools": {
            "constraints": {
                "send_email": {"to": {"required": True, "domains": ["example.com", "*.example.org"]}, "cc": {"max_items": 1}, "subject": {"max_length": 10}},
                "set_level": {"level": {"values": ["low", "high"]}},
                "read_file": {"path": {"pattern": "^/srv/"}},
                "typo": {"x": {"domain": ["example.com"]}},
            }
        },
        "topics": {"block": {"weapons": "input", "self_harm": "both"}, "groups": {"interns": {"block": {"legal_advice": "both"}}, "analysts": {"allow": ["self_harm"]}}},
        "compliance": {
            "log_content": True,
            "no_content_logging_groups": ["hr"],
            "provider_regions": {"openai": "us", "azure_openai": "eu"},
            "groups": {"eu_staff": {"regions": ["eu"]}, "analysts": {}},
        },
        "access": {
            "timezone": "Europe/Berlin",
            "groups": {
                "contractors": {"networks": ["10.0.0.0/8"]},
                "analysts": {"hours": ALWAYS},
                "interns": {"hours": NEVER},
                "eu_staff": {"networks": ["203.0.113.0/24"], "hours": ALWAYS},
            },
            "identities": {"carol": {"networks": ["192.168.0.0/16"]}},
        },
        "limits": {
            "identity": [{"window": "minute", "requests": 60}],
            "groups": {"interns": [{"window": "day", "tokens": 1000, "per": "identity"}, {"concurrent": 2}], "analysts": [{"window": "month", "cost_usd": 9.5, "name": "spend"}]},
            "identities": {"carol": [{"window": "hour", "tokens": 5}]},
            "models": {"o3": [{"window": "minute", "requests": 1}], "gpt-4o*": [{"window": "day", "cost_usd": 1}]},
        },
        "content": {
            "rules": [
                {"detector": "pii", "types": ["email"], "action": "block", "shadow": True},
                {"detector": "pii", "types": ["email"], "action": "redact", "mode": "pseudonym"},
                {"detector": "secrets", "direction": "output", "action": "redact"},
                {"detector": "secrets", "action": "block"},
                {"detector": "injection", "min_score": 0.5, "min_severity": "medium", "action": "block"},
            ],
            "groups": {"security": [{"detector": "secrets", "action": "allow"}]},
        },
        "shadow_rules": ["tokens.max_output_tokens"],
        "tool_policy": "deny",
        "token_cap_mode": "clamp",
    },
    "malformed": {
        "limits": {"groups": {"developers": [{"window": "week", "tokens": 1}, {"window": "day", "per": "team", "requests": 1}]}},
        "access": {"everyone": {"networks": []}},
    },
    "empty": {"groups": {}, "content": {}, "topics": {}, "tools": {}, "compliance": {}, "access": {}, "limits": {}, "authn": {}},
}


def call(name: str, arguments: Any, source: str) -> dict[str, Any]:
    return {"name": name, "arguments": arguments, "id": "c1", "source": source}


def finding(detector: str, type: str, severity: str = "high", score: float = 1.0, located: bool = True) -> dict[str, Any]:
    f = {"detector": detector, "type": type, "severity": severity, "score": score, "redactable": True, "encoding": None}
    if located:
        f["location"] = {"message_index": 0, "role": "user", "part": "text"}
    return f


def document(groups: list[str], *, subject: str = "alice", method: str = "api_key", authenticated: bool = True, model: Any = "gpt-4o",
             provider: str = "openai", operation: str = "chat_completions", max_tokens: Any = None, tools: list[str] | None = None,
             tool_calls: list[dict[str, Any]] | None = None, findings: list[dict[str, Any]] | None = None, phase: str = "request",
             address: str = "203.0.113.9", llm: bool = True) -> dict[str, Any]:
    identity = {"authenticated": authenticated, "method": method if authenticated else "", "subject": subject if authenticated else "",
                "groups": groups if authenticated else [], "key_id": None, "claims": {}}
    return {
        "version": "ztgate.input/v1",
        "attributes": {
            "request": {"http": {"id": "r", "method": "POST", "path": "/v1/chat/completions", "host": "gw", "scheme": "https", "headers": {}}},
            "source": {"address": {"socketAddress": {"address": address, "portValue": 443}}},
            "metadataContext": {"filterMetadata": {}},
        },
        "parsed_path": ["v1", "chat", "completions"],
        "parsed_query": {},
        "identity": identity,
        "llm": {
            "provider": provider, "operation": operation, "model": model, "stream": False, "max_tokens": max_tokens,
            "tools": tools or [], "tool_calls": tool_calls or [], "messages": {"count": 1, "roles": {"user": 1}},
            "tool_results": 0, "text_chars": 10,
        } if llm else None,
        "findings": findings or [],
        "usage": {},
        "phase": phase,
    }


INPUTS: list[dict[str, Any]] = [
    document(["developers"]),
    document(["developers"], max_tokens=100000, tools=["shell"]),
    document(["interns"], model="o3", max_tokens=5000, tools=["search"]),
    document(["interns"], model="gpt-4o-mini", findings=[finding("topics", "legal_advice")]),
    document(["analysts"], model="gpt-4o-mini", tools=["search", "delete"], findings=[finding("topics", "self_harm")]),
    document(["contractors"], model="gpt-4o-mini", address="10.1.2.3"),
    document(["contractors"], model="gpt-4o-mini", address=""),
    document(["eu_staff"], provider="azure_openai"),
    document(["eu_staff", "hr"]),
    document(["developers"], subject="carol", model="o3-mini", address="192.168.1.1"),
    document(["developers"], subject="carol", model="gpt-4o", tools=["send_email"]),
    document(["developers"], model="gpt-4o-realtime-preview"),
    document(["developers"], model=None),
    document(["developers"], model=None, operation="list_models"),
    document(["developers"], model="text-embedding-3-small", operation="embeddings", method="api_key"),
    document(["developers"], provider="anthropic", operation="messages", model="claude-sonnet-4-5", method="mtls"),
    document([], authenticated=False),
    document(["security"], findings=[finding("secrets", "github_pat", "critical")]),
    document(["developers"], findings=[finding("pii", "email", "medium", 0.9), finding("secrets", "aws_access_key_id", "critical"), finding("injection", "instruction_override", "high", 0.9)]),
    document(["developers"], findings=[finding("topics", "weapons"), finding("smuggling", "unicode_tags")]),
    document(["developers"], tool_calls=[call("send_email", {"to": "bob@evil.test", "cc": ["a@example.com", "b@example.com"], "subject": "a very long subject"}, "request")]),
    document(["developers"], llm=True, tool_calls=[call("send_email", None, "request"), call("typo", {"x": "y"}, "request"), call("set_level", {"level": "max"}, "request")]),
    document(["developers"], phase="response", tool_calls=[call("read_file", {"path": "/etc/passwd"}, "response"), call("send_email", {}, "response")]),
    document(["analysts"], phase="response", tools=["search"], tool_calls=[call("delete", {}, "response"), call("search", {"q": 1}, "response")]),
    document(["developers"], phase="response", findings=[finding("secrets", "openai_api_key", located=False), finding("pii", "email", "medium", 0.9, located=False)]),
    document(["interns"], phase="response", model="o3", max_tokens=99999, findings=[finding("topics", "legal_advice", located=False)]),
    document(["developers"], llm=False),
]


def _normal(value: Any) -> Any:
    """Sets come back as lists in no set order."""
    if isinstance(value, list):
        return sorted(orjson.dumps(item, option=orjson.OPT_SORT_KEYS) for item in value)
    return value


@pytest.mark.parametrize("variant", sorted(DATA_VARIANTS))
def test_rvm_and_interpreter_agree(variant: str) -> None:
    bundle = load_bundle(REGO)
    data = copy.deepcopy(bundle.data)
    data["ztgate"]["config"].update(copy.deepcopy(DATA_VARIANTS[variant]))
    data_json = orjson.dumps(data).decode()
    interpreter = regorus.Engine()
    for name, text in bundle.policies:
        interpreter.add_policy(name, text)
    interpreter.add_data(data)
    differences = []
    for rule in RULES:
        vm = regorus.Rvm()
        vm.load_program(regorus.Program.compile_from_modules(data_json, list(bundle.policies), [rule]))
        vm.set_data_json(data_json)
        for index, policy_input in enumerate(INPUTS):
            vm.set_input_json(json.dumps(policy_input))
            interpreter.set_input(policy_input)
            on_rvm = json.loads(vm.execute())
            reference = json.loads(interpreter.eval_rule_as_json(rule))
            if _normal(on_rvm) != _normal(reference):
                differences.append(f"{rule} input #{index}:\n  rvm:         {on_rvm}\n  interpreter: {reference}")
    assert not differences, "\n".join(differences)


def test_the_corpus_reaches_every_outcome() -> None:
    """Guards the corpus itself: on the richest data it allows, denies with 401, 403 and 500, clamps,
    strips, redacts, limits and shadows."""
    bundle = load_bundle(REGO)
    data = copy.deepcopy(bundle.data)
    data["ztgate"]["config"].update(copy.deepcopy(DATA_VARIANTS["everything"]))
    engine = regorus.Engine()
    for name, text in bundle.policies:
        engine.add_policy(name, text)
    engine.add_data(data)
    decisions = []
    for policy_input in INPUTS:
        engine.set_input(policy_input)
        decisions.append(json.loads(engine.eval_rule_as_json("data.ztgate.decision")))
    assert {d["http_status"] for d in decisions} >= {200, 400, 401, 403}
    assert any(d["shadow_reasons"] for d in decisions)
    assert any(d["redactions"] for d in decisions) and any(d["limits"] for d in decisions)
    assert any(d["log_content"] for d in decisions) and any(d["max_output_tokens"] for d in decisions)
    reasons = " ".join(r for d in decisions for r in d["reasons"])
    for fragment in ("deny-list", "may only call from", "may only call", "region", "tool call", "the model called", "sensitive topic", "input blocked", "output blocked"):
        assert fragment in reasons, fragment
