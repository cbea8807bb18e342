"""The usage store suite: every behaviour runs against MemoryStore and RedisStore (a real redis-server).

Times are explicit ``at`` values (no sleeping across windows). Redis tests use a redis-server started
on a free localhost port (tests/redis_server.py); outage tests get a server of their own so stopping it
disturbs no other test. They skip only when redis-server is not installed (`make test` installs it).
"""

from __future__ import annotations

import asyncio
import calendar
import sys
import time
import uuid
from pathlib import Path
from typing import Any, Callable

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from redis_server import REDIS_SERVER, RedisServer  # noqa: E402
from ztgate.usage.memory_store import MemoryStore  # noqa: E402
from ztgate.usage.redis_store import RedisStore  # noqa: E402
from ztgate.usage.store import Charge, Counter, LedgerEntry, Refusal, StoreUnavailable  # noqa: E402

# 2025-03-14 12:30:15 UTC: 45 s to the minute's end, 29:45 to the hour's, 11:29:45 to the day's.
T0 = float(calendar.timegm((2025, 3, 14, 12, 30, 15)))
NEEDS_REDIS = "redis-server is not installed (apt-get install redis-server; `make test` installs it as root)"


def tokens(key: str = "alice", window: str = "minute", scope: str = "identity") -> Counter:
    return Counter(scope, key, window, "tokens")


class Backend:
    """Makes stores that share one backend: the same MemoryStore, or RedisStores on one key prefix
    (as two replicas sharing a Redis would)."""

    def __init__(self, kind: str, factory: Callable[..., Any]) -> None:
        self.kind = kind
        self._factory = factory
        self.stores: list[Any] = []

    def make(self, **options: Any) -> Any:
        store = self._factory(**options)
        if store not in self.stores:
            self.stores.append(store)
        return store

    async def close(self) -> None:
        for store in self.stores:
            await store.close()


@pytest.fixture(scope="module")
def redis_server():
    if REDIS_SERVER is None:
        pytest.skip(NEEDS_REDIS)
    with RedisServer() as server:
        yield server


@pytest.fixture
def own_redis():
    """A redis-server for one test (to stop, pause or restart)."""
    if REDIS_SERVER is None:
        pytest.skip(NEEDS_REDIS)
    with RedisServer() as server:
        yield server


@pytest.fixture(params=["memory", "redis"])
async def backend(request):
    if request.param == "memory":
        shared = MemoryStore()
        result = Backend("memory", lambda **options: shared)
    else:
        server = request.getfixturevalue("redis_server")
        prefix = f"t{uuid.uuid4().hex[:10]}:"
        result = Backend("redis", lambda **options: RedisStore(server.url, fail_open=False, key_prefix=prefix, **options))
    yield result
    await result.close()


@pytest.fixture
def store(backend):
    return backend.make()


# ---- reserve ------------------------------------------------------------------------------------


async def test_reserve_within_and_over_the_limit(store):
    counter = tokens()
    assert await store.reserve([Charge(counter, 60, 100)], T0) is None
    refusal = await store.reserve([Charge(counter, 50, 100)], T0)
    assert refusal == Refusal(counter, 60.0, 100, 45)
    assert await store.reserve([Charge(counter, 40, 100)], T0) is None  # exactly at the limit fits
    assert await store.read([counter], T0) == [100.0]
    assert isinstance(await store.reserve([Charge(counter, 0.5, 100)], T0), Refusal)


async def test_reserve_is_atomic_across_charges(store):
    a, b, c = tokens("alice"), tokens("eng", scope="group"), Counter("model", "gpt-4o", "day", "requests")
    assert await store.reserve([Charge(b, 95, 100)], T0) is None
    refusal = await store.reserve([Charge(a, 10, 1000), Charge(b, 10, 100), Charge(c, 1, None)], T0)
    assert refusal is not None and refusal.counter == b and refusal.used == 95 and refusal.limit == 100
    assert await store.read([a, b, c], T0) == [0.0, 95.0, 0.0]  # nothing added
    # The first charge that does not fit is the one named.
    refusal = await store.reserve([Charge(a, 2000, 1000), Charge(b, 10, 100)], T0)
    assert refusal is not None and refusal.counter == a and refusal.used == 0


async def test_one_counter_charged_twice_counts_both_amounts(store):
    counter = tokens()
    assert isinstance(await store.reserve([Charge(counter, 60, 100), Charge(counter, 60, 100)], T0), Refusal)
    assert await store.read([counter], T0) == [0.0]
    assert await store.reserve([Charge(counter, 40, 100), Charge(counter, 40, None)], T0) is None
    assert await store.read([counter], T0) == [80.0]


async def test_retry_after_is_the_time_to_the_window_end(store):
    expected = {"minute": 45, "hour": 29 * 60 + 45, "day": 11 * 3600 + 29 * 60 + 45, "month": 17 * 86400 + 11 * 3600 + 29 * 60 + 45}
    for window, seconds in expected.items():
        counter = tokens(window=window)
        refusal = await store.reserve([Charge(counter, 2, 1)], T0)
        assert refusal is not None and refusal.retry_after_s == seconds, window
    slots = Counter("identity", "alice", "none", "concurrent")
    assert await store.reserve([Charge(slots, 1, 1)], T0) is None
    refusal = await store.reserve([Charge(slots, 1, 1)], T0)
    assert refusal is not None and refusal.retry_after_s == 1 and refusal.used == 1
    # Never 0, even in the window's last fraction of a second.
    refusal = await store.reserve([Charge(tokens(window="minute"), 2, 1)], T0 + 44.9)
    assert refusal is not None and refusal.retry_after_s == 1


async def test_buckets_roll_over_at_window_ends(store):
    minute, month = tokens(window="minute"), tokens(window="month")
    assert await store.reserve([Charge(minute, 10, 10)], T0) is None
    assert isinstance(await store.reserve([Charge(minute, 1, 10)], T0 + 44.999), Refusal)
    assert await store.reserve([Charge(minute, 10, 10)], T0 + 45) is None  # the next minute
    assert await store.read([minute], T0) == [10.0]
    assert await store.read([minute], T0 + 45) == [10.0]
    assert await store.read([minute], T0 + 105) == [0.0]
    end_of_feb = float(calendar.timegm((2025, 2, 28, 23, 59, 59)))
    assert await store.reserve([Charge(month, 7, 10)], end_of_feb) is None
    assert isinstance(await store.reserve([Charge(month, 7, 10)], end_of_feb + 0.5), Refusal)
    assert await store.reserve([Charge(month, 7, 10)], end_of_feb + 1) is None  # March
    assert await store.read([month], end_of_feb) == [7.0]
    assert await store.read([month], T0) == [7.0]  # still March


# ---- adjust -------------------------------------------------------------------------------------


async def test_adjust_settles_and_releases_clamped_at_zero(store):
    counter, slots = tokens(), Counter("identity", "alice", "none", "concurrent")
    assert await store.reserve([Charge(counter, 100, 150), Charge(slots, 1, 2)], T0) is None
    await store.adjust([(counter, -30), (slots, -1)], T0)  # used 70 of the 100 reserved; slot freed
    assert await store.read([counter, slots], T0) == [70.0, 0.0]
    await store.adjust([(counter, 5)], T0)
    assert await store.read([counter], T0) == [75.0]
    assert await store.reserve([Charge(counter, 75, 150)], T0) is None
    assert isinstance(await store.reserve([Charge(counter, 1, 150)], T0), Refusal)
    await store.adjust([(counter, -1000), (slots, -1)], T0)  # never below 0
    assert await store.read([counter, slots], T0) == [0.0, 0.0]
    assert await store.reserve([Charge(counter, 150, 150)], T0) is None
    await store.adjust([], T0)


async def test_adjust_settles_the_bucket_the_reservation_was_made_in(store):
    counter = tokens()
    assert await store.reserve([Charge(counter, 100, 1000)], T0) is None
    later = T0 + 50  # the stream ended in the next minute: settle with the reservation's time
    await store.adjust([(counter, 20)], T0)
    assert await store.read([counter], T0) == [120.0]
    assert await store.read([counter], later) == [0.0]


async def test_count_only_charges_never_refuse(store):
    counter = Counter("group", "eng", "day", "cost_usd")
    for _ in range(5):
        assert await store.reserve([Charge(counter, 1e6, None)], T0) is None
    assert await store.read([counter], T0) == [5e6]
    await store.adjust([(counter, -0.25)], T0)
    assert await store.read([counter], T0) == [pytest.approx(5e6 - 0.25)]


async def test_float_amounts_that_exactly_fill_the_limit_fit(store):
    cost = Counter("identity", "alice", "day", "cost_usd")
    assert await store.reserve([Charge(cost, 0.1, 0.3)], T0) is None
    assert await store.reserve([Charge(cost, 0.2, 0.3)], T0) is None  # 0.1 + 0.2 > 0.3 in binary
    assert isinstance(await store.reserve([Charge(cost, 0.001, 0.3)], T0), Refusal)


# ---- concurrency --------------------------------------------------------------------------------


async def test_concurrent_reservations_admit_exactly_what_the_limit_allows(backend):
    """200 concurrent reservations of 3 tokens against 111 (K = 37), through two stores (two replicas)."""
    replicas = [backend.make(pool_size=8), backend.make(pool_size=8)] if backend.kind == "redis" else [backend.make()]
    counter, requests, slots = tokens(), Counter("identity", "alice", "minute", "requests"), Counter("identity", "alice", "none", "concurrent")
    charges = [Charge(requests, 1, None), Charge(counter, 3, 37 * 3), Charge(slots, 1, 1000)]
    results = await asyncio.gather(*(replicas[i % len(replicas)].reserve(charges, T0) for i in range(200)))
    admitted = [r for r in results if r is None]
    assert len(admitted) == 37
    assert all(r.counter == counter and r.used == 111 for r in results if r is not None)
    assert await replicas[-1].read([counter, requests, slots], T0) == [111.0, 37.0, 37.0]
    # Concurrent releases come back to exactly 0.
    await asyncio.gather(*(replicas[i % len(replicas)].adjust([(counter, -3), (slots, -1)], T0) for i in range(37)))
    assert await replicas[0].read([counter, slots], T0) == [0.0, 0.0]


@pytest.mark.parametrize("steps", [0, 1, 3])
async def test_a_cancelled_reservation_leaves_nothing_reserved(store, steps):
    """A caller cancelled (client gone) while reserving either got its admission or holds nothing."""
    counter = tokens()
    task = asyncio.ensure_future(store.reserve([Charge(counter, 10, 100)], T0))
    for _ in range(steps):
        await asyncio.sleep(0)
    task.cancel()
    try:
        assert await task is None
        expected = 10.0  # it completed before the cancellation: the caller owns the reservation
    except asyncio.CancelledError:
        expected = 0.0
    await store.drain()  # a reservation Redis admitted for a cancelled caller is being released
    assert await store.read([counter], T0) == [expected]


# ---- keys ---------------------------------------------------------------------------------------


async def test_keys_with_odd_characters_stay_separate(store):
    keys = ["a", "a:b", "a b", "a:b:minute", "ä", "a\nb", "~x", "x" * 300, "x" * 301, "", "*", "spiffe://corp/ns/a", "x\ud800"]
    counters = [Counter("identity", key, "minute", "tokens") for key in keys]
    counters += [Counter("group", "a", "minute", "tokens"), Counter("identity", "a", "hour", "tokens"), Counter("identity", "a", "minute", "requests")]
    for i, counter in enumerate(counters):
        assert await store.reserve([Charge(counter, i + 1, 1000)], T0) is None
    assert await store.read(counters, T0) == [float(i + 1) for i in range(len(counters))]
    for subject in ("a:b", "a", "ä b", "x\ud800"):  # a lone surrogate can come from JSON
        await store.record(entry("2025-03-14", subject, (), "m:1", 1, 0, 0.0))
    rows = await store.report("2025-03-14", "2025-03-14", "identity")
    assert sorted(r["key"] for r in rows) == sorted(["a:b", "a", "ä b", "x\ud800"])
    assert [(r["key"], r["requests"]) for r in await store.report("2025-03-14", "2025-03-14", "model")] == [("m:1", 4)]


# ---- ledger -------------------------------------------------------------------------------------


def entry(day: str, subject: str, groups: tuple[str, ...], model: str | None, input_tokens: int, output_tokens: int, cost: float, **extra: Any) -> LedgerEntry:
    return LedgerEntry(day, subject, groups, model, "openai" if model else None, input_tokens, output_tokens, extra.pop("cached", 0), cost, **extra)


async def test_ledger_reports_by_identity_group_model_and_provider(store):
    entries = [
        entry("2025-03-13", "alice", ("eng", "ml"), "gpt-4o", 100, 50, 0.5, cached=20),
        entry("2025-03-14", "alice", ("eng", "ml"), "gpt-4o", 200, 100, 1.0),
        entry("2025-03-14", "bob", ("eng",), "gpt-4o-mini", 1000, 10, 0.01, estimated=True),
        entry("2025-03-14", "carol: ops", (), None, 10, 10, 0.0),
        entry("2025-03-16", "alice", ("eng",), "gpt-4o", 1, 1, 9.0),  # outside the range below
        entry("2025-03-12", "bob", ("eng",), "gpt-4o", 1, 1, 9.0),  # outside too
    ]
    for e in entries:
        await store.record(e)
    by_identity = await store.report("2025-03-13", "2025-03-15", "identity")
    assert by_identity == [
        {"key": "alice", "requests": 2, "input_tokens": 300, "output_tokens": 150, "cached_input_tokens": 20, "cost_usd": 1.5, "estimated_requests": 0},
        {"key": "bob", "requests": 1, "input_tokens": 1000, "output_tokens": 10, "cached_input_tokens": 0, "cost_usd": 0.01, "estimated_requests": 1},
        {"key": "carol: ops", "requests": 1, "input_tokens": 10, "output_tokens": 10, "cached_input_tokens": 0, "cost_usd": 0.0, "estimated_requests": 0},
    ]
    by_group = await store.report("2025-03-13", "2025-03-15", "group")
    assert [(r["key"], r["requests"], r["cost_usd"]) for r in by_group] == [("eng", 3, 1.51), ("ml", 2, 1.5)]
    by_model = await store.report("2025-03-14", "2025-03-14", "model")
    assert [(r["key"], r["input_tokens"]) for r in by_model] == [("gpt-4o", 200), ("gpt-4o-mini", 1000), ("(unknown)", 10)]
    by_provider = await store.report("2025-03-12", "2025-03-16", "provider")
    assert [(r["key"], r["requests"]) for r in by_provider] == [("openai", 5), ("(unknown)", 1)]
    assert await store.report("2025-03-15", "2025-03-13", "identity") == []
    with pytest.raises(ValueError):
        await store.report("2025-03-13", "2025-03-15", "colour")


async def test_report_sorts_by_cost_then_tokens(store):
    for subject, tokens_in, cost in [("a", 10, 1.0), ("b", 500, 1.0), ("c", 1, 3.0), ("d", 900, 0.0)]:
        await store.record(entry("2025-03-14", subject, (), "m", tokens_in, 0, cost))
    rows = await store.report("2025-03-14", "2025-03-14", "identity")
    assert [r["key"] for r in rows] == ["c", "b", "a", "d"]


async def test_status(store, backend):
    status = store.status
    assert status["backend"] == backend.kind and status["available"] is True
    assert status["queued"] == 0 and status["fail_open_events"] == 0


# ---- MemoryStore housekeeping ---------------------------------------------------------------------


async def test_memory_store_drops_ended_buckets():
    store = MemoryStore()
    for i in range(50):
        await store.reserve([Charge(tokens(f"user{i}"), 1, 10)], T0)
    await store.reserve([Charge(Counter("identity", "x", "none", "concurrent"), 1, 10)], T0)
    assert store.status["counters"] == 51
    await store.reserve([Charge(tokens("late"), 1, 10)], T0 + 3600)
    assert store.status["counters"] == 2  # the concurrent slot and the new bucket


# ---- Redis: keys and TTLs, restarts, outages ------------------------------------------------------


async def test_redis_keys_and_ttls(redis_server):
    from redis.asyncio import Redis

    store = RedisStore(redis_server.url, fail_open=False, key_prefix="ttl:")
    raw = Redis.from_url(redis_server.url)
    try:
        at = time.time() // 60 * 60 + 15  # 45 s to the minute's end
        assert await store.reserve([Charge(tokens(), 1, 10), Charge(Counter("identity", "a b", "none", "concurrent"), 1, 10)], at) is None
        await store.record(entry("2025-03-14", "alice", ("eng",), "gpt-4o", 1, 1, 0.1))
        keys = sorted(k.decode() for k in await raw.keys("ttl:*"))
        minute_key = f"ttl:c:identity:alice:minute:{int(at // 60)}:tokens"
        assert minute_key in keys
        assert 150 <= await raw.ttl(minute_key) <= 165  # 45 s of window + 120 s margin
        slot_key = next(k for k in keys if k.startswith("ttl:c:identity:~") and k.endswith(":none:0:concurrent"))
        assert 3590 <= await raw.ttl(slot_key) <= 3600
        for dimension in ("identity", "group", "model", "provider"):
            assert 400 * 86400 - 10 <= await raw.ttl(f"ttl:l:{dimension}:2025-03-14") <= 400 * 86400
    finally:
        await raw.aclose()
        await store.close()


async def test_redis_restart_keeps_settled_usage(own_redis):
    store = RedisStore(own_redis.url, fail_open=False)
    counter, cost = tokens(), Counter("identity", "alice", "month", "cost_usd")
    try:
        assert await store.reserve([Charge(counter, 100, 1000), Charge(cost, 0.5, 10)], T0) is None
        await store.adjust([(counter, -40), (cost, 0.25)], T0)
        await store.record(entry("2025-03-14", "alice", ("eng",), "gpt-4o", 50, 10, 0.75))
        own_redis.restart()
        assert await store.read([counter, cost], T0) == [60.0, 0.75]
        assert (await store.report("2025-03-14", "2025-03-14", "group"))[0]["cost_usd"] == 0.75
        # Scripts are loaded again after the restart emptied Redis's script cache (NOSCRIPT).
        assert await store.reserve([Charge(counter, 940, 1000)], T0) is None
        assert isinstance(await store.reserve([Charge(counter, 1, 1000)], T0), Refusal)
        assert store.status["outages"] == 0
    finally:
        await store.close()


async def wait_until_available(store: RedisStore, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not store.status["available"]:
        assert time.monotonic() < deadline, store.status
        await asyncio.sleep(0.02)


async def test_fail_open_admits_locally_and_replays_after_the_outage(own_redis):
    store = RedisStore(own_redis.url, fail_open=True, probe_interval_s=0.05)
    other = RedisStore(own_redis.url, fail_open=True, probe_interval_s=0.05)  # a second replica
    counter, slots = tokens(), Counter("identity", "alice", "none", "concurrent")
    try:
        assert await store.reserve([Charge(counter, 100, 1000), Charge(slots, 1, 5)], T0) is None
        own_redis.stop()
        # Admitted by local accounting, which only knows this outage's traffic.
        assert await store.reserve([Charge(counter, 500, 1000), Charge(slots, 1, 5)], T0) is None
        assert isinstance(await store.reserve([Charge(counter, 600, 1000)], T0), Refusal)
        status = store.status
        assert status["available"] is False and status["fail_open_events"] == 2 and status["outages"] == 1
        await store.adjust([(counter, -50), (slots, -1)], T0)  # settles the reservation made before the outage
        await store.adjust([(counter, -100), (slots, -1)], T0)  # and the one made during it
        await store.record(entry("2025-03-14", "alice", (), "gpt-4o", 30, 20, 0.2))
        assert await store.read([counter], T0) == [350.0]  # local view: 500 - 50 - 100
        assert store.status["queued"] == 4
        own_redis.start()
        await wait_until_available(store)
        assert store.status["queued"] == 0 and store.status["replayed"] == 4
        # Redis holds every increment: 100 - 50 + 500 - 100.
        assert await other.read([counter, slots], T0) == [450.0, 0.0]
        assert (await other.report("2025-03-14", "2025-03-14", "identity"))[0]["output_tokens"] == 20
        assert await store.reserve([Charge(counter, 550, 1000)], T0) is None  # Redis decides again
        assert isinstance(await store.reserve([Charge(counter, 1, 1000)], T0), Refusal)
    finally:
        await store.close()
        await other.close()


async def test_fail_closed_refuses_quickly_but_keeps_settlements(own_redis):
    store = RedisStore(own_redis.url, fail_open=False, socket_timeout_s=0.2, probe_interval_s=0.05)
    counter = tokens()
    try:
        assert await store.reserve([Charge(counter, 100, 1000)], T0) is None
        own_redis.stop()
        for _ in range(2):  # the second one without asking Redis at all
            started = time.monotonic()
            with pytest.raises(StoreUnavailable):
                await store.reserve([Charge(counter, 1, 1000)], T0)
            assert time.monotonic() - started < 0.2 + 0.3
        with pytest.raises(StoreUnavailable):
            await store.read([counter], T0)
        await store.adjust([(counter, -30)], T0)  # never raises: queued
        assert store.status["queued"] == 1 and store.status["fail_open_events"] == 0
        own_redis.start()
        await wait_until_available(store)
        assert await store.read([counter], T0) == [70.0]
    finally:
        await store.close()


async def test_a_hung_redis_is_noticed_within_the_socket_timeout(own_redis):
    store = RedisStore(own_redis.url, fail_open=False, socket_timeout_s=0.15, probe_interval_s=0.05)
    counter = tokens()
    try:
        assert await store.reserve([Charge(counter, 10, 1000)], T0) is None
        own_redis.pause()
        started = time.monotonic()
        with pytest.raises(StoreUnavailable):
            await store.reserve([Charge(counter, 1, 1000)], T0)
        assert time.monotonic() - started < 0.15 + 0.3
        await store.adjust([(counter, 5)], T0)
        own_redis.resume()
        await wait_until_available(store)
        # The timed-out reservation may have been applied (at least once); the settlement is there.
        assert (await store.read([counter], T0))[0] in (15.0, 16.0)
    finally:
        own_redis.resume()
        await store.close()


async def test_the_replay_queue_is_bounded(own_redis):
    store = RedisStore(own_redis.url, fail_open=True, queue_limit=3, probe_interval_s=0.05)
    counter = tokens()
    try:
        own_redis.stop()
        for _ in range(5):
            await store.adjust([(counter, 1)], T0)
        assert store.status["queued"] == 3 and store.status["dropped"] == 2
        own_redis.start()
        await wait_until_available(store)
        assert await store.read([counter], T0) == [3.0]
    finally:
        await store.close()
