"""`budget-ledger audit` end to end: contract keys, formats, exit codes, points in time, and the
rules file (defaults from the seeds; a bad file exits 2 naming the key and its line)."""

from __future__ import annotations

import csv
import io
import json
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path

from click.testing import CliRunner

from cli.main import cli, register
from ledger.application import BudgetLedger
from projections.audit import RULE_IDS, RulesConfig, load_rules, run_audit
from projections.journal import LIVE, View, latest_effective_date
from projections.updater import Projector
from tests.test_audit_scenario import base, rename

register()


def run(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(cli, list(args))
    return result.exit_code, result.stdout, result.stderr


def late_forward(url: str) -> None:
    app = BudgetLedger.open(url)
    base(app, county_date="01-09")
    app.close()


def test_json_has_the_contract_keys_and_errors_exit_1(db_url: str) -> None:
    late_forward(db_url)
    code, out, err = run("--db", db_url, "audit", "--format", "json")
    assert code == 1, err
    rows = json.loads(out)
    assert [(r["rule"], r["severity"], r["entity"], r["amount"]) for r in rows] == [
        ("forward-deadline", "error", "C2025", "1000000.00")]
    assert {"rule", "severity", "entity", "detail", "unit", "amount"} <= set(rows[0])
    assert rows[0]["unit"] == "某州" and rows[0]["date"] == "2025-01-06"


def test_warnings_only_exit_0_and_table_and_csv_render(db_url: str) -> None:
    app = BudgetLedger.open(db_url)
    base(app)
    rename(app, "IND2025", "新名称", "2025-02-01")
    app.close()
    code, out, _ = run("--db", db_url, "audit")
    assert code == 0 and "project-renamed" in out and "┃" in out
    code, out, _ = run("--db", db_url, "--format", "csv", "audit")
    rows = list(csv.DictReader(io.StringIO(out)))
    assert code == 0 and [(r["rule"], r["severity"], r["entity"]) for r in rows] == [
        ("project-renamed", "warning", "IND2025")]
    assert list(rows[0]) == ["rule", "severity", "entity", "unit", "year", "date", "amount", "detail"]


def test_as_of_and_known_at_audit_the_books_as_they_were(db_url: str) -> None:
    app = BudgetLedger.open(db_url)
    base(app)
    before_rename = datetime.now(UTC).isoformat()
    rename(app, "IND2025", "新名称", "2025-02-01")
    app.close()
    code, out, _ = run("--db", db_url, "audit", "--format", "json", "--as-of", "2025-01-31")
    assert (code, json.loads(out)) == (0, [])
    code, out, _ = run("--db", db_url, "audit", "--format", "json", "--known-at", before_rename)
    assert (code, json.loads(out)) == (0, [])
    code, out, _ = run("--db", db_url, "audit", "--format", "json")
    assert [r["rule"] for r in json.loads(out)] == ["project-renamed"]


def test_without_as_of_the_audit_date_is_the_latest_effective_date(any_url: str) -> None:
    """Live read models on SQLite and PostgreSQL; 'today' comes from the log, not the clock."""
    app = BudgetLedger.open(any_url)
    try:
        base(app, work_relief_date="02-10")
        projector = Projector(app)
        projector.catch_up()
        with projector.engine.connect() as conn:
            assert latest_effective_date(conn, LIVE) == date(2025, 2, 10)
        found = run_audit(projector.engine, RulesConfig.default())
        assert [(f.rule, f.entity, f.amount) for f in found] == [
            ("project-refinement-deadline", "C2025", 30_000_000)]
        assert run_audit(projector.engine, RulesConfig.default(), View(as_of=date(2025, 2, 2))) == []
    finally:
        app.close()


# ---- the rules file ----------------------------------------------------------------------------


def test_the_bundled_defaults_are_the_seeds_values() -> None:
    cfg = RulesConfig.default()
    assert cfg.forward_deadline.days == 5  # 001 §一
    assert cfg.project_refinement_deadline.days == 30  # 001 §五
    assert cfg.industry_share.min_percent == Decimal(60)  # 003 §三(三)
    assert cfg.industry_share.compare_previous_year is True
    assert cfg.labour_share.min_percent == Decimal(15)  # 002
    assert cfg.labour_share.central_sources == ["central"]
    assert {k.value for k in cfg.transfer_as_spending.payee_kinds} == {"fiscal-account", "government-unit"}
    assert [c.value for c in cfg.same_year_spending.categories] == ["庭院经济"]
    assert {rule: cfg.rule(rule).severity for rule in RULE_IDS} == {
        "forward-deadline": "error", "project-refinement-deadline": "error",
        "industry-share": "warning", "labour-share": "error",
        "payment-ahead-of-progress": "error", "transfer-as-spending": "error",
        "same-year-spending": "warning", "project-renamed": "warning",
        "pooled-sources": "error", "progress-behind-schedule": "warning"}


def test_a_rules_file_overrides_only_what_it_names(tmp_path: Path, db_url: str) -> None:
    path = tmp_path / "rules.toml"
    path.write_text('[forward-deadline]\ndays = 10\nseverity = "warning"\n', "utf-8")
    cfg = load_rules(path)
    assert cfg.forward_deadline.days == 10 and cfg.project_refinement_deadline.days == 30
    late_forward(db_url)  # 8 days late: within 10
    code, out, _ = run("--db", db_url, "audit", "--rules", str(path), "--format", "json")
    assert (code, json.loads(out)) == (0, [])
    path.write_text('[forward-deadline]\nseverity = "warning"\n', "utf-8")
    code, out, _ = run("--db", db_url, "audit", "--rules", str(path), "--format", "json")
    assert code == 0 and [r["severity"] for r in json.loads(out)] == ["warning"]


def _bad(tmp_path: Path, text: str) -> str:
    path = tmp_path / "bad.toml"
    path.write_text(text, "utf-8")
    missing_store = f"sqlite:///{tmp_path / 'never' / 'created.db'}"
    code, out, err = run("--db", missing_store, "audit", "--rules", str(path))
    assert code == 2 and out == ""
    assert not (tmp_path / "never").exists()  # refused before the store was touched
    return err


def test_a_bad_rules_file_exits_2_naming_the_key_and_line(tmp_path: Path) -> None:
    err = _bad(tmp_path, '# mine\n[industry-share]\nmin_percent = 60\ngrace_dayz = 3\n')
    assert "[industry-share] grace_dayz (line 4): unknown key" in err
    err = _bad(tmp_path, '[labour-share]\n\nmin_percent = "fifteen"\n')
    assert "[labour-share] min_percent (line 3)" in err
    err = _bad(tmp_path, '[forward-deadline]\ndays = -1\n')
    assert "[forward-deadline] days (line 2)" in err and "greater than or equal to 0" in err
    err = _bad(tmp_path, '[payment-ahead-of-progress]\nseverity = "fatal"\n')
    assert "[payment-ahead-of-progress] severity (line 2)" in err
    err = _bad(tmp_path, '[forward-dedline]\ndays = 3\n')
    assert "[forward-dedline] (line 1): unknown rule" in err
    err = _bad(tmp_path, '[transfer-as-spending]\npayee_kinds = ["bank"]\n')
    assert "[transfer-as-spending] payee_kinds[0] (line 2)" in err
    err = _bad(tmp_path, '[units]\nforwarding = "拉萨市"\n')
    assert "[units] forwarding (line 2)" in err
    err = _bad(tmp_path, '[forward-deadline\ndays = 3\n')
    assert "not valid TOML" in err and "line 1" in err
    code, _, err = run("audit", "--rules", str(tmp_path / "nope.toml"))
    assert code == 2 and "cannot read" in err and "nope.toml" in err
