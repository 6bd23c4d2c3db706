"""The PostgreSQL application recorder with the hash chain (see :mod:`ledger.integrity`).

A module of its own so that only PostgreSQL stores import psycopg: :mod:`ledger.store` names it
in APPLICATION_RECORDER_TOPIC, and the library imports it when it builds the recorder.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any
from uuid import UUID

from eventsourcing.persistence import StoredEvent
from eventsourcing.postgres import PostgresApplicationRecorder
from psycopg.sql import SQL, Identifier

from ledger.integrity import MANY, ChainRow, chain_rows
from ledger.library_patches import postgres_insert_events_without_retries

if TYPE_CHECKING:
    from psycopg import Connection, Cursor
    from psycopg.rows import DictRow


class ChainedPostgresApplicationRecorder(PostgresApplicationRecorder):
    """The library's PostgreSQL recorder plus the chain table.

    The library inserts events under ``LOCK TABLE ... IN EXCLUSIVE MODE`` and fetches their
    notification ids; the chain rows are appended right then, still holding that lock, in the
    same transaction.
    """

    def __init__(self, datastore: Any, *, events_table_name: str = "stored_events") -> None:
        super().__init__(datastore, events_table_name=events_table_name)
        if self.datastore.enable_db_functions:  # that path inserts without our hook
            raise ValueError("POSTGRES_ENABLE_DB_FUNCTIONS would bypass the hash chain")
        self.chain_table_name = f"{events_table_name}_chain"
        self.check_identifier_length(self.chain_table_name)
        schema, table = Identifier(self.datastore.schema), Identifier(self.chain_table_name)
        self.sql_create_statements.append(
            SQL(
                "CREATE TABLE IF NOT EXISTS {}.{} (position bigint PRIMARY KEY, "
                "prev_position bigint NOT NULL, content_hash text NOT NULL, "
                "chain_hash text NOT NULL)"
            ).format(schema, table)
        )
        self._sql_select_many = SQL(
            "SELECT e.originator_id, e.originator_version, e.topic, e.state "
            "FROM unnest(%s::uuid[], %s::bigint[]) AS w(id, v) JOIN {}.{} AS e "
            "ON e.originator_id = w.id AND e.originator_version > w.v "
            "ORDER BY e.originator_id, e.originator_version"
        ).format(schema, Identifier(self.events_table_name))
        cols = SQL("position, prev_position, content_hash, chain_hash")
        self._sql_head = SQL("SELECT {} FROM {}.{} ORDER BY position DESC LIMIT 1").format(
            cols, schema, table
        )
        # One statement for a whole save's chain rows, not one per row: the row-by-row
        # executemany was a third of the insert (docs/performance.md, "Write path"). Each
        # column goes as ONE comma-joined text, split by the server: psycopg dumps a Python
        # list element by element in Python, ~10 % of a PostgreSQL import (numbers and hex
        # digests hold no comma).
        self._sql_insert_chain = SQL(
            "INSERT INTO {}.{} ({}) SELECT * FROM unnest("
            "string_to_array(%s, ',')::bigint[], string_to_array(%s, ',')::bigint[], "
            "string_to_array(%s, ','), string_to_array(%s, ','))"
        ).format(schema, table, cols)
        self._sql_select_chain = SQL("SELECT {} FROM {}.{} WHERE position > %s").format(
            cols, schema, table
        )

    def create_table(self) -> None:
        """``init`` creates everything, the ?schema=NAME itself included.

        When the schema is already there, no DDL runs at all: CREATE INDEX IF NOT EXISTS would
        queue behind a writer's EXCLUSIVE lock (for as long as a big import takes) and every
        command opening the store, queries included, would hang with it.
        """
        if self._schema_exists():
            self.datastore.register_type_adapters()
            return
        with self.datastore.transaction(commit=True) as curs:
            curs.execute(SQL("CREATE SCHEMA IF NOT EXISTS {}").format(Identifier(self.datastore.schema)))
        super().create_table()

    def _schema_exists(self) -> bool:
        schema = self.datastore.schema
        with self.datastore.get_connection() as conn, conn.cursor() as curs:
            curs.execute(
                "SELECT to_regclass(%s) IS NOT NULL AND to_regclass(%s) IS NOT NULL "
                "AND to_regtype(%s) IS NOT NULL AS ok",
                (f'"{schema}"."{self.events_table_name}"', f'"{schema}"."{self.chain_table_name}"',
                 f'"{schema}"."{self.stored_event_type_name}"'),
            )
            row = curs.fetchone()
            return bool(row and row["ok"])

    # One retry loop, BudgetLedger.run's: the library's own 10 retries around each insert
    # would multiply it into minutes behind a stuck lock (ledger/library_patches.py, item 4).
    _insert_once = postgres_insert_events_without_retries()
    _held: Connection[DictRow] | None = None

    def insert_events(
        self, stored_events: Sequence[StoredEvent], **kwargs: Any
    ) -> Sequence[int] | None:
        conn = self._held
        if conn is None:
            return self._insert_once(stored_events, **kwargs)  # type: ignore[no-any-return]
        with conn.cursor() as curs:  # the library's steps, in the held transaction
            self._insert_events(curs, stored_events, **kwargs)
            if not stored_events:
                return []
            self._insert_stored_events(curs, stored_events, **kwargs)  # takes the table lock
            return self._fetch_ids_after_insert_events(curs, stored_events, **kwargs)

    @contextmanager
    def held_transaction(self) -> Iterator[None]:
        """Every ``insert_events`` inside the block goes into ONE transaction on one connection:
        committed when the block ends, rolled back when it raises (see the SQLite recorder's).
        The EXCLUSIVE table lock is held from the first insert to the end of the block."""
        with self.datastore.get_connection() as conn, conn.transaction():
            self._held = conn
            try:
                yield
            finally:
                self._held = None

    def _fetch_ids_after_insert_events(  # private hook: ledger/library_patches.py, item 3
        self, curs: Cursor[DictRow], stored_events: Sequence[StoredEvent], **kwargs: Any
    ) -> Sequence[int] | None:
        ids = super()._fetch_ids_after_insert_events(curs, stored_events, **kwargs)
        if stored_events and ids:
            curs.execute(self._sql_head)
            row = curs.fetchone()
            head = ChainRow(**row) if row else None
            rows = chain_rows(head, stored_events, list(ids))
            curs.execute(self._sql_insert_chain,
                         [",".join(map(str, col)) for col in zip(*rows, strict=True)])
        return ids

    def select_events_of_many(self, originator_ids: Sequence[UUID],
                              after: Mapping[UUID, int] | None = None) -> list[StoredEvent]:
        """Every event of these aggregates in one query, by originator then version; ``after``:
        only the events above this version of an aggregate (its snapshot's)."""
        out: list[StoredEvent] = []
        after = after or {}
        for i in range(0, len(originator_ids), MANY):
            part = list(originator_ids[i:i + MANY])
            with self.datastore.get_connection() as conn, conn.cursor() as curs:
                curs.execute(self._sql_select_many, [part, [after.get(o, 0) for o in part]])
                out.extend(StoredEvent(r["originator_id"], r["originator_version"], r["topic"],
                                       bytes(r["state"])) for r in curs.fetchall())
        return out

    def select_chain(self, after: int, upto: int | None, limit: int) -> list[ChainRow]:
        sql, params = self._sql_select_chain, [after]
        if upto is not None:
            sql += SQL(" AND position <= %s")
            params.append(upto)
        sql += SQL(" ORDER BY position LIMIT %s")
        params.append(limit)
        with self.datastore.get_connection() as conn, conn.cursor() as curs:
            curs.execute(sql, params)
            return [ChainRow(**r) for r in curs.fetchall()]

    def chain_head(self) -> ChainRow | None:
        with self.datastore.get_connection() as conn, conn.cursor() as curs:
            curs.execute(self._sql_head)
            row = curs.fetchone()
            return ChainRow(**row) if row else None
