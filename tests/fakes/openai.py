"""OpenAI and Azure OpenAI: chat completions, embeddings and models (JSON and SSE).

Azure shares OpenAI's answer shapes but has its own credential header, error body and content
filter annotations, so it is a second Dialect over the same renderers. The Responses API lives in
openai_responses.py.
"""

from __future__ import annotations

import base64
import struct
import time
import zlib
from typing import Any

import orjson
from aiohttp import web

from .common import Answer, Conversation, Knobs, Turn, fold, new_id, part_texts, plan, to_int, words
from .sse import HOLE, Events, fill, sse_data
from .wire import Dialect, Reject, bearer_token, json_body, json_response, prelude, record_usage, reply, require_keys

OPENAI_MODELS = (
    "gpt-4o", "gpt-4o-mini", "gpt-4.1", "gpt-4.1-mini", "gpt-5", "gpt-5-mini", "o3-mini",
    "text-embedding-3-small", "text-embedding-3-large",
)
EMBEDDING_DIMENSIONS = 1536
MODEL_CREATED = 1_700_000_000

# ---- dialects: errors, credentials, headers --------------------------------------------------

_OPENAI_ERR = {
    400: ("invalid_request_error", None, "Invalid request (fake provider)."),
    401: ("invalid_request_error", "invalid_api_key", "Incorrect API key provided."),
    403: ("invalid_request_error", "unsupported_country_region_territory", "Country, region, or territory not supported."),
    404: ("invalid_request_error", "model_not_found", "The model does not exist or you do not have access to it."),
    429: ("requests", "rate_limit_exceeded", "Rate limit reached for requests (fake provider). Please try again in 1s."),
    500: ("server_error", None, "The server had an error while processing your request. Sorry about that!"),
    503: ("server_error", "service_unavailable", "The server is overloaded or not ready yet."),
}


def openai_error_body(status: int, message: str | None) -> bytes:
    typ, code, default = _OPENAI_ERR.get(
        status, ("server_error" if status >= 500 else "invalid_request_error", None, f"Error {status} (fake provider).")
    )
    return orjson.dumps({"error": {"message": message or default, "type": typ, "param": None, "code": code}})


def azure_error_body(status: int, message: str | None) -> bytes:
    return orjson.dumps(
        {"error": {"code": str(status), "message": message or f"Request failed with status {status} (fake provider)."}}
    )


def _mask(key: str) -> str:
    if len(key) <= 8:
        return "*" * len(key)
    return f"{key[:3]}{'*' * 8}{key[-4:]}"


def _admit_openai(request: web.Request, expected: str | None) -> None:
    if expected is None:
        return
    require_keys(
        [bearer_token(request.headers)],
        expected,
        "You didn't provide an API key. You need to provide your API key in an Authorization header "
        "using Bearer auth (i.e. Authorization: Bearer YOUR_KEY).",
        lambda key: f"Incorrect API key provided: {_mask(key)}. You can find your API key at "
        "https://platform.openai.com/account/api-keys.",
    )


_AZURE_DENIED = (
    "Access denied due to invalid subscription key or wrong API endpoint. Make sure to provide a valid "
    "key for an active subscription and use a correct regional API endpoint for your resource."
)


def _admit_azure(request: web.Request, expected: str | None) -> None:
    if expected is not None:
        presented = [request.headers.get("api-key"), bearer_token(request.headers)]
        require_keys(presented, expected, _AZURE_DENIED, _AZURE_DENIED)


def _headers() -> dict[str, str]:
    return {"x-request-id": new_id("req_"), "openai-processing-ms": "1"}


OPENAI = Dialect("openai", openai_error_body, _admit_openai, _headers)
AZURE = Dialect("azure_openai", azure_error_body, _admit_azure, _headers)

# ---- chat completions ----------------------------------------------------------------------


def read_chat(body: dict) -> Conversation:
    """User and tool/function messages are user-side; only a user message can trigger a tool call."""
    turns: list[Turn] = []
    for m in body.get("messages") or ():
        if isinstance(m, dict):
            ts = part_texts(m.get("content"))
            role = m.get("role")
            turns.append((ts, ts if role == "user" else [], role in ("user", "tool", "function")))
    tool = None
    for t in body.get("tools") or ():
        if isinstance(t, dict) and t.get("type", "function") == "function":
            f = t.get("function") or {}
            if isinstance(f, dict) and f.get("name"):
                tool = (f["name"], f.get("parameters"))
                break
    return fold(turns, tool)


def _usage(a: Answer) -> dict:
    return {
        "prompt_tokens": a.input_tokens,
        "completion_tokens": a.output_tokens,
        "total_tokens": a.input_tokens + a.output_tokens,
        "prompt_tokens_details": {"cached_tokens": a.cached_tokens, "audio_tokens": 0},
        "completion_tokens_details": {
            "reasoning_tokens": 0,
            "audio_tokens": 0,
            "accepted_prediction_tokens": 0,
            "rejected_prediction_tokens": 0,
        },
    }


_AZURE_FILTER = {
    "hate": {"filtered": False, "severity": "safe"},
    "self_harm": {"filtered": False, "severity": "safe"},
    "sexual": {"filtered": False, "severity": "safe"},
    "violence": {"filtered": False, "severity": "safe"},
}
_AZURE_PROMPT_FILTER = [{"prompt_index": 0, "content_filter_results": _AZURE_FILTER}]


def render_chat_json(a: Answer, rid: str, created: int, azure: bool) -> bytes:
    if a.is_tool:
        message = {
            "role": "assistant",
            "content": None,
            "tool_calls": [
                {"id": a.tool_id, "type": "function", "function": {"name": a.tool_name, "arguments": a.tool_args}}
            ],
            "refusal": None,
            "annotations": [],
        }
        finish = "tool_calls"
    else:
        message = {"role": "assistant", "content": a.text, "refusal": None, "annotations": []}
        finish = "stop"
    choice: dict[str, Any] = {"index": 0, "message": message, "logprobs": None, "finish_reason": finish}
    obj: dict[str, Any] = {
        "id": rid,
        "object": "chat.completion",
        "created": created,
        "model": a.model,
        "choices": [choice],
        "usage": _usage(a),
        "service_tier": "default",
        "system_fingerprint": "fp_fake",
    }
    if azure:
        choice["content_filter_results"] = _AZURE_FILTER
        obj["prompt_filter_results"] = _AZURE_PROMPT_FILTER
    return orjson.dumps(obj)


def render_chat_sse(a: Answer, rid: str, created: int, azure: bool, include_usage: bool) -> Events:
    """Chunks as the real API sends them; Azure first sends its prompt-filter chunk with no choices."""
    base: dict[str, Any] = {
        "id": rid,
        "object": "chat.completion.chunk",
        "created": created,
        "model": a.model,
        "service_tier": "default",
        "system_fingerprint": "fp_fake",
    }
    if include_usage:
        base["usage"] = None

    def choice(delta: dict, finish: str | None = None) -> dict:
        return {**base, "choices": [{"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish}]}

    def chunk(delta: dict, finish: str | None = None) -> bytes:
        return sse_data(choice(delta, finish))

    head: list[bytes] = []
    if azure:
        first = {"choices": [], "created": 0, "id": "", "model": "", "object": ""}
        head.append(sse_data({**first, "prompt_filter_results": _AZURE_PROMPT_FILTER}))
    if a.is_tool:
        call = {"index": 0, "id": a.tool_id, "type": "function", "function": {"name": a.tool_name, "arguments": ""}}
        head.append(chunk({"role": "assistant", "content": None, "tool_calls": [call], "refusal": None}))
        body = fill(choice({"tool_calls": [{"index": 0, "function": {"arguments": HOLE}}]}), a.pieces)
        finish = "tool_calls"
    else:
        head.append(chunk({"role": "assistant", "content": "", "refusal": None}))
        body = fill(choice({"content": HOLE}), a.pieces)
        finish = "stop"
    tail = [chunk({}, finish)]
    if include_usage:
        tail.append(sse_data({**base, "choices": [], "usage": _usage(a)}))
    tail.append(b"data: [DONE]\n\n")
    return head, body, tail


async def chat(request: web.Request) -> web.StreamResponse:
    """POST /v1/chat/completions"""
    knobs = await prelude(request, OPENAI)
    body = json_body(request, "model", "messages")
    return await _chat(request, OPENAI, body, str(body["model"]), knobs)


async def azure_chat(request: web.Request) -> web.StreamResponse:
    """POST /openai/deployments/{deployment}/chat/completions (model: body "model" or the deployment)."""
    knobs = await prelude(request, AZURE)
    body = json_body(request, "messages")
    model = str(body.get("model") or request.match_info["deployment"])
    return await _chat(request, AZURE, body, model, knobs)


async def _chat(request: web.Request, dialect: Dialect, body: dict, model: str, knobs: Knobs) -> web.StreamResponse:
    azure = dialect is AZURE
    stream = bool(body.get("stream"))
    a = plan(read_chat(body), model, knobs, stream=stream)
    if a.is_tool:
        a.tool_id = new_id("call_")
    rid = new_id("chatcmpl-")
    created = int(time.time())
    opts = body.get("stream_options")
    include_usage = bool(isinstance(opts, dict) and opts.get("include_usage"))
    return await reply(
        request,
        dialect,
        a,
        knobs,
        stream=stream,
        render_json=lambda: render_chat_json(a, rid, created, azure),
        render_events=lambda: render_chat_sse(a, rid, created, azure, include_usage),
    )


# ---- embeddings ----------------------------------------------------------------------------


def _embedding_vector(text: str, dims: int, as_base64: bool) -> Any:
    """A deterministic vector derived from the input text (same input, same vector)."""
    seed = zlib.crc32(text.encode("utf-8", "surrogatepass"))
    vals = [((seed + 7919 * i) % 2001) / 1000.0 - 1.0 for i in range(dims)]
    if as_base64:
        return base64.b64encode(struct.pack(f"<{dims}f", *vals)).decode()
    return vals


async def embeddings(request: web.Request) -> web.StreamResponse:
    """POST /v1/embeddings"""
    knobs = await prelude(request, OPENAI)
    body = json_body(request, "model", "input")
    return _embeddings(request, OPENAI, body, str(body["model"]), knobs)


async def azure_embeddings(request: web.Request) -> web.StreamResponse:
    """POST /openai/deployments/{deployment}/embeddings"""
    knobs = await prelude(request, AZURE)
    body = json_body(request, "input")
    model = str(body.get("model") or request.match_info["deployment"])
    return _embeddings(request, AZURE, body, model, knobs)


def _embeddings(request: web.Request, dialect: Dialect, body: dict, model: str, knobs: Knobs) -> web.Response:
    inp = body["input"]
    if isinstance(inp, str) or (isinstance(inp, list) and inp and isinstance(inp[0], int)):
        inputs: list[Any] = [inp]
    elif isinstance(inp, list):
        inputs = inp
    else:
        raise Reject(400, "'input' must be a string, an array of strings, or an array of token arrays.")
    dims = to_int(str(body["dimensions"]) if body.get("dimensions") is not None else None, EMBEDDING_DIMENSIONS)
    as_b64 = body.get("encoding_format") == "base64"
    data = []
    tokens = 0
    for i, item in enumerate(inputs):
        if isinstance(item, str):
            tokens += words(item)
            key = item
        elif isinstance(item, list):
            tokens += len(item)  # a token-id input counts one per id
            key = ",".join(map(str, item))
        else:
            raise Reject(400, "'input' items must be strings or token arrays.")
        data.append({"object": "embedding", "index": i, "embedding": _embedding_vector(key, dims, as_b64)})
    record_usage(request, tokens)
    payload = orjson.dumps(
        {"object": "list", "data": data, "model": model, "usage": {"prompt_tokens": tokens, "total_tokens": tokens}}
    )
    return json_response(dialect, payload, knobs)


# ---- models --------------------------------------------------------------------------------


def _model(m: str) -> dict:
    return {"id": m, "object": "model", "created": MODEL_CREATED, "owned_by": "system"}


_MODELS = orjson.dumps({"object": "list", "data": [_model(m) for m in OPENAI_MODELS]})


async def list_models(request: web.Request) -> web.StreamResponse:
    """GET /v1/models (OpenAI flavour; the route is shared, see app.py)."""
    knobs = await prelude(request, OPENAI)
    return json_response(OPENAI, _MODELS, knobs)


async def get_model(request: web.Request) -> web.StreamResponse:
    """GET /v1/models/{model} (OpenAI flavour)."""
    knobs = await prelude(request, OPENAI)
    return json_response(OPENAI, orjson.dumps(_model(request.match_info["model"])), knobs)
