"""``import allocations``: an edge-list table (from, to, one column per task) into issues and forwards.

Planning checks what only the whole table can tell — columns that are not tasks, subtotal rows,
cycles, duplicate pairs, holders forwarding more than they receive, ``--expect-total`` — before any
command runs, on compact rows (:class:`~ledger.imports.allocation_rows.Edge`); the commands are
then built holder by holder, parents first, and written by :mod:`.allocation_write`.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field

from ledger import invariants as inv
from ledger.application import BudgetLedger
from ledger.commands import ForwardCommand, IssueCommand, build
from ledger.errors import InputError
from ledger.imports.allocation_rows import Columns, Edge, read_rows, table_columns
from ledger.imports.allocation_steps import forward_step, issue_step, money
from ledger.imports.allocation_units import direct_counties
from ledger.imports.allocation_write import CELL, write_allocations
from ledger.imports.apply import ImportResult, ProgressFactory, Root, Step
from ledger.imports.graph import topological
from ledger.imports.problems import ImportRejected, Problem
from ledger.imports.reading import RawTable
from ledger.money import AmountError, parse_amount
from ledger.validation import first_control_character


def allocation_indicator_id(doc: str, from_unit: str | None, to_unit: str, task: str) -> str:
    """The indicator an allocation-table row creates: a stable id from its natural key.

    ``from_unit`` is None for the root issued to the table's top holder. Re-importing the same
    document computes the same ids, which is how a second import is recognised.
    """
    key = "\x1f".join(["budget-ledger:allocation", doc, from_unit or "", to_unit, task])
    return "I-" + hashlib.sha256(key.encode("utf-8")).hexdigest()[:20]


@dataclass(frozen=True)
class AllocationOptions:
    """What the command line says about every indicator of the table."""

    doc: str
    effective_date: str
    year: int
    source: str
    unit: str = "万元"
    subject: str | None = None
    tracking: bool = False
    direct: bool = False
    advance: bool = False
    issuer: str | None = None
    expect_total: tuple[str, ...] = ()  # "TASK=AMOUNT"
    skip_existing: bool = False
    actor: str = "unknown"


def _rows_text(lines: Sequence[int]) -> str:
    shown = ", ".join(str(n) for n in lines[:8])
    return f"row{'s' if len(lines) > 1 else ''} {shown}{', …' if len(lines) > 8 else ''}"


def expected_totals(opts: AllocationOptions, tasks: Sequence[str]) -> dict[str, int]:
    """The command line, checked once, naming the option; returns --expect-total per task."""
    template = _template(opts)
    build(IssueCommand, unit="-", task="-", amount=1, **template)
    for option, text in (("--doc", opts.doc), ("--issuer", opts.issuer)):
        bad = first_control_character(text or "")
        if bad:
            raise InputError(f"{option}: must be one line of visible text; it contains {bad}",
                             field=option.removeprefix("--"))
    if opts.unit not in ("万元", "万", "元"):
        raise InputError(f"--unit: must be 万元 or 元, got {opts.unit!r}", field="unit")
    expected: dict[str, int] = {}
    for item in opts.expect_total:
        task, sep, amount = item.partition("=")
        task = task.strip()
        if not sep or task not in tasks:
            raise InputError(
                f"--expect-total: {item!r} must be TASK=AMOUNT with TASK one of the table's task "
                f"columns ({', '.join(tasks)})", field="expect_total")
        try:
            expected[task] = parse_amount(amount, opts.unit)
        except AmountError as e:
            raise InputError(f"--expect-total {task}: {e}", field="expect_total") from None
    return expected


def _template(opts: AllocationOptions) -> dict[str, object]:
    return dict(doc=opts.doc, effective_date=opts.effective_date, year=opts.year,
                source=opts.source, subject=opts.subject, tracking=opts.tracking,
                direct=opts.direct, advance=opts.advance, issuer=opts.issuer, actor=opts.actor)



def shape(file: str, cols: Columns, edges: list[Edge]) -> tuple[dict[str, int], list[str]]:
    """Rank of each holder (parents first) and the top holders; a cycle refuses the table. Only
    holders are ranked: a unit that forwards nothing can be on no cycle and follows its holder."""
    holders = {e.holder for e in edges}
    order: dict[str, None] = {}  # holders by first appearance in either column
    for e in edges:
        for u in (e.holder, e.to):
            if u in holders and u not in order:
                order[u] = None
    inner = [(e.row, e.holder, e.to) for e in edges if e.to in holders]
    rank, cycles = topological(list(order), inner)
    problems = []
    for cyc in cycles:
        chain = " → ".join([cyc[0][1], *(e[2] for e in cyc)])
        problems.append(Problem(file, cyc[0][0], cols.holder, cyc[0][1],
                                f"cycle: {chain} ({_rows_text([e[0] for e in cyc])}); money "
                                "cannot flow back to a unit it came from"))
    if problems:
        raise ImportRejected(file, problems)
    receivers = {e[2] for e in inner}
    return rank, [u for u in order if u not in receivers]


@dataclass(frozen=True, slots=True)
class Group:
    """A holder's rows: ``edges[start:end]`` once the edges are sorted parents first."""

    holder: str
    start: int
    end: int


def groups(edges: list[Edge]) -> list[Group]:
    out: list[Group] = []
    start = 0
    for i in range(1, len(edges) + 1):
        if i == len(edges) or edges[i].holder != edges[start].holder:
            out.append(Group(edges[start].holder, start, i))
            start = i
    return out


Incoming = dict[tuple[str, int], list[tuple[int, int, str]]]  # (holder, task) → (row, fen, from)


def incoming(edges: list[Edge], holders: set[str], tasks: int) -> Incoming:
    """What each holder receives per task (the rows feeding a leaf are not needed)."""
    ins: Incoming = {}
    for e in edges:
        if e.to in holders:
            for ti in range(tasks):
                if e.amount(ti):
                    ins.setdefault((e.to, ti), []).append((e.row, e.amount(ti), e.holder))
    return ins


def _outs(edges: list[Edge], g: Group, ti: int) -> list[tuple[int, int]]:
    return [(e.row, e.amount(ti)) for e in edges[g.start:g.end] if e.amount(ti)]


def check_totals(file: str, plan: AllocationPlan, expected: dict[str, int],
                 unit: str) -> list[Problem]:
    problems = []
    for t, want in expected.items():
        ti = plan.tasks.index(t)
        got = sum(e.amount(ti) for g in plan.groups if g.holder in plan.tops
                  for e in plan.edges[g.start:g.end])
        if got != want:
            diff = got - want
            problems.append(Problem(
                file, None, t, None,
                f"--expect-total: the rows from {', '.join(plan.tops)} sum to {money(got, unit)}, "
                f"expected {money(want, unit)} ({'over' if diff > 0 else 'short'} by "
                f"{money(abs(diff), unit)})"))
    return problems


def _over(file: str, holder: str, t: str, ins: list[tuple[int, int, str]],
          outs: list[tuple[int, int]], unit: str) -> Problem | None:
    """The row where a holder's forwards first exceed what it receives in task t, if any."""
    have = ins[0][1] if ins else 0
    running = 0
    for n, a in outs:
        running += a
        if running > have:
            total = sum(a for _, a in outs)
            src = f"receives {money(have, unit)} ({_rows_text([ins[0][0]])})" if ins else (
                "receives nothing in this task")
            return Problem(file, n, t, None,
                           f"holder {holder} forwards {money(total, unit)} in total "
                           f"({_rows_text([m for m, _ in outs])}) but {src}: over by "
                           f"{money(total - have, unit)} [{inv.AvailableWouldGoNegative.name}]",
                           invariant=True)
    return None


def closure(file: str, plan: AllocationPlan, opts: AllocationOptions) -> None:
    """Each holder's indicator per task, and the (holder, task) flows not run because the numbers
    fail (their forwards are reported as not checked)."""
    ins_of = incoming(plan.edges, {g.holder for g in plan.groups}, len(plan.tasks))
    tops = set(plan.tops)
    for g in plan.groups:
        for ti, t in enumerate(plan.tasks):
            outs = _outs(plan.edges, g, ti)
            if not outs:
                continue
            if g.holder in tops:
                plan.holder_indicator[(g.holder, t)] = allocation_indicator_id(
                    opts.doc, None, g.holder, t)
                continue
            ins = ins_of.get((g.holder, ti), [])
            if len(ins) > 1:
                plan.problems.append(Problem(
                    file, outs[0][0], t, None,
                    f"{g.holder} receives {t} on {_rows_text([n for n, _, _ in ins])} and also "
                    "forwards it; an edge-list table cannot say which of its indicators a forward "
                    "draws on — split the table by document"))
                plan.blocked.add((g.holder, t))
                continue
            over = _over(file, g.holder, t, ins, outs, opts.unit)
            if over:
                plan.problems.append(over)
                plan.blocked.add((g.holder, t))
            if ins:
                plan.holder_indicator[(g.holder, t)] = allocation_indicator_id(
                    opts.doc, ins[0][2], g.holder, t)


@dataclass
class AllocationPlan:
    """A checked table, compact: its edges sorted parents first, grouped by holder. The ledger
    commands are built group by group as they are applied (:meth:`steps`), never all at once."""

    file: str
    tasks: list[str]
    edges: list[Edge]
    groups: list[Group]
    tops: list[str]
    problems: list[Problem] = field(default_factory=list)
    roots: list[Root] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    holder_indicator: dict[tuple[str, str], str] = field(default_factory=dict)
    blocked: set[tuple[str, str]] = field(default_factory=set)  # (holder, task)

    @property
    def commands(self) -> int:
        """How many steps :meth:`steps` yields in all (for the progress bar)."""
        return len(self.roots) + sum(1 for e in self.edges for ti in range(len(self.tasks)) if e.amount(ti))

    def root_steps(self, app: BudgetLedger, opts: AllocationOptions) -> list[Step]:
        template = _template(opts)
        out = []
        by_top = {g.holder: g for g in self.groups}
        for root in self.roots:
            ti = self.tasks.index(root.task)
            outs = _outs(self.edges, by_top[root.unit], ti)
            issue = build(IssueCommand, indicator_id=root.indicator_id, unit=root.unit,
                          task=root.task, amount=sum(a for _, a in outs), **template)
            out.append(Step(outs[0][0], root.task, None, f"root of {root.unit}, {root.task}: ",
                            issue_step(app, issue, opts), root.indicator_id))
        return out

    def steps(self, app: BudgetLedger, opts: AllocationOptions, g: Group) -> Iterator[Step]:
        """The forwards of one holder's rows, in file order; a cell whose holder has no
        indicator of its task (reported in planning) gives none."""
        for e in self.edges[g.start:g.end]:
            for ti, t in enumerate(self.tasks):
                cell = e.amount(ti)
                parent = self.holder_indicator.get((g.holder, t))
                if not cell or parent is None:
                    continue
                ident = allocation_indicator_id(opts.doc, g.holder, e.to, t)
                fwd = build(ForwardCommand, parent_id=parent, child_id=ident, unit=e.to,
                            amount=cell, doc=opts.doc, effective_date=opts.effective_date,
                            actor=opts.actor)
                yield Step(e.row, t, CELL, f"{g.holder} → {e.to}, {t}: ",
                           forward_step(app, fwd, opts, g.holder, t), ident, needs=parent)

    def steps_ids(self, opts: AllocationOptions, g: Group) -> Iterator[str]:
        """The ids :meth:`steps` creates, without building the commands."""
        for e in self.edges[g.start:g.end]:
            for ti, t in enumerate(self.tasks):
                if e.amount(ti) and (g.holder, t) in self.holder_indicator:
                    yield allocation_indicator_id(opts.doc, g.holder, e.to, t)

    def blocked_ids(self, opts: AllocationOptions, g: Group) -> Iterator[str]:
        """The indicators a blocked flow of this holder would have created."""
        for t in self.tasks:
            if (g.holder, t) in self.blocked:
                for e in self.edges[g.start:g.end]:
                    yield allocation_indicator_id(opts.doc, g.holder, e.to, t)


def plan_allocations(app: BudgetLedger, table: RawTable, opts: AllocationOptions) -> AllocationPlan:
    """Validate an edge-list table into a compact plan (parents first); nothing is loaded."""
    notes = list(table.notes)
    cols = table_columns(table, notes)
    expected = expected_totals(opts, cols.tasks)
    edges = read_rows(table, cols, opts.unit)
    direct_counties(table.file, edges, notes)
    rank, tops = shape(table.file, cols, edges)
    edges.sort(key=lambda e: rank[e.holder])  # stable: file order within a holder
    plan = AllocationPlan(table.file, cols.tasks, edges, groups(edges), tops, notes=notes)
    plan.problems += check_totals(table.file, plan, expected, opts.unit)
    closure(table.file, plan, opts)
    by_top = {g.holder: g for g in plan.groups}
    for top in tops:
        for ti, t in enumerate(cols.tasks):
            if any(a for _, a in _outs(edges, by_top[top], ti)):
                plan.roots.append(Root(allocation_indicator_id(opts.doc, None, top, t), top, t))
    return plan


def import_allocations(
    app: BudgetLedger, table: RawTable, opts: AllocationOptions,
    progress: ProgressFactory | None = None,
) -> ImportResult:
    plan = plan_allocations(app, table, opts)
    result = write_allocations(app, table, plan, opts, progress)
    result.roots = plan.roots
    result.notes = plan.notes
    return result
