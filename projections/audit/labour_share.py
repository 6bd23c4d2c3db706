"""labour-share: a 以工代赈 project pays at least N % (15) of its central funds as labour pay.

Source: seed 002 (西藏 rural-revitalisation report) "以工代赈方式（严格按照不低于中央资金15%的比例
发放劳务报酬）"; seed 004 §三(三) asks counties to promote the 以工代赈 method.

The rule binds projects carried out by the 以工代赈 method (``categories``) and money of the
以工代赈 task (``work_relief_tasks``), anywhere (``jurisdictions = ["all"]``: national policy).

- central funding: the project's funding lines (net of releases) from indicators whose source is
  one of ``central_sources`` (default ``central``: 中央资金; add ``provincial`` to include own
  funds) — every such line of a 以工代赈-method project, and of any other project the lines that
  draw on a 以工代赈任务 indicator;
- labour pay: its payments marked ``--labour`` (劳务报酬), net of reversals, from any line.
The share is judged as soon as it can no longer be reached: labour paid plus everything the
project still has unpaid is below the required amount. A fully paid project below the share is
the plain case; a project still paying out with enough money left is not flagged yet.
"""

from __future__ import annotations

from collections import defaultdict

from projections.audit.base import Books, Finding, ceil_share, finding, pct, share, two, yuan
from projections.audit.config import LabourShareConfig

RULE_ID = "labour-share"


def check(books: Books, cfg: LabourShareConfig) -> list[Finding]:
    categories = {c.value for c in cfg.categories}
    sources = set(cfg.central_sources)
    labour: dict[str, int] = defaultdict(int)
    for p in books.payments:
        if p.labour and not p.reversed:
            labour[p.project_id] += int(p.amount)
    out: list[Finding] = []
    tasks = set(cfg.work_relief_tasks)
    for prj in books.projects.values():
        lines = books.lines_of.get(prj.project_id, [])
        method = prj.category in categories
        bound = [ln for ln in lines
                 if method or books.indicators[ln.indicator_id].task in tasks]
        if not bound:
            continue
        central = sum(int(ln.allocated) for ln in bound
                      if books.indicators[ln.indicator_id].source in sources
                      and books.covers(cfg, books.indicators[ln.indicator_id]))
        if central <= 0:
            continue
        required = ceil_share(central, cfg.min_percent)
        unpaid = sum(int(ln.allocated) - int(ln.paid) for ln in lines)
        paid = labour[prj.project_id]
        if paid + unpaid >= required:
            continue
        state = "fully paid" if unpaid == 0 else f"only {yuan(unpaid)} left unpaid"
        out.append(finding(
            RULE_ID, cfg, prj.project_id,
            f"{prj.name}: labour pay {yuan(paid)} = {pct(share(paid, central))} of central "
            f"funding {yuan(central)}, below {pct(cfg.min_percent)} ({yuan(required)}); {state}, "
            f"so the share can no longer be reached",
            unit=prj.unit, amount=required - paid,
            extra={"share": two(share(paid, central))},
        ))
    return out
