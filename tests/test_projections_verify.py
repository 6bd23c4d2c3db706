"""verify: a rebuild from the log, compared row by row with the live read models."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date

import pytest
from sqlalchemy import Engine, delete, func, insert, select, update

from ledger.application import BudgetLedger
from projections.tables import EventRow, JournalRow, PaymentRow
from projections.updater import Projector
from projections.verify import verify_projections
from tests.projections_scenario import build_scenario


@pytest.fixture
def app(any_url: str) -> Iterator[BudgetLedger]:
    """On SQLite (scratch file attached) and PostgreSQL (scratch schema): EXCEPT finds the rows."""
    ledger = BudgetLedger.open(any_url)
    yield ledger
    ledger.close()


@pytest.fixture
def live(app: BudgetLedger) -> Engine:
    build_scenario(app)
    projector = Projector(app)
    projector.catch_up()
    return projector.engine


def test_equal_books_verify_clean(app: BudgetLedger, live: Engine) -> None:
    assert verify_projections(app, live) == []


def test_a_corrupted_movement_is_named(app: BudgetLedger, live: Engine) -> None:
    with live.begin() as conn:
        position = conn.execute(select(func.min(JournalRow.position))
                                .where(JournalRow.indicator_id == "C")).scalar_one()
        conn.execute(update(JournalRow).where(JournalRow.position == position)
                     .values(amount=JournalRow.amount + 1))
    assert verify_projections(app, live) == [
        f"rm_journal[{position}]: amount is 400000001 in the live table, 400000000 rebuilt from the log"]


def test_missing_extra_and_composite_key_rows_are_named(app: BudgetLedger, live: Engine) -> None:
    with live.begin() as conn:
        conn.execute(delete(PaymentRow).where(PaymentRow.payment_id == "Y:P1"))
        conn.execute(delete(JournalRow).where(JournalRow.payment_id == "Y:P1"))
        conn.execute(insert(EventRow).values(position=10**6, recorded_at="x", type="Ghost", actor="x",
                                             effective_date=date(2025, 1, 1), entity="ghost"))
    problems = verify_projections(app, live)
    assert "rm_payments[Y:P1]: missing from the live table" in problems
    assert any(p.startswith("rm_journal[") and p.endswith("missing from the live table") for p in problems)
    assert "rm_events[1000000]: in the live table but not in the log" in problems
    assert len(problems) == 3


def test_live_tables_behind_the_log_are_not_reported(app: BudgetLedger) -> None:
    build_scenario(app)
    projector = Projector(app)
    projector.catch_up(max_events=10)
    assert verify_projections(app, projector.engine) == []


def test_compared_in_python_when_no_scratch_schema_can_be_made(
        app: BudgetLedger, live: Engine, monkeypatch: pytest.MonkeyPatch) -> None:
    from projections import verify
    from projections.db import scratch_engine

    by_sql = None
    with live.begin() as conn:
        conn.execute(delete(PaymentRow).where(PaymentRow.payment_id == "Y:P1"))
        conn.execute(update(JournalRow).where(JournalRow.payment_id == "X1:P2")
                     .values(amount=JournalRow.amount + 1))
    by_sql = verify_projections(app, live)

    @contextmanager
    def in_memory(engine: Engine) -> Iterator[tuple[Engine, None]]:
        memory = scratch_engine()
        yield memory, None
        memory.dispose()

    monkeypatch.setattr(verify, "_beside", in_memory)
    assert sorted(verify_projections(app, live)) == sorted(by_sql)
    assert "rm_payments[Y:P1]: missing from the live table" in by_sql and len(by_sql) == 2
