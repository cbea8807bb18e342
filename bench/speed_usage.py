"""What admission by reservation costs per request: reserve + settle with each usage store (a measurement, not a test).

    .venv/bin/python bench/speed_usage.py [--rounds 2000] [--redis-url redis://127.0.0.1:6379/0]

One round is what the gateway does per exchange: one reserve of 4 charges (identity tokens per minute
and per day, group cost per month, identity concurrent slots) and one adjust settling all four. Wall
time per call on uvloop (the gateway's loop), after 200 warm-up rounds. Without --redis-url a
redis-server (Debian package) is started on a free localhost port (tests/redis_server.py) with the AOF
fsynced every second, Redis's default (the tests fsync every write, which costs a disk flush per call).
Targets (issue 5): reserve + settle p50 <= 0.3 ms with the memory store, <= 1 ms with Redis on localhost.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
import uuid
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "server"))
sys.path.insert(0, str(REPO / "tests"))

from ztgate.usage.memory_store import MemoryStore  # noqa: E402
from ztgate.usage.redis_store import RedisStore  # noqa: E402
from ztgate.usage.store import Charge, Counter, UsageStore  # noqa: E402

TARGETS_MS = {"memory": 0.3, "redis": 1.0}
WARMUP = 200


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


async def measure(store: UsageStore, rounds: int) -> dict[str, list[float]]:
    charges = [
        Charge(Counter("identity", "alice@corp.example", "minute", "tokens"), 2500.0, 1e12),
        Charge(Counter("identity", "alice@corp.example", "day", "tokens"), 2500.0, 1e12),
        Charge(Counter("group", "developers", "month", "cost_usd"), 0.0125, 1e12),
        Charge(Counter("identity", "alice@corp.example", "none", "concurrent"), 1.0, 1e12),
    ]
    settle = [(charges[0].counter, -400.0), (charges[1].counter, -400.0), (charges[2].counter, -0.002), (charges[3].counter, -1.0)]
    times: dict[str, list[float]] = {"reserve": [], "adjust": [], "round": []}
    clock = time.perf_counter
    for i in range(WARMUP + rounds):
        at = time.time()
        t0 = clock()
        refusal = await store.reserve(charges, at)
        t1 = clock()
        await store.adjust(settle, at)
        t2 = clock()
        assert refusal is None, refusal
        if i >= WARMUP:
            times["reserve"].append((t1 - t0) * 1000)
            times["adjust"].append((t2 - t1) * 1000)
            times["round"].append((t2 - t0) * 1000)
    return times


async def run(args: argparse.Namespace, redis_url: str) -> list[tuple[str, dict[str, list[float]]]]:
    results = [("memory", await measure(MemoryStore(), args.rounds))]
    store = RedisStore(redis_url, fail_open=False, key_prefix=f"bench{uuid.uuid4().hex[:8]}:")
    try:
        results.append(("redis", await measure(store, args.rounds)))
        assert store.status["available"], store.status
    finally:
        await store.close()
    return results


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=2000)
    parser.add_argument("--redis-url", default=None, help="an existing Redis (default: start redis-server on a free port)")
    args = parser.parse_args()
    import uvloop

    server = None
    if args.redis_url is None:
        from redis_server import REDIS_SERVER, RedisServer

        if REDIS_SERVER is None:
            print("redis-server is not installed: apt-get install -y redis-server", file=sys.stderr)
            return 2
        server = RedisServer(appendfsync="everysec").start()
    try:
        results = uvloop.run(run(args, args.redis_url or server.url))  # type: ignore[union-attr]
    finally:
        if server is not None:
            server.close()
    print(f"{args.rounds} rounds (one reserve of 4 charges + one adjust of 4 deltas), wall time in ms\n")
    print(f"{'store':8} {'reserve p50':>12} {'adjust p50':>11} {'round p50':>10} {'round p99':>10} {'target p50':>11}")
    failed = False
    for name, times in results:
        p50 = statistics.median(times["round"])
        ok = p50 <= TARGETS_MS[name]
        failed |= not ok
        print(
            f"{name:8} {statistics.median(times['reserve']):12.3f} {statistics.median(times['adjust']):11.3f} "
            f"{p50:10.3f} {percentile(times['round'], 0.99):10.3f} {'<= ' + str(TARGETS_MS[name]):>8} {'ok' if ok else 'MISSED'}"
        )
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
