"""Anthropic's wire format: the Messages API (/v1/messages), buffered and streamed."""

from __future__ import annotations

from typing import Any

from ._common import (
    event_json,
    OBJECT_KIND,
    Slot,
    add_part,
    as_int,
    cap_tokens,
    dumps,
    encode_sse,
    error_message,
    filter_named,
    get_dict,
    get_list,
    get_str,
    json_text,
    optional_bool,
    optional_int,
    optional_list,
    require_model,
    require_object,
    rewrite_slots,
    set_model,
    slot_texts,
    sse_event,
    start_stream_tool,
    status_lookup,
    str_slot,
    stream_tool,
    tool_names,
    walk_text_blocks,
)
from .base import (
    LLMRequest,
    LLMResponse,
    RequestError,
    RequestRewrite,
    Route,
    SSEEvent,
    StreamText,
    TextPart,
    ToolCall,
    Usage,
)

_TEXT = frozenset({"text"})
_TOOL_USE = frozenset({"tool_use", "server_tool_use"})
# https://docs.claude.com/en/api/errors; the SDK picks its exception class by status.
_ERROR_TYPES = {400: "invalid_request_error", 401: "authentication_error", 402: "billing_error"}
_ERROR_TYPES |= {403: "permission_error", 404: "not_found_error", 413: "request_too_large"}
_ERROR_TYPES |= {429: "rate_limit_error", 504: "timeout_error", 529: "overloaded_error"}
# content_block_delta types that carry text: delta type -> (field, StreamText kind). signature_delta,
# citations_delta and compaction_delta carry no text of the answer.
_DELTA_TEXT = {
    "text_delta": ("text", "text"),
    "input_json_delta": ("partial_json", "tool_call_arguments"),
    "thinking_delta": ("thinking", "thinking"),
}
# content_block_start blocks that open with text (normally empty): block type -> (field, kind).
_START_TEXT = {"text": ("text", "text"), "thinking": ("thinking", "thinking")}


def _tool_name(tool: dict[str, Any]) -> Any:
    return tool.get("name")


def _usage(u: dict[str, Any]) -> Usage:
    """input_tokens excludes cache reads and writes, which Anthropic reports (and bills) separately."""
    return Usage(
        as_int(u.get("input_tokens")),
        as_int(u.get("output_tokens")),
        as_int(u.get("cache_read_input_tokens")),
        as_int(u.get("cache_creation_input_tokens")),
    )


class AnthropicAdapter:
    """Anthropic Messages: the model and max_tokens are required body fields."""

    name = "anthropic"
    credential_headers: tuple[str, ...] = ("x-api-key", "authorization")

    def parse_request(self, route: Route, body: dict[str, Any]) -> LLMRequest:
        """system (message_index -1), messages with string or block content, max_tokens, tools."""
        body = require_object(body)
        model = require_model(body)
        max_tokens = optional_int(body, "max_tokens")
        if max_tokens is None:
            raise RequestError("'max_tokens' is required and must be a non-negative integer")
        messages = body.get("messages")
        if not isinstance(messages, list):
            raise RequestError("'messages' is required and must be an array")
        request = LLMRequest(self.name, route.operation, model, optional_bool(body, "stream"), max_tokens)
        walk_text_blocks(request.parts, body.get("system"), -1, "system", ("system",), _TEXT)
        for i, message in enumerate(messages):
            require_object(message, f"messages.{i}")
            role = message.get("role")
            if role not in ("user", "assistant"):
                raise RequestError(f"'messages.{i}.role' must be 'user' or 'assistant'")
            _content(request.parts, message.get("content"), i, role)
        request.message_count = len(messages)
        request.tools = tool_names(optional_list(body, "tools") or [], _tool_name, "tools")
        return request

    def rewrite_request(self, route: Route, body: dict[str, Any], rewrite: RequestRewrite) -> bool:
        """Model, tool removal (and a tool_choice naming a removed tool), max_tokens cap."""
        if not isinstance(body, dict):
            return False
        changed = set_model(body, rewrite.model)
        tools = body.get("tools")
        if rewrite.remove_tools and isinstance(tools, list):
            kept = filter_named(tools, rewrite.remove_tools, _tool_name)
            if len(kept) != len(tools):
                changed = True
                if kept:
                    body["tools"] = kept
                else:
                    body.pop("tools", None)
                    body.pop("tool_choice", None)
        choice = body.get("tool_choice")
        if rewrite.remove_tools and get_str(choice, "name") in rewrite.remove_tools:
            del body["tool_choice"]
            changed = True
        if rewrite.max_output_tokens is not None:
            changed |= cap_tokens(body, ("max_tokens",), "max_tokens", rewrite.max_output_tokens)
        return changed

    def upstream_auth_headers(self, credential: str) -> dict[str, str]:
        return {"x-api-key": credential}

    def rewrite_path(self, path: str, model: str) -> str | None:
        return None

    def parse_response(self, body: dict[str, Any], response: LLMResponse) -> None:
        """A Message object (content blocks, stop_reason, usage) or an error body."""
        if not isinstance(body, dict):
            return
        if body.get("type") == "error":
            response.error = error_message(body.get("error")) or "error"
            return
        model = get_str(body, "model")
        if model:
            response.model = model
        for block in get_list(body, "content"):
            kind = get_str(block, "type")
            if kind == "text":
                text = get_str(block, "text")
                if text:
                    response.text.append(text)
            elif kind in _TOOL_USE:
                call = ToolCall(get_str(block, "id"), get_str(block, "name") or "", json_text(block.get("input", {})))
                response.tool_calls.append(call)
        reason = get_str(body, "stop_reason")
        if reason:
            response.finish_reason = reason
        usage = body.get("usage")
        if isinstance(usage, dict):
            response.usage.merge(_usage(usage))

    def parse_stream_event(self, event: SSEEvent, response: LLMResponse) -> None:
        """message_start, content_block_start/delta/stop, message_delta, error; ping and others ignored."""
        data = event_json(event)
        if data is None:
            return
        kind = data.get("type")
        if kind == "content_block_delta":
            delta = get_dict(data, "delta")
            delta_kind = delta.get("type")
            if delta_kind == "text_delta":
                text = get_str(delta, "text")
                if text:
                    response.text.append(text)
            elif delta_kind == "input_json_delta":
                call = stream_tool(response, as_int(data.get("index")))
                fragment = get_str(delta, "partial_json")
                if call is not None and fragment:
                    call.arguments += fragment
        elif kind == "content_block_start":
            block = get_dict(data, "content_block")
            block_kind = get_str(block, "type")
            if block_kind == "text":
                text = get_str(block, "text")
                if text:
                    response.text.append(text)
            elif block_kind == "fallback":  # the answer continues on another model, which bills it
                model = get_str(get_dict(block, "to"), "model")
                if model:
                    response.model = model
            elif block_kind in _TOOL_USE:
                call = ToolCall(get_str(block, "id"), get_str(block, "name") or "", "")
                start_stream_tool(response, (as_int(data.get("index")),), call)
                # The start carries input {} and the arguments stream as input_json_delta; keep a non-empty
                # start input in case no deltas follow.
                start_input = block.get("input")
                response.stream_state[("input", as_int(data.get("index")))] = start_input
        elif kind == "content_block_stop":
            index = as_int(data.get("index"))
            call = stream_tool(response, index)
            if call is not None and not call.arguments:
                call.arguments = json_text(response.stream_state.get(("input", index)) or {})
        elif kind == "message_start":
            message = get_dict(data, "message")
            model = get_str(message, "model")
            if model:
                response.model = model
            response.usage.merge(_usage(get_dict(message, "usage")))
        elif kind == "message_delta":
            reason = get_str(get_dict(data, "delta"), "stop_reason")
            if reason:
                response.finish_reason = reason
            response.usage.merge(_usage(get_dict(data, "usage")))
        elif kind == "error":
            response.error = error_message(data.get("error")) or "error"

    def stream_texts(self, event: SSEEvent) -> list[StreamText]:
        """Text, thinking and tool-input JSON of content_block_delta (and a content_block_start's opening
        text), channel block:<index>."""
        return slot_texts(event, _stream_slots)

    def rewrite_stream_event(self, event: SSEEvent, texts: list[str]) -> bytes:
        return rewrite_slots(event, texts, _stream_slots)

    def encode_event(self, event: SSEEvent) -> bytes:
        """event: <name> and data: ... lines, as Anthropic sends them."""
        return encode_sse(event)

    def error_body(self, status: int, message: str, code: str) -> bytes:
        """{"type": "error", "error": {type, message}}: the SDK picks its exception class by status.

        Anthropic's error object has no code field, so code is not sent (a custom one would not survive
        the SDK's parsing anyway); the message is what the client shows."""
        return dumps(_error(status, message))

    def stream_error_event(self, status: int, message: str, code: str) -> bytes:
        """An 'error' event, which the SDK raises as an APIStatusError mid-stream."""
        return sse_event(_error(status, message), event="error")


def _stream_slots(data: dict[str, Any]) -> list[Slot]:
    index = as_int(data.get("index"))
    if index is None:
        return []
    kind = data.get("type")
    if kind == "content_block_delta":
        holder, table = get_dict(data, "delta"), _DELTA_TEXT
    elif kind == "content_block_start":
        holder, table = get_dict(data, "content_block"), _START_TEXT
    else:
        return []
    block_kind = get_str(holder, "type") or ""
    spec = table.get(block_kind)
    slots: list[Slot] = []
    if spec is not None:
        str_slot(holder, spec[0], f"block:{index}", spec[1], slots)
    elif kind == "content_block_start" and get_dict(holder, "input"):
        # A tool call whose input comes whole in its start block (programmatic tool calling); the usual
        # start carries input {} and the arguments follow as input_json_delta on the same channel.
        slots.append(Slot(holder, "input", f"block:{index}", OBJECT_KIND))
    return slots


def _error(status: int, message: str) -> dict[str, Any]:
    kind = status_lookup(_ERROR_TYPES, status, "invalid_request_error", "api_error")
    return {"type": "error", "error": {"type": kind, "message": message}}


def _content(parts: list[TextPart], content: Any, i: int, role: str) -> None:
    """A message's content: a string, or blocks (text, tool_use, tool_result, document, ...)."""
    path = ("messages", i, "content")
    if isinstance(content, str):
        add_part(parts, i, role, "text", content, path)
        return
    if not isinstance(content, list):
        raise RequestError(f"'messages.{i}.content' must be a string or an array")
    for j, block in enumerate(content):
        block = require_object(block, f"messages.{i}.content.{j}")
        kind = get_str(block, "type")
        if kind == "text":
            add_part(parts, i, role, "text", block.get("text"), (*path, j, "text"))
        elif kind in _TOOL_USE:
            # The input is an object; its JSON text is what detectors scan (path points at the object).
            parts_input = block.get("input")
            if parts_input is not None:
                add_part(parts, i, "assistant", "tool_call_arguments", json_text(parts_input), (*path, j, "input"), block.get("name"))
        elif kind == "tool_result":
            walk_text_blocks(parts, block.get("content"), i, "tool", (*path, j, "content"), _TEXT, "tool_result")
        elif kind == "document":
            source = get_dict(block, "source")
            if source.get("type") == "text":  # a plain-text document is prompt text like any other
                add_part(parts, i, role, "text", source.get("data"), (*path, j, "source", "data"))
