"""One wording for pydantic's validation errors, shared by commands (options) and imports (cells).

A command names the option the user typed (``--amount: …``), an import names the file's row and
column; both say *why* in the same words, produced here.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Mapping
from typing import Any

#: Unicode categories never allowed in a name (unit, document, task, payee …): control and format
#: characters, line and paragraph separators. They are invisible, or break a table or a log line.
FORBIDDEN_CATEGORIES = frozenset({"Cc", "Cf", "Zl", "Zp"})


def explain(err: Mapping[str, Any], *, missing: str = "is required") -> str:
    """Why one pydantic error failed, in the ledger's words (without location)."""
    kind = err["type"]
    if kind == "missing":
        return missing
    if kind == "extra_forbidden":
        return "is not a field of this command"
    if kind == "string_pattern_mismatch" and r"[^\s]" in str((err.get("ctx") or {}).get("pattern")):
        return "must not contain spaces"
    if kind == "string_too_long":
        return str(err["msg"]).replace("String", "the text")
    return str(err["msg"]).removeprefix("Value error, ")


def first_control_character(text: str) -> str | None:
    """The first control / format / line-separator character of ``text``, described, or None."""
    for i, ch in enumerate(text):
        if unicodedata.category(ch) in FORBIDDEN_CATEGORIES:
            name = unicodedata.name(ch, "") or {"\n": "LINE FEED", "\r": "CARRIAGE RETURN",
                                                "\t": "TAB"}.get(ch, "control character")
            return f"U+{ord(ch):04X} {name} at position {i + 1}"
    return None


def no_control_characters(value: Any) -> Any:
    """A pydantic after-validator: refuse a name holding a newline or another control character."""
    if isinstance(value, str):
        found = first_control_character(value)
        if found:
            raise ValueError(f"must be one line of visible text; it contains {found}")
    return value
