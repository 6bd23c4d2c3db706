"""Reading an event's stored JSON state without the write side's classes.

The read side decodes the log's bytes directly (no domain object per event). Two layouts of an
indicator creation (``Indicator.Issued`` / ``Received`` / ``PoolReceived``) are in the log:

- class version 1 (before ``IndicatorTerms``): ``"year": 2025, "task": "…", …`` at the top level;
- class version 2: ``"terms": {"_type_": "indicator_terms", "_data_": {"year": 2025, …}}`` and
  ``"class_version": 2``.

:func:`flatten_terms` turns the second into the first, so the rest of the read side knows one
layout. (SQL that decodes an indicator creation itself must read both layouts: COALESCE the
new path, ``$.terms._data_.year``, with the old, ``$.year``.)
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from ledger.terms import TERMS_FIELD, TRANSCODING_NAME

#: the transcoded values our events hold besides the terms: {'_type_': …, '_data_': text}
TRANSCODED = ("timestamp", "effective_date", "percent")


def fixed_utc(iso: str) -> str:
    """'2025-01-05T10:00:00.000000+00:00': the library omits '.000000' when microseconds are 0."""
    if len(iso) == 25:  # no fraction
        return iso[:19] + ".000000" + iso[19:]
    return iso


def flatten_terms(state: Any) -> dict[str, Any]:
    """A stored state with nested terms → the same state with the terms' fields at the top level,
    where version 1 had them (key order kept), and without ``class_version``. A state without
    ``terms`` is returned as it is. Raises ``ValueError`` on a state that is not a JSON object
    or a ``terms`` that is not the ``indicator_terms`` transcoding (an altered log)."""
    if not isinstance(state, dict):
        raise ValueError(f"the state is a JSON {type(state).__name__}, not an object")
    terms = state.get(TERMS_FIELD)
    if terms is None:
        return state
    if not isinstance(terms, dict) or terms.get("_type_") != TRANSCODING_NAME \
            or not isinstance(terms.get("_data_"), dict):
        raise ValueError(f"'{TERMS_FIELD}' is not {TRANSCODING_NAME!r}: {terms!r}")
    flat: dict[str, Any] = {}
    for key, value in state.items():
        if key == TERMS_FIELD:
            flat.update(terms["_data_"])
        elif key != "class_version":
            flat[key] = value
    return flat


def _value(v: Any) -> Any:
    """A transcoded value ({'_type_': 'date_iso', '_data_': '2025-01-05'}) as its plain data."""
    return v["_data_"] if isinstance(v, dict) and "_data_" in v else v


def decode_state(state: bytes | str) -> dict[str, Any]:
    """The event's own fields from its stored JSON state, plain values (dates as ISO strings),
    terms flattened (for ``history`` and ``log``)."""
    raw = flatten_terms(json.loads(state))
    return {k: _value(v) for k, v in raw.items()}


def states_query(table: str, pos: str, positions: Sequence[int]) -> str:
    """SQL for the stored states of the events at ``positions`` (``pos``: the table's position
    column, ``rowid`` on SQLite); each row is ``(pos, state)``."""
    listed = ", ".join(str(int(p)) for p in positions)
    return f"SELECT {pos} AS pos, state FROM {table} WHERE {pos} IN ({listed})"
