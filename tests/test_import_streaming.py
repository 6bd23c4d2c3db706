"""A big allocation table is written in several saves inside ONE store transaction (ledger/streamed.py):
the result equals a one-save import, and a refusal or a failure after some saves leaves nothing."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from eventsourcing.persistence import OperationalError

import ledger.streamed as streamed_mod
from ledger.application import BudgetLedger
from ledger.commands import ForwardCommand, build
from ledger.errors import StoreUnavailable
from ledger.imports import (
    AllocationOptions,
    ImportRejected,
    allocation_indicator_id,
    import_allocations,
    table_from_text,
)
from ledger.integrity import verify_chain
from tests.test_import_allocations import indicators, store_hash

DOC = "测试〔2025〕1号"
OPTS = AllocationOptions(doc=DOC, effective_date="2025-01-10", year=2025, source="central",
                         unit="元", actor="test")


def table(provinces: int = 2, prefectures: int = 4, counties: int = 5) -> str:
    """Provinces → prefectures → counties, two tasks; every holder keeps 1 元 of each task."""
    lines = ["from,to,area,甲任务,乙任务"]
    for p in range(provinces):
        for f in range(prefectures):
            pref = f"省{p}市{f}"
            lines.append(f"省{p},{pref},,{counties * 10 + 1},{counties * 20 + 1}")
            lines += [f"{pref},{pref}县{c},,10,20" for c in range(counties)]
    return "\n".join(lines) + "\n"


def test_parts_give_the_same_ledger_as_one_save(tmp_path: Path, small_parts: list[int]) -> None:
    text = table()
    one = BudgetLedger.open(f"sqlite:///{tmp_path / 'one.db'}")
    many = BudgetLedger.open(f"sqlite:///{tmp_path / 'many.db'}")
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(streamed_mod, "PART_EVENTS", 10**9)
        r1 = import_allocations(one, table_from_text(text, "t.csv"), OPTS)
    assert len(small_parts) == 1
    r2 = import_allocations(many, table_from_text(text, "t.csv"), OPTS)
    assert len(small_parts) > 5  # really written in parts
    assert (r1.events, r1.applied, r1.as_dict()["ids"]) == (r2.events, r2.applied,
                                                              r2.as_dict()["ids"])
    assert r2.events == many.last_position() == sum(small_parts[1:])
    def books(app: BudgetLedger) -> dict[str, dict[str, Any]]:
        return {k: {f: v for f, v in r._mapping.items() if f != "recorded_at"}
                for k, r in indicators(app).items()}

    assert books(one) == books(many)
    # one transaction, one recorded-at time for every event of it
    stamps = {many.mapper.to_domain_event(n).timestamp  # type: ignore[attr-defined]
              for n in many.recorder.select_notifications(1, 10_000)}
    assert len(stamps) == 1
    assert verify_chain(many) == []
    one.close()
    many.close()


def test_a_failure_while_writing_a_later_part_leaves_nothing(
        tmp_path: Path, small_parts: list[int], monkeypatch: pytest.MonkeyPatch) -> None:
    db = tmp_path / "l.db"
    app = BudgetLedger.open(f"sqlite:///{db}")
    import_allocations(app, table_from_text(table(1, 1, 2), "first.csv"),
                       AllocationOptions(**{**OPTS.__dict__, "doc": "先〔2025〕1号"}))
    before, position = store_hash(db, app), app.last_position()
    spy = streamed_mod.save_aggregates
    saves = len(small_parts)

    def failing(app_: BudgetLedger, aggs: Any) -> Any:
        if len(small_parts) == saves + 3:  # three parts are in the transaction already
            raise OperationalError("disk I/O error")
        return spy(app_, aggs)

    monkeypatch.setattr(streamed_mod, "save_aggregates", failing)
    with pytest.raises(StoreUnavailable, match="nothing was written"):
        import_allocations(app, table_from_text(table(), "t.csv"), OPTS)
    assert len(small_parts) == saves + 3 and sum(small_parts[saves:]) >= 30
    assert app.last_position() == position
    assert store_hash(db, app) == before
    # the transaction was rolled back, not left open: the same file imports afterwards
    monkeypatch.setattr(streamed_mod, "save_aggregates", spy)
    result = import_allocations(app, table_from_text(table(), "t.csv"), OPTS)
    assert app.last_position() == position + result.events
    assert verify_chain(app) == []
    app.close()


def test_a_row_refused_after_parts_were_saved_leaves_nothing(
        tmp_path: Path, small_parts: list[int]) -> None:
    """Only the ledger can refuse 市 → 乙县 here (--skip-existing, and 市's indicator was drawn
    on since): it is applied after the other province's parts were saved."""
    db = tmp_path / "l.db"
    app = BudgetLedger.open(f"sqlite:///{db}")
    import_allocations(app, table_from_text("from,to,甲任务\n省,市,10\n市,甲县,4\n", "a.csv"), OPTS)
    city = allocation_indicator_id(DOC, "省", "市", "甲任务")
    app.forward(build(ForwardCommand, parent_id=city, unit="丙县", amount=300, doc="x",
                      effective_date="2025-01-11", actor="test"))
    before, position = store_hash(db, app), app.last_position()
    saves = len(small_parts)
    rows = [f"另省,另市{i},,10" for i in range(30)]
    text = "from,to,area,甲任务\n" + "\n".join([*rows, "省,市,,10", "市,甲县,,4", "市,乙县,,5"])
    with pytest.raises(ImportRejected) as e:
        import_allocations(app, table_from_text(text + "\n", "b.csv"),
                           AllocationOptions(**{**OPTS.__dict__, "skip_existing": True}))
    assert e.value.exit_code == 3
    assert "row 34" in str(e.value) and "[available-non-negative]" in str(e.value)
    assert "value '5'" in str(e.value)  # the cell's text, read back from the file
    assert len(small_parts) > saves  # parts were saved before the refusal …
    assert app.last_position() == position  # … and rolled back with it
    assert store_hash(db, app) == before
    app.close()


def test_a_second_import_of_a_multi_part_file_is_refused(
        tmp_path: Path, small_parts: list[int]) -> None:
    db = tmp_path / "l.db"
    app = BudgetLedger.open(f"sqlite:///{db}")
    import_allocations(app, table_from_text(table(), "t.csv"), OPTS)
    assert len(small_parts) > 5
    before = store_hash(db, app)
    with pytest.raises(ImportRejected, match="already imported") as e:
        import_allocations(app, table_from_text(table(), "t.csv"), OPTS)
    assert e.value.exit_code == 2 and "--skip-existing" in str(e.value)
    assert store_hash(db, app) == before
    again = import_allocations(app, table_from_text(table(), "t.csv"),
                               AllocationOptions(**{**OPTS.__dict__, "skip_existing": True}))
    assert (again.applied, again.events) == (0, 0)
    assert store_hash(db, app) == before
    app.close()


def test_parts_in_one_transaction_on_postgres(pg_url: str, small_parts: list[int],
                                              lost_connection: Callable[[], None]) -> None:
    app = BudgetLedger.open(pg_url)
    with pytest.raises(StoreUnavailable):
        import_allocations(app, table_from_text(table(), "t.csv"), OPTS)
    assert app.last_position() == 0
    lost_connection()  # healed
    result = import_allocations(app, table_from_text(table(), "t.csv"), OPTS)
    assert app.recorder.max_notification_id() is not None
    assert len(list(app.recorder.select_notifications(1, 10_000))) == result.events
    assert verify_chain(app) == []
    app.close()
