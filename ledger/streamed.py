"""A Batch too big to hold: saved part by part, every part inside ONE store transaction.

An import of a million-row allocation table creates millions of events. Held as one Batch and saved
in one ``Application.save``, every aggregate and event of the file was in memory at once (2.4 GB and
rising on 1.3 M rows). A :class:`StreamedBatch` lets the importer say when an aggregate takes no
more commands (:meth:`StreamedBatch.done`); finished aggregates are saved in parts of
:data:`PART_EVENTS` events and forgotten. All-or-nothing still holds because the parts do not
commit: the recorder's ``held_transaction`` (``ledger/integrity.py``, ``integrity_postgres.py``)
routes every save of the block into one database transaction, committed when the block ends and
rolled back when anything in it raises — a refused row found after a hundred parts, or a failure
while writing part 101, leaves the store exactly as it was. Every event of the transaction carries
one recorded-at time, as in a single save.

While the block runs the store's write lock is held (SQLite from the first part; PostgreSQL's
EXCLUSIVE lock on the events table): other writers wait, and after ``BUDGET_LEDGER_MAX_WAIT``
give up with exit 4, as they would behind any long save.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from datetime import datetime
from typing import TYPE_CHECKING

from eventsourcing.domain import Aggregate
from eventsourcing.persistence import IntegrityError, OperationalError

from ledger.batch import Batch, fewer_collections
from ledger.errors import StoreUnavailable
from ledger.indicator import Indicator
from ledger.library_patches import save_aggregates, stamp_recorded_at
from ledger.project import Project
from ledger.unit import Unit

if TYPE_CHECKING:
    from ledger.application import BudgetLedger

#: events per part: big enough that a save's fixed cost vanishes, small enough to stay flat
PART_EVENTS = 20_000


class StreamedBatch(Batch):
    """A Batch whose finished aggregates are saved and dropped part by part (see the module)."""

    def __init__(self, app: BudgetLedger) -> None:
        super().__init__(app)
        self.events = 0  # saved so far, in this transaction
        self.parts = 0
        self.saving = True
        self.recorded_at: datetime | None = None
        self._done: list[Aggregate] = []
        self._pending = 0
        self._flushed_at = 0  # self.commands at the last flush

    def flush_due(self) -> None:
        """Flush when :data:`PART_EVENTS` commands ran since the last flush (an importer whose
        aggregates stay open to the end, e.g. payments: a project's rows are spread over the
        file's dates, so it is rarely done before the last rows)."""
        if self.commands - self._flushed_at >= PART_EVENTS:
            self.flush()

    def flush(self) -> None:
        """Save what every held aggregate has pending as one part, and keep the aggregates: they
        take more commands, each saved at its next version. After :meth:`stop_saving` the
        pending events are dropped instead (the transaction is rolled back; the aggregates'
        state, which the later rows are checked against, is kept)."""
        self._flushed_at = self.commands
        held = self.touched()
        if not self.saving:
            for agg in held:
                agg.collect_events()
            return
        self._done.extend(held)
        self._pending += sum(len(a.pending_events) for a in held)
        self.save_part()

    def done(self, aggregates: Iterable[Aggregate]) -> None:
        """These aggregates take no more commands: save them with the next part, then forget them."""
        for agg in aggregates:
            self._forget(agg)
            if self.saving and agg.pending_events:
                self._done.append(agg)
                self._pending += len(agg.pending_events)
        if self._pending >= PART_EVENTS:
            self.save_part()

    def _forget(self, agg: Aggregate) -> None:
        if isinstance(agg, Indicator):
            self.indicators.pop(agg.indicator_id, None)
        elif isinstance(agg, Project):
            self.projects.pop(agg.project_id, None)
        elif isinstance(agg, Unit):
            self.units.pop(agg.unit, None)

    def stop_saving(self) -> None:
        """A command was refused: the transaction will be rolled back, so nothing more is
        written or kept; the importer goes on checking the rest of the file."""
        self.saving = False
        self._done, self._pending = [], 0

    def save_part(self) -> None:
        if self._done and self.saving:
            if self.recorded_at is None:  # one recorded-at time for the whole transaction
                self.recorded_at = Aggregate.Event.create_timestamp()
            stamp_recorded_at(self._done, self.recorded_at)
            save_aggregates(self.app, self._done)
            self.events += self._pending
            self.parts += 1
        self._done, self._pending = [], 0

    def commit(self) -> int:
        """Save what is still held (the last part); the held transaction commits after this."""
        self.done(self.touched())
        self.save_part()
        return self.events


@contextmanager
def streamed(app: BudgetLedger) -> Iterator[StreamedBatch]:
    """One StreamedBatch in one held store transaction: committed if the block returns, rolled
    back if it raises. The aggregate cache is cleared afterwards (its aggregates were handed to
    the batch and dropped, and its head is behind our events)."""
    hold = getattr(app.recorder, "held_transaction", None)
    if hold is None:
        raise TypeError(f"{type(app.recorder).__name__} cannot hold a transaction over saves")
    batch = StreamedBatch(app)
    try:
        with fewer_collections(), hold():
            yield batch
            batch.commit()
    except IntegrityError as e:
        raise StoreUnavailable(f"another writer changed the ledger during this import ({e}); "
                               "nothing was written — run it again") from e
    except OperationalError as e:
        if "readonly" in str(e) or "read-only" in str(e):
            raise StoreUnavailable(f"the store {app.config.url} is read-only ({e}); nothing "
                                   "was written") from e
        raise StoreUnavailable(f"the store is busy or unreachable: {e}; nothing was written") from e
    finally:
        app.aggregate_cache.clear()
