"""Balances per indicator (received, forwarded, allocated, paid, recovered, available) and totals.

Reads ``rm_indicators`` only, so a unit's books are one indexed lookup however long the log is.
Every function takes a Connection or an Engine: the live tables or a replay (``--as-of``).
"""

from __future__ import annotations

from typing import Any, Literal

from sqlalchemy import func, select

from ledger.money import format_yuan
from projections.db import Source, connected
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
    source: Source, unit: str | None = None, *, year: int | None = None, task: str | None = None
) -> list[dict[str, Any]]:
    """One row per indicator held (by ``unit`` when given), amounts as 元 strings."""
    stmt = (
        select(IndicatorRow)
        .where(*_filters(unit, year, task))
        .order_by(IndicatorRow.unit, IndicatorRow.year, IndicatorRow.task, IndicatorRow.position)
    )
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
            **{a: format_yuan(getattr(r, a)) for a in AMOUNTS},
            "tracking": r.tracking,
            "direct": r.direct,
        }
        for r in rows
    ]


def balance_totals(
    source: Source,
    by: TotalsBy,
    unit: str | None = None,
    *,
    year: int | None = None,
    task: str | None = None,
) -> list[dict[str, Any]]:
    """The selected indicators' balances added up per unit, task or year.

    Within one unit these are its books. Across units, ``received`` and ``forwarded`` count the
    same yuan once at every hop (region, prefecture, county); ``allocated``, ``paid`` and
    ``available`` add up to real totals because each yuan sits in one place.
    """
    key = getattr(IndicatorRow, by)
    stmt = (
        select(
            key,
            func.count().label("indicators"),
            *[func.coalesce(func.sum(getattr(IndicatorRow, a)), 0).label(a) for a in AMOUNTS],
        )
        .where(*_filters(unit, year, task))
        .group_by(key)
        .order_by(key)
    )
    with connected(source) as conn:
        rows = conn.execute(stmt).mappings().all()
    return [
        {by: r[by], "indicators": r["indicators"], **{a: format_yuan(int(r[a])) for a in AMOUNTS}}
        for r in rows
    ]
