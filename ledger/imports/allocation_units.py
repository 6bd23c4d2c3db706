"""Where an allocation table's units sit: 直管县 rows (funded by the root, counted in their
prefecture) and every receiving unit's level and area, declared in the import's transaction.

Both work on the plan's scratch table (:class:`~ledger.imports.allocation_store.EdgeStore`),
reading back the rows they need. A unit's geography is its first row's, in the order the rows
are applied (holders parents first, then file order): ``area`` cell, else ``from``. Levels are declared areas first, then the other units a chunk at a time, each
chunk's existing declarations read in one query and its new ones saved with the next part
(:class:`~ledger.streamed.StreamedBatch`), so a million units are never held at once.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from itertools import groupby, islice
from operator import attrgetter
from typing import TYPE_CHECKING

from ledger.commands import SetUnitCommand, build
from ledger.imports.allocation_store import Edge, EdgeStore
from ledger.imports.problems import ImportRejected, Problem
from ledger.library_patches import fold
from ledger.unit import Level, Unit

if TYPE_CHECKING:
    from ledger.imports.allocations import AllocationOptions
    from ledger.streamed import StreamedBatch

#: units whose declarations are read in one query and decided together
UNIT_CHUNK = 2000


def direct_counties(file: str, store: EdgeStore, notes: list[str]) -> None:
    """Shanxi-style rows (a county listed under its prefecture, noted 「资金管理型直管县」) become
    transfers from the table's root: the province funds the county, the prefecture does not.
    The county's area stays the prefecture. Afterwards a row's ``area`` is set when the table
    states it (cell or note) and ``direct`` says the unit is funded past its area. One streamed
    pass over the rows that are marked or name themselves as their area; the tree's inner edges
    and the marked rows are held, not the table."""
    parent_of: dict[str, str] = {}
    for e in store.inner():
        parent_of.setdefault(e.to, e.holder)

    def top_of(unit: str) -> str:
        seen = {unit}
        while unit in parent_of and parent_of[unit] not in seen:
            unit = parent_of[unit]
            seen.add(unit)
        return unit

    marked = [e for e in store.edges("direct = 1 OR coalesce(area, holder) = receiver")]
    moves = {e.row: top_of(e.holder) for e in marked if e.direct and e.holder in parent_of}
    taken = {(top, e.to) for e in marked if e.row in moves
             for top in [moves[e.row]] if store.has_pair(top, e.to)}
    problems: list[Problem] = []
    moved: list[tuple[int, str, str]] = []
    for e in marked:
        if e.row in moves:  # listed under its prefecture: funded from the root
            top = moves[e.row]
            if (top, e.to) in taken:
                problems.append(Problem(file, e.row, "to", e.to,
                                        f"{e.to} is marked 直管县 (funded by {top} directly) but "
                                        f"{top} → {e.to} is also on another row"))
                continue
            area = e.area or e.holder
            notes.append(f"{file}: row {e.row}: {e.to} is a 资金管理型直管县: funded by {top} "
                         f"directly (not through {e.holder}); it counts in {area}'s subtotal")
            e.holder, e.area = top, area
            moved.append((e.row, top, area))
        elif e.direct and not e.area:
            problems.append(Problem(file, e.row, "area", None,
                                    f"{e.to} is marked 直管县 and funded by {e.holder} directly: "
                                    "give its prefecture in the area column"))
            continue
        if (e.area or e.holder) == e.to:
            problems.append(Problem(file, e.row, "area", e.area, f"{e.to} cannot be its own area"))
    if problems:
        raise ImportRejected(file, problems)
    for row, top, area in moved:
        store.move(row, top, area)
    store.mark_direct()


@dataclass
class Units:
    """The areas' first edges (their geography), and where to read every receiving unit's."""

    tops: list[str]
    store: EdgeStore
    areas: dict[str, Edge | None]  # an area unit → its first edge (None: a top or not received)

    @classmethod
    def of(cls, store: EdgeStore, tops: list[str]) -> Units:
        areas = {u: store.first_of(u) for u in store.first_areas()}
        return cls(tops, store, areas)

    def first(self) -> Iterator[Edge]:
        """Each receiving unit's first edge, in file order, streamed."""
        return self.store.firsts()


def _load(batch: StreamedBatch, names: list[str]) -> None:
    """The units' recorded declarations, read in one query per few hundred (None where there is
    none): one ``batch.unit`` each was a query per unit, a million of them."""
    missing = [n for n in dict.fromkeys(names) if n not in batch.units]
    select = getattr(batch.app.recorder, "select_events_of_many", None)
    if select is None:
        for n in missing:
            batch.unit(n)
        return
    to_event = batch.app.mapper.to_domain_event
    by_id = {Unit.uuid_for(n): n for n in missing}
    for n in missing:
        batch.units[n] = None
    for key, stored in groupby(select(list(by_id)), key=attrgetter("originator_id")):
        batch.units[by_id[key]] = fold(None, map(to_event, stored))


class _Levels:
    """Each unit's administrative level: a unit already declared keeps its level unless the
    table states its area (an ``area`` cell or a 直管县 note); a top is a region (a 省: a
    province); below that one level per step of the area tree; a 直管县 is a county. None: below
    a township, or under an area the ledger does not know — such a unit is left undeclared."""

    def __init__(self, batch: StreamedBatch, units: Units) -> None:
        self.batch, self.units = batch, units
        self.levels: dict[str, Level | None] = {}
        for top in units.tops:
            known = batch.unit(top)
            self.levels[top] = Level(known.level) if known else (
                Level.PROVINCE if top.endswith("省") else Level.REGION)

    def of_area(self, unit: str, depth: int = 0) -> Level | None:
        if unit not in self.levels:
            edge = self.units.areas.get(unit)
            self.levels[unit] = self.of(unit, edge, depth)
        return self.levels[unit]

    def of(self, unit: str, edge: Edge | None, depth: int = 0) -> Level | None:
        if unit in self.levels:
            return self.levels[unit]
        known = self.batch.unit(unit)
        if known is not None and (edge is None or edge.area is None):
            return Level(known.level)
        if edge is not None and edge.direct:
            return Level.COUNTY
        if edge is None or depth > 20:
            return Level(known.level) if known else None
        above = self.of_area(edge.area or edge.holder, depth + 1)
        return None if above in (None, Level.TOWNSHIP) else Level.below(above)


def _chunks(items: Iterator[Edge]) -> Iterator[list[Edge]]:
    it = iter(items)
    while chunk := list(islice(it, UNIT_CHUNK)):
        yield chunk


def declare_units(batch: StreamedBatch, store: EdgeStore, tops: list[str],
                  opts: AllocationOptions) -> None:
    """Record the units' levels and areas in the import's transaction: new units, and units whose
    area the table states; what is recorded already is not restated (``set_unit`` records no
    change). Areas are declared first (and kept: their members' checks read them)."""
    units = Units.of(store, tops)
    _load(batch, [*tops, *units.areas])
    levels = _Levels(batch, units)
    heads = [(u, units.areas[u]) for u in [*tops, *(a for a in units.areas if a not in tops)]]
    for unit, edge in sorted(heads, key=lambda ue: _rank(levels.of_area(ue[0]))):
        _declare(batch, unit, edge, levels.of_area(unit), unit in tops, opts)
    for chunk in _chunks(e for e in units.first() if e.to not in units.areas):
        _load(batch, [e.to for e in chunk])
        for e in sorted(chunk, key=lambda e: _rank(levels.of(e.to, e))):
            _declare(batch, e.to, e, levels.of(e.to, e), False, opts)
        batch.done(u for u in (batch.units.pop(e.to, None) for e in chunk) if u is not None)


def _rank(level: Level | None) -> int:
    return level.rank if level is not None else 9


def _declare(batch: StreamedBatch, unit: str, edge: Edge | None, level: Level | None, top: bool,
             opts: AllocationOptions) -> None:
    if level is None:
        return
    known = batch.unit(unit)
    if known is not None and (top or edge is None or edge.area is None):
        return
    area = None if top or edge is None else edge.area or edge.holder
    cmd = build(SetUnitCommand, unit=unit, level=level.value, area=area,
                direct_county=bool(edge and edge.direct) and level is Level.COUNTY,
                effective_date=opts.effective_date, doc=opts.doc, actor=opts.actor)
    batch.set_unit(cmd)
