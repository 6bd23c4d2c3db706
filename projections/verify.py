"""verify: rebuild every read model from the log into scratch tables and compare row by row.

The rebuild stops at the live tables' own position, so a projection that is merely behind is not
reported as wrong (the CLI catches up first anyway). Rows are compared in key order in chunks,
in both directions, so memory stays bounded on large logs and every difference is named:
a row missing, a row too many, or a column whose value differs.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING, Any

from sqlalchemy import Connection, Engine, Table, select, tuple_

from projections.db import scratch_engine
from projections.tables import DATA_TABLES
from projections.updater import Projector, UndecodableEvent, ensure_schema, read_position

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
    scratch = scratch_engine()
    try:
        Projector(app, scratch).rebuild(until_position=position)
    except UndecodableEvent as e:
        scratch.dispose()
        return [*problems, f"log: {e}"]
    with engine.connect() as live, scratch.connect() as fresh:
        for table in DATA_TABLES:
            problems.extend(compare_table(table, live, fresh))
            if len(problems) >= MAX_REPORTED:
                problems.append(f"… stopped after {MAX_REPORTED} differences")
                break
    scratch.dispose()
    return problems


def _key(table: Table) -> list[Any]:
    return list(table.primary_key.columns)


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


def compare_table(table: Table, live: Connection, fresh: Connection) -> list[str]:
    """Rows of ``table`` that differ between the live tables and the rebuilt ones."""
    problems: list[str] = []
    for keys in _keys(fresh, table):
        want = _fetch(fresh, table, keys)
        have = _fetch(live, table, keys)
        for k in keys:
            if k not in have:
                problems.append(f"{_ident(table, k)}: missing from the live table")
                continue
            for col, value in want[k].items():
                if have[k][col] != value:
                    problems.append(f"{_ident(table, k)}: {col} is {have[k][col]!r} in the live "
                                    f"table, {value!r} rebuilt from the log")
    for keys in _keys(live, table):
        rebuilt = _fetch(fresh, table, keys)
        problems.extend(f"{_ident(table, k)}: in the live table but not in the log"
                        for k in keys if k not in rebuilt)
    return problems
