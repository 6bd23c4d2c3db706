"""收回 to the parent or into the same level's pool (同级统筹): both tracked, money conserved."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ledger.application import BudgetLedger
from ledger.commands import RecoverCommand, build
from ledger.invariants import AvailableWouldGoNegative
from projections.journal import LIVE, indicators
from projections.progress import progress
from projections.updater import Projector
from tests.helpers import allocate, forward, issue, project
from tests.reference import journal_books, reference_books


def recover(app: BudgetLedger, ind: str, amount: str | int, **kw: object) -> str:
    fields: dict[str, object] = dict(indicator_id=ind, amount=amount, doc="县财〔2025〕5号",
                                     effective_date="2025-06-30", reason="结余")
    fields.update(kw)
    return app.recover(build(RecoverCommand, **fields))


def test_recover_into_the_same_levels_pool_stays_tracked(app: BudgetLedger) -> None:
    issue(app, "R", "西藏自治区", "100万", subject="21305", tracking=True)
    forward(app, "R", "C", "墨竹工卡县", "100万")
    project(app, "P", "墨竹工卡县")
    allocate(app, "C", "P", "60万")
    pool = recover(app, "C", "30万", to="pool", pool_id="C-POOL")
    assert pool == "C-POOL"
    held = app.get_indicator("C-POOL")
    assert (held.unit, held.parent_id, held.root_id, held.terms.tracking, held.terms.subject) == (
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


@given(st.lists(st.tuples(st.sampled_from(["forward", "pool", "allocate", "recover"]),
                          st.integers(1, 100)), min_size=1, max_size=12))
def test_pools_keep_every_fen_tracked(tmp_path_factory: pytest.TempPathFactory,
                                      steps: list[tuple[str, int]]) -> None:
    """Any mix of forwards, pools, allocations and recoveries: the journal equals the reference
    fold of the log, and the money kept in the tree is what was issued less what went back up."""
    from ledger.errors import LedgerError

    db = tmp_path_factory.mktemp("pool") / "l.db"
    app = BudgetLedger.open(f"sqlite:///{db}")
    issue(app, "R", "西藏自治区", "100万", subject="21305", tracking=True)
    forward(app, "R", "C", "某县", "100万")
    project(app, "P", "某县")
    held = ["C"]
    returned_to_issuer = 0
    for n, (op, pct) in enumerate(steps):
        src = held[n % len(held)]
        avail = app.get_indicator(src).available
        amount = max(1, avail * pct // 100)
        try:
            if op == "pool":
                held.append(recover(app, src, amount, to="pool", pool_id=f"POOL{n}",
                                    effective_date="2025-07-01"))
            elif op == "recover":
                recover(app, src, amount, effective_date="2025-07-01")
            elif op == "allocate":
                allocate(app, src, "P", amount, effective_date="2025-07-01")
            else:
                forward(app, src, f"F{n}", "某乡", amount, effective_date="2025-07-01")
        except LedgerError:
            assert amount > avail  # refused only when there is not enough
    p = Projector(app)
    p.catch_up()
    assert journal_books(p.engine, LIVE) == reference_books(app)
    with p.engine.connect() as conn:
        rows = indicators(conn, LIVE)
    kept = sum(int(r.allocated) + int(r.available) for r in rows)
    root = next(r for r in rows if r.indicator_id == "R")
    returned_to_issuer = int(root.recovered)
    assert kept == 100 * 1_000_000 - returned_to_issuer
    assert all(r.tracking and r.root_id == "R" for r in rows)
    app.close()
