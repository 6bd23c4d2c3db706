"""Feeding the read models from the event log: exactly once, in order, resumable.

One mechanism for both stores: read the stored events after the read models' position (straight
from the library's table, on its own connection: :func:`read_log`), turn them into rows, and
commit the rows together with the new position. The position is advanced *first*, with a
compare-and-set, so two updaters racing on one database cannot both apply the same batch.
(The library's ProjectionRunner needs ``recorder.subscribe()``, which the SQLite recorders
lack; pulling works the same on SQLite and PostgreSQL.)

Every read model is append-only (see ``projections/tables.py``), so applying an event never
reads or updates a row: :class:`JournalWriter` decodes the stored JSON state directly (no domain
object per event) and inserts rows in bulk; in the store's own SQLite file, payments are decoded
by SQLite itself (``projections/sql_fast_path.py``). That is what makes catch-up and rebuild fast.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Sequence
from datetime import date
from typing import TYPE_CHECKING, Any, NamedTuple

from sqlalchemy import Connection, Engine, delete, insert, inspect, literal, select, text, update
from sqlalchemy.exc import DBAPIError
from sqlalchemy.schema import CreateIndex, CreateTable, DropIndex

from ledger.errors import LedgerError
from ledger.movements import MOVES, Indicator, Project  # the aggregates, typed Any (see there)
from ledger.topics import event_name
from ledger.unit import Unit as _Unit
from projections import sql_fast_path
from projections.db import chunks
from projections.stored_state import (
    TRANSCODED,
    decode_state,
    fixed_utc,
    flatten_terms,
    states_query,
)
from projections.tables import (
    ALL_TABLES,
    DATA_TABLES,
    INDEXES,
    LOOKUP_INDEXES,
    SCHEMA_VERSION,
    IndicatorRow,
    Meta,
    Position,
    ProjectRow,
)
from projections.tables import DEFERRED as DEFERRED
from projections.tables import POSITION_NAME as POSITION_NAME

if TYPE_CHECKING:
    from ledger.application import BudgetLedger

class UndecodableEvent(LedgerError):
    """A stored event the read models cannot understand (edited bytes, unknown topic): the store
    is damaged (exit 4); ``verify`` reports it as a finding."""

    exit_code = 4


class ReadModelsOutdated(LedgerError):
    """The read models were written by another version of the ledger and must be rebuilt."""

    exit_code = 4


class StoredEvent(NamedTuple):
    """One row of the event store's table, as read for the read models (no domain object)."""

    id: int
    originator_hex: str
    topic: str
    state: bytes | str


def read_log(curs: Any, sqlite: bool, table: str, after: int, limit: int,
             stop: int | None = None) -> list[StoredEvent]:
    """Stored events after position ``after``, straight from the library's table on one of its
    own cursors. The library's ``select_notifications`` builds a UUID object per row, a fifth of
    a rebuild; the read models need the hex only. Same table, same order, same positions."""
    pos = "rowid" if sqlite else "notification_id"
    upper = f" AND {pos} <= {int(stop)}" if stop is not None else ""
    curs.execute(f"SELECT {pos} AS pos, originator_id, topic, state FROM {table} "
                 f"WHERE {pos} > {int(after)}{upper} ORDER BY {pos} LIMIT {int(limit)}")
    rows = curs.fetchall()
    if sqlite:
        return [StoredEvent(r["pos"], r["originator_id"], r["topic"], r["state"]) for r in rows]
    return [StoredEvent(r["pos"], r["originator_id"].hex, r["topic"], bytes(r["state"])) for r in rows]


# ---- rows per event type ------------------------------------------------------------------------

Rows = dict[str, list[tuple[Any, ...]]]
_COLS: dict[str, list[str]] = {t.name: [c.name for c in t.columns] for t in ALL_TABLES}


class JournalWriter:
    """Turns notifications into read-model rows and writes them with ``executemany``.

    ``ids`` maps aggregate UUIDs (hex) to human ids: events on an existing indicator or project
    name it only by its UUID. It is filled by creation events and, for aggregates created
    before this batch, by one query per batch.
    """

    def __init__(self) -> None:
        self.ids: dict[str, str] = {}

    def apply(self, conn: Connection, notes: Sequence[Any]) -> None:
        if not notes:
            return
        sqlite = conn.dialect.name == "sqlite"
        decoded = [self._decode(n) for n in notes]
        self._resolve(conn, decoded)
        rows: Rows = {name: [] for name in _COLS}
        for pos, typ, origin, s in decoded:
            if not sqlite:
                s["effective_date"] = date.fromisoformat(s["effective_date"])
            touched = _HANDLERS[typ](self, rows, pos, typ, origin, s)
            if touched is None:  # a payment: its rm_payments row is its log entry
                continue
            entity, other, third = (*touched, None, None)[:3]
            rows["rm_events"].append((pos, s["timestamp"], s["effective_date"], typ, s["actor"],
                                      entity, other, third, s.get("doc"), s.get("amount")))
        mark = "?" if sqlite else "%s"
        for name, batch in rows.items():
            if batch:
                cols = _COLS[name]
                conn.exec_driver_sql(
                    f"INSERT INTO {name} ({', '.join(cols)}) VALUES ({', '.join([mark] * len(cols))})",
                    batch,  # type: ignore[arg-type]
                )

    @staticmethod
    def _decode(n: StoredEvent) -> tuple[int, str, str, dict[str, Any]]:
        try:
            _kind, sep, typ = str(n.topic).partition(".")
            if not sep or typ not in _HANDLERS:
                raise ValueError(f"unknown topic {n.topic!r}")
            state = n.state.decode("utf-8") if isinstance(n.state, bytes) else str(n.state)
            s = flatten_terms(json.loads(state))  # one layout for both class versions
            for key in TRANSCODED:
                if key in s:
                    s[key] = s[key]["_data_"]
            s["timestamp"] = fixed_utc(s["timestamp"])
            date.fromisoformat(s["effective_date"])
            amount = s.get("amount", 0)
            if not isinstance(amount, int) or isinstance(amount, bool):
                raise ValueError(f"amount {amount!r} is not a whole number of fen")
            if not isinstance(s["actor"], str):
                raise ValueError(f"actor {s['actor']!r} is not text")
        except (ValueError, KeyError, TypeError, UnicodeDecodeError) as e:
            raise UndecodableEvent(f"log position {n.id}: stored event cannot be decoded ({e}); "
                                   "the log was altered — `budget-ledger verify` reports it") from e
        return n.id, typ, n.originator_hex, s

    def _resolve(self, conn: Connection, decoded: list[tuple[int, str, str, dict[str, Any]]]) -> None:
        created = {origin for _p, typ, origin, _s in decoded if typ in _CREATIONS}
        missing = {origin for _p, typ, origin, _s in decoded
                   if typ not in _CREATIONS and typ not in _SELF_NAMED
                   and origin not in self.ids and origin not in created}
        if len(self.ids) > 1_000_000:  # bounded memory on very long rebuilds
            self.ids.clear()
        keys = sorted(missing)
        for table, pk in ((IndicatorRow, IndicatorRow.indicator_id), (ProjectRow, ProjectRow.project_id)):
            for chunk in chunks(keys):
                stmt = select(table.uuid, pk).where(table.uuid.in_(chunk))
                self.ids.update({u: ident for u, ident in conn.execute(stmt)})
        for pos, _typ, origin, _s in decoded:
            if origin in missing and origin not in self.ids:
                raise UndecodableEvent(f"log position {pos}: event on an aggregate never created")

    # ---- handlers: each appends its rows and returns the entities the event touched ------------

    def journal(self, rows: Rows, pos: int, typ: str, s: dict[str, Any], indicator: str,
                project: str | None = None, payment: str | None = None) -> None:
        bucket, sign = MOVES[typ]
        rows["rm_journal"].append((pos, indicator, project, payment, bucket, sign * s["amount"],
                                   s["effective_date"], s["timestamp"]))

    def indicator_created(self, rows: Rows, pos: int, typ: str, origin: str, s: dict[str, Any]) -> list[str]:
        ident = s["indicator_id"]
        parent = s.get("parent_id")
        self.ids[origin] = ident
        rows["rm_indicators"].append((
            ident, origin, s["unit"], s["issuer"], parent, s.get("root_id") or ident, s["year"],
            s["task"], s["source"], s["subject"], s["tracking"], s["direct"], s["advance"], s["doc"],
            s["effective_date"], s["timestamp"], pos,
        ))
        self.journal(rows, pos, typ, s, ident)
        return [ident, parent] if parent else [ident]

    def indicator_move(self, rows: Rows, pos: int, typ: str, origin: str, s: dict[str, Any]) -> list[str]:
        ident = self.ids[origin]
        other = s.get(_OTHER[typ])
        self.journal(rows, pos, typ, s, ident, project=s.get("project_id"))
        return [ident, other] if other else [ident]

    def project_registered(self, rows: Rows, pos: int, typ: str, origin: str, s: dict[str, Any]) -> list[str]:
        ident = s["project_id"]
        self.ids[origin] = ident
        rows["rm_projects"].append((ident, origin, s["unit"], s["name"], s["category"], s.get("doc"),
                                    s["effective_date"], s["timestamp"], pos))
        return [ident]

    def funding(self, rows: Rows, pos: int, typ: str, origin: str, s: dict[str, Any]) -> list[str]:
        return [self.ids[origin], s["indicator_id"]]

    def payment(self, rows: Rows, pos: int, typ: str, origin: str, s: dict[str, Any]) -> None:
        """No rm_events row: the payment's row carries its log entry (actor, doc)."""
        prj, pid = self.ids[origin], s["payment_id"]
        rows["rm_payments"].append((pid, prj, s["indicator_id"], s["amount"], s["payee"],
                                    s["payee_kind"], s.get("voucher"), s["labour"], s["actor"],
                                    s.get("doc"), s["effective_date"], s["timestamp"], pos))
        self.journal(rows, pos, PAID, s, s["indicator_id"], prj, pid)

    def reversal(self, rows: Rows, pos: int, typ: str, origin: str, s: dict[str, Any]) -> list[str]:
        prj, pid = self.ids[origin], s["payment_id"]
        rows["rm_reversals"].append((pid, s["reason"], s["effective_date"], s["timestamp"], pos))
        self.journal(rows, pos, REVERSED, s, s["indicator_id"], prj, pid)
        return [prj, s["indicator_id"], pid]

    def progress(self, rows: Rows, pos: int, typ: str, origin: str, s: dict[str, Any]) -> list[str]:
        prj = self.ids[origin]
        rows["rm_progress_reports"].append((pos, prj, str(s["percent"]), s["effective_date"],
                                            s["timestamp"]))
        return [prj]

    def renamed(self, rows: Rows, pos: int, typ: str, origin: str, s: dict[str, Any]) -> list[str]:
        prj = self.ids[origin]
        rows["rm_renames"].append((pos, prj, s["old_name"], s["new_name"], s["doc"],
                                   s["effective_date"], s["timestamp"]))
        return [prj]

    def unit_set(self, rows: Rows, pos: int, typ: str, origin: str, s: dict[str, Any]) -> list[str]:
        """Unit.Declared / Unit.Corrected: the unit's level and area from this event on (both
        events name the unit)."""
        name = s["unit"]
        rows["rm_units"].append((pos, name, s["level"], s.get("area"), s["direct_county"],
                                 s.get("doc"), s["effective_date"], s["timestamp"]))
        return [name]

    def subject_refined(self, rows: Rows, pos: int, typ: str, origin: str, s: dict[str, Any]) -> list[str]:
        prj = self.ids[origin]
        rows["rm_line_subjects"].append((pos, prj, s["indicator_id"], s["subject"],
                                         s["effective_date"], s["timestamp"]))
        return [prj, s["indicator_id"]]


E = event_name
PAID, REVERSED = E(Project.PaymentMade), E(Project.PaymentReversed)
_CREATIONS = {E(Indicator.Issued), E(Indicator.Received), E(Indicator.PoolReceived),
              E(Project.Registered)}
Unit: Any = _Unit  # its @event classes are made at run time too
_SELF_NAMED = {E(Unit.Declared), E(Unit.Corrected)}  # name their entity; no UUID look-up
_OTHER = sql_fast_path.COUNTERPARTY  # the counterparty an indicator movement names

# event (by class) → the writer's handler; an event class renamed or removed fails here
_HANDLERS: dict[str, Callable[..., list[str] | None]] = {
    E(Indicator.Issued): JournalWriter.indicator_created,
    E(Indicator.Received): JournalWriter.indicator_created,
    E(Indicator.PoolReceived): JournalWriter.indicator_created,
    **{typ: JournalWriter.indicator_move for typ in _OTHER},
    E(Project.Registered): JournalWriter.project_registered,
    E(Project.FundingAllocated): JournalWriter.funding,
    E(Project.FundingReleased): JournalWriter.funding,
    E(Project.PaymentMade): JournalWriter.payment,
    E(Project.PaymentReversed): JournalWriter.reversal,
    E(Project.ProgressReported): JournalWriter.progress,
    E(Project.Renamed): JournalWriter.renamed,
    E(Project.SubjectRefined): JournalWriter.subject_refined,
    **{typ: JournalWriter.unit_set for typ in _SELF_NAMED},
}

# ---- schema and position ------------------------------------------------------------------------


def schema_version(conn: Connection) -> int | None:
    """The read models' schema version; None when there are none yet, 1 for a pre-journal store."""
    names = set(inspect(conn).get_table_names())
    if Position.__tablename__ not in names:
        return None
    if Meta.__tablename__ not in names:
        return 1
    value = conn.execute(select(Meta.value).where(Meta.key == "schema_version")).scalar()
    return int(value) if value else 1


def create_schema(conn: Connection, *, indexes: bool = True) -> None:
    """Every read-model table (with or without its secondary indexes), position 0, the version."""
    for table in ALL_TABLES:
        conn.execute(CreateTable(table, if_not_exists=True))
    for ix in LOOKUP_INDEXES:
        ix.create(conn, checkfirst=True)
    if indexes:
        for ix in INDEXES:
            ix.create(conn, checkfirst=True)
    conn.execute(insert(Position.__table__).values(name=POSITION_NAME, position=0))
    conn.execute(insert(Meta.__table__).values(key="schema_version", value=str(SCHEMA_VERSION)))


def drop_schema(conn: Connection) -> None:
    """Drop every read-model table, of this version or an earlier one (rm_* only)."""
    names = [n for n in inspect(conn).get_table_names() if n.startswith("rm_")]
    for name in names:
        conn.execute(text(f'DROP TABLE IF EXISTS "{name}"'))


def ensure_schema(engine: Engine) -> None:
    """Create the read models when there are none; refuse ones of another version."""
    with engine.begin() as conn:
        version = schema_version(conn)
        if version is None:
            create_schema(conn)
        elif version != SCHEMA_VERSION:
            raise ReadModelsOutdated(
                f"the read models in this store were written by an earlier version (schema "
                f"{version}, now {SCHEMA_VERSION}); run `budget-ledger rebuild`"
            )


def read_position(conn: Connection) -> int:
    return int(conn.execute(select(Position.position).where(Position.name == POSITION_NAME)).scalar_one())


# ---- the updater ----------------------------------------------------------------------------------


class Projector:
    """Keeps the read models of one ledger up to date with its log."""

    def __init__(self, app: BudgetLedger, engine: Engine | None = None, batch_size: int = 2000,
                 sql_path: bool = True) -> None:
        """``sql_path=False``: every event through the Python writer, even in the store's own
        database (the benchmark's comparison)."""
        from projections.db import engine_for

        self.app = app
        self.engine = engine if engine is not None else engine_for(app.config)
        self.batch_size = batch_size
        self.sql_path = sql_path
        self.writer = JournalWriter()
        self._schema_ready = False

    def ensure_schema(self) -> None:
        if not self._schema_ready:
            ensure_schema(self.engine)
            self._schema_ready = True

    def position(self) -> int:
        self.ensure_schema()
        with self.engine.connect() as conn:
            return read_position(conn)

    def _store_table(self) -> tuple[bool, str]:
        """(sqlite?, the event table's name as the library's own SQL qualifies it)."""
        recorder: Any = self.app.recorder
        sqlite = self.app.config.kind == "sqlite"
        table = recorder.events_table_name
        if not sqlite:
            table = f'"{recorder.datastore.schema}"."{table}"'
        return sqlite, table

    def read(self, after: int, limit: int, stop: int | None = None) -> list[StoredEvent]:
        """The next stored events, on the event store's own connection pool (a read)."""
        sqlite, table = self._store_table()
        with self.app.recorder.datastore.transaction(commit=False) as curs:  # type: ignore[attr-defined]
            return read_log(curs, sqlite, table, after, limit, stop)

    def _same_database(self) -> bool:
        """The read models live in the event store's own database (its SQLite file, or its
        PostgreSQL database, any schema), so SQL can read the events: not a scratch database."""
        url, env = self.engine.url, self.app.config.env
        if self.app.config.kind == "sqlite":
            path = self.app.config.sqlite_path
            db = url.database if url.get_backend_name() == "sqlite" else None
            return bool(path and db) and os.path.realpath(str(db)) == os.path.realpath(str(path))
        return url.get_backend_name() == "postgresql" and (
            url.host, str(url.port or 5432), url.database) == (
            env["POSTGRES_HOST"], env["POSTGRES_PORT"], env["POSTGRES_DBNAME"])

    def next_range(self, after: int, batch: int, stop: int | None = None) -> int | None:
        """The position that ends the next batch of ``batch`` events after ``after`` (None: none)."""
        sqlite, table = self._store_table()
        pos = "rowid" if sqlite else "notification_id"
        with self.app.recorder.datastore.transaction(commit=False) as curs:  # type: ignore[attr-defined]
            curs.execute(f"SELECT {pos} AS pos FROM {table} WHERE {pos} > {int(after)} "
                         f"ORDER BY {pos} LIMIT 1 OFFSET {int(batch) - 1}")
            row = curs.fetchone()
            if row is None:
                curs.execute(f"SELECT max({pos}) AS pos FROM {table} WHERE {pos} > {int(after)}")
                row = curs.fetchone()
        hi = None if row is None or row["pos"] is None else int(row["pos"])
        if hi is not None and stop is not None:
            hi = min(hi, stop)
        return None if hi is None or hi <= after else hi

    def apply_range(self, conn: Connection, after: int, upto: int) -> int:
        """Apply the events at positions (after, upto]; returns how many.

        In the store's own database (its SQLite file or PostgreSQL database) the database decodes
        them (``projections/sql_fast_path``); in a scratch database, or when that path cannot
        vouch for an event, the writer does, and names what is wrong."""
        if self.sql_path and self._same_database():
            _sqlite, table = self._store_table()
            try:
                done = sql_fast_path.apply(conn, table, after, upto)
            except (DBAPIError, sql_fast_path.Refused):  # an altered log: its savepoint is undone
                done = None
            if done is not None:
                return done
        notes = self.read(after, upto - after, stop=upto)
        self.writer.apply(conn, notes)
        return len(notes)

    def states(self, positions: Sequence[int]) -> dict[int, dict[str, Any]]:
        """The stored fields of the events at ``positions`` (for ``history`` and ``log``)."""
        sqlite, table = self._store_table()
        pos = "rowid" if sqlite else "notification_id"
        out: dict[int, dict[str, Any]] = {}
        with self.app.recorder.datastore.transaction(commit=False) as curs:  # type: ignore[attr-defined]
            for chunk in chunks(positions):
                curs.execute(states_query(table, pos, chunk))
                for r in curs.fetchall():
                    out[int(r["pos"])] = decode_state(bytes(r["state"]))
        return out

    def lag(self) -> int:
        """How many log positions the read models are behind."""
        return max(0, self.app.last_position() - self.position())

    def catch_up(self, max_events: int | None = None, on_batch: Callable[[int], None] | None = None) -> int:
        """Apply every event after the stored position; returns how many were applied.

        From position 0 (empty read models: the first query after an import) the secondary
        indexes are dropped first and built once at the end, as a rebuild does (kept up to date
        row by row, they made it a third slower: 29.6k against 41k events/s at 0.1, main of
        2026-11-30). Batches still commit one by one, so a killed catch-up keeps what it
        committed; ``rm_meta`` says the indexes are deferred, and the next catch-up finishes the
        load and builds them."""
        self.ensure_schema()
        bulk = self._begin_bulk()
        try:
            return self._catch_up(max_events, on_batch)
        finally:
            if bulk:
                self._build_indexes()

    def _begin_bulk(self) -> bool:
        """True when the secondary indexes are deferred: dropped now (position 0, events to
        apply) or still missing after a killed bulk catch-up. One read otherwise."""
        with self.engine.connect() as conn:
            position, deferred = conn.execute(select(
                select(Position.position).where(Position.name == POSITION_NAME).scalar_subquery(),
                select(Meta.value).where(Meta.key == DEFERRED).scalar_subquery(),
            )).one()
        if deferred is not None:
            return True
        if position != 0 or self.next_range(0, 1) is None:
            return False
        with self.engine.begin() as conn:  # a write first: the lock, before reading again
            conn.execute(insert(Meta.__table__).from_select(
                ["key", "value"],
                select(literal(DEFERRED), literal("1")).where(
                    ~select(Meta.key).where(Meta.key == DEFERRED).exists())))
            if read_position(conn) == 0:  # no racing updater got ahead of us
                for ix in INDEXES:
                    conn.execute(DropIndex(ix, if_exists=True))
        return True

    def _build_indexes(self) -> None:
        """The deferred secondary indexes, once (``IF NOT EXISTS``: a racing updater may have)."""
        with self.engine.begin() as conn:
            for ix in INDEXES:
                conn.execute(CreateIndex(ix, if_not_exists=True))
            conn.execute(delete(Meta.__table__).where(Meta.key == DEFERRED))
            if conn.dialect.name == "postgresql":  # fresh statistics after a bulk load
                for table in DATA_TABLES:
                    conn.exec_driver_sql(f"ANALYZE {table.name}")

    def _catch_up(self, max_events: int | None, on_batch: Callable[[int], None] | None) -> int:
        applied = 0
        while max_events is None or applied < max_events:
            limit = self.batch_size if max_events is None else min(self.batch_size, max_events - applied)
            start = self.position()
            upto = self.next_range(start, limit)
            if upto is None:
                break
            with self.engine.begin() as conn:
                moved = conn.execute(
                    update(Position.__table__)
                    .where(Position.name == POSITION_NAME, Position.position == start)
                    .values(position=upto)
                ).rowcount
                if moved != 1:  # another updater applied this batch first; start again from its position
                    conn.rollback()
                    continue
                count = self.apply_range(conn, start, upto)
            applied += count
            if on_batch:
                on_batch(count)
        return applied

    def rebuild(self, on_batch: Callable[[int], None] | None = None, batch_size: int = 10_000,
                until_position: int | None = None) -> int:
        """Drop the read models (of any version) and fold the whole log into new ones, in one
        transaction: a killed rebuild leaves the old tables. Secondary indexes are built once at
        the end, which is much faster than keeping them up to date row by row."""
        self.writer = JournalWriter()
        applied = 0
        with self.engine.begin() as conn:
            drop_schema(conn)
            create_schema(conn, indexes=False)
            start = 0
            while True:
                upto = self.next_range(start, batch_size, stop=until_position)
                if upto is None:
                    break
                count = self.apply_range(conn, start, upto)
                start = upto
                applied += count
                if on_batch:
                    on_batch(count)
            for ix in INDEXES:
                ix.create(conn)
            if conn.dialect.name == "postgresql":  # fresh statistics, or the planner scans the journal
                for table in ALL_TABLES:
                    conn.exec_driver_sql(f"ANALYZE {table.name}")
            conn.execute(update(Position.__table__).where(Position.name == POSITION_NAME).values(position=start))
        self._schema_ready = True
        return applied

