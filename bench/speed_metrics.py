"""What the Prometheus metrics cost: Metrics.exchange per finished exchange, and one scrape (a measurement, not a test).

    .venv/bin/python bench/speed_metrics.py [--rounds 20000] [--identities 1000]

Per exchange: the record a real allowed chat exchange hands to its observers (audit event with usage
and cost, an identity in two groups, eight phases including a response_policy, input findings), fed
to Metrics.exchange once per round. Callers rotate over --identities subjects, so the per-identity
children are all created during warm-up and the measurement is the steady state. Then a scrape
(Metrics.scrape, the /metrics body) with those series present, which runs on the event loop between
requests, and one without the per-identity series.
Target (issue 6): well under 50 us per exchange.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "server"))

from ztgate.config import MetricsConfig  # noqa: E402
from ztgate.reload import PolicyStatus  # noqa: E402
from ztgate.telemetry.audit import audit_event, identity_fields  # noqa: E402
from ztgate.telemetry.metrics import Metrics  # noqa: E402
from ztgate.telemetry.observe import ExchangeRecord, Phase  # noqa: E402
from ztgate.usage.memory_store import MemoryStore  # noqa: E402

TARGET_US = 50.0
PHASES_US = (
    ("identify", 15), ("parse", 40), ("detect", 280), ("usage", 25), ("policy", 650),
    ("upstream", 900_000), ("response_scan", 120), ("response_policy", 500),
)  # fmt: skip
MODELS = ("gpt-4o", "gpt-4o-mini", "o3", "claude-sonnet-4-5")


class Caller:
    def __init__(self, subject: str, groups: tuple[str, ...]) -> None:
        self.subject, self.groups, self.method, self.key_id = subject, groups, "api_key", "k1"


def records(identities: int) -> list[ExchangeRecord]:
    out = []
    start = time.time_ns()
    for i in range(identities):
        caller = Caller(f"user{i}@corp.example", (f"team{i % 20}", "developers"))
        event = audit_event(
            time=start / 1e9, request_id=f"req-{i}", status=200, latency_ms=902.0,
            identity=caller, provider="openai", operation="chat_completions", model=MODELS[i % len(MODELS)],
            stream=bool(i % 2), decision={"allowed": True, "http_status": 200, "reasons": [], "decision_id": "d" * 32, "policy_revision": "r1"},
            upstream_latency_ms=900.0,
            usage={"input_tokens": 520, "output_tokens": 180, "cached_input_tokens": 256, "cost_usd": 0.0031},
            findings={"pii:email": 1},
        )  # fmt: skip
        assert event["identity"] == identity_fields(caller)
        phases, at = [], start
        for name, us in PHASES_US:
            phases.append(Phase(name, at, at + us * 1000))
            at += us * 1000
        out.append(ExchangeRecord(event, phases, {}, start, at, caller.groups))
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=20000)
    parser.add_argument("--identities", type=int, default=1000)
    args = parser.parse_args()
    store = MemoryStore()
    metrics = Metrics(MetricsConfig(max_identities=args.identities), policy=PolicyStatus(revision="r1"), store_status=lambda: store.status)
    batch = records(args.identities)
    for record in batch:  # warm-up: every label child exists
        metrics.exchange(record)
    clock = time.perf_counter_ns
    per_call: list[float] = []
    n = len(batch)
    for i in range(args.rounds):
        record = batch[i % n]
        t0 = clock()
        metrics.exchange(record)
        per_call.append((clock() - t0) / 1000)
    per_call.sort()
    p50, p99 = per_call[len(per_call) // 2], per_call[int(len(per_call) * 0.99)]
    print(f"Metrics.exchange: p50 {p50:.1f} us, p99 {p99:.1f} us, mean {statistics.fmean(per_call):.1f} us over {args.rounds} exchanges")
    scrapes = []
    for _ in range(5):
        t0 = clock()
        body = metrics.scrape()
        scrapes.append((clock() - t0) / 1e6)
    series = sum(1 for line in body.splitlines() if line and not line.startswith(b"#"))
    print(f"scrape: {min(scrapes):.1f} ms (best of 5) for {series} samples, {len(body) / 1024:.0f} KiB")
    without = Metrics(MetricsConfig(per_identity=False))
    for record in batch:
        without.exchange(record)
    t0 = clock()
    body = without.scrape()
    series = sum(1 for line in body.splitlines() if line and not line.startswith(b"#"))
    print(f"scrape without per-identity series: {(clock() - t0) / 1e6:.1f} ms for {series} samples")
    ok = p50 < TARGET_US
    print(f"target p50 < {TARGET_US:.0f} us: {'met' if ok else 'MISSED'}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
