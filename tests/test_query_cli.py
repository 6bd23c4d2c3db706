"""The query commands end to end: contract JSON keys, formats, points in time, exit codes."""

from __future__ import annotations

import csv
import io
import json
from typing import Any

import pytest
from click.testing import CliRunner
from sqlalchemy import delete

from cli.main import cli, register
from ledger.application import BudgetLedger
from projections.tables import ReversalRow
from projections.updater import Projector
from tests.projections_scenario import build_scenario

register()


@pytest.fixture
def db(db_url: str) -> str:
    app = BudgetLedger.open(db_url)
    build_scenario(app)
    app.close()
    return db_url


def run(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(cli, list(args))
    return result.exit_code, result.stdout, result.stderr


def js(db: str, *args: str) -> Any:
    code, out, err = run("--db", db, "--format", "json", *args)
    assert code == 0, err
    return json.loads(out)


def test_balance_json_has_the_contract_keys(db: str) -> None:
    rows = js(db, "balance", "城关区")
    keys = {"indicator", "unit", "task", "year", "received", "forwarded", "allocated", "paid",
            "available", "tracking"}
    assert all(keys <= set(r) for r in rows)
    c = next(r for r in rows if r["indicator"] == "C")
    assert (c["received"], c["available"]) == ("4000000.00", "1000000.00")
    totals = js(db, "balance", "--by", "unit")
    assert {r["unit"]: r["available"] for r in totals}["达孜区"] == "0.00"


def test_per_command_format_overrides_the_global_one(db: str) -> None:
    code, out, _ = run("--db", db, "--format", "json", "balance", "达孜区", "--format", "csv")
    assert code == 0
    rows = list(csv.DictReader(io.StringIO(out)))
    assert [(r["indicator"], r["paid"], r["recovered"]) for r in rows] == [("D", "300000.00", "200000.00")]
    code, out, _ = run("--db", db, "balance", "达孜区")
    assert code == 0 and "300,000.00" in out and "┃" in out  # a rich table, separators in amounts


def test_progress_json(db: str) -> None:
    rows = js(db, "progress")
    assert [(r["unit"], r["received"], r["paid"], r["ratio"]) for r in rows][:2] == [
        ("西藏自治区", "12000000.00", "300000.00", "0.0250"), ("拉萨市", "6500000.00", "300000.00", "0.0462")]
    assert js(db, "progress", "--unit", "城关区", "--by", "task") == [
        {"unit": "城关区", "task": "以工代赈任务", "received": "5000000.00", "paid": "200000.00",
         "ratio": "0.0400", "spending_pct": "4.00"}]
    months = js(db, "progress", "--unit", "西藏自治区", "--by", "month")
    assert months[-1]["month"] == "2025-04" and months[-1]["paid"] == "300000.00"


def test_trace_json_dot_and_up(db: str) -> None:
    tree = js(db, "trace", "P")
    assert {"id", "kind", "unit", "amount", "doc", "tracking", "children"} <= set(tree)
    assert [c["id"] for c in tree["children"]] == ["C", "D"]
    up = js(db, "trace", "X1:P2", "--up")
    assert [(h["id"], h["kind"]) for h in up] == [("X1:P2", "payment"), ("X1", "project"), ("L", "indicator")]
    code, out, _ = run("--db", db, "trace", "R", "--format", "dot")
    assert code == 0 and out.startswith("digraph trace {") and '"R" -> "P"' in out
    code, out, _ = run("--db", db, "trace", "X1", "--up", "--format", "dot")
    assert code == 0 and out.startswith("digraph trace_up {")
    code, _, err = run("--db", db, "trace", "nope")
    assert code == 2 and "nope" in err


def test_history_and_log(db: str) -> None:
    rows = js(db, "history", "Y:P1")
    assert [(r["type"], r["payee"], r["labour"]) for r in rows] == [("Project.PaymentMade", "某合作社", True)]
    assert {"position", "recorded_at", "effective_date", "type", "actor", "entity"} <= set(rows[0])
    page = js(db, "log", "--after", "20", "--limit", "2")
    assert [r["position"] for r in page] == [21, 22]
    code, _, err = run("--db", db, "history", "ghost")
    assert code == 2 and "ghost" in err
    code, _, err = run("--db", db, "log", "--limit", "0")
    assert code == 2 and "--limit" in err


def test_as_of_and_known_at(db: str) -> None:
    before = js(db, "balance", "城关区", "--as-of", "2025-03-31")
    assert {r["indicator"]: r["paid"] for r in before} == {"C": "1000000.00", "L": "200000.00"}
    assert js(db, "balance", "--known-at", "2000-01-01T00:00:00") == []
    assert js(db, "trace", "X1:P1", "--up", "--as-of", "2025-03-31")[0]["reversed"] is False
    assert js(db, "history", "D", "--as-of", "2025-04-30")[-1]["type"] == "Project.PaymentMade"
    for option, value in (("--as-of", "2025-13-01"), ("--as-of", "yesterday"), ("--known-at", "noon")):
        code, _, err = run("--db", db, "balance", option, value)
        assert code == 2 and option in err


def test_verify_exit_codes_and_a_corrupted_row(db: str) -> None:
    code, out, _ = run("--db", db, "verify")
    assert code == 0 and "verify: ok" in out
    app = BudgetLedger.open(db)
    projector = Projector(app)
    with projector.engine.begin() as conn:
        conn.execute(delete(ReversalRow).where(ReversalRow.payment_id == "X1:P1"))
    app.close()
    code, out, _ = run("--db", db, "--format", "json", "verify")
    report = json.loads(out)
    assert code == 1 and report["ok"] is False
    assert report["problems"] == [
        "read models: rm_reversals[X1:P1]: missing from the live table"]


@pytest.mark.parametrize("command", ["balance", "progress", "trace", "history", "log", "verify"])
def test_every_query_help_has_an_example(command: str) -> None:
    code, out, _ = run(command, "--help")
    assert code == 0 and "Example" in out and f"budget-ledger {command}" in out


def test_verify_against_a_written_down_digest(db: str) -> None:
    code, out, _ = run("--db", db, "log", "--digest")
    position, digest = out.split()
    assert code == 0 and position == "25" and len(digest) == 64
    assert run("--db", db, "verify", "--anchor", f"{position}:{digest}")[0] == 0
    code, out, _ = run("--db", db, "verify", "--anchor", f"{position}:{'0' * 64}")
    assert code == 1 and "digest" in out
    code, _, err = run("--db", db, "verify", "--anchor", "25:xyz")
    assert code == 2 and "--anchor" in err
