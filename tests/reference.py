"""The slow reference fold: the oracle the journal's set-based views are checked against.

It decodes every event through the library (domain objects, not the stored JSON the read models
use), keeps those inside the (as-of, known-at) window, and adds them up in plain Python in log
order. Nothing here shares code with ``projections/`` but the event classes themselves.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import Engine

from ledger.application import BudgetLedger
from projections import journal as jn
from projections.journal import View

Books = dict[str, dict[Any, tuple[Any, ...]]]


def _typ(ev: Any) -> str:
    return str(type(ev).TOPIC).split(".", 1)[1]


def reference_books(app: BudgetLedger, as_of: date | None = None,
                    known_at: datetime | None = None) -> Books:
    """indicators: id → (unit, parent, received, forwarded, allocated, recovered, paid, available);
    projects: id → (unit, name, percent, allocated, paid); lines: (project, indicator) →
    (allocated, paid); payments: id → (project, indicator, amount, reversed)."""
    if known_at is not None and known_at.tzinfo is None:
        known_at = known_at.replace(tzinfo=UTC)
    ind: dict[str, dict[str, Any]] = {}
    names: dict[str, str] = {}  # uuid hex → human id
    prj: dict[str, dict[str, Any]] = {}
    lines: dict[tuple[str, str], list[int]] = defaultdict(lambda: [0, 0])
    pays: dict[str, list[Any]] = {}
    start = 0
    while True:
        notes = app.recorder.select_notifications(start, 1000, inclusive_of_start=False)
        if not notes:
            break
        start = notes[-1].id
        for n in notes:
            ev = app.mapper.to_domain_event(n)
            if as_of is not None and ev.effective_date > as_of:
                continue
            if known_at is not None and ev.timestamp > known_at:
                continue
            _apply(_typ(ev), ev, n.id, ind, names, prj, lines, pays)
    return {
        "indicators": {
            k: (v["unit"], v["parent"], v["received"], v["forwarded"], v["allocated"],
                v["recovered"], v["paid"],
                v["received"] - v["forwarded"] - v["allocated"] - v["recovered"])
            for k, v in ind.items()
        },
        "projects": {k: (v["unit"], v["name"][2], v["percent"][2], v["allocated"], v["paid"])
                     for k, v in prj.items()},
        "lines": {k: tuple(v) for k, v in lines.items()},
        "payments": {k: tuple(v) for k, v in pays.items()},
    }


def _apply(typ: str, ev: Any, pos: int, ind: dict[str, dict[str, Any]], names: dict[str, str],
           prj: dict[str, dict[str, Any]], lines: dict[tuple[str, str], list[int]],
           pays: dict[str, list[Any]]) -> None:
    origin = ev.originator_id.hex
    if typ.startswith("Unit.") or typ == "Project.SubjectRefined":
        return  # no money moves
    if typ in ("Indicator.Issued", "Indicator.Received", "Indicator.PoolReceived"):
        names[origin] = ev.indicator_id
        ind[ev.indicator_id] = {"unit": ev.unit, "parent": getattr(ev, "parent_id", None),
                                "received": ev.amount, "forwarded": 0, "allocated": 0,
                                "recovered": 0, "paid": 0}
    elif typ.startswith("Indicator."):
        row = ind[names[origin]]
        delta = {"Indicator.ForwardedOut": ("forwarded", 1), "Indicator.RecoveryReceived": ("forwarded", -1),
                 "Indicator.Pooled": ("forwarded", 1),
                 "Indicator.AllocatedToProject": ("allocated", 1), "Indicator.Deallocated": ("allocated", -1),
                 "Indicator.Recovered": ("recovered", 1)}[typ]
        row[delta[0]] += delta[1] * ev.amount
    elif typ == "Project.Registered":
        names[origin] = ev.project_id
        prj[ev.project_id] = {"unit": ev.unit, "name": (date.min, 0, ev.name),
                              "percent": (date.min, 0, None), "allocated": 0, "paid": 0}
    else:
        p = prj[names[origin]]
        key = (names[origin], getattr(ev, "indicator_id", ""))
        if typ in ("Project.FundingAllocated", "Project.FundingReleased"):
            sign = 1 if typ == "Project.FundingAllocated" else -1
            p["allocated"] += sign * ev.amount
            lines[key][0] += sign * ev.amount
        elif typ in ("Project.PaymentMade", "Project.PaymentReversed"):
            sign = 1 if typ == "Project.PaymentMade" else -1
            p["paid"] += sign * ev.amount
            lines[key][1] += sign * ev.amount
            ind[ev.indicator_id]["paid"] += sign * ev.amount
            if sign > 0:
                pays[ev.payment_id] = [names[origin], ev.indicator_id, ev.amount, False]
            else:
                pays[ev.payment_id][3] = True
        elif typ == "Project.ProgressReported":
            p["percent"] = max(p["percent"], (ev.effective_date, pos, str(ev.percent)),
                               key=lambda x: (x[0], x[1]))
        elif typ == "Project.Renamed":
            p["name"] = max(p["name"], (ev.effective_date, pos, ev.new_name), key=lambda x: (x[0], x[1]))


def journal_books(engine: Engine, view: View) -> Books:
    """The same shape, read from the journal in ``view``."""
    with engine.connect() as conn:
        return {
            "indicators": {
                r.indicator_id: (r.unit, r.parent_id, r.received, r.forwarded, r.allocated,
                                 r.recovered, r.paid, r.available)
                for r in jn.indicators(conn, view)
            },
            "projects": {
                r.project_id: (r.unit, r.name, None if r.percent is None else str(Decimal(r.percent)),
                               r.allocated, r.paid)
                for r in jn.projects(conn, view)
            },
            "lines": {(r.project_id, r.indicator_id): (r.allocated, r.paid)
                      for r in jn.lines(conn, view)},
            "payments": {r.payment_id: (r.project_id, r.indicator_id, r.amount, bool(r.reversed))
                         for r in jn.payments(conn, view)},
        }


def first_difference(a: Books, b: Books) -> str:
    for name in a:
        if a[name] != b[name]:
            keys = sorted(set(a[name]) | set(b[name]), key=str)
            diff = [(k, a[name].get(k), b[name].get(k)) for k in keys if a[name].get(k) != b[name].get(k)]
            return f"{name}: {diff[:3]}"
    return "no difference"
