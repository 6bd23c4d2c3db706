"""The buckets of an indicator and what "available" is, in 分 — the half of the balance equation
a query needs (``projections/journal.py`` sums the journal by bucket). Kept apart from
``ledger/movements.py``, which says which event moves which bucket and so loads the aggregates: a
query on current read models never needs them.

- ``received``  — 下达 / 转下达 into this indicator
- ``forwarded`` — 转下达 out to child indicators, net of money recovered back from them, and
  money taken back into the same level's pool (同级统筹: a child indicator of the same unit)
- ``allocated`` — 分解 to projects, net of releases (核减)
- ``recovered`` — 收回: returned by this indicator to its parent (or issuer)
- ``paid``      — 支付 by projects from this indicator, net of reversals (inside ``allocated``)
"""

from __future__ import annotations

BUCKETS = ("received", "forwarded", "allocated", "recovered", "paid")

# available = received − forwarded − allocated − recovered  (paid is part of allocated)
AVAILABLE_SIGNS: dict[str, int] = {"received": +1, "forwarded": -1, "allocated": -1, "recovered": -1}
