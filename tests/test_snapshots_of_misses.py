"""The loaded-from-the-store rule (ledger/snapshots.py ``snapshot_loaded``): a project a bulk load
read from the store is snapshotted after its save once enough events follow its latest snapshot;
one the aggregate cache handed out is not; a load that starts from such a snapshot is the
replayed project; the log is untouched; a snapshot that cannot be written loses nothing."""

from __future__ import annotations

import tempfile
from pathlib import Path

import pytest
from eventsourcing.persistence import OperationalError
from hypothesis import given, settings
from hypothesis import strategies as st

from ledger.application import BudgetLedger
from ledger.batch import Batch
from ledger.commands import PayCommand, ReverseCommand, build
from ledger.integrity import verify_chain
from ledger.project import Project
from ledger.snapshots import (
    INTERVAL_ENV,
    REPLAYED_ENV,
    LedgerSnapshot,
    load_many,
    select_latest_snapshots,
    snapshot_versions,
)
from tests.helpers import allocate, issue, project
from tests.test_snapshots import replayed, state

KEY = Project.uuid_for("P1")
KEY2 = Project.uuid_for("P2")


def ledger_of(path: Path | str, mp: pytest.MonkeyPatch, least: int, interval: int = 0,
              cache: int = 0) -> BudgetLedger:
    mp.setenv(REPLAYED_ENV, str(least))
    mp.setenv(INTERVAL_ENV, str(interval))
    app = BudgetLedger.open(str(path))
    app.aggregate_cache.maxsize = cache  # 0: every load from the store
    issue(app, "R1", "拉萨市", "1000万")
    for p in ("P1", "P2"):
        project(app, p, "拉萨市")
        allocate(app, "R1", p, "100万")
    return app


def paid_in_batch(app: BudgetLedger, ids: list[str], n: int, tag: str, day: int = 1) -> Batch:
    """As an import does: preload the projects, then ``n`` payments into each, one save."""
    with app.batch() as b:
        b.preload(ids)
        for p in ids:
            for i in range(n):
                b.pay(build(PayCommand, project_id=p, amount="100", payee="某公司",
                            voucher=f"{p}-{tag}-{i}", effective_date=f"2025-03-{day:02d}"))
    return b


def test_a_project_read_from_the_store_is_snapshotted_after_the_save(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    app = ledger_of(tmp_path / "l.db", monkeypatch, least=4)
    assert snapshot_versions(app, [KEY, KEY2]) == {}  # single commands: no bulk load, none
    b = paid_in_batch(app, ["P1"], 1, "a")  # version 2 replayed, 3 saved: 3 after no snapshot
    assert b.loaded_since == {KEY: 0}
    assert snapshot_versions(app, [KEY]) == {}  # below 4
    paid_in_batch(app, ["P1"], 2, "b")  # 3 replayed + 2 = version 5
    assert snapshot_versions(app, [KEY]) == {KEY: 5}
    b = paid_in_batch(app, ["P1", "P2"], 1, "c")  # P1 from its snapshot: 1 event after it
    assert b.loaded_since == {KEY: 5, KEY2: 0}
    assert snapshot_versions(app, [KEY, KEY2]) == {KEY: 5}  # P1 6 - 5 < 4, P2 3 < 4
    for loaded in (load_many(app, [KEY])[KEY], app.get_project("P1")):
        assert state(loaded) == state(replayed(app))
    app.close()


def test_a_project_the_cache_handed_out_gets_no_snapshot(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    app = ledger_of(tmp_path / "l.db", monkeypatch, least=1, cache=10_000)
    paid_in_batch(app, ["P1", "P2"], 1, "a")  # the single commands left both in the cache
    b = paid_in_batch(app, ["P1", "P2"], 3, "b")
    assert b.loaded_since == {}
    assert snapshot_versions(app, [KEY, KEY2]) == {}
    app.aggregate_cache.clear()  # as a fresh process, or an eviction
    paid_in_batch(app, ["P1"], 1, "c")
    assert snapshot_versions(app, [KEY, KEY2]) == {KEY: 7}
    app.close()


def test_off_the_log_is_the_same_and_so_is_its_chain(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    logs = []
    for least in (0, 1):
        app = ledger_of(tmp_path / f"l{least}.db", monkeypatch, least=least)
        for m in range(3):
            paid_in_batch(app, ["P1", "P2"], 2, f"m{m}")
        assert (app.snapshots is None) == (least == 0)
        assert snapshot_versions(app, [KEY, KEY2]) == ({KEY: 8, KEY2: 8} if least else {})
        notes = app.recorder.select_notifications(1, 1000)
        assert [n.id for n in notes] == list(range(1, len(notes) + 1))
        assert not any(n.topic == LedgerSnapshot.TOPIC for n in notes)
        assert verify_chain(app) == []
        logs.append([(n.originator_version, n.topic) for n in notes])
        app.close()
    assert logs[0] == logs[1]


def test_with_the_interval_rule_too_each_version_is_snapshotted_once(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture) -> None:
    app = ledger_of(tmp_path / "l.db", monkeypatch, least=1, interval=2)
    paid_in_batch(app, ["P1"], 2, "a")  # version 4: both rules want it; one insert, no clash
    paid_in_batch(app, ["P1"], 1, "b")  # version 5: only the loaded rule
    assert "not written" not in caplog.text
    assert snapshot_versions(app, [KEY]) == {KEY: 5}
    assert state(load_many(app, [KEY])[KEY]) == state(replayed(app))
    app.close()


def test_a_snapshot_that_cannot_be_written_loses_nothing(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    app = ledger_of(tmp_path / "l.db", monkeypatch, least=1)

    def put(*_: object, **__: object) -> None:
        raise OperationalError("database is locked")

    monkeypatch.setattr(app.snapshots, "put", put)
    paid_in_batch(app, ["P1"], 2, "a")  # the events commit; the snapshot is skipped
    assert snapshot_versions(app, [KEY]) == {}
    assert len(replayed(app).payments) == 2
    app.close()


DAYS = st.lists(st.tuples(st.integers(1, 28), st.integers(0, 3), st.booleans()),
                min_size=1, max_size=8)


@settings(deadline=None)
@given(DAYS, st.integers(1, 6))
def test_every_load_after_snapshots_of_misses_equals_the_replay(
        rounds: list[tuple[int, int, bool]], least: int) -> None:
    """Batches of back-dated payments and reversals, each project loaded from the store: the
    bulk load, the library's load and the replay from scratch agree after every round."""
    with pytest.MonkeyPatch.context() as mp, tempfile.TemporaryDirectory() as tmp:
        app = ledger_of(Path(tmp) / "l.db", mp, least=least)
        for r, (day, n, reverse) in enumerate(rounds):
            before = snapshot_versions(app, [KEY]).get(KEY, 0)
            paid_in_batch(app, ["P1", "P2"], n, f"r{r}", day=day)
            full = replayed(app)
            due = n and full.version - before >= least  # the rule, as the docstring says it
            assert snapshot_versions(app, [KEY]).get(KEY, 0) == (full.version if due else before)
            pid = next((p for p, s in full.payments.items() if not s.reversed), None)
            if reverse and pid is not None:  # a single command: no bulk load, no snapshot
                app.reverse(build(ReverseCommand, payment_id=pid, effective_date="2025-05-01",
                                  reason="退回", doc="冲"))
                full = replayed(app)
            assert state(load_many(app, [KEY])[KEY]) == state(full)
            assert state(app.get_project("P1")) == state(full)
        app.close()


def test_snapshots_are_stored_compressed_and_an_uncompressed_one_still_reads(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    app = ledger_of(tmp_path / "l.db", monkeypatch, least=1)
    paid_in_batch(app, ["P1"], 12, "a")
    (stored,) = select_latest_snapshots(app.snapshots, [KEY])
    assert stored.state[:1] == b"\x78"  # zlib, not JSON
    assert len(stored.state) < len(app.mapper.to_stored_event(
        app.snapshots.mapper.to_domain_event(stored)).state) / 2
    app.pay(build(PayCommand, project_id="P1", amount="100", payee="某公司", voucher="V-last",
                  effective_date="2025-03-02"))  # a single command: no snapshot
    plain = app.mapper.to_stored_event(LedgerSnapshot.take(app.get_project("P1")))
    assert plain.state[:1] == b"{"  # as written before snapshots were compressed
    app.snapshots.recorder.insert_events([plain])
    assert snapshot_versions(app, [KEY]) == {KEY: 15}
    for loaded in (load_many(app, [KEY])[KEY], app.get_project("P1")):
        assert state(loaded) == state(replayed(app))
    app.close()
