"""The OpenAI Responses API (/v1/responses): request input items, response output items, stream events.

Split from openai.py, which holds the adapter and Chat Completions; the two APIs share only the
credential and error format.
"""

from __future__ import annotations

from typing import Any, Callable

from ._common import (
    ROLES,
    Slot,
    add_part,
    as_int,
    error_message,
    get_dict,
    get_list,
    get_str,
    index_of,
    optional_int,
    optional_list,
    require_object,
    start_stream_tool,
    str_slot,
    stream_tool,
    tool_names,
    walk_text_blocks,
)
from .base import LLMRequest, LLMResponse, RequestError, TextPart, ToolCall, Usage

_TEXT_TYPES = frozenset({"input_text", "output_text", "text"})
_TOOL_ITEMS = {"function_call": "arguments", "custom_tool_call": "input"}  # item type -> its arguments field
_RESPONSE_EVENTS = frozenset(
    {"response.created", "response.in_progress", "response.completed", "response.incomplete", "response.failed"}
)
# Stream events that carry one text of one channel: event type -> (field, channel part, kind). The channel
# part says which index names the channel inside the output item: content_index, summary_index, or none
# (the item itself: a tool call's arguments). *.done events repeat the channel's whole text.
_TEXT_EVENTS: dict[str, tuple[str, str | None, str]] = {
    "response.output_text.delta": ("delta", "content", "text"),
    "response.refusal.delta": ("delta", "content", "text"),
    "response.reasoning_text.delta": ("delta", "content", "thinking"),
    "response.reasoning_summary_text.delta": ("delta", "summary", "thinking"),
    "response.function_call_arguments.delta": ("delta", None, "tool_call_arguments"),
    "response.custom_tool_call_input.delta": ("delta", None, "tool_call_arguments"),
    "response.output_text.done": ("text", "content", "text_done"),
    "response.refusal.done": ("refusal", "content", "text_done"),
    "response.reasoning_text.done": ("text", "content", "text_done"),
    "response.reasoning_summary_text.done": ("text", "summary", "text_done"),
    "response.function_call_arguments.done": ("arguments", None, "tool_call_arguments_done"),
    "response.custom_tool_call_input.done": ("input", None, "tool_call_arguments_done"),
}
# Events that carry a whole Response (its output items repeat every channel's text so far).
_SNAPSHOT_EVENTS = _RESPONSE_EVENTS | {"response.queued"}


def tool_name(tool: dict[str, Any]) -> Any:
    """An OpenAI tool's name: Chat nests it under 'function' (or 'custom'), the Responses API puts it at the
    top level, and a built-in Responses tool (web_search, file_search, ...) is known by its type."""
    for key in ("function", "custom"):
        inner = tool.get(key)
        if isinstance(inner, dict):
            return inner.get("name")
    return tool.get("name") or tool.get("type")


def usage(u: dict[str, Any]) -> Usage:
    details = get_dict(u, "input_tokens_details")
    return Usage(as_int(u.get("input_tokens")), as_int(u.get("output_tokens")), as_int(details.get("cached_tokens")))


def parse_request(body: dict[str, Any], request: LLMRequest) -> None:
    """instructions (message_index -1), input as a string or a list of items, max_output_tokens, tools."""
    parts = request.parts
    request.max_output_tokens = optional_int(body, "max_output_tokens")
    instructions = body.get("instructions")
    if instructions is not None:
        add_part(parts, -1, "system", "text", instructions, ("instructions",))
    items = body.get("input")
    if isinstance(items, str):
        add_part(parts, 0, "user", "text", items, ("input",))
        request.message_count = 1
    elif isinstance(items, list):
        for i, item in enumerate(items):
            _input_item(require_object(item, f"input.{i}"), i, parts)
        request.message_count = len(items)
    elif items is not None:
        raise RequestError("'input' must be a string or an array")
    request.tools = tool_names(optional_list(body, "tools") or [], tool_name, "tools")


def _input_item(item: dict[str, Any], i: int, parts: list[TextPart]) -> None:
    kind = item.get("type")
    if kind is not None and not isinstance(kind, str):
        raise RequestError(f"'input.{i}.type' must be a string")
    if kind is None or kind == "message":
        raw_role = item.get("role")
        role = ROLES.get(raw_role, "user") if isinstance(raw_role, str) else "user"
        walk_text_blocks(parts, item.get("content"), i, role, ("input", i, "content"), _TEXT_TYPES)
    elif kind in _TOOL_ITEMS:
        field = _TOOL_ITEMS[kind]
        if item.get(field) is not None:
            add_part(parts, i, "assistant", "tool_call_arguments", item[field], ("input", i, field), item.get("name"))
    elif kind in ("function_call_output", "custom_tool_call_output"):
        walk_text_blocks(parts, item.get("output"), i, "tool", ("input", i, "output"), _TEXT_TYPES, "tool_result")
    # reasoning, item_reference, built-in tool call items carry no client text to inspect


def parse_output(body: dict[str, Any], response: LLMResponse) -> None:
    """A buffered Response object: message text and refusals, function and custom tool calls, status."""
    for item in get_list(body, "output"):
        kind = get_str(item, "type")
        if kind == "message":
            for part in get_list(item, "content"):
                text = get_str(part, "text") if get_str(part, "type") == "output_text" else get_str(part, "refusal")
                if text:
                    response.text.append(text)
        elif kind in _TOOL_ITEMS:
            call_id = get_str(item, "call_id") or get_str(item, "id")
            arguments = get_str(item, _TOOL_ITEMS[kind]) or ""
            response.tool_calls.append(ToolCall(call_id, get_str(item, "name") or "", arguments))
    _status(body, response)


def parse_event(kind: str, data: dict[str, Any], response: LLMResponse) -> None:
    """One Responses API stream event (its 'type' is kind); unknown event types are ignored."""
    if kind in ("response.output_text.delta", "response.refusal.delta"):
        delta = get_str(data, "delta")
        if delta:
            response.text.append(delta)
    elif kind in ("response.output_item.added", "response.output_item.done"):
        item = get_dict(data, "item")
        field = _TOOL_ITEMS.get(get_str(item, "type") or "")
        if field is None:
            return
        call = _stream_tool(data, item, response)
        call.id = call.id or get_str(item, "call_id") or get_str(item, "id")
        call.name = call.name or get_str(item, "name") or ""
        args = get_str(item, field)
        if args is not None and (kind == "response.output_item.done" or not call.arguments):
            call.arguments = args
    elif kind in ("response.function_call_arguments.delta", "response.custom_tool_call_input.delta"):
        delta = get_str(data, "delta")
        if delta:
            _stream_tool(data, {}, response).arguments += delta
    elif kind in ("response.function_call_arguments.done", "response.custom_tool_call_input.done"):
        final = get_str(data, "arguments" if kind.startswith("response.function") else "input")
        if final is not None:
            _stream_tool(data, {}, response).arguments = final
    elif kind == "error":
        response.error = error_message(data.get("error") or data)
    elif kind in _RESPONSE_EVENTS:
        body = get_dict(data, "response")
        model = get_str(body, "model")
        if model:
            response.model = model
        u = body.get("usage")
        if isinstance(u, dict):
            response.usage.merge(usage(u))
        if kind not in ("response.created", "response.in_progress"):
            _status(body, response)
            if kind == "response.failed" and response.error is None:
                response.error = "response failed"


def _stream_tool(data: dict[str, Any], item: dict[str, Any], response: LLMResponse) -> ToolCall:
    """The streamed tool call an event refers to, by item id or output index; created when first seen."""
    item_id = get_str(item, "id") or get_str(data, "item_id")
    keys: list[Any] = [("item", item_id)] if item_id else []
    if as_int(data.get("output_index")) is not None:
        keys.append(("output", data["output_index"]))
    for key in keys:
        call = stream_tool(response, key)
        if call is not None:
            for other in keys:
                response.stream_state.setdefault(other, response.stream_state[key])
            return call
    return start_stream_tool(response, keys or [("output", None)], ToolCall(None, "", ""))


def _status(body: dict[str, Any], response: LLMResponse) -> None:
    status = get_str(body, "status")
    if status == "incomplete":
        response.finish_reason = get_str(get_dict(body, "incomplete_details"), "reason") or status
    elif status:
        response.finish_reason = status
    if isinstance(body.get("error"), (dict, str)):
        response.error = error_message(body["error"])


# --- streamed text (stream_texts / rewrite_stream_event): where each event keeps its text ---


def stream_slots(kind: str, data: dict[str, Any]) -> list[Slot]:
    """The texts of one Responses API stream event, with their channels (see StreamText).

    Deltas add to a channel; *.done events, content_part.done, output_item.done and the Response
    snapshots (response.completed, ...) repeat it, as kind text_done / tool_call_arguments_done. The
    *.added events open a channel with its first text (usually empty), so they count as deltas.
    """
    slots: list[Slot] = []
    spec = _TEXT_EVENTS.get(kind)
    output = index_of(data, "output_index", 0)
    if spec is not None:
        field, sub, text_kind = spec
        str_slot(data, field, _channel(output, sub, data), text_kind, slots, _clear_logprobs(data))
    elif kind in ("response.content_part.added", "response.content_part.done"):
        channel = f"output:{output}:content:{index_of(data, 'content_index', 0)}"
        _part_slot(get_dict(data, "part"), channel, kind.endswith(".done"), slots)
    elif kind in ("response.reasoning_summary_part.added", "response.reasoning_summary_part.done"):
        done = kind.endswith(".done")
        channel = f"output:{output}:summary:{index_of(data, 'summary_index', 0)}"
        str_slot(get_dict(data, "part"), "text", channel, "text_done" if done else "thinking", slots)
    elif kind in ("response.output_item.added", "response.output_item.done"):
        _item_slots(get_dict(data, "item"), output, kind.endswith(".done"), slots)
    elif kind in _SNAPSHOT_EVENTS:
        for position, item in enumerate(get_list(get_dict(data, "response"), "output")):
            _item_slots(item, position, True, slots)
    return slots


def _channel(output: int, sub: str | None, data: dict[str, Any]) -> str:
    if sub is None:
        return f"output:{output}"
    return f"output:{output}:{sub}:{index_of(data, sub + '_index', 0)}"


def _clear_logprobs(obj: dict[str, Any]) -> Callable[[], None] | None:
    """A callback that empties obj's token logprobs, which would repeat a rewritten text token by token."""
    if not get_list(obj, "logprobs"):
        return None

    def clear() -> None:
        obj["logprobs"] = []

    return clear


def _part_slot(part: dict[str, Any], channel: str, done: bool, slots: list[Slot]) -> None:
    """A message content part (output_text, refusal) or a reasoning_text part."""
    part_kind = get_str(part, "type")
    if part_kind == "output_text":
        str_slot(part, "text", channel, "text_done" if done else "text", slots, _clear_logprobs(part))
    elif part_kind == "refusal":
        str_slot(part, "refusal", channel, "text_done" if done else "text", slots)
    elif part_kind == "reasoning_text":
        str_slot(part, "text", channel, "text_done" if done else "thinking", slots)


def _item_slots(item: dict[str, Any], output: int, done: bool, slots: list[Slot]) -> None:
    """The texts of one output item (a message, reasoning, or a function / custom tool call)."""
    item_kind = get_str(item, "type")
    if item_kind == "message":
        for c, part in enumerate(get_list(item, "content")):
            if isinstance(part, dict):
                _part_slot(part, f"output:{output}:content:{c}", done, slots)
    elif item_kind == "reasoning":
        for s, part in enumerate(get_list(item, "summary")):
            str_slot(part, "text", f"output:{output}:summary:{s}", "text_done" if done else "thinking", slots)
        for c, part in enumerate(get_list(item, "content")):
            if isinstance(part, dict):
                _part_slot(part, f"output:{output}:content:{c}", done, slots)
    elif item_kind in _TOOL_ITEMS:
        kind = "tool_call_arguments_done" if done else "tool_call_arguments"
        str_slot(item, _TOOL_ITEMS[item_kind], f"output:{output}", kind, slots)
