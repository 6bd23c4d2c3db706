"""History of an entity and the raw log: ``rm_events`` and ``rm_payments`` find the events (by
entity, position and both dates: ``journal.log_select``); their own fields come from the event
store itself (``Fields``), so what is shown is the very bytes the hash chain covers.

Each event comes out with its common fields (position, recorded time, effective date, type,
actor, entity, document, amount) followed by its own fields; amounts are 元 strings.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from sqlalchemy import or_

from ledger.money import format_yuan
from projections.db import Source, connected
from projections.journal import LIVE, View, log_select

Fields = Callable[[Sequence[int]], dict[int, dict[str, Any]]]
"""Positions → the stored fields of those events (``Projector.states``)."""

EVENT_COLUMNS = ("position", "recorded_at", "effective_date", "type", "actor", "entity", "doc",
                 "amount", "detail")
_COMMON = {"effective_date", "actor", "doc", "amount", "timestamp", "originator_topic"}

Rec = Any  # a Core row: the table's columns as attributes (not an ORM instance)


def event_dict(r: Rec, fields: dict[str, Any] | None = None) -> dict[str, Any]:
    own = {k: v for k, v in (fields or {}).items() if k not in _COMMON}
    return {
        "position": r.position,
        "recorded_at": r.recorded_at,
        "effective_date": r.effective_date.isoformat(),
        "type": r.type,
        "actor": r.actor,
        "entity": r.entity,
        "doc": r.doc,
        "amount": format_yuan(r.amount) if r.amount is not None else None,
        **own,
    }


def detail(ev: dict[str, Any]) -> str:
    """The event's own fields on one line, for table and CSV output."""
    return ", ".join(f"{k}={v}" for k, v in ev.items()
                     if k not in EVENT_COLUMNS and v not in (None, "", False))


def _dicts(rows: list[Rec], fields: Fields | None) -> list[dict[str, Any]]:
    stored = fields([r.position for r in rows]) if fields and rows else {}
    return [event_dict(r, stored.get(r.position)) for r in rows]


def history(source: Source, entity: str, view: View = LIVE,
            fields: Fields | None = None) -> list[dict[str, Any]]:
    """Every event that touched ``entity`` (indicator, project or payment id), in log order."""
    with connected(source) as conn:
        stmt = log_select(conn.dialect.name, view, lambda c: [
            or_(c["entity"] == entity, c["other"] == entity, c["third"] == entity)])
        return _dicts(list(conn.execute(stmt)), fields)


def log(source: Source, after: int = 0, limit: int | None = None, view: View = LIVE,
        fields: Fields | None = None) -> list[dict[str, Any]]:
    """The log in order, from the event after position ``after``; at most ``limit`` events."""
    with connected(source) as conn:
        stmt = log_select(conn.dialect.name, view, lambda c: [c["position"] > after], limit=limit)
        return _dicts(list(conn.execute(stmt)), fields)
