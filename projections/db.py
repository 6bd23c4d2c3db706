"""The read models' SQLAlchemy engine, on the same database as the event store."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

from sqlalchemy import Connection, Engine, create_engine, event

from ledger.store import StoreConfig


def engine_for(config: StoreConfig) -> Engine:
    if config.kind == "sqlite":
        engine = create_engine(config.sqlalchemy_url, connect_args={"timeout": 30})

        @event.listens_for(engine, "connect")
        def _pragmas(dbapi_conn: Any, _record: Any) -> None:
            # SQLAlchemy, not pysqlite, opens transactions (below): pysqlite would run DDL such
            # as a rebuild's DROP TABLE outside one, and cannot nest savepoints
            dbapi_conn.isolation_level = None
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA synchronous=NORMAL")
            # read models are derived data: dropping them need not zero their pages (Debian's
            # SQLite is built with SECURE_DELETE). Temp data stays on disk: in memory, building
            # the indexes of a national rebuild took the process to 488 MB.
            cur.execute("PRAGMA secure_delete=OFF")
            cur.execute("PRAGMA cache_size=-32768")
            cur.close()

        @event.listens_for(engine, "begin")
        def _begin(conn: Connection) -> None:
            conn.exec_driver_sql("BEGIN")

        return engine
    connect_args: dict[str, Any] = {"connect_timeout": 5}
    if config.schema:
        connect_args["options"] = f"-csearch_path={config.schema}"
    return create_engine(config.sqlalchemy_url, connect_args=connect_args, pool_pre_ping=True)


def scratch_engine() -> Engine:
    """An in-memory SQLite database for replays and rebuilds that must not touch the live tables."""
    from sqlalchemy.pool import StaticPool

    return create_engine(
        "sqlite://", connect_args={"check_same_thread": False}, poolclass=StaticPool
    )


# The library's table of stored events in a SQLite store (its default name).
SQLITE_EVENTS_TABLE = "stored_events"


def current_engine(config: StoreConfig) -> Engine | None:
    """The read models of a SQLite store when they are current — written by this schema version,
    caught up with the end of the log, no index build pending — found with one SQL query, without opening the event
    store: a query on current read models then never imports ``eventsourcing`` nor the
    aggregates (about a quarter of its start-up). ``None`` when they are not current, or the
    store is anything but a readable SQLite ledger: the caller opens the store, which catches
    up, rebuilds, or says what is wrong."""
    from pathlib import Path

    from sqlalchemy.exc import DBAPIError

    from projections.tables import DEFERRED, POSITION_NAME, SCHEMA_VERSION

    path = config.sqlite_path
    if config.kind != "sqlite" or not path or not Path(path).is_file():
        return None
    engine = engine_for(config)
    try:
        with engine.connect() as conn:
            version, deferred, position, end = conn.exec_driver_sql(
                "SELECT (SELECT value FROM rm_meta WHERE key = 'schema_version'), "
                "(SELECT value FROM rm_meta WHERE key = ?), "
                "(SELECT position FROM rm_position WHERE name = ?), "
                f"(SELECT max(rowid) FROM {SQLITE_EVENTS_TABLE})", (DEFERRED, POSITION_NAME)).one()
    except DBAPIError:
        engine.dispose()
        return None
    if (version != str(SCHEMA_VERSION) or deferred is not None or position is None
            or position != (end or 0)):
        engine.dispose()
        return None
    return engine


def sqlite_states(engine: Engine, positions: Sequence[int]) -> dict[int, dict[str, Any]]:
    """The stored fields of the events at ``positions``, read from a SQLite store's own file
    through the read models' engine: ``history`` and ``log`` on current read models need not open
    the event store (see :func:`current_engine`)."""
    from projections.stored_state import decode_state, states_query

    out: dict[int, dict[str, Any]] = {}
    with engine.connect() as conn:
        for chunk in chunks(positions):
            for pos, state in conn.exec_driver_sql(states_query(SQLITE_EVENTS_TABLE, "rowid", chunk)):
                out[int(pos)] = decode_state(bytes(state) if not isinstance(state, str) else state)
    return out


CHUNK = 500


def chunks(keys: Sequence[Any], n: int = CHUNK) -> list[Sequence[Any]]:
    """IN-lists of at most ``n`` keys (SQLite and PostgreSQL both bound a statement's parameters)."""
    return [keys[i : i + n] for i in range(0, len(keys), n)]


Source = Connection | Engine
"""What every query accepts: an open connection, or an engine (live tables or a replay)."""


@contextmanager
def connected(source: Source) -> Iterator[Connection]:
    """A connection for a query: the one given, or a fresh one from the engine."""
    if isinstance(source, Connection):
        yield source
    else:
        with source.connect() as conn:
            yield conn
