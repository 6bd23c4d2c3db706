"""industry-share: a county spends at least N % (60) of its linkage funds on 产业发展, and not
less than the year before.

Source: seed 003 (晋乡振发〔2022〕125号) §三(三) "2023年用于产业发展的资金规模占比原则上不得低于
下达你县资金总规模的 60%，且不得低于 2022 年用于产业发展的占比". Seed 004 §二 asks the share to
stay stable (保持总体稳定).

Scope (rules.toml): Shanxi's funds, binding counties, central funds only (``sources``): 003 plans
the *central* 衔接资金 put at the county's disposal. For each county and fiscal year:
- its linkage funds for the year = what it received on its in-scope indicators of that year, less
  what it returned up (收回) or passed on (the 资金总规模 put at the county's disposal);
- its industry money = allocations (net of releases) from those indicators to projects whose
  category is one of ``categories``.
A county-year is judged once every one of its indicators for the year is ``grace_days`` old (by
default the refinement deadline), so a county is not flagged while it is still allocating; the
previous year's share is the same computation on the books as they are now.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import date
from decimal import Decimal

from projections.audit.base import Books, Finding, after, ceil_share, finding, pct, share, two, yuan
from projections.audit.config import IndustryShareConfig

RULE_ID = "industry-share"


def check(books: Books, cfg: IndustryShareConfig) -> list[Finding]:
    categories = {c.value for c in cfg.categories}
    funds: dict[tuple[str, int], int] = defaultdict(int)
    industry: dict[tuple[str, int], int] = defaultdict(int)
    due: dict[tuple[str, int], date] = {}
    held: dict[str, tuple[str, int]] = {}
    for ind in books.indicators.values():
        if not books.judged(cfg, ind.unit, forwarding=False) or not books.covers(cfg, ind):
            continue
        key = (ind.unit, ind.year)
        held[ind.indicator_id] = key
        # what it holds: received − passed on − returned up = allocated + still available
        funds[key] += int(ind.allocated) + int(ind.available)
        ready = after(ind.effective_date, cfg.grace_days)
        due[key] = max(due.get(key, ready), ready)
    for line in books.lines:
        line_key = held.get(line.indicator_id)
        prj = books.projects.get(line.project_id)
        if line_key is not None and prj is not None and prj.category in categories:
            industry[line_key] += int(line.allocated)

    out: list[Finding] = []
    for (unit, year), base in funds.items():
        if base <= 0 or books.as_of <= due[(unit, year)]:
            continue
        got = industry[(unit, year)]
        this = share(got, base)
        reasons = []
        required = cfg.min_percent
        if this < cfg.min_percent:
            reasons.append(f"below the minimum {pct(cfg.min_percent)}")
        prev_base = funds.get((unit, year - 1), 0)
        prev: Decimal | None = None
        if cfg.compare_previous_year and prev_base > 0:
            prev = share(industry[(unit, year - 1)], prev_base)
            if this < prev:
                reasons.append(f"below {year - 1}'s share {pct(prev)}")
                required = max(required, prev)
        if not reasons:
            continue
        short = ceil_share(base, required) - got
        out.append(finding(
            RULE_ID, cfg, unit,
            f"{unit} {year}: {yuan(got)} of {yuan(base)} allocated to "
            f"{'/'.join(sorted(categories))} projects = {pct(this)}, " + " and ".join(reasons)
            + f"; short by {yuan(short)}",
            unit=unit, amount=short, year=year,
            extra={"share": two(this),
                   "previous_share": two(prev) if prev is not None else None},
        ))
    return out
