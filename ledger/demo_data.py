"""The demo ledger's seed data and :func:`build_demo`, outside the CLI so tests and tools can use them.

A fresh ledger from the bundled Tibet table (seed 000), with a few projects and payments. Everything
goes through the real write path (the same importers a finance bureau would use, then single
commands for a reversal, a recovery and progress reports), so the demo is also a smoke test. The
data are deterministic: two runs give the same ids and amounts (only recorded-at times differ).

A store built by the demo is marked (:func:`mark_demo`: the log's head digest when the demo
finished, in a small table of the SQLite file), so ``demo --force-new`` can tell a previous demo,
which it may replace, from a real ledger, which it must never touch (:func:`is_untouched_demo`).
"""

from __future__ import annotations

import csv
import io
import sqlite3
from importlib import resources
from pathlib import Path
from typing import Any

from ledger.application import BudgetLedger
from ledger.commands import ProgressCommand, RecoverCommand, ReverseCommand, build
from ledger.imports import (
    AllocationOptions,
    allocation_indicator_id,
    import_allocations,
    import_payments,
    import_projects,
    table_from_text,
)
from ledger.integrity import head_digest

# Seed 000 (西藏自治区财政厅, 2024-12-23) gives no document number; 000号 marks it as a placeholder.
DOC = "藏财农〔2024〕000号"
REGION = "西藏自治区"
GONGGU, MINZU, YIGONG = "巩固拓展脱贫攻坚成果和乡村振兴任务", "少数民族发展任务", "以工代赈任务"
TABLE = "tibet_2025_advance.csv"


def _ind(holder: str, county: str, task: str) -> str:
    return allocation_indicator_id(DOC, holder, county, task)


# project, unit, name, category, date, doc, source holder, task, amount
PROJECTS = [
    ("CG-2025-01", "城关区", "城关区设施蔬菜大棚建设", "产业发展", "2025-01-10", "城政〔2025〕3号",
     "拉萨市", GONGGU, "500万"),
    ("DL-2025-01", "堆龙德庆区", "堆龙德庆区农村道路以工代赈项目", "以工代赈", "2025-01-15",
     "堆政〔2025〕5号", "拉萨市", YIGONG, "440万"),
    ("DL-2025-02", "堆龙德庆区", "堆龙德庆区牦牛养殖合作社", "产业发展", "2025-01-20",
     "堆政〔2025〕6号", "拉萨市", GONGGU, "1200万"),
    ("DL-2025-02", "堆龙德庆区", "堆龙德庆区牦牛养殖合作社", "产业发展", "2025-01-20",
     "堆政〔2025〕6号", "拉萨市", MINZU, "300万"),
    ("LZ-2025-01", "林周县", "林周县饮水安全巩固提升工程", "基础设施", "2025-02-01",
     "林政〔2025〕2号", REGION, GONGGU, "800万"),
    ("MZ-2025-01", "墨竹工卡县", "墨竹工卡县庭院经济补助", "庭院经济", "2025-02-10",
     "墨政〔2025〕4号", "拉萨市", MINZU, "300万"),
]

# voucher, project, (holder, task) of the line when the project has two, payee, kind, 元, date, labour
PAYMENTS = [
    ("CG-V0001", "CG-2025-01", None, "拉萨某建设工程有限公司", "enterprise", "1,200,000.00", "2025-03-05", "no"),
    ("CG-V0002", "CG-2025-01", None, "拉萨某建设工程有限公司", "enterprise", "800,000.00", "2025-05-20", "no"),
    ("DL-V0001", "DL-2025-01", None, "堆龙德庆区务工群众（42人）", "household", "320,000.00", "2025-03-20", "yes"),
    ("DL-V0002", "DL-2025-01", None, "拉萨某路桥有限公司", "enterprise", "900,000.00", "2025-03-25", "no"),
    ("DL-V0003", "DL-2025-01", None, "堆龙德庆区务工群众（38人）", "household", "350,000.00", "2025-05-28", "yes"),
    ("DL-V0101", "DL-2025-02", ("拉萨市", GONGGU), "堆龙某牦牛养殖专业合作社", "enterprise", "3,000,000.00", "2025-04-10", "no"),
    ("DL-V0102", "DL-2025-02", ("拉萨市", MINZU), "堆龙某牦牛养殖专业合作社", "enterprise", "600,000.00", "2025-04-10", "no"),
    ("LZ-V0001", "LZ-2025-01", None, "林周某水利工程公司", "enterprise", "2,000,000.00", "2025-03-15", "no"),
    ("LZ-V0002", "LZ-2025-01", None, "林周某水利工程公司", "enterprise", "2,000,000.00", "2025-03-16", "no"),
    ("MZ-V0001", "MZ-2025-01", None, "墨竹工卡县农户（120户）", "household", "1,100,000.00", "2025-06-15", "no"),
]

# project, percent, date: each payment is covered by the progress reported before it, except
# 墨竹工卡县's 庭院经济 subsidy, paid on 2025-06-15 with no progress on record — the one problem the
# demo's audit reports (payment-ahead-of-progress; see docs/investigations.md)
PROGRESS = [("LZ-2025-01", "25", "2025-03-10"), ("CG-2025-01", "24", "2025-03-01"),
            ("DL-2025-01", "30", "2025-03-18"), ("DL-2025-02", "24", "2025-04-05"),
            ("CG-2025-01", "45", "2025-05-15"), ("DL-2025-01", "60", "2025-05-25"),
            ("DL-2025-02", "30", "2025-05-31"), ("LZ-2025-01", "35", "2025-05-31")]


def _csv(header: list[str], rows: list[list[str]]) -> str:
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(header)
    w.writerows(rows)
    return buf.getvalue()


def projects_csv() -> str:
    return _csv(
        ["project", "unit", "name", "category", "date", "doc", "indicator", "amount"],
        [[p, u, n, c, d, doc, _ind(h, u, t), a] for p, u, n, c, d, doc, h, t, a in PROJECTS],
    )


def payments_csv() -> str:
    rows = []
    for v, p, line, payee, kind, amount, d, labour in PAYMENTS:
        unit = next(r[1] for r in PROJECTS if r[0] == p)
        rows.append([v, p, _ind(line[0], unit, line[1]) if line else "", payee, kind, amount, d, labour])
    return _csv(["voucher", "project", "indicator", "payee", "payee_kind", "amount", "date", "labour"],
                rows)


def build_demo(app: BudgetLedger, actor: str = "demo") -> dict[str, Any]:
    """Record the whole demo into ``app`` (which must be empty); returns the ids worth showing."""
    text = resources.files("ledger").joinpath(f"data/{TABLE}").read_text("utf-8")
    opts = AllocationOptions(doc=DOC, effective_date="2024-12-23", year=2025, source="provincial",
                             subject="21305", tracking=True, advance=True, issuer="西藏自治区财政厅",
                             actor=actor)
    alloc = import_allocations(app, table_from_text(text, TABLE), opts)
    projects = import_projects(app, table_from_text(projects_csv(), "demo-projects.csv"), actor=actor)
    payments = import_payments(app, table_from_text(payments_csv(), "demo-payments.csv"), actor=actor)
    duplicate = app.get_project("LZ-2025-01").vouchers["LZ-V0002"]
    app.reverse(build(ReverseCommand, payment_id=duplicate, effective_date="2025-04-02",
                      reason="重复支付，款项已退回", doc="林财〔2025〕7号", actor=actor))
    for pid, percent, d in PROGRESS:
        app.report_progress(build(ProgressCommand, project_id=pid, percent=percent,
                                  effective_date=d, actor=actor))
    app.recover(build(RecoverCommand, indicator_id=_ind("拉萨市", "墨竹工卡县", MINZU),
                      amount="30万", doc="拉财〔2025〕12号", effective_date="2025-06-30",
                      reason="项目结余资金收回", actor=actor))
    return {
        "roots": [allocation_indicator_id(DOC, None, REGION, t) for t in (GONGGU, MINZU, YIGONG)],
        "trace": _ind(REGION, "拉萨市", YIGONG),
        "payment": app.get_project("DL-2025-01").vouchers["DL-V0001"],
        "indicators": alloc.applied,
        "projects": projects.applied,
        "payments": payments.applied,
    }


# ---- the demo mark -------------------------------------------------------------------------

MARK_TABLE = "budget_ledger_demo"


def mark_demo(app: BudgetLedger) -> None:
    """Record in the SQLite file that it holds a demo and nothing else, as of the log's head now."""
    path = app.config.sqlite_path
    if path is None:
        return
    position, digest = head_digest(app)
    with sqlite3.connect(path) as conn:
        conn.execute(f"CREATE TABLE IF NOT EXISTS {MARK_TABLE} (position INTEGER NOT NULL, "
                     "digest TEXT NOT NULL)")
        conn.execute(f"DELETE FROM {MARK_TABLE}")
        conn.execute(f"INSERT INTO {MARK_TABLE} VALUES (?, ?)", (position, digest))
    conn.close()


def is_untouched_demo(app: BudgetLedger) -> bool:
    """True only when the store was built by ``demo`` and nothing was written after it."""
    path = app.config.sqlite_path
    if path is None:
        return False
    try:
        conn = sqlite3.connect(f"{Path(path).as_uri()}?mode=ro", uri=True)
        try:
            row = conn.execute(f"SELECT position, digest FROM {MARK_TABLE}").fetchone()
        finally:
            conn.close()
    except sqlite3.Error:  # no mark: not a demo (or one built before demos were marked)
        return False
    return row is not None and tuple(row) == head_digest(app)
