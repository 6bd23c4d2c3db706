"""Every place the ledger reaches past `eventsourcing`'s public API, in one module.

The library is pinned exactly (``eventsourcing[postgres]==9.5.6`` in pyproject.toml) because of
what is listed here; each item says why it exists. The CLI checks the installed version at
start-up (:mod:`ledger.library_version`, without importing the library); :func:`check_library`
runs when this module is imported — that is, when :mod:`ledger.application` is, before the
library is used — and stops the program with a clear message on any other version, or when a
private hook below is missing, instead of letting a changed library silently break the hash
chain, the retry bound or the recorded-at times.

1. :func:`fold` replaces ``Repository.get``'s default ``project_aggregate``: the library checks a
   runtime Protocol with ``isinstance`` on every event, which cost a quarter of a payments import
   (see docs/performance.md). Passed as ``projector_func=`` (a public argument); what is assumed
   is that an event's ``mutate(aggregate)`` returns the next state.
2. :func:`stamp_recorded_at` rewrites the *pending* events of the aggregates about to be saved
   (``Aggregate.pending_events`` is a list the library owns; events are frozen dataclasses with a
   ``timestamp`` field; ``Aggregate.Event.create_timestamp``; an aggregate created in the save
   gets the same time in ``_created_on``, which ``BaseAggregate.__init__`` sets), so that one save has one
   recorded-at time and "known at T" is a whole-transaction question. The pending events are set
   in place (``object.__setattr__`` on the frozen dataclass: ``dataclasses.replace`` cost 7 % of
   a payments import); nothing else holds them before the save.
3. The application recorders in :mod:`ledger.integrity` / :mod:`ledger.integrity_postgres`
   override private hooks to write the hash chain in the same transaction as the events:
   SQLite ``SQLiteApplicationRecorder._insert_events(c, stored_events, **kwargs)`` (returns the
   notification ids) and PostgreSQL
   ``PostgresApplicationRecorder._fetch_ids_after_insert_events(curs, stored_events, **kwargs)``
   (runs while the library holds its EXCLUSIVE table lock). If the library stopped calling them,
   events would be stored unchained and ``verify`` would report every one as inserted.
4. :func:`postgres_insert_events_without_retries`: the library wraps
   ``PostgresApplicationRecorder.insert_events`` in ``@retry(max_attempts=10, wait=0.2)``;
   ``BudgetLedger.run`` has the one retry loop, bounded in time, so the chained recorder uses
   the undecorated function (``functools.wraps``' ``__wrapped__``).
5. :func:`save_aggregates` is ``Application.save`` for a list of aggregates without the two
   runtime-Protocol ``isinstance`` checks ``ProcessingEvent.collect_events`` makes per object
   (~4 µs of a payment event, see docs/performance.md "Write path"): it builds the library's
   ``ProcessingEvent`` itself and calls the same private steps ``save`` calls, in its order
   (``_record``, ``_take_snapshots``, ``_notify``, ``notify``). :func:`check_library` checks
   that ``save`` still consists of exactly those calls.
6. ``held_transaction`` on both chained recorders (``ledger/streamed.py`` uses it for an import
   too big for one save): while it is open, ``insert_events`` writes into that one transaction
   instead of opening its own — on SQLite through ``_insert_events`` (item 3) on the held cursor,
   on PostgreSQL through the steps the library's ``insert_events`` runs
   (``_insert_events``, ``_insert_stored_events`` — which takes the table lock —,
   ``_fetch_ids_after_insert_events``) on the held connection. :func:`check_postgres_hooks`
   checks that ``_insert_stored_events(curs, stored_events)`` is still there.
7. Snapshots (:mod:`ledger.snapshots`): ``BudgetLedger`` overrides the private
   ``Application._take_snapshots(processing_event)`` hook (one of the steps above) to snapshot
   projects from memory instead of reloading them; the bulk snapshot read uses the snapshot
   recorder's ``datastore`` and ``events_table_name`` as :mod:`ledger.integrity` uses the events
   recorder's. A snapshot restores through the public ``Snapshot.take``/``mutate``.
"""

from __future__ import annotations

import dataclasses
import inspect
from collections.abc import Iterable, Sequence
from typing import Any

from eventsourcing.domain import Aggregate

from ledger.library_version import LIBRARY, WRITTEN_FOR, LibraryMismatch, check_version
from ledger.library_version import mismatch as _fail

__all__ = ["LIBRARY", "WRITTEN_FOR", "LibraryMismatch", "check_library", "check_postgres_hooks",
           "fold", "postgres_insert_events_without_retries", "save_aggregates", "stamp_recorded_at"]


def _calls(fn: Any, hook: str) -> bool:
    """Does the library's ``fn`` still call ``hook``? (its source, as installed)"""
    try:
        return f"{hook}(" in inspect.getsource(fn)
    except (OSError, TypeError):
        return False


def _has_hook(cls: type, name: str, params: tuple[str, ...]) -> bool:
    fn = getattr(cls, name, None)
    if fn is None:
        return False
    try:
        names = tuple(inspect.signature(fn).parameters)
    except (TypeError, ValueError):
        return False
    return names[: len(params)] == params


def check_library(version: str | None = None) -> None:
    """Raise :class:`LibraryMismatch` unless the installed library is the one patched here.

    The PostgreSQL hooks are checked only when that module is importable (``psycopg`` is
    loaded by :mod:`ledger.integrity_postgres`, for PostgreSQL stores).
    """
    check_version(version)
    if not callable(getattr(Aggregate.Event, "create_timestamp", None)):
        raise _fail("Aggregate.Event.create_timestamp is gone")
    if not dataclasses.is_dataclass(Aggregate.Event) or "timestamp" not in {
            f.name for f in dataclasses.fields(Aggregate.Event)}:
        raise _fail("events are no longer dataclasses with a timestamp field")
    from eventsourcing.application import Application, Repository
    from eventsourcing.sqlite import SQLiteApplicationRecorder

    if not all(_calls(Application.save, step) for step in _SAVE_STEPS):
        raise _fail("Application.save no longer calls " + ", ".join(_SAVE_STEPS))
    if "projector_func" not in inspect.signature(Repository.get).parameters:
        raise _fail("Repository.get takes no projector_func")
    if not _has_hook(SQLiteApplicationRecorder, "_insert_events", ("self", "c", "stored_events")):
        raise _fail("SQLiteApplicationRecorder._insert_events(c, stored_events) is gone")
    if not _calls(SQLiteApplicationRecorder.insert_events, "self._insert_events"):
        raise _fail("SQLiteApplicationRecorder.insert_events no longer calls _insert_events")


def check_postgres_hooks() -> None:
    """The PostgreSQL half of :func:`check_library` (imports the driver)."""
    from eventsourcing.postgres import PostgresApplicationRecorder

    if not _has_hook(PostgresApplicationRecorder, "_fetch_ids_after_insert_events",
                     ("self", "curs", "stored_events")):
        raise _fail("PostgresApplicationRecorder._fetch_ids_after_insert_events is gone")
    if not _has_hook(PostgresApplicationRecorder, "_insert_stored_events",
                     ("self", "curs", "stored_events")):
        raise _fail("PostgresApplicationRecorder._insert_stored_events(curs, stored_events) is gone")
    wrapped = getattr(PostgresApplicationRecorder.insert_events, "__wrapped__", None)
    if wrapped is None:
        raise _fail("PostgresApplicationRecorder.insert_events is no longer a @retry wrapper")
    if not _calls(wrapped, "self._fetch_ids_after_insert_events"):
        raise _fail("PostgresApplicationRecorder.insert_events no longer calls "
                    "_fetch_ids_after_insert_events")


def postgres_insert_events_without_retries() -> Any:
    """The library's ``insert_events`` without its own ``@retry`` (item 4 above)."""
    from eventsourcing.postgres import PostgresApplicationRecorder

    check_postgres_hooks()
    return PostgresApplicationRecorder.insert_events.__wrapped__  # type: ignore[attr-defined]


def fold(aggregate: Any, events: Iterable[Any]) -> Any:
    """The library's project_aggregate without its per-event runtime Protocol isinstance check,
    which cost a quarter of a payments import (item 1 above; docs/performance.md)."""
    for ev in events:
        aggregate = ev.mutate(aggregate)
    return aggregate


_SAVE_STEPS = ("processing_event.collect_events", "self._record", "self._take_snapshots",
               "self._notify", "self.notify")


def save_aggregates(app: Any, aggregates: Sequence[Aggregate]) -> list[Any]:
    """``app.save(*aggregates)`` without the per-object Protocol checks (item 5 above)."""
    from eventsourcing.application import ProcessingEvent

    processing_event: Any = ProcessingEvent()
    events, by_id = processing_event.events, processing_event.aggregates
    for agg in aggregates:
        events.extend(agg.collect_events())
        by_id[agg.id] = agg
    recordings = app._record(processing_event)
    app._take_snapshots(processing_event)
    app._notify(recordings)
    app.notify(processing_event.events)  # deprecated in the library, still called by save
    return recordings  # type: ignore[no-any-return]


def stamp_recorded_at(aggregates: Iterable[Aggregate], now: Any = None) -> None:
    """Give every event of one save the same recorded-at time, taken just before the save.

    The library stamps each event when it is triggered, so a long import would carry a spread of
    times and a ``--known-at`` moment inside it would show half a file that was not yet written.
    One stamp per transaction makes "known at T" a whole-transaction question (item 2 above);
    ``now`` is that stamp when one transaction holds several saves (ledger/streamed.py).
    """
    now = now or Aggregate.Event.create_timestamp()
    setattr_ = object.__setattr__  # the events are frozen; these are not yet stored or shared
    for agg in aggregates:
        pending = agg.pending_events
        if not pending:
            continue
        for ev in pending:
            setattr_(ev, "timestamp", now)
        # as a reload would have it: the cache keeps this object and a snapshot is taken from it
        agg.modified_on = now
        if pending[0].originator_version == 1:  # created in this save: its Created event's time
            agg._created_on = now  # no public setter; the attribute __init__ sets


check_library()
