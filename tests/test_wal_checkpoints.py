"""SQLite's WAL checkpoints run in a thread after each commit (ledger/wal_checkpoints.py)."""

from __future__ import annotations

import sqlite3
import threading
import time
from collections.abc import Callable
from pathlib import Path

import pytest

import ledger.wal_checkpoints as wc
from ledger.application import BudgetLedger
from ledger.integrity import verify_chain
from tests.helpers import allocate, issue, pay, project


def _until(cond: Callable[[], bool], seconds: float = 10.0) -> None:
    deadline = time.monotonic() + seconds
    while not cond():
        if time.monotonic() > deadline:
            raise AssertionError("not within the time allowed")
        time.sleep(0.01)


def _threads(store: Path) -> list[threading.Thread]:
    """The checkpoint threads of this store (another test's ledger may still have its own)."""
    return [t for t in threading.enumerate() if t.name == f"sqlite-wal-checkpoint {store.resolve()}"]


def test_the_thread_copies_committed_pages_into_the_database_file(tmp_path: Path) -> None:
    path = tmp_path / "w.db"
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA wal_autocheckpoint=0")  # no checkpoint of its own: the pages stay in the WAL
    conn.execute("CREATE TABLE t (x BLOB)")
    conn.executemany("INSERT INTO t VALUES (?)", [(b"x" * 4000,) for _ in range(500)])
    before = path.stat().st_size
    assert before < 100_000  # the rows are in the -wal file, not yet in the database file
    cp = wc.Checkpointer(str(path))
    cp.nudge()
    _until(lambda: cp.runs >= 1)
    cp.close()
    assert path.stat().st_size > 2_000_000
    assert conn.execute("SELECT count(*) FROM t").fetchone() == (500,)
    conn.close()


def test_a_ledger_checkpoints_after_its_saves_and_stops_the_thread_on_close(tmp_path: Path) -> None:
    db = tmp_path / "l.db"
    app = BudgetLedger.open(f"sqlite:///{db}")
    cp = app.recorder.checkpointer  # type: ignore[attr-defined]
    issue(app, "R", "某县", "1000万")
    project(app, "P1", "某县")
    allocate(app, "R", "P1", "100万")
    for i in range(5):
        pay(app, "P1", "1万", voucher=f"V{i}")
    _until(lambda: cp.runs >= 1)
    assert _threads(db)
    app.close()
    assert not _threads(db)
    again = BudgetLedger.open(f"sqlite:///{db}")  # everything is there, chained
    assert again.last_position() == 1 + 1 + 2 + 5 and verify_chain(again) == []
    again.close()


def test_an_idle_thread_ends_and_the_next_commit_starts_another(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(wc, "IDLE_S", 0.05)
    db = tmp_path / "l.db"
    app = BudgetLedger.open(f"sqlite:///{db}")
    cp = app.recorder.checkpointer  # type: ignore[attr-defined]
    issue(app, "R", "某县", "1000万")
    _until(lambda: cp.runs >= 1 and not _threads(db))
    issue(app, "S", "某县", "10万")
    _until(lambda: cp.runs >= 2)
    app.close()
    assert not _threads(db)


def test_a_store_the_thread_cannot_open_costs_no_traceback(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    raised: list[object] = []
    monkeypatch.setattr(threading, "excepthook", raised.append)
    cp = wc.Checkpointer(str(tmp_path))  # a folder: sqlite3 cannot open it
    cp.nudge()
    _until(lambda: not _threads(tmp_path))
    cp.settle(timeout=1.0)
    assert cp.runs == 0 and raised == []
    cp.close()
