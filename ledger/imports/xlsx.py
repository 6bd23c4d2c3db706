"""``.xlsx`` workbooks: the chosen sheet's cells as text, merged ranges filled, formulas checked.

The workbook is opened twice: with stored values (what Excel shows) and with formulas, so that a
formula cell whose value was never computed and stored (openpyxl and pandas write formulas without
values) is refused instead of being read as an empty cell.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from openpyxl.utils import get_column_letter

from ledger.imports.problems import Problem, refuse
from ledger.imports.reading import (
    HEADER_SEARCH_ROWS,
    Cells,
    RawTable,
    cell_text,
    find_header,
    finish,
    in_memory,
    shape_problems,
)


def _open(path: Path, label: str, data_only: bool) -> Any:
    from zipfile import BadZipFile

    import openpyxl

    try:  # values in full mode (merged ranges are only known there), formulas streamed
        return openpyxl.load_workbook(path, data_only=data_only, read_only=not data_only)
    except (BadZipFile, OSError, KeyError, ValueError) as e:
        raise refuse(label, f"not a readable .xlsx workbook: {e}") from None


def _sheet(wb: Any, label: str, sheet: str | None) -> Any:
    if sheet is None:
        return wb.worksheets[0]
    if sheet not in wb.sheetnames:
        raise refuse(label, f"--sheet: no sheet {sheet!r} in this workbook (sheets: "
                     f"{', '.join(wb.sheetnames)})")
    return wb[sheet]


def _fill_merged(ws: Any, grid: list[Cells]) -> dict[tuple[int, int], str]:
    """Copy each merged range's top-left value into its other cells; return the copies."""
    copies: dict[tuple[int, int], str] = {}
    for rng in ws.merged_cells.ranges:
        top = grid[rng.min_row - 1][rng.min_col - 1] if rng.min_row <= len(grid) else ""
        for r in range(rng.min_row, min(rng.max_row, len(grid)) + 1):
            for c in range(rng.min_col, rng.max_col + 1):
                if (r, c) != (rng.min_row, rng.min_col) and c <= len(grid[r - 1]):
                    grid[r - 1][c - 1] = top
                    copies[(r, c)] = f"{rng.coord}"
    return copies


def _uncached(formulas: Any, title: str, grid: list[Cells]) -> dict[tuple[int, int], str]:
    """Cells holding a formula whose value was never stored: (row, column) → the formula.

    ``grid`` holds the stored values (before merged ranges are filled): empty there means none.
    """
    found: dict[tuple[int, int], str] = {}
    for r, row in enumerate(formulas[title].iter_rows(), start=1):
        for c, cell in enumerate(row, start=1):
            if getattr(cell, "data_type", None) != "f":
                continue
            stored = grid[r - 1][c - 1] if r <= len(grid) and c <= len(grid[r - 1]) else ""
            if stored == "":
                found[(r, c)] = str(cell.value)
    return found


def read_xlsx(path: Path, label: str, *, keys: Sequence[str] = (),
              sheet: str | None = None) -> RawTable:
    wb = _open(path, label, data_only=True)
    formulas = _open(path, label, data_only=False)
    try:
        ws = _sheet(wb, label, sheet)
        grid = [[cell_text(v) for v in values] for values in ws.iter_rows(values_only=True)]
        uncached = _uncached(formulas, ws.title, grid)
        copies = _fill_merged(ws, grid)
        title = ws.title
    finally:
        wb.close()
        formulas.close()
    rows = [(i, [c.strip() for c in r]) for i, r in enumerate(grid, start=1)]
    nonblank = [(n, r) for n, r in rows if any(r)]
    header_row, header, notes = find_header(label, nonblank[:HEADER_SEARCH_ROWS], keys)
    data = [(n, r) for n, r in nonblank if n > header_row]
    problems: list[Problem] = []
    for n, r in data:
        problems += shape_problems(label, header, n, r)
    for (n, c), formula in sorted(uncached.items()):
        if n < header_row:
            continue
        name = header[c - 1] if c <= len(header) else get_column_letter(c)
        problems.append(Problem(
            label, n, name, formula,
            f"sheet {title!r}, cell {get_column_letter(c)}{n}: a formula without a stored value "
            "(written by a program, never calculated); open and save the file in Excel or "
            "LibreOffice so the value is stored, or paste values"))
    merged = {(n, header[c - 1]): coord for (n, c), coord in copies.items()
              if n > header_row and c <= len(header)}
    return finish(label, header, header_row, len(data), problems, in_memory(data), notes, merged)
