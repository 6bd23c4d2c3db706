"""`budget-ledger demo`: builds a fresh ledger, shows trace and progress, refuses a used store."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest
from click.testing import CliRunner

from cli.main import cli, register
from ledger.application import BudgetLedger
from ledger.demo_data import DOC, GONGGU, MINZU, PAYMENTS, REGION, YIGONG
from ledger.imports import allocation_indicator_id

register()


def sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_demo_builds_the_ledger_and_prints_trace_and_progress(tmp_path: Path) -> None:
    db = tmp_path / "demo.db"
    res = CliRunner().invoke(cli, ["demo", "--db", str(db)], catch_exceptions=False)
    assert res.exit_code == 0, res.output
    for text in ("180,000.00 万元", "36,520.00 万元", "5,000.00 万元", "$ budget-ledger trace",
                 "$ budget-ledger progress", "堆龙德庆区"):
        assert text in res.stdout
    app = BudgetLedger.open(str(db))
    try:
        roots = [app.get_indicator(allocation_indicator_id(DOC, None, REGION, t))
                 for t in (GONGGU, MINZU, YIGONG)]
        assert [r.received for r in roots] == [180_000_000_000, 36_520_000_000, 5_000_000_000]
        work_relief = app.get_project("DL-2025-01")
        assert work_relief.category == "以工代赈"
        labour_vouchers = {v for v, *_, labour in PAYMENTS if labour == "yes"}
        assert labour_vouchers and labour_vouchers <= set(work_relief.vouchers)
        lz = app.get_project("LZ-2025-01")
        assert [p.reversed for p in lz.payments.values()] == [False, True]
        mz = app.get_indicator(allocation_indicator_id(DOC, "拉萨市", "墨竹工卡县", MINZU))
        assert mz.recovered == 30 * 1_000_000
    finally:
        app.close()
    res = CliRunner().invoke(cli, ["--db", str(db), "verify"])  # read models == a replay of the log
    assert res.exit_code == 0, res.output


def test_demo_refuses_a_store_with_events_and_force_new_replaces_it(tmp_path: Path) -> None:
    db = tmp_path / "demo.db"
    assert CliRunner().invoke(cli, ["--db", str(db), "demo"]).exit_code == 0
    before = sha(db)
    res = CliRunner().invoke(cli, ["--db", str(db), "demo"])
    assert res.exit_code == 2
    assert "already has" in res.stderr and "--force-new" in res.stderr
    assert sha(db) == before
    res = CliRunner().invoke(cli, ["--db", str(db), "demo", "--force-new"])
    assert res.exit_code == 0, res.output
    app = BudgetLedger.open(str(db))
    n = app.last_position()
    app.close()
    fresh = tmp_path / "fresh.db"
    assert CliRunner().invoke(cli, ["demo", "--db", str(fresh)]).exit_code == 0
    app = BudgetLedger.open(str(fresh))
    assert app.last_position() == n  # replaced, not appended to
    app.close()


ISSUE = ["issue", "--to", "测试区", "--amount", "1万", "--doc", "测〔2025〕1号", "--date",
         "2025-01-05", "--year", "2025", "--task", "以工代赈任务", "--source", "provincial"]


def test_force_new_refuses_a_real_ledger_and_leaves_it_unchanged(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    db = tmp_path / "real.db"
    assert CliRunner().invoke(cli, ["--db", str(db), *ISSUE]).exit_code == 0
    before = sha(db)
    monkeypatch.setenv("BUDGET_LEDGER_DB", str(db))  # the way it happened: the env var, no --db
    res = CliRunner().invoke(cli, ["demo", "--force-new"])
    assert res.exit_code == 2, res.output
    assert "--force-new" in res.stderr and "not an untouched demo" in res.stderr
    assert "Traceback" not in res.output
    assert sha(db) == before


def test_force_new_refuses_a_demo_that_something_was_added_to(tmp_path: Path) -> None:
    db = tmp_path / "demo.db"
    assert CliRunner().invoke(cli, ["--db", str(db), "demo"]).exit_code == 0
    assert CliRunner().invoke(cli, ["--db", str(db), *ISSUE]).exit_code == 0
    before = sha(db)
    res = CliRunner().invoke(cli, ["--db", str(db), "demo", "--force-new"])
    assert res.exit_code == 2 and "not an untouched demo" in res.stderr
    assert sha(db) == before


def test_cli_reference_covers_every_command() -> None:
    from cli.docgen import render

    text = render()
    for name, cmd in cli.commands.items():
        assert f"## `budget-ledger {name}`" in text
        for sub in getattr(cmd, "commands", {}):
            assert f"## `budget-ledger {name} {sub}`" in text
    assert "Example" in text.split("## `budget-ledger import allocations`")[1]
