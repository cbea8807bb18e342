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
