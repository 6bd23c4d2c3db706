"""收回 to the parent or into the same level's pool (同级统筹): both tracked, money conserved."""

from __future__ import annotations

import pytest

from ledger.application import BudgetLedger
from ledger.commands import RecoverCommand, build
from ledger.invariants import AvailableWouldGoNegative
from projections.journal import LIVE, indicators
from projections.progress import progress
from projections.updater import Projector
from tests.helpers import allocate, forward, issue, project
from tests.reference import journal_books, reference_books


def recover(app: BudgetLedger, ind: str, amount: str, **kw: object) -> str:
    return app.recover(build(RecoverCommand, indicator_id=ind, amount=amount, doc="县财〔2025〕5号",
                             effective_date="2025-06-30", reason="结余", **kw))


def test_recover_into_the_same_levels_pool_stays_tracked(app: BudgetLedger) -> None:
    issue(app, "R", "西藏自治区", "100万", subject="21305", tracking=True)
    forward(app, "R", "C", "墨竹工卡县", "100万")
    project(app, "P", "墨竹工卡县")
    allocate(app, "C", "P", "60万")
    pool = recover(app, "C", "30万", to="pool", pool_id="C-POOL")
    assert pool == "C-POOL"
    held = app.get_indicator("C-POOL")
    assert (held.unit, held.parent_id, held.root_id, held.tracking, held.subject) == (
        "墨竹工卡县", "C", "R", True, "21305")
    assert app.get_indicator("C").available == 10 * 1_000_000
    with pytest.raises(AvailableWouldGoNegative):
        recover(app, "C", "11万", to="pool")
    project(app, "P2", "墨竹工卡县")
    allocate(app, "C-POOL", "P2", "30万", effective_date="2025-07-01")  # 统筹 money used again
    p = Projector(app)
    p.catch_up()
    with p.engine.connect() as conn:
        rows = {r.indicator_id: r for r in indicators(conn, LIVE)}
    assert rows["C"].forwarded == 30 * 1_000_000 and rows["C-POOL"].received == 30 * 1_000_000
    # the county still holds the money: its received is unchanged by pooling
    units = {r["unit"]: r for r in progress(p.engine)}
    assert units["墨竹工卡县"]["received"] == "1000000.00"
    assert journal_books(p.engine, LIVE) == reference_books(app)


def test_recover_to_the_parent_is_the_default(app: BudgetLedger) -> None:
    issue(app, "R", "西藏自治区", "100万")
    forward(app, "R", "C", "墨竹工卡县", "100万")
    assert recover(app, "C", "40万") == "C"
    assert app.get_indicator("R").available == 40 * 1_000_000
