"""Balances per indicator (received, forwarded, allocated, paid, recovered, available) and totals.

Sums over the journal (``projections/journal.py``) for the indicators in view, so the live books
and any ``--as-of`` / ``--known-at`` view are the same query with different filters.
"""

from __future__ import annotations

from typing import Any, Literal

from sqlalchemy import BigInteger, case, cast, func, select

from ledger.money import format_yuan
from projections.db import Source, connected
from projections.journal import LIVE, View, indicator_select
from projections.tables import IndicatorRow

AMOUNTS = ("received", "forwarded", "allocated", "paid", "recovered", "available")
BALANCE_COLUMNS = ("indicator", "unit", "task", "year", "doc", *AMOUNTS, "tracking")
TABLE_COLUMNS = ("indicator", "unit", "task", *AMOUNTS, "tracking")  # doc, year: json/csv
TotalsBy = Literal["unit", "task", "year"]


def _filters(unit: str | None, year: int | None, task: str | None) -> list[Any]:
    conds = []
    if unit is not None:
        conds.append(IndicatorRow.unit == unit)
    if year is not None:
        conds.append(IndicatorRow.year == year)
    if task is not None:
        conds.append(IndicatorRow.task == task)
    return conds


def balance(
    source: Source, unit: str | None = None, *, year: int | None = None, task: str | None = None,
    view: View = LIVE,
) -> list[dict[str, Any]]:
    """One row per indicator held (by ``unit`` when given), amounts as 元 strings."""
    q = indicator_select(view, *_filters(unit, year, task)).subquery()
    stmt = select(q).order_by(q.c.unit, q.c.year, q.c.task, q.c.position)
    with connected(source) as conn:
        rows = conn.execute(stmt).all()
    return [
        {
            "indicator": r.indicator_id,
            "unit": r.unit,
            "task": r.task,
            "year": r.year,
            "source": r.source,
            "doc": r.doc,
            "parent": r.parent_id,
            **{a: format_yuan(int(getattr(r, a))) for a in AMOUNTS},
            "tracking": bool(r.tracking),
            "direct": bool(r.direct),
        }
        for r in rows
    ]


def total_columns(by: TotalsBy, unit: str | None) -> tuple[str, ...]:
    """One unit's books keep every bucket; across units received and forwarded would count the
    same yuan once per hop (region, prefecture, county), so they give way to ``issued``."""
    if by == "unit" or unit is not None:
        return (by, "indicators", *AMOUNTS)
    return (by, "indicators", "issued", "returned_to_issuer", "allocated", "paid", "available")


def balance_totals(
    source: Source,
    by: TotalsBy,
    unit: str | None = None,
    *,
    year: int | None = None,
    task: str | None = None,
    view: View = LIVE,
) -> list[dict[str, Any]]:
    """The selected indicators' balances added up per unit, task or year.

    Per unit these are its books. Per task or year, money is counted once, where it entered
    the ledger: ``issued`` is what the roots received (下达), ``returned_to_issuer`` what they
    gave back; ``allocated``, ``paid`` and ``available`` add up across levels because each yuan
    sits in one place — so issued − returned_to_issuer = allocated + available.
    """
    q = indicator_select(view, *_filters(unit, year, task)).subquery()
    key = q.c[by]

    def total(expr: Any) -> Any:
        return cast(func.coalesce(func.sum(expr), 0), BigInteger)

    root = q.c.parent_id.is_(None)
    sums = {a: total(q.c[a]) for a in AMOUNTS}
    sums["issued"] = total(case((root, q.c.received), else_=0))
    sums["returned_to_issuer"] = total(case((root, q.c.recovered), else_=0))
    columns = total_columns(by, unit)
    stmt = (
        select(key, func.count().label("indicators"), *[sums[c].label(c) for c in columns[2:]])
        .group_by(key)
        .order_by(key)
    )
    with connected(source) as conn:
        rows = conn.execute(stmt).mappings().all()
    return [
        {by: r[by], "indicators": r["indicators"], **{c: format_yuan(int(r[c])) for c in columns[2:]}}
        for r in rows
    ]
