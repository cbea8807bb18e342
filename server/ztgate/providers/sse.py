"""An incremental server-sent-events decoder for streamed LLM responses.

Envoy hands ztgate a streamed response body in chunks cut anywhere: inside a line, inside a multi-byte
UTF-8 character, between the \\r and \\n of a line ending. SSEDecoder keeps the incomplete tail and
returns each event once its terminating blank line has arrived, following the WHATWG event-stream
rules (https://html.spec.whatwg.org/multipage/server-sent-events.html#event-stream-interpretation).

It runs on every response chunk, so it does one split and one UTF-8 decode per chunk and never rescans
bytes it has already seen. Its memory is bounded: one event larger than max_event_bytes raises
SSEEventTooLarge, so a hostile or broken upstream cannot make ztgate buffer without limit.
"""

from __future__ import annotations

from .base import SSEEvent

DEFAULT_MAX_EVENT_BYTES = 8 * 1024 * 1024
_BOM = "\ufeff"


class SSEEventTooLarge(ValueError):
    """One event (or one unterminated line) grew past the decoder's limit."""


class SSEDecoder:
    """Turns chunks of an event stream into SSEEvents; one decoder per response stream."""

    __slots__ = ("_tail", "_skip_lf", "_data", "_event", "_last_id", "_size", "_max", "_started")

    def __init__(self, max_event_bytes: int = DEFAULT_MAX_EVENT_BYTES) -> None:
        self._tail = bytearray()  # bytes after the last line ending seen; never contains \r or \n
        self._skip_lf = False  # the previous chunk ended in \r: a \n opening the next chunk belongs to it
        self._data: list[str] = []  # data lines of the event being built
        self._event: str | None = None
        self._last_id: str | None = None  # per the spec, the last event ID persists across events
        self._size = 0  # characters stored for the event being built
        self._max = max_event_bytes
        self._started = False  # the first line (which may carry a BOM) has been seen

    def feed(self, chunk: bytes) -> list[SSEEvent]:
        """Decode one chunk; return the events it completed (often none, sometimes several)."""
        if not chunk:
            return []
        if self._skip_lf:
            self._skip_lf = False
            if chunk[0] == 0x0A:
                chunk = chunk[1:]
                if not chunk:
                    return []
        has_cr = b"\r" in chunk
        if not has_cr and b"\n" not in chunk:
            # Mid-line: append in place (amortised), so a long line costs linear time, not quadratic.
            self._tail += chunk
            self._check()
            return []
        data = bytes(self._tail) + chunk if self._tail else bytes(chunk)
        if has_cr:
            # A trailing \r ends its line now; remember to drop the \n of a \r\n split across chunks.
            self._skip_lf = data[-1] == 0x0D
            data = data.replace(b"\r\n", b"\n").replace(b"\r", b"\n")
        cut = data.rfind(b"\n")
        self._tail = bytearray(data[cut + 1 :])
        self._check()
        # Line endings are ASCII and never occur inside a UTF-8 sequence, so complete lines decode cleanly.
        events: list[SSEEvent] = []
        self._lines(data[:cut].decode("utf-8", "replace").split("\n"), events)
        return events

    def close(self) -> list[SSEEvent]:
        """End of stream: return a final event the upstream did not terminate with a blank line.

        The spec discards such an event; ztgate dispatches it instead, because lenient clients may still
        show that text and ztgate must not let it pass uninspected.
        """
        events: list[SSEEvent] = []
        if self._tail:
            tail, self._tail = self._tail, bytearray()
            self._lines([tail.decode("utf-8", "replace")], events)
        self._skip_lf = False
        self._dispatch(events)
        return events

    def _check(self) -> None:
        if self._size + len(self._tail) > self._max:
            self._tail = bytearray()
            self._data = []
            self._size = 0
            raise SSEEventTooLarge(f"server-sent event larger than {self._max} bytes")

    def _lines(self, lines: list[str], events: list[SSEEvent]) -> None:
        if not self._started and lines:
            self._started = True
            if lines[0].startswith(_BOM):
                lines[0] = lines[0][1:]
        for line in lines:
            if not line:
                if self._data:
                    self._dispatch(events)
                else:
                    self._event = None
                continue
            if line[0] == ":":
                continue  # comment (keep-alive)
            name, colon, value = line.partition(":")
            if colon and value[:1] == " ":
                value = value[1:]
            if name == "data":
                self._size += len(value) + 1
                self._check()
                self._data.append(value)
            elif name == "event":
                self._event = value
            elif name == "id":
                if "\0" not in value:
                    self._last_id = value
            # "retry" and unknown fields are ignored, as the spec says.

    def _dispatch(self, events: list[SSEEvent]) -> None:
        if self._data:
            events.append(SSEEvent(data="\n".join(self._data), event=self._event or None, id=self._last_id))
        self._data = []
        self._event = None
        self._size = 0
