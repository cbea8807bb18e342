"""What an exchange phase answers, independent of protobuf; the servicer translates these to Envoy's API."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(slots=True)
class Continue:
    """Let the message through, optionally mutated."""

    set_headers: dict[str, str] = field(default_factory=dict)
    remove_headers: list[str] = field(default_factory=list)
    body: bytes | None = None  # replaces the buffered body / this chunk when not None
    metadata: dict[str, Any] | None = None  # dynamic metadata in the `ztgate` namespace
    clear_route_cache: bool = False


@dataclass(slots=True)
class Reject:
    """Answer the client now (Envoy's ImmediateResponse); nothing goes upstream."""

    status: int
    body: bytes
    headers: dict[str, str] = field(default_factory=dict)
    metadata: dict[str, Any] | None = None
    details: str = "ztgate"  # Envoy's response code details, visible in its access log


# A reused, allocation-free answer for the common case of a streamed chunk passing untouched.
PASS = Continue()

Action = Continue | Reject
