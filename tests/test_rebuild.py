"""Read models written by an earlier version are rebuilt (and said so), never read wrongly;
`budget-ledger rebuild` rebuilds them from the log at will."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

from click.testing import CliRunner

from cli.main import cli, register
from ledger.application import BudgetLedger
from tests.helpers import allocate, forward, issue, pay, project

register()


def store(tmp_path: Path) -> str:
    path = tmp_path / "l.db"
    app = BudgetLedger.open(str(path))
    issue(app, "R", "西藏自治区", "1000万")
    forward(app, "R", "C", "城关区", "400万")
    project(app, "P1", "城关区")
    allocate(app, "C", "P1", "100万")
    pay(app, "P1", "10万")
    app.close()
    return str(path)


def old_read_models(path: str) -> None:
    """The pre-journal layout: balances as columns, no rm_meta; position already at the head."""
    conn = sqlite3.connect(path)
    with conn:
        conn.execute("CREATE TABLE rm_position (name VARCHAR(40) PRIMARY KEY, position BIGINT)")
        conn.execute("INSERT INTO rm_position VALUES ('main', 5)")
        conn.execute("CREATE TABLE rm_indicators (indicator_id VARCHAR(120) PRIMARY KEY, "
                     "unit VARCHAR(200), received BIGINT, available BIGINT)")
        conn.execute("INSERT INTO rm_indicators VALUES ('C', '城关区', 1, 1)")
    conn.close()


def test_a_store_with_older_read_models_is_rebuilt_and_says_so(tmp_path: Path) -> None:
    path = store(tmp_path)
    old_read_models(path)
    res = CliRunner().invoke(cli, ["--db", path, "--format", "json", "balance", "城关区"])
    assert res.exit_code == 0, res.output
    assert "earlier version" in res.stderr and "rebuilding" in res.stderr
    (row,) = json.loads(res.stdout)
    assert (row["received"], row["paid"], row["available"]) == ("4000000.00", "100000.00", "3000000.00")
    res = CliRunner().invoke(cli, ["--db", path, "verify"])
    assert res.exit_code == 0 and "earlier version" not in res.stderr, res.output


def test_rebuild_command_rebuilds_from_the_log(tmp_path: Path) -> None:
    path = store(tmp_path)
    assert CliRunner().invoke(cli, ["--db", path, "balance"]).exit_code == 0
    conn = sqlite3.connect(path)
    with conn:
        conn.execute("DELETE FROM rm_journal WHERE bucket = 'paid'")  # damaged read models
    conn.close()
    res = CliRunner().invoke(cli, ["--db", path, "verify"])
    assert res.exit_code == 1
    res = CliRunner().invoke(cli, ["--db", path, "rebuild", "--quiet"])
    assert res.exit_code == 0 and "rebuilt the read models from 7 events" in res.stderr, res.output
    res = CliRunner().invoke(cli, ["--db", path, "verify"])
    assert res.exit_code == 0, res.output


def test_an_interrupted_rebuild_is_never_answered_from_and_the_next_command_finishes_it(
        tmp_path: Path) -> None:
    """The rebuild commits batch by batch (a bulk catch-up from 0): what an interruption leaves
    is behind the log and flagged, so no query takes it for current, and the next command
    completes it to exactly what it was."""
    import pytest

    from ledger.store import parse_store_url
    from projections.db import current_engine
    from projections.updater import Projector
    from tests.strategies import dump

    path = store(tmp_path)
    app = BudgetLedger.open(path)
    projector = Projector(app)
    projector.catch_up()
    before = dump(projector.engine)
    assert current_engine(parse_store_url(path)) is not None
    calls = 0

    def fail_on_second(conn: object, after: int, upto: int) -> int:
        nonlocal calls
        calls += 1
        if calls == 2:
            raise RuntimeError("killed")
        return Projector.apply_range(projector, conn, after, upto)  # type: ignore[arg-type]

    projector.bulk_batch_size = 2
    projector.apply_range = fail_on_second  # type: ignore[method-assign]
    with pytest.raises(RuntimeError):
        projector.rebuild()
    assert calls == 2
    assert Projector(app).position() == 2  # the first batch was committed
    assert current_engine(parse_store_url(path)) is None  # behind the log: not answered from
    app.close()

    res = CliRunner().invoke(cli, ["--db", path, "--format", "json", "balance", "城关区"])
    assert res.exit_code == 0, res.output
    (row,) = json.loads(res.stdout)
    assert (row["received"], row["paid"], row["available"]) == ("4000000.00", "100000.00", "3000000.00")
    assert dump(Projector(BudgetLedger.open(path)).engine) == before
