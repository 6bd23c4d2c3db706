"""What a refused import says: one :class:`Problem` per bad cell or row, gathered in
:class:`ImportRejected` (nothing written)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from ledger.errors import InputError, LedgerError


@dataclass(frozen=True)
class Problem:
    """One reason a file is refused, located as precisely as the file allows."""

    file: str
    row: int | None
    column: str | None
    value: str | None
    why: str
    invariant: bool = False  # a ledger invariant (exit 3) rather than bad input (exit 2)

    def __str__(self) -> str:
        where = [f"row {self.row}"] if self.row is not None else []
        if self.column:
            where.append(f"column {self.column}")
        if self.value is not None:
            where.append(f"value {self.value!r}")
        return f"{self.file}: {', '.join(where) + ': ' if where else ''}{self.why}"


class ImportRejected(LedgerError):
    """The file was refused as a whole; ``problems`` holds one line per bad row. Nothing written.

    Exit 3 when every problem is a ledger invariant, else 2 (bad input).
    """

    def __init__(self, file: str, items: Sequence[Problem], footer: str | None = None) -> None:
        self.file = file
        self.items = sorted(items, key=lambda p: (p.row or 0, p.column or ""))
        self.exit_code = 3 if self.items and all(p.invariant for p in self.items) else 2
        lines = [str(p) for p in self.items]
        lines.append(footer or f"{file}: {count(len(self.items), 'problem')}; nothing was written")
        self.problems = lines
        super().__init__("\n".join(lines))


class RowError(InputError):
    """A row refused while applying, naming the cell it is about when that is not the step's own."""

    def __init__(self, message: str, *, column: str | None = None, value: str | None = None):
        super().__init__(message)
        self.column = column
        self.value = value


class AlreadyRecorded(RowError):
    """A row whose natural key is already in the ledger (re-import without --skip-existing)."""


class Skipped(Exception):
    """A row already in the ledger, skipped under --skip-existing."""


def count(n: int, noun: str) -> str:
    return f"{n} {noun}{'' if n == 1 else 's'}"


def refuse(file: str, why: str, row: int | None = None, column: str | None = None,
           value: str | None = None) -> ImportRejected:
    """A whole-file refusal with one problem (a header, an unreadable file …)."""
    return ImportRejected(file, [Problem(file, row, column, value, why)])
