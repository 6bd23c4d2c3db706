"""verify: a rebuild from the log, compared row by row with the live read models."""

from __future__ import annotations

import pytest
from sqlalchemy import Engine, delete, insert, update

from ledger.application import BudgetLedger
from projections.tables import EventEntityRow, FundingLineRow, IndicatorRow, PaymentRow
from projections.updater import Projector
from projections.verify import verify_projections
from tests.projections_scenario import build_scenario


@pytest.fixture
def live(app: BudgetLedger) -> Engine:
    build_scenario(app)
    projector = Projector(app)
    projector.catch_up()
    return projector.engine


def test_equal_books_verify_clean(app: BudgetLedger, live: Engine) -> None:
    assert verify_projections(app, live) == []


def test_a_corrupted_balance_is_named(app: BudgetLedger, live: Engine) -> None:
    with live.begin() as conn:
        conn.execute(update(IndicatorRow).where(IndicatorRow.indicator_id == "C")
                     .values(available=IndicatorRow.available + 1))
    assert verify_projections(app, live) == [
        "rm_indicators[C]: available is 100000001 in the live table, 100000000 rebuilt from the log"]


def test_missing_extra_and_composite_key_rows_are_named(app: BudgetLedger, live: Engine) -> None:
    with live.begin() as conn:
        conn.execute(delete(PaymentRow).where(PaymentRow.payment_id == "Y:P1"))
        conn.execute(update(FundingLineRow).where(FundingLineRow.project_id == "X1",
                                                  FundingLineRow.indicator_id == "L").values(paid=0))
        conn.execute(insert(EventEntityRow).values(entity="ghost", position=3))
    problems = verify_projections(app, live)
    assert "rm_payments[Y:P1]: missing from the live table" in problems
    assert "rm_funding_lines[X1, L]: paid is 0 in the live table, 20000000 rebuilt from the log" in problems
    assert "rm_event_entities[ghost, 3]: in the live table but not in the log" in problems
    assert len(problems) == 3


def test_live_tables_behind_the_log_are_not_reported(app: BudgetLedger) -> None:
    build_scenario(app)
    projector = Projector(app)
    projector.catch_up(max_events=10)
    assert verify_projections(app, projector.engine) == []
