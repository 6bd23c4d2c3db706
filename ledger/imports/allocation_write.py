"""Applying a checked allocation plan, holder by holder, in ONE store transaction.

The steps are built a group at a time (a holder's rows, at most :data:`CHUNK` steps at once); the
ids they create are looked up in one query per chunk (``Batch.preload``); an indicator that takes
no more forwards — the holder's own once its rows are done, a receiver that forwards nothing at
once — goes to :meth:`~ledger.streamed.StreamedBatch.done`, which saves it with the next part of
the transaction and forgets it. So memory holds the open holders' indicators, not the file's
events (the plan's rows are in its scratch table, read back a holder at a time).

All or nothing: a refused command stops the saving (the rest of the file is still checked, so
every bad row is listed) and the :class:`~ledger.imports.problems.ImportRejected` raised at the
end rolls the transaction back, with whatever parts it held; so does any failure while writing.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from itertools import islice
from typing import TYPE_CHECKING

from ledger import invariants as inv
from ledger.application import BudgetLedger
from ledger.errors import InputError
from ledger.imports.allocation_units import declare_units
from ledger.imports.apply import Advance, ImportResult, ProgressFactory, Run, Step
from ledger.imports.problems import ImportRejected, Problem
from ledger.imports.reading import RawTable
from ledger.streamed import StreamedBatch, streamed

if TYPE_CHECKING:
    from ledger.imports.allocations import AllocationOptions, AllocationPlan

#: steps built, preloaded and applied together
CHUNK = 2000
#: stands for a step's raw cell text until a problem needs it (re-read from the file then)
CELL = "\x00cell"

ALREADY = ("document {doc} was already imported: every indicator this table creates exists (ids "
           "are derived from document + from + to + task). Use --skip-existing to import only "
           "rows that are new")


def _chunks(steps: Iterable[Step]) -> Iterator[list[Step]]:
    it = iter(steps)
    while chunk := list(islice(it, CHUNK)):
        yield chunk


class _Writer:
    """One import's run through the plan (see the module)."""

    def __init__(self, batch: StreamedBatch, run: Run, parents: set[str],
                 advance: Advance | None) -> None:
        self.batch, self.run, self.parents, self.advance = batch, run, parents, advance
        self.steps = 0

    def apply(self, chunk: list[Step]) -> None:
        batch, run = self.batch, self.run
        batch.preload(indicator_ids=[s.ident for s in chunk if s.ident])
        for step in chunk:
            if self.advance:
                self.advance(1)
            before = len(run.problems)
            run.step(step, batch)
            if len(run.problems) > before:
                batch.stop_saving()
        self.steps += len(chunk)
        batch.absent.clear()
        # receivers that forward nothing are finished as soon as they are created
        self.finish(s.ident for s in chunk if s.ident and s.ident not in self.parents)

    def finish(self, idents: Iterable[str]) -> None:
        held = self.batch.indicators
        self.batch.done([agg for agg in (held.get(i) for i in idents) if agg is not None])


def _fill_cells(table: RawTable, problems: list[Problem]) -> list[Problem]:
    """Put each refused cell's text back into its problem: one pass over the file, only when a
    command was refused (the plan does not keep the cells' text)."""
    rows = {p.row for p in problems if p.value == CELL}
    if not rows:
        return problems
    cells = {n: raw for n, raw in table.records() if n in rows}
    return [Problem(p.file, p.row, p.column, cells[p.row].get(p.column or "") or None, p.why,
                    p.invariant) if p.value == CELL and p.row in cells else p for p in problems]


def _ids(plan: AllocationPlan, opts: AllocationOptions, run: Run) -> Iterator[str]:
    """The ids the import created, in the order it applied them (derived again from the plan)."""
    for root in plan.roots:
        if root.indicator_id not in run.skipped_ids:
            yield root.indicator_id
    for step in (s for holder in plan.groups for s in plan.steps_ids(opts, holder)):
        if step not in run.skipped_ids:
            yield step


def _apply_all(w: _Writer, app: BudgetLedger, plan: AllocationPlan,
               opts: AllocationOptions) -> None:
    run = w.run
    w.apply(plan.root_steps(app, opts))
    for holder in plan.groups:
        blocked = list(plan.blocked_ids(opts, holder))
        run.blocked.update(blocked)
        run.failed.update(blocked)
        for chunk in _chunks(plan.steps(app, opts, holder)):
            w.apply(chunk)
        w.finish(plan.holder_indicator[(holder, t)] for t in plan.tasks
                 if (holder, t) in plan.holder_indicator)


def write_allocations(app: BudgetLedger, table: RawTable, plan: AllocationPlan,
                      opts: AllocationOptions, progress: ProgressFactory | None) -> ImportResult:
    """Apply every step, then declare the units; commit only when nothing was refused."""
    run = Run(table.file, set(), set(), list(plan.problems), keep_ids=False)
    advance = progress("checking rows against the ledger", plan.commands) if progress else None
    with streamed(app) as batch:
        w = _Writer(batch, run, set(plan.holder_indicator.values()), advance)
        if run.problems:
            batch.stop_saving()
        _apply_all(w, app, plan, opts)
        if run.problems:
            run.problems = _fill_cells(table, run.problems)
            raise run.refuse(w.steps, ALREADY.format(doc=opts.doc))
        try:
            declare_units(batch, plan.store, plan.tops, opts)
        except (InputError, inv.InvariantViolation) as e:
            raise ImportRejected(table.file, [Problem(
                table.file, None, None, None, str(e),
                invariant=isinstance(e, inv.InvariantViolation))]) from None
        batch.commit()
        events = batch.events
    return ImportResult(table.file, "allocations", table.count, run.applied, run.skipped, events,
                        lazy_ids=lambda: _ids(plan, opts, run))

