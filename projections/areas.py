"""Geographic roll-ups (小计 by area): the unit tree by *area*, not by who funded whom.

A unit's area is the one declared for it (``unit set``, or the ``area`` column of an allocation
table); a unit never declared falls back to the unit that funded it. A 资金管理型直管县 funded by
the region directly therefore counts in its prefecture's subtotal, although no money passed
through the prefecture.

Figures of one unit *at its own level* (本级) partition the money, so that an area's subtotal is
exactly the sum of its rows:

- ``received`` — what the unit keeps at its level: received, less what it passed on to other
  units (net of money they returned) and less what it returned up. For a county that is simply
  what it received; for a prefecture that forwarded everything it is 0.
- ``allocated`` — refined to projects (分解), net of releases; ``paid`` — 支付, net of reversals.

An area's subtotal sums these over the area and every unit below it geographically: money that
entered the area from outside (the region's 下达 to the prefecture *and* to its 直管县), less what
was returned up out of it. Returns inside the area (a county to its prefecture) do not change it.
分配进度 = allocated ÷ received, 支出进度 = paid ÷ received, in percent with two decimals.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from sqlalchemy import Connection, Row

from ledger.money import format_yuan, ratio
from projections.journal import View, indicators, units


def percent(numerator: int, denominator: int) -> str:
    """'3.83' — numerator ÷ denominator in percent, two decimals (half up); '0.00' for nothing."""
    if denominator == 0:
        return "0.00"
    q = Decimal(numerator) * 100 / Decimal(denominator)
    return str(q.quantize(Decimal("0.01"), rounding=ROUND_HALF_UP))


@dataclass
class Figures:
    received: int = 0  # kept at this level (本级) / in the area
    allocated: int = 0
    paid: int = 0
    indicators: int = 0
    gross: int = 0  # what entered the unit's books, before it passed any on (net of returns up)
    available: int = 0  # not yet passed on, allocated or returned

    def add(self, other: Figures) -> None:
        self.received += other.received
        self.allocated += other.allocated
        self.paid += other.paid
        self.indicators += other.indicators
        self.available += other.available

    @property
    def distributed(self) -> int:
        """分配: passed on to other units or allocated to projects."""
        return self.gross - self.available

    def as_dict(self) -> dict[str, Any]:
        return {
            "received": format_yuan(self.received),
            "allocated": format_yuan(self.allocated),
            "paid": format_yuan(self.paid),
            "ratio": ratio(self.paid, self.received),
            "allocation_pct": percent(self.allocated, self.received),
            "spending_pct": percent(self.paid, self.received),
        }


@dataclass
class Geography:
    """The area tree of every unit in view, and each unit's own (本级) figures."""

    area: dict[str, str | None]
    level: dict[str, str | None]
    direct: dict[str, bool]
    own: dict[str, Figures]
    order: dict[str, int]  # first appearance (log position), to list units as the tables do
    children: dict[str, list[str]] = field(default_factory=dict)

    def build(self) -> None:
        kids: dict[str, list[str]] = defaultdict(list)
        for u, a in self.area.items():
            if a is not None and a != u:
                kids[a].append(u)
        self.children = {a: sorted(us, key=self._key) for a, us in kids.items()}

    def _key(self, unit: str) -> tuple[int, str]:
        return (self.order.get(unit, 1 << 62), unit)

    def roots(self) -> list[str]:
        return sorted((u for u, a in self.area.items() if a is None or a not in self.area),
                      key=self._key)

    def is_area(self, unit: str) -> bool:
        return bool(self.children.get(unit))

    def subtree(self, unit: str) -> list[str]:
        out, stack, seen = [], [unit], set()
        while stack:
            u = stack.pop()
            if u in seen:
                continue
            seen.add(u)
            out.append(u)
            stack.extend(self.children.get(u, []))
        return out

    def subtotal(self, unit: str) -> Figures:
        """The area's figures: its units' own figures summed; what entered it is what it keeps
        (money passed on outside the area is not counted)."""
        total = Figures()
        for u in self.subtree(unit):
            total.add(self.own.get(u, Figures()))
        total.gross = total.received
        return total


def geography(conn: Connection, view: View,
              keep: Callable[[Row[Any]], bool] | None = None) -> Geography:
    """The area tree from declared units (else funding parents) and each unit's own figures.
    ``keep`` limits the indicators counted (e.g. one year or task); the tree uses all of them."""
    rows = indicators(conn, view)
    holder = {r.indicator_id: r.unit for r in rows}
    area: dict[str, str | None] = {}
    order: dict[str, int] = {}
    own: dict[str, Figures] = defaultdict(Figures)
    for r in rows:  # in log order
        order.setdefault(r.unit, int(r.position))
        funder = holder.get(r.parent_id) if r.parent_id else None
        if funder == r.unit:
            funder = None
        if r.unit not in area or (area[r.unit] is None and funder is not None):
            area[r.unit] = funder
        if keep is not None and not keep(r):
            continue
        f = own[r.unit]
        f.received += int(r.allocated) + int(r.available)  # kept at this level
        f.available += int(r.available)
        if funder is not None or r.parent_id is None:  # money entering the unit's books
            f.gross += int(r.received) - int(r.recovered)
        f.allocated += int(r.allocated)
        f.paid += int(r.paid)
        f.indicators += 1
    level: dict[str, str | None] = dict.fromkeys(area)
    direct: dict[str, bool] = dict.fromkeys(area, False)
    for name, u in units(conn, view).items():
        area[name] = u.area
        level[name] = u.level
        direct[name] = bool(u.direct_county)
        order.setdefault(name, 1 << 61)
    for a in [a for a in area.values() if a is not None and a not in area]:
        area[a] = None  # an area named but holding nothing: a root of its own
        level.setdefault(a, None)
        direct.setdefault(a, False)
    geo = Geography(area, level, direct, dict(own), order)
    geo.build()
    return geo


def by_area(conn: Connection, view: View, unit: str | None = None,
            keep: Callable[[Row[Any]], bool] | None = None) -> list[dict[str, Any]]:
    """One row per area (a unit with units below it geographically) with its subtotal, depth
    first from the top (or from ``unit``)."""
    geo = geography(conn, view, keep)
    starts = [unit] if unit is not None else geo.roots()
    out: list[dict[str, Any]] = []

    def visit(a: str, depth: int) -> None:
        if not geo.is_area(a) or not geo.subtotal(a).indicators:  # no money in view
            return
        out.append({"area": a, "unit": a, "level": geo.level.get(a), "depth": depth,
                    "parent_area": geo.area.get(a), "units": len(geo.subtree(a)) - 1,
                    **geo.subtotal(a).as_dict()})
        for c in geo.children.get(a, []):
            visit(c, depth + 1)

    for s in starts:
        if s in geo.area:
            visit(s, 0)
    return out


def area_table(conn: Connection, view: View, unit: str | None = None,
               keep: Callable[[Row[Any]], bool] | None = None) -> list[dict[str, Any]]:
    """Every area's subtotal row (kind 'subtotal') followed by its rows: the area's own level
    (kind 'unit', 本级), then each unit in it — a sub-area as its own subtotal block. A subtotal
    equals the sum of its 'unit' rows and its sub-areas' subtotal rows (``parent`` names it)."""
    geo = geography(conn, view, keep)
    starts = [unit] if unit is not None else geo.roots()
    out: list[dict[str, Any]] = []

    def unit_row(u: str, parent: str | None, depth: int) -> dict[str, Any]:
        return {"kind": "unit", "area": parent, "unit": u, "level": geo.level.get(u),
                "direct_county": geo.direct.get(u, False), "depth": depth, "parent": parent,
                **geo.own.get(u, Figures()).as_dict()}

    def visit(a: str, parent: str | None, depth: int) -> None:
        if not geo.subtotal(a).indicators:  # no money in view
            return
        if not geo.is_area(a):
            out.append(unit_row(a, parent, depth))
            return
        out.append({"kind": "subtotal", "area": a, "unit": f"{a}小计", "level": geo.level.get(a),
                    "direct_county": False, "depth": depth, "parent": parent,
                    **geo.subtotal(a).as_dict()})
        if geo.own.get(a, Figures()).indicators:
            out.append({**unit_row(a, a, depth + 1), "unit": f"{a}（本级）"})
        for c in geo.children.get(a, []):
            visit(c, a, depth + 1)

    for s in starts:
        if s in geo.area:
            visit(s, None, 0)
    return out


def balance_by_area(conn: Connection, view: View, unit: str | None = None,
                    year: int | None = None, task: str | None = None) -> list[dict[str, Any]]:
    """Balances per area (小计): what entered the area and stays in it (``received``), allocated
    to projects, paid and still available, over the area's own level and every unit in it."""
    def keep(r: Row[Any]) -> bool:
        return (year is None or r.year == year) and (task is None or r.task == task)

    geo = geography(conn, view, keep)
    out = []
    for row in by_area(conn, view, unit, keep):
        fig = geo.subtotal(row["area"])
        out.append({"area": row["area"], "level": row["level"], "depth": row["depth"],
                    "indicators": fig.indicators, "received": format_yuan(fig.received),
                    "allocated": format_yuan(fig.allocated), "paid": format_yuan(fig.paid),
                    "available": format_yuan(fig.available)})
    return out
