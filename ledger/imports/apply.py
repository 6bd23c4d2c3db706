"""Applying planned steps: every command to ONE :class:`~ledger.batch.Batch`, i.e. against the
ledger *plus the rows before it*. A refused row is reported and the next one tried, so one run lists
every bad row; only a clean file is saved, in one transaction (:func:`apply_streamed`: in parts
of that one transaction, for a file whose events are too many to hold)."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from ledger import invariants as inv
from ledger.application import BudgetLedger
from ledger.batch import Batch
from ledger.errors import InputError
from ledger.imports.problems import (
    AlreadyRecorded,
    ImportRejected,
    Problem,
    RowError,
    Skipped,
    count,
)
from ledger.imports.reading import RawTable
from ledger.streamed import StreamedBatch, streamed

#: rows above which the CLI shows a progress bar
PROGRESS_THRESHOLD = 1000

Advance = Callable[[int], None]
#: ``progress(label, total)`` returns a function advancing the bar; the CLI passes a rich one
ProgressFactory = Callable[[str, int], Advance]


@dataclass(slots=True)
class Step:
    """One ledger command planned from one row (or, for a root, from a table column)."""

    row: int | None
    column: str | None
    value: str | None
    context: str  # prefixed to the ledger's message, e.g. "拉萨市 → 城关区, 少数民族发展任务: "
    run: Callable[[Batch], str]
    ident: str | None = None  # what this step creates, so dependants can be skipped when it fails
    needs: str | None = None
    date: date | None = None


@dataclass
class Root:
    """A root indicator of an allocation table: where ``budget-ledger trace`` starts."""

    indicator_id: str
    unit: str
    task: str

    def as_dict(self) -> dict[str, str]:
        return {"indicator_id": self.indicator_id, "unit": self.unit, "task": self.task}


@dataclass
class ImportResult:
    file: str
    kind: str
    rows: int
    applied: int
    skipped: int
    events: int
    ids: list[str] = field(default_factory=list)
    roots: list[Root] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)  # what was ignored or skipped, said on stderr
    #: the ids, computed when asked (a million-row allocation table does not hold them)
    lazy_ids: Callable[[], Iterable[str]] | None = None

    def as_dict(self) -> dict[str, Any]:
        ids = self.ids if self.lazy_ids is None else list(self.lazy_ids())
        return {"file": self.file, "kind": self.kind, "rows": self.rows, "applied": self.applied,
                "skipped": self.skipped, "events": self.events, "ids": ids,
                "roots": [r.as_dict() for r in self.roots], "notes": self.notes}


def _strip_option(message: str) -> str:
    """'--indicator: project …' → 'project …' (the row's column already says where)."""
    head, sep, rest = message.partition(": ")
    return rest if sep and head.startswith("--") else message


@dataclass
class Run:
    """Applying steps: what was applied, skipped and refused (one run lists every bad row)."""

    file: str
    blocked: set[str]
    failed: set[str]
    problems: list[Problem]
    ids: list[str] = field(default_factory=list)
    skipped: int = 0
    dependants: int = 0
    already: int = 0
    applied: int = 0
    keep_ids: bool = True  # else only the skipped ones are kept (the rest derive from the plan)
    skipped_ids: set[str] = field(default_factory=set)

    def step(self, step: Step, batch: Batch) -> None:
        if step.ident in self.blocked:
            return
        if step.needs is not None and step.needs in self.failed:
            self.dependants += 1
            if step.ident:
                self.failed.add(step.ident)
            return
        try:
            ident = step.run(batch)
            self.applied += 1
            if self.keep_ids:
                self.ids.append(ident)
        except Skipped:
            self.skipped += 1
            if not self.keep_ids and step.ident:
                self.skipped_ids.add(step.ident)
        except (InputError, inv.InvariantViolation) as e:
            if isinstance(e, AlreadyRecorded):
                self.already += 1
            if step.ident:
                self.failed.add(step.ident)
            column, value = step.column, step.value
            if isinstance(e, RowError) and e.column:
                column, value = e.column, e.value
            self.problems.append(Problem(
                self.file, step.row, column, value, step.context + _strip_option(str(e)),
                invariant=isinstance(e, inv.InvariantViolation),
            ))

    def refuse(self, steps: int, already_summary: str | None) -> ImportRejected:
        file, n = self.file, len(self.problems)
        if self.already == n and self.already + self.dependants == steps and already_summary:
            return ImportRejected(file, [Problem(file, None, None, None, already_summary)],
                                  footer=f"{file}: nothing was written")
        footer = None
        if self.dependants:
            footer = (f"{file}: {count(n, 'problem')}; "
                      f"{count(self.dependants, 'command')} depending on refused rows not checked; "
                      "nothing was written")
        return ImportRejected(file, self.problems, footer)


def apply_steps(
    app: BudgetLedger,
    file: str,
    kind: str,
    rows: int,
    steps: Sequence[Step],
    problems: list[Problem],
    *,
    failed: set[str] | None = None,
    progress: ProgressFactory | None = None,
    already_summary: str | None = None,
    finish: Callable[[Batch], None] | None = None,
    preload: Callable[[Batch], object] | None = None,
) -> ImportResult:
    """Apply every step to one Batch; commit only when no step and no earlier check failed.
    ``preload`` loads what the steps will touch in bulk first (``Batch.preload``); ``finish`` runs
    last in the same Batch (an allocation table's unit levels and areas)."""
    run = Run(file, set(failed or ()), set(failed or ()), list(problems))
    advance = progress("checking rows against the ledger", len(steps)) if progress else None
    with app.batch() as batch:
        if preload is not None:
            preload(batch)
        for step in steps:
            if advance:
                advance(1)
            run.step(step, batch)
        if run.problems:
            raise run.refuse(len(steps), already_summary)
        if finish is not None:
            try:
                finish(batch)
            except (InputError, inv.InvariantViolation) as e:
                raise ImportRejected(file, [Problem(file, None, None, None, str(e),
                                                    invariant=isinstance(e, inv.InvariantViolation))]
                                     ) from None
        events = sum(len(a.pending_events) for a in batch.touched())
    return ImportResult(file, kind, rows, run.applied, run.skipped, events, run.ids)


def apply_streamed(
    app: BudgetLedger,
    file: str,
    kind: str,
    rows: int,
    steps: Iterable[Step],
    problems: list[Problem],
    *,
    count: int,
    ends: Mapping[int, str],
    progress: ProgressFactory | None = None,
    already_summary: str | None = None,
    preload: Callable[[Batch], object] | None = None,
) -> ImportResult:
    """:func:`apply_steps` written in parts (``ledger/streamed.py``) so that a 100k-row file's
    events never pile up in memory: every :data:`~ledger.streamed.PART_EVENTS` commands the
    pending events are saved into the one held transaction, and the project ``ends[i]`` is
    saved and dropped after step ``i``, its last. The steps (``count`` of them) may be built as
    they are applied. The checks are apply_steps': each step against the ledger plus the steps
    before it (the aggregates stay held), every bad row listed, and nothing committed unless all
    passed — a refusal after parts were written rolls them back with the transaction."""
    run = Run(file, set(), set(), list(problems))
    advance = progress("checking rows against the ledger", count) if progress else None
    with streamed(app) as batch:
        if run.problems:
            batch.stop_saving()
        if preload is not None:
            preload(batch)
        for i, step in enumerate(steps):
            if advance:
                advance(1)
            before = len(run.problems)
            run.step(step, batch)
            if len(run.problems) > before:
                batch.stop_saving()
            if i in ends:
                _drop(batch, ends[i])
            batch.flush_due()
        if run.problems:
            raise run.refuse(count, already_summary)
        batch.commit()
        events = batch.events
    return ImportResult(file, kind, rows, run.applied, run.skipped, events, run.ids)


def _drop(batch: StreamedBatch, project_id: str) -> None:
    """A project past its last row takes no more commands: saved with the next part, forgotten."""
    prj = batch.projects.get(project_id)
    if prj is not None:
        batch.done([prj])


def run_import(app: BudgetLedger, table: RawTable, kind: str, steps: Sequence[Step],
               problems: list[Problem], *, progress: ProgressFactory | None = None,
               already_summary: str | None = None, failed: set[str] | None = None,
               finish: Callable[[Batch], None] | None = None,
               preload: Callable[[Batch], object] | None = None) -> ImportResult:
    """apply_steps for a whole file: its row count, and its notes (title rows, ignored columns)."""
    result = apply_steps(app, table.file, kind, table.count, steps, problems, failed=failed,
                         progress=progress, already_summary=already_summary, finish=finish,
                         preload=preload)
    result.notes = list(table.notes)
    return result
