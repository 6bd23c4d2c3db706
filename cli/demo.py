"""`budget-ledger demo`: a fresh ledger from the bundled Tibet table, with a few projects and payments.

The seed data and :func:`~ledger.demo_data.build_demo` live in :mod:`ledger.demo_data`; this module
only picks the store, runs it, and shows a trace and a progress report.
"""

from __future__ import annotations

from pathlib import Path

import click

from cli.main import Context, cli
from ledger.application import BudgetLedger
from ledger.demo_data import (
    DOC,
    PAYMENTS,
    PROJECTS,
    TABLE,
    build_demo,
    is_untouched_demo,
    mark_demo,
)
from ledger.errors import InputError
from ledger.money import format_wan

pass_ctx = click.make_pass_decorator(Context)


def _fresh_store(url: str | None, force_new: bool) -> BudgetLedger:
    app = BudgetLedger.open(url)
    n = app.last_position()
    if not n:
        return app
    path = app.config.sqlite_path
    demo = is_untouched_demo(app)
    app.close()
    if not force_new:
        raise InputError(
            f"--db: the store {app.config.url} already has events (log position {n}); the demo builds a fresh "
            "ledger — give another --db (e.g. --db demo.db), or --force-new to replace a previous "
            "demo", field="db")
    if path is None:
        raise InputError("--force-new: only a SQLite file can be replaced; give a fresh "
                         "PostgreSQL schema (?schema=NAME) instead", field="force_new")
    if not demo:
        raise InputError(
            f"--force-new: {path} is not an untouched demo ledger (it holds {n} events that the "
            "demo did not write, or was changed after it); refusing to replace it — give another "
            "--db, or delete the file yourself if you really mean to", field="force_new")
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
@click.option("--force-new", is_flag=True,
              help="Replace a SQLite file that holds a previous demo and nothing else.")
@pass_ctx
def demo(ctx: Context, db: str | None, force_new: bool) -> None:
    """Build a demo ledger: the 2025 Tibet advance allocation, projects and payments.

    Imports the bundled allocation table of seed 000 (region → prefectures → counties, three
    fund tasks), adds five projects (six funding lines) in four counties of 拉萨市 (one 以工代赈
    project with labour payments), ten payments, one reversal and one recovery, then prints a trace and a
    progress report. Refuses a store that already has events; --force-new replaces only a
    previous demo that nothing was added to.

    \b
    Example:
      budget-ledger demo --db demo.db
      budget-ledger --db demo.db balance 堆龙德庆区
    """
    from projections.updater import Projector

    app = _fresh_store(db or ctx.db, force_new)
    try:
        shown = build_demo(app, actor=ctx.actor)
        mark_demo(app)
        url = app.config.url
        roots = [app.get_indicator(r) for r in shown["roots"]]
        projector = Projector(app)
        projector.catch_up()
        projector.engine.dispose()
    finally:
        app.close()
    click.echo(f"demo ledger built in {url}: {shown['indicators']} indicators from {TABLE} "
               f"({DOC}), {len({p[0] for p in PROJECTS})} projects, {len(PAYMENTS)} payments, "
               "1 reversal, 1 recovery")
    for r in roots:
        click.echo(f"  root {r.indicator_id}  {r.unit}  {r.terms.task}  {format_wan(r.received)} 万元")
    fmt = "table" if ctx.fmt == "csv" else ctx.fmt
    _show(url, fmt, ["trace", shown["trace"]])
    _show(url, fmt, ["trace", shown["payment"], "--up"])
    _show(url, fmt, ["progress", "--unit", "拉萨市"])
    click.echo(f"\nNext: budget-ledger --db {url} balance 堆龙德庆区 | trace ID | history ID | audit")
