"""Inspecting a streamed answer while it streams: scan, redact, restore pseudonyms, or cut it off.

The guard holds back only what could still turn into a finding: the trailing run of a text delta that
has the characters secrets, e-mail addresses, card numbers, URLs and pseudonym tokens are made of, or
an unclosed markdown link. Plain words are released at once, so the first token is not delayed by a
window of text. Whole SSE events are held and released in order (never split), so the client's SDK sees
the provider's own event sequence, with the text inside rewritten where a finding was.

A finding that ends inside released text cannot be taken back; the guard scans a little released
context with the held text, so such a finding is still seen and, if the policy blocks it, the stream is
cut there. Everything else about a block is the provider's own mid-stream error event.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass, field

import regex

from ..detect.base import Finding
from ..detect.scanner import Scanner
from ..providers.base import ProviderAdapter, SSEEvent, StreamText
from ..redact import Redactor, StreamRestorer, Vault

CONTEXT_CHARS = 64  # released text scanned again with the held text, to see findings that straddle
MAX_HOLD_CHARS = 4096  # a hold never grows past this: the oldest held events are released regardless
# A trailing run that may still grow into a finding: no whitespace, and a character secrets, addresses,
# numbers, URLs or tokens contain; or digits with separators (cards, phone numbers); or an open link.
_SUSPECT_TAIL = regex.compile(r"(?:\d[\d \-.()/]*|\S*[\d@_\-/:.=+<\[(%]\S*)\Z")
_OPEN_LINK = regex.compile(r"!?\[[^\]\n]{0,512}(?:\]\([^)\s]{0,2048})?\Z")
_DONE_KINDS = frozenset({"text_done", "tool_call_arguments_done"})
_TOOL_KINDS = frozenset({"tool_call_arguments", "tool_call_arguments_object", "tool_call_arguments_done"})


@dataclass(slots=True)
class Verdict:
    """What the policy said about output findings: block (with its reason), or modes to redact with."""

    blocked: bool
    reason: str = ""
    modes: dict[tuple[str, str], str] = field(default_factory=dict)


Decide = Callable[[list[Finding]], Awaitable[Verdict]]
FinalCheck = Callable[[], Awaitable[Verdict]]


@dataclass(slots=True)
class _Held:
    event: SSEEvent
    texts: list[StreamText]
    new: list[str]  # the texts as they will be emitted


@dataclass(slots=True)
class _Channel:
    released: str = ""  # the tail of what was released (for context), bounded
    emitted: list[str] = field(default_factory=list)  # every piece emitted, for "done" events
    restorer: StreamRestorer | None = None


class StreamGuard:
    def __init__(
        self,
        adapter: ProviderAdapter,
        scanner: Scanner,
        decide: Decide,
        redactor: Redactor,
        vault: Vault,
        final_check: FinalCheck | None = None,
    ) -> None:
        """final_check: asked once the stream is whole; with it, tool calls are held from their first
        event to the end, so a call the policy refuses (its arguments judged whole) never reaches the
        client. Text before the first tool call is released as usual."""
        self._adapter = adapter
        self._final_check = final_check
        self._scanner = scanner
        self._decide = decide
        self._redactor = redactor
        self._vault = vault
        self._held: list[_Held] = []
        self._channels: dict[str, _Channel] = {}
        self.blocked: str | None = None  # the policy's reason once the stream was cut
        self.findings: list[Finding] = []
        self.redacted = 0
        self.released_chars = 0  # how much text the client got, for the audit line after a cut

    async def feed(self, events: list[SSEEvent]) -> bytes:
        """Take the events a chunk completed; return the bytes to send the client now."""
        if self.blocked is not None:
            return b""
        for event in events:
            texts = [self._as_delta_if_first(t) for t in self._adapter.stream_texts(event)]
            self._held.append(_Held(event, texts, [t.text for t in texts]))
        return await self._release(final=False)

    async def close(self) -> bytes:
        """End of stream: scan and release everything still held."""
        if self.blocked is not None:
            return b""
        return await self._release(final=True)

    # ---- internals -----------------------------------------------------------------------------

    async def _release(self, *, final: bool) -> bytes:
        cut_events = len(self._held) if final else self._releasable()
        if cut_events == 0 and not final:
            return b""
        if not await self._inspect(cut_events):
            return self.cut()
        if final and self._final_check is not None:
            verdict = await self._final_check()
            if verdict.blocked:
                self.blocked = verdict.reason or "output blocked by policy"
                return self.cut()
        last = self._last_per_channel() if final else {}
        out = [self._emit(held, last.get(i, ())) for i, held in enumerate(self._held[:cut_events])]
        del self._held[:cut_events]
        return b"".join(out)

    def _last_per_channel(self) -> dict[int, tuple[str, ...]]:
        """held index -> channels whose last text it carries (where a restorer's remainder goes)."""
        last = {text.channel: i for i, _, text in self._deltas(len(self._held))}
        out: dict[int, tuple[str, ...]] = {}
        for channel, i in last.items():
            out[i] = out.get(i, ()) + (channel,)
        return out

    def _deltas(self, upto: int) -> Iterator[tuple[int, int, StreamText]]:
        """(held index, text index, text) of the held events [0, upto), "done" texts left out: those
        repeat a channel, they are rewritten from what was emitted, never scanned or held."""
        for i, held in enumerate(self._held[:upto]):
            for j, text in enumerate(held.texts):
                if text.kind not in _DONE_KINDS:
                    yield i, j, text

    def _as_delta_if_first(self, text: StreamText) -> StreamText:
        """A "done" text repeats a channel's deltas, except where no delta came (some servers send a
        tool call's arguments only whole): then it is new text, inspected like any other."""
        if text.kind not in _DONE_KINDS or text.channel in self._channels:
            return text
        if any(t.channel == text.channel for _, _, t in self._deltas(len(self._held))):
            return text
        return StreamText(text.channel, "text" if text.kind == "text_done" else "tool_call_arguments", text.text)

    def _releasable(self) -> int:
        """How many held events (from the oldest) can go now: all before the first event that holds
        part of a run that may still become a finding, or the first tool call when those are held."""
        cut = self._releasable_text()
        if self._final_check is not None:
            for i, held in enumerate(self._held[:cut]):
                if any(text.kind in _TOOL_KINDS for text in held.texts):
                    return i
        return cut

    def _releasable_text(self) -> int:
        joined: dict[str, str] = {}
        pieces: dict[str, list[tuple[int, int]]] = {}  # channel -> (held index, end offset)
        for i, _, text in self._deltas(len(self._held)):
            joined[text.channel] = joined.get(text.channel, "") + text.text
            pieces.setdefault(text.channel, []).append((i, len(joined[text.channel])))
        cut = len(self._held)
        if sum(map(len, joined.values())) > MAX_HOLD_CHARS:
            return cut  # bounded: past this, release (and still scan) everything
        for channel, text in joined.items():
            start = _suspect_start(text)
            if start is not None:
                cut = min(cut, next(i for i, end in pieces[channel] if end > start))
        return cut

    async def _inspect(self, upto: int) -> bool:
        """Scan the texts of held events [0, upto) with released context; redact or block. False: blocked."""
        by_channel: dict[str, list[tuple[int, int, int, int]]] = {}  # channel -> (held i, text j, start, end)
        texts: dict[str, list[str]] = {}
        lengths: dict[str, int] = {}
        for i, j, text in self._deltas(upto):
            new = self._held[i].new[j]
            start = lengths.get(text.channel, 0)
            lengths[text.channel] = start + len(new)
            texts.setdefault(text.channel, []).append(new)
            by_channel.setdefault(text.channel, []).append((i, j, start, start + len(new)))
        for channel, parts in texts.items():
            state = self._channels.setdefault(channel, _Channel())
            context = state.released[-CONTEXT_CHARS:]
            joined = "".join(parts)
            if not joined:
                continue
            found = [f for f in self._scanner.scan_text(context + joined, "output") if f.end > len(context)]
            if not found:
                continue
            self.findings.extend(found)
            verdict = await self._decide(found)
            if verdict.blocked:
                self.blocked = verdict.reason or "output blocked by policy"
                return False
            spans = [
                (max(f.start - len(context), 0), f.end - len(context), f.type, verdict.modes[(f.detector, f.type)])
                for f in found
                if f.redactable and (f.detector, f.type) in verdict.modes
            ]
            if spans:
                self._rewrite(by_channel[channel], joined, spans)
        return True

    def _rewrite(self, pieces: list[tuple[int, int, int, int]], joined: str, spans: list[tuple[int, int, str, str]]) -> None:
        """Redact spans of a channel's joined text and put the result back into the events' texts: a
        replacement goes where its span starts, the rest of a span that crossed events becomes empty."""
        new = list(joined)
        for start, end, kind, mode in sorted(spans, reverse=True):
            replacement = self._redactor.replacement(mode, kind, joined[start:end], self._vault)
            new[start:end] = [replacement] + [""] * (end - start - 1)
            self.redacted += 1
        for i, j, start, end in pieces:
            self._held[i].new[j] = "".join(new[start:end])

    def _emit(self, held: _Held, flush: tuple[str, ...] = ()) -> bytes:
        if not held.texts:
            return self._adapter.encode_event(held.event)
        out: list[str] = []
        for text, new in zip(held.texts, held.new):
            state = self._channels.setdefault(text.channel, _Channel())
            if text.kind in _DONE_KINDS:  # repeats the whole channel: what the client was actually sent
                out.append("".join(state.emitted))
                continue
            if state.restorer is None:
                state.restorer = StreamRestorer(self._vault)
            visible = state.restorer.feed(new)
            if text.channel in flush:
                visible += state.restorer.flush()
            state.emitted.append(visible)
            state.released = (state.released + new)[-CONTEXT_CHARS:]
            self.released_chars += len(visible)
            out.append(visible)
        if out == [t.text for t in held.texts]:
            return self._adapter.encode_event(held.event)
        return self._adapter.rewrite_stream_event(held.event, out)

    def cut(self) -> bytes:
        """End the stream here: drop what is held, send the provider's own mid-stream error event."""
        self._held.clear()
        reason = self.blocked or "output blocked by policy"
        message = reason if reason.startswith("output blocked") else f"output blocked: {reason}"
        return self._adapter.stream_error_event(403, message, "policy_denied")


def _suspect_start(text: str) -> int | None:
    """Where the trailing run that may still grow into a finding starts, or None."""
    offset = max(len(text) - 2048, 0)  # runs are short; bound the search whatever the hold holds
    tail = text[offset:]
    starts = [m.start() for m in (_SUSPECT_TAIL.search(tail), _OPEN_LINK.search(tail)) if m is not None and m.group(0)]
    return offset + min(starts) if starts else None
