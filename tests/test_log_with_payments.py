"""The readable log is rm_events plus rm_payments (payments are written once, schema 6): every
query that reads the log sees each event once, in log order, on both stores."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date

import pytest
from sqlalchemy import Engine, func, select

from ledger.application import BudgetLedger
from ledger.movements import Project
from ledger.topics import event_name
from projections.history import history, log
from projections.journal import View, events, latest_effective_date
from projections.tables import PAYMENT_TYPE, EventRow, PaymentRow
from projections.updater import Projector
from tests.projections_scenario import build_scenario


@pytest.fixture
def any_app(any_url: str) -> Iterator[BudgetLedger]:
    ledger = BudgetLedger.open(any_url)
    yield ledger
    ledger.close()


@pytest.fixture
def books(any_app: BudgetLedger) -> Engine:
    build_scenario(any_app)
    projector = Projector(any_app)
    projector.catch_up()
    return projector.engine


def stored_types(app: BudgetLedger) -> list[str]:
    notes = Projector(app).read(0, app.last_position())
    return [n.topic.partition(".")[2] for n in notes]


def test_the_payment_type_is_the_events_name() -> None:
    assert PAYMENT_TYPE == event_name(Project.PaymentMade)


def test_the_log_is_every_event_once_in_order(any_app: BudgetLedger, books: Engine) -> None:
    rows = log(books)
    assert [r["type"] for r in rows] == stored_types(any_app)
    assert PAYMENT_TYPE in {r["type"] for r in rows}
    positions = [r["position"] for r in rows]
    assert positions == sorted(positions) and len(set(positions)) == len(positions)
    assert log(books, after=positions[9], limit=6) == rows[10:16]
    with books.connect() as conn:  # payments live in rm_payments only
        assert conn.execute(select(func.count()).select_from(EventRow)
                            .where(EventRow.type == PAYMENT_TYPE)).scalar_one() == 0
        assert conn.execute(select(func.count()).select_from(PaymentRow)).scalar_one() == \
            sum(t == PAYMENT_TYPE for t in stored_types(any_app))


def test_a_payment_reads_as_its_event(any_app: BudgetLedger, books: Engine) -> None:
    made, reversed_ = history(books, "X1:P1")
    stored = Projector(any_app, books).states([made["position"]])[made["position"]]
    assert (made["type"], made["entity"], made["amount"], made["actor"], made["doc"]) == (
        PAYMENT_TYPE, "X1", "1000000.00", stored["actor"], stored.get("doc"))
    assert reversed_["type"] == "Project.PaymentReversed"
    by_project = [r["type"] for r in history(books, "X1")]
    assert by_project.count(PAYMENT_TYPE) >= 1
    march = View(as_of=date(2025, 3, 31))
    assert [r["type"] for r in history(books, "X1:P1", march)] == [PAYMENT_TYPE]


def test_events_of_some_types(books: Engine) -> None:
    with books.connect() as conn:
        paid = events(conn, View(), [PAYMENT_TYPE])
        issued = events(conn, View(), ["Indicator.Issued"])
        both = events(conn, View(), [PAYMENT_TYPE, "Indicator.Issued"], limit=3)
        latest = latest_effective_date(conn, View())
        everything = events(conn, View())
    assert paid and {r.type for r in paid} == {PAYMENT_TYPE}
    assert issued and {r.type for r in issued} == {"Indicator.Issued"}
    assert [r.position for r in both] == sorted(r.position for r in paid + issued)[:3]
    assert latest == max(r.effective_date for r in everything)
