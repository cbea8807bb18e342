"""Helpers the provider adapters share: request validation, text walking, token caps, error bodies.

Everything here is provider-neutral; each adapter keeps only its own wire format.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Iterable

import orjson

from .base import JsonPath, LLMResponse, RequestError, SSEEvent, StreamText, TextPart, ToolCall

# Every provider's message roles, normalised to TextPart's: Gemini says "model", OpenAI "developer", ...
ROLES = {
    "system": "system",
    "developer": "system",
    "user": "user",
    "assistant": "assistant",
    "model": "assistant",
    "tool": "tool",
    "function": "tool",
}


# --- request validation: a body the provider would reject becomes a RequestError, never a crash ---


def dotted(path: JsonPath) -> str:
    """A JSON location as the providers' own error messages spell it: messages.0.content."""
    return ".".join(map(str, path))


def require_object(value: Any, where: str | None = None) -> dict[str, Any]:
    """The body (or the nested value at where) must be a JSON object."""
    if not isinstance(value, dict):
        raise RequestError(f"'{where}' must be a JSON object" if where else "request body must be a JSON object")
    return value


def require_model(body: dict[str, Any]) -> str:
    """Providers that name the model in the body reject a missing or empty one."""
    model = body.get("model")
    if not isinstance(model, str) or not model:
        raise RequestError("'model' is required and must be a non-empty string")
    return model


def optional_bool(body: dict[str, Any], key: str) -> bool:
    value = body.get(key)
    if value is None:
        return False
    if not isinstance(value, bool):
        raise RequestError(f"'{key}' must be a boolean")
    return value


def optional_int(body: dict[str, Any], key: str) -> int | None:
    value = body.get(key)
    if value is None:
        return None
    if not isinstance(value, int) or isinstance(value, bool) or value < 0:
        raise RequestError(f"'{key}' must be a non-negative integer")
    return value


def optional_list(body: dict[str, Any], key: str, where: str = "") -> list[Any] | None:
    value = body.get(key)
    if value is None:
        return None
    if not isinstance(value, list):
        raise RequestError(f"'{where}{key}' must be an array")
    return value


def is_int(value: Any) -> bool:
    """JSON integers only: bool is an int subclass in Python but not in JSON."""
    return isinstance(value, int) and not isinstance(value, bool)


def first_key(obj: dict[str, Any], *keys: str) -> str | None:
    """The first of keys present in obj: Gemini accepts camelCase and snake_case field names."""
    for key in keys:
        if key in obj:
            return key
    return None


# --- text extraction ---


def json_text(value: Any) -> str:
    """Structured arguments or results as JSON text, the form detectors scan."""
    if isinstance(value, str):
        return value
    try:
        return orjson.dumps(value).decode()
    except (TypeError, orjson.JSONEncodeError):
        return ""


def add_part(
    parts: list[TextPart], index: int, role: str, kind: str, text: Any, path: JsonPath, name: Any = None
) -> None:
    """Record a piece of text; a non-string where text belongs is a request the provider would reject."""
    if not isinstance(text, str):
        raise RequestError(f"'{dotted(path)}' must be a string")
    if text:
        parts.append(TextPart(index, role, kind, text, path, name if isinstance(name, str) else None))


def walk_text_blocks(
    parts: list[TextPart],
    blocks: Any,
    index: int,
    role: str,
    path: JsonPath,
    text_types: frozenset[str],
    kind: str = "text",
) -> None:
    """Content that is a string, or a list of typed blocks of which some carry 'text'."""
    if isinstance(blocks, str):
        add_part(parts, index, role, kind, blocks, path)
        return
    if blocks is None:
        return
    if not isinstance(blocks, list):
        raise RequestError(f"'{dotted(path)}' must be a string or an array")
    for j, block in enumerate(blocks):
        if not isinstance(block, dict):
            raise RequestError(f"'{dotted(path)}.{j}' must be an object")
        if get_str(block, "type") in text_types:
            add_part(parts, index, role, kind, block.get("text"), (*path, j, "text"))


def tool_names(tools: list[Any], name_of: Callable[[dict[str, Any]], Any], where: str) -> list[str]:
    """Names of offered tools; every tool must be an object."""
    names: list[str] = []
    for i, tool in enumerate(tools):
        if not isinstance(tool, dict):
            raise RequestError(f"'{where}.{i}' must be an object")
        name = name_of(tool)
        if isinstance(name, str) and name:
            names.append(name)
    return names


# --- rewrites ---


def filter_named(items: list[Any], removed: frozenset[str], name_of: Callable[[Any], Any]) -> list[Any]:
    """items without those whose name is in removed."""
    kept = []
    for item in items:
        name = name_of(item) if isinstance(item, dict) else None
        if not (isinstance(name, str) and name in removed):
            kept.append(item)
    return kept


def cap_tokens(obj: dict[str, Any], keys: Iterable[str], default_key: str, cap: int) -> bool:
    """Lower every present token limit above cap; set default_key when none is present.

    A smaller client value is kept: the cap is a ceiling, never a floor.
    """
    changed = False
    present = False
    for key in keys:
        value = obj.get(key)
        if value is None:
            continue
        present = True
        if not is_int(value) or value > cap:
            obj[key] = cap
            changed = True
    if not present:
        obj[default_key] = cap
        changed = True
    return changed


def set_model(body: dict[str, Any], model: str | None) -> bool:
    if model is None or body.get("model") == model:
        return False
    body["model"] = model
    return True


# --- responses ---


def as_int(value: Any) -> int | None:
    return value if is_int(value) else None


def get_dict(obj: Any, key: str) -> dict[str, Any]:
    """obj[key] when both are objects, else an empty dict: response parsing never raises on odd shapes."""
    if isinstance(obj, dict):
        value = obj.get(key)
        if isinstance(value, dict):
            return value
    return {}


def get_list(obj: Any, key: str) -> list[Any]:
    if isinstance(obj, dict):
        value = obj.get(key)
        if isinstance(value, list):
            return value
    return []


def get_str(obj: Any, key: str) -> str | None:
    if isinstance(obj, dict):
        value = obj.get(key)
        if isinstance(value, str):
            return value
    return None


def load_event(data: str) -> dict[str, Any] | None:
    """An SSE data payload as a JSON object, or None for anything else (keep-alives, [DONE], junk)."""
    if not data or data[0] != "{":
        return None
    try:
        value = orjson.loads(data)
    except orjson.JSONDecodeError:
        return None
    return value if isinstance(value, dict) else None


def event_json(event: SSEEvent) -> dict[str, Any] | None:
    """load_event(event.data), parsed once per event and kept on it. Callers must not mutate it."""
    if not event.parsed_done:
        event.parsed = load_event(event.data)
        event.parsed_done = True
    return event.parsed


def error_message(error: Any) -> str | None:
    """The message of a provider error object (or a bare string), for LLMResponse.error."""
    if isinstance(error, str):
        return error or None
    if isinstance(error, dict):
        message = error.get("message")
        if isinstance(message, str) and message:
            return message
        for key in ("type", "code", "status"):
            value = error.get(key)
            if isinstance(value, str) and value:
                return value
        return "error"
    return None


def stream_tool(response: LLMResponse, key: Any) -> ToolCall | None:
    """The streamed tool call that fragments under key (a block index, an item id, ...) belong to."""
    position: int | None = response.stream_state.get(key)
    return None if position is None else response.tool_calls[position]


def start_stream_tool(response: LLMResponse, keys: Iterable[Any], call: ToolCall) -> ToolCall:
    """Append a streamed tool call and remember where it is under each key its fragments may use."""
    response.tool_calls.append(call)
    position = len(response.tool_calls) - 1
    for key in keys:
        response.stream_state[key] = position
    return call


# --- error bodies ---


def status_lookup(table: dict[int, str], status: int, client_default: str, server_default: str) -> str:
    """The provider's error type for an HTTP status."""
    found = table.get(status)
    if found is not None:
        return found
    return server_default if status >= 500 else client_default


def dumps(value: Any) -> bytes:
    return orjson.dumps(value)


def sse_event(payload: Any, event: str | None = None) -> bytes:
    """One SSE event carrying payload as JSON (a data line never holds a raw newline: orjson escapes it)."""
    head = b"event: " + event.encode() + b"\n" if event else b""
    return head + b"data: " + orjson.dumps(payload) + b"\n\n"


# --- streamed text: reading the text deltas of an event and writing them back ---

OBJECT_KIND = "tool_call_arguments_object"  # the slot holds a JSON object, exposed as its JSON text


@dataclass(slots=True)
class Slot:
    """Where one text delta sits in a parsed event: container[key]. Each adapter lists an event's slots in
    one function, which both stream_texts and rewrite_stream_event use, so the two always agree."""

    container: Any  # the dict (or list) holding the text
    key: Any
    channel: str
    kind: str
    on_change: Callable[[], None] | None = None  # run when the text is rewritten (drops stale logprobs)

    def text(self) -> str:
        value = self.container[self.key]
        return json_text(value) if self.kind == OBJECT_KIND else value


SlotFinder = Callable[[dict[str, Any]], list[Slot]]


def str_slot(
    obj: Any, key: str, channel: str, kind: str, slots: list[Slot], on_change: Callable[[], None] | None = None
) -> None:
    """Add obj[key] as a slot when it is a string (null and absent fields carry no text)."""
    if isinstance(obj, dict) and isinstance(obj.get(key), str):
        slots.append(Slot(obj, key, channel, kind, on_change))


def index_of(obj: dict[str, Any], key: str, default: int) -> int:
    """An index field (choice.index, output_index, ...) or default when it is absent or not an integer."""
    value = obj.get(key)
    return value if is_int(value) else default


def encode_sse(event: SSEEvent, newline: bytes = b"\n") -> bytes:
    """An event as SSE bytes, data kept verbatim: event and id lines when present, one data line per line
    of data, then the blank line that ends it."""
    out = bytearray()
    if event.event:
        out += b"event: " + event.event.encode() + newline
    if event.id is not None:
        out += b"id: " + event.id.encode() + newline
    for line in event.data.split("\n"):
        out += b"data: " + line.encode() + newline
    out += newline
    return bytes(out)


def _find(data: dict[str, Any] | None, find: SlotFinder) -> tuple[list[Slot], list[str]]:
    """The slots of a parsed event and their current texts; none for junk or a shape the finder did not
    expect (finders check types as they go; this is the backstop that keeps stream_texts from raising)."""
    if data is None:
        return [], []
    try:
        slots = find(data)
        return slots, [slot.text() for slot in slots]
    except (TypeError, KeyError, IndexError, AttributeError):
        return [], []


def slot_texts(event: SSEEvent, find: SlotFinder) -> list[StreamText]:
    slots, texts = _find(event_json(event), find)
    return [StreamText(slot.channel, slot.kind, text) for slot, text in zip(slots, texts)]


def rewrite_slots(event: SSEEvent, texts: list[str], find: SlotFinder, newline: bytes = b"\n") -> bytes:
    """event with the texts of its slots replaced, re-encoded as compact JSON on one data line; an event
    whose texts are all unchanged is re-encoded verbatim (encode_sse)."""
    if not isinstance(texts, (list, tuple)) or not all(isinstance(text, str) for text in texts):
        raise ValueError("rewrite_stream_event: texts must be a list of str")
    texts = list(texts)
    data = load_event(event.data)
    slots, originals = _find(data, find)
    if len(texts) != len(slots):
        raise ValueError(f"rewrite_stream_event: the event carries {len(slots)} texts, got {len(texts)}")
    if texts == originals:
        return encode_sse(event, newline)
    callbacks: list[Callable[[], None]] = []
    for slot, old, new in zip(slots, originals, texts):
        if new == old:
            continue
        slot.container[slot.key] = object_or_string(new) if slot.kind == OBJECT_KIND else new
        if slot.on_change is not None and all(slot.on_change is not c for c in callbacks):
            callbacks.append(slot.on_change)
    for callback in callbacks:
        callback()
    try:
        encoded = orjson.dumps(data).decode()
    except orjson.JSONEncodeError as err:  # a lone surrogate in a replacement text
        raise ValueError(f"rewrite_stream_event: a text cannot be encoded: {err}") from None
    return encode_sse(SSEEvent(encoded, event.event, event.id), newline)


def object_or_string(text: str) -> Any:
    """A rewritten JSON-object argument: the object it parses to, or the text itself when it is not one."""
    try:
        value = orjson.loads(text)
    except orjson.JSONDecodeError:
        return text
    return value if isinstance(value, dict) else text
