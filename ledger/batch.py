"""Batch — the unit of work every command runs in (a command, or a whole import).

Aggregates are loaded once (from the aggregate cache, a snapshot or the log), every check runs
before any event is triggered, and all touched aggregates are saved together in one atomic
``save``. A command that touches two aggregates (forward, allocate, deallocate, recover) is
orchestrated here, in one style: both aggregates' ``check_*`` methods first, then each triggers
its own event. :class:`~ledger.application.BudgetLedger` runs a Batch and retries it on an
optimistic-concurrency conflict.
"""

from __future__ import annotations

import gc
import uuid
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any
from uuid import UUID

from eventsourcing.application import AggregateNotFoundError
from eventsourcing.domain import Aggregate

from ledger import invariants as inv
from ledger.aggregate_cache import AggregateCache
from ledger.errors import InputError
from ledger.indicator import Indicator
from ledger.library_patches import fold, save_aggregates, stamp_recorded_at
from ledger.project import Project
from ledger.snapshots import load_many, snapshot_loaded
from ledger.terms import IndicatorTerms
from ledger.unit import Unit, set_unit

if TYPE_CHECKING:  # the commands' pydantic models are built only where commands are parsed
    from ledger.application import BudgetLedger
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


#: the cyclic collector's first threshold while a batch runs (Python's default is 700)
BATCH_GC_THRESHOLD = 50_000


@contextmanager
def fewer_collections() -> Iterator[None]:
    """Run the cyclic garbage collector less often while a batch builds and saves its events.

    A batch allocates a few dozen short-lived objects per event (commands, events, stored rows)
    that reference counting frees; the collector, run every 700 allocations, walked every live
    aggregate each time it reached the oldest generation: 10-15 % of a payments import. The
    threshold is restored afterwards (nested batches leave it to the outermost one).
    """
    old = gc.get_threshold()
    if old[0] >= BATCH_GC_THRESHOLD:
        yield
        return
    gc.set_threshold(BATCH_GC_THRESHOLD, *old[1:])
    try:
        yield
    finally:
        gc.set_threshold(*old)


def new_id(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:12]}"


class Batch:
    """A unit of work: aggregates loaded once, checked and mutated in memory, saved together."""

    def __init__(self, app: BudgetLedger) -> None:
        self.app = app
        self.indicators: dict[str, Indicator] = {}
        self.projects: dict[str, Project] = {}
        self.units: dict[str, Unit | None] = {}  # None: looked up, not declared
        self.commands = 0
        self._synced = False
        self.absent: set[UUID] = set()  # ids preload found nowhere in the store
        #: what preload read from the store: id -> the version of the snapshot it started from
        self.loaded_since: dict[UUID, int] = {}

    # ---- loading ---------------------------------------------------------------------------

    def _sync(self) -> AggregateCache:
        """The app's cache, brought up to date with the log once per batch (before any load)."""
        cache = self.app.aggregate_cache
        if not self._synced:
            cache.sync()
            self._synced = True
        return cache

    def _load(self, key: UUID) -> Aggregate | None:
        """From the cache (this batch takes it over) or else from the store; None if unknown."""
        agg = self._sync().take(key)
        if agg is not None:
            return agg
        try:
            return self.app.repository.get(key, projector_func=fold)  # type: ignore[no-any-return]
        except AggregateNotFoundError:
            return None

    def preload(self, project_ids: Iterable[str] = (), indicator_ids: Iterable[str] = ()) -> int:
        """Load, in one query per few hundred, the named aggregates this batch does not hold and
        the cache cannot give; unknown ids are left for the command to refuse. Returns how many
        were read from the store. An import calls it with its file's ids (loading them one by
        one was one SELECT each: docs/performance.md, "Write path")."""
        wanted: dict[UUID, tuple[dict[str, Any], str]] = {}
        kinds: tuple[tuple[dict[str, Any], Iterable[str], Callable[[str], UUID]], ...] = (
            (self.projects, project_ids, Project.uuid_for),
            (self.indicators, indicator_ids, Indicator.uuid_for),
        )
        for held, ids, uuid_for in kinds:
            for ident in ids:
                if ident not in held:
                    wanted[uuid_for(ident)] = (held, ident)
        if not wanted:
            return 0
        cache = self._sync()
        missing: list[UUID] = []
        for key, (held, ident) in wanted.items():
            agg = cache.take(key)
            if agg is None:
                missing.append(key)
            else:
                held[ident] = agg
        if not missing or not hasattr(self.app.recorder, "select_events_of_many"):
            return 0
        found = load_many(self.app, missing, self.loaded_since)  # snapshots + events after
        for key, agg in found.items():
            held, ident = wanted[key]
            held[ident] = agg
        # Not in the store as of this batch's view: a new id needs no second look (_check_new).
        # Another writer creating it before our save makes the save fail on (id, version 1).
        self.absent.update(k for k in missing if k not in found)
        return len(found)

    def indicator(self, indicator_id: str) -> Indicator:
        agg = self.indicators.get(indicator_id)
        if agg is None:
            loaded = self._load(Indicator.uuid_for(indicator_id))
            if loaded is None:
                raise inv.UnknownEntity(f"no indicator {indicator_id!r}")
            assert isinstance(loaded, Indicator)
            agg = self.indicators[indicator_id] = loaded
        return agg

    def project(self, project_id: str) -> Project:
        agg = self.projects.get(project_id)
        if agg is None:
            loaded = self._load(Project.uuid_for(project_id))
            if loaded is None:
                raise inv.UnknownEntity(f"no project {project_id!r}")
            assert isinstance(loaded, Project)
            agg = self.projects[project_id] = loaded
        return agg

    def unit(self, name: str) -> Unit | None:
        """The unit's declared level and area, or None when it was never declared."""
        if name not in self.units:
            try:
                agg = self.app.repository.get(Unit.uuid_for(name), projector_func=fold)
            except AggregateNotFoundError:
                agg = None
            assert agg is None or isinstance(agg, Unit)
            self.units[name] = agg
        return self.units[name]

    def exists(self, key: UUID) -> bool:
        """Is this aggregate in the store (as this batch sees it; see :meth:`preload`)?"""
        return key not in self.absent and self.app.exists(key)

    def _check_new(self, kind: str, ident: str, cache: dict[str, Any], key: UUID) -> None:
        if ident in cache or self.exists(key):
            raise inv.DuplicateId(f"{kind} id {ident!r} is already taken")

    # ---- commands (each: load, check everything, then trigger) ------------------------------
    # A command touching two aggregates is orchestrated here, and only here: the cross-aggregate
    # checks (same unit, new id), then each aggregate's own check_* methods, then each
    # aggregate's method that triggers its own event. Every check runs once, and none after the
    # first event, so a refused row of an import leaves the Batch's aggregates as they were.

    def issue(self, cmd: IssueCommand) -> str:
        ident = cmd.indicator_id or new_id("I")
        self._check_new("indicator", ident, self.indicators, Indicator.uuid_for(ident))
        agg = Indicator.issue(
            indicator_id=ident,
            unit=cmd.unit,
            issuer=cmd.issuer or "(outside the ledger)",
            amount=cmd.amount,
            terms=IndicatorTerms(year=cmd.year, task=cmd.task, source=cmd.source,
                                 subject=cmd.subject, tracking=cmd.tracking, direct=cmd.direct,
                                 advance=cmd.advance),
            doc=cmd.doc,
            effective_date=cmd.effective_date,
            actor=cmd.actor,
        )
        self.indicators[ident] = agg
        self.commands += 1
        return ident

    def forward(self, cmd: ForwardCommand) -> str:
        parent = self.indicator(cmd.parent_id)
        ident = cmd.child_id or new_id("I")
        self._check_new("indicator", ident, self.indicators, Indicator.uuid_for(ident))
        terms = parent.child_terms(cmd.expected_terms(), cmd.subject)
        parent.check_debit(cmd.amount, cmd.effective_date, "forward")
        parent.forward_out(child_id=ident, amount=cmd.amount, effective_date=cmd.effective_date,
                           actor=cmd.actor, doc=cmd.doc)
        self.indicators[ident] = Indicator.receive(
            parent=parent, child_id=ident, unit=cmd.unit, amount=cmd.amount, terms=terms,
            doc=cmd.doc, effective_date=cmd.effective_date, actor=cmd.actor)
        self.commands += 1
        return ident

    def add_project(self, cmd: AddProjectCommand) -> str:
        self._check_new("project", cmd.project_id, self.projects, Project.uuid_for(cmd.project_id))
        self.projects[cmd.project_id] = Project.register(
            project_id=cmd.project_id,
            unit=cmd.unit,
            name=cmd.name,
            category=cmd.category.value,
            doc=cmd.doc,
            effective_date=cmd.effective_date,
            actor=cmd.actor,
        )
        self.commands += 1
        return cmd.project_id

    def allocate(self, cmd: AllocateCommand) -> str:
        ind = self.indicator(cmd.indicator_id)
        prj = self.project(cmd.project_id)
        inv.check_same_unit(ind, prj)
        prj.check_funding(indicator_id=ind.indicator_id, indicator_subject=ind.terms.subject,
                          subject=cmd.subject, effective_date=cmd.effective_date)
        ind.check_debit(cmd.amount, cmd.effective_date, "allocate")
        ind.allocate(
            project_id=prj.project_id,
            amount=cmd.amount,
            effective_date=cmd.effective_date,
            actor=cmd.actor,
            doc=cmd.doc,
        )
        prj.receive_funding(
            indicator_id=ind.indicator_id,
            amount=cmd.amount,
            effective_date=cmd.effective_date,
            actor=cmd.actor,
            doc=cmd.doc,
        )
        if cmd.subject is not None:
            prj.refine_subject(indicator_id=ind.indicator_id, indicator_subject=ind.terms.subject,
                               subject=cmd.subject, effective_date=cmd.effective_date,
                               actor=cmd.actor, doc=cmd.doc)
        self.commands += 1
        return f"{prj.project_id}<-{ind.indicator_id}"

    def deallocate(self, cmd: DeallocateCommand) -> str:
        ind = self.indicator(cmd.indicator_id)
        prj = self.project(cmd.project_id)
        ind.check_dated(cmd.effective_date)
        prj.check_release(indicator_id=ind.indicator_id, amount=cmd.amount,
                          effective_date=cmd.effective_date)
        prj.release_funding(
            indicator_id=ind.indicator_id,
            amount=cmd.amount,
            effective_date=cmd.effective_date,
            actor=cmd.actor,
            doc=cmd.doc,
            reason=cmd.reason,
        )
        ind.deallocate(
            project_id=prj.project_id,
            amount=cmd.amount,
            effective_date=cmd.effective_date,
            actor=cmd.actor,
            doc=cmd.doc,
            reason=cmd.reason,
        )
        self.commands += 1
        return f"{prj.project_id}<-{ind.indicator_id}"

    def pay(self, cmd: PayCommand) -> str:
        prj = self.project(cmd.project_id)
        indicator_id = cmd.indicator_id
        if indicator_id is None:
            if not prj.lines:
                raise inv.UnknownEntity(f"project {prj.project_id} has no funding line to pay from")
            if len(prj.lines) > 1:
                raise InputError(
                    f"--indicator: project {prj.project_id} has {len(prj.lines)} funding lines "
                    f"({', '.join(sorted(prj.lines))}); name the one this payment draws on",
                    field="indicator_id",
                )
            indicator_id = next(iter(prj.lines))
        payment_id = prj.pay(
            indicator_id=indicator_id,
            amount=cmd.amount,
            payee=cmd.payee,
            payee_kind=cmd.payee_kind.value,
            voucher=cmd.voucher,
            labour=cmd.labour,
            effective_date=cmd.effective_date,
            actor=cmd.actor,
            doc=cmd.doc,
        )
        self.commands += 1
        return payment_id

    def reverse(self, cmd: ReverseCommand) -> str:
        prj = self.project(Project.project_of_payment(cmd.payment_id))
        prj.reverse(
            payment_id=cmd.payment_id,
            effective_date=cmd.effective_date,
            actor=cmd.actor,
            doc=cmd.doc,
            reason=cmd.reason,
        )
        self.commands += 1
        return cmd.payment_id

    def report_progress(self, cmd: ProgressCommand) -> str:
        prj = self.project(cmd.project_id)
        prj.report_progress(
            percent=cmd.percent, effective_date=cmd.effective_date, actor=cmd.actor, doc=cmd.doc
        )
        self.commands += 1
        return prj.project_id

    def recover(self, cmd: RecoverCommand) -> str:
        if cmd.to == "pool":
            return self._pool(cmd)
        child = self.indicator(cmd.indicator_id)
        parent = self.indicator(child.parent_id) if child.parent_id else None
        child.check_debit(cmd.amount, cmd.effective_date, "return")
        child.recover(amount=cmd.amount, effective_date=cmd.effective_date, actor=cmd.actor,
                      doc=cmd.doc, reason=cmd.reason)
        if parent is not None:
            parent.receive_recovery(child_id=child.indicator_id, amount=cmd.amount,
                                    effective_date=cmd.effective_date, actor=cmd.actor,
                                    doc=cmd.doc, reason=cmd.reason)
        self.commands += 1
        return child.indicator_id

    def _pool(self, cmd: RecoverCommand) -> str:
        """收回 into the same level's pool (同级统筹); returns the pool indicator's id."""
        ind = self.indicator(cmd.indicator_id)
        pool_id = cmd.pool_id or new_id("I")
        self._check_new("indicator", pool_id, self.indicators, Indicator.uuid_for(pool_id))
        ind.check_debit(cmd.amount, cmd.effective_date, "return")
        ind.pool_out(pool_id=pool_id, amount=cmd.amount, effective_date=cmd.effective_date,
                     actor=cmd.actor, doc=cmd.doc, reason=cmd.reason)
        self.indicators[pool_id] = Indicator.receive_pool(
            parent=ind, pool_id=pool_id, amount=cmd.amount, effective_date=cmd.effective_date,
            actor=cmd.actor, doc=cmd.doc)
        self.commands += 1
        return pool_id

    def rename_project(self, cmd: RenameProjectCommand) -> str:
        prj = self.project(cmd.project_id)
        prj.rename(
            new_name=cmd.new_name,
            doc=cmd.doc,
            effective_date=cmd.effective_date,
            actor=cmd.actor,
            reason=cmd.reason,
        )
        self.commands += 1
        return prj.project_id

    def set_unit(self, cmd: SetUnitCommand) -> str:
        set_unit(self, cmd)
        self.commands += 1
        return cmd.unit

    # ---- saving ----------------------------------------------------------------------------

    def touched(self) -> list[Aggregate]:
        aggs: list[Aggregate] = [*self.indicators.values(), *self.projects.values(),
                                 *(u for u in self.units.values() if u is not None)]
        return [a for a in aggs if a.pending_events]

    def commit(self) -> int:
        """Save every touched aggregate in one transaction; returns the number of events."""
        aggs = self.touched()
        cache = self._sync()
        if not aggs:
            cache.saved(self._held(), ())
            return 0
        stamp_recorded_at(aggs)
        new = {a.id: len(a.pending_events) for a in aggs}
        recordings = save_aggregates(self.app, aggs)
        if self.loaded_since:  # the projects that were replayed from the store: snapshot them
            snapshot_loaded(self.app, aggs, new, self.loaded_since)
        cache.saved(self._held(), [r.notification.id for r in recordings])
        return sum(new.values())

    def _held(self) -> list[Aggregate]:
        return [*self.indicators.values(), *self.projects.values()]


