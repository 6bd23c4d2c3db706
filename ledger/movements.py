"""How each event moves money: the one place that says which bucket an event changes, by how
much, and what "available" is. The write side (``Indicator``) and the read side's journal
(``projections/journal.py``) both take the balance equation from here.

Buckets of an indicator (all in 分):

- ``received``  — 下达 / 转下达 into this indicator
- ``forwarded`` — 转下达 out to child indicators, net of money recovered back from them, and
  money taken back into the same level's pool (同级统筹: a child indicator of the same unit)
- ``allocated`` — 分解 to projects, net of releases (核减)
- ``recovered`` — 收回: returned by this indicator to its parent (or issuer)
- ``paid``      — 支付 by projects from this indicator, net of reversals (inside ``allocated``)
"""

from __future__ import annotations

from typing import Any

from ledger.indicator import Indicator as _Indicator
from ledger.project import Project as _Project
from ledger.topics import event_name

# the @event classes are made at run time, unseen by mypy: a renamed one fails at import
Indicator: Any = _Indicator
Project: Any = _Project

BUCKETS = ("received", "forwarded", "allocated", "recovered", "paid")

# available = received − forwarded − allocated − recovered  (paid is part of allocated)
AVAILABLE_SIGNS: dict[str, int] = {"received": +1, "forwarded": -1, "allocated": -1, "recovered": -1}

# event type (topic without its prefix) → (bucket, sign) of the one movement it records on an
# indicator. Project.FundingAllocated / FundingReleased mirror Indicator.AllocatedToProject /
# Deallocated (one command writes both) and are not counted twice.
MOVES: dict[str, tuple[str, int]] = {
    event_name(Indicator.Issued): ("received", +1),
    event_name(Indicator.Received): ("received", +1),
    event_name(Indicator.ForwardedOut): ("forwarded", +1),
    event_name(Indicator.Pooled): ("forwarded", +1),  # 收回 into the same level's pool (a child indicator)
    event_name(Indicator.PoolReceived): ("received", +1),
    event_name(Indicator.RecoveryReceived): ("forwarded", -1),
    event_name(Indicator.AllocatedToProject): ("allocated", +1),
    event_name(Indicator.Deallocated): ("allocated", -1),
    event_name(Indicator.Recovered): ("recovered", +1),
    event_name(Project.PaymentMade): ("paid", +1),
    event_name(Project.PaymentReversed): ("paid", -1),
}
