"""A query on read models that are already current answers without opening the event store:
it imports neither eventsourcing nor the aggregates (issue 12: a query's whole process)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from ledger.application import BudgetLedger
from ledger.store import parse_store_url
from projections.db import SQLITE_EVENTS_TABLE, current_engine
from projections.tables import DEFERRED, SCHEMA_VERSION
from projections.updater import Projector
from tests.helpers import issue

ROOT = Path(__file__).resolve().parents[1]


def ledger_with_one_issue(path: Path, caught_up: bool = True) -> BudgetLedger:
    app = BudgetLedger.open(str(path))
    issue(app, "R", "拉萨市", "100万")
    if caught_up:
        Projector(app).catch_up()
    return app


def loaded_by_a_query(db: Path, *args: str) -> tuple[str, list[str]]:
    """What `budget-ledger --db DB ARGS` (default: balance 拉萨市) prints, and which modules it
    loaded."""
    argv = ["budget-ledger", "--db", str(db), *(args or ("balance", "拉萨市"))]
    code = ("import sys; from cli.main import main; "
            f"sys.argv = {argv!r}\n"
            "try:\n    main()\nexcept SystemExit:\n    pass\n"
            "print(sorted(m for m in sys.modules if m.split('.')[0] == 'eventsourcing' "
            "or m in ('ledger.indicator', 'ledger.project', 'ledger.application')), file=sys.stderr)")
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT)
    return res.stdout, eval(res.stderr.strip().splitlines()[-1])  # noqa: S307 - our own print


def test_current_read_models_are_used_without_opening_the_store(tmp_path: Path) -> None:
    db = tmp_path / "l.db"
    ledger_with_one_issue(db).close()
    out, loaded = loaded_by_a_query(db)
    assert "1,000,000.00" in out
    assert loaded == []
    # history and log read each event's own fields from the same file
    for args in (("history", "R"), ("--format", "json", "log")):
        out, loaded = loaded_by_a_query(db, *args)
        assert "拉萨市" in out and "Indicator.Issued" in out and "100万" not in out, out
        assert loaded == []


def test_read_models_behind_the_log_are_caught_up_first(tmp_path: Path) -> None:
    db = tmp_path / "l.db"
    app = ledger_with_one_issue(db)
    issue(app, "R2", "拉萨市", "5万")  # written, not yet projected
    app.close()
    out, loaded = loaded_by_a_query(db)
    assert "1,000,000.00" in out and "50,000.00" in out
    assert "eventsourcing" in loaded and "ledger.application" in loaded


def test_current_engine_only_for_current_read_models_of_a_sqlite_ledger(tmp_path: Path) -> None:
    db = tmp_path / "l.db"
    config = parse_store_url(str(db))
    assert current_engine(config) is None  # no file yet (nor is one made)
    assert not db.exists()
    app = ledger_with_one_issue(db, caught_up=False)
    assert app.recorder.events_table_name == SQLITE_EVENTS_TABLE  # type: ignore[attr-defined]
    assert current_engine(config) is None  # no read models yet
    Projector(app).catch_up()
    engine = current_engine(config)
    assert engine is not None
    engine.dispose()
    issue(app, "R2", "拉萨市", "5万")
    assert current_engine(config) is None  # the log moved on
    Projector(app).catch_up()
    engine = current_engine(config)
    assert engine is not None
    with engine.begin() as conn:  # a bulk catch-up killed before it built the indexes
        conn.exec_driver_sql("INSERT INTO rm_meta (key, value) VALUES (?, '1')", (DEFERRED,))
    assert current_engine(config) is None
    with engine.begin() as conn:
        conn.exec_driver_sql("DELETE FROM rm_meta WHERE key = ?", (DEFERRED,))
    assert current_engine(config) is not None
    with engine.begin() as conn:  # read models of another version
        conn.exec_driver_sql("UPDATE rm_meta SET value = ? WHERE key = 'schema_version'",
                             (str(SCHEMA_VERSION - 1),))
    engine.dispose()
    assert current_engine(config) is None
    app.close()
    notes = tmp_path / "notes.txt"
    notes.write_text("not a ledger\n" * 20)
    assert current_engine(parse_store_url(str(notes))) is None
    assert current_engine(parse_store_url("postgresql+psycopg://u@127.0.0.1:1/x")) is None
