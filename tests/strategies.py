"""Shared by the property tests: read-model snapshots to compare stores, steps and replays."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, Engine

from projections.tables import DATA_TABLES

# every read model, ordered by primary key; rm_position and rm_meta are compared separately
TABLES = DATA_TABLES

Dump = dict[str, list[Any]]  # table name → rows (tuple-like, with attribute access)


def _select_all(table: Any, ignore_recorded_at: bool) -> str:
    skip = {"recorded_at"} if ignore_recorded_at else set()
    cols = [c.name for c in table.columns if c.name not in skip]
    keys = ", ".join(c.name for c in table.primary_key.columns)
    return f"SELECT {', '.join(cols)} FROM {table.name} ORDER BY {keys}"


_SQL = {flag: [(t.name, _select_all(t, flag)) for t in TABLES] for flag in (False, True)}


def dump(source: Engine | Connection, *, ignore_recorded_at: bool = False) -> Dump:
    """Every read-model row, in primary-key order. Plain SQL: this runs several times a step,
    and the stores compared are all SQLite, so raw column values compare like for like."""

    def read(conn: Connection) -> Dump:
        return {name: list(conn.exec_driver_sql(sql).all()) for name, sql in _SQL[ignore_recorded_at]}

    if isinstance(source, Connection):
        return read(source)
    with source.connect() as conn:
        return read(conn)


def first_difference(a: Dump, b: Dump) -> str:
    """A readable account of where two dumps differ (for assertion messages)."""
    for name in a:
        ra, rb = a[name], b.get(name, [])
        if ra != rb:
            only_a = [r for r in ra if r not in rb][:3]
            only_b = [r for r in rb if r not in ra][:3]
            return f"{name}: only in first {only_a}; only in second {only_b}"
    return "no difference"


def indicator_rows(engine: Engine) -> dict[str, Any]:
    """The live indicators with their balances (from the journal), by id."""
    from projections import journal as jn

    with engine.connect() as conn:
        return {r.indicator_id: r for r in jn.indicators(conn, jn.LIVE)}
