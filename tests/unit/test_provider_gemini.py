"""The Gemini adapter against recorded Gemini traffic and the official google-genai SDK."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx2
import pytest
from google import genai
from google.genai import errors, types

from ztgate.providers import get_adapter, resolve_route
from ztgate.providers.base import LLMResponse, RequestError, RequestRewrite, Route, SSEEvent
from ztgate.providers.gemini import rewrite_path

GEMINI = get_adapter("gemini")
GENERATE = Route("gemini", "generate_content", model="gemini-2.5-flash")
MOCKS = ("gemini_firebase_mock_responses", "mock-responses")


def as_list(value: Any) -> list:
    return value if isinstance(value, list) else [value]


def expected_answer(bodies: list[dict[str, Any]]) -> tuple[str, list[tuple[str, Any]], int | None, int | None]:
    """Answer text (thoughts excluded), function calls and the last reported usage, read the plain way."""
    text, calls, prompt, output = "", [], None, None
    for body in bodies:
        for candidate in body.get("candidates", []):
            for part in candidate.get("content", {}).get("parts", []):
                if "text" in part and not part.get("thought"):
                    text += part["text"]
                if "functionCall" in part:  # (streamed partialArgs calls are checked separately)
                    calls.append((part["functionCall"]["name"], part["functionCall"].get("args", {})))
        meta = body.get("usageMetadata", {})
        prompt = meta.get("promptTokenCount", prompt)
        if "candidatesTokenCount" in meta or "thoughtsTokenCount" in meta:
            output = meta.get("candidatesTokenCount", 0) + meta.get("thoughtsTokenCount", 0)
    return text, calls, prompt, output


def check(response: LLMResponse, bodies: list[dict[str, Any]], name: str) -> None:
    text, calls, prompt, output = expected_answer(bodies)
    assert response.output_text == text, name
    assert [(c.name, json.loads(c.arguments)) for c in response.tool_calls] == calls, name
    assert (response.usage.input_tokens, response.usage.output_tokens) == (prompt, output), name


# --- recorded traffic ---


def test_recorded_request_bodies(providers_corpus: Path) -> None:
    checked = 0
    for line in (providers_corpus / "gemini_api_examples_rest" / "request_bodies.jsonl").read_text().splitlines():
        example = json.loads(line)
        if not example["strict_json"]:
            continue  # three bodies have trailing commas: the API's docs, not JSON
        body = json.loads(example["body_raw"])
        url = urlsplit(example["url"])
        route = resolve_route("POST", f"{url.path}?{url.query}")
        request = GEMINI.parse_request(route, body)
        assert request.model == url.path.split("/")[-1].split(":")[0]
        assert request.stream == url.path.endswith(":streamGenerateContent")
        system = body.get("system_instruction") or body.get("systemInstruction")
        expected = [(-1, "system", p["text"]) for p in as_list(system["parts"])] if system else []
        contents = as_list(body["contents"])
        expected += [(i, "user", p["text"]) for i, c in enumerate(contents) for p in as_list(c["parts"])]
        assert [(p.message_index, p.role, p.text) for p in request.parts] == expected, example["snippet"]
        declarations = [d["name"] for t in body.get("tools", []) for d in t.get("function_declarations", [])]
        assert request.tools == declarations and request.message_count == len(contents)
        checked += 1
    assert checked == 6


def test_recorded_unary_responses(providers_corpus: Path) -> None:
    files = sorted(providers_corpus.joinpath(*MOCKS).glob("*/unary-*.json"))
    assert len(files) > 60
    for path in files:
        body = json.loads(path.read_text())
        response = LLMResponse()
        GEMINI.parse_response(body, response)
        if "error" in body:
            assert response.error == body["error"]["message"] and not response.text, path.name
            continue
        check(response, [body], path.name)
        assert response.model == body.get("modelVersion")
        blocked = body.get("promptFeedback", {}).get("blockReason")
        finish = [c["finishReason"] for c in body.get("candidates", []) if "finishReason" in c]
        assert response.finish_reason == (blocked or (finish[-1] if finish else None)), path.name


def test_recorded_streams(providers_corpus: Path, providers_fold) -> None:
    files = sorted(providers_corpus.joinpath(*MOCKS).glob("*/streaming-success-*.txt"))
    assert len(files) > 20
    for path in files:
        raw = path.read_bytes()
        bodies = [json.loads(line[6:]) for line in raw.decode().splitlines() if line.startswith("data: ")]
        check(providers_fold(GEMINI, raw), bodies, path.name)


def vercel_stream(path: Path) -> tuple[list[dict[str, Any]], bytes]:
    """vercel/ai stores one response per line; the API sends each as a data event, lines ending in \r\n."""
    bodies = [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
    return bodies, "".join(f"data: {json.dumps(b)}\r\n\r\n" for b in bodies).encode()


def test_recorded_vercel_chunks(providers_corpus: Path, providers_fold) -> None:
    files = sorted(providers_corpus.glob("vercel_ai_fixtures/packages/google/src/__fixtures__/*.chunks.txt"))
    checked = 0
    for path in files:
        if "partialArgs" not in path.read_text():
            bodies, raw = vercel_stream(path)
            check(providers_fold(GEMINI, raw), bodies, path.name)
            checked += 1
    assert checked >= 4


STREAMED_ARGUMENTS = {
    "google-stream-tool-call-arguments.chunks.txt": [
        ("getWeather", {"location": "Boston"}),
        ("getWeather", {"location": "San Francisco"}),
    ],
    "google-stream-no-args-tool-call.chunks.txt": [("read_theme", {})] + [("read_screen", {"id": x}) for x in "ABC"],
    "google-stream-tool-call-array-arguments-missing-terminal-function-call.chunks.txt": [
        (
            "writeItems",
            {
                "operations": [
                    {"action": "add", "description": "Fresh red apple", "itemid": "apple_001", "price": 0.5},
                    {"action": "add", "description": "Ripe yellow banana", "itemid": "banana_001", "price": 0.3},
                ]
            },
        ),
    ],
}


def test_streamed_function_call_arguments(providers_corpus: Path, providers_fold) -> None:
    """Vertex AI streams a call's arguments as partialArgs (jsonPath + value) over many parts."""
    fixtures = providers_corpus / "vercel_ai_fixtures/packages/google/src/__fixtures__"
    for name, expected in STREAMED_ARGUMENTS.items():
        response = providers_fold(GEMINI, vercel_stream(fixtures / name)[1])
        assert [(c.name, json.loads(c.arguments)) for c in response.tool_calls] == expected, name
    nested = providers_fold(
        GEMINI, vercel_stream(fixtures / "google-vertex-stream-tool-call-arguments-nested.1.chunks.txt")[1]
    )
    [(name, args)] = [(c.name, json.loads(c.arguments)) for c in nested.tool_calls]
    assert name == "cookRecipe" and args["recipe"]["name"] == "Lasagna"
    assert len(args["recipe"]["ingredients"]) == 10 and args["recipe"]["ingredients"][9] == {
        "amount": "1/2 tsp",
        "name": "Pepper",
    }
    assert args["recipe"]["steps"][4] == "In a 9x13 baking dish, spread a thin layer of meat sauce."


def test_stream_split_at_every_byte(providers_corpus: Path, providers_stream_invariance) -> None:
    mocks = providers_corpus.joinpath(*MOCKS)
    response = providers_stream_invariance(
        GEMINI, (mocks / "googleai" / "streaming-success-basic-reply-short.txt").read_bytes()
    )
    assert response.output_text == "The capital of Wyoming is **Cheyenne**.\n"
    assert (response.usage.input_tokens, response.usage.output_tokens) == (7, 10)
    assert (response.model, response.finish_reason) == ("gemini-2.0-flash", "STOP")

    thinking = mocks / "googleai" / "streaming-success-thinking-function-call-thought-summary-signature.txt"
    response = providers_stream_invariance(GEMINI, thinking.read_bytes())
    assert response.output_text == ""  # thought summaries are not the answer
    assert [(c.name, c.arguments) for c in response.tool_calls] == [("now", "{}")]
    assert (response.usage.input_tokens, response.usage.output_tokens) == (38, 6 + 168)  # thinking is output


def test_json_array_stream_body(providers_corpus: Path) -> None:
    """streamGenerateContent without alt=sse answers one JSON array, which the extproc layer buffers."""
    raw = (providers_corpus.joinpath(*MOCKS) / "googleai" / "streaming-success-basic-reply-short.txt").read_text()
    array = [json.loads(line[6:]) for line in raw.splitlines() if line.startswith("data: ")]
    response = LLMResponse()
    GEMINI.parse_response(array, response)
    assert response.output_text == "The capital of Wyoming is **Cheyenne**.\n" and response.usage.output_tokens == 10


# --- requests ---


def test_request_parts_roles_and_tools() -> None:
    body = {
        "systemInstruction": {"parts": [{"text": "sys"}]},
        "contents": [
            {"role": "user", "parts": [{"text": "q"}, {"inlineData": {"mimeType": "image/png", "data": "AA=="}}]},
            {"role": "model", "parts": [{"functionCall": {"name": "f", "args": {"x": 1}}}]},
            {"role": "user", "parts": [{"functionResponse": {"name": "f", "response": {"out": "r"}}}]},
        ],
        "tools": [{"functionDeclarations": [{"name": "f"}, {"name": "g"}]}, {"googleSearch": {}}],
        "generationConfig": {"maxOutputTokens": 256, "temperature": 0.2},
    }
    request = GEMINI.parse_request(GENERATE, body)
    assert [(p.message_index, p.role, p.kind, p.text, p.path) for p in request.parts] == [
        (-1, "system", "text", "sys", ("systemInstruction", "parts", 0, "text")),
        (0, "user", "text", "q", ("contents", 0, "parts", 0, "text")),
        (1, "assistant", "tool_call_arguments", '{"x":1}', ("contents", 1, "parts", 0, "functionCall", "args")),
        (2, "tool", "tool_result", '{"out":"r"}', ("contents", 2, "parts", 0, "functionResponse", "response")),
    ]
    assert request.tools == ["f", "g", "googleSearch"] and request.max_output_tokens == 256
    assert (request.model, request.stream, request.message_count) == ("gemini-2.5-flash", False, 3)
    listing = GEMINI.parse_request(Route("gemini", "list_models", has_body=False), {})
    assert listing.operation == "list_models" and listing.parts == []


@pytest.mark.parametrize(
    "body, message",
    [
        ([], "JSON object"),
        ({}, "contents"),
        ({"contents": "hi"}, "contents"),
        ({"contents": [{"parts": [{"text": 5}]}]}, "text"),
        ({"contents": ["x"]}, "contents.0"),
        ({"contents": [], "generationConfig": {"maxOutputTokens": "5"}}, "maxOutputTokens"),
        ({"contents": [], "generationConfig": []}, "generationConfig"),
        ({"contents": [], "tools": [1]}, "tools.0"),
    ],
)
def test_bad_requests_are_request_errors(body: Any, message: str) -> None:
    with pytest.raises(RequestError) as err:
        GEMINI.parse_request(GENERATE, body)
    assert message in err.value.message and err.value.status == 400


def test_odd_json_never_raises_anything_but_request_error(providers_odd_bodies) -> None:
    valid = {
        "contents": [{"role": "user", "parts": [{"text": "x"}]}],
        "systemInstruction": {"parts": [{"text": "s"}]},
        "tools": [{"functionDeclarations": [{"name": "f"}]}],
        "generationConfig": {"maxOutputTokens": 5},
        "candidates": [{"content": {"parts": []}}],
        "usageMetadata": {},
        "promptFeedback": {},
    }
    for body in providers_odd_bodies(valid):
        try:
            GEMINI.parse_request(GENERATE, body)
        except RequestError:
            pass
        GEMINI.rewrite_request(GENERATE, body, RequestRewrite("x", frozenset({"f", "googleSearch"}), 5))
        GEMINI.parse_response(body, LLMResponse())
        GEMINI.parse_stream_event(SSEEvent(json.dumps(body)), LLMResponse())


# --- rewrites ---


def test_rewrite_path() -> None:
    assert rewrite_path("/v1beta/models/gemini-2.0-flash:streamGenerateContent?alt=sse", "gemini-2.5-pro") == (
        "/v1beta/models/gemini-2.5-pro:streamGenerateContent?alt=sse"
    )
    assert rewrite_path("/v1/models/a:generateContent", "b") == "/v1/models/b:generateContent"
    assert rewrite_path("/v1beta/models", "b") == "/v1beta/models"
    assert GEMINI.rewrite_path("/v1beta/models/a:generateContent", "b") == "/v1beta/models/b:generateContent"


def test_rewrite_request() -> None:
    body = {
        "contents": [],
        "tools": [
            {"functionDeclarations": [{"name": "f"}, {"name": "g"}]},
            {"function_declarations": [{"name": "h"}]},
            {"googleSearch": {}},
        ],
        "toolConfig": {"functionCallingConfig": {"mode": "ANY", "allowedFunctionNames": ["f", "g"]}},
        "generationConfig": {"maxOutputTokens": 8192},
    }
    # The model is in the path: the body rewrite leaves it to rewrite_path and reports no change for it.
    assert not GEMINI.rewrite_request(GENERATE, {"contents": []}, RequestRewrite(model="other"))
    assert GEMINI.rewrite_request(
        GENERATE, body, RequestRewrite(remove_tools=frozenset({"f", "h", "googleSearch"}), max_output_tokens=1000)
    )
    assert body == {
        "contents": [],
        "tools": [{"functionDeclarations": [{"name": "g"}]}],
        "toolConfig": {"functionCallingConfig": {"mode": "ANY", "allowedFunctionNames": ["g"]}},
        "generationConfig": {"maxOutputTokens": 1000},
    }
    assert GEMINI.rewrite_request(GENERATE, body, RequestRewrite(remove_tools=frozenset({"g"})))
    assert body == {"contents": [], "generationConfig": {"maxOutputTokens": 1000}}
    assert not GEMINI.rewrite_request(GENERATE, body, RequestRewrite(max_output_tokens=5000))
    snake = {"contents": [], "generation_config": {"temperature": 1}}
    assert GEMINI.rewrite_request(GENERATE, snake, RequestRewrite(max_output_tokens=10))
    assert snake["generation_config"] == {"temperature": 1, "max_output_tokens": 10}
    bare = {"contents": []}
    assert GEMINI.rewrite_request(GENERATE, bare, RequestRewrite(max_output_tokens=10)) and bare[
        "generationConfig"
    ] == {"maxOutputTokens": 10}


# --- credentials and errors, checked with the official SDK ---


def test_credentials() -> None:
    assert GEMINI.credential_headers == ("x-goog-api-key",)
    assert GEMINI.upstream_auth_headers("AIza") == {"x-goog-api-key": "AIza"}


def sdk_client(status: int, body: bytes, content_type: str = "application/json") -> genai.Client:
    transport = httpx2.MockTransport(
        lambda request: httpx2.Response(status, content=body, headers={"content-type": content_type})
    )
    options = types.HttpOptions(base_url="http://upstream.test", httpx_client=httpx2.Client(transport=transport))
    return genai.Client(api_key="x", http_options=options)


@pytest.mark.parametrize(
    "status, exception, status_name",
    [
        (400, errors.ClientError, "INVALID_ARGUMENT"),
        (401, errors.ClientError, "UNAUTHENTICATED"),
        (403, errors.ClientError, "PERMISSION_DENIED"),
        (404, errors.ClientError, "NOT_FOUND"),
        (429, errors.ClientError, "RESOURCE_EXHAUSTED"),
        (500, errors.ServerError, "INTERNAL"),
        (503, errors.ServerError, "UNAVAILABLE"),
    ],
)
def test_error_body_raises_the_sdk_exception(status: int, exception: type, status_name: str) -> None:
    body = GEMINI.error_body(status, "Denied by policy: no secrets", "policy_denied")
    with pytest.raises(exception) as err:
        sdk_client(status, body).models.generate_content(model="gemini-2.0-flash", contents="hi")
    assert (err.value.code, err.value.status, err.value.message) == (
        status,
        status_name,
        "Denied by policy: no secrets",
    )
    assert "Denied by policy: no secrets" in str(err.value)
    assert json.loads(body)["error"]["details"][0]["reason"] == "POLICY_DENIED"


def test_stream_error_event_raises_mid_stream() -> None:
    chunk = b'data: {"candidates": [{"content": {"parts": [{"text": "The"}], "role": "model"}}]}\r\n\r\n'
    body = chunk + GEMINI.stream_error_event(403, "Output blocked by policy", "policy_denied")
    seen = []
    with pytest.raises(errors.ClientError) as err:
        for part in sdk_client(200, body, "text/event-stream").models.generate_content_stream(model="m", contents="hi"):
            seen.append(part.text)
    assert seen == ["The"] and err.value.message == "Output blocked by policy"


def test_several_candidates_keep_their_texts_apart() -> None:
    """candidateCount > 1: each candidate's text stays whole, so a link split across candidates is
    not stitched together and output inspection sees what each answer says."""
    body = {
        "candidates": [
            {"index": 0, "content": {"role": "model", "parts": [{"text": "Paris is "}, {"text": "the capital."}]}},
            {"index": 1, "content": {"role": "model", "parts": [{"text": "It is Paris."}]}},
        ],
        "modelVersion": "gemini-2.0-flash",
    }
    response = LLMResponse()
    GEMINI.parse_response(body, response)
    assert response.output_text == "Paris is the capital.\n\nIt is Paris."
