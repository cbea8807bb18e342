"""The OpenAI adapter (and its Azure variant) against recorded OpenAI traffic and the official openai SDK."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import httpx2
import openai
import orjson
import pytest

from ztgate.providers import get_adapter
from ztgate.providers.base import CHOICE_SEPARATOR, LLMResponse, RequestError, RequestRewrite, Route, SSEEvent

OPENAI = get_adapter("openai")
AZURE = get_adapter("azure_openai")
CHAT = Route("openai", "chat_completions")
RESPONSES = Route("openai", "responses")
EMBEDDINGS = Route("openai", "embeddings")


def snapshots(corpus: Path) -> list[dict[str, Any]]:
    lines = (corpus / "openai_python_snapshots" / "snapshots.jsonl").read_text().splitlines()
    return [json.loads(line) for line in lines if line.strip()]


def responses_sse(path: Path) -> bytes:
    """vercel/ai stores Responses API streams as one data payload per line; rebuild the wire form
    (event: <type> / data: <json>) that OpenAI sends."""
    out = []
    for line in path.read_text().splitlines():
        if line.strip():
            out.append(f"event: {json.loads(line)['type']}\ndata: {line}\n\n")
    return "".join(out).encode()


# --- recorded traffic ---


def test_recorded_chat_requests(providers_corpus: Path) -> None:
    checked = 0
    for snap in snapshots(providers_corpus):
        kwargs = snap["request_kwargs"]
        if not isinstance(kwargs, dict) or "messages" not in kwargs:
            continue
        request = OPENAI.parse_request(CHAT, dict(kwargs))
        assert request.model == kwargs["model"]
        assert [p.text for p in request.parts] == [m["content"] for m in kwargs["messages"]]
        assert [p.role for p in request.parts] == [m["role"] for m in kwargs["messages"]]
        assert request.max_output_tokens == kwargs.get("max_tokens")
        assert request.message_count == len(kwargs["messages"])
        checked += 1
    assert checked >= 20


def test_recorded_chat_json_responses(providers_corpus: Path) -> None:
    checked = 0
    for snap in snapshots(providers_corpus):
        if snap["response_kind"] != "json" or snap["path"] != "/chat/completions":
            continue
        body = json.loads(snap["response_body"])
        response = LLMResponse()
        OPENAI.parse_response(body, response)
        messages = [c["message"] for c in body["choices"]]
        per_choice = ["".join(t for t in (m["content"], m.get("refusal")) if t) for m in messages]
        expected_calls = [
            (c["id"], c["function"]["name"], c["function"]["arguments"])
            for m in messages
            for c in m.get("tool_calls") or []
        ]
        first = messages[0]
        assert response.text == [t for t in (first["content"], first.get("refusal")) if t], snap["test"]
        assert response.output_text == CHOICE_SEPARATOR.join(t for t in per_choice if t), snap["test"]
        assert [(c.id, c.name, c.arguments) for c in response.tool_calls] == expected_calls
        assert response.model == body["model"]
        assert response.usage.input_tokens == body["usage"]["prompt_tokens"]
        assert response.usage.output_tokens == body["usage"]["completion_tokens"]
        assert response.finish_reason == body["choices"][0]["finish_reason"]
        checked += 1
    assert checked >= 10


def expected_from_chunks(raw: bytes) -> tuple[str, dict[int, list[str]], dict]:
    """Text (each choice's whole, in index order, CHOICE_SEPARATOR between), tool-call arguments by
    index, and usage, read from a chat stream with plain json."""
    texts: dict[int, str] = {}
    args: dict[int, list[str]] = {}
    usage: dict = {}
    for line in raw.decode().splitlines():
        if not line.startswith("data: {"):
            continue
        chunk = json.loads(line[6:])
        usage = chunk.get("usage") or usage
        for choice in chunk["choices"]:
            delta = choice["delta"]
            i = choice["index"]
            texts[i] = texts.get(i, "") + (delta.get("content") or "") + (delta.get("refusal") or "")
            for call in delta.get("tool_calls") or []:
                args.setdefault(call["index"], []).append(call["function"].get("arguments") or "")
    return CHOICE_SEPARATOR.join(texts[i] for i in sorted(texts) if texts[i]), args, usage


def test_recorded_chat_streams(providers_corpus: Path, providers_fold) -> None:
    files = sorted((providers_corpus / "openai_python_snapshots" / "sse_raw").glob("*.bin"))
    assert len(files) == 12
    for path in files:
        raw = path.read_bytes()
        response = providers_fold(OPENAI, raw)
        text, args, usage = expected_from_chunks(raw)
        assert response.output_text == text, path.name
        assert [c.arguments for c in response.tool_calls] == ["".join(args[i]) for i in sorted(args)]
        assert all(c.id and c.id.startswith("call_") and c.name for c in response.tool_calls)
        assert response.usage.input_tokens == usage["prompt_tokens"]
        assert response.usage.output_tokens == usage["completion_tokens"]
        assert response.model == "gpt-4o-2024-08-06"


def test_chat_stream_split_at_every_byte(providers_corpus: Path, providers_stream_invariance) -> None:
    raw = (
        providers_corpus
        / "openai_python_snapshots"
        / "sse_raw"
        / "2018feb66ae13fcf5333d61b95849decc68d3f63bd38172889367e1afb1e04f7.bin"
    ).read_bytes()
    response = providers_stream_invariance(OPENAI, raw)
    assert [(c.name, c.arguments) for c in response.tool_calls] == [("get_weather", '{"city":"New York City"}')]
    assert (response.usage.input_tokens, response.usage.output_tokens) == (44, 16)
    assert response.finish_reason == "tool_calls"


def test_responses_stream_split_at_every_byte(providers_corpus: Path, providers_stream_invariance) -> None:
    fixtures = providers_corpus / "vercel_ai_fixtures" / "packages" / "azure" / "src" / "__fixtures__"
    response = providers_stream_invariance(OPENAI, responses_sse(fixtures / "azure-tool-call.1.chunks.txt"))
    buffered = LLMResponse()
    OPENAI.parse_response(json.loads((fixtures / "azure-tool-call.1.json").read_text()), buffered)
    assert [(c.name, c.arguments) for c in response.tool_calls] == [("weather", '{"location":"San Francisco"}')]
    assert [(c.name, c.arguments) for c in buffered.tool_calls] == [("weather", '{"location":"San Francisco"}')]
    assert response.tool_calls[0].id.startswith("call_")
    assert (response.usage.input_tokens, response.usage.output_tokens, response.usage.cached_input_tokens) == (
        45,
        24,
        0,
    )
    assert response.model == "gpt-5.1" and response.finish_reason == "completed"

    text = providers_stream_invariance(OPENAI, responses_sse(fixtures / "azure-text.1.chunks.txt"))
    assert text.output_text == "Hello" and text.usage.input_tokens == 11


def test_recorded_responses_streams_match_their_completed_event(providers_corpus: Path, providers_fold) -> None:
    files = sorted(providers_corpus.glob("vercel_ai_fixtures/packages/*/src/**/__fixtures__/*.chunks.txt"))
    checked = 0
    for path in files:
        try:
            events = [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
        except json.JSONDecodeError:
            continue  # one vercel fixture is deliberately not valid JSON
        completed = [e["response"] for e in events if e.get("type") == "response.completed"]
        if not completed:
            continue
        response = providers_fold(OPENAI, responses_sse(path))
        final = completed[-1]
        expected_text = "".join(e["delta"] for e in events if e.get("type") == "response.output_text.delta")
        assert response.output_text == expected_text, path.name
        calls = [(i.get("call_id"), i["name"], i["arguments"]) for i in final["output"] if i["type"] == "function_call"]
        assert [(c.id, c.name, c.arguments) for c in response.tool_calls if c.name in {n for _, n, _ in calls}] == calls
        assert response.usage.input_tokens == final["usage"]["input_tokens"]
        assert response.usage.output_tokens == final["usage"]["output_tokens"]
        checked += 1
    assert checked >= 25


def test_recorded_responses_error_stream(providers_corpus: Path, providers_fold) -> None:
    path = providers_corpus / "vercel_ai_fixtures/packages/openai/src/responses/__fixtures__/openai-error.1.chunks.txt"
    response = providers_fold(OPENAI, responses_sse(path))
    assert response.error and response.error.startswith("You exceeded your current quota")
    assert response.finish_reason == "failed"


def test_recorded_responses_and_embeddings_json(providers_corpus: Path) -> None:
    snap = next(s for s in snapshots(providers_corpus) if s["path"] == "/responses")
    request = OPENAI.parse_request(RESPONSES, dict(snap["request_kwargs"]))
    assert [(p.message_index, p.role, p.text) for p in request.parts] == [(0, "user", snap["request_kwargs"]["input"])]
    response = LLMResponse()
    OPENAI.parse_response(json.loads(snap["response_body"]), response)
    assert response.output_text.startswith("I can't provide real-time updates")
    assert (response.usage.input_tokens, response.usage.output_tokens, response.usage.cached_input_tokens) == (
        14,
        50,
        0,
    )

    body = json.loads(
        (
            providers_corpus / "vercel_ai_fixtures/packages/openai/src/embedding/__fixtures__/openai-embedding.json"
        ).read_text()
    )
    embedded = LLMResponse()
    OPENAI.parse_response(body, embedded)
    assert embedded.model == "text-embedding-3-small" and embedded.usage.input_tokens == 12 and embedded.text == []


# --- requests ---


def test_chat_request_parts_roles_and_tools() -> None:
    body = {
        "model": "gpt-4o",
        "messages": [
            {"role": "developer", "content": "be brief"},
            {
                "role": "user",
                "content": [{"type": "text", "text": "look"}, {"type": "image_url", "image_url": {"url": "x"}}],
            },
            {
                "role": "assistant",
                "content": None,
                "tool_calls": [{"id": "c1", "type": "function", "function": {"name": "f", "arguments": '{"q":1}'}}],
            },
            {"role": "tool", "tool_call_id": "c1", "content": "result text"},
        ],
        "tools": [{"type": "function", "function": {"name": "f"}}, {"type": "function", "function": {"name": "g"}}],
        "max_completion_tokens": 50,
        "max_tokens": 99,
        "stream": True,
    }
    request = OPENAI.parse_request(CHAT, body)
    assert [(p.message_index, p.role, p.kind, p.text, p.path) for p in request.parts] == [
        (0, "system", "text", "be brief", ("messages", 0, "content")),
        (1, "user", "text", "look", ("messages", 1, "content", 0, "text")),
        (2, "assistant", "tool_call_arguments", '{"q":1}', ("messages", 2, "tool_calls", 0, "function", "arguments")),
        (3, "tool", "tool_result", "result text", ("messages", 3, "content")),
    ]
    assert request.tools == ["f", "g"] and request.stream and request.max_output_tokens == 50
    assert (request.provider, request.operation, request.model, request.message_count) == (
        "openai",
        "chat_completions",
        "gpt-4o",
        4,
    )


def test_responses_request_items() -> None:
    body = {
        "model": "gpt-4.1",
        "instructions": "sys",
        "input": [
            {"role": "user", "content": "hi"},
            {"type": "message", "role": "assistant", "content": [{"type": "output_text", "text": "hello"}]},
            {
                "type": "message",
                "role": "user",
                "content": [{"type": "input_text", "text": "more"}, {"type": "input_image", "image_url": "x"}],
            },
            {"type": "function_call", "call_id": "c", "name": "f", "arguments": "{}"},
            {"type": "function_call_output", "call_id": "c", "output": "42"},
            {"type": "reasoning", "summary": []},
        ],
        "tools": [{"type": "function", "name": "f"}, {"type": "web_search"}],
        "max_output_tokens": 300,
    }
    request = OPENAI.parse_request(RESPONSES, body)
    assert [(p.message_index, p.role, p.kind, p.text) for p in request.parts] == [
        (-1, "system", "text", "sys"),
        (0, "user", "text", "hi"),
        (1, "assistant", "text", "hello"),
        (2, "user", "text", "more"),
        (3, "assistant", "tool_call_arguments", "{}"),
        (4, "tool", "tool_result", "42"),
    ]
    assert request.parts[0].path == ("instructions",) and request.parts[3].path == ("input", 2, "content", 0, "text")
    assert request.tools == ["f", "web_search"] and request.max_output_tokens == 300


def test_embeddings_and_list_models() -> None:
    request = OPENAI.parse_request(EMBEDDINGS, {"model": "e", "input": ["a", [1, 2], "b"]})
    assert [(p.text, p.path) for p in request.parts] == [("a", ("input", 0)), ("b", ("input", 2))]
    listing = OPENAI.parse_request(Route("openai", "list_models", has_body=False), {})
    assert listing.model is None and listing.parts == []


def test_azure_takes_the_model_from_the_deployment() -> None:
    route = Route("azure_openai", "chat_completions", model="my-gpt4o")
    request = AZURE.parse_request(route, {"messages": [{"role": "user", "content": "hi"}]})
    assert request.model == "my-gpt4o" and request.provider == "azure_openai"
    body = {"messages": []}
    assert AZURE.rewrite_request(route, body, RequestRewrite(model="other")) is False and "model" not in body
    assert AZURE.rewrite_path("/openai/deployments/my-gpt4o/chat/completions?api-version=2024-10-21", "other") == (
        "/openai/deployments/other/chat/completions?api-version=2024-10-21"
    )
    assert OPENAI.rewrite_path("/v1/chat/completions", "x") is None


@pytest.mark.parametrize(
    "route, body, message",
    [
        (CHAT, [], "JSON object"),
        (CHAT, {"messages": []}, "model"),
        (CHAT, {"model": "", "messages": []}, "model"),
        (CHAT, {"model": 5, "messages": []}, "model"),
        (CHAT, {"model": "m"}, "messages"),
        (CHAT, {"model": "m", "messages": {}}, "messages"),
        (CHAT, {"model": "m", "messages": ["hi"]}, "messages.0"),
        (CHAT, {"model": "m", "messages": [{"content": "hi"}]}, "role"),
        (CHAT, {"model": "m", "messages": [{"role": "user", "content": 5}]}, "content"),
        (CHAT, {"model": "m", "messages": [{"role": "user", "content": [{"type": "text", "text": 1}]}]}, "text"),
        (CHAT, {"model": "m", "messages": [], "stream": "yes"}, "stream"),
        (CHAT, {"model": "m", "messages": [], "max_tokens": "9"}, "max_tokens"),
        (CHAT, {"model": "m", "messages": [], "max_completion_tokens": True}, "max_completion_tokens"),
        (CHAT, {"model": "m", "messages": [], "tools": {}}, "tools"),
        (CHAT, {"model": "m", "messages": [], "tools": ["f"]}, "tools.0"),
        (RESPONSES, {"model": "m", "input": 5}, "input"),
        (RESPONSES, {"model": "m", "instructions": ["x"]}, "instructions"),
        (EMBEDDINGS, {"model": "m"}, "input"),
    ],
)
def test_bad_requests_are_request_errors(route: Route, body: Any, message: str) -> None:
    with pytest.raises(RequestError) as err:
        OPENAI.parse_request(route, body)
    assert message in err.value.message and err.value.status == 400


def test_odd_json_never_raises_anything_but_request_error(providers_odd_bodies) -> None:
    valid_chat = {
        "model": "m",
        "messages": [{"role": "user", "content": "x", "tool_calls": []}],
        "tools": [],
        "stream": False,
    }
    valid_responses = {
        "model": "m",
        "input": [{"role": "user", "content": "x", "type": "message"}],
        "instructions": "i",
    }
    cases = [(CHAT, b) for b in providers_odd_bodies(valid_chat)] + [
        (RESPONSES, b) for b in providers_odd_bodies(valid_responses)
    ]
    cases += [(EMBEDDINGS, b) for b in providers_odd_bodies({"model": "m", "input": ["x"]})]
    for route, body in cases:
        for adapter in (OPENAI, AZURE):
            try:
                adapter.parse_request(route, body)
            except RequestError:
                pass
            adapter.rewrite_request(route, body, RequestRewrite("x", frozenset({"f"}), 5, True))


def test_odd_responses_and_events_never_raise(providers_odd_bodies) -> None:
    valid = {
        "model": "m",
        "choices": [{"index": 0, "message": {"content": "x", "tool_calls": []}, "delta": {}}],
        "usage": {},
        "output": [],
    }
    for body in providers_odd_bodies(valid):
        OPENAI.parse_response(body, LLMResponse())
        OPENAI.parse_stream_event(SSEEvent(json.dumps(body)), LLMResponse())
    for data in [
        "[DONE]",
        "",
        "not json",
        "{",
        '{"type": "response.output_item.added", "item": {"type": "function_call"}}',
        '{"type": "response.function_call_arguments.delta", "delta": "x", "output_index": [1]}',
        '{"choices": [{"index": [], "delta": {"tool_calls": [{"index": {}, "function": []}]}}]}',
    ]:
        OPENAI.parse_stream_event(SSEEvent(data), LLMResponse())


# --- rewrites ---


def test_rewrite_model_and_token_caps() -> None:
    body = {"model": "a", "messages": [], "max_tokens": 500}
    assert OPENAI.rewrite_request(CHAT, body, RequestRewrite(model="b", max_output_tokens=100))
    assert body == {"model": "b", "messages": [], "max_tokens": 100}
    body = {"model": "a", "messages": [], "max_completion_tokens": 50}
    assert not OPENAI.rewrite_request(CHAT, body, RequestRewrite(model="a", max_output_tokens=100))  # never raised
    body = {"model": "a", "messages": []}
    assert (
        OPENAI.rewrite_request(CHAT, body, RequestRewrite(max_output_tokens=100))
        and body["max_completion_tokens"] == 100
    )
    body = {"model": "a", "input": "x", "max_output_tokens": None}
    assert (
        OPENAI.rewrite_request(RESPONSES, body, RequestRewrite(max_output_tokens=64))
        and body["max_output_tokens"] == 64
    )
    body = {"model": "a", "input": "x"}
    assert (
        OPENAI.rewrite_request(RESPONSES, body, RequestRewrite(max_output_tokens=64))
        and body["max_output_tokens"] == 64
    )


def test_rewrite_remove_tools() -> None:
    tools = [{"type": "function", "function": {"name": n}} for n in ("f", "g")]
    body = {
        "model": "m",
        "messages": [],
        "tools": tools,
        "tool_choice": {"type": "function", "function": {"name": "f"}},
        "parallel_tool_calls": False,
    }
    assert OPENAI.rewrite_request(CHAT, body, RequestRewrite(remove_tools=frozenset({"f"})))
    assert body == {"model": "m", "messages": [], "tools": [tools[1]], "parallel_tool_calls": False}
    assert OPENAI.rewrite_request(CHAT, body, RequestRewrite(remove_tools=frozenset({"g"})))
    assert body == {"model": "m", "messages": []}
    assert not OPENAI.rewrite_request(CHAT, body, RequestRewrite(remove_tools=frozenset({"g"})))

    body = {
        "model": "m",
        "input": "x",
        "tools": [{"type": "function", "name": "f"}, {"type": "web_search"}],
        "tool_choice": "required",
    }
    assert OPENAI.rewrite_request(RESPONSES, body, RequestRewrite(remove_tools=frozenset({"web_search"})))
    assert body["tools"] == [{"type": "function", "name": "f"}] and body["tool_choice"] == "required"
    body["tool_choice"] = {"type": "function", "name": "f"}
    assert OPENAI.rewrite_request(RESPONSES, body, RequestRewrite(remove_tools=frozenset({"f"})))
    assert body == {"model": "m", "input": "x"}


def test_rewrite_include_stream_usage() -> None:
    body = {"model": "m", "messages": [], "stream": True, "stream_options": {"include_obfuscation": False}}
    assert OPENAI.rewrite_request(CHAT, body, RequestRewrite(include_stream_usage=True))
    assert body["stream_options"] == {"include_obfuscation": False, "include_usage": True}
    assert not OPENAI.rewrite_request(CHAT, body, RequestRewrite(include_stream_usage=True))
    unstreamed = {"model": "m", "messages": []}
    assert (
        not OPENAI.rewrite_request(CHAT, unstreamed, RequestRewrite(include_stream_usage=True))
        and "stream_options" not in unstreamed
    )


# --- credentials and errors, checked with the official SDK ---


def test_credentials() -> None:
    assert OPENAI.credential_headers == ("authorization",)
    assert OPENAI.upstream_auth_headers("sk-1") == {"authorization": "Bearer sk-1"}
    assert AZURE.credential_headers == ("api-key", "authorization")
    assert AZURE.upstream_auth_headers("k") == {"api-key": "k"}


def sdk_client(status: int, body: bytes, content_type: str = "application/json") -> openai.OpenAI:
    transport = httpx2.MockTransport(
        lambda request: httpx2.Response(status, content=body, headers={"content-type": content_type})
    )
    return openai.OpenAI(
        api_key="x", base_url="http://upstream.test/v1", max_retries=0, http_client=httpx2.Client(transport=transport)
    )


@pytest.mark.parametrize(
    "status, exception, kind",
    [
        (400, openai.BadRequestError, "invalid_request_error"),
        (401, openai.AuthenticationError, "authentication_error"),
        (403, openai.PermissionDeniedError, "permission_error"),
        (404, openai.NotFoundError, "not_found_error"),
        (429, openai.RateLimitError, "rate_limit_error"),
        (500, openai.InternalServerError, "server_error"),
        (503, openai.InternalServerError, "server_error"),
    ],
)
def test_error_body_raises_the_sdk_exception(status: int, exception: type, kind: str) -> None:
    client = sdk_client(status, OPENAI.error_body(status, "Denied by policy: no secrets", "policy_denied"))
    with pytest.raises(exception) as err:
        client.chat.completions.create(model="m", messages=[{"role": "user", "content": "hi"}])
    assert "Denied by policy: no secrets" in str(err.value)
    assert (err.value.type, err.value.code) == (kind, "policy_denied")


def test_quota_errors_use_insufficient_quota() -> None:
    assert json.loads(OPENAI.error_body(429, "budget", "budget_exceeded"))["error"]["type"] == "insufficient_quota"


def test_stream_error_event_raises_mid_stream() -> None:
    chunk = {
        "id": "c",
        "object": "chat.completion.chunk",
        "created": 1,
        "model": "m",
        "choices": [{"index": 0, "delta": {"content": "par"}, "finish_reason": None}],
    }
    body = (
        b"data: "
        + orjson.dumps(chunk)
        + b"\n\n"
        + OPENAI.stream_error_event(403, "Output blocked by policy", "policy_denied")
    )
    seen = []
    with pytest.raises(openai.APIError) as err:
        for part in sdk_client(200, body, "text/event-stream").chat.completions.create(
            model="m", messages=[], stream=True
        ):
            seen.append(part.choices[0].delta.content)
    assert seen == ["par"] and "Output blocked by policy" in str(err.value)
    response = LLMResponse()
    OPENAI.parse_stream_event(SSEEvent(OPENAI.stream_error_event(403, "x", "y")[6:-2].decode()), response)
    assert response.error == "x"
