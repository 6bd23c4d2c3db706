"""Bitemporal replay (--as-of / --known-at): the books as they were, folded from the log.

Nothing is guessed from the current state: the log is read from position 0, events outside the
window are skipped, and the rest go through the same :class:`ReadModelWriter` the live
projections use, into a scratch in-memory database. Every query then runs unchanged on the
returned engine, so "as of D" is exactly what the live tables showed after those events.

- ``as_of``: effective dates up to and including that day (业务日期).
- ``known_at``: only events recorded (``event.timestamp``) up to that moment; a naive datetime is
  taken as UTC, the zone in which ``recorded_at`` is shown.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import Engine, update

from projections.db import scratch_engine
from projections.tables import Position
from projections.updater import POSITION_NAME, Item, ReadModelWriter, ensure_schema

if TYPE_CHECKING:
    from ledger.application import BudgetLedger

READ_BATCH = 5000


def as_utc(moment: datetime) -> datetime:
    """Naive timestamps are UTC (the zone ``recorded_at`` is printed in)."""
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment


def _keep(ev: Any, as_of: date | None, known_at: datetime | None) -> bool:
    if as_of is not None and ev.effective_date > as_of:
        return False
    return known_at is None or as_utc(ev.timestamp) <= known_at


def replay_engine(
    app: BudgetLedger,
    *,
    as_of: date | None = None,
    known_at: datetime | None = None,
    until_position: int | None = None,
    batch_size: int = READ_BATCH,
) -> Engine:
    """Fold the log (filtered by ``as_of`` / ``known_at``, and up to ``until_position`` when
    given) into fresh read-model tables of a scratch engine, and return that engine.

    ``rm_position`` holds the last log position read, whether or not its event was kept.
    """
    if known_at is not None:
        known_at = as_utc(known_at)
    engine = scratch_engine()
    ensure_schema(engine)
    writer = ReadModelWriter()
    mapper = app.mapper
    start = 0
    with engine.begin() as conn:
        while until_position is None or start < until_position:
            limit = batch_size if until_position is None else min(batch_size, until_position - start)
            notes = app.recorder.select_notifications(start, limit, inclusive_of_start=False)
            if not notes:
                break
            items: list[Item] = []
            for n in notes:
                ev = mapper.to_domain_event(n)
                if _keep(ev, as_of, known_at):
                    items.append((n.id, ev))
            writer.apply(conn, items)
            start = notes[-1].id
        conn.execute(update(Position).where(Position.name == POSITION_NAME).values(position=start))
    return engine
