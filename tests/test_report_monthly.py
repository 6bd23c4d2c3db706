"""`report monthly`: the demo's report as of a month's end, in every format; the xlsx opens in
openpyxl with subtotals equal to the sum of their rows and 拉萨市's 小计 = 22,493万 received."""

from __future__ import annotations

import csv
import io
import json
from decimal import Decimal
from pathlib import Path

import pytest
from click.testing import CliRunner
from openpyxl import load_workbook

from cli.main import cli, register
from ledger.application import BudgetLedger
from ledger.demo_data import build_demo

register()


@pytest.fixture
def demo_db(db_url: str) -> str:
    app = BudgetLedger.open(db_url)
    build_demo(app)
    app.close()
    return db_url


def run(*args: str) -> tuple[int, str, str]:
    r = CliRunner().invoke(cli, list(args))
    return r.exit_code, r.stdout, r.stderr


def test_json_rows_subtotals_and_percent_strings(demo_db: str) -> None:
    code, out, err = run("--db", demo_db, "report", "monthly", "--month", "2025-06",
                         "--format", "json")
    assert code == 0, err
    rows = json.loads(out)
    lhasa = next(r for r in rows if r["kind"] == "subtotal" and r["area"] == "拉萨市")
    assert lhasa["received"] == "224930000.00"
    assert lhasa["schedule_pct"] == "49.59"  # 181 of 365 days
    mz = next(r for r in rows if r["unit"] == "墨竹工卡县")
    assert (mz["paid"], mz["spending_pct"]) == ("1100000.00", "3.83")
    for s in (r for r in rows if r["kind"] == "subtotal"):
        members = [r for r in rows if r["parent"] == s["area"]]
        for key in ("received", "allocated", "paid"):
            assert Decimal(s[key]) == sum(Decimal(r[key]) for r in members), (s["unit"], key)


def test_the_month_before_the_payments(demo_db: str) -> None:
    code, out, _ = run("--db", demo_db, "report", "monthly", "--month", "2025-01", "--format", "json")
    rows = json.loads(out)
    top = rows[0]
    assert code == 0 and top["unit"] == "西藏自治区小计" and top["paid"] == "0.00"
    assert top["received"] == "2215200000.00"


def test_xlsx_opens_and_adds_up(demo_db: str, tmp_path: Path) -> None:
    path = tmp_path / "2025-06月报.xlsx"
    code, _, err = run("--db", demo_db, "report", "monthly", "--month", "2025-06", "--format",
                       "xlsx", "--output", str(path))
    assert code == 0, err
    wb = load_workbook(path)
    ws = wb.worksheets[0]
    header = [c.value for c in ws[1]]
    assert header[:4] == ["地区", "单位", "级次", "收到资金（元）"]
    col = {h: i for i, h in enumerate(header)}
    rows = [[c.value for c in r] for r in ws.iter_rows(min_row=2)]
    subtotals = [r for r in rows if str(r[col["单位"]]).strip().endswith("小计")]
    assert len(subtotals) == 8
    for s in subtotals:
        area = s[col["地区"]]
        # the area's own level (本级) and its units; a sub-area counts by its own subtotal row
        direct = [r for r in rows if r[col["地区"]] == area and r not in subtotals]
        for name in ("收到资金（元）", "细化到项目（元）", "支付（元）"):
            total = sum(Decimal(str(r[col[name]])) for r in direct)
            nested = sum(Decimal(str(r[col[name]])) for r in subtotals
                         if r is not s and _parent(rows, col, r) == area)
            assert round(total + nested, 2) == round(Decimal(str(s[col[name]])), 2), (area, name)
    lhasa = next(s for s in subtotals if s[col["地区"]] == "拉萨市")
    assert Decimal(str(lhasa[col["收到资金（元）"]])) == Decimal("224930000")
    assert ws.cell(row=2, column=col["支出进度"] + 1).number_format == "0.00%"
    assert wb.worksheets[1].title == "说明"


def _parent(rows: list[list[object]], col: dict[str, int], sub: list[object]) -> str | None:
    """The area above a subtotal row: the nearest subtotal before it with a smaller indent."""
    name = str(sub[col["单位"]])
    indent = len(name) - len(name.lstrip())
    for r in reversed(rows[: rows.index(sub)]):
        other = str(r[col["单位"]])
        if other.strip().endswith("小计") and len(other) - len(other.lstrip()) < indent:
            return str(r[col["地区"]])
    return None


def test_csv_and_table_and_bad_input(demo_db: str, tmp_path: Path) -> None:
    code, out, _ = run("--db", demo_db, "report", "monthly", "--month", "2025-06", "--format", "csv")
    rows = list(csv.DictReader(io.StringIO(out.lstrip("\ufeff"))))
    assert code == 0 and rows[0]["unit"] == "西藏自治区小计"
    code, out, _ = run("--db", demo_db, "report", "monthly", "--month", "2025-06")
    assert code == 0 and "拉萨市小计" in out and "3.83%" in out
    assert run("--db", demo_db, "report", "monthly", "--month", "2025-13")[0] == 2
    assert run("--db", demo_db, "report", "monthly", "--month", "2025-06", "--format", "xlsx")[0] == 2


def test_advance_funds_in_december_are_reported_under_their_budget_year(demo_db: str) -> None:
    code, out, _ = run("--db", demo_db, "report", "monthly", "--month", "2024-12", "--format", "json")
    assert (code, json.loads(out)) == (0, [])  # no 2024 money
    code, out, _ = run("--db", demo_db, "report", "monthly", "--month", "2024-12", "--year", "2025",
                       "--format", "json")
    rows = json.loads(out)
    assert rows[0]["received"] == "2215200000.00" and rows[0]["schedule_pct"] == "0.00"


def test_late_forwards_are_counted_where_the_rule_binds(app: BudgetLedger) -> None:
    from projections.report import monthly
    from projections.updater import Projector
    from tests.helpers import forward, issue

    issue(app, "R", "新疆维吾尔自治区", "100万", doc="新财振〔2024〕9号", effective_date="2025-01-02",
          year=2025, task="巩固拓展脱贫攻坚成果和乡村振兴任务", source="central")
    forward(app, "R", "M", "某州", "100万", doc="新财振〔2024〕9号", effective_date="2025-01-02")
    forward(app, "M", "C1", "甲县", "60万", doc="州财1", effective_date="2025-01-07")  # 5th day
    forward(app, "M", "C2", "乙县", "40万", doc="州财2", effective_date="2025-01-10")  # late
    p = Projector(app)
    p.catch_up()
    rows = {r["unit"]: r for r in monthly(p.engine, "2025-01").rows}
    assert (rows["某州（本级）"]["late_forwards"], rows["某州（本级）"]["late_amount"]) == (1, "400000.00")
    assert rows["某州小计"]["late_forwards"] == 1 and rows["甲县"]["late_forwards"] == 0
