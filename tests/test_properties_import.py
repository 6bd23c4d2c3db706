"""The allocation-table importer, property-tested: any valid edge-list table imports and balances;
any single corrupted cell is refused, and the store is left exactly as it was.

Tables are generated in the shape of the notices (region → prefectures → counties, plus counties
funded directly by the region), rows shuffled, amounts in 万元 with up to two decimals, zeros as
'-' or empty. The import goes through ``ledger.imports`` directly (the CLI is tested elsewhere).
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ledger.application import BudgetLedger
from ledger.commands import IssueCommand, build
from ledger.imports import (
    AllocationOptions,
    ImportRejected,
    allocation_indicator_id,
    import_allocations,
    table_from_text,
)
from projections.updater import Projector
from tests.strategies import dump, first_difference, indicator_rows

DOC = "藏财农〔2025〕7号"
REGION = "西藏自治区"
OPTIONS = AllocationOptions(doc=DOC, effective_date="2025-01-06", year=2025, source="provincial",
                            tracking=True, advance=True)
CENT_WAN = 10_000  # 0.01 万元 in 分


@dataclass
class Table:
    tasks: list[str]
    rows: list[tuple[str, str, list[int]]]  # (from, to, amount per task in 分), file order
    cells: list[list[str]]  # the rendered cells, header first

    def text(self) -> str:
        return "\n".join(",".join(f'"{c}"' if "," in c else c for c in r) for r in self.cells) + "\n"


def render(fen: int, zero: str) -> str:
    """分 → a cell in 万元 as a person types it: '1,408', '2.5', '0.07'; zero as '-', '' or '0'."""
    if fen == 0:
        return zero
    whole, frac = divmod(fen // CENT_WAN, 100)
    text = f"{whole:,}" if whole >= 1000 else str(whole)
    return text + (f".{frac:02d}".rstrip("0") if frac else "")


@st.composite
def tables(draw: st.DrawFn) -> Table:
    tasks = ["巩固拓展脱贫攻坚成果和乡村振兴任务", "少数民族发展任务", "以工代赈任务"][: draw(st.integers(1, 3))]
    amount = st.integers(0, 500_000).map(lambda x: x * CENT_WAN)  # up to 5,000 万元, 2 decimals
    rows: list[tuple[str, str, list[int]]] = []
    for p in range(draw(st.integers(1, 3))):
        counties = [[draw(amount) for _ in tasks] for _ in range(draw(st.integers(0, 3)))]
        keep = [draw(amount) for _ in tasks]
        share = [sum(c[k] for c in counties) + keep[k] for k in range(len(tasks))]
        rows.append((REGION, f"市{p}", share))
        rows += [(f"市{p}", f"市{p}县{c}", a) for c, a in enumerate(counties)]
    for d in range(draw(st.integers(0, 2))):
        rows.append((REGION, f"直管县{d}", [draw(amount) for _ in tasks]))
    for k in range(len(tasks)):  # every task column carries some money
        if not any(r[2][k] for r in rows if r[0] == REGION):
            rows[0][2][k] += CENT_WAN
    rows = [rows[i] for i in draw(st.permutations(range(len(rows))))]
    zero = st.sampled_from(["-", "", "0"])
    cells = [["from", "to", *tasks, "note"]]
    cells += [[f, t, *(render(a, draw(zero)) for a in amounts), ""] for f, t, amounts in rows]
    return Table(tasks, rows, cells)


@contextmanager
def ledger() -> Iterator[BudgetLedger]:
    """A fresh store per example, already holding an unrelated indicator (so 'unchanged' means
    something) with its read models caught up."""
    tmp = tempfile.mkdtemp(prefix="bl-import-prop-")
    app = BudgetLedger.open(f"sqlite:///{tmp}/ledger.db")
    try:
        app.issue(build(IssueCommand, indicator_id="EARLIER", unit=REGION, amount="1万", doc="D0",
                        effective_date="2025-01-01", year=2025, task="少数民族发展任务",
                        source="central"))
        yield app
    finally:
        app.close()
        shutil.rmtree(tmp, ignore_errors=True)


@given(tables())
def test_a_valid_table_imports_and_balances(table: Table) -> None:
    with ledger() as app:
        result = import_allocations(app, table_from_text(table.text(), "t.csv"), OPTIONS)
        projector = Projector(app)
        projector.catch_up()
        rows = indicator_rows(projector.engine)
        projector.engine.dispose()

    # every non-zero cell is one indicator of exactly that amount, under its holder's indicator
    want: dict[str, tuple[int, str, str | None]] = {}
    for k, task in enumerate(table.tasks):
        total = sum(a[k] for f, _, a in table.rows if f == REGION)
        if total:
            want[allocation_indicator_id(DOC, None, REGION, task)] = (total, REGION, None)
        receiver = {t: allocation_indicator_id(DOC, f, t, task) for f, t, a in table.rows if a[k]}
        receiver[REGION] = allocation_indicator_id(DOC, None, REGION, task)
        for f, t, a in table.rows:
            if a[k]:
                want[receiver[t]] = (a[k], t, receiver[f])
    got = {i: (r.received, r.unit, r.parent_id) for i, r in rows.items() if i != "EARLIER"}
    assert got == want
    assert result.events >= len(want)

    # it balances: every indicator conserves, keeps what it did not forward, inherits its terms
    for r in rows.values():
        if r.indicator_id == "EARLIER":
            continue
        children = [c for c in rows.values() if c.parent_id == r.indicator_id]
        assert r.forwarded == sum(c.received for c in children)
        assert r.available == r.received - r.forwarded >= 0
        assert (r.allocated, r.paid, r.recovered) == (0, 0, 0)
        assert (r.year, r.source, bool(r.tracking), bool(r.advance), r.doc) == (
            2025, "provincial", True, True, DOC)
        root = rows[r.root_id]
        assert r.task == root.task
        tree = [x for x in rows.values() if x.root_id == root.indicator_id]
        assert root.received == sum(x.available for x in tree)


# ---- one corrupted cell ---------------------------------------------------------------------------

AMOUNT_GARBAGE = ["abc", "1e3", "1E+2", "-5", "+7", "1.2.3", "12.3456789", "1,23", "1,2345",
                  "3万美元", "0x10", "1 2", "½", "12..5"]


@st.composite
def corrupted(draw: st.DrawFn) -> tuple[Table, int, str, str]:
    """A valid table with exactly one bad cell: (table, file row, column, bad value)."""
    table = draw(tables())
    i = draw(st.integers(0, len(table.rows) - 1))
    holder, to, amounts = table.rows[i]
    cells = table.cells[i + 1]
    kind = draw(st.sampled_from(["amount", "empty-name", "self-loop", "cycle", "over"]))
    others = sorted({t for j, (f, t, _) in enumerate(table.rows) if f == REGION and j != i})
    if kind == "cycle" and not others:
        kind = "self-loop"
    if kind == "amount":
        k = draw(st.integers(0, len(table.tasks) - 1))
        column, value = table.tasks[k], draw(st.sampled_from(AMOUNT_GARBAGE))
        cells[2 + k] = value
    elif kind == "empty-name":
        k = draw(st.integers(0, 1))
        column, value = ("from", "to")[k], ""
        cells[k] = value
    elif kind == "self-loop":
        column, value = "to", holder
        cells[1] = value
    elif kind == "cycle":  # the region receives from a unit it funds
        column, value = "from", draw(st.sampled_from(others))
        cells[0], cells[1] = value, REGION
    else:  # a county given more than its prefecture received, or a prefecture less than it forwards
        k = draw(st.integers(0, len(table.tasks) - 1))
        if holder == REGION:
            forwarded = sum(a[k] for f, _, a in table.rows if f == to)
            if forwarded == 0:
                forwarded = CENT_WAN  # nothing below it: give a county of its own more than it gets
                table.rows.append((to, f"{to}新县", [0] * len(table.tasks)))
                extra = ["" for _ in table.cells[0]]
                extra[0], extra[1], extra[2 + k] = to, f"{to}新县", render(2 * max(amounts[k], CENT_WAN), "-")
                table.cells.append(extra)
                column, value = table.tasks[k], extra[2 + k]
                return table, len(table.cells), column, value
            value = render(forwarded - CENT_WAN, "-")
        else:
            received = sum(a[k] for f, t, a in table.rows if t == holder)
            value = render(received + CENT_WAN, "-")
        column = table.tasks[k]
        cells[2 + k] = value
    return table, i + 2, column, value


@given(corrupted())
def test_any_single_corrupted_cell_is_refused_and_nothing_written(
    case: tuple[Table, int, str, str],
) -> None:
    table, row, column, value = case
    with ledger() as app:
        projector = Projector(app)
        projector.catch_up()
        before_events, before = app.last_position(), dump(projector.engine)
        with pytest.raises(ImportRejected) as refused:
            import_allocations(app, table_from_text(table.text(), "t.csv"), OPTIONS)
        assert app.last_position() == before_events, "a refused import wrote events"
        projector.catch_up()
        after = dump(projector.engine)
        assert after == before, first_difference(after, before)
        projector.engine.dispose()
    problems = refused.value.items
    assert problems and all(p.file == "t.csv" for p in problems)
    # the bad cell's row is named, except for sums that fail at a sibling row or in a cycle
    rows_named = {p.row for p in problems}
    if value in AMOUNT_GARBAGE or value == "":
        assert row in rows_named, f"row {row} ({column}={value!r}) not named: {refused.value}"
        assert any(p.column in (column, "holder") or column in (p.column or "") for p in problems
                   if p.row == row), str(refused.value)
