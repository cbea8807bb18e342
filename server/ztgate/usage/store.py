"""The usage store's contract: counters, charges, refusals, the ledger, and calendar-window arithmetic.

Admission works by reservation: before a request is forwarded, the gateway reserves its estimated
input tokens plus its max output tokens (and one request, and one concurrent slot, and the estimated
cost) against every budget that applies, in one atomic step; when the exchange ends it settles with
``adjust`` (actual - reserved), or releases (-reserved) on error or disconnect. A store only counts and
compares: which budgets apply, and what they allow, is decided above it (policy, config).

Windows are calendar windows in UTC (a "day" budget resets at 00:00 UTC), so every replica and Redis
agree on the bucket of a given instant without coordination. This module does no I/O; both stores
(memory_store, redis_store) share its arithmetic so they bucket and answer Retry-After identically.
"""

from __future__ import annotations

import calendar
import math
import time
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Iterable, Protocol, Sequence

WINDOWS = ("minute", "hour", "day", "month")  # calendar windows in UTC
NO_WINDOW = "none"  # "concurrent" counters: in-flight requests, no time window
SCOPES = ("identity", "group", "model")
METRICS = ("tokens", "requests", "cost_usd", "concurrent")
LEDGER_DIMENSIONS = ("identity", "group", "model", "provider")

_FIXED_SECONDS = {"minute": 60, "hour": 3600, "day": 86400}
# How long a bucket outlives its window: covers clock skew between replicas, and settlements of
# reservations made just before the window ended.
BUCKET_MARGIN_S = 120
# A "concurrent" counter (window "none") expires this long after it was created: in-flight slots of
# a replica that crashed without releasing them do not block the budget forever.
CONCURRENT_TTL_S = 3600
NO_WINDOW_RETRY_AFTER_S = 1
# Limits are compared with this slack, so float sums (0.1 + 0.2 USD) do not refuse a charge that fits.
LIMIT_EPSILON = 1e-9


@dataclass(frozen=True, slots=True)
class Counter:
    """One budget counter: what is counted, for whom, over which window."""

    scope: str  # "identity" | "group" | "model"
    key: str  # the subject, group name or model (pattern) it counts for
    window: str  # "minute" | "hour" | "day" | "month" | "none"
    metric: str  # "tokens" | "requests" | "cost_usd" | "concurrent"


@dataclass(frozen=True, slots=True)
class Charge:
    counter: Counter
    amount: float  # what to add now
    limit: float | None  # None: count only (never refuses)


@dataclass(frozen=True, slots=True)
class Refusal:
    counter: Counter
    used: float  # the counter's value when refused
    limit: float
    retry_after_s: int  # seconds until the counter's window ends (>= 1); NO_WINDOW_RETRY_AFTER_S for "none"


@dataclass(frozen=True, slots=True)
class LedgerEntry:
    """One finished exchange, for the per-day usage report (``ztgate usage``)."""

    day: str  # "YYYY-MM-DD" (UTC)
    subject: str
    groups: tuple[str, ...]
    model: str | None
    provider: str | None
    input_tokens: int
    output_tokens: int
    cached_input_tokens: int
    cost_usd: float
    requests: int = 1
    estimated: bool = False  # usage estimated by ztgate (the provider reported none)


class StoreUnavailable(Exception):
    """The backend is down and the store is configured to fail closed (the gateway answers 503)."""


class UsageStore(Protocol):
    """What the gateway needs from a usage store (MemoryStore, RedisStore)."""

    async def reserve(self, charges: Sequence[Charge], at: float) -> Refusal | None:
        """Atomic across all charges: if every limited charge fits (used + amount <= limit), add every
        amount and return None; otherwise add nothing and return the first Refusal."""
        ...

    async def adjust(self, deltas: Sequence[tuple[Counter, float]], at: float) -> None:
        """Add (possibly negative) amounts to the buckets of time ``at``, clamped at 0. Never raises."""
        ...

    async def read(self, counters: Sequence[Counter], at: float) -> list[float]:
        """Current values of the buckets of time ``at`` (0 when absent)."""
        ...

    async def record(self, entry: LedgerEntry) -> None:
        """Add one exchange to the per-day ledger. Never raises."""
        ...

    async def report(self, since_day: str, until_day: str, by: str) -> list[dict]:
        """Ledger rows summed over the days (inclusive), grouped by a LEDGER_DIMENSIONS entry."""
        ...

    async def drain(self, timeout_s: float | None = None) -> None:
        """Wait for writes still in flight (RedisStore finishes writes of cancelled callers in tasks)."""
        ...

    async def close(self) -> None: ...

    @property
    def status(self) -> dict: ...


# ---- window arithmetic -------------------------------------------------------------------------

_month_cache: tuple[float, float, int] = (0.0, 0.0, 0)  # (start, end, bucket) of the last month seen


def _month(at: float) -> tuple[float, float, int]:
    """(start, end, bucket) of the UTC calendar month holding ``at``; bucket = year * 12 + month - 1.
    Cached: nearly every call asks for the current month."""
    global _month_cache
    start, end, bucket = _month_cache
    if start <= at < end:
        return _month_cache
    tm = time.gmtime(at)
    bucket = tm.tm_year * 12 + tm.tm_mon - 1
    start = float(calendar.timegm((tm.tm_year, tm.tm_mon, 1, 0, 0, 0)))
    ny, nm = (tm.tm_year + 1, 1) if tm.tm_mon == 12 else (tm.tm_year, tm.tm_mon + 1)
    end = float(calendar.timegm((ny, nm, 1, 0, 0, 0)))
    _month_cache = (start, end, bucket)
    return _month_cache


def bucket_of(window: str, at: float) -> int:
    """The bucket number of instant ``at`` in ``window``: minutes/hours/days since the epoch, months
    as year * 12 + month - 1; 0 for "none"."""
    seconds = _FIXED_SECONDS.get(window)
    if seconds is not None:
        return int(at // seconds)
    if window == "month":
        return _month(at)[2]
    if window == NO_WINDOW:
        return 0
    raise ValueError(f"unknown window {window!r}")


def window_end(window: str, at: float) -> float:
    """When the window holding ``at`` ends (unix time); +inf for "none"."""
    seconds = _FIXED_SECONDS.get(window)
    if seconds is not None:
        return (at // seconds + 1) * seconds
    if window == "month":
        return _month(at)[1]
    if window == NO_WINDOW:
        return math.inf
    raise ValueError(f"unknown window {window!r}")


def retry_after(window: str, at: float) -> int:
    """Seconds until the window holding ``at`` ends, rounded up, at least 1 (an HTTP Retry-After)."""
    if window == NO_WINDOW:
        return NO_WINDOW_RETRY_AFTER_S
    return max(1, math.ceil(window_end(window, at) - at))


def bucket_ttl(window: str, at: float) -> int:
    """How long (s) a bucket first written at ``at`` must live: to its window's end plus a margin."""
    if window == NO_WINDOW:
        return CONCURRENT_TTL_S
    return max(1, math.ceil(window_end(window, at) - at)) + BUCKET_MARGIN_S


def fits(used: float, amount: float, limit: float) -> bool:
    return used + amount <= limit + LIMIT_EPSILON


# ---- ledger helpers ----------------------------------------------------------------------------

LEDGER_FIELDS = ("requests", "input_tokens", "output_tokens", "cached_input_tokens", "cost_usd", "estimated_requests")


UNKNOWN_KEY = "(unknown)"  # the ledger key of an exchange without a model or provider


def ledger_keys(entry: LedgerEntry) -> dict[str, tuple[str, ...]]:
    """The keys an entry counts under, per dimension (an identity in no group counts in no group)."""
    return {
        "identity": (entry.subject,),
        "group": tuple(dict.fromkeys(entry.groups)),  # a group listed twice counts once
        "model": (entry.model or UNKNOWN_KEY,),
        "provider": (entry.provider or UNKNOWN_KEY,),
    }


def ledger_values(entry: LedgerEntry) -> tuple[float, ...]:
    """The entry's amounts, in LEDGER_FIELDS order."""
    return (
        entry.requests,
        entry.input_tokens,
        entry.output_tokens,
        entry.cached_input_tokens,
        entry.cost_usd,
        entry.requests if entry.estimated else 0,
    )


def days_between(since_day: str, until_day: str) -> list[str]:
    """Every "YYYY-MM-DD" from since_day to until_day inclusive (empty when since > until)."""
    first, last = date.fromisoformat(since_day), date.fromisoformat(until_day)
    return [(first + timedelta(days=i)).isoformat() for i in range((last - first).days + 1)]


def check_dimension(by: str) -> None:
    if by not in LEDGER_DIMENSIONS:
        raise ValueError(f"report by {by!r}: expected one of {', '.join(LEDGER_DIMENSIONS)}")


def report_rows(sums: dict[str, list[float]]) -> list[dict]:
    """Rows from per-key sums (LEDGER_FIELDS order), most expensive first, then most tokens, then key."""
    rows = [
        {
            "key": key,
            "requests": int(v[0]),
            "input_tokens": int(v[1]),
            "output_tokens": int(v[2]),
            "cached_input_tokens": int(v[3]),
            "cost_usd": round(v[4], 9),
            "estimated_requests": int(v[5]),
        }
        for key, v in sums.items()
    ]
    rows.sort(key=lambda r: (-r["cost_usd"], -(r["input_tokens"] + r["output_tokens"]), r["key"]))
    return rows


def add_into(sums: dict[str, list[float]], key: str, values: Iterable[float]) -> None:
    row = sums.get(key)
    if row is None:
        sums[key] = list(values)
    else:
        for i, v in enumerate(values):
            row[i] += v
