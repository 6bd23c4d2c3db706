"""`budget-ledger demo`: a fresh ledger from the bundled Tibet table, with a few projects and payments.

Everything goes through the real write path (the same importers a finance bureau would use, then
single commands for a reversal, a recovery and progress reports), so the demo is also a smoke test.
The data are deterministic: two runs give the same ids and amounts (only recorded-at times differ).
"""

from __future__ import annotations

import csv
import io
from importlib import resources
from pathlib import Path
from typing import Any

import click

from cli.main import Context, cli
from ledger.application import BudgetLedger
from ledger.commands import ProgressCommand, RecoverCommand, ReverseCommand, build
from ledger.errors import InputError
from ledger.imports import (
    AllocationOptions,
    allocation_indicator_id,
    import_allocations,
    import_payments,
    import_projects,
    table_from_text,
)
from ledger.money import format_wan

pass_ctx = click.make_pass_decorator(Context)

# Seed 000 (西藏自治区财政厅, 2024-12-23) gives no document number; 000号 marks it as a placeholder.
DOC = "藏财农〔2024〕000号"
REGION = "西藏自治区"
GONGGU, MINZU, YIGONG = "巩固拓展脱贫攻坚成果和乡村振兴任务", "少数民族发展任务", "以工代赈任务"
TABLE = "tibet_2025_advance.csv"


def _ind(holder: str, county: str, task: str) -> str:
    return allocation_indicator_id(DOC, holder, county, task)


# project, unit, name, category, date, doc, source holder, task, amount
PROJECTS = [
    ("CG-2025-01", "城关区", "城关区设施蔬菜大棚建设", "产业发展", "2025-01-10", "城政〔2025〕3号",
     "拉萨市", GONGGU, "500万"),
    ("DL-2025-01", "堆龙德庆区", "堆龙德庆区农村道路以工代赈项目", "以工代赈", "2025-01-15",
     "堆政〔2025〕5号", "拉萨市", YIGONG, "440万"),
    ("DL-2025-02", "堆龙德庆区", "堆龙德庆区牦牛养殖合作社", "产业发展", "2025-01-20",
     "堆政〔2025〕6号", "拉萨市", GONGGU, "1200万"),
    ("DL-2025-02", "堆龙德庆区", "堆龙德庆区牦牛养殖合作社", "产业发展", "2025-01-20",
     "堆政〔2025〕6号", "拉萨市", MINZU, "300万"),
    ("LZ-2025-01", "林周县", "林周县饮水安全巩固提升工程", "基础设施", "2025-02-01",
     "林政〔2025〕2号", REGION, GONGGU, "800万"),
    ("MZ-2025-01", "墨竹工卡县", "墨竹工卡县庭院经济补助", "庭院经济", "2025-02-10",
     "墨政〔2025〕4号", "拉萨市", MINZU, "300万"),
]

# voucher, project, (holder, task) of the line when the project has two, payee, kind, 元, date, labour
PAYMENTS = [
    ("CG-V0001", "CG-2025-01", None, "拉萨某建设工程有限公司", "enterprise", "1,200,000.00", "2025-03-05", "no"),
    ("CG-V0002", "CG-2025-01", None, "拉萨某建设工程有限公司", "enterprise", "800,000.00", "2025-05-20", "no"),
    ("DL-V0001", "DL-2025-01", None, "堆龙德庆区务工群众（42人）", "household", "320,000.00", "2025-03-20", "yes"),
    ("DL-V0002", "DL-2025-01", None, "拉萨某路桥有限公司", "enterprise", "900,000.00", "2025-03-25", "no"),
    ("DL-V0003", "DL-2025-01", None, "堆龙德庆区务工群众（38人）", "household", "350,000.00", "2025-05-28", "yes"),
    ("DL-V0101", "DL-2025-02", ("拉萨市", GONGGU), "堆龙某牦牛养殖专业合作社", "enterprise", "3,000,000.00", "2025-04-10", "no"),
    ("DL-V0102", "DL-2025-02", ("拉萨市", MINZU), "堆龙某牦牛养殖专业合作社", "enterprise", "600,000.00", "2025-04-10", "no"),
    ("LZ-V0001", "LZ-2025-01", None, "林周某水利工程公司", "enterprise", "2,000,000.00", "2025-03-15", "no"),
    ("LZ-V0002", "LZ-2025-01", None, "林周某水利工程公司", "enterprise", "2,000,000.00", "2025-03-16", "no"),
    ("MZ-V0001", "MZ-2025-01", None, "墨竹工卡县农户（120户）", "household", "1,100,000.00", "2025-06-15", "no"),
]

PROGRESS = [("CG-2025-01", "45", "2025-05-31"), ("DL-2025-01", "60", "2025-05-31"),
            ("DL-2025-02", "30", "2025-05-31"), ("LZ-2025-01", "35", "2025-05-31")]


def _csv(header: list[str], rows: list[list[str]]) -> str:
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(header)
    w.writerows(rows)
    return buf.getvalue()


def projects_csv() -> str:
    return _csv(
        ["project", "unit", "name", "category", "date", "doc", "indicator", "amount"],
        [[p, u, n, c, d, doc, _ind(h, u, t), a] for p, u, n, c, d, doc, h, t, a in PROJECTS],
    )


def payments_csv() -> str:
    rows = []
    for v, p, line, payee, kind, amount, d, labour in PAYMENTS:
        unit = next(r[1] for r in PROJECTS if r[0] == p)
        rows.append([v, p, _ind(line[0], unit, line[1]) if line else "", payee, kind, amount, d, labour])
    return _csv(["voucher", "project", "indicator", "payee", "payee_kind", "amount", "date", "labour"],
                rows)


def build_demo(app: BudgetLedger, actor: str = "demo") -> dict[str, Any]:
    """Record the whole demo into ``app`` (which must be empty); returns the ids worth showing."""
    text = resources.files("ledger").joinpath(f"data/{TABLE}").read_text("utf-8")
    opts = AllocationOptions(doc=DOC, effective_date="2024-12-23", year=2025, source="provincial",
                             subject="21305", tracking=True, advance=True, issuer="西藏自治区财政厅",
                             actor=actor)
    alloc = import_allocations(app, table_from_text(text, TABLE), opts)
    projects = import_projects(app, table_from_text(projects_csv(), "demo-projects.csv"), actor=actor)
    payments = import_payments(app, table_from_text(payments_csv(), "demo-payments.csv"), actor=actor)
    duplicate = app.get_project("LZ-2025-01").vouchers["LZ-V0002"]
    app.reverse(build(ReverseCommand, payment_id=duplicate, effective_date="2025-04-02",
                      reason="重复支付，款项已退回", doc="林财〔2025〕7号", actor=actor))
    for pid, percent, d in PROGRESS:
        app.report_progress(build(ProgressCommand, project_id=pid, percent=percent,
                                  effective_date=d, actor=actor))
    app.recover(build(RecoverCommand, indicator_id=_ind("拉萨市", "墨竹工卡县", MINZU),
                      amount="30万", doc="拉财〔2025〕12号", effective_date="2025-06-30",
                      reason="项目结余资金收回", actor=actor))
    return {
        "roots": [allocation_indicator_id(DOC, None, REGION, t) for t in (GONGGU, MINZU, YIGONG)],
        "trace": _ind(REGION, "拉萨市", YIGONG),
        "payment": app.get_project("DL-2025-01").vouchers["DL-V0001"],
        "indicators": alloc.applied,
        "projects": projects.applied,
        "payments": payments.applied,
    }


def _fresh_store(url: str | None, force_new: bool) -> BudgetLedger:
    app = BudgetLedger.open(url)
    n = app.last_position()
    if not n:
        return app
    path = app.config.sqlite_path
    app.close()
    if not force_new:
        raise InputError(
            f"--db: the store {app.config.url} already has events (log position {n}); the demo builds a fresh "
            "ledger — give another --db (e.g. --db demo.db), or --force-new to replace this "
            "SQLite file", field="db")
    if path is None:
        raise InputError("--force-new: only a SQLite file can be replaced; give a fresh "
                         "PostgreSQL schema (?schema=NAME) instead", field="force_new")
    for suffix in ("", "-wal", "-shm"):
        Path(path + suffix).unlink(missing_ok=True)
    return BudgetLedger.open(url)


def _show(url: str, fmt: str, args: list[str]) -> None:
    click.echo(f"\n$ budget-ledger {' '.join(args)}")
    cli.main(args=["--db", url, "--format", fmt, *args], prog_name="budget-ledger",
             standalone_mode=False)


@cli.command()
@click.option("--db", "db", default=None, metavar="URL",
              help="Store to build (default: the global --db). Must be empty.")
@click.option("--force-new", is_flag=True, help="Replace an existing SQLite file with a fresh one.")
@pass_ctx
def demo(ctx: Context, db: str | None, force_new: bool) -> None:
    """Build a demo ledger: the 2025 Tibet advance allocation, projects and payments.

    Imports the bundled allocation table of seed 000 (region → prefectures → counties, three
    fund tasks), adds five projects (six funding lines) in four counties of 拉萨市 (one 以工代赈
    project with labour payments), ten payments, one reversal and one recovery, then prints a trace and a
    progress report. Refuses a store that already has events.

    \b
    Example:
      budget-ledger demo --db demo.db
      budget-ledger --db demo.db balance 堆龙德庆区
    """
    app = _fresh_store(db or ctx.db, force_new)
    try:
        shown = build_demo(app, actor=ctx.actor)
        url = app.config.url
        roots = [app.get_indicator(r) for r in shown["roots"]]
        shown["summary"] = {}
        for pid in {p[0] for p in PROJECTS}:
            prj = app.get_project(pid)
            lines = prj.lines.values()
            shown["summary"][pid] = (f"{prj.unit} {prj.name}: allocated "
                                     f"{format_wan(sum(ln.allocated for ln in lines))} 万元, paid "
                                     f"{format_wan(sum(ln.paid for ln in lines))} 万元")
        from projections.updater import Projector

        projector = Projector(app)
        projector.catch_up()
        projector.engine.dispose()
    finally:
        app.close()
    click.echo(f"demo ledger built in {url}: {shown['indicators']} indicators from {TABLE} "
               f"({DOC}), {len({p[0] for p in PROJECTS})} projects, {len(PAYMENTS)} payments, "
               "1 reversal, 1 recovery")
    for r in roots:
        click.echo(f"  root {r.indicator_id}  {r.unit}  {r.task}  {format_wan(r.received)} 万元")
    fmt = "table" if ctx.fmt == "csv" else ctx.fmt
    if "trace" in cli.commands and "progress" in cli.commands:
        _show(url, fmt, ["trace", shown["trace"]])
        _show(url, fmt, ["trace", shown["payment"], "--up"])
        _show(url, fmt, ["progress", "--unit", "拉萨市"])
    else:  # the query commands are not installed: a plain summary of the projects
        for pid in sorted({p[0] for p in PROJECTS}):
            click.echo(f"  project {pid}: {shown['summary'][pid]}")
    click.echo(f"\nNext: budget-ledger --db {url} balance 堆龙德庆区 | trace ID | history ID | audit")
