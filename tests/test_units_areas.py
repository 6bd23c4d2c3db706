"""Units with a level and an area; 直管县 in both table layouts; roll-ups by area (小计)."""

from __future__ import annotations

from decimal import Decimal
from importlib import resources

import pytest

from ledger.application import BudgetLedger
from ledger.commands import SetUnitCommand, build
from ledger.demo_data import build_demo
from ledger.imports import AllocationOptions, import_allocations, table_from_text
from ledger.imports.problems import ImportRejected
from ledger.invariants import InvariantViolation
from projections.areas import area_table
from projections.journal import LIVE, units
from projections.progress import progress
from projections.updater import Projector

WAN = 1_000_000  # 分 in one 万元


def _opts(**kw: object) -> AllocationOptions:
    fields: dict[str, object] = dict(doc="晋乡振发〔2022〕125号", effective_date="2022-12-20",
                                     year=2023, source="central", advance=True)
    fields.update(kw)
    return AllocationOptions(**fields)  # type: ignore[arg-type]


SHANXI = """from,to,巩固拓展脱贫攻坚成果和乡村振兴任务,note
山西省,太原市,3388,市本级 (不含娄烦县)
太原市,阳曲县,3388,
太原市,娄烦县,7266,资金管理型直管县
山西省,大同市,1000,
大同市,天镇县,1000,
"""


def _units(app: BudgetLedger) -> dict[str, tuple[str, str | None, bool]]:
    p = Projector(app)
    p.catch_up()
    with p.engine.connect() as conn:
        return {n: (u.level, u.area, u.direct_county) for n, u in units(conn, LIVE).items()}


def _yuan(fen: int) -> str:
    return f"{Decimal(fen) / 100:.2f}"


def test_unit_set_declares_and_corrects_as_events(app: BudgetLedger) -> None:
    set_ = lambda **kw: app.set_unit(build(SetUnitCommand, effective_date="2025-01-01", **kw))  # noqa: E731
    set_(unit="西藏自治区", level="region")
    set_(unit="拉萨市", level="prefecture", area="西藏自治区")
    set_(unit="林周县", level="county", area="西藏自治区")
    before = app.last_position()
    set_(unit="林周县", level="county", area="西藏自治区")  # the same again: nothing recorded
    assert app.last_position() == before
    set_(unit="林周县", level="county", area="拉萨市", direct_county=True)  # Unit.Corrected
    assert app.last_position() == before + 1
    assert _units(app)["林周县"] == ("county", "拉萨市", True)
    with pytest.raises(InvariantViolation, match="not a level above"):
        set_(unit="城关区", level="prefecture", area="拉萨市")
    with pytest.raises(InvariantViolation, match="cannot be itself"):
        set_(unit="城关区", level="county", area="城关区")
    with pytest.raises(InvariantViolation, match="only a county"):
        set_(unit="拉萨市", level="prefecture", area="西藏自治区", direct_county=True)


def test_tibet_layout_direct_county_under_region_rolls_up_to_its_prefecture(app: BudgetLedger) -> None:
    """The bundled table (seed 000): 林周县 is funded by the region, its area column says 拉萨市."""
    build_demo(app)
    got = _units(app)
    assert got["西藏自治区"] == ("region", None, False)
    assert got["拉萨市"] == ("prefecture", "西藏自治区", False)
    assert got["林周县"] == ("county", "拉萨市", True)
    assert got["城关区"] == ("county", "拉萨市", False)
    rows = {r["area"]: r for r in progress(Projector(app).engine, by="area")}
    # the printed 小计 of seed 000, to the 分
    assert rows["拉萨市"]["received"] == _yuan(22_493 * WAN)
    assert rows["日喀则市"]["received"] == _yuan(51_904 * WAN)
    assert rows["西藏自治区"]["received"] == _yuan(221_520 * WAN)
    assert rows["拉萨市"]["level"] == "prefecture"
    # 拉萨市 itself received its own share only (18,950万, 林周县 not through it)
    by_unit = {r["unit"]: r for r in progress(Projector(app).engine)}
    assert by_unit["拉萨市"]["received"] == _yuan(18_950 * WAN)
    assert by_unit["拉萨市"]["spending_pct"] == "4.36"  # 827万 paid of 18,950万


def test_bundled_table_keeps_every_amount() -> None:
    import csv

    text = resources.files("ledger").joinpath("data/tibet_2025_advance.csv").read_text("utf-8")
    rows = list(csv.DictReader(text.splitlines()))
    tasks = ["巩固拓展脱贫攻坚成果和乡村振兴任务", "少数民族发展任务", "以工代赈任务"]
    total = sum(int(r[t] or 0) for r in rows if r["from"] == "西藏自治区" for t in tasks)
    assert total == 221_520
    assert {r["to"]: r["area"] for r in rows if r["area"]}["林周县"] == "拉萨市"


def test_shanxi_layout_direct_county_is_funded_by_the_province(app: BudgetLedger) -> None:
    """Seed 003's layout: 娄烦县 listed under 太原市 and noted 资金管理型直管县."""
    result = import_allocations(app, table_from_text(SHANXI, "shanxi.csv"), _opts())
    assert any("娄烦县 is a 资金管理型直管县" in n for n in result.notes)
    engine = Projector(app).engine
    Projector(app).catch_up()
    by_unit = {r["unit"]: r for r in progress(engine)}
    assert by_unit["太原市"]["received"] == _yuan(3_388 * WAN)  # excludes 娄烦县
    assert by_unit["娄烦县"]["parent"] == "山西省"  # the money came from the province
    areas = {r["area"]: r for r in progress(engine, by="area")}
    assert areas["太原市"]["received"] == _yuan(10_654 * WAN)  # 「太原市小计 10654」
    assert areas["山西省"]["received"] == _yuan(11_654 * WAN)
    assert _units(app)["娄烦县"] == ("county", "太原市", True)
    assert _units(app)["山西省"] == ("province", None, False)


def test_direct_county_under_the_root_without_area_is_refused(app: BudgetLedger) -> None:
    text = "from,to,T,note\n省,市,10,\n省,甲县,5,资金管理型直管县\n"
    with pytest.raises(ImportRejected, match="area column"):
        import_allocations(app, table_from_text(text, "t.csv"), _opts())
    assert app.last_position() == 0


def test_area_table_subtotals_are_the_sum_of_their_rows(app: BudgetLedger) -> None:
    build_demo(app)
    p = Projector(app)
    p.catch_up()
    with p.engine.connect() as conn:
        rows = area_table(conn, LIVE)
    subtotals = [r for r in rows if r["kind"] == "subtotal"]
    assert len(subtotals) == 8
    for s in subtotals:
        members = [r for r in rows if r["parent"] == s["area"] and r is not s]
        for key in ("received", "allocated", "paid"):
            assert Decimal(s[key]) == sum(Decimal(r[key]) for r in members), (s["area"], key)
    lhasa = next(r for r in subtotals if r["area"] == "拉萨市")
    assert lhasa["received"] == _yuan(22_493 * WAN)


def test_balance_and_progress_by_area_on_the_command_line(db_url: str) -> None:
    import json

    from click.testing import CliRunner

    from cli.main import cli, register

    register()
    app = BudgetLedger.open(db_url)
    build_demo(app)
    app.close()
    out = CliRunner().invoke(cli, ["--db", db_url, "balance", "--by", "area", "--format", "json"])
    rows = {r["area"]: r for r in json.loads(out.stdout)}
    assert rows["拉萨市"]["received"] == _yuan(22_493 * WAN)
    assert Decimal(rows["拉萨市"]["available"]) == Decimal(rows["拉萨市"]["received"]) - Decimal(
        rows["拉萨市"]["allocated"])
    out = CliRunner().invoke(cli, ["--db", db_url, "progress", "--by", "area"])
    assert out.exit_code == 0 and "拉萨市小计" in out.stdout and "%" in out.stdout


def test_a_deep_chain_imports_and_levels_stop_at_township(app: BudgetLedger) -> None:
    text = "from,to,T\n某省,某市,10\n某市,某县,10\n某县,某乡,10\n某乡,某村,10\n某村,某组,10\n"
    import_allocations(app, table_from_text(text, "deep.csv"), _opts())
    got = _units(app)
    assert [got[u][0] for u in ("某省", "某市", "某县", "某乡")] == [
        "province", "prefecture", "county", "township"]
    assert "某村" not in got and "某组" not in got


def test_a_table_without_areas_does_not_undo_a_declared_direct_county(app: BudgetLedger) -> None:
    app.set_unit(build(SetUnitCommand, unit="西藏自治区", level="region", effective_date="2024-12-01"))
    app.set_unit(build(SetUnitCommand, unit="拉萨市", level="prefecture", area="西藏自治区",
                       effective_date="2024-12-01"))
    app.set_unit(build(SetUnitCommand, unit="林周县", level="county", area="拉萨市",
                       direct_county=True, effective_date="2024-12-01"))
    text = "from,to,T\n西藏自治区,拉萨市,10\n西藏自治区,林周县,5\n拉萨市,城关区,10\n"
    import_allocations(app, table_from_text(text, "t.csv"), _opts(doc="藏财〔2025〕1号"))
    got = _units(app)
    assert got["林周县"] == ("county", "拉萨市", True)
    assert got["城关区"] == ("county", "拉萨市", False)


def test_a_unit_funded_by_two_holders_takes_its_place_from_the_row_applied_first(
        app: BudgetLedger) -> None:
    """乙县 gets money from 市 (row 2) and from 省 (row 4). Rows are applied holders parents first,
    so 省's row is its first: 乙县 is placed under 省, whatever the file order (the planning reads
    a receiver's first row back from its scratch table in that order)."""
    text = "from,to,T\n市,乙县,2\n省,市,10\n省,乙县,3\n"
    import_allocations(app, table_from_text(text, "two.csv"), _opts())
    got = _units(app)
    assert got["乙县"] == ("prefecture", "省", False)
    assert got["市"] == ("prefecture", "省", False)
