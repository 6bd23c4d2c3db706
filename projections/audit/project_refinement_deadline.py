"""project-refinement-deadline: a county refines its money to projects within N (30) days.

Source: seed 001 (新财振〔2024〕9号) §五 "县（市、区）需在30日内将资金细化到具体项目并录入平台".
Scope (rules.toml): Xinjiang's funds, binding counties (``levels``); with no ``levels`` it binds
every unit that does not pass money on (see :attr:`Books.forwarding_units`). The clock starts
at the indicator's effective date (its receipt) — for advance funds (提前下达, ``advance``) no
earlier than 1 January of the budget year (``advance_clock = "year-start"``): money issued in
December for next year cannot be refined to next year's projects before that year's budget
exists, so the 30 days of a 2025 advance indicator received on 2024-12-23 run to 2025-01-31.

What must be refined is what the county holds: received, less what it passed on or returned up.
Fires when, at the end of the deadline day, some of it was still not allocated to projects
(amount: that balance; the detail says when, if ever, it was cleared), or when money is
unallocated again at the audit date after the deadline (e.g. a line released and not re-used).
"""

from __future__ import annotations

from datetime import date
from typing import Any

from projections.audit.base import Books, Finding, after, finding, yuan
from projections.audit.config import RefinementDeadlineConfig

RULE_ID = "project-refinement-deadline"


def clock_start(ind: Any, cfg: RefinementDeadlineConfig) -> date:
    """Receipt, or 1 January of the budget year for advance funds received before it."""
    start: date = ind.effective_date
    if ind.advance and cfg.advance_clock == "year-start":
        start = max(start, date(ind.year, 1, 1))
    return start


def check(books: Books, cfg: RefinementDeadlineConfig) -> list[Finding]:
    out: list[Finding] = []
    for ind in books.indicators.values():
        if not books.judged(cfg, ind.unit, forwarding=False) or not books.covers(cfg, ind):
            continue
        start = clock_start(ind, cfg)
        deadline = after(start, cfg.days)
        if books.as_of <= deadline:
            continue
        at_deadline = books.available_on(ind.indicator_id, deadline)
        now = int(ind.available)
        if at_deadline <= 0 and now <= 0:
            continue
        received = f"received {ind.effective_date} ({ind.doc})"
        since = f"it was {received}"
        if start != ind.effective_date:  # advance funds: the clock started on 1 January
            since = (f"{start} (advance funds {received}; the clock starts on 1 January of the "
                     "budget year)")
        if at_deadline > 0:
            cleared = books.cleared_on(ind.indicator_id, deadline) if now == 0 else None
            tail = (f"; fully allocated only on {cleared}" if cleared else
                    f"; {yuan(now)} still unallocated on {books.as_of}")
            detail = (f"{yuan(at_deadline)} of {ind.indicator_id} not allocated to projects by "
                      f"{deadline}, {cfg.days} days after {since}{tail}")
            amount = at_deadline
        else:
            detail = (f"{yuan(now)} of {ind.indicator_id} unallocated again on {books.as_of}, "
                      f"past the refinement deadline {deadline} ({received})")
            amount = now
        out.append(finding(RULE_ID, cfg, ind.indicator_id, detail, unit=ind.unit, amount=amount,
                           year=ind.year, date=deadline))
    return out
