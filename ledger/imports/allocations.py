"""``import allocations``: an edge-list table (from, to, one column per task) into issues and forwards.

Planning checks what only the whole table can tell — columns that are not tasks, subtotal rows,
cycles, duplicate pairs, holders forwarding more than they receive, ``--expect-total`` — before any
command runs, as queries and streamed passes over a scratch table of the rows
(:class:`~ledger.imports.allocation_store.EdgeStore`), so memory does not grow with the rows; the
commands are then built holder by holder, parents first, and written by :mod:`.allocation_write`.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field

from ledger import invariants as inv
from ledger.application import BudgetLedger
from ledger.commands import ForwardCommand, IssueCommand, build
from ledger.errors import InputError
from ledger.imports.allocation_rows import Columns, read_rows, table_columns
from ledger.imports.allocation_steps import forward_step, issue_step, money
from ledger.imports.allocation_store import Edge, EdgeStore
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



def shape(file: str, cols: Columns,
          store: EdgeStore) -> tuple[dict[str, int], list[str], list[Edge]]:
    """Rank of each holder (parents first), the top holders and the inner edges (those whose
    receiver is a holder, in file order); a cycle refuses the table. Only holders are ranked: a
    unit that forwards nothing can be on no cycle and follows its holder."""
    inner = store.inner()
    # holders by first appearance in either column (a row's holder before its receiver)
    pos = {h: 2 * n for h, n in store.holders().items()}
    for e in inner:
        pos[e.to] = min(pos[e.to], 2 * e.row + 1)
    order = sorted(pos, key=pos.__getitem__)
    rank, cycles = topological(order, [(e.row, e.holder, e.to) for e in inner])
    problems = []
    for cyc in cycles:
        chain = " → ".join([cyc[0][1], *(e[2] for e in cyc)])
        problems.append(Problem(file, cyc[0][0], cols.holder, cyc[0][1],
                                f"cycle: {chain} ({_rows_text([e[0] for e in cyc])}); money "
                                "cannot flow back to a unit it came from"))
    if problems:
        raise ImportRejected(file, problems)
    receivers = {e.to for e in inner}
    return rank, [u for u in order if u not in receivers], inner


Incoming = dict[tuple[str, int], list[tuple[int, int, str]]]  # (holder, task) → (row, fen, from)


def incoming(inner: list[Edge], rank: dict[str, int], tasks: int) -> Incoming:
    """What each holder receives per task, its givers parents first (the rows feeding a leaf are
    not needed)."""
    ins: Incoming = {}
    for e in sorted(inner, key=lambda e: (rank[e.holder], e.row)):
        for ti in range(tasks):
            if e.amount(ti):
                ins.setdefault((e.to, ti), []).append((e.row, e.amount(ti), e.holder))
    return ins


@dataclass(slots=True)
class Outs:
    """A holder's non-zero cells in one task, summed in one pass over its rows (not held):
    enough of them for the messages, and the row where they first exceed ``have``."""

    have: int
    rows: list[int] = field(default_factory=list)  # the first 9: _rows_text shows 8 and "…"
    total: int = 0
    over: int | None = None

    def add(self, row: int, fen: int) -> None:
        if not fen:
            return
        self.total += fen
        if len(self.rows) < 9:
            self.rows.append(row)
        if self.over is None and self.total > self.have:
            self.over = row


def check_totals(file: str, plan: AllocationPlan, expected: dict[str, int],
                 unit: str) -> list[Problem]:
    problems = []
    for t, want in expected.items():
        ti = plan.tasks.index(t)
        got = sum(plan.top_cells[(top, ti)][1] for top in plan.tops if (top, ti) in plan.top_cells)
        if got != want:
            diff = got - want
            problems.append(Problem(
                file, None, t, None,
                f"--expect-total: the rows from {', '.join(plan.tops)} sum to {money(got, unit)}, "
                f"expected {money(want, unit)} ({'over' if diff > 0 else 'short'} by "
                f"{money(abs(diff), unit)})"))
    return problems


def _over(file: str, holder: str, t: str, ins: list[tuple[int, int, str]], outs: Outs,
          unit: str) -> Problem | None:
    """The row where a holder's forwards first exceed what it receives in task t, if any."""
    if outs.over is None:
        return None
    have = outs.have
    src = f"receives {money(have, unit)} ({_rows_text([ins[0][0]])})" if ins else (
        "receives nothing in this task")
    return Problem(file, outs.over, t, None,
                   f"holder {holder} forwards {money(outs.total, unit)} in total "
                   f"({_rows_text(outs.rows)}) but {src}: over by "
                   f"{money(outs.total - have, unit)} [{inv.AvailableWouldGoNegative.name}]",
                   invariant=True)


def closure(file: str, plan: AllocationPlan, opts: AllocationOptions, inner: list[Edge],
            rank: dict[str, int]) -> None:
    """Each holder's indicator per task, and the (holder, task) flows not run because the numbers
    fail (their forwards are reported as not checked); one streamed pass over each holder's rows.
    The tops' sums per task are kept (roots, ``--expect-total``)."""
    tasks = plan.tasks
    ins_of = incoming(inner, rank, len(tasks))
    tops = set(plan.tops)
    for holder in plan.groups:
        ins = [ins_of.get((holder, ti), []) for ti in range(len(tasks))]
        outs = [Outs(i[0][1] if i else 0) for i in ins]
        for e in plan.store.of(holder):
            for ti, o in enumerate(outs):
                o.add(e.row, e.amounts[ti])
        for ti, t in enumerate(tasks):
            o = outs[ti]
            if not o.rows:
                continue
            if holder in tops:
                plan.top_cells[(holder, ti)] = (o.rows[0], o.total)
                plan.holder_indicator[(holder, t)] = allocation_indicator_id(
                    opts.doc, None, holder, t)
                continue
            if len(ins[ti]) > 1:
                plan.problems.append(Problem(
                    file, o.rows[0], t, None,
                    f"{holder} receives {t} on {_rows_text([n for n, _, _ in ins[ti]])} and also "
                    "forwards it; an edge-list table cannot say which of its indicators a forward "
                    "draws on — split the table by document"))
                plan.blocked.add((holder, t))
                continue
            over = _over(file, holder, t, ins[ti], o, opts.unit)
            if over:
                plan.problems.append(over)
                plan.blocked.add((holder, t))
            if ins[ti]:
                plan.holder_indicator[(holder, t)] = allocation_indicator_id(
                    opts.doc, ins[ti][0][2], holder, t)


@dataclass
class AllocationPlan:
    """A checked table: its rows in a scratch table (:class:`EdgeStore`, read back a holder at
    a time), its holders parents first. The ledger commands are built holder by holder as they
    are applied (:meth:`steps`), never all at once. The scratch table lives as long as the plan
    (the import's ids are derived from it afterwards)."""

    file: str
    tasks: list[str]
    store: EdgeStore
    groups: list[str]  # the holders, parents first
    tops: list[str]
    problems: list[Problem] = field(default_factory=list)
    roots: list[Root] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    holder_indicator: dict[tuple[str, str], str] = field(default_factory=dict)
    blocked: set[tuple[str, str]] = field(default_factory=set)  # (holder, task)
    #: (top, task index) → (its first non-zero row, its sum) in that task
    top_cells: dict[tuple[str, int], tuple[int, int]] = field(default_factory=dict)

    @property
    def commands(self) -> int:
        """How many steps :meth:`steps` yields in all (for the progress bar)."""
        return len(self.roots) + self.store.cells()

    def root_steps(self, app: BudgetLedger, opts: AllocationOptions) -> list[Step]:
        template = _template(opts)
        out = []
        for root in self.roots:
            row, total = self.top_cells[(root.unit, self.tasks.index(root.task))]
            issue = build(IssueCommand, indicator_id=root.indicator_id, unit=root.unit,
                          task=root.task, amount=total, **template)
            out.append(Step(row, root.task, None, f"root of {root.unit}, {root.task}: ",
                            issue_step(app, issue, opts), root.indicator_id))
        return out

    def steps(self, app: BudgetLedger, opts: AllocationOptions, holder: str) -> Iterator[Step]:
        """The forwards of one holder's rows, in file order; a cell whose holder has no
        indicator of its task (reported in planning) gives none."""
        for e in self.store.of(holder):
            for ti, t in enumerate(self.tasks):
                cell = e.amount(ti)
                parent = self.holder_indicator.get((holder, t))
                if not cell or parent is None:
                    continue
                ident = allocation_indicator_id(opts.doc, holder, e.to, t)
                fwd = build(ForwardCommand, parent_id=parent, child_id=ident, unit=e.to,
                            amount=cell, doc=opts.doc, effective_date=opts.effective_date,
                            actor=opts.actor)
                yield Step(e.row, t, CELL, f"{holder} → {e.to}, {t}: ",
                           forward_step(app, fwd, opts, holder, t), ident, needs=parent)

    def steps_ids(self, opts: AllocationOptions, holder: str) -> Iterator[str]:
        """The ids :meth:`steps` creates, without building the commands."""
        for e in self.store.of(holder):
            for ti, t in enumerate(self.tasks):
                if e.amount(ti) and (holder, t) in self.holder_indicator:
                    yield allocation_indicator_id(opts.doc, holder, e.to, t)

    def blocked_ids(self, opts: AllocationOptions, holder: str) -> Iterator[str]:
        """The indicators a blocked flow of this holder would have created."""
        for t in self.tasks:
            if (holder, t) in self.blocked:
                for e in self.store.of(holder):
                    yield allocation_indicator_id(opts.doc, holder, e.to, t)


def plan_allocations(app: BudgetLedger, table: RawTable, opts: AllocationOptions) -> AllocationPlan:
    """Validate an edge-list table into a plan (parents first) whose rows wait in a scratch
    table; nothing is loaded from the ledger."""
    notes = list(table.notes)
    cols = table_columns(table, notes)
    expected = expected_totals(opts, cols.tasks)
    store = read_rows(table, cols, opts.unit)
    try:
        direct_counties(table.file, store, notes)
        rank, tops, inner = shape(table.file, cols, store)
        store.set_ranks(rank)
        plan = AllocationPlan(table.file, cols.tasks, store, sorted(rank, key=rank.__getitem__),
                              tops, notes=notes)
        closure(table.file, plan, opts, inner, rank)
        plan.problems[:0] = check_totals(table.file, plan, expected, opts.unit)
        for top in tops:
            for ti, t in enumerate(cols.tasks):
                if (top, ti) in plan.top_cells:
                    plan.roots.append(Root(allocation_indicator_id(opts.doc, None, top, t), top, t))
    except BaseException:
        store.close()
        raise
    return plan


def import_allocations(
    app: BudgetLedger, table: RawTable, opts: AllocationOptions,
    progress: ProgressFactory | None = None,
) -> ImportResult:
    plan = plan_allocations(app, table, opts)
    try:
        result = write_allocations(app, table, plan, opts, progress)
    except BaseException:
        plan.store.close()
        raise
    result.roots = plan.roots
    result.notes = plan.notes
    return result
