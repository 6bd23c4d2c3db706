"""National-scale benchmark (not a test): a synthetic year of linkage funds (衔接资金) for all of China.

    python -m bench.national --scale 0.01                      # SQLite, temporary file
    python -m bench.national --scale 0.1 --db postgresql+psycopg://postgres@127.0.0.1:5432/test
    python -m bench.national --scale 1.0 --db /tmp/national.db --keep

At ``--scale 1.0``: 31 provincial roots × 3 tasks, ~330 prefectures, ~2,850 counties, ~150,000
projects, ~3,000,000 payments (~3.5 M events). Prefectures, counties, projects and payments scale
with ``--scale``; the 31 provinces and 3 tasks do not.

Measured, on the store ``--db`` names (SQLite file or PostgreSQL, a fresh schema per run):

- import through the ledger, in ``app.batch()`` chunks of ``--chunk`` aggregates: the tree, then
  projects (register + allocate), then payments in ``--months`` passes (monthly/quarterly files:
  each pass loads every project again, as a real import of that month's payments would);
- the same number of events written by the bare ``eventsourcing`` library with the same
  persistence module (plain recorder, 1,000 new aggregates per save; 200 on PostgreSQL, see
  ``BARE_PER_SAVE``) — the baseline of the ratio;
- a full projection rebuild from position 0 into fresh tables (a new SQLite file / new schema);
- ``balance UNIT`` and ``trace ID`` p50/p95 with the projections' own query functions;
- peak RSS of this process (resource.getrusage) and the store's size on disk.

The last line printed is one JSON object. Targets: import ≥ 0.6× bare; rebuild ≥ 100k events/s;
peak RSS < 300 MB; query p95 < 50 ms. Results and profiles: docs/performance.md.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

from eventsourcing.application import Application
from eventsourcing.domain import Aggregate, event
from sqlalchemy import Engine, text

from bench.timing import GcClock, peak_rss_mb, release_memory, timed
from ledger.application import BudgetLedger
from ledger.commands import (
    AddProjectCommand,
    AllocateCommand,
    ForwardCommand,
    IssueCommand,
    PayCommand,
    build,
)
from ledger.store import StoreConfig, parse_store_url
from projections.balances import balance
from projections.db import engine_for
from projections.journal import View
from projections.lineage import trace_down, trace_up
from projections.updater import Projector, drop_schema

TASKS = ("巩固拓展脱贫攻坚成果和乡村振兴任务", "少数民族发展任务", "以工代赈任务")
PROVINCES = 31
MAX_PAYMENT_FEN = 50_000 * 100  # one payment is 1,000–50,000 元
SAMPLED = 2000  # payment ids kept for the trace --up queries
GC = GcClock()  # started by main(): the collector's share of the import
YEAR = 2025


@dataclass(frozen=True)
class Shape:
    prefectures: int
    counties: int
    projects: int
    payments: int

    @classmethod
    def at(cls, scale: float) -> Shape:
        pref = max(PROVINCES, round(330 * scale))
        counties = max(pref, round(2850 * scale))
        projects = max(counties, round(150_000 * scale))
        return cls(pref, counties, projects, max(projects, round(3_000_000 * scale)))

    # The tree: prefecture f in province f % 31, county c in prefecture c % prefectures,
    # project k in county k % counties, funded by that county's indicator for task_of(k).
    def payments_of(self, k: int) -> int:
        base, extra = divmod(self.payments, self.projects)
        return base + (1 if k < extra else 0)

    def task_of(self, k: int) -> int:
        """Round-robin over the 3 tasks within each county (k % 3 would give a county one task
        when the county count is a multiple of 3)."""
        return (k // self.counties) % 3

    def projects_of_county(self, c: int) -> range:
        return range(c, self.projects, self.counties)

    def county_amounts(self) -> list[list[int]]:
        """What each county indicator (county, task) must hold: its projects' allocations."""
        amounts = [[0, 0, 0] for _ in range(self.counties)]
        for k in range(self.projects):
            amounts[k % self.counties][self.task_of(k)] += self.payments_of(k) * MAX_PAYMENT_FEN
        return amounts


def root_id(p: int, t: int) -> str:
    return f"R{p:02d}-{t}"


def pref_id(f: int, t: int) -> str:
    return f"F{f:03d}-{t}"


def county_id(c: int, t: int) -> str:
    return f"C{c:04d}-{t}"


def project_id(k: int) -> str:
    return f"X{k:06d}"


def rss_mb() -> float:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return 0.0



def say(msg: str) -> None:
    print(msg, flush=True)


# ---- import through the ledger ---------------------------------------------------------------


def import_tree(app: BudgetLedger, s: Shape) -> None:
    county = s.county_amounts()
    pref = [[0, 0, 0] for _ in range(s.prefectures)]
    for c in range(s.counties):
        for t in range(3):
            pref[c % s.prefectures][t] += county[c][t]
    for p in range(PROVINCES):  # one save per province: its 3 roots and everything under them
        with app.batch() as b:
            prefs = list(range(p, s.prefectures, PROVINCES))
            b.preload(indicator_ids=[  # as an import does: its new ids checked in one query
                i for t in range(3) for i in (
                    root_id(p, t), *(pref_id(f, t) for f in prefs),
                    *(county_id(c, t) for f in prefs for c in range(f, s.counties, s.prefectures)))])
            for t, task in enumerate(TASKS):
                b.issue(build(IssueCommand, indicator_id=root_id(p, t), unit=f"省{p:02d}",
                              amount=sum(pref[f][t] for f in prefs), doc=f"财农〔{YEAR - 1}〕{p}号",
                              effective_date=f"{YEAR - 1}-11-20", year=YEAR, task=task,
                              source="central", tracking=True, direct=True, actor="bench"))
                for f in prefs:
                    b.forward(build(ForwardCommand, parent_id=root_id(p, t), child_id=pref_id(f, t),
                                    unit=f"地市{f:03d}", amount=pref[f][t], doc=f"省财{p}-{f}",
                                    effective_date=f"{YEAR - 1}-12-10", actor="bench"))
                    for c in range(f, s.counties, s.prefectures):
                        b.forward(build(ForwardCommand, parent_id=pref_id(f, t),
                                        child_id=county_id(c, t), unit=f"县{c:04d}",
                                        amount=county[c][t], doc=f"市财{f}-{c}",
                                        effective_date=f"{YEAR - 1}-12-20", actor="bench"))


def projects_in_county_order(s: Shape) -> Iterator[int]:
    for c in range(s.counties):
        yield from s.projects_of_county(c)


def chunked(it: Iterator[int], n: int) -> Iterator[list[int]]:
    chunk: list[int] = []
    for x in it:
        chunk.append(x)
        if len(chunk) == n:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


def import_projects(app: BudgetLedger, s: Shape, chunk: int) -> None:
    for ks in chunked(projects_in_county_order(s), chunk):
        with app.batch() as b:
            b.preload([project_id(k) for k in ks],  # as the projects importer does
                      indicator_ids={county_id(k % s.counties, s.task_of(k)) for k in ks})
            for k in ks:
                c = k % s.counties
                b.add_project(build(AddProjectCommand, project_id=project_id(k), unit=f"县{c:04d}",
                                    name=f"项目{k}", category="产业发展", doc=f"立项{k}",
                                    effective_date=f"{YEAR}-01-15", actor="bench"))
                b.allocate(build(AllocateCommand, indicator_id=county_id(c, s.task_of(k)),
                                 project_id=project_id(k), amount=s.payments_of(k) * MAX_PAYMENT_FEN,
                                 effective_date=f"{YEAR}-02-01", doc=f"分配{k}", actor="bench"))


def month_of(i: int, n: int, months: int) -> int:
    """Payment i of n falls in pass 0..months-1 (spread evenly, in order)."""
    return i * months // n


def import_payments(app: BudgetLedger, s: Shape, chunk: int, months: int,
                    sample: list[str], rng: random.Random) -> None:
    seen, step = 0, max(1, s.payments // SAMPLED)
    for m in range(months):
        month = 3 + m * 9 // months  # passes from March to December
        for ks in chunked(projects_in_county_order(s), chunk):
            with app.batch() as b:
                b.preload([project_id(k) for k in ks])  # as the payments importer does
                for k in ks:
                    n = s.payments_of(k)
                    prj = project_id(k)
                    for i in range(n):
                        if month_of(i, n, months) != m:
                            continue
                        pid = b.pay(build(PayCommand, project_id=prj,
                                          amount=rng.randint(1000, 50_000) * 100,
                                          payee=f"承包商{(k + i) % 997}", voucher=f"{prj}-{i}",
                                          labour=(i % 5 == 0),
                                          effective_date=date(YEAR, month, 1 + i % 28),
                                          actor="bench"))
                        seen += 1  # every step-th payment id, for trace --up: ~2,000 over
                        if seen % step == 0:  # all passes, without a draw per payment
                            sample.append(pid)
        c = app.aggregate_cache  # hits and misses so far, over every pass
        say(f"  payments pass {m + 1}/{months}: {app.last_position():,} events, RSS {rss_mb():.0f} MB; "
            f"cache so far: {c.hits:,} hits ({c.thawed:,} thawed), {c.misses:,} misses; "
            f"gc so far {GC.seconds:.1f} s ({GC.full} full)")


# ---- the bare library, same persistence -------------------------------------------------------


class BareAccount(Aggregate):
    """As close to a ledger project as the bare library gets: created, then paid into."""

    @event("Opened")
    def __init__(self, name: str, unit: str, amount: int) -> None:
        self.name, self.unit, self.amount, self.paid = name, unit, amount, 0

    @event("Paid")
    def pay(self, amount: int, payee: str, voucher: str, effective_date: str) -> None:
        self.paid += amount


#: aggregates per save of the bare library. On PostgreSQL, 1,000 (~23,000 events, one composite
#: array of ~7 MB) hung in the library's pipelined insert (psycopg 3.3.9, eventsourcing 9.5.6:
#: the client in Pipeline.sync, the server in ClientRead) in 3 of 4 runs; 200 is ~4,600 events
#: per save, about what the import's payment batches save (1,000 projects x ~5 payments).
BARE_PER_SAVE = {"sqlite": 1000, "postgres": 200}


def bare_library(config: StoreConfig, events: int, per_aggregate: int, per_save: int) -> float:
    """Write ``events`` events with the plain library recorder; returns events/s."""
    env = {k: v for k, v in config.env.items() if k != "APPLICATION_RECORDER_TOPIC"}
    app = Application(env=env)
    rng = random.Random(3)
    written, n = 0, 0
    t0 = time.perf_counter()
    while written < events:
        batch = []
        for _ in range(per_save):
            if written >= events:
                break
            acc = BareAccount(name=f"项目{n}", unit=f"县{n % 2850:04d}", amount=10**9)
            n += 1
            for i in range(min(per_aggregate, events - written) - 1):
                acc.pay(amount=rng.randint(1000, 50_000) * 100, payee=f"承包商{i}",
                        voucher=f"V{n}-{i}", effective_date=f"{YEAR}-03-{1 + i % 28:02d}")
            written += len(acc.pending_events)
            batch.append(acc)
        app.save(*batch)
    elapsed = time.perf_counter() - t0
    app.close()
    return written / elapsed


# ---- stores ----------------------------------------------------------------------------------


class Store:
    """A fresh place to run: a SQLite file, or a new schema on the PostgreSQL server."""

    def __init__(self, db: str | None, keep: bool, reuse: bool = False) -> None:
        self.keep = keep or reuse
        self.tmp = None if db else tempfile.TemporaryDirectory(prefix="bench-")
        self.schemas: list[str] = []
        if db and db.startswith("postgres"):
            self.kind, self.base = "postgres", db.split("?")[0]
            # --reuse: the schema a run kept (its URL's ?schema=), else a new one
            self.url = db if reuse else self.new_schema("bench")
        else:
            self.kind = "sqlite"
            path = Path(db) if db else Path(self.tmp.name) / "national.db"  # type: ignore[union-attr]
            for p in path.parent.glob(path.name + "*"):
                if not reuse:
                    p.unlink()
            self.url = f"sqlite:///{path}"

    def _psql(self, sql: str) -> Any:
        import psycopg

        with psycopg.connect(self.base.replace("postgresql+psycopg://", "postgresql://"),
                             autocommit=True) as conn:
            cur = conn.execute(sql)
            return cur.fetchall() if cur.description else None

    def new_schema(self, prefix: str) -> str:
        name = f"{prefix}_{uuid.uuid4().hex[:8]}"
        self._psql(f'CREATE SCHEMA "{name}"')
        self.schemas.append(name)
        return f"{self.base}?schema={name}"

    def sibling(self, suffix: str) -> str:
        """Another empty store next to the main one (bare library, rebuild target)."""
        if self.kind == "postgres":
            return self.new_schema(f"bench_{suffix}")
        path = Path(parse_store_url(self.url).sqlite_path or "")
        other = path.with_name(f"{path.stem}-{suffix}{path.suffix}")
        for p in other.parent.glob(other.name + "*"):
            p.unlink()
        return f"sqlite:///{other}"

    def size_mb(self, url: str) -> float:
        cfg = parse_store_url(url)
        if cfg.kind == "sqlite":
            path = Path(cfg.sqlite_path or "")
            return sum(p.stat().st_size for p in path.parent.glob(path.name + "*")) / 2**20
        rows = self._psql(
            "SELECT coalesce(sum(pg_total_relation_size(format('%I.%I', schemaname, tablename))), 0) "
            f"FROM pg_tables WHERE schemaname = '{cfg.schema}'"
        )
        return float(rows[0][0]) / 2**20

    def engine(self, url: str) -> Engine:
        return engine_for(parse_store_url(url))

    def count_events(self, app: BudgetLedger) -> int:
        """Stored events (PostgreSQL ids may have gaps, so not the head position)."""
        if self.kind == "sqlite":
            return app.last_position()
        table = app.recorder.events_table_name  # type: ignore[attr-defined]
        return int(self._psql(f'SELECT count(*) FROM "{app.config.schema}"."{table}"')[0][0])

    def cleanup(self) -> None:
        if self.keep:
            say(f"kept: {self.url}" + (f" (+ schemas {self.schemas})" if self.schemas else ""))
            return
        for name in self.schemas:
            self._psql(f'DROP SCHEMA "{name}" CASCADE')
        if self.tmp is not None:
            self.tmp.cleanup()




def first_payment_moment(app: BudgetLedger) -> datetime:
    """Just before the first payment was recorded (a --known-at with the tree and projects only)."""
    from datetime import timedelta

    (note,) = app.recorder.select_notifications(1, 1, topics=["budget_ledger.Project.PaymentMade"])
    return app.mapper.to_domain_event(note).timestamp - timedelta(microseconds=1)


def main(argv: list[str] | None = None) -> dict[str, Any]:
    ap = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    ap.add_argument("--scale", type=float, default=0.01)
    ap.add_argument("--db", default=None, help="SQLite file or postgresql+psycopg://… URL "
                                               "(default: a temporary SQLite file)")
    ap.add_argument("--chunk", type=int, default=1000, help="aggregates per app.batch() save")
    ap.add_argument("--months", type=int, default=4, help="payment import passes (files)")
    ap.add_argument("--rebuild-batch", type=int, default=10_000, help="events per projector batch")
    ap.add_argument("--skip-catchup", action="store_true", help="do not measure catch-up separately")
    ap.add_argument("--reuse", action="store_true",
                    help="no import: measure the projections and queries of a store kept earlier (--db FILE, or a PostgreSQL URL with ?schema=)")
    ap.add_argument("--skip-python-rebuild", action="store_true",
                    help="do not measure the rebuild into another database (Python writer)")
    ap.add_argument("--samples", type=int, default=200, help="timed calls per query")
    ap.add_argument("--skip-bare", action="store_true")
    ap.add_argument("--keep", action="store_true", help="keep the stores afterwards")
    args = ap.parse_args(argv)
    GC.start()

    s = Shape.at(args.scale)
    if args.reuse and not (args.db and (not args.db.startswith("postgres") or "schema=" in args.db)):
        ap.error("--reuse needs --db FILE or a PostgreSQL URL with ?schema=: a store kept by an "
                 "earlier run (--keep)")
    store = Store(args.db, args.keep, reuse=args.reuse)
    say(f"national benchmark: scale {args.scale} on {store.kind}: {PROVINCES * 3} roots, "
        f"{s.prefectures} prefectures, {s.counties} counties, {s.projects:,} projects, "
        f"{s.payments:,} payments")
    rng = random.Random(2025)
    result: dict[str, Any] = {"scale": args.scale, "store": store.kind}
    try:
        app = BudgetLedger.open(store.url)
        phases: dict[str, float] = {}
        moments: dict[str, datetime] = {}  # when each phase was known: for --known-at queries
        sample: list[str] = []
        t_all = time.perf_counter()
        for name, step in () if args.reuse else (
            ("tree", lambda: import_tree(app, s)),
            ("projects", lambda: import_projects(app, s, args.chunk)),
            ("payments", lambda: import_payments(app, s, args.chunk, args.months, sample, rng)),
        ):
            t0 = time.perf_counter()
            step()
            phases[name] = time.perf_counter() - t0
            moments[name] = datetime.now(UTC)
            say(f"  import {name}: {phases[name]:.1f} s, {app.last_position():,} events, "
                f"RSS {rss_mb():.0f} MB")
        checkpointer = getattr(app.recorder, "checkpointer", None)
        if checkpointer is not None:  # SQLite: timed until the last save's pages are in the file
            checkpointer.settle()
        import_s = time.perf_counter() - t_all
        import_gc_s, import_gc_full = GC.seconds, GC.full
        import_peak = peak_rss_mb()
        # what an import leaves in memory is its own process's, which ends there: the
        # projections and queries below start without its aggregates (as `budget-ledger` would)
        app.aggregate_cache.clear()
        release_memory()
        events = store.count_events(app)
        import_rate = 0.0 if args.reuse else events / import_s
        if args.reuse:  # known-at: just before the first payment was recorded
            moments["projects"] = first_payment_moment(app)
            say(f"reusing {events:,} events in {store.url}")
        else:
            say(f"import: {events:,} events in {import_s:.1f} s = {import_rate:,.0f} events/s "
                f"(payments phase {s.payments / phases['payments']:,.0f} events/s)")

        bare_rate = 0.0
        if not args.skip_bare and not args.reuse:
            per_agg = max(2, round(events / (s.projects + 3 * (PROVINCES + s.prefectures + s.counties))))
            bare_url = store.sibling("bare")
            per_save = BARE_PER_SAVE[store.kind]
            bare_rate = bare_library(parse_store_url(bare_url), events, per_agg, per_save)
            result["bare_aggregates_per_save"] = per_save
            say(f"bare library: {events:,} events, {per_agg}/aggregate, {per_save:,} aggregates per save: "
                f"{bare_rate:,.0f} events/s, peak RSS so far {peak_rss_mb():.0f} MB")

        # the read models in the store's own database, as `budget-ledger` keeps them: catch-up
        # from nothing (the live path: batches committed one by one, indexes kept up to date),
        # then a full rebuild (one transaction, indexes built at the end)
        engine = store.engine(store.url)
        projector = Projector(app, engine=engine, batch_size=args.rebuild_batch)
        size_before = store.size_mb(store.url)
        say(f"  peak RSS before the projections: {peak_rss_mb():.0f} MB")
        catchup_rate = 0.0
        if not args.skip_catchup:
            with engine.begin() as conn:  # from nothing (a reused store may have read models)
                drop_schema(conn)
            projector = Projector(app, engine=engine, batch_size=args.rebuild_batch)
            t0 = time.perf_counter()
            caught = projector.catch_up()
            catchup_rate = caught / (time.perf_counter() - t0)
            say(f"catch-up: {caught:,} events at {catchup_rate:,.0f} events/s, RSS {rss_mb():.0f} MB")
        t0, c0 = time.perf_counter(), time.process_time()
        applied = projector.rebuild(batch_size=args.rebuild_batch)
        rebuild_s = time.perf_counter() - t0
        rebuild_rate = applied / rebuild_s
        # CPU seconds of this process (SQLite runs in it): what a busy shared machine distorts least
        rebuild_cpu_rate = applied / max(time.process_time() - c0, 1e-9)
        say(f"rebuild: {applied:,} events in {rebuild_s:.1f} s = {rebuild_rate:,.0f} events/s "
            f"({rebuild_cpu_rate:,.0f} per CPU second), RSS {rss_mb():.0f} MB")
        read_models_mb = store.size_mb(store.url) - size_before

        # the same rebuild into another database (what verify does): every event through Python
        python_rate = 0.0
        if not args.skip_python_rebuild:
            other = store.engine(store.sibling("rebuild"))
            t0 = time.perf_counter()
            python_rate = Projector(app, engine=other, sql_path=False).rebuild(batch_size=args.rebuild_batch) / (
                time.perf_counter() - t0)
            other.dispose()
            say(f"rebuild into another database (Python writer): {python_rate:,.0f} events/s, "
                f"RSS {rss_mb():.0f} MB")

        if not sample:  # reused store: payments to trace up, drawn from the read models
            with engine.connect() as conn:
                sample = list(conn.execute(text(
                    "SELECT payment_id FROM rm_payments ORDER BY random() LIMIT 2000")).scalars())
        qrng = random.Random(11)
        mid_year = View(as_of=date(YEAR, 6, 30))
        known = View(known_at=moments["projects"])  # before any payment was recorded
        counties = [f"县{c:04d}" for c in range(s.counties)]
        holders = [county_id(c, t) for c in range(s.counties) for t in range(3)]
        with engine.connect() as conn:  # the indicator sizes, to show what a trace walks
            n_ind = conn.execute(text("SELECT count(*) FROM rm_indicators")).scalar_one()
        queries = {
            "balance_county": timed(lambda: balance(engine, qrng.choice(counties)), args.samples),
            "trace_county_indicator": timed(lambda: trace_down(engine, qrng.choice(holders)), args.samples),
            "trace_up_payment": timed(lambda: trace_up(engine, qrng.choice(sample)), args.samples),
            "asof_balance": timed(lambda: balance(engine, qrng.choice(counties), view=mid_year),
                                  args.samples),
            "knownat_balance": timed(lambda: balance(engine, qrng.choice(counties), view=known),
                                     args.samples),
            "asof_trace": timed(lambda: trace_down(engine, qrng.choice(holders), mid_year),
                                args.samples),
        }
        for name, q in queries.items():
            say(f"  {name}: p50 {q['p50_ms']} ms, p95 {q['p95_ms']} ms, max {q['max_ms']} ms")

        result.update({
            "events": events,
            "indicators": n_ind,
            "projects": s.projects,
            "payments": s.payments,
            "import_s": round(import_s, 1),
            "import_phases_s": {k: round(v, 1) for k, v in phases.items()},
            "import_gc_s": round(import_gc_s, 1), "import_gc_full": import_gc_full,
            "import_events_per_s": round(import_rate),
            "bare_library_events_per_s": round(bare_rate),
            "import_ratio": round(import_rate / bare_rate, 2) if bare_rate else None,
            "rebuild_events_per_s": round(rebuild_rate),
            "rebuild_cpu_events_per_s": round(rebuild_cpu_rate),
            "load_avg_1min": round(os.getloadavg()[0], 2),
            "rebuild_python_events_per_s": round(python_rate),
            "catchup_events_per_s": round(catchup_rate),
            "peak_rss_mb": round(peak_rss_mb(), 1),
            "import_peak_rss_mb": round(import_peak, 1),
            "balance_p50_ms": queries["balance_county"]["p50_ms"],
            "balance_p95_ms": queries["balance_county"]["p95_ms"],
            "trace_p50_ms": queries["trace_county_indicator"]["p50_ms"],
            "trace_p95_ms": queries["trace_county_indicator"]["p95_ms"],
            "trace_up_p95_ms": queries["trace_up_payment"]["p95_ms"],
            "asof_balance_p95_ms": queries["asof_balance"]["p95_ms"],
            "knownat_balance_p95_ms": queries["knownat_balance"]["p95_ms"],
            "asof_trace_p95_ms": queries["asof_trace"]["p95_ms"],
            "store_mb": round(store.size_mb(store.url), 1),
            "read_models_mb": round(read_models_mb, 1),
            "chunk": args.chunk,
            "months": args.months,
            "python": sys.version.split()[0],
            "nproc": os.cpu_count(),
        })
        engine.dispose()
        app.close()
    finally:
        store.cleanup()
    print(json.dumps(result, ensure_ascii=False))
    return result


if __name__ == "__main__":
    main()
