"""What an exchange hands to telemetry when it ends: its audit event and the timings of its phases.

Spans and metrics are built from these after the fact (a span can be given its start and end
times), so the hot path only reads the clock at phase boundaries; nothing here imports extproc.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any, Protocol

# Phase names, in the order they happen (some repeat: a stream's output is judged many times).
PHASES = ("identify", "parse", "detect", "usage", "policy", "upstream", "response_scan", "response_policy")


@dataclass(slots=True, frozen=True)
class Phase:
    name: str  # one of PHASES
    start_ns: int  # Unix time in nanoseconds
    end_ns: int


@dataclass(slots=True)
class ExchangeRecord:
    """One finished exchange, for tracing and metrics."""

    event: dict[str, Any]  # the audit event (telemetry/audit.py's audit_event shape), before it is written
    phases: list[Phase]
    parent: dict[str, str]  # W3C trace context from the ext_proc call's gRPC metadata (traceparent, tracestate)
    start_ns: int  # Unix ns when the exchange's first message arrived
    end_ns: int
    groups: tuple[str, ...] = ()  # the caller's groups (cost and tokens by group)
    anomaly_output: dict[str, Any] | None = None  # what the baseline found about the answer, if anything


class Observer(Protocol):
    def exchange(self, record: ExchangeRecord) -> tuple[str, str] | None:
        """Record one exchange; a tracer returns (trace_id, span_id) of ztgate's span for the audit line."""
        ...


class PhaseClock:
    """Collects an exchange's phases as it runs: two clock reads per phase, no span objects."""

    __slots__ = ("phases", "start_ns", "started", "_scan_first", "_scan_total")

    def __init__(self) -> None:
        self.phases: list[Phase] = []
        self.start_ns = time.time_ns()
        self.started = time.perf_counter()  # the same instant on the monotonic clock
        self._scan_first: float | None = None
        self._scan_total = 0.0

    def ns(self, perf: float) -> int:
        """A perf_counter reading as Unix nanoseconds."""
        return self.start_ns + int((perf - self.started) * 1e9)

    def mark(self, name: str, started: float, ended: float | None = None) -> None:
        """A phase that began at perf_counter() == started and ends now (or at `ended`)."""
        self.phases.append(Phase(name, self.ns(started), self.ns(time.perf_counter() if ended is None else ended)))

    def scanned(self, started: float) -> None:
        """Output inspection runs once per response chunk: summed into one response_scan phase."""
        if self._scan_first is None:
            self._scan_first = started
        self._scan_total += time.perf_counter() - started

    def finish(self) -> list[Phase]:
        if self._scan_first is not None:
            start = self.ns(self._scan_first)
            self.phases.append(Phase("response_scan", start, start + int(self._scan_total * 1e9)))
            self._scan_first = None
        return self.phases
