"""The embedded usage store: budgets for one gateway process, in dicts.

Atomicity without a lock: every method does all its work (check every limit, then add every amount)
in plain synchronous code, with no ``await`` in between, so on one event loop no other coroutine can
run between the check and the add. The ``*_now`` methods are that synchronous core; keep them free
of awaits (RedisStore also calls them directly for its fail-open accounting). Several worker
processes or replicas each get their own budgets with this store: use RedisStore to share them.

Buckets are dropped once their window has ended (plus BUCKET_MARGIN_S): a sweep runs at most once a
minute of ``at`` time, so memory is bounded by the counters active in the current windows.
"""

from __future__ import annotations

from typing import Sequence

from .store import (
    LEDGER_DIMENSIONS, NO_WINDOW, Charge, Counter, LedgerEntry, Refusal, add_into, bucket_of, bucket_ttl,
    check_dimension, days_between, fits, ledger_keys, ledger_values, report_rows, retry_after,
)

_SWEEP_EVERY_S = 60.0
LEDGER_RETENTION_DAYS = 400


class MemoryStore:
    """UsageStore in process memory (see the module docstring)."""

    def __init__(self) -> None:
        # (counter, bucket) -> value; a separate dict of expiry times, read only by the sweep.
        self._values: dict[tuple[Counter, int], float] = {}
        self._expires: dict[tuple[Counter, int], float] = {}
        self._next_sweep = 0.0
        # (day, dimension) -> key -> amounts in LEDGER_FIELDS order
        self._ledger: dict[tuple[str, str], dict[str, list[float]]] = {}

    # ---- the synchronous core (no awaits: atomic on one event loop) ----

    def _slot(self, counter: Counter, at: float) -> tuple[Counter, int]:
        return (counter, bucket_of(counter.window, at))

    def _add(self, slot: tuple[Counter, int], delta: float, at: float) -> None:
        value = self._values.get(slot, 0.0) + delta
        if value > 0:
            if slot not in self._values:
                # "none" windows never expire here: one process's in-flight slots die with it.
                window = slot[0].window
                self._expires[slot] = float("inf") if window == NO_WINDOW else at + bucket_ttl(window, at)
            self._values[slot] = value
        else:  # clamped at 0; absent reads as 0
            self._values.pop(slot, None)
            self._expires.pop(slot, None)

    def reserve_now(self, charges: Sequence[Charge], at: float) -> Refusal | None:
        if at >= self._next_sweep:
            self._sweep(at)
        values = self._values
        slots = [(self._slot(c.counter, at), c) for c in charges]
        pending: dict[tuple[Counter, int], float] = {}  # a counter charged twice is checked with both amounts
        for slot, charge in slots:
            used = values.get(slot, 0.0) + pending.get(slot, 0.0)
            if charge.limit is not None and not fits(used, charge.amount, charge.limit):
                return Refusal(charge.counter, used, charge.limit, retry_after(charge.counter.window, at))
            pending[slot] = pending.get(slot, 0.0) + charge.amount
        for slot, charge in slots:
            if charge.amount:
                self._add(slot, charge.amount, at)
        return None

    def adjust_now(self, deltas: Sequence[tuple[Counter, float]], at: float) -> None:
        for counter, delta in deltas:
            if delta:
                self._add(self._slot(counter, at), delta, at)

    def read_now(self, counters: Sequence[Counter], at: float) -> list[float]:
        values = self._values
        buckets: dict[str, int] = {}  # one bucket computation per window, not per counter
        out = []
        for c in counters:
            bucket = buckets.get(c.window)
            if bucket is None:
                bucket = buckets[c.window] = bucket_of(c.window, at)
            out.append(values.get((c, bucket), 0.0))
        return out

    def record_now(self, entry: LedgerEntry) -> None:
        amounts = ledger_values(entry)
        for dimension, keys in ledger_keys(entry).items():
            sums = self._ledger.get((entry.day, dimension))
            if sums is None:
                sums = self._ledger[(entry.day, dimension)] = {}
                self._drop_old_days()
            for key in keys:
                add_into(sums, key, amounts)

    def clear(self) -> None:
        """Forget every counter (RedisStore starts each outage's local accounting afresh)."""
        self._values.clear()
        self._expires.clear()

    # ---- UsageStore ----

    async def reserve(self, charges: Sequence[Charge], at: float) -> Refusal | None:
        return self.reserve_now(charges, at)

    async def adjust(self, deltas: Sequence[tuple[Counter, float]], at: float) -> None:
        self.adjust_now(deltas, at)

    async def read(self, counters: Sequence[Counter], at: float) -> list[float]:
        return self.read_now(counters, at)

    async def record(self, entry: LedgerEntry) -> None:
        self.record_now(entry)

    async def report(self, since_day: str, until_day: str, by: str) -> list[dict]:
        check_dimension(by)
        sums: dict[str, list[float]] = {}
        for day in days_between(since_day, until_day):
            for key, values in self._ledger.get((day, by), {}).items():
                add_into(sums, key, values)
        return report_rows(sums)

    async def drain(self, timeout_s: float | None = None) -> None:
        """Nothing is ever in flight here (RedisStore waits for its background writes)."""

    async def close(self) -> None:
        pass

    @property
    def status(self) -> dict:
        return {"backend": "memory", "available": True, "queued": 0, "fail_open_events": 0, "counters": len(self._values)}

    # ---- housekeeping ----

    def _sweep(self, at: float) -> None:
        expired = [slot for slot, expires in self._expires.items() if expires <= at]
        for slot in expired:
            del self._expires[slot]
            self._values.pop(slot, None)
        self._next_sweep = at + _SWEEP_EVERY_S

    def _drop_old_days(self) -> None:
        days = sorted({day for day, _ in self._ledger})
        for day in days[: max(0, len(days) - LEDGER_RETENTION_DAYS)]:
            for dimension in LEDGER_DIMENSIONS:
                self._ledger.pop((day, dimension), None)
