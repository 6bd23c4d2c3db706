"""Shortcuts on the write path change no stored byte: a payment triggered straight from its
event class is stored exactly as one triggered through the @event method."""

from __future__ import annotations

from datetime import date

from ledger.application import BudgetLedger
from ledger.project import Project


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
    assert type(a) is type(b) is Project.PaymentMade  # type: ignore[attr-defined]
    object.__setattr__(b, "timestamp", a.timestamp)
    object.__setattr__(b, "originator_id", a.originator_id)
    sa, sb = app.mapper.to_stored_event(a), app.mapper.to_stored_event(b)
    assert (sa.topic, sa.originator_version, sa.state) == (sb.topic, sb.originator_version, sb.state)
    assert direct.payments[pid] == decorated.payments[pid] and direct.vouchers == decorated.vouchers
    app.close()
