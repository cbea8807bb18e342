"""The policy input document: opa-envoy-plugin's HTTP shape plus ztgate's identity and LLM summaries."""

from __future__ import annotations

import time

import orjson
import pytest

from ztgate.identity.base import Identity
from ztgate.policy.http import HttpInfo
from ztgate.policy.input import INPUT_VERSION, build_input, parse_path, socket_address, tool_call
from ztgate.providers.base import LLMRequest, TextPart


def http(path: str = "/v1/chat/completions", source: str = "10.1.2.3:45678") -> HttpInfo:
    return HttpInfo(
        id="req-1",
        method="POST",
        path=path,
        host="api.openai.com",
        scheme="https",
        headers={"content-type": "application/json", "user-agent": "OpenAI/Python"},
        source_address=source,
        metadata={"envoy.filters.http.jwt_authn": {"payload": {"sub": "alice"}}},
    )


ALICE = Identity(subject="alice", method="jwt", groups=("developers", "analysts"), claims={"sub": "alice"})

SECRET = "my password is hunter2"


def chat() -> LLMRequest:
    return LLMRequest(
        provider="openai",
        operation="chat_completions",
        model="gpt-4o",
        stream=True,
        max_output_tokens=512,
        parts=[
            TextPart(-1, "system", "text", "be terse", ("instructions",)),
            TextPart(0, "user", "text", SECRET, ("messages", 0, "content", 0, "text")),
            TextPart(0, "user", "text", "and this", ("messages", 0, "content", 1, "text")),
            TextPart(1, "assistant", "tool_call_arguments", '{"q": 1}', ("messages", 1, "tool_calls", 0), "search"),
            TextPart(2, "tool", "tool_result", "42", ("messages", 2, "content")),
            TextPart(3, "user", "text", "thanks", ("messages", 3, "content")),
        ],
        tools=["search", "calculator"],
        message_count=4,
    )


def test_http_part_has_opa_envoy_plugin_shape() -> None:
    doc = build_input(http=http("/v1/chat/completions?api-version=2024-02-01"), identity=ALICE, llm=chat())
    assert doc["version"] == INPUT_VERSION
    request = doc["attributes"]["request"]["http"]
    assert request == {
        "id": "req-1",
        "method": "POST",
        "path": "/v1/chat/completions?api-version=2024-02-01",
        "host": "api.openai.com",
        "scheme": "https",
        "headers": {"content-type": "application/json", "user-agent": "OpenAI/Python"},
    }
    assert doc["attributes"]["source"] == {"address": {"socketAddress": {"address": "10.1.2.3", "portValue": 45678}}}
    assert doc["attributes"]["metadataContext"] == {
        "filterMetadata": {"envoy.filters.http.jwt_authn": {"payload": {"sub": "alice"}}}
    }
    assert doc["parsed_path"] == ["v1", "chat", "completions"]
    assert doc["parsed_query"] == {"api-version": ["2024-02-01"]}
    assert doc["findings"] == [] and doc["usage"] == {} and doc["phase"] == "request"


@pytest.mark.parametrize(
    ("path", "segments", "query"),
    [
        ("/", [""], {}),
        ("/v1/models", ["v1", "models"], {}),
        ("/v1/models/", ["v1", "models", ""], {}),
        ("/v1beta/models/gemini-2.0-flash:generateContent?alt=sse", ["v1beta", "models", "gemini-2.0-flash:generateContent"], {"alt": ["sse"]}),
        # Go's url.Parse decodes the path before opa-envoy-plugin splits it, so %2F splits too.
        ("/a%20b/c%2Fd", ["a b", "c", "d"], {}),
        ("/p?a=1&a=2&b=&c", ["p"], {"a": ["1", "2"], "b": [""], "c": [""]}),
        ("/p?q=a+b%21", ["p"], {"q": ["a b!"]}),
        ("/p?", ["p"], {}),
    ],
)
def test_parsed_path_and_query_match_opa_envoy_plugin(path: str, segments: list[str], query: dict) -> None:
    assert parse_path(path) == (segments, query)


@pytest.mark.parametrize(
    ("address", "expected"),
    [
        ("10.0.0.1:5000", {"address": "10.0.0.1", "portValue": 5000}),
        ("[::1]:5000", {"address": "::1", "portValue": 5000}),
        ("[2001:db8::1]:443", {"address": "2001:db8::1", "portValue": 443}),
        ("::1", {"address": "::1", "portValue": 0}),
        ("10.0.0.1", {"address": "10.0.0.1", "portValue": 0}),
        ("", {"address": "", "portValue": 0}),
        ("/var/run/envoy.sock", {"address": "/var/run/envoy.sock", "portValue": 0}),
    ],
)
def test_source_address(address: str, expected: dict) -> None:
    assert socket_address(address) == expected


def test_identity() -> None:
    doc = build_input(http=http(), identity=ALICE, llm=None)
    assert doc["identity"] == {
        "authenticated": True,
        "method": "jwt",
        "subject": "alice",
        "groups": ["developers", "analysts"],
        "key_id": None,
        "claims": {"sub": "alice"},
    }


def test_anonymous_identity_is_unauthenticated_and_empty() -> None:
    doc = build_input(http=http(), identity=None, llm=None)
    assert doc["identity"] == {
        "authenticated": False, "method": "", "subject": "", "groups": [], "key_id": None, "claims": {},
    }
    assert doc["llm"] is None


def test_llm_summary() -> None:
    doc = build_input(http=http(), identity=ALICE, llm=chat())
    assert doc["llm"] == {
        "provider": "openai",
        "operation": "chat_completions",
        "model": "gpt-4o",
        "stream": True,
        "max_tokens": 512,
        "tools": ["search", "calculator"],
        "tool_calls": [{"name": "search", "arguments": {"q": 1}, "id": None, "source": "request"}],
        "messages": {"count": 4, "roles": {"system": 1, "user": 2, "assistant": 1, "tool": 1}},
        "tool_results": 1,
        "text_chars": sum(len(p.text) for p in chat().parts),
    }


def test_prompt_text_never_reaches_the_policy() -> None:
    encoded = orjson.dumps(build_input(http=http(), identity=ALICE, llm=chat()))
    assert b"hunter2" not in encoded and b"be terse" not in encoded


def test_findings_usage_and_phase_pass_through() -> None:
    findings = [{"detector": "secrets", "kind": "aws_key", "role": "user"}]
    doc = build_input(http=http(), identity=ALICE, llm=chat(), findings=findings, usage={"tokens_today": 10}, phase="response")
    assert doc["findings"] is findings  # shared, not copied
    assert doc["usage"] == {"tokens_today": 10}
    assert doc["phase"] == "response"


def test_input_is_json_serialisable() -> None:
    assert orjson.loads(orjson.dumps(build_input(http=http(), identity=ALICE, llm=chat())))


def test_build_input_is_fast() -> None:
    """Called per request: a few microseconds (generous bound for a loaded CI machine)."""
    h, llm = http(), chat()
    best = float("inf")
    for _ in range(5):
        start = time.perf_counter()
        for _ in range(1000):
            build_input(http=h, identity=ALICE, llm=llm)
        best = min(best, (time.perf_counter() - start) / 1000)
    assert best < 50e-6


def test_tool_calls_from_the_answer_follow_the_history_and_bad_arguments_are_null() -> None:
    answer = [tool_call("send_email", '{"to": "a@b.example"}', "response", "call_1"), tool_call("x", "{not json", "response")]
    doc = build_input(http=http(), identity=ALICE, llm=chat(), tool_calls=answer, phase="response")
    assert doc["llm"]["tool_calls"] == [
        {"name": "search", "arguments": {"q": 1}, "id": None, "source": "request"},
        {"name": "send_email", "arguments": {"to": "a@b.example"}, "id": "call_1", "source": "response"},
        {"name": "x", "arguments": None, "id": None, "source": "response"},
    ]
