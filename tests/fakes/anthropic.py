"""Anthropic: messages (JSON and SSE), count_tokens and models.

Anthropic requires an ``anthropic-version`` header on every request and reports cache reads in
addition to input tokens (not as a part of them), which is why its usage block differs.
"""

from __future__ import annotations

from typing import Any

import orjson
from aiohttp import web

from .common import Answer, Conversation, Turn, fold, input_tokens, new_id, part_texts, plan
from .sse import HOLE, Events, fill, sse_event
from .wire import Dialect, Reject, bearer_token, json_body, json_response, prelude, record_usage, reply, require_keys

ANTHROPIC_MODELS = ("claude-opus-4-1", "claude-sonnet-4-5", "claude-haiku-4-5", "claude-3-5-haiku-latest")
MODEL_CREATED_AT = "2025-01-01T00:00:00Z"

# ---- dialect: errors, credentials, headers ---------------------------------------------------

_ERROR_TYPES = {
    400: "invalid_request_error",
    401: "authentication_error",
    402: "billing_error",
    403: "permission_error",
    404: "not_found_error",
    413: "request_too_large",
    429: "rate_limit_error",
    500: "api_error",
    504: "timeout_error",
    529: "overloaded_error",
}


def error_body(status: int, message: str | None) -> bytes:
    typ = _ERROR_TYPES.get(status, "api_error" if status >= 500 else "invalid_request_error")
    return orjson.dumps(
        {
            "type": "error",
            "error": {"type": typ, "message": message or f"{typ} (fake provider, status {status})"},
            "request_id": new_id("req_"),
        }
    )


def _admit(request: web.Request, expected: str | None) -> None:
    # The current anthropic SDK sends API keys as "Authorization: Bearer"; x-api-key is the
    # classic header. Both are accepted.
    if expected is not None:
        presented = [request.headers.get("x-api-key"), bearer_token(request.headers)]
        require_keys(presented, expected, "x-api-key header is required", "invalid x-api-key")
    if "anthropic-version" not in request.headers:
        raise Reject(400, "anthropic-version: header is required")


ANTHROPIC = Dialect("anthropic", error_body, _admit, lambda: {"request-id": new_id("req_")})

# ---- reading a request ---------------------------------------------------------------------


def _blocks(content: Any) -> tuple[list[str], list[str]]:
    """(all texts in order, the message's own text blocks); tool_result text is not the user's own."""
    if isinstance(content, str):
        return [content], [content]
    all_t: list[str] = []
    own: list[str] = []
    if isinstance(content, list):
        for b in content:
            if not isinstance(b, dict):
                continue
            typ = b.get("type")
            if typ == "text" and isinstance(b.get("text"), str):
                all_t.append(b["text"])
                own.append(b["text"])
            elif typ == "tool_result":
                all_t.extend(part_texts(b.get("content")))
    return all_t, own



def read_messages(body: dict) -> Conversation:
    turns: list[Turn] = [(part_texts(body.get("system")), [], False)]
    for m in body.get("messages") or ():
        if isinstance(m, dict):
            all_t, own = _blocks(m.get("content"))
            turns.append((all_t, own, m.get("role") == "user"))
    tool = None
    for t in body.get("tools") or ():
        if isinstance(t, dict) and t.get("name") and ("input_schema" in t or t.get("type") in (None, "custom")):
            tool = (t["name"], t.get("input_schema"))
            break
    return fold(turns, tool)


# ---- answers -------------------------------------------------------------------------------


def _usage(a: Answer, output_tokens: int) -> dict:
    return {
        "input_tokens": a.input_tokens,
        "cache_creation_input_tokens": 0,
        "cache_read_input_tokens": a.cached_tokens,
        "cache_creation": {"ephemeral_5m_input_tokens": 0, "ephemeral_1h_input_tokens": 0},
        "output_tokens": output_tokens,
        "service_tier": "standard",
    }


def render_json(a: Answer, mid: str) -> bytes:
    if a.is_tool:
        content = [{"type": "tool_use", "id": a.tool_id, "name": a.tool_name, "input": a.tool_input()}]
        stop = "tool_use"
    else:
        content = [{"type": "text", "text": a.text}]
        stop = "end_turn"
    return orjson.dumps(
        {
            "id": mid,
            "type": "message",
            "role": "assistant",
            "model": a.model,
            "content": content,
            "stop_reason": stop,
            "stop_sequence": None,
            "usage": _usage(a, a.output_tokens),
        }
    )


def render_sse(a: Answer, mid: str) -> Events:
    """message_start carries output_tokens=1 (as the real API), message_delta the final total."""
    start = {
        "type": "message_start",
        "message": {
            "id": mid,
            "type": "message",
            "role": "assistant",
            "model": a.model,
            "content": [],
            "stop_reason": None,
            "stop_sequence": None,
            "usage": _usage(a, 1),
        },
    }
    if a.is_tool:
        block: dict[str, Any] = {"type": "tool_use", "id": a.tool_id, "name": a.tool_name, "input": {}}
        delta: dict[str, Any] = {"type": "input_json_delta", "partial_json": HOLE}
        pieces = [""] + a.pieces
        stop = "tool_use"
    else:
        block = {"type": "text", "text": ""}
        delta = {"type": "text_delta", "text": HOLE}
        pieces = a.pieces
        stop = "end_turn"
    template = {"type": "content_block_delta", "index": 0, "delta": delta}
    body = fill(template, pieces, b"event: content_block_delta\ndata: ")
    head = [
        sse_event("message_start", start),
        sse_event("content_block_start", {"type": "content_block_start", "index": 0, "content_block": block}),
        sse_event("ping", {"type": "ping"}),
    ]
    tail = [
        sse_event("content_block_stop", {"type": "content_block_stop", "index": 0}),
        sse_event(
            "message_delta",
            {
                "type": "message_delta",
                "delta": {"stop_reason": stop, "stop_sequence": None},
                "usage": {"output_tokens": a.output_tokens},
            },
        ),
        sse_event("message_stop", {"type": "message_stop"}),
    ]
    return head, body, tail


# ---- handlers ------------------------------------------------------------------------------


async def messages(request: web.Request) -> web.StreamResponse:
    """POST /v1/messages"""
    knobs = await prelude(request, ANTHROPIC)
    body = json_body(request, "model", "messages", "max_tokens")
    stream = bool(body.get("stream"))
    a = plan(read_messages(body), str(body["model"]), knobs, stream=stream)
    if a.is_tool:
        a.tool_id = new_id("toolu_")
    mid = new_id("msg_")
    return await reply(
        request,
        ANTHROPIC,
        a,
        knobs,
        stream=stream,
        render_json=lambda: render_json(a, mid),
        render_events=lambda: render_sse(a, mid),
    )


async def count_tokens(request: web.Request) -> web.StreamResponse:
    """POST /v1/messages/count_tokens: the same input_tokens figure as a messages answer."""
    knobs = await prelude(request, ANTHROPIC)
    body = json_body(request, "model", "messages")
    n = input_tokens(read_messages(body))
    record_usage(request, n)
    return json_response(ANTHROPIC, orjson.dumps({"input_tokens": n}), knobs)


def _model(m: str) -> dict:
    return {"type": "model", "id": m, "display_name": m, "created_at": MODEL_CREATED_AT}


_MODELS = orjson.dumps(
    {
        "data": [_model(m) for m in ANTHROPIC_MODELS],
        "has_more": False,
        "first_id": ANTHROPIC_MODELS[0],
        "last_id": ANTHROPIC_MODELS[-1],
    }
)


async def list_models(request: web.Request) -> web.StreamResponse:
    """GET /v1/models (Anthropic flavour; the route is shared, see app.py)."""
    knobs = await prelude(request, ANTHROPIC)
    return json_response(ANTHROPIC, _MODELS, knobs)


async def get_model(request: web.Request) -> web.StreamResponse:
    """GET /v1/models/{model} (Anthropic flavour)."""
    knobs = await prelude(request, ANTHROPIC)
    return json_response(ANTHROPIC, orjson.dumps(_model(request.match_info["model"])), knobs)
