"""The Anthropic adapter against recorded Anthropic traffic and the official anthropic SDK."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import anthropic
import httpx2
import pytest

from ztgate.providers import get_adapter
from ztgate.providers.base import LLMResponse, RequestError, RequestRewrite, Route, SSEEvent

ANTHROPIC = get_adapter("anthropic")
MESSAGES = Route("anthropic", "messages")
TOOL_USE = ("tool_use", "server_tool_use")  # a server tool call (web_search, code_execution) is a tool call too


def exchanges(corpus: Path) -> list[dict[str, Any]]:
    found = []
    for path in sorted((corpus / "anthropic_python" / "inline_snapshots").glob("*.json")):
        found += json.loads(path.read_text())
    return found


def expected_parts(body: dict[str, Any]) -> list[tuple[int, str, str, str]]:
    """(message_index, role, kind, text) for a request body, read the plain way."""
    out = []
    system = body.get("system")
    for block in [{"type": "text", "text": system}] if isinstance(system, str) else system or []:
        out.append((-1, "system", "text", block["text"]))
    for i, message in enumerate(body["messages"]):
        content = message["content"]
        for block in [{"type": "text", "text": content}] if isinstance(content, str) else content:
            if block["type"] == "text":
                out.append((i, message["role"], "text", block["text"]))
            elif block["type"] in TOOL_USE:
                out.append((i, "assistant", "tool_call_arguments", json.dumps(block["input"], separators=(",", ":"))))
            elif block["type"] == "tool_result":
                result = block["content"]
                for inner in [{"type": "text", "text": result}] if isinstance(result, str) else result:
                    if inner["type"] == "text":
                        out.append((i, "tool", "tool_result", inner["text"]))
    return [p for p in out if p[3]]


def expected_stream(raw: str) -> tuple[str, list[str], dict[str, Any]]:
    """Text, tool-call arguments and final usage of an SSE stream, read the plain way."""
    text, args, usage = "", {}, {}
    for line in raw.splitlines():
        if not line.startswith("data: "):
            continue
        event = json.loads(line[6:])
        if event["type"] == "message_start":
            usage.update({k: v for k, v in event["message"]["usage"].items() if isinstance(v, int)})
        elif event["type"] == "message_delta":
            usage.update({k: v for k, v in event["usage"].items() if isinstance(v, int)})
        elif event["type"] == "content_block_start" and event["content_block"]["type"] in TOOL_USE:
            args[event["index"]] = ""
        elif event["type"] == "content_block_delta":
            delta = event["delta"]
            if delta["type"] == "text_delta":
                text += delta["text"]
            elif delta["type"] == "input_json_delta":
                args[event["index"]] += delta["partial_json"]
    return text, [args[i] or "{}" for i in sorted(args)], usage


# --- recorded traffic ---


def test_recorded_requests(providers_corpus: Path) -> None:
    found = exchanges(providers_corpus)
    assert len(found) >= 30
    for exchange in found:
        body = exchange["request"]["body"]
        request = ANTHROPIC.parse_request(MESSAGES, body)
        assert request.model == body["model"] and request.max_output_tokens == body["max_tokens"]
        assert request.tools == [t["name"] for t in body.get("tools", [])]
        assert request.stream == body.get("stream", False)
        assert [(p.message_index, p.role, p.kind, p.text) for p in request.parts] == expected_parts(body)


def test_recorded_json_responses(providers_corpus: Path) -> None:
    checked = 0
    for exchange in exchanges(providers_corpus):
        body = exchange["response"]["body"]
        if not isinstance(body, dict):
            continue
        response = LLMResponse()
        ANTHROPIC.parse_response(body, response)
        if exchange["response"]["status_code"] != 200:
            assert response.error == body["error"]["message"]
            continue
        blocks = body["content"]
        assert response.text == [b["text"] for b in blocks if b["type"] == "text"]
        assert [(c.id, c.name, json.loads(c.arguments)) for c in response.tool_calls] == [
            (b["id"], b["name"], b["input"]) for b in blocks if b["type"] in TOOL_USE
        ]
        usage = body["usage"]
        assert (response.usage.input_tokens, response.usage.output_tokens) == (
            usage["input_tokens"],
            usage["output_tokens"],
        )
        assert response.usage.cached_input_tokens == usage.get("cache_read_input_tokens")
        assert response.usage.cache_creation_input_tokens == usage.get("cache_creation_input_tokens")
        assert response.finish_reason == body["stop_reason"] and response.model == body["model"]
        checked += 1
    assert checked >= 15


def test_recorded_streams(providers_corpus: Path, providers_fold) -> None:
    streams = [e["response"]["body"] for e in exchanges(providers_corpus) if isinstance(e["response"]["body"], str)]
    streams += [p.read_text() for p in sorted((providers_corpus / "anthropic_python" / "sse_fixtures").glob("*"))]
    assert len(streams) >= 15
    for raw in streams:
        response = providers_fold(ANTHROPIC, raw.encode())
        text, args, usage = expected_stream(raw)
        assert response.output_text == text
        assert [c.arguments for c in response.tool_calls] == args
        assert response.usage.input_tokens == usage["input_tokens"]
        assert response.usage.output_tokens == usage["output_tokens"]
        assert response.usage.cached_input_tokens == usage.get("cache_read_input_tokens")
        assert response.finish_reason is not None and response.model


def test_stream_split_at_every_byte(providers_corpus: Path, providers_stream_invariance) -> None:
    raw = (providers_corpus / "anthropic_python" / "sse_fixtures" / "tool_use_response.txt").read_bytes()
    response = providers_stream_invariance(ANTHROPIC, raw)
    assert response.output_text == "I'll check the current weather in Paris for you."
    assert [(c.id, c.name, c.arguments) for c in response.tool_calls] == [
        ("toolu_01NRLabsLyVHZPKxbKvkfSMn", "get_weather", '{"location": "Paris"}')
    ]
    assert (response.usage.input_tokens, response.usage.output_tokens, response.usage.cached_input_tokens) == (
        377,
        65,
        0,
    )
    assert (response.model, response.finish_reason) == ("claude-sonnet-4-20250514", "tool_use")


def test_stream_details() -> None:
    events = [
        {
            "type": "message_start",
            "message": {"model": "claude-fable-5", "usage": {"input_tokens": 408, "output_tokens": 1}},
        },
        {
            "type": "content_block_start",
            "index": 0,
            "content_block": {"type": "fallback", "to": {"model": "claude-opus-4-8"}},
        },
        {
            "type": "content_block_start",
            "index": 1,
            "content_block": {"type": "tool_use", "id": "t", "name": "noargs", "input": {}},
        },
        {"type": "content_block_stop", "index": 1},
        {"type": "content_block_delta", "index": 2, "delta": {"type": "thinking_delta", "thinking": "hidden"}},
        {
            "type": "message_delta",
            "delta": {"stop_reason": "tool_use"},
            "usage": {"input_tokens": 410, "output_tokens": 9},
        },
        {"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}},
    ]
    response = LLMResponse()
    for event in events:
        ANTHROPIC.parse_stream_event(SSEEvent(json.dumps(event), event["type"]), response)
    assert response.model == "claude-opus-4-8"  # the fallback model generated (and bills) the answer
    assert [(c.name, c.arguments) for c in response.tool_calls] == [("noargs", "{}")]
    assert response.output_text == "" and response.finish_reason == "tool_use"
    assert (response.usage.input_tokens, response.usage.output_tokens) == (410, 9)
    assert response.error == "Overloaded"


# --- requests ---


def test_request_parts_and_paths() -> None:
    body = {
        "model": "claude-sonnet-4-5",
        "max_tokens": 1024,
        "system": [{"type": "text", "text": "sys A"}, {"type": "text", "text": "sys B"}],
        "messages": [
            {
                "role": "user",
                "content": [
                    {"type": "text", "text": "q"},
                    {"type": "image", "source": {}},
                    {"type": "document", "source": {"type": "text", "media_type": "text/plain", "data": "doc"}},
                ],
            },
            {"role": "assistant", "content": [{"type": "tool_use", "id": "t", "name": "f", "input": {"a": 1}}]},
            {
                "role": "user",
                "content": [{"type": "tool_result", "tool_use_id": "t", "content": [{"type": "text", "text": "r"}]}],
            },
        ],
        "tools": [{"name": "f", "input_schema": {}}, {"type": "web_search_20250305", "name": "web_search"}],
        "stream": True,
    }
    request = ANTHROPIC.parse_request(MESSAGES, body)
    assert [(p.message_index, p.role, p.kind, p.text, p.path) for p in request.parts] == [
        (-1, "system", "text", "sys A", ("system", 0, "text")),
        (-1, "system", "text", "sys B", ("system", 1, "text")),
        (0, "user", "text", "q", ("messages", 0, "content", 0, "text")),
        (0, "user", "text", "doc", ("messages", 0, "content", 2, "source", "data")),
        (1, "assistant", "tool_call_arguments", '{"a":1}', ("messages", 1, "content", 0, "input")),
        (2, "tool", "tool_result", "r", ("messages", 2, "content", 0, "content", 0, "text")),
    ]
    assert request.tools == ["f", "web_search"] and request.stream and request.message_count == 3


@pytest.mark.parametrize(
    "body, message",
    [
        ("x", "JSON object"),
        ({"max_tokens": 5, "messages": []}, "model"),
        ({"model": "m", "messages": []}, "max_tokens"),
        ({"model": "m", "max_tokens": -1, "messages": []}, "max_tokens"),
        ({"model": "m", "max_tokens": 5}, "messages"),
        ({"model": "m", "max_tokens": 5, "messages": [{"role": "system", "content": "x"}]}, "role"),
        ({"model": "m", "max_tokens": 5, "messages": [{"role": "user", "content": {"text": "x"}}]}, "content"),
        (
            {
                "model": "m",
                "max_tokens": 5,
                "messages": [{"role": "user", "content": [{"type": "text", "text": None}]}],
            },
            "text",
        ),
        ({"model": "m", "max_tokens": 5, "messages": [], "system": 3}, "system"),
    ],
)
def test_bad_requests_are_request_errors(body: Any, message: str) -> None:
    with pytest.raises(RequestError) as err:
        ANTHROPIC.parse_request(MESSAGES, body)
    assert message in err.value.message and err.value.status == 400


def test_odd_json_never_raises_anything_but_request_error(providers_odd_bodies) -> None:
    valid = {
        "model": "m",
        "max_tokens": 5,
        "messages": [{"role": "user", "content": [{"type": "text", "text": "x"}]}],
        "system": [{"type": "text", "text": "s"}],
        "tools": [{"name": "f"}],
    }
    for body in providers_odd_bodies(valid):
        try:
            ANTHROPIC.parse_request(MESSAGES, body)
        except RequestError:
            pass
        ANTHROPIC.rewrite_request(MESSAGES, body, RequestRewrite("x", frozenset({"f"}), 5))
        ANTHROPIC.parse_response(body, LLMResponse())
        ANTHROPIC.parse_stream_event(SSEEvent(json.dumps(body)), LLMResponse())
    for data in [
        "",
        "junk",
        '{"type": "content_block_start", "index": [], "content_block": {"type": []}}',
        '{"type": "content_block_delta", "index": {}, "delta": {"type": "input_json_delta", "partial_json": 5}}',
        '{"type": "message_delta", "usage": []}',
        '{"type": "content_block_stop", "index": "0"}',
    ]:
        ANTHROPIC.parse_stream_event(SSEEvent(data), LLMResponse())


# --- rewrites ---


def test_rewrites() -> None:
    body = {
        "model": "a",
        "max_tokens": 4096,
        "messages": [],
        "tools": [{"name": "f"}, {"name": "g"}],
        "tool_choice": {"type": "tool", "name": "f"},
    }
    rewrite = RequestRewrite(model="b", remove_tools=frozenset({"f"}), max_output_tokens=1000)
    assert ANTHROPIC.rewrite_request(MESSAGES, body, rewrite)
    assert body == {"model": "b", "max_tokens": 1000, "messages": [], "tools": [{"name": "g"}]}
    assert not ANTHROPIC.rewrite_request(MESSAGES, body, RequestRewrite(model="b", max_output_tokens=2000))
    body["tool_choice"] = {"type": "any"}
    assert ANTHROPIC.rewrite_request(MESSAGES, body, RequestRewrite(remove_tools=frozenset({"g"})))
    assert body == {"model": "b", "max_tokens": 1000, "messages": []}
    assert ANTHROPIC.rewrite_path("/v1/messages", "x") is None


# --- credentials and errors, checked with the official SDK ---


def test_credentials() -> None:
    assert ANTHROPIC.credential_headers == ("x-api-key", "authorization")
    assert ANTHROPIC.upstream_auth_headers("sk-ant") == {"x-api-key": "sk-ant"}


def sdk_client(status: int, body: bytes, content_type: str = "application/json") -> anthropic.Anthropic:
    transport = httpx2.MockTransport(
        lambda request: httpx2.Response(status, content=body, headers={"content-type": content_type})
    )
    return anthropic.Anthropic(
        api_key="x", base_url="http://upstream.test", max_retries=0, http_client=httpx2.Client(transport=transport)
    )


@pytest.mark.parametrize(
    "status, exception, kind",
    [
        (400, anthropic.BadRequestError, "invalid_request_error"),
        (401, anthropic.AuthenticationError, "authentication_error"),
        (403, anthropic.PermissionDeniedError, "permission_error"),
        (404, anthropic.NotFoundError, "not_found_error"),
        (413, anthropic.APIStatusError, "request_too_large"),
        (429, anthropic.RateLimitError, "rate_limit_error"),
        (500, anthropic.InternalServerError, "api_error"),
        (529, anthropic.InternalServerError, "overloaded_error"),
    ],
)
def test_error_body_raises_the_sdk_exception(status: int, exception: type, kind: str) -> None:
    body = ANTHROPIC.error_body(status, "Denied by policy: no secrets", "policy_denied")
    with pytest.raises(exception) as err:
        sdk_client(status, body).messages.create(model="m", max_tokens=5, messages=[{"role": "user", "content": "hi"}])
    assert "Denied by policy: no secrets" in str(err.value) and err.value.status_code == status
    assert err.value.body == {"type": "error", "error": {"type": kind, "message": "Denied by policy: no secrets"}}


def test_stream_error_event_raises_mid_stream() -> None:
    start = {
        "type": "message_start",
        "message": {
            "id": "m",
            "type": "message",
            "role": "assistant",
            "content": [],
            "model": "m",
            "stop_reason": None,
            "stop_sequence": None,
            "usage": {"input_tokens": 1, "output_tokens": 1},
        },
    }
    error_event = ANTHROPIC.stream_error_event(403, "Output blocked by policy", "policy_denied")
    assert error_event.startswith(b"event: error\ndata: {") and error_event.endswith(b"}\n\n")
    body = b"event: message_start\ndata: " + json.dumps(start).encode() + b"\n\n" + error_event
    seen = []
    with pytest.raises(anthropic.APIStatusError) as err:
        for event in sdk_client(200, body, "text/event-stream").messages.create(
            model="m", max_tokens=5, messages=[], stream=True
        ):
            seen.append(event.type)
    assert seen == ["message_start"] and "Output blocked by policy" in str(err.value)
