"""Tamper evidence: edit the stored log behind the ledger's back and watch verify_chain name it.

Each test writes a small ledger through the application, then changes the SQLite file (sqlite3)
or the PostgreSQL table (psycopg) directly, as someone with database access could.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from typing import Any
from uuid import UUID

import pytest
from eventsourcing.persistence import StoredEvent

from ledger.application import BudgetLedger
from ledger.integrity import GENESIS, ChainRow, chain_rows, head_digest, verify_chain
from tests.helpers import allocate, forward, issue, pay, project


class Raw:
    """Direct SQL on the store, bypassing the ledger: the tamperer's tools."""

    def __init__(self, app: BudgetLedger) -> None:
        self.config = app.config
        self.events: str = app.recorder.events_table_name  # type: ignore[attr-defined]
        self.chain: str = app.recorder.chain_table_name  # type: ignore[attr-defined]
        self.pos = "rowid" if self.config.kind == "sqlite" else "notification_id"

    def run(self, sql: str, params: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
        sql = sql.format(events=self.events, chain=self.chain, pos=self.pos)
        if self.config.kind == "sqlite":
            conn = sqlite3.connect(self.config.sqlite_path or "")
            try:
                with conn:
                    return conn.execute(sql.replace("%s", "?"), params).fetchall()
            finally:
                conn.close()
        import psycopg

        dsn = self.config.sqlalchemy_url.replace("postgresql+psycopg://", "postgresql://")
        opts = f"-csearch_path={self.config.schema}" if self.config.schema else ""
        with psycopg.connect(dsn, options=opts) as conn:
            cur = conn.execute(sql, params)  # type: ignore[arg-type]
            return cur.fetchall() if cur.description else []

    def state(self, position: int) -> bytes:
        return bytes(self.run("SELECT state FROM {events} WHERE {pos} = %s", (position,))[0][0])

    def position_of(self, topic_suffix: str) -> int:
        rows = self.run("SELECT {pos}, topic FROM {events} ORDER BY {pos}")
        return next(int(p) for p, t in rows if t.endswith(topic_suffix))


@pytest.fixture
def ledger(any_url: str) -> Iterator[BudgetLedger]:
    app = BudgetLedger.open(any_url)
    issue(app, "R", "西藏自治区", "1000万")
    forward(app, "R", "C", "拉萨市", "300万")
    project(app, "P1", "拉萨市")
    allocate(app, "C", "P1", "100万")
    pay(app, "P1", "10万")
    pay(app, "P1", "20万")
    yield app
    app.close()


def test_intact_chain_verifies_and_digest_names_the_head(ledger: BudgetLedger) -> None:
    assert verify_chain(ledger) == []
    pos, digest = head_digest(ledger)
    assert pos == ledger.last_position() > 0
    assert len(digest) == 64 and digest != GENESIS
    assert verify_chain(ledger, anchor=(pos, digest)) == []
    pay(ledger, "P1", "1万")  # the chain grows; the old digest still holds
    assert head_digest(ledger) != (pos, digest)
    assert verify_chain(ledger, anchor=(pos, digest)) == []


def test_empty_log_has_the_genesis_digest(any_url: str) -> None:
    app = BudgetLedger.open(any_url)
    try:
        assert head_digest(app) == (0, GENESIS)
        assert verify_chain(app) == []
    finally:
        app.close()


def test_edited_amount_is_caught(ledger: BudgetLedger) -> None:
    raw = Raw(ledger)
    pos = raw.position_of("PaymentMade")
    state = raw.state(pos)
    forged = state.replace(b'"amount":10000000', b'"amount":1000000')
    assert forged != state
    raw.run("UPDATE {events} SET state = %s WHERE {pos} = %s", (forged, pos))
    problems = verify_chain(ledger)
    assert len(problems) == 1
    assert problems[0].startswith(f"edited: the event at position {pos} ")


def test_deleted_row_is_caught(ledger: BudgetLedger) -> None:
    raw = Raw(ledger)
    pos = raw.position_of("PaymentMade")
    raw.run("DELETE FROM {events} WHERE {pos} = %s", (pos,))
    assert verify_chain(ledger) == [f"deleted: the event recorded at position {pos} is missing"]


def test_deleted_row_and_its_chain_entry_is_caught(ledger: BudgetLedger) -> None:
    raw = Raw(ledger)
    pos = raw.position_of("PaymentMade")
    raw.run("DELETE FROM {events} WHERE {pos} = %s", (pos,))
    raw.run("DELETE FROM {chain} WHERE position = %s", (pos,))
    (problem,) = verify_chain(ledger)
    assert problem.startswith(f"deleted: position {pos}, recorded before position ")


def test_reordered_rows_are_caught(ledger: BudgetLedger) -> None:
    raw = Raw(ledger)
    a = raw.position_of("AllocatedToProject")
    b = raw.position_of("PaymentMade")
    raw.run("UPDATE {events} SET {pos} = -1 WHERE {pos} = %s", (a,))
    raw.run("UPDATE {events} SET {pos} = %s WHERE {pos} = %s", (a, b))
    raw.run("UPDATE {events} SET {pos} = %s WHERE {pos} = -1", (b,))
    assert verify_chain(ledger) == [
        f"reordered: position {a} holds the event recorded at position {b}"
    ]


def test_inserted_row_is_caught(ledger: BudgetLedger) -> None:
    raw = Raw(ledger)
    pos = raw.position_of("PaymentMade")
    oid, version, topic = raw.run(
        "SELECT originator_id, originator_version, topic FROM {events} WHERE {pos} = %s", (pos,)
    )[0]
    top = max(v for (v,) in raw.run("SELECT originator_version FROM {events} WHERE originator_id = %s", (oid,)))
    forged = raw.state(pos).replace(b'"P1:P1"', b'"P1:P9"')
    raw.run(
        "INSERT INTO {events} (originator_id, originator_version, topic, state) VALUES (%s, %s, %s, %s)",
        (oid, top + 1, topic, forged),
    )
    new_pos = max(p for (p,) in raw.run("SELECT {pos} FROM {events}"))
    assert verify_chain(ledger) == [
        f"inserted: position {new_pos} holds an event that was never chained"
    ]


def test_inserted_row_in_a_gap_with_a_forged_chain_entry_is_caught(pg_url: str) -> None:
    """PostgreSQL leaves gaps in notification ids (rolled-back inserts); a forger can fill one."""
    app = BudgetLedger.open(pg_url)
    try:
        raw = Raw(app)
        issue(app, "R", "西藏自治区", "1000万")
        project(app, "P1", "西藏自治区")
        allocate(app, "R", "P1", "100万")
        (gap,) = raw.run("SELECT nextval(pg_get_serial_sequence('{events}', 'notification_id'))")[0]
        pay(app, "P1", "10万")
        pay(app, "P1", "20万")
        pos = raw.position_of("PaymentMade")
        assert pos > gap
        oid, version, topic = raw.run(
            "SELECT originator_id, originator_version, topic FROM {events} WHERE {pos} = %s", (pos,)
        )[0]
        forged = raw.state(pos).replace(b'"P1:P1"', b'"P1:P9"')
        raw.run(
            "INSERT INTO {events} (originator_id, originator_version, topic, state, notification_id) "
            "VALUES (%s, %s, %s, %s, %s)",
            (oid, 99, topic, forged, gap),
        )
        # The careful forger also chains it onto the entry before the gap.
        prev_pos, _pp, _ch, prev_hash = raw.run(
            "SELECT * FROM {chain} WHERE position < %s ORDER BY position DESC LIMIT 1", (gap,)
        )[0]
        (row,) = chain_rows(ChainRow(prev_pos, 0, "", prev_hash),
                            [StoredEvent(oid, 99, topic, forged)], [gap])
        raw.run("INSERT INTO {chain} VALUES (%s, %s, %s, %s)", tuple(row))
        assert verify_chain(app) == [
            f"inserted: position {gap} was not in the log when position {pos} was recorded"
        ]
    finally:
        app.close()


def test_edited_chain_entry_is_caught(ledger: BudgetLedger) -> None:
    raw = Raw(ledger)
    pos = raw.position_of("Received")
    raw.run("UPDATE {chain} SET chain_hash = %s WHERE position = %s", ("f" * 64, pos))
    assert verify_chain(ledger) == [
        f"edited: the chain entry at position {pos} does not follow from the one before it"
    ]


def test_rewritten_chain_is_caught_by_a_recorded_digest(ledger: BudgetLedger) -> None:
    """Someone who edits an event AND recomputes every chain entry after it is caught by the
    digest an auditor wrote down earlier."""
    raw = Raw(ledger)
    anchor = head_digest(ledger)
    pos = raw.position_of("PaymentMade")
    forged = raw.state(pos).replace(b'"amount":10000000', b'"amount":1000000')
    raw.run("UPDATE {events} SET state = %s WHERE {pos} = %s", (forged, pos))
    rows = raw.run("SELECT {pos}, originator_id, originator_version, topic, state FROM {events} ORDER BY {pos}")
    raw.run("DELETE FROM {chain}")
    evs = [StoredEvent(UUID(str(o)), v, t, bytes(s)) for _p, o, v, t, s in rows]
    for r in chain_rows(None, evs, [p for p, *_ in rows]):
        raw.run("INSERT INTO {chain} VALUES (%s, %s, %s, %s)", tuple(r))
    assert verify_chain(ledger) == []  # consistent on its own...
    (problem,) = verify_chain(ledger, anchor=anchor)  # ...but not with the recorded digest
    assert problem.startswith(f"edited: the chain at position {anchor[0]} is ")


@pytest.mark.parametrize("garbage", [b"\xff\xfe not json", b'{"timestamp": 1}', b"[]"])
def test_verify_reports_an_undecodable_event_as_a_finding(any_url: str, garbage: bytes) -> None:
    """Bytes edited into something no decoder understands: a finding, never a crash."""
    from click.testing import CliRunner

    from cli.main import cli, register

    register()
    app = BudgetLedger.open(any_url)
    try:
        issue(app, "R", "西藏自治区", "1000万")
        forward(app, "R", "C", "拉萨市", "300万")
        raw = Raw(app)
        pos = raw.position_of("ForwardedOut")
        raw.run("UPDATE {events} SET state = %s WHERE {pos} = %s", (garbage, pos))
    finally:
        app.close()
    res = CliRunner().invoke(cli, ["--db", any_url, "verify"])
    assert res.exit_code == 1, res.output
    assert f"log position {pos}: stored event cannot be decoded" in res.stdout
    assert f"edited: the event at position {pos}" in res.stdout
    assert "Traceback" not in res.output
    res = CliRunner().invoke(cli, ["--db", any_url, "balance"])
    assert res.exit_code == 4 and "cannot be decoded" in res.stderr and "verify" in res.stderr


@pytest.mark.parametrize("garbage", [b"\xff not json", b'{"timestamp": 1}'])
def test_an_undecodable_payment_is_named_on_the_sql_path_too(db_url: str, garbage: bytes) -> None:
    """Payments are decoded by SQLite's JSON functions when the read models share its file; a
    damaged one still ends in the same clear error, naming its position."""
    from projections.updater import Projector
    from projections.writer import UndecodableEvent

    app = BudgetLedger.open(db_url)
    try:
        issue(app, "R", "西藏自治区", "1000万")
        forward(app, "R", "C", "拉萨市", "300万")
        project(app, "P1", "拉萨市")
        allocate(app, "C", "P1", "100万")
        pay(app, "P1", "10万")
        raw = Raw(app)
        pos = raw.position_of("PaymentMade")
        raw.run("UPDATE {events} SET state = %s WHERE {pos} = %s", (garbage, pos))
        with pytest.raises(UndecodableEvent, match=f"log position {pos}"):
            Projector(app).catch_up()
    finally:
        app.close()


def test_chain_rows_inlined_hashes_match_the_reference_functions() -> None:
    """chain_rows inlines content_hash and link_hash for speed: same bytes, same hashes."""
    import uuid as _uuid

    from eventsourcing.persistence import StoredEvent

    from ledger.integrity import ChainRow, chain_rows, content_hash, link_hash

    evs = [StoredEvent(_uuid.uuid4(), v, f"ledger.x:T{v}", f'{{"n": {v}, "名": "项目"}}'.encode())
           for v in range(1, 6)]
    positions = [12, 10, 11, 14, 13]  # out of order: chained by position
    head = ChainRow(7, 3, "c" * 64, "d" * 64)
    rows = chain_rows(head, evs, positions)
    prev_pos, prev_hash = 7, "d" * 64
    for ev, pos in sorted(zip(evs, positions, strict=True), key=lambda t: t[1]):
        ch = content_hash(ev.originator_id, ev.originator_version, ev.topic, ev.state)
        h = link_hash(prev_hash, pos, prev_pos, ch)
        assert rows.pop(0) == ChainRow(pos, prev_pos, ch, h)
        prev_pos, prev_hash = pos, h
