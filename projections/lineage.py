"""Lineage of tracked funds (追踪): the tree below an indicator, and the chain up to the root(s).

Down: an indicator's forwards (child indicators), then one branch per project funding line it
pays for (sources are never pooled, so a project funded twice appears under both indicators),
then that line's payments. Up: from a payment, project or indicator to the root document(s); a
project funded from several indicators has one branch per funding line, hence several roots.

The tree is read level by level through the ``parent_id`` index, then funding lines, projects
and payments by indicator id, so its cost follows the size of the subtree, not of the log.
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from sqlalchemy import Connection, select

from ledger.errors import InputError
from ledger.money import format_yuan
from projections import journal as jn
from projections.db import Source, connected
from projections.journal import LIVE, View
from projections.tables import IndicatorRow, JournalRow, PaymentRow, ProjectRow

Rec = Any  # a Core row: the table's columns (and balances) as attributes


def flags(tracking: bool, direct: bool) -> list[str]:
    return [f for f, on in (("追踪 tracking", tracking), ("直达 direct", direct)) if on]


def _indicator_node(r: Rec) -> dict[str, Any]:
    return {
        "id": r.indicator_id, "kind": "indicator", "unit": r.unit,
        "amount": format_yuan(r.received), "doc": r.doc, "date": r.effective_date.isoformat(),
        "tracking": r.tracking, "direct": r.direct, "flags": flags(r.tracking, r.direct),
        "task": r.task, "year": r.year, "source": r.source, "issuer": r.issuer,
        "forwarded": format_yuan(r.forwarded), "allocated": format_yuan(r.allocated),
        "paid": format_yuan(r.paid), "recovered": format_yuan(r.recovered),
        "available": format_yuan(r.available),
    }


def _project_node(p: Rec, *, amount: int, paid: int, via: str | None,
                  tracking: bool | None, direct: bool | None) -> dict[str, Any]:
    return {
        "id": p.project_id, "kind": "project", "unit": p.unit, "amount": format_yuan(amount),
        "doc": p.doc, "date": p.effective_date.isoformat(), "tracking": tracking, "direct": direct,
        "flags": flags(bool(tracking), bool(direct)), "name": p.name, "category": p.category,
        "paid": format_yuan(paid), "percent": p.percent, "indicator": via,
    }


def _payment_node(pay: Rec, unit: str, tracking: bool | None,
                  direct: bool | None) -> dict[str, Any]:
    return {
        "id": pay.payment_id, "kind": "payment", "unit": unit, "amount": format_yuan(pay.amount),
        "doc": pay.voucher, "date": pay.effective_date.isoformat(), "tracking": tracking,
        "direct": direct, "flags": flags(bool(tracking), bool(direct)), "payee": pay.payee,
        "payee_kind": pay.payee_kind, "labour": pay.labour, "reversed": pay.reversed,
        "reversed_date": pay.reversed_date.isoformat() if pay.reversed_date else None,
        "indicator": pay.indicator_id, "project": pay.project_id,
    }


def entity_kind(conn: Connection, ident: str, view: View = LIVE) -> str:
    """'indicator', 'project', 'payment' or 'unit' (a unit that holds indicators); anything else
    is bad input naming the argument, with the units whose name contains it as suggestions."""
    for kind, table, key in (("indicator", IndicatorRow.__table__, IndicatorRow.indicator_id),
                             ("project", ProjectRow.__table__, ProjectRow.project_id),
                             ("payment", PaymentRow.__table__, PaymentRow.payment_id)):
        if conn.execute(select(key).where(key == ident, *view.visible(table))).first() is not None:
            return kind
    units = IndicatorRow.__table__
    if conn.execute(select(IndicatorRow.unit).where(IndicatorRow.unit == ident,
                                                    *view.visible(units))).first() is not None:
        return "unit"
    when = "" if view.live else " in this view of the books (--as-of / --known-at)"
    raise InputError(f"ID: no indicator, project, payment or unit {ident!r} in the ledger{when}"
                     + similar_units(conn, ident), field="ID")


def similar_units(conn: Connection, name: str) -> str:
    """'; did you mean 拉萨市?' — units whose name contains ``name`` (at most five)."""
    pattern = "%" + name.replace("\\", "").replace("%", "").replace("_", "") + "%"
    found = list(conn.execute(select(IndicatorRow.unit).where(IndicatorRow.unit.like(pattern))
                              .distinct().order_by(IndicatorRow.unit).limit(5)).scalars())
    return f"; did you mean {', '.join(found)}?" if found and name.strip() else ""


def _one(rows: list[Rec]) -> Rec:
    return rows[0]


def trace_down(source: Source, ident: str, view: View = LIVE) -> dict[str, Any]:
    """The nested tree under an indicator (or a project, or a single payment)."""
    with connected(source) as conn:
        kind = entity_kind(conn, ident, view)
        if kind == "indicator":
            return _down_indicator(conn, ident, view)
        if kind == "project":
            return _down_project(conn, ident, view)
        if kind == "unit":
            return _down_unit(conn, ident, view)
        pay = _one(jn.payments(conn, view, PaymentRow.payment_id == ident))
        prj = _one(jn.projects(conn, view, ProjectRow.project_id == pay.project_id))
        ind = _one(jn.indicators(conn, view, IndicatorRow.indicator_id == pay.indicator_id))
        return {**_payment_node(pay, prj.unit, ind.tracking, ind.direct), "children": []}


def _down_indicator(conn: Connection, ident: str, view: View) -> dict[str, Any]:
    top = _one(jn.indicators(conn, view, IndicatorRow.indicator_id == ident))
    inds: dict[str, Rec] = {top.indicator_id: top}
    kids: dict[str, list[Rec]] = defaultdict(list)
    frontier = [top.indicator_id]
    while frontier:
        level = jn.indicators_in(conn, view, IndicatorRow.parent_id, frontier)
        for r in level:
            inds[r.indicator_id] = r
            kids[r.parent_id].append(r)
        frontier = [r.indicator_id for r in level]
    ids = list(inds)
    lines = jn.lines_in(conn, view, JournalRow.indicator_id, ids)
    projects = {p.project_id: p for p in jn.projects_in(conn, view, [ln.project_id for ln in lines])}
    pays: dict[tuple[str, str], list[Rec]] = defaultdict(list)
    for p in jn.payments_in(conn, view, PaymentRow.indicator_id, ids):
        pays[(p.project_id, p.indicator_id)].append(p)
    lines_of: dict[str, list[Rec]] = defaultdict(list)
    for ln in lines:
        lines_of[ln.indicator_id].append(ln)

    def build(r: Rec) -> dict[str, Any]:
        children = [build(c) for c in sorted(kids[r.indicator_id], key=lambda c: c.position)]
        for ln in sorted(lines_of[r.indicator_id], key=lambda x: (x.first_date, x.project_id)):
            prj = projects[ln.project_id]
            payments = sorted(pays[(ln.project_id, r.indicator_id)], key=lambda p: p.position)
            children.append({
                **_project_node(prj, amount=ln.allocated, paid=ln.paid, via=r.indicator_id,
                                tracking=r.tracking, direct=r.direct),
                "children": [{**_payment_node(p, prj.unit, r.tracking, r.direct), "children": []}
                             for p in payments],
            })
        return {**_indicator_node(r), "children": children}

    return build(top)


def _down_unit(conn: Connection, unit: str, view: View) -> dict[str, Any]:
    """A unit: one tree per indicator that brought money into its books (its own forwards to
    itself stay inside those trees)."""
    held = jn.indicators(conn, view, IndicatorRow.unit == unit)
    mine = {r.indicator_id for r in held}
    entries = [r for r in held if r.parent_id not in mine]
    received = sum(int(r.received) - int(r.recovered) for r in entries)
    return {"id": unit, "kind": "unit", "unit": unit, "amount": format_yuan(received),
            "doc": None, "date": None, "tracking": None, "direct": None, "flags": [],
            "children": [_down_indicator(conn, r.indicator_id, view) for r in entries]}


def _down_project(conn: Connection, ident: str, view: View) -> dict[str, Any]:
    prj = _one(jn.projects(conn, view, ProjectRow.project_id == ident))
    lines = jn.lines(conn, view, JournalRow.project_id == ident)
    inds = {r.indicator_id: r for r in jn.indicators_in(
        conn, view, IndicatorRow.indicator_id, [ln.indicator_id for ln in lines])}
    pays = jn.payments(conn, view, PaymentRow.project_id == ident)
    one = inds[lines[0].indicator_id] if len(lines) == 1 else None
    return {
        **_project_node(prj, amount=prj.allocated, paid=prj.paid, via=None,
                        tracking=one.tracking if one else None, direct=one.direct if one else None),
        "children": [{**_payment_node(p, prj.unit, inds[p.indicator_id].tracking,
                                      inds[p.indicator_id].direct), "children": []} for p in pays],
    }


def _chain(conn: Connection, indicator_id: str, view: View) -> list[Rec]:
    out: list[Rec] = []
    cur: str | None = indicator_id
    while cur is not None:
        r = _one(jn.indicators(conn, view, IndicatorRow.indicator_id == cur))
        out.append(r)
        cur = r.parent_id
    return out


def trace_up(source: Source, ident: str, view: View = LIVE) -> list[dict[str, Any]]:
    """The hops from the entity up to its root document(s), each with amount, doc and flags.

    Each hop carries ``branch`` and ``parent`` (the next hop up, None at a root). A project with
    several funding lines is listed once with branch 0, then one branch (1, 2, …) per line.
    """
    with connected(source) as conn:
        kind = entity_kind(conn, ident, view)
        hops: list[dict[str, Any]] = []
        if kind == "unit":
            raise InputError(f"ID: {ident!r} is a unit; trace --up starts at a payment, project "
                             "or indicator (trace without --up shows a unit's money)", field="ID")
        if kind == "indicator":
            _add_chain(hops, _chain(conn, ident, view), branch=1)
            return _numbered(hops)
        if kind == "payment":
            pay = _one(jn.payments(conn, view, PaymentRow.payment_id == ident))
            prj_id = pay.project_id
        else:
            prj_id = ident
        prj = _one(jn.projects(conn, view, ProjectRow.project_id == prj_id))
        lines = {ln.indicator_id: ln for ln in jn.lines(conn, view, JournalRow.project_id == prj_id)}
        line_ids = ([pay.indicator_id] if kind == "payment" else
                    [ln.indicator_id for ln in sorted(lines.values(),
                                                      key=lambda x: (x.first_date, x.indicator_id))])
        chains = [_chain(conn, i, view) for i in line_ids]
        shared = 0 if len(chains) > 1 else 1
        if kind == "payment":
            top = chains[0][0]
            hops.append({**_payment_node(pay, prj.unit, top.tracking, top.direct),
                         "branch": shared, "parent": prj_id})
        if len(chains) == 1:
            ln, top = lines[line_ids[0]], chains[0][0]
            hops.append({**_project_node(prj, amount=ln.allocated, paid=ln.paid, via=top.indicator_id,
                                         tracking=top.tracking, direct=top.direct),
                         "branch": 1, "parent": top.indicator_id})
        else:
            hops.append({**_project_node(prj, amount=prj.allocated, paid=prj.paid, via=None,
                                         tracking=None, direct=None),
                         "branch": 0, "parent": None})
        for b, chain in enumerate(chains, start=1):
            _add_chain(hops, chain, branch=b)
        return _numbered(hops)


def _add_chain(hops: list[dict[str, Any]], chain: list[Rec], branch: int) -> None:
    for k, r in enumerate(chain):
        parent = chain[k + 1].indicator_id if k + 1 < len(chain) else None
        hops.append({**_indicator_node(r), "branch": branch, "parent": parent, "root": parent is None})


def _numbered(hops: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """``hop``: 0 for the entity, then the distance up within each branch."""
    counters: dict[int, int] = defaultdict(int)
    shared = 0
    for h in hops:
        h.setdefault("root", False)
        b = h["branch"]
        if b == 0:
            h["hop"] = shared
            shared += 1
        else:
            h["hop"] = shared + counters[b]
            counters[b] += 1
    return hops


_SHAPES = {"unit": "folder", "indicator": "box", "project": "ellipse", "payment": "note"}
_DOT_HEAD = ["  rankdir=LR;", '  node [fontname="Noto Sans CJK SC"];']


def _quoted(s: str) -> str:
    return '"' + s.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'


def _wan(amount: str) -> str:
    """'1,408.00 万元' from a 元 string, as the notices print amounts."""
    from decimal import Decimal

    from ledger.money import FEN_PER_YUAN, format_wan

    return f"{format_wan(int(Decimal(amount) * FEN_PER_YUAN))} 万元"


def _dot_node(key: str, n: dict[str, Any]) -> str:
    label = f"{n['id']}\n{n['unit']}\n{_wan(n['amount'])}"
    if n.get("flags"):
        label += "\n" + " ".join(f.split()[0] for f in n["flags"])
    if n.get("reversed"):
        label += "\n(reversed)"
    style = ', style="dashed"' if n.get("reversed") else ""
    return f"  {_quoted(key)} [shape={_SHAPES[n['kind']]}, label={_quoted(label)}{style}];"


def _dot_edge(src: str, dst: str, amount: str) -> str:
    return f"  {_quoted(src)} -> {_quoted(dst)} [label={_quoted(_wan(amount))}];"


def to_dot(tree: dict[str, Any]) -> str:
    """A Graphviz digraph of a ``trace_down`` tree: one node per hop, edges carry the amount.

    Laid out left to right (a region's tree is wide, not deep: top to bottom it rendered
    17,884 × 811 px); amounts in 万元 with thousands separators, as the notices print them.
    """
    lines = ["digraph trace {", *_DOT_HEAD]
    seen: set[str] = set()

    def walk(n: dict[str, Any], parent_key: str | None, parent_id: str | None) -> None:
        # a project appears once per funding line: key it by its line
        key = f"{n['id']}@{parent_id}" if n["kind"] == "project" and parent_id else n["id"]
        if key not in seen:
            seen.add(key)
            lines.append(_dot_node(key, n))
        if parent_key is not None:
            lines.append(_dot_edge(parent_key, key, n["amount"]))
        for c in n.get("children", []):
            walk(c, key, n["id"])

    walk(tree, None, None)
    lines.append("}")
    return "\n".join(lines) + "\n"


def up_to_dot(hops: list[dict[str, Any]]) -> str:
    """A Graphviz digraph of ``trace_up``: from the root document(s) down to the entity; the
    money flows along the edges, so they point from each hop's parent to it."""
    lines = ["digraph trace_up {", *_DOT_HEAD]
    seen: set[str] = set()
    for h in hops:
        if h["id"] not in seen:
            seen.add(h["id"])
            lines.append(_dot_node(h["id"], h))
    for h in hops:
        if h.get("parent"):
            lines.append(_dot_edge(h["parent"], h["id"], h["amount"]))
    lines.append("}")
    return "\n".join(dict.fromkeys(lines)) + "\n"
