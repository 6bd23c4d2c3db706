"""Latency sampling shared by the benchmarks."""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from typing import Any


def timed(fn: Callable[[], Any], samples: int) -> dict[str, float]:
    """p50 / p95 / max in milliseconds of ``samples`` calls, after one warm-up call."""
    fn()  # warm the page cache and the connection pool
    ms = []
    for _ in range(samples):
        t0 = time.perf_counter()
        fn()
        ms.append((time.perf_counter() - t0) * 1000)
    ms.sort()
    return {"p50_ms": round(statistics.median(ms), 2),
            "p95_ms": round(ms[max(0, int(0.95 * len(ms)) - 1)], 2), "max_ms": round(ms[-1], 2)}
