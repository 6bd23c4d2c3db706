"""Rules bind only where their notice has authority: jurisdiction, level, sources, tasks.

Defaults (projections/audit/rules.toml): the 5-day and 30-day rules and project-renamed are
Xinjiang's (001), industry-share and progress-behind-schedule Shanxi's (003/004),
same-year-spending 阳泉's (004); labour-share, payment-ahead-of-progress, transfer-as-spending and
pooled-sources are general. Each scoped rule fires in its own jurisdiction (boundary day included)
and never on Tibet's demo.
"""

from __future__ import annotations

import json
from datetime import date

import pytest
from click.testing import CliRunner

from cli.main import cli, register
from ledger.application import BudgetLedger
from ledger.commands import SetUnitCommand, build
from ledger.demo_data import build_demo
from projections.audit import RulesConfig, run_audit
from projections.audit.base import Finding
from projections.journal import View
from projections.updater import Projector
from tests.helpers import allocate, forward, issue, pay, project

register()

XJ, SX, XZ = "新疆维吾尔自治区", "山西省", "西藏自治区"
TASK = "巩固拓展脱贫攻坚成果和乡村振兴任务"


def audit(app: BudgetLedger, as_of: str = "2025-03-01") -> list[Finding]:
    p = Projector(app)
    p.catch_up()
    return run_audit(p.engine, RulesConfig.default(), View(as_of=date.fromisoformat(as_of)))


def rules(found: list[Finding]) -> list[tuple[str, str]]:
    return [(f.rule, f.entity) for f in found]


def chain(app: BudgetLedger, root: str, *, region_fwd: str = "01-02", county_fwd: str = "01-07",
          refine: str = "01-20", source: str = "central", advance: bool = False,
          root_date: str = "2024-12-28") -> None:
    """root (region) → 某州 (prefecture) → 某县 (county) → one 产业发展 project, 100万."""
    issue(app, "R", root, "100万", doc="中央文件", effective_date=root_date, year=2025, task=TASK,
          source=source, advance=advance)
    forward(app, "R", "M", "某州", "100万", doc="区财〔2025〕1号", effective_date=f"2025-{region_fwd}")
    forward(app, "M", "C", "某县", "100万", doc="州财〔2025〕2号", effective_date=f"2025-{county_fwd}")
    project(app, "P", "某县", "产业发展", effective_date="2025-01-02")
    allocate(app, "C", "P", "100万", effective_date=f"2025-{refine}")


# ---- the demo (Tibet) -----------------------------------------------------------------------------


def test_the_demo_audit_reports_only_what_applies_to_tibet(app: BudgetLedger) -> None:
    build_demo(app)
    found = audit(app, "2025-06-30")
    assert rules(found) == [("payment-ahead-of-progress", "MZ-2025-01")]
    cfg = RulesConfig.default()
    foreign = [r for r in ("forward-deadline", "project-refinement-deadline", "industry-share",
                           "progress-behind-schedule", "same-year-spending", "project-renamed")
               if XZ not in cfg.rule(r).jurisdictions and "all" not in cfg.rule(r).jurisdictions]
    assert len(foreign) == 6
    assert not [f for f in found if f.rule in foreign]
    # a year on, still none of the other jurisdictions' rules
    assert not [f for f in audit(app, "2025-12-31") if f.rule in foreign]


# ---- Xinjiang: 5 days from the region's document, binding prefectures ---------------------------


def test_forward_deadline_counts_from_the_regions_document_fifth_day_in_time(app: BudgetLedger) -> None:
    chain(app, XJ, region_fwd="01-02", county_fwd="01-07")  # 区财 dated 01-02: due 01-07
    assert audit(app) == []


def test_forward_deadline_sixth_day_is_late(app: BudgetLedger) -> None:
    chain(app, XJ, region_fwd="01-02", county_fwd="01-08")
    found = audit(app)
    assert rules(found) == [("forward-deadline", "C")]
    assert "region's document date 2025-01-02 (区财〔2025〕1号)" in found[0].detail
    assert found[0].unit == "某州"


def test_forward_deadline_does_not_bind_the_region_or_a_county(app: BudgetLedger) -> None:
    # the region forwards 12 days after the central document; a county forwards to a township late
    chain(app, XJ, root_date="2024-12-20", region_fwd="01-01", county_fwd="01-03")
    issue(app, "R2", XJ, "10万", doc="中央文件2", effective_date="2025-01-01", year=2025, task=TASK,
          source="central")
    forward(app, "R2", "M2", "某州", "10万", doc="区财〔2025〕9号", effective_date="2025-01-13")
    forward(app, "M2", "C2", "某县", "10万", doc="州财〔2025〕9号", effective_date="2025-01-14")
    forward(app, "C2", "T2", "某乡", "10万", doc="县财〔2025〕9号", effective_date="2025-02-20")
    # a unit that forwards is taken for a prefecture until its level is declared
    app.set_unit(build(SetUnitCommand, unit="某县", level="county", area="某州",
                       effective_date="2025-01-01"))
    project(app, "P2", "某乡", "产业发展", effective_date="2025-02-20")
    allocate(app, "T2", "P2", "10万", effective_date="2025-02-20")
    assert [r for r in rules(audit(app)) if r[0] == "forward-deadline"] == []


def test_xinjiang_rules_do_not_bind_tibet(app: BudgetLedger) -> None:
    chain(app, XZ, region_fwd="01-02", county_fwd="01-20", refine="02-28")
    assert audit(app) == []


# ---- Xinjiang: 30 days, counties, advance funds from 1 January --------------------------------


def test_refinement_of_advance_funds_counts_from_1_january_thirtieth_day(app: BudgetLedger) -> None:
    chain(app, XJ, advance=True, root_date="2024-12-20", region_fwd="01-01", county_fwd="01-03",
          refine="01-31")
    assert audit(app) == []


def test_refinement_of_advance_funds_counts_from_1_january_late(app: BudgetLedger) -> None:
    # received 2024-12-2x would be due in January; the clock starts 2025-01-01: due 01-31
    issue(app, "R", XJ, "100万", doc="中央文件", effective_date="2024-12-20", year=2025, task=TASK,
          source="central", advance=True)
    forward(app, "R", "M", "某州", "100万", doc="区财〔2024〕1号", effective_date="2024-12-22")
    forward(app, "M", "C", "某县", "100万", doc="州财〔2024〕2号", effective_date="2024-12-24")
    project(app, "P", "某县", "产业发展", effective_date="2025-01-02")
    allocate(app, "C", "P", "100万", effective_date="2025-02-01")
    found = audit(app)
    assert rules(found) == [("project-refinement-deadline", "C")]
    assert found[0].date == date(2025, 1, 31)


# ---- Shanxi: 60 % of a county's central funds ----------------------------------------------------


def _shanxi(app: BudgetLedger, root: str, industry: str, source: str = "central") -> None:
    issue(app, "R", root, "100万", doc="晋乡振发〔2022〕125号", effective_date="2025-01-01",
          year=2025, task=TASK, source=source)
    forward(app, "R", "M", "某市", "100万", doc="市文", effective_date="2025-01-02")
    forward(app, "M", "C", "某县", "100万", doc="市文2", effective_date="2025-01-03")
    project(app, "P1", "某县", "产业发展", effective_date="2025-01-04")
    project(app, "P2", "某县", "基础设施", effective_date="2025-01-04")
    allocate(app, "C", "P1", industry, effective_date="2025-01-05")
    rest = 100 - int(industry.removesuffix("万"))
    allocate(app, "C", "P2", f"{rest}万", effective_date="2025-01-05")


@pytest.mark.parametrize(("industry", "fires"), [("59万", True), ("60万", False)])
def test_industry_share_binds_shanxi_counties_boundary(app: BudgetLedger, industry: str,
                                                       fires: bool) -> None:
    _shanxi(app, SX, industry)
    found = [f for f in audit(app, "2025-03-01") if f.rule == "industry-share"]
    assert rules(found) == ([("industry-share", "某县")] if fires else [])


def test_industry_share_not_for_provincial_funds_nor_for_tibet(app: BudgetLedger, tmp_path) -> None:
    _shanxi(app, SX, "10万", source="provincial")
    assert [f for f in audit(app) if f.rule == "industry-share"] == []
    other = BudgetLedger.open(f"sqlite:///{tmp_path / 'tibet.db'}")
    _shanxi(other, XZ, "10万")
    assert [f for f in audit(other) if f.rule == "industry-share"] == []
    other.close()


def test_progress_behind_schedule_is_shanxis(app: BudgetLedger, tmp_path) -> None:
    _shanxi(app, SX, "60万")
    assert {f.entity for f in audit(app, "2025-07-01") if f.rule == "progress-behind-schedule"} == {
        SX, "某市", "某县"}
    other = BudgetLedger.open(f"sqlite:///{tmp_path / 'tibet.db'}")
    _shanxi(other, XZ, "60万")
    assert [f for f in audit(other, "2025-07-01") if f.rule == "progress-behind-schedule"] == []
    other.close()


# ---- labour share: 以工代赈 method or task, central funds, anywhere ----------------------------


def test_labour_share_binds_work_relief_task_funds_of_any_category(app: BudgetLedger) -> None:
    issue(app, "R", XZ, "100万", doc="中央", effective_date="2025-01-01", year=2025,
          task="以工代赈任务", source="central")
    project(app, "P", XZ, "基础设施", effective_date="2025-01-02")
    allocate(app, "R", "P", "100万", effective_date="2025-01-03")
    from ledger.commands import ProgressCommand
    app.report_progress(build(ProgressCommand, project_id="P", percent="100",
                              effective_date="2025-01-04"))
    pay(app, "P", "100万", effective_date="2025-01-05")
    assert rules(audit(app)) == [("labour-share", "P")]


# ---- audit --explain ------------------------------------------------------------------------------


def test_explain_prints_source_scope_and_thresholds() -> None:
    out = CliRunner().invoke(cli, ["audit", "--explain", "forward-deadline"])
    assert out.exit_code == 0, out.output
    assert "以自治区资金文件时间为准" in out.output and XJ in out.output
    assert "prefecture" in out.output and "days" in out.output
    bad = CliRunner().invoke(cli, ["audit", "--explain", "nope"])
    assert bad.exit_code == 2
    out = CliRunner().invoke(cli, ["audit", "--explain", "industry-share", "--format", "json"])
    got = json.loads(out.stdout)
    assert got["scope"] == {"jurisdictions": [SX], "years": [], "tasks": [],
                            "sources": ["central"], "levels": ["county"]}
    assert got["thresholds"]["min_percent"] == "60" and "60%" in got["text"]


# ---- 阳泉 (004): 庭院经济 spent in its year; Xinjiang (001): names not changed -------------------


def _courtyard(app: BudgetLedger, root: str, prefecture: str) -> None:
    from ledger.commands import ProgressCommand

    issue(app, "R", root, "100万", doc="省文", effective_date="2025-01-01", year=2025, task=TASK,
          source="central")
    forward(app, "R", "M", prefecture, "100万", doc="市文", effective_date="2025-01-02")
    forward(app, "M", "C", "盂县", "100万", doc="市文2", effective_date="2025-01-03")
    project(app, "Y", "盂县", "庭院经济", effective_date="2025-01-04")
    allocate(app, "C", "Y", "100万", effective_date="2025-01-05")
    app.report_progress(build(ProgressCommand, project_id="Y", percent="100",
                              effective_date="2025-01-06"))
    pay(app, "Y", "90万", effective_date="2025-12-31")


def test_same_year_spending_binds_yangquan_only(app: BudgetLedger, tmp_path) -> None:
    _courtyard(app, SX, "阳泉市")
    # the last day of the year is still the year: judged from 1 January
    assert rules([f for f in audit(app, "2025-12-31") if f.rule == "same-year-spending"]) == []
    assert rules([f for f in audit(app, "2026-01-01") if f.rule == "same-year-spending"]) == [
        ("same-year-spending", "Y")]
    other = BudgetLedger.open(f"sqlite:///{tmp_path / 'datong.db'}")
    _courtyard(other, SX, "大同市")
    assert [f for f in audit(other, "2026-01-01") if f.rule == "same-year-spending"] == []
    other.close()


def test_project_renamed_binds_xinjiang_only(app: BudgetLedger, tmp_path) -> None:
    from ledger.commands import RenameProjectCommand

    other = BudgetLedger.open(f"sqlite:///{tmp_path / 'xz.db'}")
    for ledger, root in ((app, XJ), (other, XZ)):
        chain(ledger, root)
        ledger.rename_project(build(RenameProjectCommand, project_id="P", new_name="新名称",
                                    doc="县文", effective_date="2025-02-01"))
    assert rules(audit(app)) == [("project-renamed", "P")]
    assert audit(other) == []
    other.close()


def test_years_and_sources_narrow_a_rule(app: BudgetLedger) -> None:
    _shanxi(app, SX, "60万")
    data = RulesConfig.default().model_dump(by_alias=True)
    data["progress-behind-schedule"]["years"] = [2024]
    only_2024 = RulesConfig.model_validate(data)
    p = Projector(app)
    p.catch_up()
    view = View(as_of=date(2025, 7, 1))
    assert [f for f in run_audit(p.engine, only_2024, view)
            if f.rule == "progress-behind-schedule"] == []
    data["progress-behind-schedule"]["years"] = []
    data["progress-behind-schedule"]["sources"] = ["provincial"]
    provincial = RulesConfig.model_validate(data)
    assert [f for f in run_audit(p.engine, provincial, view)
            if f.rule == "progress-behind-schedule"] == []
