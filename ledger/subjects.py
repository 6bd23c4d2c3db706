"""Functional subjects (支出功能分类科目): 类 (3 digits) → 款 (5) → 项 (7), e.g. 213 → 21305 →
2130504. A forward or an allocation may refine a subject to one below it (001: 「将支出功能科目明确至
相应项级」), never to one beside or above it; the tracking flag and the root stay as they are."""

from __future__ import annotations

from ledger import invariants as inv


class SubjectNotRefinement(inv.InvariantViolation):
    """A refined subject must lie below the subject it refines (2130504 under 21305)."""

    name = "subject-refines-parent"


def is_below(child: str, parent: str) -> bool:
    """``child`` is a proper descendant of ``parent`` by whole levels (2 digits each)."""
    return (len(child) > len(parent) and child.startswith(parent)
            and (len(child) - len(parent)) % 2 == 0)


def check_refines(holder: str, current: str | None, refined: str) -> None:
    """``refined`` may replace ``current``: equal, or a subject below it."""
    if refined == current:
        return
    if current is None:
        raise SubjectNotRefinement(
            f"{holder} has no functional subject; {refined} cannot refine it (issue the "
            "indicator with --subject)")
    if not is_below(refined, current):
        raise SubjectNotRefinement(
            f"{holder} is kept under subject {current}; {refined} is not a subject below it "
            f"(a 项级 subject of {current} is {current}01–{current}99)")
