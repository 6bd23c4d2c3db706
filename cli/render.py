"""Render query results as a rich table, JSON or CSV. Amounts arrive already as strings."""

from __future__ import annotations

import csv
import io
import json
import sys
from collections.abc import Mapping, Sequence
from typing import Any

import click

FORMATS = ("table", "json", "csv")


def _cell(v: Any) -> str:
    if v is None:
        return ""
    if isinstance(v, bool):
        return "yes" if v else ""
    return str(v)


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
        click.echo(buf.getvalue(), nl=False)
        return
    from rich.console import Console
    from rich.table import Table

    table = Table(title=title, show_lines=False)
    for c in cols:
        table.add_column(c, overflow="fold")
    for r in rows:
        table.add_row(*[_cell(r.get(c)) for c in cols])
    Console(file=sys.stdout, width=max(120, Console().width)).print(table)
