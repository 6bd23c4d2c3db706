"""Errors a command can end in, each mapped to one exit code of the CLI contract."""

from __future__ import annotations


class LedgerError(Exception):
    """Base of every error the ledger raises on purpose."""

    exit_code = 1


class InputError(LedgerError):
    """Bad input or usage (exit 2): the message names the field or the file row. Nothing written."""

    exit_code = 2

    def __init__(self, message: str, *, field: str | None = None, problems: list[str] | None = None):
        self.field = field
        self.problems = problems or [message]
        super().__init__(message)


class StoreUnavailable(LedgerError):
    """The store cannot be reached, or stayed busy after bounded retries (exit 4)."""

    exit_code = 4
