"""--as-of / --known-at: the books folded from the log up to a point equal the live books then."""

from __future__ import annotations

import time
from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import Engine, select

from ledger.application import BudgetLedger
from ledger.commands import RecoverCommand, ReverseCommand, build
from projections.balances import balance
from projections.history import history
from projections.progress import progress
from projections.replay import replay_engine
from projections.tables import ALL_TABLES, Position
from projections.updater import Projector
from tests.projections_scenario import build_before_corrections


def dump(engine: Engine) -> dict[str, list[tuple[Any, ...]]]:
    """Every read-model row but the position, in a stable order."""
    with engine.connect() as conn:
        return {t.name: sorted(tuple(r) for r in conn.execute(select(t)))
                for t in ALL_TABLES if t.name != Position.__tablename__}


def moment() -> datetime:
    time.sleep(0.01)  # event timestamps on either side differ
    now = datetime.now(UTC)
    time.sleep(0.01)
    return now


def ind(engine: Engine, unit: str, ident: str) -> dict[str, Any]:
    return {r["indicator"]: r for r in balance(engine, unit)}[ident]


def test_replays_equal_the_live_books_as_they_were(app: BudgetLedger) -> None:
    build_before_corrections(app)
    live = Projector(app)
    live.catch_up()
    before = dump(live.engine)
    t_before = moment()
    app.reverse(build(ReverseCommand, payment_id="X1:P1", effective_date="2025-04-01", reason="重复支付"))
    t_between = moment()
    app.recover(build(RecoverCommand, indicator_id="D", amount="20万", doc="达财〔2025〕9号",
                      effective_date="2025-05-01", reason="结余收回"))
    live.catch_up()
    assert dump(live.engine) != before

    # known at t_before: exactly the live tables of that time, row for row
    assert dump(replay_engine(app, known_at=t_before)) == before
    # as of the day before the reversal: the same (every earlier event is dated before it)
    as_of_march = replay_engine(app, as_of=date(2025, 3, 31))
    assert dump(as_of_march) == before
    assert ind(as_of_march, "城关区", "C")["paid"] == "1000000.00"
    assert [r["type"] for r in history(as_of_march, "X1:P1")] == ["Project.PaymentMade"]

    # between the reversal and the recovery, by either clock
    for engine in (replay_engine(app, known_at=t_between), replay_engine(app, as_of=date(2025, 4, 15))):
        assert ind(engine, "城关区", "C")["paid"] == "0.00"
        d = ind(engine, "达孜区", "D")
        assert (d["recovered"], d["available"]) == ("0.00", "200000.00")
        assert ind(engine, "拉萨市", "P")["forwarded"] == "5000000.00"
        assert {r["unit"]: r["received"] for r in progress(engine)}["达孜区"] == "1000000.00"

    # no window at all: the full rebuild equals the live tables now
    assert dump(replay_engine(app)) == dump(live.engine)


def test_as_of_before_anything_is_empty_and_naive_known_at_is_utc(app: BudgetLedger) -> None:
    build_before_corrections(app)
    assert balance(replay_engine(app, as_of=date(2024, 12, 31))) == []
    assert balance(replay_engine(app, known_at=datetime(2000, 1, 1))) == []
    naive_now = datetime.now(UTC).replace(tzinfo=None)
    assert len(balance(replay_engine(app, known_at=naive_now))) == 7


def test_as_of_equals_the_live_books_after_exactly_the_events_dated_up_to_then(app: BudgetLedger) -> None:
    """Events recorded out of date order: the as-of fold takes the earlier-dated ones only."""
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
        got = replay_engine(app, as_of=date(2025, 2, 28))
        # log positions and timestamps differ between the two logs; everything else is equal
        a, b = dump(got), dump(expected.engine)
        assert [r[:-1] for r in a["rm_indicators"]] == [r[:-1] for r in b["rm_indicators"]]
        assert a["rm_projects"] == b["rm_projects"] == []
        assert [r["type"] for r in history(got, "R")] == [
            "Indicator.Issued", "Indicator.ForwardedOut", "Indicator.Received"]
    finally:
        other.close()
