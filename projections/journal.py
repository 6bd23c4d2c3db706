"""Where money is counted: set-based SQL over the journal, for any (as-of, known-at) pair.

A :class:`View` names a point in both times: ``as_of`` (effective dates up to and including
that day, 业务日期) and ``known_at`` (only what was recorded by that moment). The live books are
the view with neither. Every read model row carries both dates, so each question is one
``SELECT … WHERE effective_date <= :as_of AND recorded_at <= :known_at`` — nothing is replayed.

The functions here return rows whose attributes are the old table columns plus the balances
(``received``, ``forwarded``, ``allocated``, ``recovered``, ``paid``, ``available`` for an
indicator; ``allocated``, ``paid``, ``name``, ``percent`` for a project; ``reversed`` for a
payment), so every query module and audit rule reads one shape whatever the view.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any, Protocol

from sqlalchemy import (
    BigInteger,
    ColumnElement,
    Connection,
    Row,
    Select,
    and_,
    case,
    cast,
    func,
    literal,
    literal_column,
    select,
    union_all,
)

from ledger.buckets import AVAILABLE_SIGNS, BUCKETS
from projections.db import chunks
from projections.stored_state import fixed_utc
from projections.tables import (
    PAYMENT_TYPE,
    EventRow,
    IndicatorRow,
    JournalRow,
    LineSubjectRow,
    PaymentRow,
    ProgressReportRow,
    ProjectRow,
    RenameRow,
    ReversalRow,
    UnitRow,
)

I = IndicatorRow.__table__  # noqa: E741 - the SQL alias reads best short
J = JournalRow.__table__
P = ProjectRow.__table__
PAY = PaymentRow.__table__
REV = ReversalRow.__table__
PROG = ProgressReportRow.__table__
REN = RenameRow.__table__
EV = EventRow.__table__
U = UnitRow.__table__
LS = LineSubjectRow.__table__


def as_utc(moment: datetime) -> datetime:
    """Naive timestamps are UTC (the zone ``recorded_at`` is printed in)."""
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


@dataclass(frozen=True)
class View:
    """A point in both times; ``View()`` is the live books."""

    as_of: date | None = None
    known_at: datetime | None = None

    @property
    def live(self) -> bool:
        return self.as_of is None and self.known_at is None

    @property
    def known_at_text(self) -> str | None:
        return None if self.known_at is None else fixed_utc(as_utc(self.known_at).isoformat())

    def visible(self, table: Any) -> list[ColumnElement[bool]]:
        """The conditions under which a row of ``table`` (it has both dates) is in this view."""
        conds: list[ColumnElement[bool]] = []
        if self.as_of is not None:
            conds.append(table.c.effective_date <= self.as_of)
        if self.known_at is not None:
            conds.append(table.c.recorded_at <= self.known_at_text)
        return conds


LIVE = View()


def _sum(bucket: str) -> ColumnElement[int]:
    total = func.sum(case((J.c.bucket == bucket, J.c.amount), else_=literal(0)))
    return cast(func.coalesce(total, 0), BigInteger)


# ---- indicators with their balances ---------------------------------------------------------------


def indicator_select(view: View, *where: Any) -> Select[Any]:
    """Indicators in view (created by then) with every bucket summed, and ``available``."""
    sums = {b: _sum(b) for b in BUCKETS}
    available = sum((sign * sums[b] for b, sign in AVAILABLE_SIGNS.items()), literal(0))
    on = and_(J.c.indicator_id == I.c.indicator_id, *view.visible(J))
    return (
        select(*I.c, *[expr.label(b) for b, expr in sums.items()],
               cast(available, BigInteger).label("available"))
        .select_from(I.outerjoin(J, on))
        .where(*where, *view.visible(I))
        .group_by(I.c.indicator_id)
    )


def indicators(conn: Connection, view: View, *where: Any) -> list[Row[Any]]:
    stmt = indicator_select(view, *where).order_by(I.c.position)
    return list(conn.execute(stmt))


def _in(query: Callable[..., list[Row[Any]]], conn: Connection, view: View, column: Any,
        keys: Sequence[str]) -> list[Row[Any]]:
    """``query`` for the rows whose ``column`` is one of ``keys``, chunk by chunk."""
    out: list[Row[Any]] = []
    for chunk in chunks(list(keys)):
        out.extend(query(conn, view, column.in_(chunk)))
    return out


def indicators_in(conn: Connection, view: View, column: Any, keys: Sequence[str]) -> list[Row[Any]]:
    return _in(indicators, conn, view, column, keys)


# ---- funding lines, projects, payments ------------------------------------------------------------


def lines(conn: Connection, view: View, *where: Any) -> list[Row[Any]]:
    """Funding lines (project × indicator): allocated and paid, and the first allocation's date."""
    first = func.min(case((J.c.bucket == "allocated", J.c.effective_date)))
    stmt = (
        select(J.c.project_id, J.c.indicator_id, _sum("allocated").label("allocated"),
               _sum("paid").label("paid"), first.label("first_date"))
        .where(J.c.project_id.is_not(None), *where, *view.visible(J))
        .group_by(J.c.project_id, J.c.indicator_id)
        .order_by(J.c.project_id, J.c.indicator_id)
    )
    return [r for r in conn.execute(stmt) if r.first_date is not None]


def lines_in(conn: Connection, view: View, column: Any, keys: Sequence[str]) -> list[Row[Any]]:
    return _in(lines, conn, view, column, keys)


def _latest(table: Any, column: Any, view: View) -> Any:
    """The value of ``column`` in the latest row of ``table`` for the project, in this view."""
    return (
        select(column)
        .where(table.c.project_id == P.c.project_id, *view.visible(table))
        .order_by(table.c.effective_date.desc(), table.c.position.desc())
        .limit(1)
        .scalar_subquery()
    )


def projects(conn: Connection, view: View, *where: Any) -> list[Row[Any]]:
    """Projects registered by then, with their current name, progress and amounts."""
    on = and_(J.c.project_id == P.c.project_id, *view.visible(J))
    name = func.coalesce(_latest(REN, REN.c.new_name, view), P.c.original_name)
    stmt = (
        select(*P.c, name.label("name"), _latest(PROG, PROG.c.percent, view).label("percent"),
               _sum("allocated").label("allocated"), _sum("paid").label("paid"))
        .select_from(P.outerjoin(J, on))
        .where(*where, *view.visible(P))
        .group_by(P.c.project_id)
        .order_by(P.c.position)
    )
    return list(conn.execute(stmt))


def projects_in(conn: Connection, view: View, keys: Sequence[str]) -> list[Row[Any]]:
    return _in(projects, conn, view, P.c.project_id, sorted(set(keys)))


def payments(conn: Connection, view: View, *where: Any) -> list[Row[Any]]:
    """Payments made by then; ``reversed`` only if the reversal is in view too."""
    on = and_(REV.c.payment_id == PAY.c.payment_id, *view.visible(REV))
    stmt = (
        select(*PAY.c, REV.c.position.is_not(None).label("reversed"),
               REV.c.effective_date.label("reversed_date"), REV.c.reason.label("reversal_reason"))
        .select_from(PAY.outerjoin(REV, on))
        .where(*where, *view.visible(PAY))
        .order_by(PAY.c.position)
    )
    return list(conn.execute(stmt))


def payments_in(conn: Connection, view: View, column: Any, keys: Sequence[str]) -> list[Row[Any]]:
    return sorted(_in(payments, conn, view, column, keys), key=lambda p: p.position)


def progress_reports(conn: Connection, view: View) -> list[Row[Any]]:
    return list(conn.execute(select(PROG).where(*view.visible(PROG)).order_by(PROG.c.position)))


def renames(conn: Connection, view: View) -> list[Row[Any]]:
    return list(conn.execute(select(REN).where(*view.visible(REN)).order_by(REN.c.position)))


def movements(conn: Connection, view: View, buckets: Sequence[str], *where: Any) -> list[Row[Any]]:
    """Journal rows of the given buckets, in log order."""
    stmt = select(J).where(J.c.bucket.in_(buckets), *where, *view.visible(J)).order_by(J.c.position)
    return list(conn.execute(stmt))


LOG_COLUMNS = ("position", "recorded_at", "effective_date", "type", "actor", "entity", "other",
               "third", "doc", "amount")
# The readable log is two tables: rm_events, and rm_payments for the payments (most of the log,
# written once). Each side's log columns by name, so one condition reads on both.
class LogCols(Protocol):
    """A side's log columns by name (a dict here, a subquery's ``.c`` on PostgreSQL)."""

    def __getitem__(self, name: str, /) -> ColumnElement[Any]: ...


_EV_LOG: dict[str, ColumnElement[Any]] = {name: EV.c[name] for name in LOG_COLUMNS}
_PAY_LOG: dict[str, ColumnElement[Any]] = {
    **{name: PAY.c[name] for name in ("position", "recorded_at", "effective_date", "actor", "doc",
                                      "amount")},
    "type": literal(PAYMENT_TYPE), "entity": PAY.c.project_id, "other": PAY.c.indicator_id,
    "third": PAY.c.payment_id,
}


def log_select(dialect: str, view: View, where: Callable[[LogCols], list[Any]] = lambda _c: [],
               types: Sequence[str] | None = None, limit: int | None = None) -> Any:
    """The log rows in view for which ``where(columns)`` holds (of ``types``, if given), in log
    order: ``UNION ALL`` of the two tables by position, each side searched by its own indexes
    (position, entity …), the two ordered streams merged so that a ``LIMIT`` stops early.

    The shape that does this differs: SQLite merges a compound SELECT's own ``ORDER BY`` (the
    conditions written into each side); PostgreSQL a ``UNION ALL`` subquery with the conditions
    outside (it pushes them down; written inside, it sorted the whole log for a ``LIMIT``)."""
    paid = types is None or PAYMENT_TYPE in types
    sides = [(_EV_LOG, EV), *([(_PAY_LOG, PAY)] if paid else [])]

    def side(cols: LogCols, conds: list[Any]) -> Any:
        return select(*[cols[n].label(n) for n in LOG_COLUMNS]).where(*conds)

    if dialect == "sqlite":
        typed = [] if types is None else [EV.c.type.in_(list(types))]
        stmt: Any = union_all(*[
            side(cols, [*where(cols), *view.visible(table), *(typed if table is EV else [])])
            for cols, table in sides
        ]).order_by(literal_column("position"))
    else:
        log = union_all(*[side(cols, []) for cols, _table in sides]).subquery("log")
        typed = [] if types is None else [log.c.type.in_(list(types))]
        stmt = (log.select().where(*where(log.c), *view.visible(log), *typed)
                .order_by(log.c.position))
    return stmt if limit is None else stmt.limit(limit)


def events(conn: Connection, view: View, types: Sequence[str] | None = None,
           limit: int | None = None) -> list[Row[Any]]:
    """Rows of the readable log in view (of ``types``, if given), in log order."""
    return list(conn.execute(log_select(conn.dialect.name, view, types=types, limit=limit)))


def chain_up(ind: Any, by_id: Mapping[str, Any]) -> list[Any]:
    """``ind``, its parent, grandparent … up to the first one whose parent is not in ``by_id``
    (the root, or the edge of the indicators in view). The one parent walk of the read side."""
    chain = [ind]
    while chain[-1].parent_id is not None and chain[-1].parent_id in by_id:
        chain.append(by_id[chain[-1].parent_id])
    return chain


def latest_effective_date(conn: Connection, view: View) -> date | None:
    """The latest effective date of any event in view (payments included)."""
    days = []
    for table in (EV, PAY):
        value = conn.execute(select(func.max(table.c.effective_date)).where(*view.visible(table))).scalar()
        if value is not None:
            days.append(value if isinstance(value, date) else date.fromisoformat(str(value)))
    return max(days, default=None)


def units(conn: Connection, view: View) -> dict[str, Row[Any]]:
    """Each unit's level and area: its latest declaration or correction recorded by ``known_at``.

    Only ``known_at`` filters: a unit's level and area are standing facts about the map, not
    business entries, so a correction applies to every as-of view (a prefecture's 小计 of 2025
    is computed with the areas as they are known now, or as they were known at ``known_at``).
    """
    cond = [] if view.known_at is None else [U.c.recorded_at <= view.known_at_text]
    out: dict[str, Row[Any]] = {}
    for r in conn.execute(select(U).where(*cond).order_by(U.c.position)):
        out[r.unit] = r
    return out


def line_subjects(conn: Connection, view: View) -> dict[tuple[str, str], str]:
    """(project, indicator) -> the funding line's refined subject, as of the view."""
    out: dict[tuple[str, str], str] = {}
    for r in conn.execute(select(LS).where(*view.visible(LS)).order_by(LS.c.effective_date,
                                                                       LS.c.position)):
        out[(r.project_id, r.indicator_id)] = r.subject
    return out
