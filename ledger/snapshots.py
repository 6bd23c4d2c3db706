"""Library snapshots of projects, so a load replays a few events instead of a whole history.

A payments import reloads every project it pays into; without the aggregate cache (a fresh
process, or scale 1.0 where the cache cannot hold every project) each load replayed all of the
project's events: ~40 % of an import (docs/performance.md, "Write path"). With snapshots a load
is the latest snapshot plus the events after it.

What the library gives and what is ours:

- the snapshot store is the library's (``snapshotting_intervals`` on the application turns it on;
  its own table ``stored_snapshots`` / ``budgetledger_snapshots``, never the events table, so the
  log, the hash chain, ``verify`` and a rebuild never see a snapshot). ``Repository.get`` already
  starts from the latest snapshot, and :func:`ledger.library_patches.fold` folds it like an event
  (a snapshot's ``mutate(None)`` returns the aggregate).
- :func:`take_snapshots` replaces ``Application._take_snapshots``: the library reloads each
  aggregate from the store to snapshot it (a second replay per snapshot); after a save the
  aggregate in memory *is* the recorded state (the aggregate cache relies on the same), so it is
  snapshotted from there, all of one save's snapshots in one insert.
- :func:`load_many` is ``Batch.preload``'s bulk read: the latest snapshot of each of many
  aggregates in one query, then only the events after it, in one query per few hundred.
- :func:`snapshot_loaded`: when to snapshot besides the library's interval rule — a project that
  ``preload`` read from the store (a cache miss: what replays) once enough events follow its
  latest snapshot (``BUDGET_LEDGER_SNAPSHOT_REPLAYED``); one the cache handed out never is.
- :class:`SnapshotCompressor`: snapshots (not events) are stored zlib-compressed, to stay inside
  one SQLite page.
- transcodings for the state a project holds (``FundingLine``, ``Timeline``, ``PaymentState``),
  compact lists rather than the library's ``{"_type_", "_data_"}`` per date.
"""

from __future__ import annotations

import logging
import os
import sqlite3
import sys
import zlib
from collections.abc import Iterable, Mapping, Sequence
from datetime import date
from functools import lru_cache
from itertools import groupby
from operator import attrgetter
from typing import Any
from uuid import UUID

from eventsourcing.domain import Aggregate, Snapshot
from eventsourcing.persistence import (
    Compressor,
    JSONTranscoder,
    Mapper,
    PersistenceError,
    StoredEvent,
    Transcoding,
)
from eventsourcing.utils import register_topic

from ledger.errors import InputError
from ledger.library_patches import fold
from ledger.project import FundingLine, PaymentBook, PaymentState, Project
from ledger.timeline import Timeline
from ledger.topics import topic

log = logging.getLogger(__name__)

INTERVAL_ENV = "BUDGET_LEDGER_SNAPSHOT_INTERVAL"
#: a project is snapshotted when a save takes its version past a multiple of this (0 = never)
DEFAULT_INTERVAL = 0  # off: at 0.01 the snapshots cost more than the replays they save (docs/performance.md)
REPLAYED_ENV = "BUDGET_LEDGER_SNAPSHOT_REPLAYED"
#: a project a bulk load read from the store (not from the aggregate cache) is snapshotted
#: after its next save when that leaves at least this many events after its latest snapshot
#: (0 = never): the cache's hits need no snapshot, its misses are what replays
DEFAULT_REPLAYED = 0
MANY = 500  # aggregates per bulk query (SQLite allows 32,766 parameters; two per id here)


def _events_setting(env: str, default: int) -> int:
    raw = os.environ.get(env, "").strip()
    if not raw:
        return default
    if not raw.isdigit():
        raise InputError(f"{env}: expected a whole number >= 0 (events), got {raw!r}")
    return int(raw)


def snapshot_interval() -> int:
    return _events_setting(INTERVAL_ENV, DEFAULT_INTERVAL)


def snapshot_replayed() -> int:
    return _events_setting(REPLAYED_ENV, DEFAULT_REPLAYED)


class PaymentTable:
    """A project's payments inside a snapshot: one transcoding call for the whole table, where
    one per :class:`PaymentState` was a third of the time to take a snapshot. It decodes to a
    plain ``dict``, which :meth:`LedgerSnapshot.mutate` makes the project's :class:`PaymentBook`
    again (the stored form predates the book, and old snapshots stay readable)."""

    __slots__ = ("payments",)

    def __init__(self, payments: dict[str, PaymentState]) -> None:
        self.payments = payments


class LedgerSnapshot(Snapshot):
    """The library's snapshot under a stable topic, like every stored class here
    (ledger/topics.py): a stored snapshot must not name a module path."""

    TOPIC = topic("Snapshot")

    @classmethod
    def take(cls, aggregate: Any) -> LedgerSnapshot:
        snap = super().take(aggregate)
        book = snap.state.get("payments")
        if type(book) is PaymentBook:  # stored as it was before the book: ids → states, vouchers
            snap.state["payments"] = PaymentTable(dict(book.items()))  # take()'s own copy
            snap.state["vouchers"] = book.voucher_map()
        return snap

    def mutate(self, _: None) -> Any:
        agg: Any = super().mutate(None)
        if isinstance(agg, Project) and type(agg.__dict__.get("payments")) is dict:
            state = agg.__dict__
            state["payments"] = PaymentBook.of(f"{agg.project_id}:P", state["payments"],
                                               state.pop("vouchers", {}))
        return agg


register_topic(LedgerSnapshot.TOPIC, LedgerSnapshot)


# ---- transcodings for what a project holds ------------------------------------------------------

#: one date object per day: a restored project shares them (as a replayed one shares each
#: event's date between its payment and its timeline), and parsing is done once per day
day_of = lru_cache(maxsize=8192)(date.fromisoformat)


class TimelineAsList(Transcoding):
    """[[day, delta], …] in date order; the running total and the last day follow from it."""

    type = Timeline
    name = "timeline"

    def encode(self, obj: Timeline) -> list[list[Any]]:
        return [[day.isoformat(), delta] for day, delta in obj.moves]

    def decode(self, data: list[list[Any]]) -> Timeline:
        return Timeline.from_moves([(day_of(day), delta) for day, delta in data])


class FundingLineAsList(Transcoding):
    type = FundingLine
    name = "funding_line"

    def encode(self, obj: FundingLine) -> list[Any]:
        return [obj.allocated, obj.paid, obj.unpaid]

    def decode(self, data: list[Any]) -> FundingLine:
        allocated, paid, unpaid = data
        return FundingLine(allocated, paid, unpaid)


class PaymentStateAsList(Transcoding):
    type = PaymentState
    name = "payment_state"

    def encode(self, obj: PaymentState) -> list[Any]:
        return [obj.indicator_id, obj.amount, obj.effective_date.isoformat(), obj.reversed]

    def decode(self, data: list[Any]) -> PaymentState:
        indicator_id, amount, day, reversed_ = data
        return PaymentState(sys.intern(indicator_id), amount, day_of(day), reversed_)


class PaymentTableAsList(Transcoding):
    """[[payment id, indicator id, amount, day, reversed], …] in the project's order."""

    type = PaymentTable
    name = "payment_table"

    def encode(self, obj: PaymentTable) -> list[list[Any]]:
        return [[pid, p.indicator_id, p.amount, p.effective_date.isoformat(), p.reversed]
                for pid, p in obj.payments.items()]

    def decode(self, data: list[list[Any]]) -> dict[str, PaymentState]:
        intern = sys.intern  # a project's few indicator ids, once each
        return {pid: PaymentState(intern(ind), amount, day_of(day), rev)
                for pid, ind, amount, day, rev in data}


def register_transcodings(transcoder: JSONTranscoder) -> None:
    for t in (TimelineAsList(), FundingLineAsList(), PaymentStateAsList(), PaymentTableAsList()):
        transcoder.register(t)


class SnapshotCompressor(Compressor):
    """zlib (level 1) for snapshots only, never events: a project's snapshot is 1-2.5 KB of JSON
    (~0.6 KB compressed), and a row over ~1 KB in SQLite's snapshot table (WITHOUT ROWID)
    spills into an overflow page of its own, one more random page to write and to read.
    A snapshot written uncompressed (JSON: it starts with ``{``) still reads."""

    def compress(self, data: bytes) -> bytes:
        return zlib.compress(data, 1)

    def decompress(self, data: bytes) -> bytes:
        return data if data[:1] == b"{" else zlib.decompress(data)


def snapshot_mapper(mapper: Mapper[Any]) -> Mapper[Any]:
    """The events' mapper (same transcoder and cipher) plus :class:`SnapshotCompressor`."""
    return type(mapper)(transcoder=mapper.transcoder, compressor=SnapshotCompressor(),
                        cipher=mapper.cipher)


# ---- taking snapshots -------------------------------------------------------------------------


def take_snapshots(app: Any, processing_event: Any) -> int:
    """After a save: snapshot, from memory, each aggregate whose new events passed a multiple of
    its interval (the library's rule). Returns how many were written.

    A failure here is logged and swallowed: the events are committed by now, a snapshot only
    saves replay, and raising would make ``BudgetLedger.run`` re-run a command already recorded.
    """
    intervals = app.snapshot_intervals
    if app.snapshots is None or not intervals:
        return 0
    aggregates = processing_event.aggregates
    due: dict[UUID, Aggregate] = {}
    for ev in processing_event.events:
        agg = aggregates.get(ev.originator_id)
        if agg is None:
            continue
        every = intervals.get(type(agg))
        if every and ev.originator_version % every == 0 and not agg.pending_events:
            due[agg.id] = agg
    return put_snapshots(app, due.values())


def put_snapshots(app: Any, aggregates: Iterable[Aggregate]) -> int:
    """Snapshot these saved aggregates from memory, in one insert; how many were written (a
    failure is logged and swallowed: see :func:`take_snapshots`)."""
    if app.snapshots is None:
        return 0
    snaps = [LedgerSnapshot.take(agg) for agg in aggregates]
    if not snaps:
        return 0
    try:
        app.snapshots.put(snaps)
    except (PersistenceError, sqlite3.Error, OSError) as e:
        log.warning("snapshots not written (the events are; loads replay more): %s", e)
        return 0
    return len(snaps)


def snapshot_loaded(app: Any, saved: Sequence[Aggregate], new: Mapping[UUID, int],
                    since: Mapping[UUID, int]) -> int:
    """After a save: snapshot each saved project that a bulk load read from the store and that
    now has at least ``app.snapshot_replayed`` events after its latest snapshot (``since``: that
    snapshot's version at the load, 0 without one; ``new``: the events this save wrote of it).
    A project the cache handed out is not in ``since``: it needs no snapshot while it stays
    there, and gets one at the save after its next load from the store. Skips a project the
    interval rule (:func:`take_snapshots`) snapshotted in this save."""
    least = app.snapshot_replayed
    if not least or app.snapshots is None:
        return 0
    every = app.snapshot_intervals.get(Project, 0)
    due = []
    for agg in saved:
        start = since.get(agg.id)
        if start is None or agg.version - start < least or not isinstance(agg, Project):
            continue
        if every and agg.version // every > (agg.version - new.get(agg.id, 0)) // every:
            continue  # the interval rule took this version already
        due.append(agg)
    return put_snapshots(app, due)


# ---- loading many aggregates --------------------------------------------------------------------


def select_latest_snapshots(store: Any, ids: Sequence[UUID]) -> list[StoredEvent]:
    """The latest stored snapshot of each of ``ids`` that has one (one query per MANY ids)."""
    recorder = store.recorder
    out: list[StoredEvent] = []
    if hasattr(recorder.datastore, "schema"):  # PostgreSQL
        from psycopg.sql import SQL, Identifier

        sql = SQL(
            "SELECT DISTINCT ON (originator_id) originator_id, originator_version, topic, state "
            "FROM {}.{} WHERE originator_id = ANY(%s) ORDER BY originator_id, originator_version DESC"
        ).format(Identifier(recorder.datastore.schema), Identifier(recorder.events_table_name))
        for i in range(0, len(ids), MANY):
            with recorder.datastore.get_connection() as conn, conn.cursor() as curs:
                curs.execute(sql, [list(ids[i:i + MANY])])
                out.extend(StoredEvent(r["originator_id"], r["originator_version"], r["topic"],
                                       bytes(r["state"])) for r in curs.fetchall())
        return out
    convert = recorder.convert_originator_id
    for i in range(0, len(ids), MANY):
        part = [k.hex for k in ids[i:i + MANY]]
        with recorder.datastore.transaction(commit=False) as c:
            # SQLite: the bare columns of a MAX() aggregate come from the row holding the max
            c.execute(
                f"SELECT originator_id, MAX(originator_version), topic, state FROM "
                f"{recorder.events_table_name} WHERE originator_id IN "
                f"({','.join('?' * len(part))}) GROUP BY originator_id", part)
            out.extend(StoredEvent(convert(r[0]), r[1], r[2], r[3]) for r in c.fetchall())
    return out


def load_many(app: Any, ids: Sequence[UUID],
              since: dict[UUID, int] | None = None) -> dict[UUID, Aggregate]:
    """The current state of each of ``ids`` found in the store: latest snapshot plus the events
    after it (or every event, without one), read in bulk. Ids not in the store are left out.
    ``since``, if given, gets each found aggregate's snapshot version (0: none), which
    :func:`snapshot_loaded` reads after the save."""
    to_event = app.mapper.to_domain_event
    start: dict[UUID, Aggregate] = {}
    if app.snapshots is not None:
        to_snapshot = app.snapshots.mapper.to_domain_event
        for snap in select_latest_snapshots(app.snapshots, ids):
            start[UUID(str(snap.originator_id))] = to_snapshot(snap).mutate(None)
    after = {k: agg.version for k, agg in start.items()}
    if since is not None:
        since.update(after)
    found: dict[UUID, Aggregate] = {}
    for key, events in groupby(app.recorder.select_events_of_many(ids, after),
                               key=attrgetter("originator_id")):
        found[key] = fold(start.pop(key, None), map(to_event, events))
    found.update(start)  # the rest: nothing recorded since their snapshot
    if since is not None:
        for key in found.keys() - after.keys():
            since[key] = 0
    return found


def snapshot_versions(app: Any, ids: Iterable[UUID]) -> dict[UUID, int]:
    """The latest snapshot's version of each of ``ids`` that has one (for tests and tools)."""
    if app.snapshots is None:
        return {}
    return {UUID(str(s.originator_id)): s.originator_version
            for s in select_latest_snapshots(app.snapshots, list(ids))}
