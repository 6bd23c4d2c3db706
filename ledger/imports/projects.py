"""``import projects``: projects and their funding lines, one row per line (repeat the project).

A funding line names its source indicator by id, or by ``indicator_doc`` + ``indicator_task`` with
the project's unit — resolved from the event log (:func:`~ledger.imports.lookups.indicators_by_document`),
never from a read model. Rows are applied in date order (stable)."""

from __future__ import annotations

from collections.abc import Callable

from ledger import invariants as inv
from ledger.application import BudgetLedger
from ledger.batch import Batch
from ledger.commands import AddProjectCommand, AllocateCommand, build
from ledger.imports.apply import ImportResult, ProgressFactory, Step, run_import
from ledger.imports.lookups import indicators_by_document, project_exists
from ledger.imports.problems import AlreadyRecorded, Problem, Skipped
from ledger.imports.reading import RawTable
from ledger.imports.rows import PROJECT_COLUMNS, ProjectRow, simple_rows
from ledger.money import format_yuan
from ledger.project import Project

ALREADY = ("every project in this file is already recorded (a project id is its natural key). "
           "Use --skip-existing to import only projects that are new")

Rows = list[tuple[int, ProjectRow]]


def _consistent_rows(table: RawTable, unit: str, problems: list[Problem]) -> Rows:
    """Rows whose funding columns make sense and whose project columns agree with its first row."""
    file = table.file
    first: dict[str, tuple[int, ProjectRow]] = {}
    good: Rows = []
    for n, r in simple_rows(ProjectRow, table, PROJECT_COLUMNS, unit, problems):
        if r.amount is None and (r.indicator or r.indicator_doc or r.indicator_task or r.subject):
            problems.append(Problem(file, n, "amount", None,
                                    "is empty, but the row names a source indicator"))
            continue
        if r.amount is not None and not r.indicator and not (r.indicator_doc and r.indicator_task):
            problems.append(Problem(file, n, "indicator", None,
                                    "a funding amount needs its source: an indicator id, or "
                                    "indicator_doc and indicator_task (with the project's unit)"))
            continue
        if r.project in first:
            m, f = first[r.project]
            for col in ("unit", "name", "category"):
                if getattr(r, col) != getattr(f, col):
                    problems.append(Problem(file, n, col, str(getattr(r, col)),
                                            f"project {r.project} has {col} "
                                            f"{str(getattr(f, col))!r} on row {m}"))
        else:
            first[r.project] = (n, r)
        good.append((n, r))
    return good


def _resolve(app: BudgetLedger, file: str, good: Rows, problems: list[Problem]) -> dict[int, str]:
    """Row → indicator id for rows naming their source by document + task (+ the project's unit)."""
    wanted = [(n, r) for n, r in good if r.amount is not None and not r.indicator]
    found = indicators_by_document(
        app, ((r.indicator_doc or "", r.unit, r.indicator_task or "") for _, r in wanted))
    resolved: dict[int, str] = {}
    for n, r in wanted:
        ids = found.get((r.indicator_doc or "", r.unit, r.indicator_task or ""), [])
        value = f"{r.indicator_doc} / {r.indicator_task}"
        if not ids:
            problems.append(Problem(
                file, n, "indicator_doc", value,
                f"no indicator of document {r.indicator_doc} for {r.unit} in task "
                f"{r.indicator_task} [{inv.UnknownEntity.name}]", invariant=True))
        elif len(ids) > 1:
            problems.append(Problem(
                file, n, "indicator_doc", value,
                f"{len(ids)} indicators match ({', '.join(ids)}); name one in column indicator"))
        else:
            resolved[n] = ids[0]
    return resolved


def _duplicate_lines(file: str, good: Rows, resolved: dict[int, str],
                     problems: list[Problem]) -> None:
    lines: dict[tuple[str, str], int] = {}
    for n, r in good:
        ind = r.indicator or resolved.get(n)
        if ind and r.amount is not None:
            if (r.project, ind) in lines:
                problems.append(Problem(file, n, "indicator", ind,
                                        f"duplicate funding line: project {r.project} is funded "
                                        f"from {ind} on row {lines[(r.project, ind)]} already "
                                        "(one row per source)"))
            lines[(r.project, ind)] = n


def plan_projects(
    app: BudgetLedger, table: RawTable, *, unit: str = "元", skip_existing: bool = False,
    actor: str = "unknown",
) -> tuple[list[Step], list[Problem]]:
    problems: list[Problem] = []
    good = _consistent_rows(table, unit, problems)
    resolved = _resolve(app, table.file, good, problems)
    _duplicate_lines(table.file, good, resolved, problems)
    steps: list[Step] = []
    registered: set[str] = set()
    for n, r in sorted(good, key=lambda nr: (nr[1].date, nr[0])):
        if r.project not in registered:
            registered.add(r.project)
            cmd = build(AddProjectCommand, project_id=r.project, unit=r.unit, name=r.name,
                        category=r.category, effective_date=r.date, doc=r.doc, actor=actor)
            steps.append(Step(n, "project", r.project, "",
                              _register_step(app, cmd, skip_existing), ident=r.project,
                              date=r.date))
        ind = r.indicator or resolved.get(n)
        if r.amount is None or ind is None:
            continue
        acmd = build(AllocateCommand, indicator_id=ind, project_id=r.project, amount=r.amount,
                     effective_date=r.date, doc=r.doc, actor=actor, subject=r.subject)
        steps.append(Step(n, "amount", format_yuan(r.amount), f"{r.project} ← {ind}: ",
                          _allocate_step(acmd, skip_existing), needs=r.project, date=r.date))
    return steps, problems


def _register_step(app: BudgetLedger, cmd: AddProjectCommand,
                   skip: bool) -> Callable[[Batch], str]:
    def run(batch: Batch) -> str:
        held = batch.projects.get(cmd.project_id)  # preloaded, or registered by this import
        if project_exists(app, batch, cmd.project_id) if held is None else not _new(held):
            if skip:
                raise Skipped
            raise AlreadyRecorded(f"project {cmd.project_id} is already recorded")
        return batch.add_project(cmd)

    return run


def _new(prj: Project) -> bool:
    """Registered by this import (not yet saved), rather than already in the ledger."""
    return bool(prj.pending_events) and isinstance(prj.pending_events[0], Project.Registered)


def _allocate_step(cmd: AllocateCommand, skip: bool) -> Callable[[Batch], str]:
    def run(batch: Batch) -> str:
        if skip:
            prj = batch.project(cmd.project_id)
            if cmd.indicator_id in prj.lines and not _new(prj):
                raise Skipped  # this funding line came with the project's earlier import
        return batch.allocate(cmd)

    return run


def import_projects(
    app: BudgetLedger, table: RawTable, *, unit: str = "元", skip_existing: bool = False,
    actor: str = "unknown", progress: ProgressFactory | None = None,
) -> ImportResult:
    steps, problems = plan_projects(app, table, unit=unit, skip_existing=skip_existing, actor=actor)
    projects = {s.ident for s in steps if s.ident}
    return run_import(app, table, "projects", steps, problems, progress=progress,
                      already_summary=ALREADY, preload=lambda b: b.preload(projects))
