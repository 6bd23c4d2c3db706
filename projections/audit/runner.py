"""Running the audit: every enabled rule over one snapshot of the read models.

``run_audit(source, config, view)`` reads the read models (after ``Projector.catch_up``) in a
:class:`~projections.journal.View` (live, or --as-of / --known-at). The audit date is "today"
for the deadline rules and the 序时进度: the view's as-of date, else the latest effective date
in the books — deterministic, never the wall clock.
"""

from __future__ import annotations

from collections.abc import Callable
from types import ModuleType
from typing import Any

from projections.audit import (
    forward_deadline,
    industry_share,
    labour_share,
    payment_ahead_of_progress,
    pooled_sources,
    progress_behind_schedule,
    project_refinement_deadline,
    project_renamed,
    same_year_spending,
    transfer_as_spending,
)
from projections.audit.base import Books, Finding
from projections.audit.config import RulesConfig
from projections.db import Source, connected
from projections.journal import LIVE, View, latest_effective_date

RULES: tuple[ModuleType, ...] = (
    forward_deadline,
    project_refinement_deadline,
    industry_share,
    labour_share,
    payment_ahead_of_progress,
    transfer_as_spending,
    same_year_spending,
    project_renamed,
    pooled_sources,
    progress_behind_schedule,
)
RULE_IDS: tuple[str, ...] = tuple(m.RULE_ID for m in RULES)


def run_audit(source: Source, config: RulesConfig | None = None, view: View = LIVE) -> list[Finding]:
    """The findings of every enabled rule, in rule order, each rule's in log order."""
    config = config or RulesConfig.default()
    findings: list[Finding] = []
    with connected(source) as conn:
        as_of = view.as_of or latest_effective_date(conn, view)
        if as_of is None:
            return []
        books = Books(conn=conn, as_of=as_of, config=config, view=view)
        for module in RULES:
            cfg = config.rule(module.RULE_ID)
            if cfg.enabled:
                check: Callable[[Books, Any], list[Finding]] = module.check
                findings.extend(f for f in check(books, cfg) if books.in_scope(cfg, f))
    return findings


def has_errors(findings: list[Finding]) -> bool:
    return any(f.severity == "error" for f in findings)
