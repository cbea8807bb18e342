"""What every bench module shares: paths, the loopback host, the error type and the run's options.

bench/ is not a package. run.py is started as a script, so bench/ is sys.path[0] and the sibling
modules import each other by plain name (`from common import ...`).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

BENCH_DIR = Path(__file__).resolve().parent
REPO = BENCH_DIR.parent

HOST = "127.0.0.1"
RESULTS_DIR = BENCH_DIR / "results"
RUN_DIR = RESULTS_DIR / "run"  # configs, keys, audit log and process logs of the latest run
# The measurement plan: latency with one connection, throughput with enough to keep every server busy.
LATENCY_CONCURRENCY = 1
THROUGHPUT_CONCURRENCY = 32


class BenchError(Exception):
    """The benchmark cannot produce meaningful numbers; the message says why."""


@dataclass(frozen=True)
class Options:
    """The run as the command line asked for it (run.py parses it; wrk runs and the report read it)."""

    duration_s: float
    warmup_s: float
    rounds: int
    threads: int
    setups: list[str]
    workloads: list[str]
    server_cpus: frozenset[int] | None
    client_cpus: frozenset[int] | None
