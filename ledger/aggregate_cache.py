"""Aggregates as this process last saved (or loaded) them, so a long run does not reload them.

An import of monthly payment files, or the benchmark's passes, touches the same projects again
and again; reloading one is a SELECT plus a replay of its whole history, which cost ~40 % of a
payments import (docs/performance.md, "Write path"). :class:`AggregateCache` keeps the aggregates
a :class:`~ledger.batch.Batch` used once that batch has committed, and hands each out again
to ONE later batch (``take`` removes it: no copy, and a batch that fails — an invariant refused,
a conflict, an exception — never puts its half-mutated aggregates back).

Correct under other writers (other processes, other ``BudgetLedger`` instances), twice over:

1. the cache follows the notification log: ``head`` is the position up to which every entry is
   known current. Before a batch takes its first aggregate, :meth:`sync` reads the log's highest
   position; if it moved, the originators of the events after ``head`` are evicted (one ranged
   read; over ``SCAN_LIMIT`` events the whole cache is dropped instead). After a save, our own
   positions advance ``head`` directly when they follow it with no gap; otherwise the gap is
   scanned the same way. Positions are committed in order on both stores (SQLite has one writer;
   the library inserts under an EXCLUSIVE table lock on PostgreSQL), so nothing can appear below
   ``head`` later. A cached aggregate is therefore never older than one loaded at the same moment.
2. the optimistic-concurrency check is untouched: a batch's new events carry the next versions
   of the aggregates it holds, so if another writer saved in between, the insert fails on the
   (originator id, version) key exactly as with a fresh load, and ``BudgetLedger.run`` re-runs
   the command on aggregates loaded afresh (the failed batch's ones were taken, never returned).

Two tiers under one bound. The live tier holds aggregates as they are; past the bound, the
oldest live ones go first, and a project among them is *frozen* (:meth:`Project.freeze`: its
state as ~0.6 KB of bytes where the live object takes ~4 KB) into the frozen tier, which hands
it out again thawed (~15 µs where a load from the store replays every event, ~27 µs each at the
benchmark's scale 1.0). Once the live tier is down to 1/``LIVE_FLOOR`` of the bound, the frozen
ones go instead, and the live tier never holds more than 1/``LIVE_CAP`` of the bound while the
frozen tier is on. So a small ledger stays live, and a national one stays frozen: at scale 1.0 the
cache held 12,000 of 150,000 projects live and missed on the rest, every pass; frozen, it holds
them all (docs/performance.md, "Frozen tier", "Payments as columns").

The live weight is an estimate in units of ~400 bytes (:func:`weigh`): ``FIXED`` for an
aggregate's fixed part plus a unit per ``EVENTS_PER_UNIT`` events folded into it (measured with
tracemalloc: a project of 2 events takes ~2.0 KB, of 7 ~2.4 KB, of 22 ~3.9 KB, its payments
being columns; an indicator grows less); a frozen one weighs its bytes plus ``ENTRY``.
``BUDGET_LEDGER_AGGREGATE_CACHE`` sets the bound (default 300,000 units, ~120 MB; 0 turns the
cache off) and ``BUDGET_LEDGER_FROZEN_TIER=0`` the frozen tier (projects pushed out are then
dropped, as before it). A bulk put counts as least recent (:meth:`put`). A bound in aggregates
(20,000) took the benchmark at scale 1.0 to 314 MB for no hits; one in events alone let the
150,000 young projects of its second phase take 200 MB.
"""

from __future__ import annotations

import logging
import os
from collections import OrderedDict
from collections.abc import Iterable, Sequence
from typing import Any
from uuid import UUID

from eventsourcing.domain import Aggregate

from ledger.errors import InputError
from ledger.project import Project

log = logging.getLogger(__name__)

CACHE_ENV = "BUDGET_LEDGER_AGGREGATE_CACHE"
DEFAULT_SIZE = 300_000  # units of ~400 bytes (see the module's docstring): ~120 MB
UNIT = 400  # bytes
FROZEN_ENV = "BUDGET_LEDGER_FROZEN_TIER"  # 0: projects pushed out of the live tier are dropped
ENTRY = 120  # bytes a frozen entry costs besides its data (the bytes object, the dict's slot)
LIVE_FLOOR = 8  # the live tier is not frozen below 1/8 of the bound (a few batches' worth)
#: with the frozen tier on, the live tier holds at most 1/2 of the bound: live aggregates are
#: many small objects whose memory Python keeps once it has had it, so a live tier that filled
#: the bound while a national import created its projects stayed in the process's RSS while
#: the frozen tier grew beside it (docs/performance.md, "Payments as columns")
LIVE_CAP = 2
FIXED = 5  # an aggregate's fixed part, in the same units (~2 KB)
EVENTS_PER_UNIT = 4  # a project's state grows ~100 bytes an event (a payment, as columns)
#: more foreign events than this since ``head``: drop everything rather than read them all
SCAN_LIMIT = 20_000
#: a put of at least this many aggregates (an import's batch) goes in at the old end
BULK_PUT = 64


def _whole(env: str, default: int, unit: str) -> int:
    raw = os.environ.get(env, "").strip()
    if not raw:
        return default
    if not raw.isdigit():
        raise InputError(f"{env}: expected a whole number >= 0 ({unit}), got {raw!r}")
    return int(raw)


def weigh(agg: Aggregate) -> int:
    """A live aggregate's estimated size, in units."""
    return FIXED + agg.version // EVENTS_PER_UNIT


def cache_size() -> int:
    return _whole(CACHE_ENV, DEFAULT_SIZE, "units of ~400 bytes")


def frozen_tier() -> bool:
    raw = os.environ.get(FROZEN_ENV, "").strip()
    if raw not in ("", "0", "1"):
        raise InputError(f"{FROZEN_ENV}: expected 1 (on, the default) or 0 (off), got {raw!r}")
    return raw != "0"


class AggregateCache:
    def __init__(self, recorder: Any, maxsize: int, frozen: bool = False) -> None:
        self.recorder = recorder
        self.maxsize = maxsize
        self.items: OrderedDict[UUID, Aggregate] = OrderedDict()
        self.weight = 0  # the live aggregates' weights added up (weigh)
        #: the frozen tier: projects evicted from ``items``, as Project.freeze bytes, keyed by
        #: ``UUID.int``: 150,000 UUID keys made every full collection of the cyclic garbage
        #: collector walk 150,000 more objects (~10 ms where ints and bytes cost ~3)
        self.frozen: OrderedDict[int, bytes] = OrderedDict()
        self.freezes = frozen
        self.frozen_bytes = 0  # the frozen entries' sizes added up (len + ENTRY each)
        self.head: int | None = None  # entries are current up to this log position
        self.hits = self.misses = self.thawed = 0

    def __len__(self) -> int:
        return len(self.items) + len(self.frozen)

    def __contains__(self, key: UUID) -> bool:
        return key in self.items or key.int in self.frozen

    def clear(self) -> None:
        self._drop()
        self.head = None

    def _drop(self) -> None:
        self.items.clear()
        self.weight = 0
        self.frozen.clear()
        self.frozen_bytes = 0

    def _pop(self, key: UUID) -> Aggregate | None:
        """Out of the cache, thawed if it was frozen; None if it held no such aggregate."""
        agg = self.items.pop(key, None)
        if agg is not None:
            self.weight -= weigh(agg)
            return agg
        frozen = self.frozen.pop(key.int, None)
        if frozen is None:
            return None
        self.frozen_bytes -= len(frozen) + ENTRY
        self.thawed += 1
        return Project.thaw(frozen)

    def _forget(self, key: UUID) -> None:
        """Out of the cache, without thawing (another writer changed it)."""
        agg = self.items.pop(key, None)
        if agg is not None:
            self.weight -= weigh(agg)
        frozen = self.frozen.pop(key.int, None)
        if frozen is not None:
            self.frozen_bytes -= len(frozen) + ENTRY

    def sync(self) -> None:
        """Evict what other writers changed since ``head`` (one cheap query when nothing did)."""
        if not self.maxsize:
            return
        top = self.recorder.max_notification_id() or 0
        if self.head is None or top < self.head:
            self._drop()
        elif top > self.head:
            self._evict_foreign(self.head, top, own=())
        self.head = top

    def take(self, key: UUID) -> Aggregate | None:
        """The cached aggregate, removed from the cache (the batch owns it now), or None."""
        agg = self._pop(key)
        if agg is None:
            self.misses += 1
        else:
            self.hits += 1
        return agg

    def saved(self, aggregates: Iterable[Aggregate], positions: Sequence[int | None]) -> None:
        """After a commit: advance ``head`` past our own events, then keep the aggregates."""
        if not self.maxsize or self.head is None:
            return
        if positions:
            if any(p is None for p in positions):
                self.clear()
                return
            ours = sorted(p for p in positions if p is not None)
            contiguous = ours[0] == self.head + 1 and ours[-1] - ours[0] + 1 == len(ours)
            self.put(aggregates)
            if not contiguous:  # someone else's events may sit in between: scan the gap
                self._evict_foreign(self.head, ours[-1], own=set(ours))
            self.head = max(self.head, ours[-1])
        else:
            self.put(aggregates)

    def put(self, aggregates: Iterable[Aggregate]) -> None:
        """Keep these aggregates; past the bound, evict from the old end (a project is frozen,
        the rest dropped).

        A bulk put (:data:`BULK_PUT` aggregates or more: an import's batch) goes in at the old
        end, so that when the cache is full it is the first to go, not what the cache held:
        the passes of an import (monthly payment files, the benchmark's passes) visit the same
        projects in the same order, and plain LRU then evicts exactly the project the next
        batch needs — no hit at all once the projects outweigh the bound (the scale-0.1
        profile: 12,500 of 15,000 loads missed in the last pass). So a share of them stays and
        hits on every pass. A small put (one command) is most recent, as in LRU. The frozen
        tier follows the same rule for what a bulk put pushed out of the live one."""
        items = self.items
        keep = [agg for agg in aggregates if not agg.pending_events]  # never state not stored
        bulk = len(keep) >= BULK_PUT
        for agg in keep:
            self._forget(agg.id)
            items[agg.id] = agg
            if bulk:
                items.move_to_end(agg.id, last=False)
            self.weight += weigh(agg)
        self._fit(bulk)

    def _over(self) -> bool:
        return self.weight * UNIT + self.frozen_bytes > self.maxsize * UNIT

    def _fit(self, bulk: bool) -> None:
        """Back within the bound: live aggregates go first, a project frozen (~6x smaller),
        anything else dropped, until the live tier is down to its floor; then frozen ones go.
        With the frozen tier on, the live tier is also kept under its cap."""
        items, frozen = self.items, self.frozen
        floor = self.maxsize // LIVE_FLOOR if self.freezes else 0
        cap = self.maxsize // LIVE_CAP if self.freezes else self.maxsize
        evicted: list[int] = []
        while items and ((self._over() and (self.weight > floor or not frozen))
                         or self.weight > cap):
            _, old = items.popitem(last=False)
            self.weight -= weigh(old)
            if self.freezes and isinstance(old, Project):
                try:
                    data = old.freeze()
                except Exception as e:  # noqa: BLE001 - the events are committed by now:
                    # raising would make BudgetLedger.run re-run a recorded command; an
                    # aggregate not kept is only loaded again
                    log.warning("project %s not kept in the cache (%s)", old.id, e)
                    continue
                key = old.id.int
                frozen[key] = data
                self.frozen_bytes += len(data) + ENTRY
                evicted.append(key)
        if bulk:  # what a bulk put pushed out goes in at the old end, as in the live tier
            for key in reversed(evicted):
                frozen.move_to_end(key, last=False)
        while self._over() and frozen:
            _, data = frozen.popitem(last=False)
            self.frozen_bytes -= len(data) + ENTRY

    def _evict_foreign(self, after: int, upto: int, own: Iterable[int]) -> None:
        if upto - after > SCAN_LIMIT:
            self._drop()
            return
        own = set(own)
        for note in self.recorder.select_notifications(after, upto - after, stop=upto,
                                                       inclusive_of_start=False):
            if note.id not in own:
                self._forget(note.originator_id)
