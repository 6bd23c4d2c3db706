"""A payments file is written in parts inside ONE store transaction (ledger/streamed.py, as the
allocation import is): the ledger equals a one-save import's, the pending events never pile up
beyond a part, and a refusal or a failure after some parts leaves nothing."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from eventsourcing.persistence import OperationalError

import ledger.streamed as streamed_mod
from ledger.application import BudgetLedger
from ledger.commands import AddProjectCommand, AllocateCommand, IssueCommand, build
from ledger.errors import StoreUnavailable
from ledger.imports import ImportRejected, import_payments, table_from_text
from ledger.integrity import verify_chain
from tests.test_import_allocations import store_hash

PROJECTS = 4
FUNDS = 10_000  # 元 per project


def ledger(url: str) -> BudgetLedger:
    """Four projects of 10,000 元 each, funded from one root indicator."""
    app = BudgetLedger.open(url)
    with app.batch() as b:
        b.issue(build(IssueCommand, indicator_id="I-ROOT", unit="某县", amount=PROJECTS * FUNDS * 100,
                      doc="财农〔2024〕1号", effective_date="2024-12-20", year=2025,
                      task="巩固拓展脱贫攻坚成果和乡村振兴任务", source="central", actor="test"))
        for k in range(PROJECTS):
            b.add_project(build(AddProjectCommand, project_id=f"P{k}", unit="某县", name=f"项目{k}",
                                category="产业发展", doc=f"立项{k}", effective_date="2025-01-15",
                                actor="test"))
            b.allocate(build(AllocateCommand, indicator_id="I-ROOT", project_id=f"P{k}",
                             amount=FUNDS * 100, effective_date="2025-02-01", doc=f"分配{k}",
                             actor="test"))
    return app


def payments(n: int = 60, extra: list[str] | None = None) -> str:
    """``n`` rows of 100 元 spread over the four projects and over March–May, not in date order
    (the importer sorts them): every project's rows run from the first part to the last."""
    lines = ["voucher,project,payee,amount,date"]
    for i in range(n):
        day = 1 + (i * 37) % 89
        lines.append(f"V{i:03d},P{i % PROJECTS},承包商{i % 7},100.00,"
                     f"2025-{3 + (day - 1) // 30:02d}-{1 + (day - 1) % 28:02d}")
    return "\n".join([*lines, *(extra or [])]) + "\n"


def books(app: BudgetLedger) -> dict[str, Any]:
    out = {}
    for k in range(PROJECTS):
        p = app.get_project(f"P{k}")
        out[p.project_id] = (p.version, dict(p.payments), dict(p.vouchers),
                             {i: (line.allocated, line.paid, line.unpaid.moves, line.unpaid.total)
                              for i, line in p.lines.items()})
    return out


def test_parts_give_the_same_ledger_as_one_save(tmp_path: Path, small_parts: list[int]) -> None:
    one = ledger(f"sqlite:///{tmp_path / 'one.db'}")
    many = ledger(f"sqlite:///{tmp_path / 'many.db'}")
    start = many.last_position()
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(streamed_mod, "PART_EVENTS", 10**9)
        r1 = import_payments(one, table_from_text(payments(), "p.csv"), actor="test")
    assert small_parts == [60]
    r2 = import_payments(many, table_from_text(payments(), "p.csv"), actor="test")
    sizes = small_parts[1:]
    assert len(sizes) >= 6 and max(sizes) <= 10  # written in parts, none bigger than a part
    assert (r1.events, r1.applied, r1.ids) == (r2.events, r2.applied, r2.ids)
    assert r2.events == many.last_position() - start == sum(sizes) == 60
    assert books(one) == books(many)
    # one transaction, one recorded-at time for every event of it
    stamps = {many.mapper.to_domain_event(n).timestamp  # type: ignore[attr-defined]
              for n in many.recorder.select_notifications(start + 1, 10_000)}
    assert len(stamps) == 1
    assert verify_chain(many) == []
    one.close()
    many.close()


def test_every_bad_row_is_listed_and_a_late_refusal_leaves_nothing(
        tmp_path: Path, small_parts: list[int]) -> None:
    """The overspending row is dated last: parts were saved before the ledger refused it."""
    db = tmp_path / "l.db"
    app = ledger(f"sqlite:///{db}")
    before, position = store_hash(db, app), app.last_position()
    text = payments(extra=["V900,P1,承包商,20000.00,2025-12-30", "V901,P9,承包商,1.00,2025-12-31",
                           "V902,P2,承包商,100.00,2025-12-31"])
    with pytest.raises(ImportRejected) as e:
        import_payments(app, table_from_text(text, "p.csv"), actor="test")
    msg = str(e.value)
    assert "row 62" in msg and "row 63" in msg and "row 64" not in msg
    assert len(small_parts) >= 6  # parts were saved before the refusal …
    assert app.last_position() == position  # … and rolled back with it
    assert store_hash(db, app) == before
    app.close()


def test_a_failure_while_writing_a_later_part_leaves_nothing(
        tmp_path: Path, small_parts: list[int], monkeypatch: pytest.MonkeyPatch) -> None:
    db = tmp_path / "l.db"
    app = ledger(f"sqlite:///{db}")
    before, position = store_hash(db, app), app.last_position()
    spy = streamed_mod.save_aggregates

    def failing(app_: BudgetLedger, aggs: Any) -> Any:
        if len(small_parts) == 3:  # three parts are in the transaction already
            raise OperationalError("disk I/O error")
        return spy(app_, aggs)

    monkeypatch.setattr(streamed_mod, "save_aggregates", failing)
    with pytest.raises(StoreUnavailable, match="nothing was written"):
        import_payments(app, table_from_text(payments(), "p.csv"), actor="test")
    assert sum(small_parts) >= 30
    assert app.last_position() == position
    assert store_hash(db, app) == before
    # the transaction was rolled back, not left open: the same file imports afterwards
    monkeypatch.setattr(streamed_mod, "save_aggregates", spy)
    result = import_payments(app, table_from_text(payments(), "p.csv"), actor="test")
    assert app.last_position() == position + result.events == position + 60
    assert verify_chain(app) == []
    app.close()


def test_a_second_import_is_refused_and_skip_existing_adds_only_new_rows(
        tmp_path: Path, small_parts: list[int]) -> None:
    db = tmp_path / "l.db"
    app = ledger(f"sqlite:///{db}")
    import_payments(app, table_from_text(payments(), "p.csv"), actor="test")
    assert len(small_parts) >= 6
    before = store_hash(db, app)
    with pytest.raises(ImportRejected, match="already recorded") as e:
        import_payments(app, table_from_text(payments(), "p.csv"), actor="test")
    assert e.value.exit_code == 2 and "--skip-existing" in str(e.value)
    assert store_hash(db, app) == before
    again = import_payments(app, table_from_text(payments(), "p.csv"), skip_existing=True,
                            actor="test")
    assert (again.applied, again.skipped, again.events) == (0, 60, 0)
    assert store_hash(db, app) == before
    more = import_payments(app, table_from_text(payments(80), "p.csv"), skip_existing=True,
                           actor="test")
    assert (more.applied, more.skipped, more.events) == (20, 60, 20)
    assert sum(len(app.get_project(f"P{k}").payments) for k in range(PROJECTS)) == 80
    assert verify_chain(app) == []
    app.close()


def test_parts_in_one_transaction_on_postgres(pg_url: str, small_parts: list[int],
                                              lost_connection: Callable[[], None]) -> None:
    app = ledger(pg_url)
    position = app.last_position()
    with pytest.raises(StoreUnavailable):
        import_payments(app, table_from_text(payments(), "p.csv"), actor="test")
    assert app.last_position() == position
    lost_connection()  # healed
    result = import_payments(app, table_from_text(payments(), "p.csv"), actor="test")
    assert len(small_parts) >= 9 and max(small_parts[3:]) <= 10
    # PostgreSQL's positions are not a count (the rolled-back inserts left a gap)
    written = list(app.recorder.select_notifications(position + 1, 10_000))
    assert len(written) == result.events == 60
    assert verify_chain(app) == []
    app.close()
