"""pooled-sources: every payment is attributable to exactly one funding line (never pooled).

Sources: seed 000 (西藏自治区财政厅, 2024-12-23) §三 "对资金来源既包含自治区财政衔接资金又包含地方
对应安排资金的，应…按资金明细来源分别列示和登录预算指标"; seed 004 (阳农局财字〔2024〕13号) §三(二)
"同一项目整合不同渠道资金实施的…区分不同资金的具体支持内容".

The write side already refuses pooling: a project has one funding line per source indicator, a
payment names exactly one line (``--indicator`` is required when there are several), never more
than that line's unpaid funding, and a voucher is used once per project. What can still be found:

- one payment voucher (支付凭证) recorded on payments of more than one funding line — across
  projects, which the write side cannot see — i.e. one real payment split over several sources or
  projects (entity: the first of those payments);
- in read models the ledger did not write itself (an import from elsewhere, a damaged table): a
  payment on an indicator that is not one of its project's lines, or held by another unit, and a
  line whose payments exceed its funding. These cannot arise through the ledger's commands.
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from projections.audit.base import Books, Finding, finding, yuan
from projections.audit.config import PlainRuleConfig

RULE_ID = "pooled-sources"


def check(books: Books, cfg: PlainRuleConfig) -> list[Finding]:
    out: list[Finding] = []
    by_voucher: dict[str, list[Any]] = defaultdict(list)
    lines = {(ln.project_id, ln.indicator_id): ln for ln in books.lines}
    for p in books.payments:
        if p.reversed:
            continue
        if p.voucher:
            by_voucher[p.voucher].append(p)
        prj = books.projects.get(p.project_id)
        ind = books.indicators.get(p.indicator_id)
        unit = prj.unit if prj is not None else None
        if (p.project_id, p.indicator_id) not in lines:
            out.append(finding(
                RULE_ID, cfg, p.payment_id,
                f"payment {p.payment_id} of {yuan(int(p.amount))} draws on indicator "
                f"{p.indicator_id}, which is not a funding line of project {p.project_id}",
                unit=unit, amount=int(p.amount), date=p.effective_date,
            ))
        elif prj is not None and ind is not None and ind.unit != prj.unit:
            out.append(finding(
                RULE_ID, cfg, p.payment_id,
                f"payment {p.payment_id} of project {p.project_id} ({prj.unit}) draws on "
                f"indicator {p.indicator_id} held by {ind.unit}",
                unit=unit, amount=int(p.amount), date=p.effective_date,
            ))
    for voucher, pays in by_voucher.items():
        keys = list(dict.fromkeys((p.project_id, p.indicator_id) for p in pays))
        if len(keys) < 2:
            continue
        total = sum(int(p.amount) for p in pays)
        parts = ", ".join(f"{p.payment_id} {yuan(int(p.amount))} from {p.indicator_id}" for p in pays)
        prj = books.projects.get(pays[0].project_id)
        out.append(finding(
            RULE_ID, cfg, pays[0].payment_id,
            f"voucher {voucher} ({yuan(total)}) is recorded on {len(keys)} funding lines: {parts}",
            unit=prj.unit if prj is not None else None, amount=total, date=pays[0].effective_date,
            extra={"voucher": voucher, "payments": [p.payment_id for p in pays]},
        ))
    for ln in books.lines:
        if int(ln.paid) > int(ln.allocated):
            prj = books.projects.get(ln.project_id)
            out.append(finding(
                RULE_ID, cfg, f"{ln.project_id}<-{ln.indicator_id}",
                f"funding line {ln.indicator_id} of project {ln.project_id} paid "
                f"{yuan(int(ln.paid))} but holds only {yuan(int(ln.allocated))}: the excess was "
                f"paid from another source's money",
                unit=prj.unit if prj is not None else None,
                amount=int(ln.paid) - int(ln.allocated),
            ))
    return out
