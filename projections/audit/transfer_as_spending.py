"""transfer-as-spending: a payment to a fiscal account or a government unit is not spending.

Sources: seed 000 (西藏自治区财政厅, 2024-12-23) §二 "严禁采取以拨代支、虚列支出、超进度拨付项目款
或拨入财政专户等方式违规抬高支出进度"; seed 004 (阳农局财字〔2024〕13号) §三(四) "避免发生'以拨代支'".

A payment (not reversed) whose payee kind is one of ``payee_kinds`` — by default
``fiscal-account`` (拨入财政专户) and ``government-unit`` (以拨代支: a transfer to another budget
unit booked as spending). One finding per payment.
"""

from __future__ import annotations

from projections.audit.base import Books, Finding, finding, yuan
from projections.audit.config import TransferAsSpendingConfig

RULE_ID = "transfer-as-spending"
_WHAT = {"fiscal-account": "parked in a fiscal account (拨入财政专户)",
         "government-unit": "transferred to a government unit (以拨代支)"}


def check(books: Books, cfg: TransferAsSpendingConfig) -> list[Finding]:
    kinds = {k.value for k in cfg.payee_kinds}
    out: list[Finding] = []
    for p in books.payments:
        if p.reversed or p.payee_kind not in kinds:
            continue
        prj = books.projects[p.project_id]
        what = _WHAT.get(p.payee_kind, f"paid to a payee of kind {p.payee_kind}")
        out.append(finding(
            RULE_ID, cfg, p.payment_id,
            f"{yuan(int(p.amount))} of project {p.project_id} {what}: payee {p.payee} on "
            f"{p.effective_date}" + (f", voucher {p.voucher}" if p.voucher else "")
            + "; counted as spending but nothing reached a final payee",
            unit=prj.unit, amount=int(p.amount), date=p.effective_date,
            extra={"payee": p.payee, "payee_kind": p.payee_kind, "project": p.project_id},
        ))
    return out
