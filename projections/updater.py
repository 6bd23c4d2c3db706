"""Feeding the read models from the event log: exactly once, in order, resumable.

One mechanism for both stores: read the stored events after the read models' position (straight
from the library's table, on its own connection: :func:`read_log`), turn them into rows, and
commit the rows together with the new position. The position is advanced *first*, with a
compare-and-set, so two updaters racing on one database cannot both apply the same batch.
(The library's ProjectionRunner needs ``recorder.subscribe()``, which the SQLite recorders
lack; pulling works the same on SQLite and PostgreSQL.)

Every read model is append-only (see ``projections/tables.py``), so applying an event never
reads or updates a row: in the store's own database the database decodes the events itself
(``projections/sql_fast_path.py``); elsewhere, or for an event that path refuses, the Python
writer does (``projections/writer.py``). That is what makes catch-up and rebuild fast.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

from sqlalchemy import Connection, Engine, delete, insert, inspect, literal, select, text, update
from sqlalchemy.exc import DBAPIError
from sqlalchemy.schema import CreateIndex, CreateTable, DropIndex

from ledger.errors import LedgerError
from projections import sql_fast_path
from projections.db import chunks
from projections.stored_state import (
    decode_state,
    states_query,
)
from projections.tables import (
    ALL_TABLES,
    DATA_TABLES,
    INDEXES,
    LOOKUP_INDEXES,
    SCHEMA_VERSION,
    Meta,
    Position,
)
from projections.tables import DEFERRED as DEFERRED
from projections.tables import POSITION_NAME as POSITION_NAME
from projections.writer import JournalWriter, StoredEvent, read_log

if TYPE_CHECKING:
    from ledger.application import BudgetLedger

#: events per committed batch of a bulk load (catch-up from 0, rebuild): at scale 1.0 on SQLite,
#: batches of 10,000 took 38.0 s where 50,000 took 31.7 s (docs/performance.md)
BULK_BATCH = 50_000


class ReadModelsOutdated(LedgerError):
    """The read models were written by another version of the ledger and must be rebuilt."""

    exit_code = 4


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
                 sql_path: bool = True, bulk_batch_size: int = BULK_BATCH) -> None:
        """``sql_path=False``: every event through the Python writer, even in the store's own
        database (the benchmark's comparison). ``bulk_batch_size``: events per committed batch
        while the indexes are deferred (a load from position 0, or a rebuild)."""
        from projections.db import engine_for

        self.app = app
        self.engine = engine if engine is not None else engine_for(app.config)
        self.batch_size = batch_size
        self.bulk_batch_size = bulk_batch_size
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
        """The position that ends the next batch of at most ``batch`` events after ``after``
        (None: none).

        SQLite: ``after + batch``, or the log's end. Its positions are rowids, so a batch holds
        ``batch`` events or fewer; counting them off (``OFFSET``) read every row's page, state
        included: ~1 s of a national rebuild. PostgreSQL's ids may have gaps (a rolled-back
        insert), so there the batch's last id is counted off its index."""
        sqlite, table = self._store_table()
        pos = "rowid" if sqlite else "notification_id"
        with self.app.recorder.datastore.transaction(commit=False) as curs:  # type: ignore[attr-defined]
            row = None
            if not sqlite:
                curs.execute(f"SELECT {pos} AS pos FROM {table} WHERE {pos} > {int(after)} "
                             f"ORDER BY {pos} LIMIT 1 OFFSET {int(batch) - 1}")
                row = curs.fetchone()
            elif batch > 0:
                curs.execute(f"SELECT min(max({pos}), {int(after) + int(batch)}) AS pos "
                             f"FROM {table} WHERE {pos} > {int(after)}")
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
            return self._catch_up(max_events, on_batch, bulk)
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

    def _catch_up(self, max_events: int | None, on_batch: Callable[[int], None] | None,
                  bulk: bool = False) -> int:
        size = self.bulk_batch_size if bulk else self.batch_size
        applied = 0
        while max_events is None or applied < max_events:
            limit = size if max_events is None else min(size, max_events - applied)
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
        """Drop the read models (of any version) and fold the whole log into new ones.

        In the store's own database this is a bulk catch-up from position 0 on empty tables
        (:meth:`_rebuild_in_place`). Into another database (``verify``'s scratch copy, up to
        ``until_position``) it is one transaction, a ``batch_size`` events at a time."""
        if until_position is None and self.sql_path and self._same_database():
            return self._rebuild_in_place(on_batch)
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

    def _rebuild_in_place(self, on_batch: Callable[[int], None] | None) -> int:
        """Empty tables at position 0 with the indexes deferred (one transaction), then the bulk
        catch-up: batches committed one by one, indexes built once at the end.

        One transaction for the whole load was 15 % slower at scale 1.0 on SQLite (likely its
        WAL, which grows to the size of the read models before the commit). An interrupted
        rebuild therefore leaves partial read models, never answered from: they are behind the
        log and flagged ``DEFERRED``, so the next command (a query, or ``rebuild`` again)
        finishes the load."""
        self.writer = JournalWriter()
        with self.engine.begin() as conn:
            drop_schema(conn)
            create_schema(conn, indexes=False)
            conn.execute(insert(Meta.__table__).values(key=DEFERRED, value="1"))
        self._schema_ready = True
        try:
            return self._catch_up(None, on_batch, bulk=True)
        finally:
            self._build_indexes()
