"""Small builders shared by tests: record a scenario through the real application."""

from __future__ import annotations

import csv
from importlib import resources

from ledger.application import BudgetLedger
from ledger.commands import (
    AddProjectCommand,
    AllocateCommand,
    ForwardCommand,
    IssueCommand,
    PayCommand,
    build,
)

TASKS = ("巩固拓展脱贫攻坚成果和乡村振兴任务", "少数民族发展任务", "以工代赈任务")


def issue(app: BudgetLedger, ident: str, unit: str, amount: str, **kw: object) -> str:
    fields = dict(indicator_id=ident, unit=unit, amount=amount, doc="D-ROOT", effective_date="2025-01-01",
                  year=2025, task="以工代赈任务", source="provincial", tracking=True)
    fields.update(kw)
    return app.issue(build(IssueCommand, **fields))


def forward(app: BudgetLedger, parent: str, ident: str, unit: str, amount: str, **kw: object) -> str:
    fields = dict(parent_id=parent, child_id=ident, unit=unit, amount=amount, doc="D-FWD",
                  effective_date="2025-01-05")
    fields.update(kw)
    return app.forward(build(ForwardCommand, **fields))


def project(app: BudgetLedger, ident: str, unit: str, category: str = "以工代赈", **kw: object) -> str:
    fields = dict(project_id=ident, unit=unit, name=f"项目 {ident}", category=category,
                  effective_date="2025-02-01")
    fields.update(kw)
    return app.add_project(build(AddProjectCommand, **fields))


def allocate(app: BudgetLedger, ind: str, prj: str, amount: str, **kw: object) -> str:
    fields = dict(indicator_id=ind, project_id=prj, amount=amount, effective_date="2025-02-10")
    fields.update(kw)
    return app.allocate(build(AllocateCommand, **fields))


def pay(app: BudgetLedger, prj: str, amount: str, **kw: object) -> str:
    fields = dict(project_id=prj, amount=amount, effective_date="2025-03-01", payee="某公司")
    fields.update(kw)
    return app.pay(build(PayCommand, **fields))


def tibet_rows() -> list[dict[str, str]]:
    text = resources.files("ledger").joinpath("data/tibet_2025_advance.csv").read_text("utf-8")
    return list(csv.DictReader(text.splitlines()))


def wan(cell: str) -> int:
    """A table cell in 万元 as 分; '-' or empty is 0."""
    cell = cell.strip()
    return 0 if cell in ("", "-") else int(cell) * 1_000_000
