"""The payments phase of bench/national.py alone, timed per pass and optionally profiled.

    python -m bench.payments_phase --scale 0.1 --profile /tmp/p01.prof

Builds the tree and the projects as bench/national.py does (a temporary SQLite store), then runs
its four payments passes; the last line is JSON: wall and CPU seconds, payment events per CPU
second, each pass's seconds, the load average. Comparing two scales' profiles per event written
is how docs/performance.md ("Streamed payments import and a scan-resistant cache") found what
grows with the store.
"""

from __future__ import annotations

import argparse
import cProfile
import json
import os
import random
import tempfile
import time
from pathlib import Path
from typing import Any

import bench.national as bn
from ledger.application import BudgetLedger


def main(argv: list[str] | None = None) -> dict[str, Any]:
    ap = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    ap.add_argument("--scale", type=float, default=0.01)
    ap.add_argument("--profile", default=None, metavar="FILE", help="cProfile the phase into FILE")
    args = ap.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="pay-phase-") as tmp:
        app = BudgetLedger.open(f"sqlite:///{Path(tmp) / 'l.db'}")
        s = bn.Shape.at(args.scale)
        bn.import_tree(app, s)
        bn.import_projects(app, s, 1000)
        passes: list[float] = []
        last = [time.perf_counter()]
        say = bn.say

        def timed(msg: str) -> None:  # bench.national says one line per pass
            now = time.perf_counter()
            passes.append(round(now - last[0], 2))
            last[0] = now
            say(msg)

        bn.say = timed
        prof = cProfile.Profile() if args.profile else None
        t0, c0 = time.perf_counter(), time.process_time()
        if prof:
            prof.enable()
        bn.import_payments(app, s, 1000, 4, [], random.Random(2025))
        if prof:
            prof.disable()
            prof.dump_stats(args.profile)
        wall, cpu = time.perf_counter() - t0, time.process_time() - c0
        bn.say = say
        cache = app.aggregate_cache
        app.close()
    out = {"scale": args.scale, "payments": s.payments, "wall_s": round(wall, 1),
           "cpu_s": round(cpu, 1), "events_per_cpu_s": round(s.payments / cpu), "passes_s": passes,
           "cache_hits": cache.hits, "cache_misses": cache.misses, "load": os.getloadavg()[0]}
    print(json.dumps(out))
    return out


if __name__ == "__main__":
    main()
