"""Query latency at scale (not a test): ≥ 1 M events, then p50/p95 of `balance UNIT` and `trace ID`.

    python -m bench.query_latency                 # 1,000,000 events into a temporary SQLite file
    python -m bench.query_latency --events 200000 --db /tmp/bench.db --keep

The ledger is shaped like the bundled Tibet table, over several years: a region issues one root
per (year, task), forwards to 7 prefectures, which forward to 74 counties; each county indicator
funds ~N projects (registered, allocated, paid three times, progress reported; one in ten has a
payment reversed). Events are written through the real application, many commands per save
(``app.batch()``), then the read models catch up from position 0, then each query function is
timed on random units and indicators. Prints a JSON summary; the target is p95 < 50 ms on SQLite.
"""

from __future__ import annotations

import argparse
import json
import random
import tempfile
import time
from pathlib import Path
from typing import Any

from bench.timing import timed
from ledger.application import BudgetLedger
from ledger.commands import (
    AddProjectCommand,
    AllocateCommand,
    ForwardCommand,
    IssueCommand,
    PayCommand,
    ProgressCommand,
    ReverseCommand,
    build,
)
from projections.balances import balance
from projections.lineage import trace_down, trace_up
from projections.updater import Projector

TASKS = ("巩固拓展脱贫攻坚成果和乡村振兴任务", "少数民族发展任务", "以工代赈任务")
PREFECTURES = 7
COUNTIES = 74
YEARS = (2021, 2022, 2023, 2024, 2025)
EVENTS_PER_PROJECT = 7.1  # register, allocate ×2, pay ×3, progress; a reversal every tenth
YUAN = 100  # 分


def counties_of(p: int) -> list[str]:
    return [f"县{c:02d}" for c in range(COUNTIES) if c % PREFECTURES == p]


def generate(app: BudgetLedger, target_events: int) -> dict[str, Any]:
    """Write the scenario; returns what the measurements sample from."""
    county_inds = len(YEARS) * len(TASKS) * COUNTIES
    per_county = max(1, round(target_events / county_inds / EVENTS_PER_PROJECT))
    county_amount = per_county * 1_000_000 * YUAN  # 100万 per project
    holders: list[str] = []
    payments: list[str] = []
    with app.batch() as b:  # the tree: roots, prefectures, counties
        for year in YEARS:
            for t, task in enumerate(TASKS):
                root = f"R{year}-{t}"
                total = COUNTIES * county_amount
                b.issue(build(IssueCommand, indicator_id=root, unit="自治区", amount=total,
                              doc=f"藏财〔{year - 1}〕{t}号", effective_date=f"{year - 1}-12-20",
                              year=year, task=task, source="central", tracking=True))
                for p in range(PREFECTURES):
                    counties = counties_of(p)
                    pid = f"{root}-地区{p}"
                    b.forward(build(ForwardCommand, parent_id=root, child_id=pid, unit=f"地区{p}",
                                    amount=len(counties) * county_amount, doc=f"地财{year}-{p}",
                                    effective_date=f"{year - 1}-12-22"))
                    for c in counties:
                        cid = f"{root}-{c}"
                        b.forward(build(ForwardCommand, parent_id=pid, child_id=cid, unit=c,
                                        amount=county_amount, doc=f"县财{year}-{c}",
                                        effective_date=f"{year - 1}-12-26"))
                        holders.append(cid)
    for n, cid in enumerate(holders):  # one save per county indicator: ~900 events
        year = int(cid[1:5])
        unit = cid.rsplit("-", 1)[1]
        with app.batch() as b:
            for k in range(per_county):
                prj = f"{cid}-X{k}"
                b.add_project(build(AddProjectCommand, project_id=prj, unit=unit,
                                    name=f"项目{k}", category="产业发展",
                                    effective_date=f"{year}-01-10"))
                b.allocate(build(AllocateCommand, indicator_id=cid, project_id=prj,
                                 amount=1_000_000 * YUAN, effective_date=f"{year}-01-20"))
                for m in (3, 6, 9):
                    payments.append(b.pay(build(
                        PayCommand, project_id=prj, amount=(100_000 + k) * YUAN,
                        effective_date=f"{year}-{m:02d}-15", payee=f"承包商{k % 50}")))
                b.report_progress(build(ProgressCommand, project_id=prj, percent="60",
                                        effective_date=f"{year}-09-30"))
                if k % 10 == 0:
                    b.reverse(build(ReverseCommand, payment_id=f"{prj}:P3",
                                    effective_date=f"{year}-10-01", reason="重复支付"))
        if n % 100 == 0:
            print(f"  … {n}/{len(holders)} county indicators, {app.last_position():,} events", flush=True)
    return {"holders": holders, "payments": payments, "projects_per_indicator": per_county,
            "units": [f"县{c:02d}" for c in range(COUNTIES)]}




def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--events", type=int, default=1_000_000)
    ap.add_argument("--db", default=None, help="SQLite file (default: a temporary one)")
    ap.add_argument("--samples", type=int, default=300)
    ap.add_argument("--keep", action="store_true", help="keep the database file")
    args = ap.parse_args()
    tmp = None
    if args.db is None:
        tmp = tempfile.TemporaryDirectory()
        args.db = str(Path(tmp.name) / "bench.db")
    app = BudgetLedger.open(f"sqlite:///{args.db}")
    rng = random.Random(7)

    t0 = time.perf_counter()
    plan = generate(app, args.events)
    gen_s = time.perf_counter() - t0
    events = app.last_position()

    projector = Projector(app)
    t0 = time.perf_counter()
    projector.catch_up()
    catch_s = time.perf_counter() - t0
    engine = projector.engine

    holders, payments, units = plan["holders"], plan["payments"], plan["units"]
    summary = {
        "events": events,
        "generate_s": round(gen_s, 1),
        "generate_events_per_s": round(events / gen_s),
        "catch_up_s": round(catch_s, 1),
        "catch_up_events_per_s": round(events / catch_s),
        "projects_per_county_indicator": plan["projects_per_indicator"],
        "balance_county": timed(lambda: balance(engine, rng.choice(units)), args.samples),
        "balance_prefecture": timed(lambda: balance(engine, f"地区{rng.randrange(PREFECTURES)}"),
                                    args.samples),
        "trace_county_indicator": timed(lambda: trace_down(engine, rng.choice(holders)), args.samples),
        "trace_up_payment": timed(lambda: trace_up(engine, rng.choice(payments)), args.samples),
        "target": "p95 < 50 ms",
        "store": "sqlite",
    }
    print(json.dumps(summary, ensure_ascii=False, indent=2))
    app.close()
    if tmp is not None and not args.keep:
        tmp.cleanup()


if __name__ == "__main__":
    main()
