"""Execution progress (支出进度): paid ÷ received per unit, rolled up the indicator tree.

The unit hierarchy is the one the money took: a unit's parent is the unit that forwarded to it
(county → prefecture → region). For a unit:

- ``received`` is what reached it from outside its own books: its indicators whose parent it does
  not hold, net of what it returned up (收回). Its own forwards downward do not change it.
- ``paid`` is every payment, net of reversals, made from its indicators *or anything forwarded
  from them*, at any level below. Only payments count: forwards and allocations never do, which
  is what makes 以拨代支 (counting a transfer as spending) visible as a low ratio.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date
from typing import Any, Literal

from sqlalchemy import Connection

from ledger.money import format_yuan, ratio
from projections.areas import by_area, percent
from projections.db import Source, chunks, connected
from projections.journal import (
    LIVE,
    View,
    chain_up,
    indicators,
    indicators_in,
    line_subjects,
    lines_in,
    movements,
)
from projections.tables import IndicatorRow, JournalRow

ProgressBy = Literal["unit", "task", "month", "area", "subject"]


@dataclass
class _Ind:
    indicator_id: str
    unit: str
    parent_id: str | None
    task: str
    received: int
    recovered: int
    paid: int
    effective_date: date
    position: int


@dataclass
class _Scope:
    """The indicators in view, and for each the units that count its payments."""

    inds: dict[str, _Ind]
    units_of: dict[str, list[str]] = field(default_factory=dict)  # indicator -> holder units up the chain
    entries: dict[str, list[_Ind]] = field(default_factory=lambda: defaultdict(list))
    parent_unit: dict[str, str] = field(default_factory=dict)
    first_pos: dict[str, int] = field(default_factory=dict)

    def build(self) -> None:
        for ind in sorted(self.inds.values(), key=lambda i: i.position):
            chain = self._chain(ind)
            self.units_of[ind.indicator_id] = list(dict.fromkeys(chain))
            if ind.unit not in chain[1:]:  # money entering this unit's books
                self.entries[ind.unit].append(ind)
                if len(chain) > 1 and ind.unit not in self.parent_unit:
                    self.parent_unit[ind.unit] = chain[1]
            self.first_pos.setdefault(ind.unit, ind.position)

    def _chain(self, ind: _Ind) -> list[str]:
        return [i.unit for i in chain_up(ind, self.inds)]

    def tree_order(self, roots: list[str]) -> list[tuple[str, int]]:
        """(unit, level) in depth-first order from ``roots``; each unit shown once."""
        children: dict[str, list[str]] = defaultdict(list)
        for u, p in self.parent_unit.items():
            if p != u:
                children[p].append(u)
        out: list[tuple[str, int]] = []
        seen: set[str] = set()

        def visit(u: str, level: int) -> None:
            if u in seen:
                return
            seen.add(u)
            out.append((u, level))
            for c in sorted(children.get(u, []), key=lambda x: self.first_pos.get(x, 0)):
                visit(c, level + 1)

        for r in roots:
            visit(r, 0)
        return out

    def roots(self) -> list[str]:
        return sorted(
            (u for u in self.entries if u not in self.parent_unit), key=lambda u: self.first_pos[u]
        )


def _ind(r: Any) -> _Ind:
    return _Ind(r.indicator_id, r.unit, r.parent_id, r.task, int(r.received), int(r.recovered),
                int(r.paid), r.effective_date, r.position)


def _load(conn: Connection, unit: str | None, view: View, terms: list[Any]) -> _Scope:
    inds: dict[str, _Ind] = {}
    if unit is None:
        inds = {r.indicator_id: _ind(r) for r in indicators(conn, view, *terms)}
    else:  # the unit's indicators and everything forwarded from them, level by level
        frontier = [_ind(r) for r in indicators(conn, view, IndicatorRow.unit == unit, *terms)]
        while frontier:
            new = [i for i in frontier if i.indicator_id not in inds]
            for i in new:
                inds[i.indicator_id] = i
            ids = [i.indicator_id for i in new]
            frontier = [_ind(r) for r in indicators_in(conn, view, IndicatorRow.parent_id, ids)]
    scope = _Scope(inds)
    scope.build()
    return scope


def _row(unit: str, received: int, paid: int, **extra: Any) -> dict[str, Any]:
    return {"unit": unit, **extra, "received": format_yuan(received), "paid": format_yuan(paid),
            "ratio": ratio(paid, received), "spending_pct": percent(paid, received)}


def progress(source: Source, unit: str | None = None, *, by: ProgressBy = "unit",
             view: View = LIVE, year: int | None = None,
             task: str | None = None) -> list[dict[str, Any]]:
    """Progress rows: per unit of the hierarchy (under ``unit`` when given), or for the top unit(s)
    per task, or per month (cumulative to each month's end); of one budget year or task when
    given, so two years' money never mixes in one 支出进度."""
    terms = ([IndicatorRow.year == year] if year is not None else []) + (
        [IndicatorRow.task == task] if task is not None else [])
    with connected(source) as conn:
        if by == "area":
            return by_area(conn, view, unit)
        scope = _load(conn, unit, view, terms)
        if by == "subject":
            return _by_subject(conn, scope, view)
        roots = [unit] if unit is not None and unit in scope.entries else scope.roots()
        if by == "unit":
            return _by_unit(scope, roots)
        if by == "task":
            return _by_task(scope, roots)
        return _by_month(conn, scope, roots, view)


def _by_unit(scope: _Scope, roots: list[str]) -> list[dict[str, Any]]:
    received: dict[str, int] = defaultdict(int)
    paid: dict[str, int] = defaultdict(int)
    for u, entries in scope.entries.items():
        received[u] = sum(i.received - i.recovered for i in entries)
    for ind in scope.inds.values():
        for u in scope.units_of[ind.indicator_id]:
            paid[u] += ind.paid
    return [
        _row(u, received[u], paid[u], level=level, parent=scope.parent_unit.get(u))
        for u, level in scope.tree_order(roots)
    ]


def _by_task(scope: _Scope, roots: list[str]) -> list[dict[str, Any]]:
    received: dict[tuple[str, str], int] = defaultdict(int)
    paid: dict[tuple[str, str], int] = defaultdict(int)
    for u in roots:
        for i in scope.entries[u]:
            received[(u, i.task)] += i.received - i.recovered
    wanted = set(roots)
    for ind in scope.inds.values():
        for u in scope.units_of[ind.indicator_id]:
            if u in wanted:
                paid[(u, ind.task)] += ind.paid
    keys = sorted(set(received) | set(paid), key=lambda k: (roots.index(k[0]), k[1]))
    return [_row(u, received[(u, t)], paid[(u, t)], task=t) for u, t in keys]


def _month(d: date) -> str:
    return f"{d.year:04d}-{d.month:02d}"


def _months(first: str, last: str) -> list[str]:
    y, m = int(first[:4]), int(first[5:])
    out = []
    while f"{y:04d}-{m:02d}" <= last:
        out.append(f"{y:04d}-{m:02d}")
        y, m = (y + 1, 1) if m == 12 else (y, m + 1)
    return out


def _by_month(conn: Connection, scope: _Scope, roots: list[str], view: View) -> list[dict[str, Any]]:
    """Cumulative received and paid at each month's end, and the paid in that month."""
    got: dict[tuple[str, str], int] = defaultdict(int)
    spent: dict[tuple[str, str], int] = defaultdict(int)
    entry_unit = {i.indicator_id: u for u in roots for i in scope.entries[u]}
    wanted = set(roots)
    for ids in chunks(list(scope.inds)):
        for mv in movements(conn, view, ("received", "recovered", "paid"), JournalRow.indicator_id.in_(ids)):
            month = _month(mv.effective_date)
            if mv.bucket == "paid":
                for u in scope.units_of[mv.indicator_id]:
                    if u in wanted:
                        spent[(u, month)] += mv.amount
            elif mv.indicator_id in entry_unit:  # returns up (收回) lower what the unit holds
                sign = 1 if mv.bucket == "received" else -1
                got[(entry_unit[mv.indicator_id], month)] += sign * mv.amount
    out: list[dict[str, Any]] = []
    for u in roots:
        months = sorted({m for (x, m) in got if x == u} | {m for (x, m) in spent if x == u})
        if not months:
            continue
        cum_got = cum_paid = 0
        for m in _months(months[0], months[-1]):
            cum_got += got.get((u, m), 0)
            cum_paid += spent.get((u, m), 0)
            out.append(_row(u, cum_got, cum_paid, month=m,
                            paid_in_month=format_yuan(spent.get((u, m), 0))))
    return out


def _by_subject(conn: Connection, scope: _Scope, view: View) -> list[dict[str, Any]]:
    """Per functional subject (项级 where refined): the money kept under it — unallocated
    balances under their indicator's subject, funding lines under the line's (refined) subject —
    allocated and paid. The rows add up to the whole tree's received, allocated and paid."""
    ids = set(scope.inds)
    subject_of: dict[str, str | None] = {}
    received: dict[str | None, int] = defaultdict(int)
    allocated: dict[str | None, int] = defaultdict(int)
    paid: dict[str | None, int] = defaultdict(int)
    for r in indicators_in(conn, view, IndicatorRow.indicator_id, sorted(ids)):
        subject_of[r.indicator_id] = r.subject
        received[r.subject] += int(r.available)
    refined = line_subjects(conn, view)
    for ln in lines_in(conn, view, JournalRow.indicator_id, sorted(ids)):
        subj = refined.get((ln.project_id, ln.indicator_id), subject_of.get(ln.indicator_id))
        received[subj] += int(ln.allocated)
        allocated[subj] += int(ln.allocated)
        paid[subj] += int(ln.paid)
    out = []
    for subj in sorted(received, key=lambda x: (x is None, x or "")):
        parent = next((p for p in sorted({x for x in received if x}, key=len, reverse=True)
                       if subj and p != subj and subj.startswith(p)), None)
        out.append({"subject": subj or "(none)", "parent_subject": parent,
                    "received": format_yuan(received[subj]),
                    "allocated": format_yuan(allocated[subj]), "paid": format_yuan(paid[subj]),
                    "ratio": ratio(paid[subj], received[subj]),
                    "allocation_pct": percent(allocated[subj], received[subj]),
                    "spending_pct": percent(paid[subj], received[subj])})
    return out
