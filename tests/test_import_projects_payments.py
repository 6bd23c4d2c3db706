"""Projects and payments imports: the example files, date ordering, natural keys, --skip-existing."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from cli.main import cli, register
from ledger.application import BudgetLedger
from ledger.imports import allocation_indicator_id

register()

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"
DOC = "藏财农〔2024〕000号"
ALLOC = ["import", "allocations", str(EXAMPLES / "allocations.csv"), "--doc", DOC, "--date",
         "2024-12-23", "--year", "2025", "--source", "provincial", "--tracking", "--advance"]


def run(db: str, *args: str) -> Result:
    return CliRunner().invoke(cli, ["--db", db, *args], catch_exceptions=False)


@pytest.fixture
def db(tmp_path: Path) -> str:
    url = str(tmp_path / "l.db")
    assert run(url, *ALLOC).exit_code == 0
    return url


def test_example_files_import_in_order(db: str) -> None:
    res = run(db, "--format", "json", "import", "projects", str(EXAMPLES / "projects.csv"))
    assert res.exit_code == 0, res.output
    assert json.loads(res.stdout)["applied"] == 9  # 4 projects + 5 funding lines
    res = run(db, "--format", "json", "import", "payments", str(EXAMPLES / "payments.csv"))
    assert res.exit_code == 0, res.output
    out = json.loads(res.stdout)
    assert out["applied"] == 7 and out["events"] == 7
    app = BudgetLedger.open(db)
    try:
        dl2 = app.get_project("DL-2025-02")  # two sources, recorded separately (never pooled)
        gonggu = allocation_indicator_id(DOC, "拉萨市", "堆龙德庆区", "巩固拓展脱贫攻坚成果和乡村振兴任务")
        minzu = allocation_indicator_id(DOC, "拉萨市", "堆龙德庆区", "少数民族发展任务")
        assert {k: (v.allocated, v.paid) for k, v in dl2.lines.items()} == {
            gonggu: (1200 * 1_000_000, 300_000_000), minzu: (300 * 1_000_000, 60_000_000)}
        cg = app.get_project("CG-2025-01")
        # the file lists CG-V0002 (2025-02-20) after CG-V0001 (2025-03-05): applied by date
        assert cg.vouchers == {"CG-V0002": "CG-2025-01:P1", "CG-V0001": "CG-2025-01:P2"}
        dl1 = app.get_project("DL-2025-01")
        labour = [p for v, p in dl1.vouchers.items() if v == "DL-V0001"]
        assert labour == ["DL-2025-01:P1"]
        lz = app.get_project("LZ-2025-01")
        assert sum(line.allocated for line in lz.lines.values()) == 8_000_000_00
    finally:
        app.close()


def test_projects_skip_existing_adds_only_new_lines(db: str, tmp_path: Path) -> None:
    assert run(db, "import", "projects", str(EXAMPLES / "projects.csv")).exit_code == 0
    again = run(db, "import", "projects", str(EXAMPLES / "projects.csv"))
    assert again.exit_code == 2 and "already recorded" in again.stderr
    extended = tmp_path / "more.csv"
    extra = ("CG-2025-01,城关区,城关区设施蔬菜大棚建设,产业发展,2025-02-10,城政〔2025〕3号,,"
             f"{DOC},少数民族发展任务,100万\n"
             "CG-2025-02,城关区,城关区光伏帮扶电站,产业发展,2025-02-11,,,"
             f"{DOC},少数民族发展任务,50万\n")
    extended.write_text((EXAMPLES / "projects.csv").read_text("utf-8") + extra, encoding="utf-8")
    res = run(db, "--format", "json", "import", "projects", str(extended), "--skip-existing")
    assert res.exit_code == 0, res.output
    out = json.loads(res.stdout)
    assert (out["applied"], out["skipped"]) == (3, 9)
    app = BudgetLedger.open(db)
    assert len(app.get_project("CG-2025-01").lines) == 2
    app.close()


def test_payments_skip_existing_and_changed_rows(db: str, tmp_path: Path) -> None:
    assert run(db, "import", "projects", str(EXAMPLES / "projects.csv")).exit_code == 0
    assert run(db, "import", "payments", str(EXAMPLES / "payments.csv")).exit_code == 0
    text = (EXAMPLES / "payments.csv").read_text("utf-8")
    more = tmp_path / "more.csv"
    more.write_text(text + "CG-V0003,CG-2025-01,,某公司,enterprise,100.00,2025-06-01,no,\n",
                    encoding="utf-8")
    res = run(db, "--format", "json", "import", "payments", str(more), "--skip-existing")
    assert res.exit_code == 0, res.output
    assert (json.loads(res.stdout)["applied"], json.loads(res.stdout)["skipped"]) == (1, 7)
    changed = tmp_path / "changed.csv"
    changed.write_text(text.replace('"1,200,000.00"', '"1,200,000.01"'), encoding="utf-8")
    res = run(db, "import", "payments", str(changed), "--skip-existing")
    assert res.exit_code == 2
    assert "row 2, column voucher, value 'CG-V0001'" in res.stderr
    assert "1200000.00 元; this row says project CG-2025-01, 1200000.01 元" in res.stderr


def test_gbk_file_with_encoding_option(db: str, tmp_path: Path) -> None:
    assert run(db, "import", "projects", str(EXAMPLES / "projects.csv")).exit_code == 0
    gbk = tmp_path / "gbk.csv"
    gbk.write_bytes("voucher,project,payee,amount,date\nG1,CG-2025-01,城关区某合作社,100,2025-06-01\n"
                    .encode("gbk"))
    assert run(db, "import", "payments", str(gbk)).exit_code == 2
    res = run(db, "import", "payments", str(gbk), "--encoding", "gbk")
    assert res.exit_code == 0, res.output


def test_help_of_every_import_command_has_an_example() -> None:
    for sub in ("allocations", "projects", "payments"):
        res = CliRunner().invoke(cli, ["import", sub, "--help"])
        assert res.exit_code == 0 and "Example" in res.output and "budget-ledger import" in res.output


def test_all_three_imports_on_sqlite_and_postgres(any_url: str) -> None:
    for args in (ALLOC, ["import", "projects", str(EXAMPLES / "projects.csv")],
                 ["import", "payments", str(EXAMPLES / "payments.csv")]):
        res = run(any_url, *args)
        assert res.exit_code == 0, res.output
        again = run(any_url, *args)
        assert again.exit_code == 2 and "already" in again.stderr
    app = BudgetLedger.open(any_url)
    assert len(app.get_project("CG-2025-01").payments) == 2
    app.close()


# ---- issue 12: the importer answers its look-ups from the write side, never from a read model


def test_imports_never_touch_a_read_model(db: str) -> None:
    """No read-model table is created or read: look-ups go to the event store (ids, the log)."""
    import sqlite3

    for kind in ("projects", "payments"):
        res = run(db, "import", kind, str(EXAMPLES / f"{kind}.csv"))
        assert res.exit_code == 0, res.output
    with sqlite3.connect(db) as conn:
        tables = [r[0] for r in conn.execute("select name from sqlite_master where type='table'")]
    assert not [t for t in tables if t.startswith("rm_")], tables
    app = BudgetLedger.open(db)
    try:  # indicator_doc + indicator_task resolved from the log to the allocation's indicator
        cg = app.get_project("CG-2025-01")
        assert allocation_indicator_id(DOC, "拉萨市", "城关区", "巩固拓展脱贫攻坚成果和乡村振兴任务") in cg.lines
    finally:
        app.close()


def test_the_ledger_package_imports_no_projection() -> None:
    ledger = Path(__file__).resolve().parent.parent / "ledger"
    offenders = [f"{p.relative_to(ledger)}:{i}" for p in ledger.rglob("*.py")
                 for i, line in enumerate(p.read_text("utf-8").splitlines(), 1)
                 if line.lstrip().startswith(("import projections", "from projections"))]
    assert offenders == []


def test_a_voucher_is_unique_within_its_project(db: str, tmp_path: Path) -> None:
    """The write side's rule: the same voucher number on another project is another payment."""
    assert run(db, "import", "projects", str(EXAMPLES / "projects.csv")).exit_code == 0
    assert run(db, "import", "payments", str(EXAMPLES / "payments.csv")).exit_code == 0
    other = tmp_path / "other.csv"
    other.write_text("voucher,project,payee,amount,date\nCG-V0001,DL-2025-01,某公司,100,2025-06-01\n",
                     encoding="utf-8")
    res = run(db, "import", "payments", str(other))
    assert res.exit_code == 0, res.output
    app = BudgetLedger.open(db)
    assert "CG-V0001" in app.get_project("DL-2025-01").vouchers
    app.close()


def test_a_large_payments_file_is_held_once(tmp_path: Path) -> None:
    """Rows are validated as the CSV is read and kept as one compact step each: no list of raw
    cells beside a list of pydantic rows beside a list of commands (100k rows: ~55 MB, not 185)."""
    import tracemalloc

    from ledger.imports import plan_payments, table_from_text

    n = 20_000
    text = "voucher,project,payee,amount,date\n" + "".join(
        f"V{i:06d},P{i % 40},某公司{i % 7},{i % 900 + 1}.50,2025-0{i % 9 + 1}-1{i % 10}\n"
        for i in range(n))
    app = BudgetLedger.open(str(tmp_path / "l.db"))
    try:
        tracemalloc.start()
        table = table_from_text(text, "big.csv")
        steps, problems = plan_payments(app, table)
        held, _ = tracemalloc.get_traced_memory()
        tracemalloc.stop()
    finally:
        app.close()
    assert len(steps) == n and not problems
    assert [s.row for s in steps[:2]] == [2, 92]  # date order, stable (both 2025-01-10)
    assert (held - len(text) * 4) / n < 1000, f"{held / n:.0f} bytes per row"


def test_a_row_number_column_is_ignored_with_a_note(db: str, tmp_path: Path) -> None:
    assert run(db, "import", "projects", str(EXAMPLES / "projects.csv")).exit_code == 0
    src = tmp_path / "p.csv"
    src.write_text("序号,voucher,project,payee,amount,date\n1,V-1,CG-2025-01,某公司,100,2025-06-01\n",
                   encoding="utf-8")
    res = run(db, "--format", "json", "import", "payments", str(src))
    assert res.exit_code == 0, res.output
    assert "note: p.csv: column 序号 is a row number: ignored" in res.stderr
    assert json.loads(res.stdout)["notes"] == ["p.csv: column 序号 is a row number: ignored"]
