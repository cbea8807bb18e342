"""SSE framing: turning event objects into the bytes a provider stream is made of.

Benchmarks stream thousands of content events per second through the fake, so the per-piece
events are built by splicing each piece into one pre-serialised template (``fill``) instead of
serialising a whole event per piece.
"""

from __future__ import annotations

from typing import Any

import orjson

Events = tuple[list[bytes], list[bytes], list[bytes]]
"""A rendered stream: (head events, content events, tail events); only content events are delayed."""

HOLE = "\x00"
"""Placeholder for the piece in a ``fill`` template."""

_HOLE_JSON = orjson.dumps(HOLE)


def sse_data(obj: Any) -> bytes:
    """A ``data:``-only event (OpenAI chat completions)."""
    return b"data: " + orjson.dumps(obj) + b"\n\n"


def sse_event(name: str, obj: Any) -> bytes:
    """A named event (Responses API, Anthropic)."""
    return b"event: " + name.encode() + b"\ndata: " + orjson.dumps(obj) + b"\n\n"


def _put(obj: Any, piece: str) -> Any:
    if isinstance(obj, dict):
        return {k: _put(v, piece) for k, v in obj.items()}
    if isinstance(obj, list):
        return [_put(v, piece) for v in obj]
    return piece if obj is HOLE else obj


def fill(obj: Any, pieces: list[str], prefix: bytes = b"data: ", suffix: bytes = b"\n\n") -> list[bytes]:
    """Serialise obj once with a placeholder string and splice each piece in (hot path of streams)."""
    parts = orjson.dumps(obj).split(_HOLE_JSON)
    if len(parts) != 2:  # a NUL in user-controlled text (e.g. the model name): do it the slow way
        return [prefix + orjson.dumps(_put(obj, p)) + suffix for p in pieces]
    pre, post = parts
    pre = prefix + pre
    post = post + suffix
    return [pre + orjson.dumps(p) + post for p in pieces]
