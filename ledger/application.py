"""BudgetLedger: the write side's one entry point.

Each command runs in a :class:`Batch` (a unit of work): aggregates are loaded once, every check
runs before any event is triggered, and all touched aggregates are saved together in one atomic
``save`` — a forward writes parent and child, an allocation indicator and project, a recovery
child and parent. An import is one Batch holding many commands. On an optimistic-concurrency
conflict the whole command is re-run from freshly loaded aggregates, a bounded number of times.
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any, TypeVar
from uuid import UUID

from eventsourcing.application import Application
from eventsourcing.domain import Aggregate
from eventsourcing.persistence import (
    IntegrityError,
    JSONTranscoder,
    OperationalError,
    PersistenceError,
)

from ledger.aggregate_cache import AggregateCache, cache_size, frozen_tier
from ledger.batch import Batch, fewer_collections
from ledger.errors import StoreUnavailable
from ledger.indicator import Indicator
from ledger.library_patches import (  # noqa: F401 - fold re-exported
    fold,
    save_aggregates,
    stamp_recorded_at,
)
from ledger.project import Project
from ledger.snapshots import (
    register_transcodings,
    snapshot_interval,
    snapshot_mapper,
    snapshot_replayed,
    take_snapshots,
)
from ledger.store import MAX_WAIT_ENV, StoreConfig, check_reachable, max_wait, parse_store_url
from ledger.transcodings import DateAsISO, DatetimeAsISOOnce, IndicatorTermsAsDict

if TYPE_CHECKING:  # the commands' pydantic models are built only where commands are parsed
    from ledger.commands import (
        AddProjectCommand,
        AllocateCommand,
        DeallocateCommand,
        ForwardCommand,
        IssueCommand,
        PayCommand,
        ProgressCommand,
        RecoverCommand,
        RenameProjectCommand,
        ReverseCommand,
        SetUnitCommand,
    )

T = TypeVar("T")

MAX_ATTEMPTS = 8
_clock = time.monotonic  # module-level, so tests can drive time
_sleep = time.sleep


class BudgetLedger(Application[UUID]):
    """The event-sourced ledger. Construct with :meth:`open`; one method per command."""

    name = "BudgetLedger"

    def __init__(self, config: StoreConfig) -> None:
        self.config = config
        check_reachable(config)
        every = snapshot_interval()  # ledger/snapshots.py: projects only, from memory
        self.snapshot_intervals: dict[type[Aggregate], int] = {Project: every} if every else {}
        self.snapshot_replayed = snapshot_replayed()  # the loaded-from-the-store rule
        on = "y" if every or self.snapshot_replayed else "n"
        # a bad cache setting is refused before the store is created
        bound, freezes = cache_size(), frozen_tier()
        try:
            super().__init__(env={**config.env, "IS_SNAPSHOTTING_ENABLED": on})
        except (PersistenceError, OSError, sqlite3.DatabaseError) as e:
            raise StoreUnavailable(f"cannot open the store {config.url}: {e}") from e
        self.aggregate_cache = AggregateCache(self.recorder, bound, freezes)

    def construct_snapshot_store(self) -> Any:
        """The library's snapshot store, or None on a read-only copy made before snapshots
        existed (its table cannot be created there; nothing would be written anyway)."""
        try:
            store = super().construct_snapshot_store()
        except (PersistenceError, sqlite3.DatabaseError) as e:
            if "readonly" not in str(e) and "read-only" not in str(e):
                raise
            self.snapshot_intervals = {}
            self.snapshot_replayed = 0
            return None
        store.mapper = snapshot_mapper(self.mapper)  # compressed, unlike the events
        return store

    @classmethod
    def open(cls, url: str | None = None) -> BudgetLedger:
        return cls(parse_store_url(url))

    def register_transcodings(self, transcoder: JSONTranscoder) -> None:
        super().register_transcodings(transcoder)
        transcoder.register(DatetimeAsISOOnce())
        transcoder.register(DateAsISO())
        transcoder.register(IndicatorTermsAsDict())
        register_transcodings(transcoder)  # a project's state, for its snapshots

    def _take_snapshots(self, processing_event: Any) -> None:
        """The library's hook after each save: snapshots taken from memory (ledger/snapshots.py)."""
        take_snapshots(self, processing_event)

    # ---- running commands ------------------------------------------------------------------

    def run(self, work: Callable[[Batch], T]) -> T:
        """Run ``work`` in a fresh Batch and commit it; re-run on a concurrent-write conflict.

        Bounded twice: at most MAX_ATTEMPTS attempts, and no new attempt once
        :func:`~ledger.store.max_wait` seconds have gone by (each attempt may itself wait up to
        the lock timeout, so counting attempts alone meant 8 × 30 s ≈ 4 minutes on SQLite).
        """
        delay = 0.01
        last: Exception | None = None
        budget = max_wait()
        start = _clock()
        attempts = 0
        while True:
            attempts += 1
            batch = Batch(self)
            with fewer_collections():
                result = work(batch)
            try:
                with fewer_collections():
                    batch.commit()
                return result
            except IntegrityError as e:  # another writer got there first: reload and re-run
                last = e
            except OperationalError as e:  # locked / unreachable: wait and try again
                if "readonly" in str(e) or "read-only" in str(e):
                    raise StoreUnavailable(
                        f"the store {self.config.url} is read-only ({e}); nothing was written"
                    ) from e
                last = e
            elapsed = _clock() - start
            if attempts >= MAX_ATTEMPTS or elapsed + delay >= budget:
                break
            _sleep(delay)
            delay = min(delay * 2, 0.5)
        raise StoreUnavailable(
            f"the store stayed busy: {attempts} attempts conflicted with other writers or waited "
            f"for a lock over {elapsed:.1f} s (gives up after {MAX_ATTEMPTS} attempts or "
            f"{budget:g} s, {MAX_WAIT_ENV}); last: {last}; nothing was written"
        )

    @contextmanager
    def batch(self) -> Iterator[Batch]:
        """For imports: one Batch, committed once at the end (single attempt)."""
        b = Batch(self)
        with fewer_collections():
            yield b
            try:
                b.commit()
            except IntegrityError as e:
                raise StoreUnavailable(
                    f"another writer changed the ledger during this batch ({e}); nothing was "
                    "written — run it again"
                ) from e
            except OperationalError as e:
                raise StoreUnavailable(f"the store is busy or unreachable: {e}") from e

    def issue(self, cmd: IssueCommand) -> str:
        return self.run(lambda b: b.issue(cmd))

    def forward(self, cmd: ForwardCommand) -> str:
        return self.run(lambda b: b.forward(cmd))

    def add_project(self, cmd: AddProjectCommand) -> str:
        return self.run(lambda b: b.add_project(cmd))

    def allocate(self, cmd: AllocateCommand) -> str:
        return self.run(lambda b: b.allocate(cmd))

    def deallocate(self, cmd: DeallocateCommand) -> str:
        return self.run(lambda b: b.deallocate(cmd))

    def pay(self, cmd: PayCommand) -> str:
        return self.run(lambda b: b.pay(cmd))

    def reverse(self, cmd: ReverseCommand) -> str:
        return self.run(lambda b: b.reverse(cmd))

    def report_progress(self, cmd: ProgressCommand) -> str:
        return self.run(lambda b: b.report_progress(cmd))

    def recover(self, cmd: RecoverCommand) -> str:
        return self.run(lambda b: b.recover(cmd))

    def set_unit(self, cmd: SetUnitCommand) -> str:
        return self.run(lambda b: b.set_unit(cmd))

    def rename_project(self, cmd: RenameProjectCommand) -> str:
        return self.run(lambda b: b.rename_project(cmd))

    # ---- reading the write side ------------------------------------------------------------

    def exists(self, key: UUID) -> bool:
        """Has any event of this aggregate been stored? (``key in repository`` replays it all;
        a cached aggregate is known to be stored, and events are never deleted)"""
        if key in self.aggregate_cache:
            return True
        return bool(self.recorder.select_events(key, limit=1))

    def get_indicator(self, indicator_id: str) -> Indicator:
        return Batch(self).indicator(indicator_id)

    def get_project(self, project_id: str) -> Project:
        return Batch(self).project(project_id)

    def close(self) -> None:
        """The SQLite checkpoint thread first (it has its own connection), then the library's."""
        checkpointer = getattr(self.recorder, "checkpointer", None)
        if checkpointer is not None:
            checkpointer.close()
        super().close()

    def last_position(self) -> int:
        """The log's highest position (0 when empty). Unchanged ⇔ nothing was written; on
        PostgreSQL it is not a count, since a rolled-back insert leaves a gap."""
        return self.recorder.max_notification_id() or 0
