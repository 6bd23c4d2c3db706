"""forward-deadline: a unit that passes money on forwards it within N (5) days of the document.

Source: seed 001 (新财振〔2024〕9号) §一 "地（州、市）以自治区资金文件时间为准，5日内将预算指标
下达到县（市、区）". Scope (rules.toml): Xinjiang's funds, binding prefectures (``levels``); with
no ``levels`` it binds every unit that passes money on (:attr:`Books.forwarding_units`).

The clock starts at the date of the region's document (「以自治区资金文件时间为准」): the document
by which a region- or province-level unit passed this money on, found by walking up the
indicator's chain to the hop that left the region — not the prefecture's own later entries.

Two findings: a forward made after the deadline (entity: the child indicator), and money still
unforwarded after the deadline (entity: the held indicator; amount: what it held at the end of the
deadline day and still holds — the smaller of the two, so money a county returned later does not
count). Money the unit allocated to its own projects or returned upward is not "unforwarded".
"""

from __future__ import annotations

from typing import Any

from projections.audit.base import Books, Finding, after, finding, yuan
from projections.audit.config import ForwardDeadlineConfig
from projections.journal import chain_up

RULE_ID = "forward-deadline"


_TOP = ("region", "province")


def region_document(books: Books, ind: Any) -> Any:
    """The indicator created by the region's (or province's) document in ``ind``'s chain: the
    hop whose parent is held at region level; ``ind`` itself when its parent is, or when it
    has no parent in the books."""
    chain = chain_up(ind, books.indicators)
    for hop, parent in zip(chain, chain[1:], strict=False):
        if books.level_of(parent.unit) in _TOP:
            return hop
    return ind


def check(books: Books, cfg: ForwardDeadlineConfig) -> list[Finding]:
    out: list[Finding] = []
    children: dict[str, list[str]] = {}
    for ind in books.indicators.values():
        if ind.parent_id is not None:
            children.setdefault(ind.parent_id, []).append(ind.indicator_id)
    for ind in books.indicators.values():
        if not books.judged(cfg, ind.unit, forwarding=True) or not books.covers(cfg, ind):
            continue
        start = region_document(books, ind)
        deadline = after(start.effective_date, cfg.days)
        for child_id in children.get(ind.indicator_id, []):
            child = books.indicators[child_id]
            if child.unit == ind.unit or child.effective_date <= deadline:
                continue
            late = (child.effective_date - start.effective_date).days
            out.append(finding(
                RULE_ID, cfg, child.indicator_id,
                f"{ind.unit} forwarded {yuan(child.received)} of {ind.indicator_id} to "
                f"{child.unit} on {child.effective_date} ({child.doc}), {late} days after the "
                f"region's document date {start.effective_date} ({start.doc}); due by {deadline}",
                unit=ind.unit, amount=int(child.received), year=ind.year, date=deadline,
                extra={"parent": ind.indicator_id, "days": late},
            ))
        if books.as_of <= deadline:
            continue
        # money held since the deadline: returns from counties that arrive later are not counted
        idle = min(books.available_on(ind.indicator_id, deadline), int(ind.available))
        if idle > 0:
            days = (books.as_of - start.effective_date).days
            out.append(finding(
                RULE_ID, cfg, ind.indicator_id,
                f"{ind.unit} still holds {yuan(idle)} of {ind.indicator_id} unforwarded on "
                f"{books.as_of}, {days} days after the region's document date "
                f"{start.effective_date} ({start.doc}); due by {deadline}",
                unit=ind.unit, amount=idle, year=ind.year, date=deadline,
                extra={"days": days},
            ))
    return out
