"""Gemini: generateContent, streamGenerateContent (SSE or a streamed JSON array), countTokens, models.

Gemini puts the method in the path (``models/{model}:{method}``), so one POST route dispatches on
it; the same routes are served under /v1beta/ and /v1/ (google-genai >= 3 defaults to "v1").
"""

from __future__ import annotations

from typing import Any

import orjson
from aiohttp import web

from .common import Answer, Conversation, Knobs, Turn, fold, input_tokens, new_id, plan
from .sse import Events
from .wire import Dialect, Reject, json_body, json_response, prelude, record_usage, reply, require_keys

GEMINI_MODELS = ("gemini-2.5-pro", "gemini-2.5-flash", "gemini-2.5-flash-lite", "gemini-2.0-flash")
JSON_UTF8 = "application/json; charset=UTF-8"

# ---- dialect: errors, credentials, headers ---------------------------------------------------

_STATUS_NAMES = {
    400: "INVALID_ARGUMENT",
    401: "UNAUTHENTICATED",
    403: "PERMISSION_DENIED",
    404: "NOT_FOUND",
    409: "ABORTED",
    429: "RESOURCE_EXHAUSTED",
    499: "CANCELLED",
    500: "INTERNAL",
    501: "NOT_IMPLEMENTED",
    503: "UNAVAILABLE",
    504: "DEADLINE_EXCEEDED",
}


def error_body(status: int, message: str | None) -> bytes:
    st = _STATUS_NAMES.get(status, "INTERNAL" if status >= 500 else "FAILED_PRECONDITION")
    return orjson.dumps({"error": {"code": status, "message": message or f"{st} (fake provider)", "status": st}})


def _admit(request: web.Request, expected: str | None) -> None:
    # The real API answers 400 API_KEY_INVALID / 403 for a bad / missing key; the fake says 401.
    if expected is None:
        return
    require_keys(
        [request.headers.get("x-goog-api-key"), request.query.get("key")],
        expected,
        "Method doesn't allow unregistered callers (callers without established identity). "
        "Please use API Key or other form of API consumer identity to call this API.",
        "API key not valid. Please pass a valid API key.",
    )


GEMINI = Dialect("gemini", error_body, _admit, lambda: {"x-goog-request-id": new_id("")}, JSON_UTF8)

# ---- reading a request ---------------------------------------------------------------------


def _parts(content: Any) -> tuple[list[str], list[str]]:
    """(all texts, own text parts); thoughts are skipped, a functionResponse counts as compact JSON."""
    all_t: list[str] = []
    own: list[str] = []
    parts = content.get("parts") if isinstance(content, dict) else None
    for p in parts or ():
        if not isinstance(p, dict):
            continue
        if isinstance(p.get("text"), str) and not p.get("thought"):
            all_t.append(p["text"])
            own.append(p["text"])
        else:
            fr = p.get("functionResponse") or p.get("function_response")
            if isinstance(fr, dict):
                all_t.append(orjson.dumps(fr.get("response")).decode())
    return all_t, own


def read_contents(body: dict) -> Conversation:
    system = body.get("systemInstruction") or body.get("system_instruction")
    turns: list[Turn] = [(_parts(system)[0], [], False)]
    for c in body.get("contents") or ():
        if isinstance(c, dict):
            all_t, own = _parts(c)
            turns.append((all_t, own, c.get("role") in (None, "", "user", "function", "tool")))
    tool = None
    for t in body.get("tools") or ():
        if not isinstance(t, dict):
            continue
        for fd in t.get("functionDeclarations") or t.get("function_declarations") or ():
            if isinstance(fd, dict) and fd.get("name"):
                schema = None
                for key in ("parametersJsonSchema", "parameters_json_schema", "parameters"):
                    if fd.get(key) is not None:
                        schema = fd[key]
                        break
                tool = (fd["name"], schema)
                break
        if tool:
            break
    return fold(turns, tool)


# ---- answers -------------------------------------------------------------------------------


def _usage(a: Answer) -> dict:
    u: dict[str, Any] = {
        "promptTokenCount": a.input_tokens,
        "candidatesTokenCount": a.output_tokens,
        "totalTokenCount": a.input_tokens + a.output_tokens,
        "promptTokensDetails": [{"modality": "TEXT", "tokenCount": a.input_tokens}],
    }
    if a.cached_tokens:
        u["cachedContentTokenCount"] = a.cached_tokens
    return u


def _candidate(parts: list, finish: bool) -> dict:
    c: dict[str, Any] = {"content": {"parts": parts, "role": "model"}, "index": 0}
    if finish:
        c["finishReason"] = "STOP"
    return c


def _whole(a: Answer, rid: str, parts: list) -> dict:
    return {
        "candidates": [_candidate(parts, True)],
        "usageMetadata": _usage(a),
        "modelVersion": a.model,
        "responseId": rid,
    }


def _function_call(a: Answer) -> list:
    return [{"functionCall": {"name": a.tool_name, "args": a.tool_input()}}]


def stream_chunks(a: Answer, rid: str) -> list[dict]:
    """One chunk per piece, usageMetadata only on the last; a functionCall comes whole in one chunk."""
    if a.is_tool:
        return [_whole(a, rid, _function_call(a))]
    out = []
    last = len(a.pieces) - 1
    for i, p in enumerate(a.pieces):
        ev: dict[str, Any] = {"candidates": [_candidate([{"text": p}], i == last)]}
        if i == last:
            ev["usageMetadata"] = _usage(a)
        ev["modelVersion"] = a.model
        ev["responseId"] = rid
        out.append(ev)
    return out


def render_json(a: Answer, rid: str) -> bytes:
    return orjson.dumps(_whole(a, rid, _function_call(a) if a.is_tool else [{"text": a.text}]))


def render_stream(a: Answer, rid: str, sse: bool) -> Events:
    """alt=sse: events separated by CRLF CRLF as the real API; otherwise one streamed JSON array."""
    chunks = [orjson.dumps(e) for e in stream_chunks(a, rid)]
    if sse:
        return [], [b"data: " + c + b"\r\n\r\n" for c in chunks], []
    return [], [(b"[" if i == 0 else b",\r\n") + c for i, c in enumerate(chunks)], [b"]"]


# ---- handlers ------------------------------------------------------------------------------


async def dispatch(request: web.Request) -> web.StreamResponse:
    """POST /v1beta/models/{model}:{method} (and /v1/...)."""
    knobs = await prelude(request, GEMINI)
    model, _, method = request.match_info["target"].rpartition(":")
    if not model:
        raise Reject(404, f"Method not found: {request.match_info['target']}")
    model = model.removeprefix("models/")
    if method == "generateContent":
        return await _generate(request, model, knobs, stream=False)
    if method == "streamGenerateContent":
        return await _generate(request, model, knobs, stream=True)
    if method == "countTokens":
        return _count_tokens(request, knobs)
    raise Reject(404, f"Method not found: {method}")


async def _generate(request: web.Request, model: str, knobs: Knobs, *, stream: bool) -> web.StreamResponse:
    body = json_body(request, "contents")
    a = plan(read_contents(body), model, knobs, stream=stream)
    rid = new_id("")
    sse = request.query.get("alt") == "sse"
    return await reply(
        request,
        GEMINI,
        a,
        knobs,
        stream=stream,
        render_json=lambda: render_json(a, rid),
        render_events=lambda: render_stream(a, rid, sse),
        content_type="text/event-stream" if sse else JSON_UTF8,
    )


def _count_tokens(request: web.Request, knobs: Knobs) -> web.Response:
    """:countTokens, bare or wrapping a generateContentRequest: the same input_tokens figure."""
    body = json_body(request)
    inner = body.get("generateContentRequest") or body.get("generate_content_request") or body
    n = input_tokens(read_contents(inner if isinstance(inner, dict) else body))
    record_usage(request, n)
    payload = orjson.dumps({"totalTokens": n, "promptTokensDetails": [{"modality": "TEXT", "tokenCount": n}]})
    return json_response(GEMINI, payload, knobs)


def _model(m: str) -> dict:
    return {
        "name": f"models/{m}",
        "version": "001",
        "displayName": m,
        "description": f"{m} (fake provider)",
        "inputTokenLimit": 1048576,
        "outputTokenLimit": 65536,
        "supportedGenerationMethods": ["generateContent", "countTokens"],
        "temperature": 1,
        "topP": 0.95,
        "topK": 64,
        "maxTemperature": 2,
    }


_MODELS = orjson.dumps({"models": [_model(m) for m in GEMINI_MODELS]})


async def list_models(request: web.Request) -> web.StreamResponse:
    """GET /v1beta/models (and GET /v1/models with a Gemini credential)."""
    knobs = await prelude(request, GEMINI)
    return json_response(GEMINI, _MODELS, knobs)


async def get_model(request: web.Request) -> web.StreamResponse:
    """GET /v1beta/models/{model} (a "models/" prefix is accepted)."""
    knobs = await prelude(request, GEMINI)
    m = request.match_info["model"].removeprefix("models/")
    return json_response(GEMINI, orjson.dumps(_model(m)), knobs)
