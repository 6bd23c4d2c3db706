"""Render query results as a rich table, JSON or CSV. Amounts arrive already as strings.

JSON and CSV keep the contract's form of an amount (``"14080000.00"``). Tables are for people:
amounts get thousands separators and are right-aligned, and no amount or id is ever folded
across lines — only free-text columns (names, tasks, details) wrap, and the table is as wide as
those unbreakable columns need, even when that is wider than the terminal. ``--bom`` (global
option) starts CSV with a UTF-8 byte-order mark, so Excel on a Chinese Windows reads it as UTF-8.
"""

from __future__ import annotations

import csv
import io
import json
import re
import sys
from collections.abc import Mapping, Sequence
from typing import Any

import click

FORMATS = ("table", "json", "csv")

# columns of free text that may wrap in a table; every other column (ids, amounts, dates, codes,
# units, documents) is kept on one line
WRAPPING = frozenset({"detail", "name", "task", "payee", "reason", "problem", "note", "title",
                      "description", "message", "explain"})
BOM_KEY = "budget_ledger.csv_bom"
UTF8_BOM = b"\xef\xbb\xbf"

_AMOUNT = re.compile(r"^-?\d+\.\d{2}$")


def _cell(v: Any) -> str:
    if v is None:
        return ""
    if isinstance(v, bool):
        return "yes" if v else ""
    return str(v)


def _is_amount_column(rows: Sequence[Mapping[str, Any]], col: str) -> bool:
    """Every value is an amount string in the contract form ('14080000.00'): none is an int,
    a ratio with four places, or text."""
    values = [r.get(col) for r in rows if r.get(col) not in (None, "")]
    return bool(values) and all(isinstance(v, str) and _AMOUNT.match(v) for v in values)


def with_separators(amount: str) -> str:
    """'14080000.00' → '14,080,000.00' (tables only)."""
    sign, digits = ("-", amount[1:]) if amount.startswith("-") else ("", amount)
    whole, _, frac = digits.partition(".")
    return f"{sign}{int(whole):,}.{frac}"


def csv_bom() -> bool:
    ctx = click.get_current_context(silent=True)
    return bool(ctx is not None and ctx.meta.get(BOM_KEY))


def emit(data: Any, fmt: str, *, columns: Sequence[str] | None = None, title: str | None = None) -> None:
    """Write ``data`` (a list of flat dicts, or any JSON-able value for json) to stdout."""
    if fmt == "json":
        click.echo(json.dumps(data, ensure_ascii=False, indent=2, default=str))
        return
    rows: list[Mapping[str, Any]] = data if isinstance(data, list) else [data]
    cols = list(columns) if columns else (list(rows[0].keys()) if rows else [])
    if fmt == "csv":
        buf = io.StringIO()
        w = csv.writer(buf, lineterminator="\n")
        w.writerow(cols)
        for r in rows:
            w.writerow([_cell(r.get(c)) for c in cols])
        raw = getattr(sys.stdout, "buffer", None)
        if csv_bom() and raw is not None:  # bytes: UTF-8 whatever the console's code page
            sys.stdout.flush()
            raw.write(UTF8_BOM + buf.getvalue().encode("utf-8"))
            raw.flush()
        elif csv_bom():
            click.echo("\ufeff" + buf.getvalue(), nl=False)
        else:
            click.echo(buf.getvalue(), nl=False)
        return
    table_out(rows, cols, title)


#: above this many rows a table is printed plainly (aligned columns, no box): rich measures every
#: cell several times, and 15,000 audit findings took it ~50 s
PLAIN_ROWS = 1000


def plain_table(rows: Sequence[Mapping[str, Any]], cols: Sequence[str], title: str | None,
                amounts: set[str]) -> str:
    """Columns padded to their display width (a CJK character is two cells), amounts right-aligned
    with separators, nothing wrapped or folded; one line per row."""
    from rich.cells import cell_len

    def text(r: Mapping[str, Any], c: str) -> str:
        v = _cell(r.get(c)).replace("\n", " ")
        return with_separators(v) if c in amounts and v else v

    cells = [list(cols), *([text(r, c) for c in cols] for r in rows)]
    widths = [max(cell_len(line[i]) for line in cells) for i in range(len(cols))]

    def line(values: Sequence[str]) -> str:
        out = []
        for i, (v, c) in enumerate(zip(values, cols, strict=True)):
            pad = " " * (widths[i] - cell_len(v))
            out.append(pad + v if c in amounts else (v if i == len(cols) - 1 else v + pad))
        return "  ".join(out).rstrip()

    lines = [title] if title else []
    lines += [line(cells[0]), "  ".join("─" * w for w in widths)]
    lines += [line(values) for values in cells[1:]]
    return "\n".join(lines) + "\n"


def table_out(rows: Sequence[Mapping[str, Any]], cols: Sequence[str], title: str | None) -> None:
    amounts = {c for c in cols if _is_amount_column(rows, c)}
    if len(rows) > PLAIN_ROWS:
        click.echo(plain_table(rows, cols, title, amounts), nl=False)
        return

    from rich.console import Console
    from rich.measure import Measurement
    from rich.table import Table

    table = Table(title=title, show_lines=False)
    for c in cols:
        if c in amounts:
            table.add_column(c, justify="right", no_wrap=True)
        elif c in WRAPPING:
            table.add_column(c, overflow="fold")
        else:
            table.add_column(c, no_wrap=True)
    for r in rows:
        table.add_row(*[with_separators(v) if c in amounts and (v := _cell(r.get(c))) else
                        _cell(r.get(c)) for c in cols])
    console = Console(file=sys.stdout)
    # a terminal: its width, unless the unbreakable columns need more; a pipe or a file: no
    # wrapping at all
    need = Measurement.get(console, console.options.update(max_width=100_000), table)
    width = max(console.width, need.minimum) if console.is_terminal else need.maximum
    Console(file=sys.stdout, width=max(width, 20)).print(table)
