"""Allocation tables: the bundled Tibet table imports exactly; re-imports are refused; any table of
the same shape (generated here, so nothing is special-cased) imports to its own cells."""

from __future__ import annotations

import csv
import hashlib
import io
import json
from decimal import Decimal
from importlib import resources
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result
from hypothesis import given
from hypothesis import strategies as st

from cli.main import cli, register
from ledger.application import BudgetLedger
from ledger.imports import allocation_indicator_id
from ledger.indicator import Indicator
from projections.updater import Projector
from tests.strategies import indicator_rows

register()

DOC = "藏财农〔2024〕000号"
TABLE = resources.files("ledger").joinpath("data/tibet_2025_advance.csv").read_text("utf-8")
BASE = ["--date", "2024-12-23", "--year", "2025", "--source", "provincial", "--tracking", "--advance"]


def run(db: str, *args: str) -> Result:
    return CliRunner().invoke(cli, ["--db", db, *args], catch_exceptions=False)


def store_hash(db_file: Path, app: BudgetLedger | None = None) -> str:
    """The store's bytes (file and WAL); with ``app``, once its checkpoint thread has copied
    every commit into the file (ledger/wal_checkpoints.py), so the bytes stay put."""
    if app is not None:
        app.recorder.checkpointer.settle()  # type: ignore[attr-defined]
    h = hashlib.sha256()
    for suffix in ("", "-wal"):
        p = Path(str(db_file) + suffix)
        if p.exists():
            h.update(p.read_bytes())
    return h.hexdigest()


def wan_fen(cell: str) -> int:
    """Independent of ledger.money: '2,343' 万元 → 分; '-' or empty → 0."""
    cell = cell.strip().replace(",", "")
    return 0 if cell in ("", "-") else int(Decimal(cell) * 1_000_000)


def table_cells(text: str) -> list[tuple[str, str, str, int]]:
    reader = csv.DictReader(io.StringIO(text))
    tasks = [c for c in reader.fieldnames or [] if c not in ("from", "to", "note", "area")]
    return [(r["from"], r["to"], t, wan_fen(r[t])) for r in reader for t in tasks]


def indicators(app: BudgetLedger) -> dict[str, Any]:
    projector = Projector(app)
    projector.catch_up()
    rows = indicator_rows(projector.engine)
    projector.engine.dispose()
    return rows


@pytest.fixture
def table_file(tmp_path: Path) -> Path:
    p = tmp_path / "tibet.csv"
    p.write_text(TABLE, encoding="utf-8")
    return p


def test_bundled_table_imports_exactly(tmp_path: Path, table_file: Path) -> None:
    db = str(tmp_path / "l.db")
    res = run(db, "import", "allocations", str(table_file), "--doc", DOC, *BASE)
    assert res.exit_code == 0, res.output
    app = BudgetLedger.open(db)
    rows = indicators(app)
    app.close()
    roots = {r.task: r for r in rows.values() if r.parent_id is None}
    assert {t: r.received for t, r in roots.items()} == {
        "巩固拓展脱贫攻坚成果和乡村振兴任务": 180_000 * 1_000_000,
        "少数民族发展任务": 36_520 * 1_000_000,
        "以工代赈任务": 5_000 * 1_000_000,
    }
    assert all(r.unit == "西藏自治区" and r.tracking and r.advance for r in roots.values())
    cells = [c for c in table_cells(TABLE) if c[3]]
    assert len(rows) == len(cells) + 3  # a '-' or empty cell creates no indicator
    holders = {c[0] for c in cells}
    for frm, to, task, fen in cells:
        row = rows[allocation_indicator_id(DOC, frm, to, task)]
        assert (row.unit, row.task, row.received, row.doc) == (to, task, fen, DOC)
        assert row.tracking and row.year == 2025 and row.source == "provincial"
        if to not in holders:  # a county: holds exactly its table cell
            assert row.available == fen
        assert row.parent_id == (allocation_indicator_id(DOC, None, frm, task)
                                 if frm == "西藏自治区" else
                                 allocation_indicator_id(DOC, "西藏自治区", frm, task))


def test_second_import_is_refused_and_writes_nothing(tmp_path: Path, table_file: Path) -> None:
    db = tmp_path / "l.db"
    assert run(str(db), "import", "allocations", str(table_file), "--doc", DOC, *BASE).exit_code == 0
    before = store_hash(db)
    res = run(str(db), "import", "allocations", str(table_file), "--doc", DOC, *BASE)
    assert res.exit_code == 2
    assert "already imported" in res.stderr and "--skip-existing" in res.stderr
    assert store_hash(db) == before
    # the same table under another document is a different allocation and is accepted
    res = run(str(db), "import", "allocations", str(table_file), "--doc", "藏财农〔2025〕1号", *BASE)
    assert res.exit_code == 0, res.output


def test_skip_existing_imports_only_new_rows(tmp_path: Path) -> None:
    db = str(tmp_path / "l.db")
    first = tmp_path / "a.csv"
    first.write_text("from,to,T\n省,市,10\n市,甲县,4\n", encoding="utf-8")
    assert run(db, "import", "allocations", str(first), "--doc", "D1", *BASE).exit_code == 0
    more = tmp_path / "b.csv"
    more.write_text("from,to,T\n省,市,10\n市,甲县,4\n市,乙县,3\n", encoding="utf-8")
    res = run(db, "--format", "json", "import", "allocations", str(more), "--doc", "D1", *BASE,
              "--skip-existing")
    assert res.exit_code == 0, res.output
    assert '"applied": 1' in res.stdout and '"skipped": 3' in res.stdout
    app = BudgetLedger.open(db)
    assert app.get_indicator(allocation_indicator_id("D1", "市", "乙县", "T")).received == 3_000_000
    assert app.get_indicator(allocation_indicator_id("D1", "省", "市", "T")).available == 3_000_000
    app.close()
    # a row whose amount changed since the first import is not silently skipped
    changed = tmp_path / "c.csv"
    changed.write_text("from,to,T\n省,市,10\n市,甲县,5\n", encoding="utf-8")
    res = run(db, "import", "allocations", str(changed), "--doc", "D1", *BASE, "--skip-existing")
    assert res.exit_code == 2 and "row 3" in res.stderr and "imported earlier with" in res.stderr


def test_xlsx_with_the_same_columns(tmp_path: Path) -> None:
    import openpyxl

    wb = openpyxl.Workbook()
    ws = wb.active
    for i, row in enumerate(csv.reader(io.StringIO(TABLE))):
        # numbers as numbers, except the header and text cells (some kept as '2,343'-style text)
        ws.append([int(c) if c.isdigit() and i % 2 else c for c in row])
    path = tmp_path / "tibet.xlsx"
    wb.save(path)
    db = str(tmp_path / "l.db")
    res = run(db, "import", "allocations", str(path), "--doc", DOC, *BASE,
              "--expect-total", "以工代赈任务=5,000", "--expect-total", "少数民族发展任务=36520万")
    assert res.exit_code == 0, res.output
    app = BudgetLedger.open(db)
    rows = indicators(app)
    app.close()
    for frm, to, task, fen in table_cells(TABLE):
        if fen:
            assert rows[allocation_indicator_id(DOC, frm, to, task)].received == fen


def test_quiet_prints_nothing_and_a_large_table_imports(tmp_path: Path) -> None:
    lines = ["from,to,甲任务,乙任务"] + [f"某省,县{i:04d},{i % 97 + 1},{'-' if i % 3 else i}"
                                          for i in range(1, 1501)]
    path = tmp_path / "big.csv"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    db = str(tmp_path / "l.db")
    res = run(db, "import", "allocations", str(path), "--doc", "D-BIG", *BASE, "--quiet")
    assert res.exit_code == 0, res.output
    assert res.stdout == ""
    app = BudgetLedger.open(db)
    root = app.get_indicator(allocation_indicator_id("D-BIG", None, "某省", "甲任务"))
    assert root.received == sum(i % 97 + 1 for i in range(1, 1501)) * 1_000_000
    assert app.get_indicator(allocation_indicator_id("D-BIG", "某省", "县0003", "乙任务")).received == 3_000_000
    app.close()


# ---- any table of the same shape ----------------------------------------------------------------

@st.composite
def trees(draw: st.DrawFn) -> tuple[str, list[tuple[str, str, list[int]]]]:
    """A random region → prefecture → county table; prefectures keep some money or none."""
    tasks = draw(st.integers(1, 3))
    rows: list[tuple[str, str, list[int]]] = []
    for p in range(draw(st.integers(1, 4))):
        counties = [[draw(st.integers(0, 5000)) for _ in range(tasks)]
                    for _ in range(draw(st.integers(0, 4)))]
        keep = [draw(st.integers(0, 300)) for _ in range(tasks)]
        share = [sum(c[t] for c in counties) + keep[t] for t in range(tasks)]
        rows.append(("省", f"市{p}", share))
        rows += [(f"市{p}", f"市{p}县{c}", amounts) for c, amounts in enumerate(counties)]
        if draw(st.booleans()):
            rows.append(("省", f"直管县{p}", [draw(st.integers(0, 900)) for _ in range(tasks)]))
    order = draw(st.permutations(range(len(rows))))  # children may come before their parents
    header = "from,to," + ",".join(f"任务{t}" for t in range(tasks)) + ",note"
    body = [f"{rows[i][0]},{rows[i][1]}," + ",".join(
        (f"\"{a:,}\"" if a > 999 else str(a)) if a else draw(st.sampled_from(["-", "", "0"]))
        for a in rows[i][2]) + "," for i in order]
    return "\n".join([header, *body]) + "\n", rows


@given(trees())
def test_any_table_of_the_same_shape_imports_to_its_cells(tree: tuple[str, list]) -> None:
    import tempfile

    text, rows = tree
    with tempfile.TemporaryDirectory() as d:
        path = Path(d) / "t.csv"
        path.write_text(text, encoding="utf-8")
        db = str(Path(d) / "l.db")
        res = run(db, "import", "allocations", str(path), "--doc", "D", *BASE)
        if all(a == 0 for _, _, amounts in rows for a in amounts):
            assert res.exit_code == 0
            return
        assert res.exit_code == 0, res.output
        app = BudgetLedger.open(db)
        got = indicators(app)
        app.close()
        expected = {allocation_indicator_id("D", f, t, f"任务{k}"): a * 1_000_000
                    for f, t, amounts in rows for k, a in enumerate(amounts) if a}
        tasks = len(rows[0][2])
        for k in range(tasks):
            total = sum(amounts[k] for f, _, amounts in rows if f == "省")
            if total:
                expected[allocation_indicator_id("D", None, "省", f"任务{k}")] = total * 1_000_000
        assert {i: r.received for i, r in got.items()} == expected


# ---- issue 10: what a real spreadsheet holds besides the edge list


def test_total_and_row_number_columns_are_not_imported_and_said_so(tmp_path: Path) -> None:
    db = str(tmp_path / "l.db")
    src = tmp_path / "a.csv"
    src.write_text("序号,from,to,T1,T2,合计,note\n1,省,市,10,5,15,\n2,市,甲县,4,-,4,\n"
                   "3,省,乙县,1,,1.00,\n", encoding="utf-8")
    res = run(db, "import", "allocations", str(src), "--doc", "D1", *BASE,
              "--expect-total", "T1=11")
    assert res.exit_code == 0, res.output
    assert "column 序号 is a row number: ignored" in res.stderr
    assert "column 合计 is a total, not a task: not imported" in res.stderr
    app = BudgetLedger.open(db)
    try:
        root = app.get_indicator(allocation_indicator_id("D1", None, "省", "T1"))
        assert root.received == 11 * 1_000_000  # not doubled by the 合计 column
        total = allocation_indicator_id("D1", None, "省", "合计")
        assert Indicator.uuid_for(total) not in app.repository
    finally:
        app.close()


def test_summary_names_the_root_indicators_for_trace(tmp_path: Path, table_file: Path) -> None:
    db = str(tmp_path / "l.db")
    res = run(db, "import", "allocations", str(table_file), "--doc", DOC, *BASE)
    assert res.exit_code == 0, res.output
    for task in ("巩固拓展脱贫攻坚成果和乡村振兴任务", "少数民族发展任务", "以工代赈任务"):
        root = allocation_indicator_id(DOC, None, "西藏自治区", task)
        assert f"{root}  西藏自治区  {task}" in res.stdout
    assert "budget-ledger trace" in res.stdout
    res = run(db, "--format", "json", "import", "allocations", str(table_file), "--doc", DOC,
              *BASE, "--skip-existing")
    assert res.exit_code == 0, res.output
    roots = json.loads(res.stdout)["roots"]
    assert {r["task"] for r in roots} == {"巩固拓展脱贫攻坚成果和乡村振兴任务", "少数民族发展任务",
                                          "以工代赈任务"}


def test_csv_title_rows_above_the_header_are_skipped(tmp_path: Path) -> None:
    db = str(tmp_path / "l.db")
    src = tmp_path / "a.csv"
    src.write_text("2025年衔接资金分配表,,\n单位：万元,,\n\nfrom,to,T\n省,市,10\n",
                   encoding="utf-8")
    res = run(db, "import", "allocations", str(src), "--doc", "D1", *BASE)
    assert res.exit_code == 0, res.output
    assert "the header is row 4; rows 1, 2 above it skipped as a title" in res.stderr
    app = BudgetLedger.open(db)
    assert app.get_indicator(allocation_indicator_id("D1", "省", "市", "T")).received == 10_000_000
    app.close()


def test_xlsx_sheet_title_rows_and_merged_from_cells(tmp_path: Path) -> None:
    import openpyxl

    wb = openpyxl.Workbook()
    wb.active.append(["not this sheet"])
    ws = wb.create_sheet("分配表")
    ws.append(["西藏自治区2025年衔接资金分配表"])
    ws.merge_cells("A1:D1")  # a title across the columns, above the header
    ws.append(["from", "to", "T", "note"])
    for row in (["省", "市", 10, None], [None, "乙县", 3, None], [None, "丙县", 2, None],
                ["市", "甲县", 4, "县级"]):
        ws.append(row)
    ws.merge_cells("A3:A5")  # 省 over its three rows, as finance bureaus lay tables out
    path = tmp_path / "t.xlsx"
    wb.save(path)
    db = str(tmp_path / "l.db")
    res = run(db, "import", "allocations", str(path), "--doc", "D1", *BASE, "--sheet", "分配表")
    assert res.exit_code == 0, res.output
    assert "the header is row 2" in res.stderr
    app = BudgetLedger.open(db)
    try:
        root = app.get_indicator(allocation_indicator_id("D1", None, "省", "T"))
        assert root.received == 15 * 1_000_000
        for to, wan in (("乙县", 3), ("丙县", 2)):
            assert app.get_indicator(allocation_indicator_id("D1", "省", to, "T")).received == (
                wan * 1_000_000)
    finally:
        app.close()
    # without --sheet the first sheet is read, and it is not an allocation table
    res = run(db, "import", "allocations", str(path), "--doc", "D2", *BASE)
    assert res.exit_code == 2 and "no data rows below the header" in res.stderr


def test_xlsx_formula_with_a_stored_value_is_read_as_that_value(tmp_path: Path) -> None:
    """As Excel saves it: the formula and its computed value; only a formula without one is refused."""
    import zipfile

    import openpyxl

    wb = openpyxl.Workbook()
    for row in (["from", "to", "T"], ["省", "市", "=C3+C4"], ["市", "甲县", 5], ["市", "乙县", 4]):
        wb.active.append(row)
    plain = tmp_path / "plain.xlsx"
    wb.save(plain)
    saved = tmp_path / "saved.xlsx"
    with zipfile.ZipFile(plain) as zin, zipfile.ZipFile(saved, "w") as zout:
        for item in zin.infolist():
            data = zin.read(item.filename)
            if item.filename == "xl/worksheets/sheet1.xml":
                data = data.replace(b"C3+C4</f><v />", b"C3+C4</f><v>9</v>")
            zout.writestr(item, data)
    db = str(tmp_path / "l.db")
    res = run(db, "import", "allocations", str(saved), "--doc", "D1", *BASE)
    assert res.exit_code == 0, res.output
    app = BudgetLedger.open(db)
    assert app.get_indicator(allocation_indicator_id("D1", "省", "市", "T")).received == 9_000_000
    app.close()
