"""An allocation table's columns and rows: which header columns are tasks, totals or row numbers,
and every data row validated as it is read into the scratch table of an
:class:`~ledger.imports.allocation_store.EdgeStore` — a file of a million rows is never held in
memory, as cells, models or compact rows."""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass, field

from ledger.imports.allocation_steps import money
from ledger.imports.allocation_store import EdgeStore
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


def read_rows(table: RawTable, cols: Columns, unit: str) -> EdgeStore:
    """Every row validated as it is read into a scratch table; refused as a whole (every bad row
    listed) if any is bad, the same ``from,to`` pair twice included."""
    problems: list[Problem] = []
    store = EdgeStore(len(cols.tasks))
    try:
        for n, raw in table.records():
            row, bad = _validated(table, cols, n, raw, unit)
            if row is None:
                problems += bad
                continue
            store.add(n, row.holder, row.to, [row.amounts.get(t, 0) for t in cols.tasks],
                      row.area or None, is_direct_county(row.note))
        store.finish()
        problems += duplicates(table.file, cols, store)
        if problems:
            raise ImportRejected(table.file, problems)
    except BaseException:
        store.close()
        raise
    return store


def duplicates(file: str, cols: Columns, store: EdgeStore) -> list[Problem]:
    """A ``from,to`` pair on a second row (found by a query, not a set of every pair)."""
    return [Problem(file, n, cols.to, to, f"duplicate row: {holder} → {to} is already on row "
                                          f"{first}")
            for n, holder, to, first in store.duplicates()]
