"""payment-ahead-of-progress: no project is paid ahead of its physical progress (超进度拨付).

Sources: seed 000 (西藏自治区财政厅, 2024-12-23) §二 "严禁采取以拨代支、虚列支出、超进度拨付项目款…
违规抬高支出进度"; seed 004 (阳农局财字〔2024〕13号) §三(四) "避免发生'以拨代支'、超进度付款等问题".

Checked at every payment, in log order, so a payment made ahead of progress is found even if
progress caught up later: after the payment, the project's cumulative payments must not exceed
(latest reported progress + ``tolerance_points``) % × its funding at that moment. A project with
no progress report counts as 0 %. A payment that was later reversed is treated as never made.
One finding per project, on its first payment that went ahead (amount: the excess then).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, replace
from decimal import ROUND_CEILING, Decimal

from projections.audit.base import Books, Finding, finding, pct, yuan
from projections.audit.config import PaymentAheadConfig

RULE_ID = "payment-ahead-of-progress"
_TYPES = ("Project.FundingAllocated", "Project.FundingReleased", "Project.PaymentMade",
          "Project.ProgressReported")


@dataclass
class _Project:
    funding: int = 0
    paid: int = 0
    percent: Decimal = Decimal(0)


def _covered(funding: int, percent: Decimal, tolerance: Decimal) -> Decimal:
    """What progress allows to be paid, in 分 (exact; not rounded)."""
    return Decimal(funding) * min(percent + tolerance, Decimal(100)) / 100


def check(books: Books, cfg: PaymentAheadConfig) -> list[Finding]:
    reversed_ids = {p.payment_id for p in books.payments if p.reversed}
    state: dict[str, _Project] = {}
    first: dict[str, Finding] = {}
    for ev in books.events(*_TYPES):
        s = state.setdefault(ev.entity, _Project())
        payload = json.loads(ev.payload)
        if ev.type == "Project.FundingAllocated":
            s.funding += int(ev.amount)
        elif ev.type == "Project.FundingReleased":
            s.funding -= int(ev.amount)
        elif ev.type == "Project.ProgressReported":
            s.percent = Decimal(payload["percent"])
        elif payload["payment_id"] not in reversed_ids:
            s.paid += int(ev.amount)
            allowed = _covered(s.funding, s.percent, cfg.tolerance_points)
            if s.paid > allowed and ev.entity not in first:
                prj = books.projects[ev.entity]
                excess = int((s.paid - allowed).to_integral_value(rounding=ROUND_CEILING))
                first[ev.entity] = finding(
                    RULE_ID, cfg, ev.entity,
                    f"{prj.name}: payment {payload['payment_id']} on {ev.effective_date} brought "
                    f"payments to {yuan(s.paid)} at reported progress {pct(s.percent)} of funding "
                    f"{yuan(s.funding)}; ahead by {yuan(excess)}",
                    unit=prj.unit, amount=excess, date=ev.effective_date,
                    extra={"payment": payload["payment_id"], "percent": str(s.percent)},
                )
    out: list[Finding] = []
    for prj_id, f in first.items():
        prj = books.projects[prj_id]
        now = Decimal(prj.percent) if prj.percent is not None else Decimal(0)
        still = int(prj.paid) > _covered(int(prj.allocated), now, cfg.tolerance_points)
        tail = (f"; on {books.as_of} still ahead: paid {yuan(int(prj.paid))} at {pct(now)}"
                if still else f"; covered by progress {pct(now)} on {books.as_of}")
        out.append(replace(f, detail=f.detail + tail, extra={**f.extra, "still_ahead": still}))
    return out
