#!/usr/bin/env python3
"""ztgate's benchmark: what ztgate adds to Envoy, against Envoy alone and a do-nothing ext_proc.

One run measures three setups side by side, each behind its own Envoy (--concurrency 1), all talking
to one fake OpenAI upstream (tests/fake_provider.py):

    A  Envoy alone                 render(extproc=False)
    B  Envoy + noop ext_proc       ztgate's Envoy config, ext_proc cluster -> bench/noop_extproc.py
    C  Envoy + ztgate serve        the shipped policy (rego/), a ztgate API key of group "developers"

Workloads: a ~2 KB chat completion with a ~2 KB JSON answer, and the same request streamed back as
200 SSE chunks. Latency p50/p99 at concurrency 1, throughput at concurrency 32, measured with wrk.
Runs are interleaved (per round, per workload, per concurrency: A, B, C back to back) so drift on
this shared machine hits all setups alike. See bench/README.md for how to read the table.

    .venv/bin/python bench/run.py                  # 10 s per run, 2 rounds (about 5 minutes)
    .venv/bin/python bench/run.py --quick          # smoke mode (about 1 minute)
    .venv/bin/python bench/run.py --setups A,B     # without ztgate

This module is the command line and the order of events only. The parts, each imported by plain name
because bench/ (this script's directory) is sys.path[0]: common.py (paths, options, errors),
processes.py (children, readiness, teardown), setups.py (A/B/C and the upstream), workloads.py
(requests and answer checks), wrk.py (the load generator) and report.py (medians, table, targets).
"""

from __future__ import annotations

import argparse
import contextlib
import fcntl
import re
import shutil
import sys
from pathlib import Path
from typing import Iterator

from common import LATENCY_CONCURRENCY, RESULTS_DIR, RUN_DIR, THROUGHPUT_CONCURRENCY, BenchError, Options
from processes import Processes, cpu_layout, signals_raise
from report import Samples, render_report
from setups import SETUPS, ConfigError, Setup, child_env, start_setup, start_upstream, verify
from workloads import WORKLOADS, Workload
from wrk import WrkResult, ensure_wrk, run_wrk


def parse_duration(text: str) -> float:
    """--duration/--warmup values such as 10s, 500ms or 1m (a bare number is seconds)."""
    match = re.fullmatch(r"([\d.]+)(ms|s|m)?", text.strip())
    if not match:
        raise argparse.ArgumentTypeError(f"bad duration {text!r} (e.g. 10s, 500ms, 1m)")
    return float(match[1]) * {"ms": 0.001, "s": 1.0, "m": 60.0, None: 1.0}[match[2]]


def parse_args(argv: list[str] | None) -> tuple[Options, argparse.Namespace]:
    """The options, with --quick defaults and bounds applied, so a typo cannot start an hour-long run."""
    p = argparse.ArgumentParser(description="Benchmark ztgate against Envoy alone and a do-nothing ext_proc.")
    p.add_argument("--duration", type=parse_duration, default=None, help="each wrk run (default 10s; --quick 3s)")
    p.add_argument("--warmup", type=parse_duration, default=None, help="warm-up per setup and workload (default 2s; --quick 1s)")
    p.add_argument("--rounds", type=int, default=None, help="interleaved rounds (default 2; --quick 1)")
    p.add_argument("--quick", action="store_true", help="short smoke run: 3s runs, 1 round")
    p.add_argument("--setups", default="A,B,C", help="which of A (Envoy alone), B (noop), C (ztgate); default A,B,C")
    p.add_argument("--workloads", default="json,sse", help="which of json, sse; default json,sse")
    p.add_argument("--threads", type=int, default=1, help="wrk threads (default 1: leave the cores to the servers)")
    p.add_argument(
        "--cpus", choices=("split", "off"), default="split",
        help="split (default): pin wrk to the last CPU and Envoy, ext_proc and upstream to the others; off: no pinning",
    )  # fmt: skip
    p.add_argument("--out", type=Path, default=RESULTS_DIR / "latest.md", help="where to write the markdown report")
    p.add_argument("--check", action="store_true", help="exit 3 when a target fails")
    args = p.parse_args(argv)
    setups = [s.strip().upper() for s in args.setups.split(",") if s.strip()]
    workloads = [w.strip().lower() for w in args.workloads.split(",") if w.strip()]
    if not setups or any(s not in SETUPS for s in setups):
        p.error(f"--setups takes a comma list of {', '.join(SETUPS)}")
    if not workloads or any(w not in WORKLOADS for w in workloads):
        p.error(f"--workloads takes a comma list of {', '.join(WORKLOADS)}")
    opts = Options(
        duration_s=args.duration if args.duration is not None else (3.0 if args.quick else 10.0),
        warmup_s=args.warmup if args.warmup is not None else (1.0 if args.quick else 2.0),
        rounds=args.rounds if args.rounds is not None else (1 if args.quick else 2),
        threads=max(1, args.threads),
        setups=sorted(set(setups)),
        server_cpus=(layout := cpu_layout(args.cpus))[0],
        client_cpus=layout[1],
        workloads=list(dict.fromkeys(workloads)),
    )
    if opts.duration_s < 1 or opts.duration_s > 600 or not 1 <= opts.rounds <= 20 or opts.warmup_s > 60:
        p.error("keep it bounded: 1s <= --duration <= 600s, 1 <= --rounds <= 20, --warmup <= 60s")
    return opts, args


@contextlib.contextmanager
def single_run() -> Iterator[None]:
    """One benchmark at a time: a second run would wipe the first one's keys and configs, and share its cores."""
    RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    with open(RESULTS_DIR / ".lock", "w") as lock:
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise BenchError("another bench/run.py is running (bench/results/.lock is held)") from None
        yield


def measure(wrk: str, procs: Processes, setups: list[Setup], workloads: list[Workload], opts: Options) -> Samples:
    """Warm up every path, then per round, workload and concurrency run A, B, C back to back."""

    def one(setup: Setup, workload: Workload, concurrency: int, duration_s: float) -> WrkResult:
        try:
            return run_wrk(wrk, setup, workload, concurrency, duration_s, opts)
        finally:
            procs.check_alive()  # a crashed server explains errors better than wrk's counts

    samples = Samples()
    if opts.warmup_s > 0:  # warm up every path once (Python servers, connection pools)
        for workload in workloads:
            for setup in setups:
                one(setup, workload, 4, opts.warmup_s)
    for round_no in range(1, opts.rounds + 1):
        for workload in workloads:
            for concurrency in (LATENCY_CONCURRENCY, THROUGHPUT_CONCURRENCY):
                for setup in setups:  # A, B, C back to back: drift hits all alike
                    r = one(setup, workload, concurrency, opts.duration_s)
                    print(
                        f"round {round_no}/{opts.rounds}  {workload.key:4}  c={concurrency:<2}  {setup.label:24}  "
                        f"p50 {r.p50_ms:7.3f} ms  p99 {r.p99_ms:7.3f} ms  {r.rps:9.1f} req/s",
                        flush=True,
                    )
                    if concurrency == LATENCY_CONCURRENCY:
                        samples.add("p50", workload.key, setup.key, r.p50_ms)
                        samples.add("p99", workload.key, setup.key, r.p99_ms)
                    else:
                        samples.add("rps", workload.key, setup.key, r.rps)
    return samples


def main(argv: list[str] | None = None) -> int:
    """The exit status: 0, 1 (bench failed), 3 (--check and a target failed) or 130 (interrupted)."""
    opts, args = parse_args(argv)
    try:
        with single_run():
            return run(opts, args)
    except BenchError as exc:
        print(f"bench FAILED: {exc}", file=sys.stderr)
        return 1


def run(opts: Options, args: argparse.Namespace) -> int:
    """Start everything, check every answer, measure, report; every child is stopped whatever happens."""
    shutil.rmtree(RUN_DIR, ignore_errors=True)
    RUN_DIR.mkdir(parents=True)
    procs = Processes(child_env(), opts.server_cpus)
    with signals_raise():
        try:
            wrk = ensure_wrk()
            setups = [Setup(key, *SETUPS[key]) for key in opts.setups]
            workloads = [WORKLOADS[key] for key in opts.workloads]
            upstream = start_upstream(procs)
            for setup in setups:
                start_setup(setup, procs, upstream)
            for setup in setups:
                for workload in workloads:
                    verify(setup, workload)
            print(f"all setups answer 200 with the expected body; measuring ({len(setups)} setups)", flush=True)
            samples = measure(wrk, procs, setups, workloads, opts)
            text, passed = render_report(samples, setups, workloads, opts)
        except (BenchError, ConfigError) as exc:
            print(f"\nbench FAILED: {exc}\n(logs and configs in {RUN_DIR})", file=sys.stderr)
            return 1
        except KeyboardInterrupt:
            print("\ninterrupted; stopping everything", file=sys.stderr)
            return 130
        finally:
            procs.stop_all()
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(text)
    print("\n" + text + f"\n(written to {args.out})")
    return 3 if args.check and not passed else 0


if __name__ == "__main__":
    sys.exit(main())
