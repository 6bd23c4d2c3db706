"""The allocation import's scratch table: the plan holds no row of the file in memory, reads a
holder's rows back in file order, and closes (so deletes) its database when done or refused."""

from __future__ import annotations

import sqlite3
from collections.abc import Sized
from dataclasses import fields

import pytest

from ledger.application import BudgetLedger
from ledger.imports import AllocationOptions, import_allocations, plan_allocations, table_from_text
from ledger.imports.allocation_store import EdgeStore
from ledger.imports.problems import ImportRejected

OPTS = AllocationOptions(doc="测试〔2025〕1号", effective_date="2025-01-10", year=2025,
                         source="central")


def _table(receivers: int) -> str:
    rows = [f"县,乡{i:04d},1,2" for i in range(receivers)]
    return "\n".join(["from,to,A,B", f"省,县,{receivers},{2 * receivers}", *rows]) + "\n"


def test_the_plan_holds_per_holder_data_not_the_rows(app: BudgetLedger) -> None:
    plan = plan_allocations(app, table_from_text(_table(600), "t.csv"), OPTS)
    try:
        for f in fields(plan):
            value = getattr(plan, f.name)
            assert not (isinstance(value, Sized) and len(value) >= 600), f.name
        assert plan.groups == ["省", "县"]
        assert [e.to for e in plan.store.of("县")][:3] == ["乡0000", "乡0001", "乡0002"]
        assert plan.commands == 2 + 2 * 601  # two roots, every non-zero cell
    finally:
        plan.store.close()
    with pytest.raises(sqlite3.ProgrammingError):
        plan.store.db.execute("SELECT 1")


def test_a_holders_rows_come_back_in_file_order_and_duplicates_after_their_first() -> None:
    store = EdgeStore(1)
    for row, holder, to in [(2, "乙", "x"), (3, "甲", "y"), (4, "乙", "a"), (5, "乙", "x"),
                            (6, "甲", "y"), (7, "乙", "x")]:
        store.add(row, holder, to, [row], None, False)
    store.finish()
    assert [(e.row, e.to, e.amount(0)) for e in store.of("乙")] == [
        (2, "x", 2), (4, "a", 4), (5, "x", 5), (7, "x", 7)]
    assert list(store.duplicates()) == [(5, "乙", "x", 2), (7, "乙", "x", 2), (6, "甲", "y", 3)]
    assert store.holders() == {"乙": 2, "甲": 3}
    store.close()


def test_a_refused_table_closes_its_scratch_table(app: BudgetLedger,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    closed: list[EdgeStore] = []
    close = EdgeStore.close

    def spy(self: EdgeStore) -> None:
        closed.append(self)
        close(self)

    monkeypatch.setattr(EdgeStore, "close", spy)
    over = _table(3).replace("省,县,3,6", "省,县,2,6")  # 县 forwards 3 of A but receives 2
    with pytest.raises(ImportRejected, match="over by"):
        import_allocations(app, table_from_text(over, "t.csv"), OPTS)
    assert len(closed) == 1
    assert app.last_position() == 0
