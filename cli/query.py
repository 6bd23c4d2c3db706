"""Query commands (read only): balance, progress, trace, history, log, verify.

Each one brings the read models up to date (``Projector.catch_up``) and runs one query function
from ``projections/`` in a :class:`~projections.journal.View`: ``--as-of`` / ``--known-at`` are
filters on the bitemporal journal, so past books are one SQL query away, never replayed.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Iterator
from datetime import date, datetime
from typing import TYPE_CHECKING, Any

import click
from sqlalchemy import Engine

if TYPE_CHECKING:
    from projections.journal import View
from cli.main import Context, cli
from cli.render import FORMATS, emit

pass_ctx = click.make_pass_decorator(Context)


# ---- shared options ---------------------------------------------------------------------------


def _parse_as_of(_ctx: click.Context, _param: click.Parameter, value: str | None) -> date | None:
    if value is None:
        return None
    try:
        return date.fromisoformat(value.strip())
    except ValueError:
        raise click.BadParameter(f"expected a date YYYY-MM-DD, got {value!r}") from None


def _parse_known_at(_ctx: click.Context, _param: click.Parameter, value: str | None) -> datetime | None:
    if value is None:
        return None
    try:
        return datetime.fromisoformat(value.strip())
    except ValueError:
        raise click.BadParameter(
            f"expected an ISO timestamp such as 2025-03-01T12:00:00+00:00 (UTC when no zone), "
            f"got {value!r}"
        ) from None


def query_options(formats: tuple[str, ...] = FORMATS) -> Callable[[Any], Any]:
    """--format (overrides the global one), --as-of and --known-at, on every query."""

    def deco(f: Any) -> Any:
        f = click.option("--known-at", "known_at", callback=_parse_known_at, metavar="TIMESTAMP",
                         help="Only events recorded up to this moment (ISO; UTC when no zone).")(f)
        f = click.option("--as-of", "as_of", callback=_parse_as_of, metavar="DATE",
                         help="Only events effective up to and including DATE (YYYY-MM-DD).")(f)
        f = click.option("--format", "fmt", type=click.Choice(formats), default=None,
                         help="Output format (overrides the global --format).")(f)
        return f

    return deco


def live_engine(ctx: Context) -> Engine:
    """The read models, caught up with the log; rebuilt first (and said so) when they were
    written by an earlier version. Current read models of a SQLite store are used as they are,
    without opening the event store. A read-only store (an auditor's copy) answers from the read
    models it holds, saying how far they lag behind its log."""
    from sqlalchemy.exc import OperationalError

    from ledger.store import parse_store_url
    from projections.db import current_engine

    current = current_engine(parse_store_url(ctx.db))
    if current is not None:  # nothing to catch up: the event store is not even opened
        return current

    from projections.updater import Projector, ReadModelsOutdated

    projector = Projector(ctx.app)
    try:
        projector.catch_up()
    except ReadModelsOutdated as e:
        click.echo(f"note: {e.args[0].split(';')[0]}; rebuilding them from the log now", err=True)
        projector.rebuild()
    except OperationalError as e:
        if not _read_only(e):
            raise
        lag = projector.lag()
        if lag:
            click.echo(f"note: the store is read-only and its read models are {lag:,} events "
                       f"behind its log: these answers leave out the latest {lag:,} events "
                       "(run `budget-ledger rebuild` on a writable copy for all of them)", err=True)
    return projector.engine


def _read_only(error: Exception) -> bool:
    text = str(error).lower()
    return "readonly database" in text or "read-only transaction" in text


def books(ctx: Context, as_of: date | None, known_at: datetime | None) -> tuple[Engine, View]:
    """The read models, caught up, and the point in both times the question is about."""
    from projections.journal import View

    return live_engine(ctx), View(as_of=as_of, known_at=known_at)


def known_unit(engine: Engine, unit: str, option: str) -> None:
    """A unit the ledger has never heard of is bad input (exit 2), with suggestions; a known unit
    with nothing in this view of the books only gets a note."""
    from sqlalchemy import select

    from ledger.errors import InputError
    from projections.lineage import similar_units
    from projections.tables import IndicatorRow

    with engine.connect() as conn:
        if conn.execute(select(IndicatorRow.unit).where(IndicatorRow.unit == unit)).first() is None:
            raise InputError(f"{option}: no unit {unit!r} holds any indicator in the ledger"
                             + similar_units(conn, unit), field=option)
    click.echo(f"note: {unit} holds no indicator at this point in time", err=True)


def _fmt(ctx: Context, fmt: str | None) -> str:
    return fmt or ctx.fmt


# ---- balance ----------------------------------------------------------------------------------


@cli.command()
@click.argument("unit", required=False)
@click.option("--year", type=int, default=None, help="Only this fiscal year.")
@click.option("--task", default=None, help="Only this fund task, e.g. 以工代赈任务.")
@click.option("--by", type=click.Choice(["indicator", "unit", "task", "year", "area"]),
              default="indicator", show_default=True,
              help="One row per indicator, or totals per unit / task / year, or per area (小计).")
@query_options()
@pass_ctx
def balance(ctx: Context, unit: str | None, year: int | None, task: str | None, by: str,
            fmt: str | None, as_of: date | None, known_at: datetime | None) -> None:
    """Balances per indicator held: received, forwarded, allocated, paid, recovered, available.

    \b
    Example:
      budget-ledger balance 城关区 --year 2025
      budget-ledger balance --by task --format json
      budget-ledger balance 拉萨市 --as-of 2025-06-30
      budget-ledger balance --by area --year 2025
    """
    from projections.balances import BALANCE_COLUMNS, TABLE_COLUMNS, balance_totals, total_columns
    from projections.balances import balance as query

    engine, view = books(ctx, as_of, known_at)
    if by == "area":
        from projections.areas import balance_by_area
        from projections.db import connected

        with connected(engine) as conn:
            rows = balance_by_area(conn, view, unit, year, task)
        f = _fmt(ctx, fmt)
        if f == "table":
            rows = [{**r, "area": "  " * r["depth"] + r["area"] + "小计"} for r in rows]
        emit(rows, f, columns=("area", "level", "indicators", "received", "allocated", "paid",
                               "available"), title="balance per area (元)")
    elif by == "indicator":
        f = _fmt(ctx, fmt)
        rows = query(engine, unit, year=year, task=task, view=view)
        columns: tuple[str, ...] = TABLE_COLUMNS if f == "table" else BALANCE_COLUMNS
    else:
        f = _fmt(ctx, fmt)
        rows = balance_totals(engine, by, unit, year=year, task=task, view=view)  # type: ignore[arg-type]
        columns = total_columns(by, unit)  # type: ignore[arg-type]
    if unit is not None and not rows and year is None and task is None:
        known_unit(engine, unit, "UNIT")
    emit(rows, f, columns=columns, title="balance (元)" if by == "indicator" else f"balance per {by} (元)")


# ---- progress ---------------------------------------------------------------------------------


@cli.command()
@click.option("--unit", default=None, help="Start the hierarchy at this unit (default: the top).")
@click.option("--by", type=click.Choice(["unit", "area", "task", "month", "subject"]),
              default="unit", show_default=True,
              help="Rows per unit of the funding hierarchy, per area (小计, a 直管县 under its "
                   "prefecture), per task, per month, or per functional subject (项级).")
@click.option("--year", type=int, default=None, help="Only indicators of this budget year.")
@click.option("--task", default=None, help="Only indicators of this fund task, e.g. 以工代赈任务.")
@query_options()
@pass_ctx
def progress(ctx: Context, unit: str | None, by: str, year: int | None, task: str | None,
             fmt: str | None, as_of: date | None, known_at: datetime | None) -> None:
    """Execution progress (支出进度): paid ÷ received, rolled up county → prefecture → region.

    Only payments count as spending (支付); forwards and allocations never do. `received` is net
    of money returned up (收回). With --by month the figures are cumulative to each month's end.
    With --by area each row is an area's subtotal (小计): the area's own level and every unit in
    it geographically, a 直管县 included; 分配进度 (allocated ÷ received) is shown too.
    Percentages: `spending_pct` / `allocation_pct` in JSON ("3.83"), with % in tables.

    \b
    Example:
      budget-ledger progress
      budget-ledger progress --unit 拉萨市 --by task
      budget-ledger progress --unit 西藏自治区 --by month --format csv
      budget-ledger progress --by area
      budget-ledger progress --unit 拉萨市 --by subject
    """
    from projections.progress import progress as query

    engine, view = books(ctx, as_of, known_at)
    rows = query(engine, unit, by=by, view=view, year=year, task=task)  # type: ignore[arg-type]
    if unit is not None and not rows and year is None and task is None:
        known_unit(engine, unit, "--unit")
    f = _fmt(ctx, fmt)
    if by == "unit":
        if f == "table":
            rows = [{**r, "unit": "  " * r["level"] + r["unit"]} for r in rows]
        cols: tuple[str, ...] = ("unit", "parent", "received", "paid", "ratio", "spending_pct")
    elif by == "area":
        if f == "table":
            rows = [{**r, "area": "  " * r["depth"] + r["area"] + "小计"} for r in rows]
        cols = ("area", "level", "units", "received", "allocated", "allocation_pct", "paid",
                "spending_pct")
    elif by == "task":
        cols = ("unit", "task", "received", "paid", "ratio", "spending_pct")
    elif by == "subject":
        cols = ("subject", "parent_subject", "received", "allocated", "allocation_pct", "paid",
                "spending_pct")
    else:
        cols = ("unit", "month", "received", "paid_in_month", "paid", "ratio", "spending_pct")
    if f == "table":
        rows = [{**r, **{k: f"{r[k]}%" for k in ("spending_pct", "allocation_pct") if k in r}}
                for r in rows]
    emit(rows, f, columns=cols, title=f"execution progress per {by} (元)")


# ---- trace ------------------------------------------------------------------------------------

TRACE_COLUMNS = ("id", "kind", "unit", "amount", "paid", "doc", "date", "flags", "detail")
UP_COLUMNS = ("hop", "branch", "id", "kind", "unit", "amount", "doc", "date", "flags", "parent")


def _flatten(node: dict[str, Any], depth: int = 0, parent: str | None = None) -> Iterator[dict[str, Any]]:
    detail = {"unit": "", "indicator": node.get("task"), "project": node.get("name"),
              "payment": node.get("payee")}[node["kind"]]
    if node.get("reversed"):
        detail = f"{detail} (reversed {node.get('reversed_date')})"
    yield {**{k: v for k, v in node.items() if k != "children"}, "depth": depth, "parent": parent,
           "flags": " ".join(node.get("flags") or []), "detail": detail}
    for c in node.get("children", []):
        yield from _flatten(c, depth + 1, node["id"])


@cli.command()
@click.argument("ident", metavar="ID")
@click.option("--up", is_flag=True, default=False,
              help="The chain from the entity up to its root document(s) instead of the tree below.")
@query_options((*FORMATS, "dot"))
@pass_ctx
def trace(ctx: Context, ident: str, up: bool, fmt: str | None, as_of: date | None,
          known_at: datetime | None) -> None:
    """Lineage of the money: the tree under an indicator, or (--up) the chain to its root(s).

    ID is an indicator, a project or a payment (PROJECT:Pn). `--format dot` writes a Graphviz
    graph of the tree (pipe it to `dot -Tsvg`).

    \b
    Example:
      budget-ledger trace I-XZ-以工代赈任务
      budget-ledger trace CG-2025-01:P1 --up --format json
      budget-ledger trace I-XZ-以工代赈任务 --format dot | dot -Tsvg > flow.svg
    """
    from projections.lineage import to_dot, trace_down, trace_up, up_to_dot

    engine, view = books(ctx, as_of, known_at)
    f = fmt or ctx.fmt
    if up:
        hops = trace_up(engine, ident, view)
        if f == "dot":
            click.echo(up_to_dot(hops), nl=False)
            return
        if f == "json":
            emit(hops, f)
        else:
            emit([{**h, "flags": " ".join(h["flags"])} for h in hops], f, columns=UP_COLUMNS,
                 title=f"trace --up {ident} (元)")
        return
    tree = trace_down(engine, ident, view)
    if f == "dot":
        click.echo(to_dot(tree), nl=False)
    elif f == "json":
        emit(tree, f)
    else:
        rows = list(_flatten(tree))
        if f == "table":
            rows = [{**r, "id": "  " * r["depth"] + r["id"]} for r in rows]
            emit(rows, f, columns=TRACE_COLUMNS, title=f"trace {ident} (元)")
        else:
            emit(rows, f, columns=("depth", "parent", *TRACE_COLUMNS))


# ---- history and log --------------------------------------------------------------------------


def _stored_fields(ctx: Context, engine: Engine) -> Any:
    """Each event's own fields, read from the event store by position (on SQLite from the file
    the read models are in, without opening the store)."""
    from ledger.store import parse_store_url

    if parse_store_url(ctx.db).kind == "sqlite":
        from projections.db import sqlite_states

        return lambda positions: sqlite_states(engine, positions)
    from projections.updater import Projector

    return Projector(ctx.app, engine).states


def _events(rows: list[dict[str, Any]], fmt: str, title: str) -> None:
    from projections.history import EVENT_COLUMNS, detail

    if fmt == "json":
        emit(rows, fmt)
    else:
        emit([{**r, "detail": detail(r)} for r in rows], fmt, columns=EVENT_COLUMNS, title=title)


@cli.command()
@click.argument("ident", metavar="ID")
@query_options()
@pass_ctx
def history(ctx: Context, ident: str, fmt: str | None, as_of: date | None,
            known_at: datetime | None) -> None:
    """Every event that touched an indicator, project or payment: position, recorded time,
    effective date, actor, document, amounts.

    \b
    Example:
      budget-ledger history CG-2025-01
      budget-ledger history CG-2025-01:P1 --format json
    """
    from ledger.errors import InputError
    from projections.history import history as query

    engine, view = books(ctx, as_of, known_at)
    rows = query(engine, ident, view, fields=_stored_fields(ctx, engine))
    if not rows and as_of is None and known_at is None:
        raise InputError(f"ID: no event touched {ident!r}", field="ID")
    _events(rows, _fmt(ctx, fmt), f"history {ident}")


@cli.command()
@click.option("--after", type=click.IntRange(min=0), default=0, show_default=True,
              metavar="POSITION", help="Start after this log position.")
@click.option("--limit", type=click.IntRange(min=1), default=None, metavar="N",
              help="At most N events.")
@click.option("--digest", is_flag=True, default=False,
              help="Print the log's head position and chain hash (write it down as an anchor).")
@query_options()
@pass_ctx
def log(ctx: Context, after: int, limit: int | None, digest: bool, fmt: str | None,
        as_of: date | None, known_at: datetime | None) -> None:
    """The raw event log in order.

    \b
    Example:
      budget-ledger log --after 120 --limit 20
      budget-ledger log --digest
    """
    f = _fmt(ctx, fmt)
    if digest:
        from ledger.integrity import head_digest

        position, digest_hex = head_digest(ctx.app)
        if f == "json":
            click.echo(json.dumps({"position": position, "digest": digest_hex}))
        else:
            click.echo(f"{position} {digest_hex}")
        return
    from projections.history import log as query

    engine, view = books(ctx, as_of, known_at)
    _events(query(engine, after, limit, view, fields=_stored_fields(ctx, engine)), f, "log")


# ---- verify -----------------------------------------------------------------------------------


def _parse_anchor(_ctx: click.Context, _param: click.Parameter, value: str | None) -> tuple[int, str] | None:
    if value is None:
        return None
    position, sep, digest = value.strip().replace(" ", ":", 1).partition(":")
    if not sep or not position.isdigit() or len(digest) != 64:
        raise click.BadParameter(f"expected POSITION:DIGEST as printed by `log --digest`, got {value!r}")
    return int(position), digest.lower()


@cli.command()
@click.option("--format", "fmt", type=click.Choice(FORMATS), default=None,
              help="Output format (overrides the global --format).")
@click.option("--anchor", callback=_parse_anchor, default=None, metavar="POSITION:DIGEST",
              help="A digest written down earlier from `log --digest`: the log up to it must be unchanged.")
@pass_ctx
def verify(ctx: Context, fmt: str | None, anchor: tuple[int, str] | None) -> None:
    """Rebuild every projection from the log and compare row by row; check the log's hash chain.

    Exit code 0 only when everything agrees, 1 when anything differs (each difference is listed).

    \b
    Example:
      budget-ledger verify
      budget-ledger --format json verify
      budget-ledger verify --anchor 404:28d5a989ba6c5848e878c4f22c16887984f138ec3d1ef04186b2a5a16fe0fed4
    """
    from ledger.integrity import verify_chain
    from projections.updater import read_position
    from projections.verify import verify_projections
    from projections.writer import UndecodableEvent

    app = ctx.app
    try:
        engine = live_engine(ctx)
        problems = [f"read models: {p}" for p in verify_projections(app, engine)]
    except UndecodableEvent as e:  # tampering the hash chain will name too
        engine, problems = None, [f"log: {e}"]
    problems += [f"log: {p}" for p in verify_chain(app, anchor)]
    position = 0
    if engine is not None:
        with engine.connect() as conn:
            position = read_position(conn)
    f = _fmt(ctx, fmt)
    if f == "json":
        click.echo(json.dumps({"ok": not problems, "position": position,
                               "chain_checked": True, "problems": problems},
                              ensure_ascii=False, indent=2))
    elif f == "csv":
        emit([{"problem": p} for p in problems], f, columns=("problem",))
    else:
        for p in problems:
            click.echo(p)
        checked = "read models and hash chain"
        status = "ok" if not problems else f"{len(problems)} difference(s)"
        click.echo(f"verify: {status}; {checked} checked up to position {position}")
    if problems:
        sys.exit(1)


# ---- rebuild ----------------------------------------------------------------------------------


@cli.command()
@click.option("--quiet", is_flag=True, default=False, help="No progress bar.")
@pass_ctx
def rebuild(ctx: Context, quiet: bool) -> None:
    """Rebuild the read models from the log (after an upgrade that changes them, or at will).

    Loaded in committed batches: if it is interrupted, no query answers from the part
    it wrote, and the next command (a query, or rebuild again) finishes it.

    
    Example:
      budget-ledger rebuild
    """
    import time

    from rich.progress import Progress

    from projections.updater import Projector

    app = ctx.app
    projector = Projector(app)
    total = app.last_position()
    started = time.perf_counter()
    with Progress(disable=quiet, console=_stderr_console(), transient=True) as bar:
        task = bar.add_task("rebuilding read models", total=total or None)
        applied = projector.rebuild(on_batch=lambda n: bar.advance(task, n))
    seconds = time.perf_counter() - started
    rate = applied / seconds if seconds > 0 else 0.0
    click.echo(f"rebuilt the read models from {applied:,} events in {seconds:.1f} s "
               f"({rate:,.0f} events/s)", err=True)


def _stderr_console() -> Any:
    from rich.console import Console

    return Console(stderr=True)
