"""How the ledger's own value types are written in the stored JSON (the library's transcoder).

Registered by ``BudgetLedger.register_transcodings``. Never change a ``name``: it is in the log.
"""

from __future__ import annotations

from dataclasses import asdict
from datetime import date, datetime
from typing import Any

from eventsourcing.persistence import DatetimeAsISO, Transcoding

from ledger.terms import TRANSCODING_NAME, IndicatorTerms


class DatetimeAsISOOnce(DatetimeAsISO):
    """The library's ``datetime_iso``, same text, but one save's events share one recorded-at
    time (:func:`stamp_recorded_at`): format it once, not once per event (5 % of an import)."""

    def __init__(self) -> None:
        self._last: tuple[datetime, str] | None = None

    def encode(self, obj: datetime) -> str:
        last = self._last
        if last is not None and last[0] is obj:
            return last[1]
        text = obj.isoformat()
        self._last = (obj, text)
        return text


class DateAsISO(Transcoding):
    """Effective dates are plain calendar dates in the log: '2025-01-05'."""

    type = date
    name = "date_iso"

    def encode(self, obj: date) -> str:
        return obj.isoformat()

    def decode(self, data: str) -> date:
        return date.fromisoformat(data)


class IndicatorTermsAsDict(Transcoding):
    """An indicator's terms (:mod:`ledger.terms`) as a JSON object of their fields, by name:
    ``{"_type_": "indicator_terms", "_data_": {"year": 2025, "task": …}}``."""

    type = IndicatorTerms
    name = TRANSCODING_NAME

    def encode(self, obj: IndicatorTerms) -> dict[str, Any]:
        return asdict(obj)

    def decode(self, data: dict[str, Any]) -> IndicatorTerms:
        return IndicatorTerms(**data)
