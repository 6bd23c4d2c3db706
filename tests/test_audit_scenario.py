"""The compliant books every audit test starts from, recorded through the real application.

A region issues central funds on 1 January, forwards them to its prefecture the same day; the
prefecture forwards them to its county on 3 January; the county refines them on 20 January to an
industry project (70 %) and a work-relief project (30 %), reports both complete and pays them in
full, with exactly 15 % of the work-relief money as labour pay. On 1 March nothing breaks a rule.
Each rule's test changes one thing and expects exactly that rule's findings.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from sqlalchemy import Engine

from ledger.application import BudgetLedger
from ledger.commands import ProgressCommand, RenameProjectCommand, ReverseCommand, build
from projections.audit import Finding, RulesConfig, run_audit
from projections.journal import View
from projections.updater import Projector
from tests.helpers import allocate, forward, issue, pay, project

REGION, CITY, COUNTY = "新疆维吾尔自治区", "某州", "某县"  # Xinjiang: seed 001's rules bind it


def d(year: int, month_day: str) -> str:
    return f"{year}-{month_day}"


def progress(app: BudgetLedger, prj: str, percent: str, when: str) -> None:
    app.report_progress(build(ProgressCommand, project_id=prj, percent=percent, effective_date=when))


def rename(app: BudgetLedger, prj: str, name: str, when: str, doc: str = "县乡振〔2025〕8号") -> None:
    app.rename_project(build(RenameProjectCommand, project_id=prj, new_name=name, doc=doc,
                             effective_date=when))


def reverse(app: BudgetLedger, payment_id: str, when: str) -> None:
    app.reverse(build(ReverseCommand, payment_id=payment_id, effective_date=when, reason="录入错误"))


def base(
    app: BudgetLedger,
    year: int = 2025,
    *,
    county_date: str = "01-03",
    county_amount: str = "100万",
    industry: str = "70万",
    work_relief: str = "30万",
    work_relief_category: str = "以工代赈",
    work_relief_date: str = "01-20",
    pay_all: bool = True,
) -> None:
    """Region → prefecture → county → two projects; ids carry the year: R2025, M2025, C2025,
    IND2025 (产业发展), WR2025 (以工代赈 unless told otherwise)."""
    y = year
    issue(app, f"R{y}", REGION, "100万", doc=f"区财〔{y}〕1号", effective_date=d(y, "01-01"),
          year=y, task="巩固拓展脱贫攻坚成果和乡村振兴任务", source="central", tracking=True)
    forward(app, f"R{y}", f"M{y}", CITY, "100万", doc=f"区财〔{y}〕1号", effective_date=d(y, "01-01"))
    forward(app, f"M{y}", f"C{y}", COUNTY, county_amount, doc=f"市财〔{y}〕2号",
            effective_date=d(y, county_date))
    project(app, f"IND{y}", COUNTY, "产业发展", effective_date=d(y, "01-10"))
    project(app, f"WR{y}", COUNTY, work_relief_category, effective_date=d(y, "01-10"))
    allocate(app, f"C{y}", f"IND{y}", industry, effective_date=d(y, "01-20"))
    allocate(app, f"C{y}", f"WR{y}", work_relief, effective_date=d(y, work_relief_date))
    if pay_all:
        progress(app, f"IND{y}", "100", d(y, "01-25"))
        pay(app, f"IND{y}", industry, effective_date=d(y, "01-26"), voucher=f"V{y}-1")
        progress(app, f"WR{y}", "100", max(d(y, "01-25"), d(y, work_relief_date)))
        whole = Decimal(work_relief.removesuffix("万"))
        labour = whole * Decimal("0.15")  # exactly the 15 % of central funds (seed 002)
        when = max(d(y, "01-26"), d(y, work_relief_date))
        pay(app, f"WR{y}", f"{whole - labour}万", effective_date=when, voucher=f"V{y}-2")
        pay(app, f"WR{y}", f"{labour}万", effective_date=when, payee="村民务工", payee_kind="individual",
            labour=True, voucher=f"V{y}-3")


def books(app: BudgetLedger) -> Engine:
    """The live read models, caught up."""
    projector = Projector(app)
    projector.catch_up()
    return projector.engine


def everywhere() -> RulesConfig:
    """The default rules with every rule's jurisdiction widened to all funds: these scenarios
    test what each rule checks (their region is no real one); scoping has tests of its own
    (tests/test_audit_scope.py)."""
    data = RulesConfig.default().model_dump(by_alias=True)
    for name, section in data.items():
        if name != "units":
            section["jurisdictions"] = ["all"]
    return RulesConfig.model_validate(data)


def audit(app: BudgetLedger, as_of: str = "2025-03-01", config: RulesConfig | None = None) -> list[Finding]:
    view = View(as_of=date.fromisoformat(as_of))
    return run_audit(books(app), config or everywhere(), view)


def keys(findings: list[Finding]) -> list[tuple[str, str, str, str | None]]:
    """(rule, severity, entity, amount in 元) — what a scenario's expectation is written in."""
    return [(f.rule, f.severity, f.entity, f.to_json()["amount"]) for f in findings]


def only(findings: list[Finding], rule: str) -> list[Finding]:
    return [f for f in findings if f.rule == rule]


def test_the_compliant_books_have_no_findings(app: BudgetLedger) -> None:
    base(app)
    assert audit(app) == []
    assert audit(app, "2025-12-31") == []  # fully paid: on schedule all year


def test_an_empty_ledger_has_no_findings(app: BudgetLedger) -> None:
    assert run_audit(books(app), everywhere()) == []
