"""The shared usage store: budgets in Redis, for several workers and replicas.

Every change is one server-side Lua script (EVALSHA; redis-py reloads it after NOSCRIPT, e.g. after
a Redis restart), so there is no read-modify-write race between replicas: ``reserve`` checks every
limited charge and then adds every amount inside one script; ``adjust`` adds and clamps at 0 inside
another. Buckets are keys with a TTL to their window's end (plus a margin), set when a key is created.

Key layout (``key_prefix`` defaults to "ztgate:"):
    {prefix}c:{scope}:{key}:{window}:{bucket}:{metric}   a counter bucket (string, INCRBYFLOAT)
    {prefix}l:{dimension}:{YYYY-MM-DD}                   the ledger of a day (hash, "{field}:{key}")
Subjects and model names are user-controlled: a part outside [A-Za-z0-9._@/+=-] (or longer than 100
characters) is replaced by "~" and a 128-bit BLAKE2b of it, so ":" or spaces cannot make two counters
share a key. All keys of a reservation must live on one node (no Redis Cluster; Sentinel is fine).

When Redis does not answer (refused, or no reply within the socket timeout), the store marks it down
and stops asking until a background probe gets a PING through:
- reserve: fail_open=False raises StoreUnavailable at once (the gateway answers 503); fail_open=True
  decides with a local MemoryStore (counting only this outage's traffic) and counts fail_open_events;
- adjust and record never raise: their increments (and those of reservations admitted locally) are
  queued with their time and replayed in order once Redis answers, before Redis is used again, so no
  settled usage is lost. The queue is bounded (``queue_limit``); what does not fit is counted as dropped.
A command that timed out may still have been applied by Redis; its replay then counts it twice
(at-least-once): over-counting is the safe side for budgets.
"""

from __future__ import annotations

import asyncio
import functools
import hashlib
import logging
import re
import time
from collections import deque
from typing import Any, Sequence

from redis.asyncio import BlockingConnectionPool, Redis
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import ReadOnlyError, RedisError
from redis.exceptions import TimeoutError as RedisTimeoutError

from .memory_store import MemoryStore
from .store import (
    LEDGER_FIELDS, LIMIT_EPSILON, Charge, Counter, LedgerEntry, Refusal, StoreUnavailable, add_into,
    bucket_of, bucket_ttl, check_dimension, days_between, ledger_keys, ledger_values, report_rows,
    retry_after,
)

log = logging.getLogger("ztgate.usage")

LEDGER_TTL_S = 400 * 86400

# KEYS: counter buckets. ARGV[1]: limit slack; then per key i: amount ARGV[3i-1], limit ARGV[3i] ('' = count
# only), TTL ARGV[3i+1]. Check every limited charge (with amounts charged earlier in this call to the same
# key) first; only if all fit, add every amount and give new keys their TTL. Returns 0, or {i, used}.
RESERVE_LUA = """
local eps = tonumber(ARGV[1])
local pending = {}
for i = 1, #KEYS do
  local k = KEYS[i]
  local amount = tonumber(ARGV[3 * i - 1])
  local limit = ARGV[3 * i]
  if limit ~= '' then
    local used = tonumber(redis.call('GET', k) or '0') + (pending[k] or 0)
    if used + amount > tonumber(limit) + eps then
      return {i, string.format('%.17g', used)}
    end
  end
  pending[k] = (pending[k] or 0) + amount
end
for i = 1, #KEYS do
  local k = KEYS[i]
  if tonumber(ARGV[3 * i - 1]) ~= 0 then
    redis.call('INCRBYFLOAT', k, ARGV[3 * i - 1])
    if redis.call('TTL', k) == -1 then redis.call('EXPIRE', k, ARGV[3 * i + 1]) end
  end
end
return 0
"""

# KEYS: counter buckets; per key i: delta ARGV[2i-1] (may be negative), TTL ARGV[2i]. Add each delta; a
# bucket that reaches <= 0 is deleted (reads as 0: counters never go below 0); a new key gets its TTL.
ADJUST_LUA = """
for i = 1, #KEYS do
  local k = KEYS[i]
  local v = tonumber(redis.call('INCRBYFLOAT', k, ARGV[2 * i - 1]))
  if v <= 0 then
    redis.call('DEL', k)
  elseif redis.call('TTL', k) == -1 then
    redis.call('EXPIRE', k, ARGV[2 * i])
  end
end
return 0
"""

# KEYS: ledger hashes (one per dimension key the entry counts under; a hash may repeat). ARGV[1]: TTL;
# ARGV[2..7]: the amounts in LEDGER_FIELDS order; ARGV[7+i]: the key counted in KEYS[i]. HINCRBYFLOAT
# "{field}:{key}" for each non-zero amount, then refresh the hash's TTL.
RECORD_LUA = """
local names = {%s}
for i = 1, #KEYS do
  local key = ARGV[7 + i]
  for j = 1, 6 do
    if tonumber(ARGV[1 + j]) ~= 0 then
      redis.call('HINCRBYFLOAT', KEYS[i], names[j] .. ':' .. key, ARGV[1 + j])
    end
  end
  redis.call('EXPIRE', KEYS[i], ARGV[1])
end
return 0
""" % ", ".join(f"'{name}'" for name in LEDGER_FIELDS)

# What "Redis is down" looks like: refused or reset connections, timeouts, a loading or read-only
# server, an exhausted pool. Any RedisError counts: a store that cannot write must not pretend it did.
_DOWN = (RedisError, OSError, asyncio.TimeoutError)

_SAFE_PART = re.compile(r"[A-Za-z0-9._@/+=-]{1,100}")


def key_part(text: str) -> str:
    """A key part that cannot contain ":" or odd characters: itself when safe, else "~" + its hash."""
    if _SAFE_PART.fullmatch(text):
        return text
    return "~" + hashlib.blake2b(text.encode("utf-8", "surrogatepass"), digest_size=16).hexdigest()


@functools.lru_cache(maxsize=16384)
def _counter_key_parts(prefix: str, counter: Counter) -> tuple[str, str]:
    """The key of a counter bucket around its bucket number (cached: the same counters recur)."""
    head = f"{prefix}c:{key_part(counter.scope)}:{key_part(counter.key)}:{key_part(counter.window)}:"
    return head, f":{key_part(counter.metric)}"


def counter_key(prefix: str, counter: Counter, at: float) -> str:
    head, tail = _counter_key_parts(prefix, counter)
    return f"{head}{bucket_of(counter.window, at)}{tail}"


def ledger_key(prefix: str, dimension: str, day: str) -> str:
    return f"{prefix}l:{dimension}:{day}"


class RedisStore:
    """UsageStore in Redis (see the module docstring)."""

    def __init__(
        self,
        url: str,
        *,
        fail_open: bool,
        key_prefix: str = "ztgate:",
        pool_size: int = 32,
        socket_timeout_s: float = 0.2,
        pool_timeout_s: float = 1.0,
        queue_limit: int = 100_000,
        probe_interval_s: float = 0.25,
    ) -> None:
        self.fail_open = fail_open
        self.key_prefix = key_prefix
        self.socket_timeout_s = socket_timeout_s
        self.probe_interval_s = probe_interval_s
        self.queue_limit = queue_limit
        # One immediate retry on a closed connection (a pooled connection to a Redis that restarted;
        # the command never reached a server), none on a timeout: a write that timed out may have
        # been applied, and an outage should be noticed within one socket timeout.
        self._pool = BlockingConnectionPool.from_url(
            url,
            max_connections=pool_size,
            timeout=pool_timeout_s,
            socket_timeout=socket_timeout_s,
            socket_connect_timeout=socket_timeout_s,
            retry=Retry(NoBackoff(), 1, supported_errors=(RedisConnectionError,)),
        )
        self._redis = Redis(connection_pool=self._pool)
        self._reserve_script = self._redis.register_script(RESERVE_LUA)
        self._adjust_script = self._redis.register_script(ADJUST_LUA)
        self._record_script = self._redis.register_script(RECORD_LUA)
        self._local = MemoryStore()  # fail-open decisions during an outage
        self._queue: deque[tuple[str, Any, float]] = deque()  # ("adjust", deltas, at) | ("record", entry, 0)
        self._available = True
        self._probe: asyncio.Task[None] | None = None
        self._tasks: set[asyncio.Task[Any]] = set()
        self._down_since = 0.0
        self._counts = {"fail_open_events": 0, "outages": 0, "dropped": 0, "replayed": 0, "replay_errors": 0}

    # ---- UsageStore ----

    async def reserve(self, charges: Sequence[Charge], at: float) -> Refusal | None:
        """Runs as its own task: if the caller is cancelled (client gone) while Redis decides, an
        admitted reservation is released rather than leaked."""
        task = self._spawn(self._reserve(tuple(charges), at))
        try:
            return await asyncio.shield(task)
        except asyncio.CancelledError:
            task.add_done_callback(functools.partial(self._release_if_admitted, charges, at))
            raise

    async def adjust(self, deltas: Sequence[tuple[Counter, float]], at: float) -> None:
        deltas = tuple((counter, delta) for counter, delta in deltas if delta)
        if deltas:
            await asyncio.shield(self._spawn(self._adjust(deltas, at)))  # finishes even if the caller is cancelled

    async def read(self, counters: Sequence[Counter], at: float) -> list[float]:
        if self._available:
            try:
                values = await self._redis.mget([counter_key(self.key_prefix, c, at) for c in counters]) if counters else []
                return [float(v) if v is not None else 0.0 for v in values]
            except _DOWN as exc:
                self._went_down(exc)
        if not self.fail_open:
            raise StoreUnavailable("usage store: Redis is unavailable")
        return self._local.read_now(counters, at)

    async def record(self, entry: LedgerEntry) -> None:
        await asyncio.shield(self._spawn(self._record(entry)))

    async def report(self, since_day: str, until_day: str, by: str) -> list[dict]:
        check_dimension(by)
        days = days_between(since_day, until_day)
        try:
            async with self._redis.pipeline(transaction=False) as pipe:
                for day in days:
                    pipe.hgetall(ledger_key(self.key_prefix, by, day))
                hashes = await pipe.execute()
        except _DOWN as exc:
            raise StoreUnavailable(f"usage store: Redis is unavailable ({exc})") from exc
        field_index = {name.encode(): i for i, name in enumerate(LEDGER_FIELDS)}
        sums: dict[str, list[float]] = {}
        for fields in hashes:
            for field, value in fields.items():
                name, _, key = field.partition(b":")
                index = field_index.get(name)
                if index is None:
                    continue
                amounts = [0.0] * len(LEDGER_FIELDS)
                amounts[index] = float(value)
                add_into(sums, key.decode("utf-8", "surrogatepass"), amounts)
        return report_rows(sums)

    async def drain(self, timeout_s: float | None = None) -> None:
        """Wait for writes still in flight: those of callers that were cancelled, and releases of
        reservations whose caller was cancelled while Redis admitted them."""
        deadline = time.monotonic() + (2 * self.socket_timeout_s + 1 if timeout_s is None else timeout_s)
        while self._tasks and (left := deadline - time.monotonic()) > 0:
            await asyncio.wait(list(self._tasks), timeout=left)

    async def close(self) -> None:
        """Waits for in-flight writes, makes one attempt to replay what is queued, then disconnects."""
        await self.drain()
        if self._probe is not None:
            self._probe.cancel()
            self._probe = None
        if self._queue:
            try:
                await self._replay()
            except _DOWN:
                pass
        if self._queue:
            log.error("usage store: closing with %d increments not written to Redis (lost)", len(self._queue))
        await self._redis.aclose()
        await self._pool.disconnect()

    @property
    def status(self) -> dict:
        return {
            "backend": "redis",
            "available": self._available,
            "fail_open": self.fail_open,
            "queued": len(self._queue),
            "down_for_s": round(time.monotonic() - self._down_since, 3) if not self._available else 0.0,
            **self._counts,
        }

    # ---- the work ----

    async def _reserve(self, charges: tuple[Charge, ...], at: float) -> Refusal | None:
        if not charges:
            return None
        if self._available:
            keys: list[str] = []
            args: list[Any] = [LIMIT_EPSILON]
            for charge in charges:
                counter = charge.counter
                keys.append(counter_key(self.key_prefix, counter, at))
                args += (charge.amount, "" if charge.limit is None else charge.limit, bucket_ttl(counter.window, at))
            try:
                result = await self._reserve_script(keys, args)
            except _DOWN as exc:
                self._went_down(exc)
            else:
                if result == 0:
                    return None
                refused = charges[int(result[0]) - 1]
                assert refused.limit is not None
                return Refusal(refused.counter, float(result[1]), refused.limit, retry_after(refused.counter.window, at))
        if not self.fail_open:
            raise StoreUnavailable("usage store: Redis is unavailable (configured to fail closed)")
        self._counts["fail_open_events"] += 1
        refusal = self._local.reserve_now(charges, at)
        if refusal is None:
            self._enqueue(("adjust", tuple((c.counter, c.amount) for c in charges if c.amount), at))
        return refusal

    async def _adjust(self, deltas: tuple[tuple[Counter, float], ...], at: float) -> None:
        if self._available:
            try:
                await self._write_adjust(deltas, at)
                return
            except _DOWN as exc:
                self._went_down(exc)
        self._local.adjust_now(deltas, at)  # frees local capacity of reservations released during the outage
        self._enqueue(("adjust", deltas, at))

    async def _record(self, entry: LedgerEntry) -> None:
        if self._available:
            try:
                await self._write_record(entry)
                return
            except _DOWN as exc:
                self._went_down(exc)
        self._enqueue(("record", entry, 0.0))

    async def _write_adjust(self, deltas: Sequence[tuple[Counter, float]], at: float) -> None:
        keys: list[str] = []
        args: list[Any] = []
        for counter, delta in deltas:
            keys.append(counter_key(self.key_prefix, counter, at))
            args += (delta, bucket_ttl(counter.window, at))
        await self._adjust_script(keys, args)

    async def _write_record(self, entry: LedgerEntry) -> None:
        keys: list[str] = []
        names: list[bytes] = []  # hash fields hold any bytes; surrogatepass: even "\ud800" round-trips
        for dimension, dimension_keys in ledger_keys(entry).items():
            for key in dimension_keys:
                keys.append(ledger_key(self.key_prefix, dimension, entry.day))
                names.append(key.encode("utf-8", "surrogatepass"))
        await self._record_script(keys, [LEDGER_TTL_S, *ledger_values(entry), *names])

    def _release_if_admitted(self, charges: Sequence[Charge], at: float, task: asyncio.Task[Refusal | None]) -> None:
        if task.cancelled() or task.exception() is not None or task.result() is not None:
            return
        deltas = tuple((c.counter, -c.amount) for c in charges if c.amount)
        if deltas:
            self._spawn(self._adjust(deltas, at))

    # ---- outages ----

    def _spawn(self, coro: Any) -> asyncio.Task[Any]:
        task = asyncio.ensure_future(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

    def _enqueue(self, item: tuple[str, Any, float]) -> None:
        if not item[1]:
            return
        if len(self._queue) >= self.queue_limit:
            if self._counts["dropped"] == 0 or self._counts["dropped"] % 10_000 == 0:
                log.error("usage store: replay queue full (%d); usage increments are being LOST", self.queue_limit)
            self._counts["dropped"] += 1
            return
        self._queue.append(item)

    def _went_down(self, exc: BaseException) -> None:
        if self._available:
            self._available = False
            self._down_since = time.monotonic()
            self._counts["outages"] += 1
            self._local.clear()
            mode = "FAILING OPEN: admitting with local accounting only" if self.fail_open else "failing closed: refusing with 503"
            log.error("usage store: Redis unreachable (%s: %s); %s until it answers", type(exc).__name__, exc, mode)
        if self._probe is None or self._probe.done():
            self._probe = asyncio.ensure_future(self._recover())

    async def _recover(self) -> None:
        """Probe until Redis answers, replay the queue in order, then use Redis again."""
        while True:
            await asyncio.sleep(self.probe_interval_s)
            try:
                await self._redis.ping()
                await self._replay()
            except _DOWN:
                continue
            # The queue is empty and nothing was awaited since: no increment can slip behind it.
            self._available = True
            log.warning(
                "usage store: Redis answers again after %.1f s; %d queued increments replayed in all",
                time.monotonic() - self._down_since,
                self._counts["replayed"],
            )
            return

    async def _replay(self) -> None:
        """Write queued increments oldest first; stops (raising) at the first connection failure."""
        while self._queue:
            kind, payload, at = self._queue[0]
            try:
                if kind == "adjust":
                    await self._write_adjust(payload, at)
                else:
                    await self._write_record(payload)
            except RedisError as exc:
                if _is_outage(exc):
                    raise
                self._counts["replay_errors"] += 1  # Redis refuses this one (a bug, not an outage): skip it
                log.error("usage store: Redis refused a queued %s (%s); dropped", kind, exc)
            else:
                self._counts["replayed"] += 1
            self._queue.popleft()


def _is_outage(exc: RedisError) -> bool:
    """Redis cannot take writes now (as opposed to refusing this one write)."""
    return isinstance(exc, (RedisConnectionError, RedisTimeoutError, ReadOnlyError)) or str(exc).startswith(
        ("OOM", "MASTERDOWN", "LOADING", "NOREPLICAS", "TRYAGAIN", "CLUSTERDOWN")
    )
