"""The provider's answer inside one exchange: read as it streams, inspected, rewritten, accounted.

The Exchange owns the request side and hands every response chunk here. A JSON answer that may need
rewriting (output to inspect, pseudonyms to restore, tool calls to judge) is held whole; a stream
goes through the StreamGuard, which releases safe text at once and holds only what could still
become a finding (or a tool call, judged whole when the stream ends).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from ..detect.base import Finding
from ..detect.scanner import finding_dict
from ..policy.input import tool_call
from ..providers.base import SSEEvent
from ..redact import redact_answer, redaction_modes, restore_bytes
from .actions import PASS, Action, Continue
from .gateway import PolicyFailure
from .response import ResponseReader
from .stream_guard import StreamGuard, Verdict
from ..usage.estimate import estimate_tokens

if TYPE_CHECKING:
    from .exchange import Exchange

log = logging.getLogger("ztgate.exchange")


class Answer:
    def __init__(self, ex: "Exchange") -> None:
        self.ex = ex
        self._response_started = False
        self._reader: ResponseReader | None = None
        self._guard: StreamGuard | None = None
        self._upstream_marked = False
        self._cut = False  # the stream was ended early (over budget): later chunks are dropped
        self._text_seen = 0  # how many of the response's text pieces were counted
        self._output_chars = 0

    def close(self) -> None:
        """Drop the references that make cycles (the reader and the guard hold this object's bound
        methods, and this object holds the exchange), so an exchange is freed by reference counting
        when it ends instead of waiting for the cyclic GC, whose full collections stall the loop."""
        self._reader = None
        self._guard = None
        self.ex = None  # type: ignore[assignment]

    @property
    def done(self) -> bool:
        """The provider's answer arrived whole."""
        return self._reader is not None and self._reader.done

    async def on_body(self, chunk: bytes, end_of_stream: bool) -> Action:
        if not self._response_started:
            self._start_response()
        reader = self._reader
        if reader is None:
            return Continue(metadata=self._usage_metadata()) if end_of_stream else PASS
        if self._cut:
            return Continue(body=b"", metadata=self._usage_metadata() if end_of_stream else None)
        try:
            events = reader.feed(chunk, end_of_stream)
            if reader.streaming and self._over_budget():
                return self._cut_over_budget(end_of_stream)
            if self._guard is None and reader.streaming and self._rewrites_output():
                final_check = self._tool_call_verdict if self.ex.llm is not None and self.ex.llm.tools else None
                self._guard = StreamGuard(
                    self.ex.adapter, self.ex.policy.scanner, self._output_verdict, self.ex.gateway.redactor, self.ex.vault, final_check
                )
            if self._guard is not None:
                scan_started = time.perf_counter()
                guarded = await self._guarded(events, end_of_stream)
                self.ex.clock.scanned(scan_started)
                if end_of_stream:
                    self._upstream_done()
                return guarded
        except Exception as exc:  # a malformed upstream body must never break the client's stream
            log.warning("response parsing failed: %s", exc)
            self.ex.error = ("response_parse", str(exc)[:200])
            if self._guard is not None and self._guard.blocked is None:
                # Inspected output that cannot be inspected any more is cut off (fail closed).
                self._guard.blocked = "output inspection failed"
                return Continue(body=self._guard.cut())
            held = reader.holding
            reader.stop()
            if held:  # release what was held, unchanged: the client gets the provider's bytes
                return Continue(body=b"".join(reader.raw))
        if reader.too_large and self.ex.error is None:
            self.ex.error = ("response_too_large", "response body too large to account")
        if reader.holding and not end_of_stream:
            return Continue(body=b"")  # held until the whole answer can be inspected
        if end_of_stream:
            self._upstream_done()
            scan_started = time.perf_counter()
            body = await self._finish_output() if reader.holding else None
            self.ex.clock.scanned(scan_started)
            return Continue(body=body, metadata=self._usage_metadata())
        return PASS

    def _over_budget(self) -> bool:
        """With the policy's budget cutoff on, has the streamed output passed what was reserved for it?

        Counted cheaply (characters / 4) on each chunk; the tokenizer confirms only past that mark.
        """
        ex = self.ex
        if ex.admission is None or ex.decision is None or not ex.decision.budget_cutoff:
            return False
        texts = ex.response.text
        for piece in texts[self._text_seen :]:
            self._output_chars += len(piece)
        self._text_seen = len(texts)
        allowance = ex.admission.output_reserve
        if self._output_chars < allowance * 4:
            return False
        model, provider = (ex.llm.model, ex.llm.provider) if ex.llm is not None else (None, None)
        return estimate_tokens(ex.response.output_text, model, provider) > allowance

    def _cut_over_budget(self, end_of_stream: bool) -> Continue:
        """End the stream with the provider's own error event; what was held is dropped."""
        assert self.ex.adapter is not None and self.ex.admission is not None
        self._cut = True
        self._upstream_done()
        message = f"output stopped: the answer passed the {self.ex.admission.output_reserve} output tokens its budget allowed"
        self.ex.error = ("budget_exceeded", message)
        body = self.ex.adapter.stream_error_event(429, message, "rate_limit_exceeded")
        return Continue(body=body, metadata=self._usage_metadata() if end_of_stream else None)

    def _upstream_done(self) -> None:
        """The provider's answer has ended: its time is the upstream phase."""
        if self.ex.upstream_started is not None and not self._upstream_marked:
            self._upstream_marked = True
            self.ex.clock.mark("upstream", self.ex.upstream_started)

    async def _guarded(self, events: list[SSEEvent], end_of_stream: bool) -> Continue:
        """A stream under inspection: what the guard releases replaces what arrived."""
        guard = self._guard
        assert guard is not None
        out = await guard.feed(events)
        if end_of_stream:
            out += await guard.close()
        if guard.blocked is not None and self.ex.error is None:
            self.ex.error = ("output_blocked", f"{guard.blocked} (cut after {guard.released_chars} characters)")
        self.ex.output_findings = count_findings(guard.findings)
        self.ex.output_redacted = guard.redacted
        metadata = self._usage_metadata() if end_of_stream else None
        return Continue(body=out, metadata=metadata)

    async def _tool_call_verdict(self) -> Verdict:
        """Ask the policy about the tool calls the model made (their arguments whole), phase "response"."""
        # The client gets the arguments with pseudonyms restored: the policy judges those, real values.
        calls = [
            tool_call(call.name, restore_bytes(call.arguments.encode(), self.ex.vault).decode(), "response", call.id)
            for call in self.ex.response.tool_calls
        ]
        if not calls:
            return Verdict(blocked=False)
        return await self._output_verdict([], calls)

    async def _output_verdict(self, findings: list[Finding], tool_calls: list[dict[str, Any]] | None = None) -> Verdict:
        """Ask the policy about the answer (phase "response"); a failing policy blocks (fail closed)."""
        started = time.perf_counter()
        try:
            evaluation = await self.ex.gateway.decide(
                self.ex.policy,
                self.ex.policy_http(),
                self.ex.identity,
                self.ex.llm,
                findings=[finding_dict(f) for f in findings],
                tool_calls=tool_calls,
                phase="response",
            )
        except PolicyFailure as exc:
            return Verdict(blocked=True, reason=f"output policy failed: {exc}")
        finally:
            self.ex.clock.mark("response_policy", started)
        decision = evaluation.decision
        self.ex.output_shadow.extend(r for r in decision.shadow_reasons if r not in self.ex.output_shadow)
        return Verdict(blocked=not decision.allowed, reason=decision.message, modes=redaction_modes(decision.redactions))

    async def _finish_output(self) -> bytes:
        """The held JSON answer, inspected and rewritten: output findings redacted as the policy says
        (before pseudonyms come back, so the user's own values are not flagged), then restored."""
        assert self._reader is not None
        text = b"".join(self._reader.raw).decode("utf-8", "replace")
        scanner = self.ex.policy.scanner
        output = self.ex.response.output_text + "".join(call.arguments for call in self.ex.response.tool_calls)
        if scanner is not None and self.ex.gateway.settings.inspect.scan_output and output:
            findings = scanner.scan_text(output, "output")
            if findings:
                self.ex.output_findings = count_findings(findings)
                verdict = await self._output_verdict(findings)
                if verdict.blocked and self.ex.error is None:
                    # The answer's headers are already downstream, so a block cannot become an error
                    # status here: every finding is masked instead, and the audit says it was blocked.
                    self.ex.error = ("output_blocked", verdict.reason)
                text, self.ex.output_redacted = redact_answer(
                    text, output, findings, self.ex.gateway.redactor, self.ex.vault, modes=verdict.modes, mask_all=verdict.blocked
                )
        if self.ex.response.tool_calls and self.ex.llm is not None and self.ex.llm.tools:
            verdict = await self._tool_call_verdict()
            if verdict.blocked and self.ex.adapter is not None:
                # A refused tool call must not reach the client in any form: the answer is replaced by
                # the provider's error body (the 200 status has already gone downstream).
                self.ex.error = ("output_blocked", verdict.reason)
                return self.ex.adapter.error_body(403, f"output blocked: {verdict.reason}", "policy_denied")
        return restore_bytes(text.encode(), self.ex.vault)


    def _start_response(self) -> None:
        self._response_started = True
        self.ex.status = response_status(self.ex.attributes.get("response.code")) or self.ex.status
        if self.ex.adapter is not None:
            self._reader = ResponseReader(self.ex.adapter, self.ex.response, self._rewrites_output)

    def _rewrites_output(self) -> bool:
        """Whether the answer may need rewriting (output to inspect, pseudonyms to restore): then a JSON
        answer is held whole and a stream goes through the guard. Pseudonyms only exist where a
        scanner found something to replace, so both need the scanner."""
        if self.ex.policy.scanner is None:
            return False
        offers_tools = self.ex.llm is not None and bool(self.ex.llm.tools)  # the answer's tool calls are judged whole
        return self.ex.gateway.settings.inspect.scan_output or bool(self.ex.vault.originals) or offers_tools

    def _usage_metadata(self) -> dict[str, Any]:
        usage = self.ex.response.usage
        meta: dict[str, Any] = {}
        if usage.input_tokens is not None:
            meta["input_tokens"] = usage.input_tokens
        if usage.output_tokens is not None:
            meta["output_tokens"] = usage.output_tokens
        if self.ex.response.model:
            meta["response_model"] = self.ex.response.model
        return meta




def count_findings(findings: Iterable[Finding]) -> dict[str, int]:
    counts: dict[str, int] = {}
    for f in findings:
        key = f"{f.detector}:{f.type}"
        counts[key] = counts.get(key, 0) + 1
    return counts


def response_status(value: Any) -> int | None:
    """Envoy's response.code attribute as an HTTP status, None when absent."""
    try:
        return int(value) or None
    except (TypeError, ValueError):
        return None
