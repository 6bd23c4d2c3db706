"""Project snapshots (ledger/snapshots.py): a project loaded from its latest snapshot plus the
events after it is the project replayed from scratch, whichever way it is loaded; snapshots
never change the event log, and a snapshot that cannot be written never re-runs a command."""

from __future__ import annotations

import tempfile
from pathlib import Path

import pytest
from eventsourcing.persistence import OperationalError
from hypothesis import given
from hypothesis import strategies as st

from ledger.application import BudgetLedger
from ledger.batch import Batch
from ledger.commands import (
    DeallocateCommand,
    ProgressCommand,
    RenameProjectCommand,
    ReverseCommand,
    build,
)
from ledger.errors import LedgerError
from ledger.integrity import verify_chain
from ledger.library_patches import fold
from ledger.project import Project
from ledger.snapshots import (
    INTERVAL_ENV,
    REPLAYED_ENV,
    LedgerSnapshot,
    load_many,
    snapshot_versions,
)
from tests.helpers import allocate, issue, pay, project

KEY = Project.uuid_for("P1")


@pytest.fixture(autouse=True)
def interval_rule_only(monkeypatch: pytest.MonkeyPatch) -> None:
    """These tests are the interval rule's; the loaded-from-the-store rule has its own
    (tests/test_snapshots_of_misses.py)."""
    monkeypatch.setenv(REPLAYED_ENV, "0")


def state(prj: Project) -> dict[str, object]:
    """Everything a project holds, Timelines spelled out (they define no equality)."""
    v = {k: x for k, x in vars(prj).items() if k != "_pending_events"}
    v["lines"] = {k: (ln.allocated, ln.paid, ln.unpaid.moves, ln.unpaid.total, ln.unpaid.last)
                  for k, ln in prj.lines.items()}
    return v


def replayed(app: BudgetLedger) -> Project:
    """From every stored event, no snapshot."""
    agg = fold(None, map(app.mapper.to_domain_event, app.recorder.select_events(KEY)))
    assert isinstance(agg, Project)
    return agg


def open_ledger(path: Path | str) -> BudgetLedger:
    app = BudgetLedger.open(str(path))
    app.aggregate_cache.maxsize = 0  # every load from the store (snapshot + events)
    issue(app, "R1", "拉萨市", "1000万")
    issue(app, "R2", "拉萨市", "1000万", source="central")
    project(app, "P1", "拉萨市")
    allocate(app, "R1", "P1", "100万")
    return app


OPS = st.lists(st.tuples(
    st.sampled_from(["pay", "pay", "pay", "reverse", "progress", "rename", "release", "fund"]),
    st.integers(1, 28), st.integers(1, 50)), min_size=1, max_size=30)


def apply(app: BudgetLedger, op: str, day: int, n: int) -> None:
    when = f"2025-04-{day:02d}"
    if op == "pay":
        pay(app, "P1", f"{n}00", effective_date=when, voucher=f"V{n}-{day}")
    elif op == "reverse":
        app.reverse(build(ReverseCommand, payment_id=f"P1:P{n % 5 + 1}", effective_date="2025-05-01",
                          reason="退回", doc="冲"))
    elif op == "progress":
        app.report_progress(build(ProgressCommand, project_id="P1", percent=str(n * 2),
                                  effective_date=when))
    elif op == "rename":
        app.rename_project(build(RenameProjectCommand, project_id="P1", new_name=f"项目{n}",
                                 doc=f"更名{n}", effective_date=when))
    elif op == "release":
        app.deallocate(build(DeallocateCommand, indicator_id="R1", project_id="P1",
                             amount=f"{n}00", effective_date=when, reason="调减", doc="减"))
    else:
        allocate(app, "R2", "P1", f"{n}00", effective_date=when)


def apply_all(app: BudgetLedger, ops: list[tuple[str, int, int]]) -> None:
    for op, day, n in ops:
        try:
            apply(app, op, day, n)
        except LedgerError:
            pass  # refused: nothing written


@given(OPS, st.integers(1, 4))
def test_a_project_from_its_snapshot_equals_the_one_replayed_from_scratch(
        ops: list[tuple[str, int, int]], every: int) -> None:
    with pytest.MonkeyPatch.context() as mp, tempfile.TemporaryDirectory() as tmp:
        mp.setenv(INTERVAL_ENV, str(every))
        app = open_ledger(Path(tmp) / "l.db")
        apply_all(app, ops)
        full = replayed(app)
        snaps = snapshot_versions(app, [KEY])
        if full.version >= every:  # some save passed a multiple of the interval
            assert 0 < snaps[KEY] <= full.version
        from_repo = app.repository.get(KEY, projector_func=fold)  # library: snapshot + later
        from_bulk = load_many(app, [KEY])[KEY]  # preload's bulk read
        b = Batch(app)
        b.preload(["P1"])
        assert state(from_repo) == state(full)
        assert state(from_bulk) == state(full)
        assert state(b.projects["P1"]) == state(full)
        app.close()


def test_snapshots_live_beside_the_log_and_leave_it_unchanged(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    logs = []
    for every in ("0", "2"):
        monkeypatch.setenv(INTERVAL_ENV, every)
        app = open_ledger(tmp_path / f"l{every}.db")
        for i in range(7):
            pay(app, "P1", "1万", voucher=f"V{i}")
        assert (app.snapshots is None) == (every == "0")
        notes = app.recorder.select_notifications(1, 1000)
        assert [n.id for n in notes] == list(range(1, len(notes) + 1))  # no gap, no snapshot
        assert not any(n.topic == LedgerSnapshot.TOPIC for n in notes)
        assert verify_chain(app) == []
        logs.append([(n.originator_version, n.topic, app.mapper.to_domain_event(n).__dict__.keys())
                     for n in notes])
        app.close()
    assert logs[0] == logs[1]
    app = BudgetLedger.open(str(tmp_path / "l2.db"))
    assert snapshot_versions(app, [KEY]) == {KEY: 8}  # versions 1..9: the save of 8 passed 8
    app.close()


def test_a_snapshot_that_cannot_be_written_loses_nothing_and_repeats_nothing(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(INTERVAL_ENV, "1")
    app = open_ledger(tmp_path / "l.db")

    def put(*_: object, **__: object) -> None:
        raise OperationalError("database is locked")

    monkeypatch.setattr(app.snapshots, "put", put)
    pay(app, "P1", "1万", voucher="V1")  # the events commit; the snapshot is skipped
    prj = replayed(app)
    assert list(prj.payments) == ["P1:P1"]  # recorded once, not re-run as a busy store
    assert snapshot_versions(app, [KEY])[KEY] < prj.version
    assert state(load_many(app, [KEY])[KEY]) == state(prj)
    app.close()


def test_every_way_of_loading_agrees_on_both_stores(
        any_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """The bulk snapshot and event queries differ between SQLite and PostgreSQL."""
    monkeypatch.setenv(INTERVAL_ENV, "3")
    app = open_ledger(any_url)
    project(app, "P2", "拉萨市")  # never snapshotted: replayed in full by the same query
    for i in range(8):  # back-dated payments too: the timeline's order must survive
        pay(app, "P1", "1万", voucher=f"V{i}", effective_date=f"2025-03-{20 - i:02d}")
    app.reverse(build(ReverseCommand, payment_id="P1:P2", effective_date="2025-05-01",
                      reason="退回", doc="冲"))
    full = replayed(app)
    assert snapshot_versions(app, [KEY, Project.uuid_for("P2")]) == {KEY: 9}
    loaded = load_many(app, [KEY, Project.uuid_for("P2"), Project.uuid_for("nowhere")])
    assert set(loaded) == {KEY, Project.uuid_for("P2")}
    assert state(loaded[KEY]) == state(full)
    assert state(app.repository.get(KEY, projector_func=fold)) == state(full)
    assert loaded[Project.uuid_for("P2")].version == 1
    app.close()


def test_a_read_only_store_from_before_snapshots_still_opens(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Its snapshot table cannot be created there: the store opens without snapshots."""
    import shutil
    import subprocess

    db = tmp_path / "l.db"
    monkeypatch.setenv(INTERVAL_ENV, "0")  # a store as written before snapshots existed
    open_ledger(db).close()
    monkeypatch.setenv(INTERVAL_ENV, "2")
    if shutil.which("chattr") is None or subprocess.run(
            ["chattr", "+i", str(db)], capture_output=True).returncode != 0:
        pytest.skip("chattr +i is not available here: cannot make a read-only store")
    try:
        app = BudgetLedger.open(str(db))
        assert app.snapshots is None
        assert app.get_project("P1").lines["R1"].allocated == 100_0000_00
        app.close()
    finally:
        subprocess.run(["chattr", "-i", str(db)], capture_output=True)
