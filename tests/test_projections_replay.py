"""--as-of / --known-at: the journal's view of a point in time equals the live books then, and
the slow reference fold over the filtered log."""

from __future__ import annotations

import time
from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import Engine

from ledger.application import BudgetLedger
from ledger.commands import RecoverCommand, ReverseCommand, build
from projections.balances import balance
from projections.history import history
from projections.journal import View
from projections.progress import progress
from projections.updater import Projector
from tests.projections_scenario import build_before_corrections
from tests.reference import first_difference, journal_books, reference_books


def moment() -> datetime:
    time.sleep(0.01)  # event timestamps on either side differ
    now = datetime.now(UTC)
    time.sleep(0.01)
    return now


def ind(engine: Engine, unit: str, ident: str, view: View) -> dict[str, Any]:
    return {r["indicator"]: r for r in balance(engine, unit, view=view)}[ident]


def test_past_views_equal_the_live_books_as_they_were(app: BudgetLedger) -> None:
    build_before_corrections(app)
    live = Projector(app)
    live.catch_up()
    engine = live.engine
    before = journal_books(engine, View())
    t_before = moment()
    app.reverse(build(ReverseCommand, payment_id="X1:P1", effective_date="2025-04-01", reason="重复支付"))
    t_between = moment()
    app.recover(build(RecoverCommand, indicator_id="D", amount="20万", doc="达财〔2025〕9号",
                      effective_date="2025-05-01", reason="结余收回"))
    live.catch_up()
    assert journal_books(engine, View()) != before

    # known at t_before: exactly the live books of that time
    assert journal_books(engine, View(known_at=t_before)) == before
    # as of the day before the reversal: the same (every earlier event is dated before it)
    march = View(as_of=date(2025, 3, 31))
    assert journal_books(engine, march) == before
    assert ind(engine, "城关区", "C", march)["paid"] == "1000000.00"
    assert [r["type"] for r in history(engine, "X1:P1", march)] == ["Project.PaymentMade"]

    # between the reversal and the recovery, by either clock
    for view in (View(known_at=t_between), View(as_of=date(2025, 4, 15))):
        assert ind(engine, "城关区", "C", view)["paid"] == "0.00"
        d = ind(engine, "达孜区", "D", view)
        assert (d["recovered"], d["available"]) == ("0.00", "200000.00")
        assert ind(engine, "拉萨市", "P", view)["forwarded"] == "5000000.00"
        assert {r["unit"]: r["received"] for r in progress(engine, view=view)}["达孜区"] == "1000000.00"

    # every view equals the reference fold over the filtered log
    for view in (View(), march, View(known_at=t_between), View(as_of=date(2025, 4, 15), known_at=t_before)):
        got, want = journal_books(engine, view), reference_books(app, view.as_of, view.known_at)
        assert got == want, first_difference(got, want)


def test_as_of_before_anything_is_empty_and_naive_known_at_is_utc(app: BudgetLedger) -> None:
    build_before_corrections(app)
    projector = Projector(app)
    projector.catch_up()
    engine = projector.engine
    assert balance(engine, view=View(as_of=date(2024, 12, 31))) == []
    assert balance(engine, view=View(known_at=datetime(2000, 1, 1))) == []
    naive_now = datetime.now(UTC).replace(tzinfo=None)
    assert len(balance(engine, view=View(known_at=naive_now))) == 7


def test_as_of_takes_exactly_the_events_dated_up_to_then(app: BudgetLedger) -> None:
    """Events recorded out of date order: the as-of view takes the earlier-dated ones only."""
    from tests.helpers import forward, issue

    issue(app, "R", "区", "100万", effective_date="2025-01-01")
    issue(app, "S", "区", "50万", effective_date="2025-03-01", task="少数民族发展任务")
    forward(app, "R", "C", "县", "30万", effective_date="2025-02-01")  # recorded after S, dated before

    other = BudgetLedger.open(app.config.url.replace("ledger.db", "other.db"))
    try:
        issue(other, "R", "区", "100万", effective_date="2025-01-01")
        forward(other, "R", "C", "县", "30万", effective_date="2025-02-01")
        expected = Projector(other)
        expected.catch_up()
        got = Projector(app)
        got.catch_up()
        feb = View(as_of=date(2025, 2, 28))
        assert journal_books(got.engine, feb) == journal_books(expected.engine, View())
        assert [r["type"] for r in history(got.engine, "R", feb)] == [
            "Indicator.Issued", "Indicator.ForwardedOut", "Indicator.Received"]
    finally:
        other.close()
