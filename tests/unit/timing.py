"""Timing for the linear-time checks on adversarial inputs (shared by the detector tests)."""

from __future__ import annotations

import time
from collections.abc import Callable


def best_cpu_time(fn: Callable[[], object], runs: int = 3) -> float:
    """CPU seconds of the fastest of a few runs: what the code costs, not what a busy machine adds."""
    best = float("inf")
    for _ in range(runs):
        t0 = time.process_time()
        fn()
        best = min(best, time.process_time() - t0)
    return best


def assert_linear_on_64k(scan: Callable[[str], object], text: str, name: str) -> None:
    """A 64 KB adversarial input is scanned in under 50 ms of CPU (after a warm-up on its first 1 KB):
    what a pattern with catastrophic backtracking could never do."""
    assert len(text) >= 60000
    scan(text[:1000])
    assert best_cpu_time(lambda: scan(text)) < 0.05, name
