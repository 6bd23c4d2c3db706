"""The monthly monitoring report (月报, 001 §一 「于每月1日前报送资金支出使用管理情况」).

The books as of the month's last day, per area and unit (see :mod:`projections.areas`): for
every area a subtotal row (小计), then its own level (本级) and each unit in it, a sub-area as its
own block. Amounts add up: a subtotal equals the sum of the rows under it.

Columns: received (kept at the level / in the area), allocated to projects, paid (支付, net of
reversals), and the rates — 分配进度 = passed on or allocated ÷ what entered the unit's books;
细化到项目 = allocated to projects ÷ received; 支出进度 = paid ÷ received against 序时进度 (the
share of the budget year elapsed); late forwards = the forward-deadline findings of the audit
(with the rules' scopes: none outside Xinjiang by default).
"""

from __future__ import annotations

import calendar
from collections import defaultdict
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any

from projections.areas import Figures, geography, percent
from projections.audit import RulesConfig, run_audit
from projections.audit.progress_behind_schedule import schedule
from projections.db import Source, connected
from projections.journal import View

COLUMNS = ("kind", "area", "unit", "level", "received", "allocated", "allocation_pct",
           "refined_pct", "paid", "spending_pct", "schedule_pct", "points_behind",
           "late_forwards", "late_amount")
HEADERS = {  # the xlsx header a clerk reads
    "kind": "行", "area": "地区", "unit": "单位", "level": "级次", "received": "收到资金（元）",
    "allocated": "细化到项目（元）", "allocation_pct": "分配进度", "refined_pct": "细化到项目比例",
    "paid": "支付（元）", "spending_pct": "支出进度", "schedule_pct": "序时进度",
    "points_behind": "落后序时（百分点）", "late_forwards": "超期转下达（笔）",
    "late_amount": "超期转下达（元）",
}
AMOUNTS = ("received", "allocated", "paid", "late_amount")
PERCENTS = ("allocation_pct", "refined_pct", "spending_pct", "schedule_pct")
LEVELS = {"region": "自治区/省", "province": "省", "prefecture": "地（州、市）", "county": "县（市、区）",
          "township": "乡镇"}


def month_end(month: str) -> date:
    """'2025-06' → 2025-06-30."""
    try:
        y, m = (int(x) for x in month.split("-"))
        return date(y, m, calendar.monthrange(y, m)[1])
    except (ValueError, TypeError):
        raise ValueError(f"not a month YYYY-MM: {month!r}") from None


@dataclass
class MonthlyReport:
    month: str
    as_of: date
    schedule_pct: str
    rows: list[dict[str, Any]]


def _fen(x: int) -> str:
    return f"{Decimal(x) / 100:.2f}"


def monthly(source: Source, month: str, year: int | None = None,
            config: RulesConfig | None = None, known_at: Any = None) -> MonthlyReport:
    """The report for ``month`` (budget ``year``: the month's year unless given)."""
    as_of = month_end(month)
    year = year or as_of.year
    view = View(as_of=as_of, known_at=known_at)
    due = schedule(as_of, year)
    late: dict[str, list[int]] = defaultdict(list)
    for f in run_audit(source, config or RulesConfig.default(), view):
        if f.rule == "forward-deadline" and "parent" in f.extra and f.unit is not None:
            late[f.unit].append(int(f.amount or 0))  # a late forward (not money still held)
    with connected(source) as conn:
        geo = geography(conn, view, keep=lambda r: r.year == year)
    rows: list[dict[str, Any]] = []

    def row(kind: str, area: str | None, label: str, unit: str, fig: Figures,
            late_units: list[str], parent: str | None, depth: int) -> dict[str, Any]:
        spending = Decimal(percent(fig.paid, fig.received))
        lates = [a for u in late_units for a in late.get(u, [])]
        return {
            "kind": kind, "area": area, "unit": label, "level": geo.level.get(unit),
            "received": _fen(fig.received), "allocated": _fen(fig.allocated),
            "allocation_pct": percent(fig.distributed, fig.gross),
            "refined_pct": percent(fig.allocated, fig.received),
            "paid": _fen(fig.paid), "spending_pct": str(spending),
            "schedule_pct": f"{due:.2f}",
            "points_behind": f"{max(Decimal(0), due - spending):.2f}" if fig.received else "0.00",
            "late_forwards": len(lates), "late_amount": _fen(sum(lates)),
            "parent": parent, "depth": depth, "direct_county": geo.direct.get(unit, False),
        }

    def visit(a: str, parent: str | None, depth: int) -> None:
        if not geo.subtotal(a).indicators:  # no money of the year in view: no row
            return
        own = geo.own.get(a, Figures())
        if not geo.is_area(a):
            rows.append(row("unit", parent, a, a, own, [a], parent, depth))
            return
        rows.append(row("subtotal", a, f"{a}小计", a, geo.subtotal(a), geo.subtree(a), parent,
                        depth))
        if own.indicators:
            rows.append(row("unit", a, f"{a}（本级）", a, own, [a], a, depth + 1))
        for c in geo.children.get(a, []):
            visit(c, a, depth + 1)

    for r in geo.roots():
        visit(r, None, 0)
    return MonthlyReport(month, as_of, f"{due:.2f}", rows)


def write_xlsx(report: MonthlyReport, path: Path) -> None:
    """The report as a workbook a clerk opens as is: one sheet of rows (subtotals bold, amounts
    in 元 with thousands separators, rates as percentages), one sheet saying what it is."""
    from openpyxl import Workbook
    from openpyxl.styles import Alignment, Font, PatternFill

    wb = Workbook()
    ws = wb.active
    assert ws is not None
    ws.title = f"{report.month}月报"
    cols = [c for c in COLUMNS if c != "kind"]
    ws.append([HEADERS[c] for c in cols])
    for cell in ws[1]:
        cell.font = Font(bold=True)
        cell.alignment = Alignment(horizontal="center", wrap_text=True)
    fill = PatternFill("solid", fgColor="DDEBF7")
    for r in report.rows:
        values: list[Any] = []
        for c in cols:
            v = r[c]
            if c in AMOUNTS or c == "points_behind":
                v = float(Decimal(v))
            elif c in PERCENTS:
                v = float(Decimal(v) / 100)
            elif c == "unit":
                v = "  " * int(r["depth"]) + str(v)
            elif c == "level":
                v = LEVELS.get(str(v), v or "")
            values.append(v)
        ws.append(values)
        row = ws[ws.max_row]
        for c, cell in zip(cols, row, strict=True):
            if c in AMOUNTS:
                cell.number_format = "#,##0.00"
            elif c in PERCENTS:
                cell.number_format = "0.00%"
            elif c == "points_behind":
                cell.number_format = "0.00"
            if r["kind"] == "subtotal":
                cell.font = Font(bold=True)
                cell.fill = fill
    for i, c in enumerate(cols, start=1):
        width = 28 if c == "unit" else 14 if c in AMOUNTS else 12
        ws.column_dimensions[ws.cell(row=1, column=i).column_letter].width = width
    ws.freeze_panes = "C2"
    about = wb.create_sheet("说明")
    about.append(["报表", f"衔接资金月报 {report.month}"])
    about.append(["数据截至", report.as_of.isoformat()])
    about.append(["序时进度", f"{report.schedule_pct}%"])
    about.append(["口径", "收到资金：本级留用（小计为本地区合计，含资金管理型直管县）；支付不含拨付，冲销已扣除；"
                          "分配进度=已转下达及细化到项目÷收到；支出进度=支付÷收到"])
    about.column_dimensions["A"].width = 12
    about.column_dimensions["B"].width = 100
    wb.save(path)
