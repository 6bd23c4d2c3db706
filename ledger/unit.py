"""A unit (单位) with its administrative level and its geographic area.

Who *funds* a unit is told by the money (the indicator its indicator was forwarded from); which
*area* it belongs to is a separate fact recorded here. A 资金管理型直管县 is funded by the province
or region directly yet belongs to its prefecture: its area is the prefecture, and a prefecture's
subtotal (小计) includes it although no money passed through the prefecture.

Events: ``Unit.Declared`` (the first statement about a unit) and ``Unit.Corrected`` (a later
statement that differs). Setting a unit to what it already is records nothing.
"""

from __future__ import annotations

from datetime import date
from enum import StrEnum
from typing import TYPE_CHECKING, Protocol
from uuid import NAMESPACE_URL, UUID, uuid5

from eventsourcing.domain import Aggregate, event

from ledger import invariants as inv
from ledger.topics import topic

if TYPE_CHECKING:
    from ledger.commands import SetUnitCommand

_NS = uuid5(NAMESPACE_URL, "budget-ledger:unit")


class Level(StrEnum):
    """Administrative levels, top down. ``province`` and ``region`` (自治区) are one level."""

    REGION = "region"
    PROVINCE = "province"
    PREFECTURE = "prefecture"
    COUNTY = "county"
    TOWNSHIP = "township"

    @property
    def rank(self) -> int:
        return {"region": 0, "province": 0, "prefecture": 1, "county": 2, "township": 3}[self.value]

    @classmethod
    def below(cls, level: Level) -> Level:
        """The level under ``level`` (a township has nothing under it: township again)."""
        order = [cls.REGION, cls.PREFECTURE, cls.COUNTY, cls.TOWNSHIP]
        return order[min(level.rank + 1, 3)]


class Unit(Aggregate):
    """A unit's level, area (geographic parent, None for a top unit) and 直管县 mark."""

    TOPIC = topic("Unit")

    class Created(Aggregate.Created):
        """Base of the creation event; never stored by itself."""

        TOPIC = topic("Unit.Created")

    class Declared(Created):
        """A unit's level and area, stated for the first time."""

        TOPIC = topic("Unit.Declared")
        unit: str
        level: str
        area: str | None
        direct_county: bool
        doc: str | None
        effective_date: date
        actor: str

    def __init__(self, unit: str, level: str, area: str | None, direct_county: bool,
                 doc: str | None, effective_date: date) -> None:
        self.unit = unit
        self.level = level
        self.area = area
        self.direct_county = direct_county
        self.effective_date = effective_date

    @staticmethod
    def uuid_for(unit: str) -> UUID:
        return uuid5(_NS, unit)

    @classmethod
    def declare(cls, *, unit: str, level: Level, area: str | None, direct_county: bool,
                doc: str | None, effective_date: date, actor: str) -> Unit:
        check_terms(unit, level, area, direct_county)
        return cls._create(cls.Declared, id=cls.uuid_for(unit), unit=unit, level=level.value,
                           area=area, direct_county=direct_county, doc=doc,
                           effective_date=effective_date, actor=actor)

    def same(self, level: Level, area: str | None, direct_county: bool) -> bool:
        return (self.level, self.area, self.direct_county) == (level.value, area, direct_county)

    def correct(self, *, level: Level, area: str | None, direct_county: bool, doc: str | None,
                effective_date: date, actor: str) -> bool:
        """Record a correction when something differs; returns whether an event was triggered."""
        check_terms(self.unit, level, area, direct_county)
        if self.same(level, area, direct_county):
            return False
        self._corrected(unit=self.unit, level=level.value, area=area, direct_county=direct_county, doc=doc,
                        effective_date=effective_date, actor=actor,
                        old_level=self.level, old_area=self.area)
        return True

    @event("Corrected", topic=topic("Unit.Corrected"))
    def _corrected(self, unit: str, level: str, area: str | None, direct_county: bool, doc: str | None,
                   effective_date: date, actor: str, old_level: str, old_area: str | None) -> None:
        self.level = level
        self.area = area
        self.direct_county = direct_county


class UnitTermsInvalid(inv.InvariantViolation):
    name = "unit-terms"


def check_terms(unit: str, level: Level, area: str | None, direct_county: bool) -> None:
    if area is not None and area == unit:
        raise UnitTermsInvalid(f"unit {unit}: its area cannot be itself")
    if direct_county and level is not Level.COUNTY:
        raise UnitTermsInvalid(f"unit {unit}: only a county can be a 直管县 (level is {level.value})")
    if direct_county and area is None:
        raise UnitTermsInvalid(f"unit {unit}: a 直管县 needs --area (the prefecture it belongs to)")


class _Units(Protocol):
    units: dict[str, Unit | None]

    def unit(self, name: str) -> Unit | None: ...


def set_unit(batch: _Units, cmd: SetUnitCommand) -> bool:
    """Declare the unit, or correct it when it differs; returns whether an event was triggered.

    Refused (exit 3): an area that is the unit itself or lies below it (a cycle), an area of a
    level not above the unit's, a 直管县 that is not a county or has no area.
    """
    level = Level(cmd.level)
    check_terms(cmd.unit, level, cmd.area, cmd.direct_county)
    seen = {cmd.unit}
    area = cmd.area
    first = True
    while area is not None:
        if area in seen:
            raise UnitTermsInvalid(f"unit {cmd.unit}: area {cmd.area} lies inside {cmd.unit} "
                                   "(a cycle of areas)")
        seen.add(area)
        above = batch.unit(area)
        if above is None:
            break
        if first and Level(above.level).rank >= level.rank:
            raise UnitTermsInvalid(
                f"unit {cmd.unit} ({level.value}): its area {area} is a {above.level}, not a "
                "level above it")
        first = False
        area = above.area
    agg = batch.unit(cmd.unit)
    if agg is None:
        batch.units[cmd.unit] = Unit.declare(
            unit=cmd.unit, level=level, area=cmd.area, direct_county=cmd.direct_county,
            doc=cmd.doc, effective_date=cmd.effective_date, actor=cmd.actor)
        return True
    return agg.correct(level=level, area=cmd.area, direct_county=cmd.direct_county, doc=cmd.doc,
                       effective_date=cmd.effective_date, actor=cmd.actor)
