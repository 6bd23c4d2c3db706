"""`budget-ledger import allocations|projects|payments FILE`: bulk entry, all or nothing.

The work is in :mod:`ledger.imports`; this module parses options, shows a progress bar on big files
and prints what was imported. Column formats: docs/imports.md.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import click

from cli.main import Context, cli
from ledger.imports import (
    PROGRESS_THRESHOLD,
    AllocationOptions,
    ImportResult,
    ProgressFactory,
    RawTable,
    import_allocations,
    import_payments,
    import_projects,
    read_table,
)

pass_ctx = click.make_pass_decorator(Context)

SOURCES = ("central", "provincial", "prefecture", "county")
FILE = click.Path(exists=True, dir_okay=False, path_type=Path)


@contextmanager
def progress_bar(rows: int, quiet: bool) -> Iterator[ProgressFactory | None]:
    """A rich progress bar on stderr for files over PROGRESS_THRESHOLD rows (none with --quiet)."""
    if quiet or rows <= PROGRESS_THRESHOLD:
        yield None
        return
    if not sys.stderr.isatty():  # a log file or a pipe: a plain line at every tenth, not a bar
        yield _progress_lines
        return
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    with Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                  TimeElapsedColumn(), console=Console(stderr=True), transient=True) as bar:

        def factory(label: str, total: int) -> Callable[[int], None]:
            task = bar.add_task(label, total=total)
            return lambda n: bar.advance(task, n)

        yield factory


def _progress_lines(label: str, total: int) -> Callable[[int], None]:
    done = 0
    said = 0

    def advance(n: int) -> None:
        nonlocal done, said
        done += n
        tenth = done * 10 // max(total, 1)
        if tenth > said:
            said = tenth
            click.echo(f"{label}: {done:,} of {total:,} ({tenth * 10}%)", err=True)

    return advance


def report(ctx: Context, result: ImportResult, quiet: bool) -> None:
    for note in result.notes:  # what was ignored or skipped on purpose: said even with --quiet
        click.echo(f"note: {note}", err=True)
    if ctx.fmt == "json":
        click.echo(json.dumps(result.as_dict(), ensure_ascii=False))
        return
    if quiet:
        return
    skipped = f", {result.skipped} already recorded and skipped" if result.skipped else ""
    click.echo(f"imported {result.file}: {result.rows} rows → {result.applied} commands, "
               f"{result.events} events{skipped}")
    if result.roots:
        click.echo("root indicators (start `budget-ledger trace ID` here):")
        for root in result.roots:
            click.echo(f"  {root.indicator_id}  {root.unit}  {root.task}")


def _run(ctx: Context, table: RawTable, quiet: bool,
         work: Callable[[ProgressFactory | None], ImportResult]) -> None:
    with progress_bar(table.count, quiet) as progress:
        result = work(progress)
    report(ctx, result, quiet)


@cli.group("import")
def import_group() -> None:
    """Bulk imports from CSV / .xlsx files — all or nothing (columns: docs/imports.md).

    Every row is checked against the ledger plus the rows before it; any bad row refuses the
    whole file (one message per bad row: file, row, column, value, why) and nothing is written.
    """


def _common(f: Callable[..., Any]) -> Callable[..., Any]:
    f = click.option("--quiet", "-q", is_flag=True, help="No progress bar and no summary (for scripts).")(f)
    f = click.option("--skip-existing", is_flag=True,
                     help="Rows already in the ledger (same natural key) are skipped, not refused.")(f)
    f = click.option("--encoding", default="utf-8", show_default=True,
                     help="Text encoding of a CSV file, e.g. gbk for old exports.")(f)
    f = click.option("--sheet", default=None, metavar="NAME",
                     help="Sheet of an .xlsx workbook to read (default: the first).")(f)
    return f


@import_group.command("allocations")
@click.argument("file", type=FILE)
@click.option("--doc", required=True, help="Document number (文号) of the table.")
@click.option("--date", "effective_date", required=True, help="Effective date YYYY-MM-DD.")
@click.option("--year", required=True, type=int, help="Fiscal year.")
@click.option("--source", required=True, type=click.Choice(SOURCES), help="Fund source.")
@click.option("--unit", default="万元", show_default=True, type=click.Choice(["万元", "元"]),
              help="Unit of the table's cells.")
@click.option("--subject", default=None, help="Classification subject, e.g. 21305.")
@click.option("--issuer", default=None, help="Who issued the money to the top holder.")
@click.option("--tracking", is_flag=True, help="Tracking flag (追踪) on every indicator.")
@click.option("--direct", is_flag=True, help="Direct-funds flag (直达).")
@click.option("--advance", is_flag=True, help="Advance issuance (提前下达).")
@click.option("--expect-total", multiple=True, metavar="TASK=AMOUNT",
              help="Check the top holder's total of a task column (repeatable).")
@_common
@pass_ctx
def import_allocations_cmd(ctx: Context, file: Path, quiet: bool, skip_existing: bool,
                           encoding: str, sheet: str | None, expect_total: tuple[str, ...],
                           **kw: Any) -> None:
    """Import an edge-list allocation table (from,to,<task>…,note).

    One root indicator per task column is issued to the top holder (a unit never in `to`)
    for the sum of its rows; then every row is a forward, parents before children. `-` or an
    empty cell is 0. Indicator ids derive from document + from + to + task, so importing the
    same document twice is refused.

    \b
    Example:
      budget-ledger import allocations tibet.csv --doc 藏财农〔2024〕000号 --date 2024-12-23 \\
        --year 2025 --source provincial --subject 21305 --tracking --advance \\
        --expect-total 以工代赈任务=5000
    """
    opts = AllocationOptions(expect_total=expect_total, skip_existing=skip_existing,
                             actor=ctx.actor, **kw)
    table = read_table(file, encoding=encoding, sheet=sheet, keys=("from", "to"))
    _run(ctx, table, quiet, lambda p: import_allocations(ctx.app, table, opts, progress=p))


@import_group.command("projects")
@click.argument("file", type=FILE)
@click.option("--unit", default="元", show_default=True, type=click.Choice(["万元", "元"]),
              help="Unit of amounts without a suffix.")
@_common
@pass_ctx
def import_projects_cmd(ctx: Context, file: Path, unit: str, quiet: bool, skip_existing: bool,
                        encoding: str, sheet: str | None) -> None:
    """Import projects and their funding lines (one row per line; repeat the project).

    Columns: project,unit,name,category,date[,doc][,indicator | indicator_doc,indicator_task][,amount].
    A project id already in the ledger is refused unless --skip-existing.

    \b
    Example:  budget-ledger import projects examples/projects.csv
    """
    table = read_table(file, encoding=encoding, sheet=sheet, keys=("project", "unit"))
    _run(ctx, table, quiet, lambda p: import_projects(
        ctx.app, table, unit=unit, skip_existing=skip_existing, actor=ctx.actor, progress=p))


@import_group.command("payments")
@click.argument("file", type=FILE)
@click.option("--unit", default="元", show_default=True, type=click.Choice(["万元", "元"]),
              help="Unit of amounts without a suffix.")
@_common
@pass_ctx
def import_payments_cmd(ctx: Context, file: Path, unit: str, quiet: bool, skip_existing: bool,
                        encoding: str, sheet: str | None) -> None:
    """Import payments; the voucher is each payment's natural key.

    Columns: voucher,project,payee,amount,date[,indicator][,payee_kind][,labour][,doc].
    Rows are applied in date order (stable), since effective dates never go backwards on a project.

    \b
    Example:  budget-ledger import payments examples/payments.csv
    """
    table = read_table(file, encoding=encoding, sheet=sheet, keys=("voucher", "project"))
    _run(ctx, table, quiet, lambda p: import_payments(
        ctx.app, table, unit=unit, skip_existing=skip_existing, actor=ctx.actor, progress=p))
