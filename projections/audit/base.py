"""What every rule shares: the Finding it reports and the books it reads (one snapshot).

A rule is a module with ``RULE_ID`` and ``check(books, cfg) -> list[Finding]``. ``Books`` holds
one open connection to the read models (live, or a replay for --as-of / --known-at), the audit
date ("today" for deadlines and the 序时进度), the settings, and the rows several rules need,
each loaded once with ``select()``.
"""

from __future__ import annotations

from collections import defaultdict, namedtuple
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import ROUND_CEILING, Decimal
from functools import cached_property
from typing import Any

from sqlalchemy import Connection, Row

from ledger.buckets import AVAILABLE_SIGNS
from ledger.money import format_yuan
from projections import journal as jn
from projections.audit.config import ALL, RuleConfig, RulesConfig
from projections.journal import LIVE, View


@dataclass(frozen=True)
class Finding:
    """One breach of one rule. ``amount`` is in 分; JSON shows it in 元 (two decimals)."""

    rule: str
    severity: str
    entity: str
    detail: str
    unit: str | None = None
    amount: int | None = None
    year: int | None = None
    date: date | None = None  # the date the breach is about (deadline, payment, year end)
    extra: dict[str, Any] = field(default_factory=dict, compare=False)

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "rule": self.rule,
            "severity": self.severity,
            "entity": self.entity,
            "unit": self.unit,
            "year": self.year,
            "date": self.date.isoformat() if self.date else None,
            "amount": format_yuan(self.amount) if self.amount is not None else None,
            "detail": self.detail,
        }
        out.update(self.extra)
        return out


def finding(rule: str, cfg: RuleConfig, entity: str, detail: str, **kw: Any) -> Finding:
    return Finding(rule=rule, severity=cfg.severity, entity=entity, detail=detail, **kw)


def yuan(fen: int) -> str:
    return f"{format_yuan(fen)} 元"


def two(value: Decimal) -> str:
    """'62.50' — a percentage shown with two decimals (rounded half-even, display only)."""
    return str(value.quantize(Decimal("0.01")))


def pct(value: Decimal) -> str:
    return f"{two(value)}%"


def share(numerator: int, denominator: int) -> Decimal:
    """numerator ÷ denominator in percent, exact as a Decimal (0 when there is no denominator)."""
    if denominator == 0:
        return Decimal(0)
    return Decimal(numerator) * 100 / Decimal(denominator)


def after(d: date, days: int) -> date:
    return d + timedelta(days=days)


@dataclass
class Books:
    """The read models at the audit date, with lazily loaded tables several rules share."""

    conn: Connection
    as_of: date
    config: RulesConfig
    view: View = LIVE

    @cached_property
    def indicators(self) -> dict[str, Row[Any]]:
        return {r.indicator_id: r for r in jn.indicators(self.conn, self.view)}

    @cached_property
    def projects(self) -> dict[str, Row[Any]]:
        return {r.project_id: r for r in jn.projects(self.conn, self.view)}

    @cached_property
    def lines(self) -> list[Row[Any]]:
        return jn.lines(self.conn, self.view)

    @cached_property
    def lines_of(self) -> dict[str, list[Row[Any]]]:
        out: dict[str, list[Row[Any]]] = defaultdict(list)
        for line in self.lines:
            out[line.project_id].append(line)
        return out

    @cached_property
    def payments(self) -> list[Any]:
        """As named tuples: several rules read every payment (300,000 at a tenth of national
        scale), and a SQLAlchemy ``Row``'s attribute costs several times a tuple's."""
        rows = jn.payments(self.conn, self.view)
        if not rows:
            return []
        plain = namedtuple("Payment", rows[0]._fields)  # type: ignore[misc]
        return [plain._make(r) for r in rows]

    @cached_property
    def progress_reports(self) -> list[Row[Any]]:
        return jn.progress_reports(self.conn, self.view)

    @cached_property
    def renames(self) -> list[Row[Any]]:
        return jn.renames(self.conn, self.view)

    def movements(self, *buckets: str) -> list[Row[Any]]:
        """Journal rows of the given buckets (signed amounts), in log order."""
        return jn.movements(self.conn, self.view, buckets)

    def events(self, *types: str) -> list[Row[Any]]:
        """Rows of the readable log of the given types, in log order."""
        return jn.events(self.conn, self.view, types)

    @cached_property
    def forwarding_units(self) -> set[str]:
        """Units that pass money on (转下达): they forwarded an indicator, or the rules file says so.

        Every other unit refines its money to projects (细化到项目). ``[units] refining`` wins.
        """
        units = {
            self.indicators[r.parent_id].unit
            for r in self.indicators.values()
            if r.parent_id is not None and r.parent_id in self.indicators
            and self.indicators[r.parent_id].unit != r.unit
        }
        units |= set(self.config.units.forwarding)
        return units - set(self.config.units.refining)

    def is_forwarding(self, unit: str) -> bool:
        return unit in self.forwarding_units

    # ---- where a rule applies (its scope: jurisdiction, years, tasks, sources, level) ---------

    @cached_property
    def declared_units(self) -> dict[str, Row[Any]]:
        return jn.units(self.conn, self.view)

    @cached_property
    def funder(self) -> dict[str, str]:
        """unit -> the unit that first funded it (the holder of its first indicator's parent)."""
        out: dict[str, str] = {}
        for r in sorted(self.indicators.values(), key=lambda r: r.position):
            parent = self.indicators.get(r.parent_id) if r.parent_id else None
            if parent is not None and parent.unit != r.unit:
                out.setdefault(r.unit, parent.unit)
        return out

    def area_of(self, unit: str) -> str | None:
        """Its declared area, else the unit that funded it."""
        declared = self.declared_units.get(unit)
        return declared.area if declared is not None else self.funder.get(unit)

    def chain(self, unit: str) -> list[str]:
        """The unit and every area above it, up to the top (a region or province)."""
        out = [unit]
        cur = self.area_of(unit)
        while cur is not None and cur not in out:
            out.append(cur)
            cur = self.area_of(cur)
        return out

    def level_of(self, unit: str) -> str:
        """Its declared level; for a unit never declared: a unit that passes money on is a
        prefecture (a region when nobody funded it), any other a county (see ``[units]``)."""
        declared = self.declared_units.get(unit)
        if declared is not None:
            return str(declared.level)
        if unit in self.config.units.forwarding:
            return "prefecture"
        if not self.is_forwarding(unit):
            return "county"
        return "region" if self.area_of(unit) is None else "prefecture"

    def judged(self, cfg: RuleConfig, unit: str, forwarding: bool) -> bool:
        """Whether a deadline/share rule binds ``unit``: by its ``levels`` when the rule names
        some, else by what the unit does (forwarding units vs refining units)."""
        if cfg.levels:
            return self.level_of(unit) in cfg.levels
        return self.is_forwarding(unit) == forwarding

    def in_jurisdiction(self, cfg: RuleConfig, *units: str) -> bool:
        if ALL in cfg.jurisdictions:
            return True
        wanted = set(cfg.jurisdictions)
        return any(wanted.intersection(self.chain(u)) for u in units)

    def covers(self, cfg: RuleConfig, ind: Row[Any]) -> bool:
        """The indicator's money is within the rule's scope (level not checked here)."""
        if cfg.years and ind.year not in cfg.years:
            return False
        if cfg.tasks and ind.task not in cfg.tasks:
            return False
        if cfg.sources and ind.source not in cfg.sources:
            return False
        root = self.indicators.get(ind.root_id)
        return self.in_jurisdiction(cfg, ind.unit, *([root.unit] if root is not None else []))

    def binds(self, cfg: RuleConfig, unit: str | None) -> bool:
        return not cfg.levels or unit is None or self.level_of(unit) in cfg.levels

    def covers_project(self, cfg: RuleConfig, project_id: str) -> bool:
        lines = self.lines_of.get(project_id, [])
        inds = [self.indicators[ln.indicator_id] for ln in lines if ln.indicator_id in self.indicators]
        if inds:
            return any(self.covers(cfg, i) for i in inds)
        prj = self.projects.get(project_id)
        return prj is not None and self.in_jurisdiction(cfg, prj.unit)

    def in_scope(self, cfg: RuleConfig, f: Finding) -> bool:
        """Whether a finding lies within its rule's scope: the money it is about (indicator,
        project, payment, funding line) or the unit (per-unit rules), and the level it binds."""
        if not self.binds(cfg, f.unit):
            return False
        if cfg.years and f.year is not None and f.year not in cfg.years:
            return False
        entity = f.entity
        if "<-" in entity:  # a funding line: project<-indicator
            entity = entity.split("<-", 1)[1]
        if entity in self.indicators:
            return self.covers(cfg, self.indicators[entity])
        if entity in self.projects:
            return self.covers_project(cfg, entity)
        payment = self.payment_by_id.get(entity)
        if payment is not None:
            ind = self.indicators.get(payment.indicator_id)
            return self.covers(cfg, ind) if ind is not None else self.covers_project(
                cfg, payment.project_id)
        return self.in_jurisdiction(cfg, f.unit or entity)

    @cached_property
    def payment_by_id(self) -> dict[str, Row[Any]]:
        return {p.payment_id: p for p in self.payments}

    # ---- indicator balances on a past day (from the journal, for deadline rules) ---------------

    @cached_property
    def moves(self) -> dict[str, list[tuple[date, int]]]:
        """indicator id -> [(effective date, change of its available balance)] in date order."""
        out: dict[str, list[tuple[date, int]]] = defaultdict(list)
        for mv in jn.movements(self.conn, self.view, tuple(AVAILABLE_SIGNS)):
            out[mv.indicator_id].append((mv.effective_date, AVAILABLE_SIGNS[mv.bucket] * int(mv.amount)))
        for series in out.values():
            series.sort(key=lambda m: m[0])
        return out

    def available_on(self, indicator_id: str, day: date) -> int:
        """What the indicator held, not yet passed on, allocated or returned, at the end of ``day``."""
        return sum(d for when, d in self.moves.get(indicator_id, []) if when <= day)

    def cleared_on(self, indicator_id: str, after_day: date) -> date | None:
        """The first day after ``after_day`` at whose end nothing was left available, if any."""
        level = 0
        end_of_day: dict[date, int] = {}
        for when, delta in self.moves.get(indicator_id, []):
            level += delta
            end_of_day[when] = level
        return next((d for d, lvl in end_of_day.items() if d > after_day and lvl == 0), None)


def ceil_share(base: int, percent: Decimal) -> int:
    """``percent`` % of ``base`` 分, rounded up to a whole 分 (what a minimum share requires)."""
    return int((Decimal(base) * percent / 100).to_integral_value(rounding=ROUND_CEILING))
