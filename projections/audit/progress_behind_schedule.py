"""progress-behind-schedule: a unit's execution progress keeps pace with the 序时进度.

Sources: seed 004 (阳农局财字〔2024〕13号) §三(四) "定期调度衔接资金项目实施进度和预算执行进度…
资金达到序时支出要求"; seed 003 (晋乡振发〔2022〕125号) §三(四) "加快支出进度…资金按时支出".

For each unit and fiscal year: execution progress = paid ÷ received, with the same definitions as
``budget-ledger progress`` (received: the year's indicators entering the unit's books, net of
returns up; paid: payments, net of reversals, from them and everything forwarded from them).
The time-proportional schedule at the audit date D for year Y is 0 before Y, day-of-year(D) ÷
days-in-year(Y) during Y, and 100 % after Y. A finding when the schedule exceeds progress by more
than ``max_points_behind`` percentage points; amount: what should have been paid to be on schedule.
"""

from __future__ import annotations

import calendar
from collections import defaultdict
from datetime import date
from decimal import Decimal

from projections.audit.base import Books, Finding, ceil_share, finding, pct, share, two, yuan
from projections.audit.config import ScheduleConfig
from projections.journal import chain_up

RULE_ID = "progress-behind-schedule"


def schedule(as_of: date, year: int) -> Decimal:
    """序时进度 in percent: the share of fiscal year ``year`` elapsed at the end of ``as_of``."""
    if as_of.year < year:
        return Decimal(0)
    if as_of.year > year:
        return Decimal(100)
    days = 366 if calendar.isleap(year) else 365
    return Decimal(as_of.timetuple().tm_yday) * 100 / days


def check(books: Books, cfg: ScheduleConfig) -> list[Finding]:
    received: dict[tuple[str, int], int] = defaultdict(int)
    paid: dict[tuple[str, int], int] = defaultdict(int)
    for ind in books.indicators.values():
        if not books.covers(cfg, ind):  # the years, tasks and sources in scope
            continue
        units = [i.unit for i in chain_up(ind, books.indicators)]
        if ind.unit not in units[1:]:  # money entering this unit's books
            received[(ind.unit, ind.year)] += int(ind.received) - int(ind.recovered)
        for u in dict.fromkeys(units):
            paid[(u, ind.year)] += int(ind.paid)
    out: list[Finding] = []
    for (unit, year), got in received.items():
        due = schedule(books.as_of, year)
        if got <= 0 or due == 0:
            continue
        progress = share(paid[(unit, year)], got)
        if due - progress <= cfg.max_points_behind:
            continue
        short = ceil_share(got, due) - paid[(unit, year)]
        out.append(finding(
            RULE_ID, cfg, unit,
            f"{unit} {year}: paid {yuan(paid[(unit, year)])} of {yuan(got)} received = "
            f"{pct(progress)} on {books.as_of}, {two(due - progress)} points behind the "
            f"schedule {pct(due)}; {yuan(short)} more would be on schedule",
            unit=unit, amount=short, year=year, date=books.as_of,
            extra={"progress": two(progress), "schedule": two(due)},
        ))
    return out
