"""verify: rebuild every read model from the log into scratch tables and compare row by row.

The rebuild goes through the Python writer (``JournalWriter``), so it cross-checks the SQL path
that fills the live tables, and stops at the live tables' own position: a projection that is
merely behind is not reported as wrong (the CLI catches up first anyway). The scratch tables sit
beside the live ones — an attached SQLite file, or a scratch schema of the same PostgreSQL
database — so the database itself finds the differing rows (``EXCEPT``, both ways), and only
those are read into Python to name each difference: a row missing, a row too many, or a column
whose value differs. Where no scratch schema can be made, every row is compared in Python, in
key order and in chunks.
"""

from __future__ import annotations

import os
import tempfile
import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

from sqlalchemy import Connection, Engine, Table, create_engine, select, tuple_
from sqlalchemy.exc import DBAPIError

from projections.db import scratch_engine
from projections.tables import DATA_TABLES
from projections.updater import Projector, ensure_schema, read_position
from projections.writer import UndecodableEvent

if TYPE_CHECKING:
    from ledger.application import BudgetLedger

_CHUNK = 2000
MAX_REPORTED = 1000


def verify_projections(app: BudgetLedger, engine: Engine) -> list[str]:
    """Every difference between the live read models on ``engine`` and a rebuild from the log."""
    ensure_schema(engine)
    with engine.connect() as live:
        position = read_position(live)
    head = app.recorder.max_notification_id() or 0
    problems: list[str] = []
    if position > head:
        problems.append(f"rm_position: live tables claim position {position}, the log ends at {head}")
    with _beside(engine) as (scratch, prefix):
        try:
            Projector(app, scratch, sql_path=False).rebuild(until_position=position)
        except UndecodableEvent as e:
            return [*problems, f"log: {e}"]
        with engine.connect() as live, scratch.connect() as fresh:
            attached = prefix is not None and live.dialect.name == "sqlite"
            if attached:  # outside a transaction: before the connection's first statement
                live.connection.dbapi_connection.execute(  # type: ignore[union-attr]
                    f"ATTACH DATABASE '{scratch.url.database}' AS {prefix}")
            for table in DATA_TABLES:
                if prefix:
                    keys = _differing_keys(live, table, prefix)
                    problems.extend(describe(table, live, fresh, keys, both=True))
                else:
                    problems.extend(compare_table(table, live, fresh))
                if len(problems) >= MAX_REPORTED:
                    problems.append(f"… stopped after {MAX_REPORTED} differences")
                    break
            if attached:
                live.rollback()
                live.connection.dbapi_connection.execute(  # type: ignore[union-attr]
                    f"DETACH DATABASE {prefix}")
    return problems


@contextmanager
def _beside(engine: Engine) -> Iterator[tuple[Engine, str | None]]:
    """A scratch database the live connection can read with SQL, and the prefix naming it there:
    a temporary SQLite file (attached as ``fresh``), or a scratch schema of the same PostgreSQL
    database. ``None``: an in-memory database, compared row by row in Python."""
    if engine.dialect.name == "sqlite":
        folder = tempfile.mkdtemp(prefix="budget-ledger-verify-")
        path = os.path.join(folder, "fresh.db")
        scratch = create_engine(f"sqlite:///{path}")
        try:
            yield scratch, "fresh"
        finally:
            scratch.dispose()
            for name in os.listdir(folder):
                os.unlink(os.path.join(folder, name))
            os.rmdir(folder)
        return
    schema = f"bl_verify_{uuid.uuid4().hex[:12]}"
    try:
        with engine.begin() as conn:
            conn.exec_driver_sql(f'CREATE SCHEMA "{schema}"')
    except DBAPIError:  # no right to create a schema: compare in Python
        memory = scratch_engine()
        try:
            yield memory, None
        finally:
            memory.dispose()
        return
    scratch = create_engine(engine.url, connect_args={"options": f"-csearch_path={schema}"})
    try:
        yield scratch, f'"{schema}"'
    finally:
        scratch.dispose()
        with engine.begin() as conn:
            conn.exec_driver_sql(f'DROP SCHEMA "{schema}" CASCADE')


def _differing_keys(live: Connection, table: Table, fresh: str) -> list[tuple[Any, ...]]:
    """Keys of the rows that are not identical in the live table and in ``fresh``'s, found by
    the database (``EXCEPT`` both ways: a row missing, too many, or with another value)."""
    cols = ", ".join(f'"{c.name}"' for c in table.columns)
    key = ", ".join(f'"{c.name}"' for c in _key(table))
    mine, theirs = f'"{table.name}"', f'{fresh}."{table.name}"'
    sql = (f"SELECT {key} FROM (SELECT {cols} FROM {mine} EXCEPT SELECT {cols} FROM {theirs}) a "
           f"UNION SELECT {key} FROM (SELECT {cols} FROM {theirs} EXCEPT SELECT {cols} FROM {mine}) b "
           f"ORDER BY {key} LIMIT {MAX_REPORTED + 1}")
    return [tuple(r) for r in live.exec_driver_sql(sql)]


def _key(table: Table) -> list[Any]:
    """The columns a row is named by: its natural key where the table declares one (a payment
    by its id, not its position), else its primary key."""
    natural = table.info.get("natural_key")
    return [table.c[n] for n in natural] if natural else list(table.primary_key.columns)


def _ident(table: Table, key: tuple[Any, ...]) -> str:
    return f"{table.name}[{', '.join(str(k) for k in key)}]"


def _fetch(conn: Connection, table: Table, keys: Sequence[tuple[Any, ...]]) -> dict[tuple[Any, ...], dict[str, Any]]:
    cols = _key(table)
    cond = cols[0].in_([k[0] for k in keys]) if len(cols) == 1 else tuple_(*cols).in_(keys)
    out = {}
    for row in conn.execute(select(table).where(cond)).mappings():
        out[tuple(row[c.name] for c in cols)] = dict(row)
    return out


def _keys(conn: Connection, table: Table) -> Iterator[list[tuple[Any, ...]]]:
    """Primary keys in chunks, by keyset pagination (no cursor held open between chunks)."""
    cols = _key(table)
    last: tuple[Any, ...] | None = None
    while True:
        stmt = select(*cols).order_by(*cols).limit(_CHUNK)
        if last is not None:
            stmt = stmt.where(cols[0] > last[0] if len(cols) == 1 else tuple_(*cols) > last)
        keys = [tuple(r) for r in conn.execute(stmt)]
        if not keys:
            return
        yield keys
        last = keys[-1]


def describe(table: Table, live: Connection, fresh: Connection, keys: Sequence[tuple[Any, ...]],
             both: bool) -> list[str]:
    """Name how each row of ``keys`` differs: missing from the live table, a column's value, or
    (``both``) in the live table but not in the rebuilt one."""
    problems: list[str] = []
    for start in range(0, len(keys), _CHUNK):
        chunk = keys[start:start + _CHUNK]
        want, have = _fetch(fresh, table, chunk), _fetch(live, table, chunk)
        for k in chunk:
            if k not in want:
                if both and k in have:
                    problems.append(f"{_ident(table, k)}: in the live table but not in the log")
                continue
            if k not in have:
                problems.append(f"{_ident(table, k)}: missing from the live table")
                continue
            for col, value in want[k].items():
                if have[k][col] != value:
                    problems.append(f"{_ident(table, k)}: {col} is {have[k][col]!r} in the live "
                                    f"table, {value!r} rebuilt from the log")
    return problems


def compare_table(table: Table, live: Connection, fresh: Connection) -> list[str]:
    """Rows of ``table`` that differ between the live tables and the rebuilt ones, every row
    read into Python (when the two cannot be compared by SQL)."""
    problems: list[str] = []
    for keys in _keys(fresh, table):
        problems.extend(describe(table, live, fresh, keys, both=False))
    for keys in _keys(live, table):
        rebuilt = _fetch(fresh, table, keys)
        problems.extend(f"{_ident(table, k)}: in the live table but not in the log"
                        for k in keys if k not in rebuilt)
    return problems
