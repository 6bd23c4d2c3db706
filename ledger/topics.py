"""Stable event topics.

Stored events name their class by topic. Topics here are explicit and never derived from module
paths, so a refactor cannot orphan the log; if a class ever moves, keep its topic string.
"""

PREFIX = "budget_ledger"


def topic(name: str) -> str:
    return f"{PREFIX}.{name}"
