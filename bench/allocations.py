"""Allocation-table benchmark (not a test): a synthetic national edge-list table, imported whole.

    python -m bench.allocations --rows 100000                  # SQLite, temporary files
    python -m bench.allocations --rows 1300000 --profile /tmp/alloc.prof
    python -m bench.allocations --rows 20000 --write-only /tmp/t.csv   # just the file

The tree is bench/national.py's, one level deeper so that a table can reach a million rows:
31 provinces (the tops) → 11 prefectures each → 9 counties each → townships (as many per county as
``--rows`` needs), 3 task columns, an ``area`` and a ``note`` column. Every 50th county is a
资金管理型直管县 listed under its province with its prefecture in ``area`` (Tibet's layout); every
7th township cell of the third task is ``-`` (no indicator). Amounts (万元, two decimals) are
built bottom-up, and a holder keeps a share of what it receives, so every holder closes.

The import is ``import_allocations`` on the file as the CLI reads it, in this process; peak RSS
is this process's (resource.getrusage; the file is written streaming first, a few MB). The last
line printed is one JSON object: rows, events, seconds, rows/s, CPU seconds and rows per CPU
second (the figure to compare on a shared machine), peak RSS, the load average at the end. Results:
docs/performance.md, "Allocation import".
"""

from __future__ import annotations

import argparse
import cProfile
import csv
import json
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from bench.timing import cpu_s, machine, peak_rss_mb

TASKS = ("巩固拓展脱贫攻坚成果和乡村振兴任务", "少数民族发展任务", "以工代赈任务")
PROVINCES = 31
PREFECTURES = 11  # per province
COUNTIES = 9  # per prefecture
DOC = "国财农〔2025〕1号"


def townships_per_county(rows: int) -> int:
    upper = PROVINCES * PREFECTURES * (1 + COUNTIES)
    return max(0, -(-(rows - upper) // (PROVINCES * PREFECTURES * COUNTIES)))


def _cents(seed: int, t: int) -> int:
    """A township's cell in 0.01 万元: deterministic, 1.00–99.99 万元."""
    return 100 + (seed * 7919 + t * 104729) % 9900


def _cell(cents: int) -> str:
    return f"{cents // 100}.{cents % 100:02d}"


def _rows(n_town: int, bad_row: bool) -> Iterator[list[str]]:
    """Top-down rows; each holder's amount is its children's sum plus a 5 % share it keeps."""
    for p in range(PROVINCES):
        prov = f"第{p:02d}省"
        for f in range(PREFECTURES):
            pref = f"{prov}第{f:02d}市"
            counties = []
            for c in range(COUNTIES):
                county = f"{pref}第{c}县"
                seed = (p * PREFECTURES + f) * COUNTIES + c
                towns = [[_cents(seed * 1000 + k, t) if (t < 2 or k % 7) else 0 for t in range(3)]
                         for k in range(n_town)]
                sums = [sum(x[t] for x in towns) * 105 // 100 + 500 for t in range(3)]
                counties.append((county, seed, towns, sums))
            pref_sums = [sum(c[3][t] for c in counties if c[1] % 50) * 105 // 100 + 1000
                         for t in range(3)]
            yield [prov, pref, "", *map(_cell, pref_sums), ""]
            for county, seed, towns, sums in counties:
                if seed % 50 == 0:  # 直管县: funded by the province, counted in the prefecture
                    yield [prov, county, pref, *map(_cell, sums), "资金管理型直管县"]
                else:
                    yield [pref, county, "", *map(_cell, sums), ""]
                for k, cells in enumerate(towns):
                    yield [county, f"{county}第{k:03d}乡", "",
                           *(_cell(x) if x else "-" for x in cells), ""]
    if bad_row:  # the last row overspends its holder: the whole file must be refused
        yield ["第30省第10市第8县", "第30省第10市第8县新乡", "", "99999", "1", "1", ""]


def write_table(path: Path, rows: int, bad_row: bool = False) -> int:
    """Write the table, streaming; returns its data rows."""
    n = 0
    with path.open("w", encoding="utf-8", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["from", "to", "area", *TASKS, "note"])
        for r in _rows(townships_per_county(rows), bad_row):
            w.writerow(r)
            n += 1
    return n




def run_import(path: Path, db: str, profile: str | None) -> dict[str, Any]:
    from ledger.application import BudgetLedger
    from ledger.imports import AllocationOptions, import_allocations, read_table

    opts = AllocationOptions(doc=DOC, effective_date="2025-01-10", year=2025, source="central",
                             tracking=True, actor="bench")
    app = BudgetLedger.open(db)
    t0, c0 = time.perf_counter(), cpu_s()
    prof = cProfile.Profile() if profile else None
    if prof:
        prof.enable()
    table = read_table(path, keys=("from", "to"))
    result = import_allocations(app, table, opts)
    if prof:
        prof.disable()
        prof.dump_stats(profile)
    app.close()  # timed: on SQLite it waits for the WAL checkpoint of the import's commit
    seconds, cpu = time.perf_counter() - t0, cpu_s() - c0
    return {"rows": result.rows, "events": result.events, "seconds": round(seconds, 1),
            "rows_per_s": round(result.rows / seconds), "cpu_s": round(cpu, 1),
            "rows_per_cpu_s": round(result.rows / cpu), "peak_rss_mb": round(peak_rss_mb(), 1)}


def main(argv: list[str] | None = None) -> dict[str, Any]:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rows", type=int, default=100_000, help="about this many data rows")
    ap.add_argument("--db", default=None, help="store URL (default: a temporary SQLite file)")
    ap.add_argument("--profile", default=None, metavar="FILE", help="cProfile the import into FILE")
    ap.add_argument("--write-only", default=None, metavar="CSV", help="only write the table")
    ap.add_argument("--bad-row", action="store_true", help="end with a row that overspends")
    args = ap.parse_args(argv)
    if args.write_only:
        n = write_table(Path(args.write_only), args.rows, args.bad_row)
        out: dict[str, Any] = {"rows": n, "file": args.write_only}
        print(json.dumps(out))
        return out
    with tempfile.TemporaryDirectory(prefix="alloc-bench-") as tmp:
        path = Path(tmp) / "allocations.csv"
        n = write_table(path, args.rows, args.bad_row)
        print(f"table: {n:,} rows, {path.stat().st_size / 1e6:.1f} MB", flush=True)
        db = args.db or f"sqlite:///{Path(tmp) / 'ledger.db'}"
        out = run_import(path, db, args.profile)
        out.update(file_mb=round(path.stat().st_size / 1e6, 1), **machine())
    print(json.dumps(out))
    return out


if __name__ == "__main__":
    main()
