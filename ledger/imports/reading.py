"""Reading a file into a :class:`RawTable`: cells as text, each row with the row number a spreadsheet
shows. CSV (UTF-8 unless told otherwise) or ``.xlsx`` (the first sheet, or ``sheet=``).

Shape rules, applied to both formats:

- blank rows are ignored; cells are trimmed;
- the **header row** is the first of the first :data:`HEADER_SEARCH_ROWS` non-blank rows that holds
  every one of the importer's key columns (``from``/``to`` for allocations, case-insensitive); rows
  above it are a title and skipped, with a note. When no row qualifies, the first non-blank row is
  the header (and the importer names what it misses);
- a row with fewer cells than the header, or with a non-empty cell beyond it, is refused, as is a
  CSV cell running over several lines (an unclosed quote, most often);
- in ``.xlsx``: a merged range is filled with its top-left value (a ``from`` cell merged over its
  rows), the filled cells are remembered so amounts cannot be copied; a formula without a stored
  value is refused naming sheet, cell, row and column.

CSV text is parsed twice instead of being held as rows: once to check its shape and count rows,
then row by row as the importer consumes it, so a 100k-row file is never held as cells. A file
named by path is read from disk on each pass (:func:`table_from_path`), so not even its text is
held.
"""

from __future__ import annotations

import codecs
import csv
import io
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any, TextIO

from ledger.errors import InputError
from ledger.imports.problems import ImportRejected, Problem, refuse

#: how many non-blank rows from the top may be a title before the header
HEADER_SEARCH_ROWS = 10

Cells = list[str]
Source = Callable[[], Iterator[tuple[int, Cells]]]


@dataclass
class RawTable:
    """A file's header and a way to go through its data rows (row number, column → text)."""

    file: str
    header: list[str]
    source: Source = field(repr=False)
    count: int
    header_row: int = 1
    notes: list[str] = field(default_factory=list)
    #: (row, column) cells filled from a merged range above or beside them (xlsx)
    merged: dict[tuple[int, str], str] = field(default_factory=dict)

    def records(self) -> Iterator[tuple[int, dict[str, str]]]:
        width = len(self.header)
        for n, cells in self.source():
            yield n, dict(zip(self.header, cells[:width], strict=True))

    @property
    def rows(self) -> list[tuple[int, dict[str, str]]]:
        """Every data row at once (small tables: allocation tables, tests)."""
        return list(self.records())


def read_table(path: str | Path, *, encoding: str = "utf-8", name: str | None = None,
               keys: Sequence[str] = (), sheet: str | None = None) -> RawTable:
    """Read a ``.csv`` or ``.xlsx`` file; ``keys`` are the columns that identify its header row."""
    p = Path(path)
    label = name or p.name
    if p.suffix.lower() in (".xlsx", ".xlsm"):
        from ledger.imports.xlsx import read_xlsx

        return read_xlsx(p, label, keys=keys, sheet=sheet)
    if sheet is not None:
        raise InputError(f"--sheet: {p.name} is not an .xlsx workbook; --sheet is for .xlsx files",
                         field="sheet")
    return table_from_path(p, label, encoding=encoding, keys=keys)


def _encoding(encoding: str) -> str:
    enc = encoding.strip().lower().replace("_", "-")
    enc = "utf-8-sig" if enc in ("utf-8", "utf8") else enc
    try:
        codecs.lookup(enc)
    except LookupError:
        raise InputError(f"--encoding: unknown encoding {encoding!r}", field="encoding") from None
    return enc


def _decode(data: bytes, enc: str, encoding: str, label: str) -> str:
    """The text, or a refusal naming the row and byte offset of the first bad byte."""
    try:
        return data.decode(enc)
    except UnicodeDecodeError as e:
        row = data[: e.start].count(b"\n") + 1
        bad = data[e.start : e.start + 2].hex(" ")
        hint = "save it as UTF-8, or pass --encoding gbk for a GBK export" if enc == "utf-8-sig" else (
            "check --encoding"
        )
        raise refuse(
            label, f"not valid {encoding} text (bytes {bad} at byte {e.start}); {hint}", row
        ) from None


def table_from_bytes(data: bytes, label: str, *, encoding: str = "utf-8",
                     keys: Sequence[str] = ()) -> RawTable:
    return table_from_text(_decode(data, _encoding(encoding), encoding, label), label, keys=keys)


def table_from_path(path: Path, label: str, *, encoding: str = "utf-8",
                    keys: Sequence[str] = ()) -> RawTable:
    """A CSV file read from disk on every pass, never held: its text (and, while decoding, its
    bytes) was most of a million-row import's memory. Decoded in pieces first, to refuse bad
    bytes before anything else (the whole file is read at once only to word that refusal)."""
    enc = _encoding(encoding)
    decoder = codecs.getincrementaldecoder(enc)()
    try:
        with path.open("rb") as fh:
            while chunk := fh.read(1 << 20):
                decoder.decode(chunk)
            decoder.decode(b"", final=True)
    except UnicodeDecodeError:
        _decode(path.read_bytes(), enc, encoding, label)
    except OSError as e:
        raise InputError(f"FILE: cannot read {path}: {e.strerror or e}", field="file") from None
    return _table(lambda: path.open(encoding=enc, newline=""), label, keys)


def _csv_rows(opener: Callable[[], TextIO], label: str) -> Iterator[tuple[int, Cells, bool]]:
    """(row number, trimmed cells, whether a cell ran over several lines) of every CSV row."""
    with opener() as fh:
        reader = csv.reader(fh, strict=True)
        while True:
            start = reader.line_num + 1
            try:
                row = next(reader)
            except StopIteration:
                return
            except csv.Error as e:
                why = f"unreadable CSV: {e}"
                if "unexpected end of data" in str(e) or "EOF" in str(e):
                    why += " — a quote (\") opened on this row is never closed"
                raise refuse(label, why, start) from None
            yield start, [c.strip() for c in row], reader.line_num > start


def table_from_text(text: str, label: str, *, keys: Sequence[str] = ()) -> RawTable:
    """A CSV text as a table: checked for shape now, its rows parsed again when read."""
    return _table(lambda: io.StringIO(text, newline=""), label, keys)


def _table(opener: Callable[[], TextIO], label: str, keys: Sequence[str]) -> RawTable:
    first: list[tuple[int, Cells]] = []
    for n, cells, _ in _csv_rows(opener, label):
        if any(cells):
            first.append((n, cells))
        if len(first) >= HEADER_SEARCH_ROWS:
            break
    header_row, header, notes = find_header(label, first, keys)
    problems: list[Problem] = []
    count = 0
    for n, cells, multiline in _csv_rows(opener, label):
        if n <= header_row or not any(cells):
            continue
        count += 1
        problems += shape_problems(label, header, n, cells)
        if multiline:
            col = next((i for i, c in enumerate(cells) if "\n" in c or "\r" in c), 0)
            name = header[col] if col < len(header) else f"#{col + 1}"
            problems.append(Problem(label, n, name, None,
                                    "a quoted cell runs over several lines — an unclosed quote (\")?"
                                    " A cell must be one line"))

    def source() -> Iterator[tuple[int, Cells]]:
        for n, cells, _ in _csv_rows(opener, label):
            if n > header_row and any(cells):
                yield n, cells

    return finish(label, header, header_row, count, problems, source, notes)


def find_header(label: str, rows: Sequence[tuple[int, Cells]],
                keys: Sequence[str]) -> tuple[int, list[str], list[str]]:
    """The header row among the first non-blank rows (see the module's rules), and notes."""
    if not rows:
        raise refuse(label, "the file is empty: expected a header row and data rows")
    wanted = {k.lower() for k in keys}
    pick = 0
    if wanted:
        for i, (_, cells) in enumerate(rows):
            if wanted <= {c.lower() for c in cells}:
                pick = i
                break
    header_row, header = rows[pick][0], list(rows[pick][1])
    while header and not header[-1]:
        header.pop()
    notes = []
    if pick:
        skipped = ", ".join(str(n) for n, _ in rows[:pick])
        notes.append(f"{label}: the header is row {header_row}; row{'s' if pick > 1 else ''} "
                     f"{skipped} above it skipped as a title")
    seen: set[str] = set()
    for i, name in enumerate(header):
        if not name:
            raise refuse(label, f"header column {i + 1} has no name", header_row)
        if name in seen:
            raise refuse(label, f"header names column {name!r} twice", header_row)
        seen.add(name)
    return header_row, header, notes


def shape_problems(label: str, header: Sequence[str], n: int, cells: Cells) -> list[Problem]:
    """A data row with too few cells, or a non-empty cell beyond the header."""
    extra = [c for c in cells[len(header) :] if c]
    if extra:
        return [Problem(label, n, None, extra[0],
                        f"the row has {len(cells)} cells but the header only {len(header)}")]
    if len(cells) < len(header):
        missing = ", ".join(header[len(cells) :])
        return [Problem(label, n, header[len(cells)], None,
                        f"the row has {len(cells)} cells but the header {len(header)} (no cell for "
                        f"{missing}); a short row is never read as zeros — complete it, or end it "
                        "with empty cells (commas)")]
    return []


def finish(label: str, header: list[str], header_row: int, count: int, problems: list[Problem],
           source: Source, notes: list[str],
           merged: dict[tuple[int, str], str] | None = None) -> RawTable:
    if problems:
        raise ImportRejected(label, problems)
    if not count:
        raise refuse(label, "no data rows below the header", header_row)
    return RawTable(label, header, source, count, header_row, notes, merged or {})


def cell_text(v: Any) -> str:
    """An xlsx cell value as the text a CSV export would hold."""
    if v is None:
        return ""
    if isinstance(v, bool):
        return "yes" if v else "no"
    if isinstance(v, datetime):
        return v.date().isoformat() if v.time() == datetime.min.time() else v.isoformat()
    if isinstance(v, date):
        return v.isoformat()
    if isinstance(v, int):
        return str(v)
    if isinstance(v, float):  # a number cell: its shortest exact decimal, checked like any text
        return str(int(v)) if v.is_integer() and abs(v) < 1e15 else repr(v)
    if isinstance(v, Decimal):
        return format(v, "f")
    return str(v)


def in_memory(rows: Iterable[tuple[int, Cells]]) -> Source:
    held = list(rows)
    return lambda: iter(held)
