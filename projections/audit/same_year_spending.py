"""same-year-spending: 庭院经济 money is paid out within its own fiscal year.

Source: seed 004 (阳农局财字〔2024〕13号) §二 "庭院经济…奖补资金原则上当年资金当年全部支出".

For each project of a category in ``categories`` and each fiscal year of its funding lines'
indicators, once the audit date is past 31 December of that year: the funding the project held
from that year's indicators at the end of 31 December (allocations net of releases dated up to
then) must have been paid by then (payments dated up to then, less reversals dated up to then).
Money allocated to the project only after the year end is idle county money, which
project-refinement-deadline reports. One finding per project and year; amount: unpaid at year end.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import date

from projections.audit.base import Books, Finding, finding, yuan
from projections.audit.config import SameYearSpendingConfig

RULE_ID = "same-year-spending"


def check(books: Books, cfg: SameYearSpendingConfig) -> list[Finding]:
    categories = {c.value for c in cfg.categories}
    wanted = {p for p, prj in books.projects.items() if prj.category in categories}
    funded: dict[tuple[str, int], int] = defaultdict(int)
    paid: dict[tuple[str, int], int] = defaultdict(int)
    for mv in books.movements("allocated"):
        if mv.project_id not in wanted:
            continue
        year = books.indicators[mv.indicator_id].year
        if mv.effective_date <= date(year, 12, 31):
            funded[(mv.project_id, year)] += int(mv.amount)
    for p in books.payments:
        if p.project_id not in wanted:
            continue
        year = books.indicators[p.indicator_id].year
        end = date(year, 12, 31)
        if p.effective_date <= end and not (p.reversed and p.reversed_date and p.reversed_date <= end):
            paid[(p.project_id, year)] += int(p.amount)
    out: list[Finding] = []
    for (prj_id, year), amount in funded.items():
        end = date(year, 12, 31)
        unpaid = amount - paid[(prj_id, year)]
        if books.as_of <= end or unpaid <= 0:
            continue
        prj = books.projects[prj_id]
        out.append(finding(
            RULE_ID, cfg, prj_id,
            f"{prj.name} ({prj.category}): {yuan(unpaid)} of its {year} funding {yuan(amount)} "
            f"was not paid by {end}",
            unit=prj.unit, amount=unpaid, year=year, date=end,
        ))
    return out
