"""Stable event topics.

Stored events name their class by topic. Topics here are explicit and never derived from module
paths, so a refactor cannot orphan the log; if a class ever moves, keep its topic string.
"""

PREFIX = "budget_ledger"


def topic(name: str) -> str:
    return f"{PREFIX}.{name}"


def event_name(event_class: type) -> str:
    """'Indicator.ForwardedOut': an event class's topic without the prefix, the name the read
    models and docs use. Tables keyed through this name a class, so renaming one breaks loudly."""
    return str(event_class.TOPIC).removeprefix(PREFIX + ".")  # type: ignore[attr-defined]
