"""payment-ahead-of-progress: no project is paid (支付) ahead of its physical progress (the notices' 超进度拨付项目款).

Sources: seed 000 (西藏自治区财政厅, 2024-12-23) §二 "严禁采取以拨代支、虚列支出、超进度拨付项目款…
违规抬高支出进度"; seed 004 (阳农局财字〔2024〕13号) §三(四) "避免发生'以拨代支'、超进度付款等问题".

Checked at every payment, in log order, so a payment made ahead of progress is found even if
progress caught up later: after the payment, the project's cumulative payments must not exceed
(latest reported progress + ``tolerance_points``) % × its funding at that moment. A project with
no progress report counts as 0 %. A payment that was later reversed is treated as never made.
One finding per project, on its first payment that went ahead (amount: the excess then).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import date
from decimal import ROUND_CEILING, Decimal
from typing import Any

from projections.audit.base import Books, Finding, finding, pct, yuan
from projections.audit.config import PaymentAheadConfig

RULE_ID = "payment-ahead-of-progress"


@dataclass
class _Project:
    funding: int = 0
    paid: int = 0
    percent: Decimal = Decimal(0)


def _covered(funding: int, percent: Decimal, tolerance: Decimal) -> Decimal:
    """What progress allows to be paid, in 分 (exact; not rounded)."""
    return Decimal(funding) * min(percent + tolerance, Decimal(100)) / 100


def _timeline(books: Books) -> list[tuple[date, int, str, str, object]]:
    """(date, position, project, kind, value) of funding changes, payments and progress, in the
    order of the business dates (log order within a day), so a back-dated payment is judged by
    the progress reported by its own date. Reversed payments are left out altogether."""
    items: list[tuple[date, int, str, str, object]] = [
        (mv.effective_date, int(mv.position), mv.project_id, "funding", int(mv.amount))
        for mv in books.movements("allocated")
    ]
    items += [(p.effective_date, int(p.position), p.project_id, "payment", p)
              for p in books.payments if not p.reversed]
    items += [(r.effective_date, int(r.position), r.project_id, "progress", Decimal(r.percent))
              for r in books.progress_reports]
    items.sort(key=lambda item: (item[0], item[1]))
    return items


def check(books: Books, cfg: PaymentAheadConfig) -> list[Finding]:
    state: dict[str, _Project] = {}
    first: dict[str, Finding] = {}
    for _day, _pos, prj_id, kind, value in _timeline(books):
        s = state.setdefault(prj_id, _Project())
        if kind == "funding":
            assert isinstance(value, int)
            s.funding += value
        elif kind == "progress":
            assert isinstance(value, Decimal)
            s.percent = value
        elif prj_id not in first:
            p: Any = value
            s.paid += int(p.amount)
            allowed = _covered(s.funding, s.percent, cfg.tolerance_points)
            if s.paid > allowed:
                prj = books.projects[prj_id]
                excess = int((s.paid - allowed).to_integral_value(rounding=ROUND_CEILING))
                first[prj_id] = finding(
                    RULE_ID, cfg, prj_id,
                    f"{prj.name}: payment {p.payment_id} on {p.effective_date} brought "
                    f"payments to {yuan(s.paid)} at reported progress {pct(s.percent)} of funding "
                    f"{yuan(s.funding)}; ahead by {yuan(excess)}",
                    unit=prj.unit, amount=excess, date=p.effective_date,
                    extra={"payment": p.payment_id, "percent": str(s.percent)},
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
