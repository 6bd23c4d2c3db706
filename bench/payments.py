"""Payments-file benchmark (not a test): a synthetic payments file of ``--rows`` rows, imported whole.

    python -m bench.payments --rows 100000                  # SQLite, temporary files
    python -m bench.payments --rows 100000 --profile /tmp/pay.prof

The ledger is set up first, in a child process (so its memory is not counted): one root
indicator, ``rows / 20`` projects (ids ``P00000`` …), each funded with enough for its 20
payments. The file has one row per payment, its rows shuffled (deterministically) over the year,
so every project's rows are spread across the whole file, as a treasury export's are. The import
is ``import_payments`` on the file as the CLI reads it, in this process. The last line printed is
one JSON object: rows, events, seconds, rows/s, CPU seconds, rows per CPU second (the figure to
compare on a shared machine), the peak RSS of the importing process, the saves (parts) written,
the load average. Results: docs/performance.md, "Streamed payments import".
"""

from __future__ import annotations

import argparse
import cProfile
import csv
import json
import random
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from bench.timing import cpu_s, machine, peak_rss_mb

PER_PROJECT = 20
PAYMENT_FEN = 1_000_000  # at most 1 万元 a payment


def project_id(k: int) -> str:
    return f"P{k:05d}"


def setup_ledger(db: str, rows: int) -> None:
    """The ledger the file pays from: one root indicator, rows / 20 funded projects."""
    from ledger.application import BudgetLedger
    from ledger.commands import AddProjectCommand, AllocateCommand, IssueCommand, build

    projects = -(-rows // PER_PROJECT)
    app = BudgetLedger.open(db)
    with app.batch() as b:
        b.issue(build(IssueCommand, indicator_id="I-ROOT", unit="某县", amount=projects * PER_PROJECT
                      * PAYMENT_FEN, doc="财农〔2024〕1号", effective_date="2024-12-20",
                      year=2025, task="巩固拓展脱贫攻坚成果和乡村振兴任务", source="central",
                      actor="bench"))
    for start in range(0, projects, 1000):
        with app.batch() as b:
            b.preload(indicator_ids=["I-ROOT"])
            for k in range(start, min(projects, start + 1000)):
                b.add_project(build(AddProjectCommand, project_id=project_id(k), unit="某县",
                                    name=f"项目{k}", category="产业发展", doc=f"立项{k}",
                                    effective_date="2025-01-15", actor="bench"))
                b.allocate(build(AllocateCommand, indicator_id="I-ROOT", project_id=project_id(k),
                                 amount=PER_PROJECT * PAYMENT_FEN, effective_date="2025-02-01",
                                 doc=f"分配{k}", actor="bench"))
    app.close()


def write_file(path: Path, rows: int, bad_row: bool) -> int:
    """One row per payment, shuffled; ``bad_row`` makes the last row overspend its project."""
    rng = random.Random(13)
    order = list(range(rows))
    rng.shuffle(order)
    with path.open("w", encoding="utf-8", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["voucher", "project", "payee", "payee_kind", "amount", "date", "labour"])
        for n, i in enumerate(order):
            k = i // PER_PROJECT
            day = 1 + n * 300 // rows  # rows in date order 2025-03-01 … (shuffled over projects)
            month, dom = 3 + (day - 1) // 30, 1 + (day - 1) % 28
            yuan = 100 + (i * 7919) % 9900
            w.writerow([f"V{i:07d}", project_id(k), f"承包商{i % 997}", "enterprise",
                        f"{yuan}.00", f"2025-{month:02d}-{dom:02d}", "yes" if i % 5 == 0 else "no"])
        if bad_row:  # a project's whole funding again: refused by the ledger, at the end
            w.writerow(["V-BAD", project_id(0), "承包商", "enterprise",
                        f"{PER_PROJECT * PAYMENT_FEN // 100}.00", "2025-12-31", "no"])
    return rows + bad_row




def run_import(path: Path, db: str, profile: str | None) -> dict[str, Any]:
    import ledger.streamed as streamed_mod
    from ledger.application import BudgetLedger
    from ledger.imports import ImportRejected, import_payments, read_table

    parts = [0]
    real = streamed_mod.save_aggregates

    def counting(app_: Any, aggs: Any) -> Any:
        parts[0] += 1
        return real(app_, aggs)

    streamed_mod.save_aggregates = counting  # type: ignore[assignment]
    app = BudgetLedger.open(db)
    before = app.last_position()
    t0, c0 = time.perf_counter(), cpu_s()
    prof = cProfile.Profile() if profile else None
    if prof:
        prof.enable()
    table = read_table(path, keys=("voucher", "project"))
    try:
        result = import_payments(app, table, actor="bench")
        rows, events, refused = result.rows, result.events, 0
    except ImportRejected as e:
        rows, events, refused = table.count, 0, len(e.items)
    if prof:
        prof.disable()
        prof.dump_stats(profile)
    written = app.last_position() - before
    app.close()  # timed: on SQLite it waits for the WAL checkpoint of the import's commit
    seconds, cpu = time.perf_counter() - t0, cpu_s() - c0
    return {"rows": rows, "events": events, "written": written, "refused": refused,
            "seconds": round(seconds, 1), "rows_per_s": round(rows / seconds),
            "cpu_s": round(cpu, 1), "rows_per_cpu_s": round(rows / cpu),
            "parts": parts[0], "peak_rss_mb": round(peak_rss_mb(), 1)}


def main(argv: list[str] | None = None) -> dict[str, Any]:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rows", type=int, default=100_000, help="payments in the file")
    ap.add_argument("--profile", default=None, metavar="FILE", help="cProfile the import into FILE")
    ap.add_argument("--bad-row", action="store_true", help="end with a row the ledger refuses")
    ap.add_argument("--setup", default=None, metavar="URL", help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.setup:  # the child process: build the ledger only
        setup_ledger(args.setup, args.rows)
        return {}
    with tempfile.TemporaryDirectory(prefix="pay-bench-") as tmp:
        path = Path(tmp) / "payments.csv"
        db = f"sqlite:///{Path(tmp) / 'ledger.db'}"
        subprocess.run([sys.executable, "-m", "bench.payments", "--rows", str(args.rows),
                        "--setup", db], check=True)
        n = write_file(path, args.rows, args.bad_row)
        print(f"file: {n:,} rows, {path.stat().st_size / 1e6:.1f} MB", flush=True)
        out = run_import(path, db, args.profile)
        out.update(file_mb=round(path.stat().st_size / 1e6, 1), **machine())
    print(json.dumps(out))
    return out


if __name__ == "__main__":
    main()
