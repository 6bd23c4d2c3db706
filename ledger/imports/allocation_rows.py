"""An allocation table's columns and rows: which header columns are tasks, totals or row numbers,
and every data row validated into a compact :class:`Edge` — a file of a million rows is held as
these (a pydantic row model per row took ~1 KB; an Edge ~150 bytes), never as cells or models."""

from __future__ import annotations

import unicodedata
from collections.abc import Iterator
from dataclasses import dataclass, field
from itertools import groupby
from operator import attrgetter

from ledger.imports.allocation_steps import money
from ledger.imports.problems import ImportRejected, Problem, refuse
from ledger.imports.reading import RawTable
from ledger.imports.rows import AllocationRow, is_row_number, merged_amounts, validate
from ledger.money import AmountError, parse_amount
from ledger.validation import first_control_character

#: a column (or a from/to cell) holding one of these is a total, never a task or a unit
AGGREGATE_WORDS = ("合计", "小计", "总计", "共计", "总额")
AGGREGATE_NAMES = frozenset({"total", "subtotal", "sum", "grand total"})
KEY_COLUMNS = ("from", "to")
#: columns that describe a row without being a task: the note and the geographic area
DESCRIPTIVE = ("note", "area")
#: a note holding one of these marks a 资金管理型直管县 (funded from the table's root)
DIRECT_COUNTY_MARKS = ("资金管理型直管县", "直管县")


def _squash(name: str) -> str:
    return "".join(unicodedata.normalize("NFKC", name).split()).lower()


def is_aggregate(name: str) -> bool:
    """A total / subtotal label (合计, 拉萨市小计, Total …)."""
    s = _squash(name)
    return s in AGGREGATE_NAMES or any(w in s for w in AGGREGATE_WORDS)


def is_direct_county(note: str | None) -> bool:
    return bool(note) and any(m in _squash(note or "") for m in DIRECT_COUNTY_MARKS)


@dataclass
class Columns:
    """What each header column of an allocation table is."""

    holder: str
    to: str
    note: str | None
    tasks: list[str]
    area: str | None = None
    totals: list[str] = field(default_factory=list)  # checked against each row, not imported
    ignored: list[str] = field(default_factory=list)  # row numbers


def table_columns(table: RawTable, notes: list[str]) -> Columns:
    file = table.file
    lower = {h.lower(): h for h in table.header}
    missing = [c for c in KEY_COLUMNS if c not in lower]
    cols = Columns(lower.get("from", ""), lower.get("to", ""), lower.get("note"), [],
                   area=lower.get("area"))
    for h in table.header:
        if h.lower() in (*KEY_COLUMNS, *DESCRIPTIVE):
            continue
        bad = first_control_character(h)
        if bad:
            raise refuse(file, f"header column {h!r}: a task name must be one line of visible "
                         f"text; it contains {bad}", table.header_row)
        if is_row_number(h):
            cols.ignored.append(h)
        elif is_aggregate(h):
            cols.totals.append(h)
        else:
            cols.tasks.append(h)
    if missing or not cols.tasks:
        why = f"missing column(s) {', '.join(missing)}" if missing else "no task column"
        raise refuse(file, f"wrong header: {why} (expected from,to,<task>…[,note])",
                     table.header_row)
    for h in cols.ignored:
        notes.append(f"{file}: column {h} is a row number: ignored")
    for h in cols.totals:
        notes.append(f"{file}: column {h} is a total, not a task: not imported; each row's {h} "
                     f"was checked to equal the sum of its task cells ({', '.join(cols.tasks)})")
    return cols


_BITS = 64  # per task amount in Edge.packed (an entry is at most 10**14 分 < 2**47)
_MASK = (1 << _BITS) - 1


@dataclass(slots=True)
class Edge:
    """One validated row: ``holder`` passes :meth:`amount` (分, per task column, in header order)
    on to ``to``. ``area`` is the area cell (None: the holder); ``direct`` a 直管县 note. The
    amounts are packed into one int: a tuple of ints took ~150 bytes a row, this ~40."""

    row: int
    holder: str
    to: str
    packed: int
    area: str | None = None
    direct: bool = False

    @staticmethod
    def pack(amounts: list[int]) -> int:
        packed = 0
        for ti, a in enumerate(amounts):
            packed |= a << (ti * _BITS)
        return packed

    def amount(self, ti: int) -> int:
        return (self.packed >> (ti * _BITS)) & _MASK


def _subtotal(table: RawTable, cols: Columns, n: int, raw: dict[str, str]) -> list[Problem]:
    """A row whose from or to is a total label (拉萨市小计, 合计): never counted as a transfer."""
    for col in (cols.holder, cols.to):
        if is_aggregate(raw[col]):
            return [Problem(table.file, n, col, raw[col],
                            "a subtotal or total row, not a transfer: remove it (the importer "
                            "sums the rows itself; check the table's total with --expect-total)")]
    return []


def _row_checks(table: RawTable, cols: Columns, n: int, raw: dict[str, str], row: AllocationRow,
                unit: str) -> list[Problem]:
    """Problems only this importer has: totals that do not add up, a→a."""
    file = table.file
    problems = []
    for col in cols.totals:
        text = raw.get(col, "")
        if not text or text in ("-", "－", "—"):
            continue
        try:
            total = parse_amount(text, unit, allow_zero=True)
        except AmountError as e:
            problems.append(Problem(file, n, col, text, str(e)))
            continue
        got = sum(row.amounts.values())
        if total != got:
            problems.append(Problem(file, n, col, text,
                                    f"the row's task cells sum to {money(got, unit)}, not "
                                    f"{money(total, unit)}: the table does not add up"))
    if row.holder == row.to:
        problems.append(Problem(file, n, cols.to, row.to,
                                "a unit cannot forward to itself (a cycle of one)"))
    return problems


class _Names(dict[str, str]):
    """One str object per unit name: a holder's name is on thousands of rows."""

    def __missing__(self, key: str) -> str:
        self[key] = key
        return key


def _validated(table: RawTable, cols: Columns, n: int, raw: dict[str, str],
               unit: str) -> tuple[AllocationRow | None, list[Problem]]:
    bad = _subtotal(table, cols, n, raw)
    if bad:
        return None, bad
    data = {"holder": raw[cols.holder], "to": raw[cols.to],
            "amounts": {t: raw[t] for t in cols.tasks},
            "note": raw.get(cols.note) if cols.note else None,
            "area": raw.get(cols.area) if cols.area else None}
    data = {k: v for k, v in data.items() if v not in ("", None)}
    names = {"holder": cols.holder, "to": cols.to, "note": cols.note or "note",
             "area": cols.area or "area"}
    row, bad = validate(AllocationRow, table, n, raw, data, names, {"unit": unit})
    bad += merged_amounts(table, n, raw, [*cols.tasks, *cols.totals])
    if row is not None and not bad:
        bad = _row_checks(table, cols, n, raw, row, unit)
    return (None if bad else row), bad


def read_rows(table: RawTable, cols: Columns, unit: str) -> list[Edge]:
    """Every row validated as it is read; refused as a whole (every bad row listed) if any is
    bad, the same ``from,to`` pair twice included."""
    problems: list[Problem] = []
    edges: list[Edge] = []
    names = _Names()  # holders and areas; a receiver's name is held once, by its edge
    for n, raw in table.records():
        row, bad = _validated(table, cols, n, raw, unit)
        if row is None:
            problems += bad
            continue
        edges.append(Edge(n, names[row.holder], row.to,
                          Edge.pack([row.amounts.get(t, 0) for t in cols.tasks]),
                          names[row.area] if row.area else None, is_direct_county(row.note)))
    problems += duplicates(table.file, cols, edges)
    if problems:
        raise ImportRejected(table.file, problems)
    return edges


def by_receiver(edges: list[Edge]) -> Iterator[list[Edge]]:
    """The edges grouped by receiving unit, each group in file order (a sort, not a dict of a
    million names)."""
    for _to, run in groupby(sorted(edges, key=attrgetter("to")), key=attrgetter("to")):
        yield list(run)


def duplicates(file: str, cols: Columns, edges: list[Edge]) -> list[Problem]:
    problems = []
    for run in by_receiver(edges):
        if len(run) < 2:
            continue
        first: dict[str, int] = {}
        for e in run:
            if e.holder in first:
                problems.append(Problem(file, e.row, cols.to, e.to,
                                        f"duplicate row: {e.holder} → {e.to} is already on row "
                                        f"{first[e.holder]}"))
            else:
                first[e.holder] = e.row
    return problems
