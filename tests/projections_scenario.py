"""A small ledger with exact amounts, shared by the read-side tests.

西藏自治区 R (以工代赈任务, 1000万, tracked) → 拉萨市 P 600万 → 城关区 C 400万 and 达孜区 D 100万;
西藏自治区 R2 (少数民族发展任务, 200万) → 拉萨市 P2 50万; 城关区 also holds local matching funds L 100万.
Project X1 (城关区) is funded from C (300万) and L (50万) — two sources, never pooled; Y (达孜区)
from D (80万). Payments X1:P1 100万 (C), X1:P2 20万 (L), Y:P1 30万 (D); X1:P1 is reversed on
2025-04-01 and 达孜区 returns 20万 of D on 2025-05-01.
"""

from __future__ import annotations

from ledger.application import BudgetLedger
from ledger.commands import RecoverCommand, ReverseCommand, build
from tests.helpers import allocate, forward, issue, pay, project

REVERSAL_DATE = "2025-04-01"
RECOVERY_DATE = "2025-05-01"


def build_before_corrections(app: BudgetLedger) -> None:
    issue(app, "R", "西藏自治区", "1000万", doc="藏财〔2025〕1号", effective_date="2025-01-01")
    issue(app, "R2", "西藏自治区", "200万", doc="藏财〔2025〕2号", effective_date="2025-01-01",
          task="少数民族发展任务")
    issue(app, "L", "城关区", "100万", doc="城财〔2025〕1号", effective_date="2025-01-02",
          source="county", tracking=False)
    forward(app, "R", "P", "拉萨市", "600万", doc="拉财〔2025〕1号", effective_date="2025-01-05")
    forward(app, "R2", "P2", "拉萨市", "50万", doc="拉财〔2025〕2号", effective_date="2025-01-05")
    forward(app, "P", "C", "城关区", "400万", doc="拉财〔2025〕3号", effective_date="2025-01-06")
    forward(app, "P", "D", "达孜区", "100万", doc="拉财〔2025〕4号", effective_date="2025-01-06")
    project(app, "X1", "城关区", effective_date="2025-02-01")
    project(app, "Y", "达孜区", effective_date="2025-02-01")
    allocate(app, "C", "X1", "300万")
    allocate(app, "L", "X1", "50万")
    allocate(app, "D", "Y", "80万")
    pay(app, "X1", "1000000", indicator_id="C", effective_date="2025-03-01", payee="某建设公司")
    pay(app, "X1", "200000", indicator_id="L", effective_date="2025-03-02", payee="某农户",
        payee_kind="household")
    pay(app, "Y", "300000", effective_date="2025-03-03", payee="某合作社", labour=True)


def reverse_and_recover(app: BudgetLedger) -> None:
    app.reverse(build(ReverseCommand, payment_id="X1:P1", effective_date=REVERSAL_DATE,
                      reason="重复支付", actor="tester"))
    app.recover(build(RecoverCommand, indicator_id="D", amount="20万", doc="达财〔2025〕9号",
                      effective_date=RECOVERY_DATE, reason="结余收回", actor="tester"))


def build_scenario(app: BudgetLedger) -> None:
    build_before_corrections(app)
    reverse_and_recover(app)
