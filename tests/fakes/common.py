"""The provider-neutral core of the fake: knobs, the conversation, the answer and its usage.

Every provider module reads its request into a ``Conversation`` and renders an ``Answer``; the
answer and its token counts are computed here once, so the four wire formats cannot drift apart
(the gateway's usage accounting is tested against these exact formulas).
"""

from __future__ import annotations

import itertools
import secrets
from dataclasses import dataclass, field
from typing import Any, Callable, Iterable

import orjson

DEFAULT_CHUNKS = 5
ECHO_PREFIX = "echo: "
ECHO_LIMIT = 200
PROMPT_OVERHEAD = 3
TOOL_TRIGGER = "CALL_TOOL"

_FILLER_UNIT = (
    " lorem ipsum dolor sit amet consectetur adipiscing elit sed do eiusmod tempor incididunt ut"
    " labore et dolore magna aliqua ut enim ad minim veniam quis nostrud exercitation ullamco"
)
_FILLER = _FILLER_UNIT * (65536 // len(_FILLER_UNIT) + 1)


def words(text: str) -> int:
    """The fake's token count of a text: its number of whitespace-separated words."""
    return len(text.split())


def filler(n: int) -> str:
    """n characters of filler words (pads answers for the body-size knobs)."""
    if n <= 0:
        return ""
    if n <= len(_FILLER):
        return _FILLER[:n]
    return (_FILLER * (n // len(_FILLER) + 1))[:n]


def split(text: str, n: int) -> list[str]:
    """Split text into n near-equal pieces by characters (fewer if text is shorter)."""
    n = max(1, min(n, len(text)))
    q, r = divmod(len(text), n)
    out = []
    i = 0
    for k in range(n):
        j = i + q + (1 if k < r else 0)
        out.append(text[i:j])
        i = j
    return out


_id_prefix = secrets.token_hex(4)
_id_counter = itertools.count(1)


def new_id(kind: str) -> str:
    """A unique id with the provider's prefix (unique across fakes in one process)."""
    return f"{kind}{_id_prefix}{next(_id_counter):012x}"


def to_int(value: str | None, default: int) -> int:
    """Lenient integer parsing for knob headers and body fields ("1.5" -> 1; junk -> default)."""
    if value is None or value == "":
        return default
    try:
        return int(float(value))
    except ValueError:
        return default


# ---- recorded requests and knobs -----------------------------------------------------------


@dataclass
class RecordedRequest:
    """One request as the fake saw it and answered it (tests assert on what ztgate forwarded)."""

    method: str
    path: str  # with the query string
    headers: dict[str, str]  # lower-case names; repeated headers joined with ", "
    body: bytes
    json: Any  # parsed body, or None
    provider: str | None = None  # "openai" | "azure_openai" | "anthropic" | "gemini" | None
    status: int | None = None  # status the fake answered
    answer: str | None = None  # answer text the fake produced ("" for a tool call)
    tool_call: dict[str, Any] | None = None  # {"name", "arguments"} when it answered a tool call
    usage: dict[str, int] | None = None  # {"input_tokens", "output_tokens", "cache_read_input_tokens"}

    @property
    def query(self) -> str:
        return self.path.partition("?")[2]


@dataclass
class Knobs:
    """The x-fake-* request headers (or server-wide defaults) that shape one answer."""

    chunks: int = DEFAULT_CHUNKS
    body_bytes: int = 0
    status: int = 0
    gzip: bool = False
    delay_ms: float = 0.0
    chunk_delay_ms: float = 0.0
    answer: str | None = None
    tool_args: str | None = None
    cache_read: int = 0

    @classmethod
    def parse(cls, get: Callable[[str], str | None]) -> Knobs:
        """Knobs from a header lookup (``get(name)`` already falls back to the defaults)."""
        return cls(
            chunks=max(1, to_int(get("x-fake-chunks"), DEFAULT_CHUNKS)),
            body_bytes=max(0, to_int(get("x-fake-body-bytes"), 0)),
            status=to_int(get("x-fake-status"), 0),
            gzip=(get("x-fake-gzip") or "").strip().lower() in ("1", "true", "yes", "on"),
            delay_ms=float(to_int(get("x-fake-delay-ms"), 0)),
            chunk_delay_ms=float(to_int(get("x-fake-chunk-delay-ms"), 0)),
            answer=get("x-fake-answer"),
            tool_args=get("x-fake-tool-args"),
            cache_read=max(0, to_int(get("x-fake-cache-read"), 0)),
        )


# ---- the conversation, in neutral form -----------------------------------------------------


@dataclass
class Conversation:
    """What the fake needs from a provider request, in neutral form."""

    texts: list[str]  # every text string (for input_tokens)
    last_text: str  # text of the last user-side message (echoed)
    trigger_text: str  # own text of that message if it is a user message (for CALL_TOOL)
    tool: tuple[str, Any] | None  # (name, JSON schema) of the first offered function tool


Turn = tuple[list[str], list[str], bool]
"""One message as (all its texts incl. tool results, its own text parts, is it user-side)."""


def fold(turns: Iterable[Turn], tool: tuple[str, Any] | None) -> Conversation:
    """The shared shape of every provider's reader: count all texts, echo the last user-side turn.

    A user-side turn that is a tool result has no own text, so it never triggers a tool call.
    """
    texts: list[str] = []
    last = trigger = ""
    for all_texts, own, user_side in turns:
        texts.extend(all_texts)
        if user_side:
            last, trigger = "\n".join(all_texts), "\n".join(own)
    return Conversation(texts, last, trigger, tool)


def part_texts(content: Any) -> list[str]:
    """Text strings of OpenAI-style content: a string or a list of parts with "text"."""
    if isinstance(content, str):
        return [content]
    out: list[str] = []
    if isinstance(content, list):
        for p in content:
            if isinstance(p, dict):
                t = p.get("text")
                if isinstance(t, str):
                    out.append(t)
            elif isinstance(p, str):
                out.append(p)
    return out


def input_tokens(conv: Conversation) -> int:
    """The usage formula for prompts: words of every text, plus a fixed overhead."""
    return sum(words(t) for t in conv.texts) + PROMPT_OVERHEAD


# ---- the answer ----------------------------------------------------------------------------


@dataclass
class Answer:
    """The neutral answer (text or one tool call) and its usage, before any wire format."""

    model: str
    input_tokens: int
    text: str = ""
    tool_name: str | None = None
    tool_args: str | None = None
    tool_id: str = ""
    output_tokens: int = 0
    cached_tokens: int = 0
    pieces: list[str] = field(default_factory=list)

    @property
    def is_tool(self) -> bool:
        return self.tool_name is not None

    def tool_input(self) -> Any:
        try:
            return orjson.loads(self.tool_args or "{}")
        except orjson.JSONDecodeError:
            return {}

    def pad(self, n: int) -> None:
        self.text += filler(n)
        self.output_tokens = words(self.text)


def _sample_for_schema(schema: Any, depth: int = 0) -> Any:
    if not isinstance(schema, dict) or depth > 6:
        return None
    enum = schema.get("enum")
    if isinstance(enum, list) and enum:
        return enum[0]
    if "const" in schema:
        return schema["const"]
    typ = schema.get("type")
    if isinstance(typ, list):
        typ = next((t for t in typ if t != "null"), None)
    if isinstance(typ, str):
        typ = typ.lower()
    if typ is None:
        if "properties" in schema:
            typ = "object"
        else:
            for key in ("anyOf", "oneOf", "any_of", "allOf"):
                alts = schema.get(key)
                if isinstance(alts, list) and alts:
                    return _sample_for_schema(alts[0], depth + 1)
            return None
    if typ == "object":
        props = schema.get("properties") or {}
        return {k: _sample_for_schema(v, depth + 1) for k, v in props.items()} if isinstance(props, dict) else {}
    if typ == "array":
        return []
    if typ == "string":
        return "fake"
    if typ in ("integer", "number"):
        return 1
    if typ == "boolean":
        return True
    return None


def tool_arguments(schema: Any) -> str:
    """Arguments that satisfy a tool's JSON schema, so SDKs that validate them accept the call."""
    args = _sample_for_schema(schema)
    if not isinstance(args, dict):
        args = {}
    return orjson.dumps(args).decode()


def plan(conv: Conversation, model: str, knobs: Knobs, *, stream: bool) -> Answer:
    """Decide the answer (echo or tool call), its usage and, for a stream, its pieces."""
    ans = Answer(model=model, input_tokens=input_tokens(conv), cached_tokens=knobs.cache_read)
    if conv.tool is not None and TOOL_TRIGGER in conv.trigger_text:
        name, schema = conv.tool
        ans.tool_name = name
        ans.tool_args = knobs.tool_args if knobs.tool_args is not None else tool_arguments(schema)
        ans.output_tokens = words(f"{name} {ans.tool_args}")
        if stream:
            ans.pieces = split(ans.tool_args, knobs.chunks) if ans.tool_args else []
        return ans
    text = knobs.answer if knobs.answer is not None else ECHO_PREFIX + conv.last_text[:ECHO_LIMIT]
    if stream:
        if knobs.body_bytes > len(text):
            text += filler(knobs.body_bytes - len(text))
        if len(text) < knobs.chunks:
            text += filler(knobs.chunks - len(text))
        ans.pieces = split(text, knobs.chunks)
    ans.text = text
    ans.output_tokens = words(text)
    return ans
