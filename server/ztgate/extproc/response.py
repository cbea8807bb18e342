"""Reading a provider's answer as Envoy streams it: gzip or not, JSON or SSE, into an LLMResponse.

Envoy does not send response header attributes while response headers are skipped, and asking for the
headers would cost a round trip per exchange, so the body's first bytes decide: gzip magic, then `{`/`[`
(JSON) or anything else (SSE).
"""

from __future__ import annotations

import zlib
from collections.abc import Callable

import orjson

from ..providers.base import LLMResponse, ProviderAdapter, SSEEvent
from ..providers.sse import SSEDecoder

MAX_RESPONSE_BYTES = 64 * 1024 * 1024  # past this, an answer is passed on but no longer parsed


class ResponseReader:
    """One answer's reader. `feed` raises on a malformed body; the exchange decides what that means."""

    def __init__(self, adapter: ProviderAdapter, response: LLMResponse, hold_json: Callable[[], bool]) -> None:
        self.adapter = adapter
        self.response = response
        self._hold_json = hold_json  # asked once, when the answer turns out to be JSON
        self.holding: bool | None = None  # unknown until the first bytes; True: the JSON is held whole
        self.raw: list[bytes] = []  # the answer as received, kept while it may be held
        self.done = False
        self.too_large = False
        self._head = b""
        self._encoding_known = False
        self._gunzip: zlib._Decompress | None = None
        self._format_known = False
        self._sse: SSEDecoder | None = None
        self._json: list[bytes] | None = None
        self._json_size = 0

    @property
    def streaming(self) -> bool:
        """An SSE answer, not compressed: one the stream guard can rewrite event by event."""
        return self._sse is not None and self._gunzip is None

    def feed(self, chunk: bytes, end_of_stream: bool) -> list[SSEEvent]:
        """Read one chunk; for a stream, return the events it completed (to inspect them)."""
        events: list[SSEEvent] = []
        if self.holding is not False:
            self.raw.append(chunk)
        data = self._decode(chunk)
        if end_of_stream and not self._encoding_known:  # a one-byte body
            data, self._encoding_known = self._head, True
        if not self._format_known:
            self._choose(data)
        if self._sse is not None:
            events = self._sse.feed(data) if data else []
            if end_of_stream:
                events += self._sse.close()
            for event in events:
                self.adapter.parse_stream_event(event, self.response)
        elif self._json is not None and data:
            self._json_size += len(data)
            if self._json_size > MAX_RESPONSE_BYTES:
                self._json = None
                self.too_large = True
            else:
                self._json.append(data)
        if end_of_stream:
            self.done = True
            if self._json is not None:
                body = b"".join(self._json)
                parsed = orjson.loads(body) if body else None
                if isinstance(parsed, (dict, list)):  # Gemini streams a JSON array without alt=sse
                    self.adapter.parse_response(parsed, self.response)
        return events

    def stop(self) -> None:
        """Stop parsing (after an error); the bytes keep flowing to the client untouched."""
        self._sse = None
        self._json = None
        self.holding = False

    def _decode(self, chunk: bytes) -> bytes:
        """Undo gzip if the upstream used it despite accept-encoding: identity (its magic says so)."""
        if not self._encoding_known:
            chunk = self._head + chunk
            if len(chunk) < 2:  # the magic may straddle chunks
                self._head = chunk
                return b""
            self._encoding_known = True
            if chunk[:2] == b"\x1f\x8b":
                self._gunzip = zlib.decompressobj(16 + zlib.MAX_WBITS)
        if self._gunzip is not None and chunk:
            return self._gunzip.decompress(chunk, MAX_RESPONSE_BYTES)
        return chunk

    def _choose(self, data: bytes) -> None:
        if not data.strip():
            return
        self._format_known = True
        if data.lstrip()[:1] in (b"{", b"["):
            self._json = []
            # A gzip answer (the upstream ignored accept-encoding) is never rewritten: passed as it came.
            self.holding = self._gunzip is None and self._hold_json()
        else:
            self._sse = SSEDecoder()
            self.holding = False
        if not self.holding:
            self.raw = []
