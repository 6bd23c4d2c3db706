"""Latency sampling, memory and CPU time: what the benchmarks measure, in one place."""

from __future__ import annotations

import os
import resource
import statistics
import sys
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


def peak_rss_mb() -> float:
    """This process's peak resident memory so far."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def release_memory() -> None:
    """Collect, then hand the C heap's free pages back to the OS (glibc's ``malloc_trim``), as
    the end of a process would: an import's frozen projects are ~1 KB ``bytes`` objects on the
    C heap. After a 1.0 import the projection phase in the same process ran ~12 % slower than
    in a fresh one; with the trim (RSS 269 -> 204 MB) the rebuild was back at a fresh process's
    rate, though the catch-up not in every run, so the heap is a likely cause, not a proven one
    (docs/performance.md, "Frozen tier"). A no-op where there is no glibc."""
    import ctypes
    import ctypes.util
    import gc

    gc.collect()
    name = ctypes.util.find_library("c")
    if name is None:
        return
    trim = getattr(ctypes.CDLL(name), "malloc_trim", None)
    if trim is not None:
        trim(0)


class GcClock:
    """Seconds the cyclic garbage collector has run in this process since :meth:`start`, and
    how many full (oldest-generation) collections: what a large heap costs besides its size."""

    def __init__(self) -> None:
        self.seconds = 0.0
        self.full = 0
        self._t0 = 0.0

    def _tick(self, phase: str, info: dict[str, Any]) -> None:
        if phase == "start":
            self._t0 = time.perf_counter()
        else:
            self.seconds += time.perf_counter() - self._t0
            self.full += info.get("generation") == 2

    def start(self) -> GcClock:
        import gc

        gc.callbacks.append(self._tick)
        return self


def cpu_s() -> float:
    """This process's CPU time: on a shared machine, wall-clock rates say more about the others."""
    ru = resource.getrusage(resource.RUSAGE_SELF)
    return ru.ru_utime + ru.ru_stime


def machine() -> dict[str, Any]:
    """What a figure was measured on: the load (the machine is shared), cores, Python."""
    return {"load": os.getloadavg()[0], "nproc": os.cpu_count(), "python": sys.version.split()[0]}
