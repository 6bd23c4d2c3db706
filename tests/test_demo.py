"""`budget-ledger demo`: builds a fresh ledger, shows trace and progress, refuses a used store."""

from __future__ import annotations

import hashlib
from pathlib import Path

from click.testing import CliRunner

from cli.demo import DOC, GONGGU, MINZU, PAYMENTS, REGION, YIGONG
from cli.main import cli, register
from ledger.application import BudgetLedger
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
    if "verify" in cli.commands:  # the read models agree with a replay of the log
        res = CliRunner().invoke(cli, ["--db", str(db), "verify"])
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


def test_cli_reference_covers_every_command() -> None:
    from cli.docgen import render

    text = render()
    for name, cmd in cli.commands.items():
        assert f"## `budget-ledger {name}`" in text
        for sub in getattr(cmd, "commands", {}):
            assert f"## `budget-ledger {name} {sub}`" in text
    assert "Example" in text.split("## `budget-ledger import allocations`")[1]
