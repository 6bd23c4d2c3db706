"""Shortcuts on the write path change no stored byte: a payment, and both sides of an
allocation, triggered straight from their event classes are stored exactly as when triggered
through the @event methods."""

from __future__ import annotations

from datetime import date
from typing import Any

from eventsourcing.domain import Aggregate

from ledger.application import BudgetLedger
from ledger.indicator import Indicator
from ledger.project import Project
from ledger.terms import IndicatorTerms


def test_a_payment_is_stored_as_the_decorated_method_would_store_it(db_url: str) -> None:
    app = BudgetLedger.open(db_url)

    def funded() -> Project:
        p = Project.register(project_id="X", unit="u", name="n", category="产业发展", doc=None,
                             effective_date=date(2025, 1, 1), actor="a")
        p.receive_funding(indicator_id="I", amount=10**9, effective_date=date(2025, 1, 2),
                          actor="a", doc=None)
        return p

    fields = dict(indicator_id="I", amount=100, payee="某公司", payee_kind="enterprise",
                  voucher="V1", labour=True, effective_date=date(2025, 3, 1), actor="a", doc=None)
    direct, decorated = funded(), funded()
    pid = direct.pay(**fields)
    decorated._payment_made(payment_id=pid, **fields)  # type: ignore[attr-defined]
    a, b = direct.pending_events[-1], decorated.pending_events[-1]
    assert type(a) is Project.PaymentMade  # type: ignore[attr-defined]
    _same_bytes(app, a, b)
    assert direct.payments[pid] == decorated.payments[pid] and direct.vouchers == decorated.vouchers
    app.close()


def _same_bytes(app: BudgetLedger, a: Any, b: Any) -> None:
    assert type(a) is type(b)
    object.__setattr__(b, "timestamp", a.timestamp)
    object.__setattr__(b, "originator_id", a.originator_id)
    sa, sb = app.mapper.to_stored_event(a), app.mapper.to_stored_event(b)
    assert (sa.topic, sa.originator_version, sa.state) == (sb.topic, sb.originator_version, sb.state)


def test_an_allocation_is_stored_as_the_decorated_methods_would_store_it(db_url: str) -> None:
    app = BudgetLedger.open(db_url)
    fields = dict(amount=500, effective_date=date(2025, 3, 1), actor="a", doc="分配")

    def issued() -> Indicator:
        terms = IndicatorTerms(year=2025, task="t", source="central", subject=None,
                               tracking=False, direct=False, advance=False)
        return Indicator.issue(indicator_id="R", unit="u", issuer="i", amount=10**9,
                               terms=terms, doc="d", effective_date=date(2025, 1, 1), actor="a")

    def registered() -> Project:
        return Project.register(project_id="X", unit="u", name="n", category="产业发展",
                                doc=None, effective_date=date(2025, 1, 1), actor="a")

    direct: Aggregate = issued()
    decorated: Any = issued()
    direct.allocate(project_id="X", **fields)  # type: ignore[attr-defined]
    decorated._allocated_to_project(project_id="X", **fields)
    _same_bytes(app, direct.pending_events[-1], decorated.pending_events[-1])
    assert vars(direct)["allocated"] == vars(decorated)["allocated"] == 500

    prj: Project = registered()
    other: Any = registered()
    prj.receive_funding(indicator_id="R", **fields)
    other._funding_allocated(indicator_id="R", **fields)
    _same_bytes(app, prj.pending_events[-1], other.pending_events[-1])
    assert prj.lines["R"].unpaid.moves == other.lines["R"].unpaid.moves
    app.close()
