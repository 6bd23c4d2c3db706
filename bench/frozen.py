"""What the aggregate cache pays to keep a project frozen (not a test): freeze and thaw times,
frozen bytes, and the live object's size, for projects built as ``bench.national`` builds them.

    python -m bench.frozen                 # projects of 2, 7 and 22 events
    python -m bench.frozen --payments 20 --rounds 200

The last line printed is one JSON object. Results: docs/performance.md, "Payments as columns".
"""

from __future__ import annotations

import argparse
import gc
import json
import time
import tracemalloc
from datetime import date
from typing import Any

from bench.timing import machine
from ledger.project import Project


def build(k: int, payments: int) -> Project:
    """A registered, funded project with ``payments`` payments, its events collected (saved)."""
    prj = f"P{k:07d}"
    p = Project.register(project_id=prj, unit="某县某乡", name=f"项目{k}", category="产业发展",
                         doc="立项文件", effective_date=date(2025, 1, 15), actor="bench")
    p.receive_funding(indicator_id="I-CTY-0001-A", amount=10**9, effective_date=date(2025, 2, 1),
                      actor="bench", doc="分配")
    for i in range(payments):
        p.pay(indicator_id="I-CTY-0001-A", amount=(1000 + i * 37) * 100, payee=f"承包商{i}",
              payee_kind="enterprise", voucher=f"{prj}-{i}", labour=i % 5 == 0,
              effective_date=date(2025, 3 + i * 9 // max(payments, 1), 1 + i % 28),
              actor="bench", doc=None)
    p.collect_events()
    return p


def measure(payments: int, projects: int, rounds: int) -> dict[str, Any]:
    gc.collect()
    tracemalloc.start()
    live = [build(k, payments) for k in range(projects)]
    gc.collect()
    live_bytes = tracemalloc.get_traced_memory()[0] / projects
    tracemalloc.stop()
    t0 = time.perf_counter()
    for _ in range(rounds):
        frozen = [p.freeze() for p in live]
    freeze_us = (time.perf_counter() - t0) / (rounds * projects) * 1e6
    t0 = time.perf_counter()
    for _ in range(rounds):
        thawed = [Project.thaw(f) for f in frozen]
    thaw_us = (time.perf_counter() - t0) / (rounds * projects) * 1e6
    assert all(vars(a).keys() == vars(b).keys() for a, b in zip(live, thawed, strict=True))
    return {"events": live[0].version, "freeze_us": round(freeze_us, 1),
            "thaw_us": round(thaw_us, 1), "frozen_bytes": round(sum(map(len, frozen)) / projects),
            "live_bytes": round(live_bytes)}


def main(argv: list[str] | None = None) -> dict[str, Any]:
    ap = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    ap.add_argument("--payments", type=int, nargs="*", default=[0, 5, 20])
    ap.add_argument("--projects", type=int, default=200)
    ap.add_argument("--rounds", type=int, default=100)
    args = ap.parse_args(argv)
    rows = []
    for n in args.payments:
        row = measure(n, args.projects, args.rounds)
        print(f"{row['events']:>3} events: freeze {row['freeze_us']} µs, thaw {row['thaw_us']} µs, "
              f"{row['frozen_bytes']} B frozen, {row['live_bytes']:,} B live", flush=True)
        rows.append(row)
    out = {"projects": rows, **machine()}
    print(json.dumps(out))
    return out


if __name__ == "__main__":
    main()
