"""How each event moves money: the one place that says which bucket an event changes and by
how much. The buckets and what "available" is are in ``ledger/buckets.py``;
the read side's journal (``projections/journal.py``) takes the balance equation from the two.
"""

from __future__ import annotations

from typing import Any

from ledger.indicator import Indicator as _Indicator
from ledger.project import Project as _Project
from ledger.topics import event_name

# the @event classes are made at run time, unseen by mypy: a renamed one fails at import
Indicator: Any = _Indicator
Project: Any = _Project


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
