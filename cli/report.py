"""`budget-ledger report monthly`: the monitoring table a finance bureau hands in every month."""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path
from typing import Any

import click

from cli.main import Context, cli
from cli.query import _parse_known_at, live_engine
from cli.render import emit
from ledger.errors import InputError

pass_ctx = click.make_pass_decorator(Context)


@cli.group()
def report() -> None:
    """Reports users hand in: the monthly monitoring table (月报)."""


@report.command("monthly")
@click.option("--month", required=True, metavar="YYYY-MM",
              help="The month; the books are taken as of its last day.")
@click.option("--year", type=int, default=None,
              help="Budget year whose funds are reported (default: the month's year).")
@click.option("--format", "fmt", type=click.Choice(["table", "json", "csv", "xlsx"]), default=None,
              help="Output format (overrides the global --format); xlsx needs --output.")
@click.option("--output", type=click.Path(path_type=Path, dir_okay=False), default=None,
              metavar="FILE", help="Write to FILE instead of stdout.")
@click.option("--known-at", "known_at", callback=_parse_known_at, metavar="TIMESTAMP",
              help="Only events recorded up to this moment (the report as it could be made then).")
@pass_ctx
def monthly(ctx: Context, month: str, year: int | None, fmt: str | None, output: Path | None,
            known_at: datetime | None) -> None:
    """The monthly report as of the month's last day: per area and unit, received, allocated,
    分配进度, paid, 支出进度 against 序时进度, share refined to projects, late forwards, with
    subtotals (小计; a 直管县 in its prefecture's). Amounts in 元; rates in % (JSON: "3.83").

    \b
    Example:
      budget-ledger report monthly --month 2025-06
      budget-ledger report monthly --month 2025-06 --format xlsx --output 2025-06月报.xlsx
    """
    from projections.report import COLUMNS, write_xlsx
    from projections.report import monthly as build_report

    f = fmt or ctx.fmt
    try:
        from projections.report import month_end

        month_end(month)
    except ValueError as e:
        raise InputError(f"--month: {e}", field="month") from None
    if f == "xlsx" and output is None:
        raise InputError("--output: an xlsx report needs --output FILE", field="output")
    rep = build_report(live_engine(ctx), month, year, known_at=known_at)
    if f == "xlsx":
        assert output is not None
        write_xlsx(rep, output)
        click.echo(f"wrote {output} ({len(rep.rows)} rows, as of {rep.as_of})", err=True)
        return
    rows: list[dict[str, Any]] = rep.rows
    if output is not None:
        import contextlib
        import io

        buf = io.StringIO()
        with contextlib.redirect_stdout(buf):
            _emit(rows, f, rep.month, COLUMNS)
        output.write_text(buf.getvalue(), encoding="utf-8")
        click.echo(f"wrote {output} ({len(rows)} rows, as of {rep.as_of})", err=True)
        return
    _emit(rows, f, rep.month, COLUMNS)


def _emit(rows: list[dict[str, Any]], f: str, month: str, columns: tuple[str, ...]) -> None:
    if f == "json":
        click.echo(json.dumps(rows, ensure_ascii=False, indent=2))
        return
    if f == "table":
        rows = [{**r, "unit": "  " * int(r["depth"]) + r["unit"],
                 **{k: f"{r[k]}%" for k in ("allocation_pct", "refined_pct", "spending_pct",
                                             "schedule_pct")}} for r in rows]
        columns = tuple(c for c in columns if c not in ("kind", "area"))
    emit(rows, f, columns=columns, title=f"monthly report {month} (元)")
