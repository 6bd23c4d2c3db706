"""Tamper evidence: a hash chain over the notification log, written with the events.

Every stored event gets a row in a side table ``<events table>_chain``:

    position       the event's notification id (its place in the log)
    prev_position  the position of the event before it in the chain (0 for the first)
    content_hash   sha256 over originator id, version, topic and state, as stored
    chain_hash     sha256 over (previous chain_hash, position, prev_position, content_hash)

The row is inserted by the application recorder in the SAME transaction as the event, after the
events are inserted — on PostgreSQL after the library's EXCLUSIVE lock on the events table, on
SQLite inside the one write transaction — so concurrent writers extend one chain, never fork it.
The recorders (SQLite here, PostgreSQL in :mod:`ledger.integrity_postgres`, so SQLite users never
load the driver) are selected in :mod:`ledger.store` through APPLICATION_RECORDER_TOPIC. The
private library hooks they override are listed, and checked at start-up, in
:mod:`ledger.library_patches`.

:func:`verify_chain` recomputes the chain and names the first position where it breaks and how
(edited, deleted, reordered, inserted); :func:`head_digest` gives the newest (position, hash), which
an auditor writes down: passing it back as ``anchor`` later proves nothing before it changed, even
if someone rewrote the whole chain consistently.
"""

from __future__ import annotations

import hashlib
import struct
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, NamedTuple
from uuid import UUID

from eventsourcing.persistence import Notification, StoredEvent
from eventsourcing.sqlite import SQLiteApplicationRecorder, SQLiteCursor

from ledger.wal_checkpoints import BOUND_PAGES, Checkpointer

if TYPE_CHECKING:
    from ledger.application import BudgetLedger

GENESIS = "0" * 64
_SIZE = struct.Struct(">Q")  # the 8-byte big-endian length prefix of _field
_PAGE = 5000
MANY = 500  # aggregates per bulk-load query (SQLite binds at most 32,766 parameters)


class ChainRow(NamedTuple):
    position: int
    prev_position: int
    content_hash: str
    chain_hash: str


def _field(b: bytes) -> bytes:
    """Length-prefixed, so no two different field lists hash the same bytes."""
    return len(b).to_bytes(8, "big") + b


def content_hash(originator_id: UUID | str, version: int, topic: str, state: bytes) -> str:
    oid = originator_id.hex if isinstance(originator_id, UUID) else str(originator_id)
    return hashlib.sha256(b"".join((
        _field(oid.encode()), _field(str(version).encode()), _field(topic.encode()),
        _field(bytes(state)),
    ))).hexdigest()


def link_hash(prev_hash: str, position: int, prev_position: int, chash: str) -> str:
    return hashlib.sha256(f"{prev_hash}:{position}:{prev_position}:{chash}".encode()).hexdigest()


def chain_rows(
    head: ChainRow | None, events: Sequence[StoredEvent], positions: Sequence[int]
) -> list[ChainRow]:
    """The chain rows that extend ``head`` by ``events`` stored at ``positions``."""
    prev_pos, prev_hash = (head.position, head.chain_hash) if head else (0, GENESIS)
    rows = []
    pairs = list(zip(events, positions, strict=True))
    if any(pairs[i][1] > pairs[i + 1][1] for i in range(len(pairs) - 1)):
        pairs.sort(key=lambda t: t[1])
    # content_hash and link_hash inlined (the same bytes): this runs once per stored event
    sha256, size = hashlib.sha256, _SIZE.pack
    for ev, pos in pairs:
        oid = ev.originator_id
        o = (oid.hex if isinstance(oid, UUID) else str(oid)).encode()
        v = str(ev.originator_version).encode()
        t = ev.topic.encode()
        st = bytes(ev.state)
        ch = sha256(b"".join((size(len(o)), o, size(len(v)), v, size(len(t)), t,
                              size(len(st)), st))).hexdigest()
        h = sha256(f"{prev_hash}:{pos}:{prev_pos}:{ch}".encode()).hexdigest()
        rows.append(ChainRow(pos, prev_pos, ch, h))
        prev_pos, prev_hash = pos, h
    return rows


# ---- SQLite --------------------------------------------------------------------------------


class ChainedSQLiteApplicationRecorder(SQLiteApplicationRecorder):
    """The library's SQLite recorder plus the chain table, written in the same transaction,
    with the WAL checkpointed by a thread after each commit (:mod:`ledger.wal_checkpoints`)."""

    def __init__(self, datastore: Any, events_table_name: str = "stored_events") -> None:
        self.chain_table_name = f"{events_table_name}_chain"
        super().__init__(datastore, events_table_name)
        self.checkpointer = Checkpointer(datastore.pool.db_name)

    def construct_create_table_statements(self) -> list[str]:
        return [
            *super().construct_create_table_statements(),
            f"CREATE TABLE IF NOT EXISTS {self.chain_table_name} ("
            "position INTEGER PRIMARY KEY, prev_position INTEGER NOT NULL, "
            "content_hash TEXT NOT NULL, chain_hash TEXT NOT NULL)",
        ]

    _held: SQLiteCursor | None = None

    @contextmanager
    def held_transaction(self) -> Iterator[None]:
        """Every ``insert_events`` inside the block goes into ONE transaction: committed when the
        block ends, rolled back when it raises. A save is one transaction in the library; an
        import too big to hold as one save writes several saves into this one (ledger/streamed.py).
        SQLite's write lock is held from the first insert to the end of the block."""
        with self.datastore.transaction(commit=True) as c:
            self._held = c
            try:
                yield
            finally:
                self._held = None
        self.checkpointer.nudge()

    def insert_events(
        self, stored_events: Sequence[StoredEvent], **kwargs: Any
    ) -> Sequence[int] | None:
        if self._held is not None:
            return self._insert_events(self._held, stored_events, **kwargs)
        positions = super().insert_events(stored_events, **kwargs)
        self.checkpointer.nudge()
        return positions

    def _insert_events(  # private hook: see ledger/library_patches.py, item 3
        self, c: SQLiteCursor, stored_events: Sequence[StoredEvent], **kwargs: Any
    ) -> Sequence[int] | None:
        # this connection checkpoints by itself only past the bound; the thread does it before
        c.execute(f"PRAGMA wal_autocheckpoint={BOUND_PAGES}")
        positions = super()._insert_events(c, stored_events, **kwargs)
        # The INSERTs above took SQLite's single write lock, so the head read here is final.
        if stored_events and positions:
            c.execute(
                f"SELECT position, prev_position, content_hash, chain_hash FROM "
                f"{self.chain_table_name} ORDER BY position DESC LIMIT 1"
            )
            row = c.fetchone()
            head = ChainRow(*row) if row else None
            c.executemany(
                f"INSERT INTO {self.chain_table_name} VALUES (?,?,?,?)",
                chain_rows(head, stored_events, list(positions)),
            )
        return positions

    def select_events_of_many(self, originator_ids: Sequence[UUID],
                              after: Mapping[UUID, int] | None = None) -> list[StoredEvent]:
        """Every event of these aggregates in one query, by originator then version (bulk
        loading: ``Batch.preload``; one ``select_events`` per aggregate cost ~0.2 ms each).
        ``after``: only the events above this version of an aggregate (its snapshot's)."""
        out: list[StoredEvent] = []
        after = after or {}
        for i in range(0, len(originator_ids), MANY):
            part = originator_ids[i:i + MANY]
            # each row's id is one of ours, as the caller's object: no UUID() parse per row,
            # and the caller's groupby compares an aggregate's rows by identity
            ours = {o.hex: o for o in part}
            params: list[Any] = []
            for o in part:
                params += (o.hex, after.get(o, 0))
            with self.datastore.transaction(commit=False) as c:
                # CROSS JOIN: SQLite keeps the wanted ids as the outer loop (a seek each)
                c.execute(
                    f"WITH w(id, v) AS (VALUES {','.join(['(?,?)'] * len(part))}) "
                    f"SELECT e.originator_id, e.originator_version, e.topic, e.state FROM w "
                    f"CROSS JOIN {self.events_table_name} AS e ON e.originator_id = w.id "
                    f"AND e.originator_version > w.v ORDER BY e.originator_id, e.originator_version",
                    params,
                )
                out.extend(StoredEvent(ours[r[0]], r[1], r[2], r[3]) for r in c.fetchall())
        return out

    def select_chain(self, after: int, upto: int | None, limit: int) -> list[ChainRow]:
        sql = f"SELECT position, prev_position, content_hash, chain_hash FROM {self.chain_table_name} WHERE position > ?"
        params: list[int] = [after]
        if upto is not None:
            sql += " AND position <= ?"
            params.append(upto)
        sql += " ORDER BY position LIMIT ?"
        params.append(limit)
        with self.datastore.transaction(commit=False) as c:
            c.execute(sql, params)
            return [ChainRow(*r) for r in c.fetchall()]

    def chain_head(self) -> ChainRow | None:
        with self.datastore.transaction(commit=False) as c:
            c.execute(
                f"SELECT position, prev_position, content_hash, chain_hash FROM "
                f"{self.chain_table_name} ORDER BY position DESC LIMIT 1"
            )
            row = c.fetchone()
            return ChainRow(*row) if row else None


# ---- verification --------------------------------------------------------------------------


@dataclass
class _Walk:
    prev_position: int = 0
    prev_hash: str = GENESIS


def _recorder(app: BudgetLedger) -> Any:
    rec = app.recorder
    if not hasattr(rec, "select_chain"):
        raise TypeError(f"{type(rec).__name__} keeps no hash chain (see ledger.store)")
    return rec


def _pages(app: BudgetLedger) -> Iterator[tuple[list[Notification], list[ChainRow]]]:
    """Events and chain rows over the same range of positions, page by page."""
    rec = _recorder(app)
    after = 0
    while True:
        notes = list(rec.select_notifications(after, _PAGE, inclusive_of_start=False))
        if not notes:
            # Chain rows past the last event: the tail of the log was deleted.
            yield [], rec.select_chain(after, None, 1)
            return
        upto = notes[-1].id
        yield notes, rec.select_chain(after, upto, upto - after)
        after = upto


def _find_content(app: BudgetLedger, chash: str) -> int | None:
    """Where in the chain this content was recorded (to tell a move from an edit)."""
    rec = _recorder(app)
    after = 0
    while rows := rec.select_chain(after, None, _PAGE):
        for r in rows:
            if r.content_hash == chash:
                return r.position
        after = rows[-1].position
    return None


def _check(app: BudgetLedger, w: _Walk, note: Notification | None, row: ChainRow | None) -> str | None:
    pos = note.id if note is not None else row.position  # type: ignore[union-attr]
    if row is None:
        return f"inserted: position {pos} holds an event that was never chained"
    if note is None:
        return f"deleted: the event recorded at position {pos} is missing"
    ch = content_hash(note.originator_id, note.originator_version, note.topic, note.state)
    if ch != row.content_hash:
        where = _find_content(app, ch)
        if where is not None and where != pos:
            return f"reordered: position {pos} holds the event recorded at position {where}"
        return (
            f"edited: the event at position {pos} (originator {note.originator_id}, version "
            f"{note.originator_version}) differs from what was recorded"
        )
    if row.prev_position != w.prev_position:
        if row.prev_position > w.prev_position:
            return (
                f"deleted: position {row.prev_position}, recorded before position {pos}, is missing"
            )
        return (
            f"inserted: position {w.prev_position} was not in the log when position {pos} "
            "was recorded"
        )
    if link_hash(w.prev_hash, pos, w.prev_position, ch) != row.chain_hash:
        return f"edited: the chain entry at position {pos} does not follow from the one before it"
    w.prev_position, w.prev_hash = pos, row.chain_hash
    return None


def verify_chain(app: BudgetLedger, anchor: tuple[int, str] | None = None) -> list[str]:
    """Recompute the chain; [] when intact, else the first break (and an anchor mismatch).

    ``anchor`` is a (position, hash) written down earlier from :func:`head_digest`.
    """
    w = _Walk()
    anchor_seen = anchor is None or anchor[0] == 0
    for notes, rows in _pages(app):
        by_pos = {r.position: r for r in rows}
        notes_by_pos = {n.id: n for n in notes}
        for pos in sorted(by_pos.keys() | notes_by_pos.keys()):
            problem = _check(app, w, notes_by_pos.get(pos), by_pos.get(pos))
            if problem:
                return [problem]
            if anchor is not None and pos == anchor[0]:
                anchor_seen = True
                if w.prev_hash != anchor[1]:
                    return [
                        f"edited: the chain at position {pos} is {w.prev_hash}, not the recorded "
                        f"digest {anchor[1]} — the log before it was rewritten"
                    ]
    if not anchor_seen:
        return [f"deleted: the recorded digest's position {anchor[0]} is no longer in the log"]  # type: ignore[index]
    return []


def head_digest(app: BudgetLedger) -> tuple[int, str]:
    """(position, chain hash) of the newest event; (0, GENESIS) for an empty log."""
    head = _recorder(app).chain_head()
    return (head.position, head.chain_hash) if head else (0, GENESIS)


def __getattr__(name: str) -> Any:
    """``ledger.integrity.ChainedPostgresApplicationRecorder`` still works (imported on demand)."""
    if name == "ChainedPostgresApplicationRecorder":
        from ledger.integrity_postgres import ChainedPostgresApplicationRecorder

        return ChainedPostgresApplicationRecorder
    raise AttributeError(name)
