"""The numbers over rounds and the markdown report: medians, differences to the baselines, targets.

Absolute numbers on this shared machine say little about production; the differences and ratios
between setups measured side by side do, so the table is built around them and the targets are
stated against the baselines (A: Envoy alone, B: noop ext_proc). See bench/README.md.
"""

from __future__ import annotations

import datetime as dt
import os
import platform
import re
import statistics
from dataclasses import dataclass, field

from common import LATENCY_CONCURRENCY, THROUGHPUT_CONCURRENCY, Options
from processes import run_bounded
from setups import Setup, envoy_binary
from workloads import Workload

TARGET_ADDED_P50_MS = 1.5
TARGET_NOOP_RATIO = 1.2


@dataclass
class Samples:
    """Per (workload, setup): one value per round for each metric."""

    p50: dict[tuple[str, str], list[float]] = field(default_factory=dict)
    p99: dict[tuple[str, str], list[float]] = field(default_factory=dict)
    rps: dict[tuple[str, str], list[float]] = field(default_factory=dict)

    def add(self, metric: str, workload: str, setup: str, value: float) -> None:
        getattr(self, metric).setdefault((workload, setup), []).append(value)

    def median(self, metric: str, workload: str, setup: str) -> float | None:
        values = getattr(self, metric).get((workload, setup))
        return statistics.median(values) if values else None


def fmt(value: float | None, digits: int = 3, suffix: str = "") -> str:
    """A table cell; a dash where a setup was not run (e.g. --setups A,C has no noop baseline)."""
    return "—" if value is None else f"{value:.{digits}f}{suffix}"


def diff(a: float | None, b: float | None) -> float | None:
    """a - b, or None when either is missing."""
    return None if a is None or b is None else a - b


def ratio(a: float | None, b: float | None) -> float | None:
    """a / b, or None when either is missing or b is not positive (no meaningful ratio)."""
    return None if a is None or b is None or b <= 0 else a / b


def machine_line(opts: Options) -> str:
    """Where the numbers come from: without it, results from different machines get compared."""
    envoy = run_bounded([envoy_binary(), "--version"], 30).stdout
    envoy_version = re.search(r"/(\d+\.\d+\.\d+)/", envoy)
    return (
        f"nproc {len(os.sched_getaffinity(0))} ({platform.machine()}, Linux {platform.release()}), "
        f"Envoy {envoy_version[1] if envoy_version else envoy.strip() or '?'} (--concurrency 1), "
        f"Python {platform.python_version()}, wrk -t{opts.threads}; {pinning(opts)}"
    )


def pinning(opts: Options) -> str:
    """The CPU layout, which changes throughput a lot (see bench/README.md, "Why ratios, and why pinning")."""
    if opts.server_cpus is None or opts.client_cpus is None:
        return "no CPU pinning"
    cpus = lambda c: ",".join(map(str, sorted(c)))  # noqa: E731
    return f"wrk pinned to CPU {cpus(opts.client_cpus)}, Envoy/ext_proc/upstream to CPU {cpus(opts.server_cpus)}"


def header_lines(opts: Options) -> list[str]:
    """Title, machine and run parameters, then the table head: the context a reader needs for the numbers."""
    return [
        f"# ztgate benchmark, {dt.datetime.now().astimezone():%Y-%m-%d %H:%M %Z}",
        "",
        f"Machine: {machine_line(opts)}.",
        f"Runs: {opts.duration_s:g} s each, {opts.rounds} round(s) interleaved A/B/C, warm-up {opts.warmup_s:g} s; "
        f"latency at concurrency {LATENCY_CONCURRENCY}, throughput at concurrency {THROUGHPUT_CONCURRENCY}; "
        "values are medians over rounds.",
        "",
        "| workload | setup | p50 ms | p99 ms | added p50 ms | added p99 ms | added p50 vs noop | "
        f"req/s c={THROUGHPUT_CONCURRENCY} | req/s vs Envoy alone |",
        "|---|---|---:|---:|---:|---:|---:|---:|---:|",
    ]


def per_round_lines(samples: Samples, setups: list[Setup], workloads: list[Workload]) -> list[str]:
    """Every round's value, not just the median: the spread says whether a difference is real."""
    lines = ["", "Per round (p50 ms at c=1 / req/s at c=32):", ""]
    for w in workloads:
        for s in setups:
            p50s = ", ".join(f"{v:.3f}" for v in samples.p50.get((w.key, s.key), []))
            rpss = ", ".join(f"{v:.0f}" for v in samples.rps.get((w.key, s.key), []))
            lines.append(f"- {w.key} {s.label}: {p50s} / {rpss}")
    return lines


def render_report(samples: Samples, setups: list[Setup], workloads: list[Workload], opts: Options) -> tuple[str, bool]:
    """The markdown report and whether every target passed."""
    lines = header_lines(opts)
    targets: list[str] = []
    passed = True
    for w in workloads:
        base = {m: samples.median(m, w.key, "A") for m in ("p50", "p99", "rps")}
        noop_added = diff(samples.median("p50", w.key, "B"), base["p50"])
        for s in setups:
            p50, p99, rps = (samples.median(m, w.key, s.key) for m in ("p50", "p99", "rps"))
            is_base = s.key == "A"
            added50 = None if is_base else diff(p50, base["p50"])
            added99 = None if is_base else diff(p99, base["p99"])
            vs_noop = ratio(added50, noop_added) if s.key == "C" else None
            lines.append(
                f"| {w.title} | {s.label} | {fmt(p50)} | {fmt(p99)} | {fmt(added50)} | {fmt(added99)} | "
                f"{fmt(vs_noop, 2, 'x')} | {fmt(rps, 0)} | {fmt(ratio(rps, base['rps']), 2)} |"
            )
            if s.key == "C":
                ok1 = added50 is not None and added50 <= TARGET_ADDED_P50_MS
                ok2 = vs_noop is not None and vs_noop <= TARGET_NOOP_RATIO
                passed = passed and ok1 and ok2
                targets.append(
                    f"- {w.title}: ztgate added p50 <= {TARGET_ADDED_P50_MS} ms: "
                    f"{'PASS' if ok1 else 'FAIL'} ({fmt(added50, 3, ' ms')})"
                )
                targets.append(
                    f"- {w.title}: ztgate added p50 <= {TARGET_NOOP_RATIO}x noop added p50: "
                    f"{'PASS' if ok2 else 'FAIL'} ({fmt(vs_noop, 2, 'x')})"
                )
    if targets:
        lines += ["", "Targets:", *targets]
    lines += per_round_lines(samples, setups, workloads)
    return "\n".join(lines) + "\n", passed
