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
