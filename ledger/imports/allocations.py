"""``import allocations``: an edge-list table (from, to, one column per task) into issues and forwards.

Planning checks what only the whole table can tell — columns that are not tasks, subtotal rows,
cycles, duplicate pairs, holders forwarding more than they receive, ``--expect-total`` — before any
command runs; the steps then go to :func:`~ledger.imports.apply.apply_steps` parents first.
"""

from __future__ import annotations

import hashlib
import unicodedata
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field

from ledger import invariants as inv
from ledger.application import Batch, BudgetLedger
from ledger.commands import ForwardCommand, IssueCommand, SetUnitCommand, build
from ledger.errors import InputError
from ledger.imports.allocation_steps import forward_step, issue_step, money
from ledger.imports.apply import ImportResult, ProgressFactory, Root, Step, run_import
from ledger.imports.graph import topological
from ledger.imports.problems import ImportRejected, Problem, refuse
from ledger.imports.reading import RawTable
from ledger.imports.rows import AllocationRow, is_row_number, merged_amounts, validate
from ledger.money import AmountError, parse_amount
from ledger.unit import Level
from ledger.validation import first_control_character

#: a column (or a from/to cell) holding one of these is a total, never a task or a unit
AGGREGATE_WORDS = ("合计", "小计", "总计", "共计", "总额")
AGGREGATE_NAMES = frozenset({"total", "subtotal", "sum", "grand total"})
KEY_COLUMNS = ("from", "to")
#: columns that describe a row without being a task: the note and the geographic area
DESCRIPTIVE = ("note", "area")
#: a note holding one of these marks a 资金管理型直管县 (funded from the table's root)
DIRECT_COUNTY_MARKS = ("资金管理型直管县", "直管县")


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


def _squash(name: str) -> str:
    return "".join(unicodedata.normalize("NFKC", name).split()).lower()


def is_aggregate(name: str) -> bool:
    """A total / subtotal label (合计, 拉萨市小计, Total …)."""
    s = _squash(name)
    return s in AGGREGATE_NAMES or any(w in s for w in AGGREGATE_WORDS)


@dataclass
class Columns:
    """What each header column of an allocation table is."""

    holder: str
    to: str
    note: str | None
    tasks: list[str]
    area: str | None = None
    totals: list[str] = field(default_factory=list)  # checked against each row, not imported
    ignored: list[str] = field(default_factory=list)  # row numbers


def table_columns(table: RawTable, notes: list[str]) -> Columns:
    file = table.file
    lower = {h.lower(): h for h in table.header}
    missing = [c for c in KEY_COLUMNS if c not in lower]
    cols = Columns(lower.get("from", ""), lower.get("to", ""), lower.get("note"), [],
                   area=lower.get("area"))
    for h in table.header:
        if h.lower() in (*KEY_COLUMNS, *DESCRIPTIVE):
            continue
        bad = first_control_character(h)
        if bad:
            raise refuse(file, f"header column {h!r}: a task name must be one line of visible "
                         f"text; it contains {bad}", table.header_row)
        if is_row_number(h):
            cols.ignored.append(h)
        elif is_aggregate(h):
            cols.totals.append(h)
        else:
            cols.tasks.append(h)
    if missing or not cols.tasks:
        why = f"missing column(s) {', '.join(missing)}" if missing else "no task column"
        raise refuse(file, f"wrong header: {why} (expected from,to,<task>…[,note])",
                     table.header_row)
    for h in cols.ignored:
        notes.append(f"{file}: column {h} is a row number: ignored")
    for h in cols.totals:
        notes.append(f"{file}: column {h} is a total, not a task: not imported; each row's {h} "
                     f"was checked to equal the sum of its task cells ({', '.join(cols.tasks)})")
    return cols


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


def _subtotal(table: RawTable, cols: Columns, n: int, raw: dict[str, str]) -> list[Problem]:
    """A row whose from or to is a total label (拉萨市小计, 合计): never counted as a transfer."""
    for col in (cols.holder, cols.to):
        if is_aggregate(raw[col]):
            return [Problem(table.file, n, col, raw[col],
                            "a subtotal or total row, not a transfer: remove it (the importer "
                            "sums the rows itself; check the table's total with --expect-total)")]
    return []


def _row_checks(table: RawTable, cols: Columns, n: int, raw: dict[str, str], row: AllocationRow,
                unit: str) -> list[Problem]:
    """Problems only this importer has: subtotal rows, totals that do not add up, a→a."""
    file = table.file
    problems = []
    for col in cols.totals:
        text = raw.get(col, "")
        if not text or text in ("-", "－", "—"):
            continue
        try:
            total = parse_amount(text, unit, allow_zero=True)
        except AmountError as e:
            problems.append(Problem(file, n, col, text, str(e)))
            continue
        got = sum(row.amounts.values())
        if total != got:
            problems.append(Problem(file, n, col, text,
                                    f"the row's task cells sum to {money(got, unit)}, not "
                                    f"{money(total, unit)}: the table does not add up"))
    if row.holder == row.to:
        problems.append(Problem(file, n, cols.to, row.to,
                                "a unit cannot forward to itself (a cycle of one)"))
    return problems


Rows = list[tuple[int, AllocationRow]]


def read_rows(table: RawTable, cols: Columns, unit: str) -> Rows:
    """Every row validated; refused as a whole (every bad row listed) if any is bad."""
    problems: list[Problem] = []
    rows: Rows = []
    names = {"holder": cols.holder, "to": cols.to, "note": cols.note or "note",
             "area": cols.area or "area"}
    first_of_pair: dict[tuple[str, str], int] = {}
    for n, raw in table.records():
        subtotal = _subtotal(table, cols, n, raw)
        if subtotal:
            problems += subtotal
            continue
        data = {"holder": raw[cols.holder], "to": raw[cols.to],
                "amounts": {t: raw[t] for t in cols.tasks},
                "note": raw.get(cols.note) if cols.note else None,
                "area": raw.get(cols.area) if cols.area else None}
        data = {k: v for k, v in data.items() if v not in ("", None)}
        row, bad = validate(AllocationRow, table, n, raw, data, names, {"unit": unit})
        bad += merged_amounts(table, n, raw, [*cols.tasks, *cols.totals])
        if row is not None and not bad:
            bad = _row_checks(table, cols, n, raw, row, unit)
        problems += bad
        if row is None or bad:
            continue
        pair = (row.holder, row.to)
        if pair in first_of_pair:
            problems.append(Problem(table.file, n, cols.to, row.to,
                                    f"duplicate row: {row.holder} → {row.to} is already on row "
                                    f"{first_of_pair[pair]}"))
            continue
        first_of_pair[pair] = n
        rows.append((n, row))
    if problems:
        raise ImportRejected(table.file, problems)
    return rows


def shape(file: str, cols: Columns, rows: Rows) -> tuple[dict[str, int], list[str]]:
    """Rank of each unit (parents first) and the top holders; a cycle refuses the table."""
    nodes = list(dict.fromkeys(u for _, r in rows for u in (r.holder, r.to)))
    rank, cycles = topological(nodes, [(n, r.holder, r.to) for n, r in rows])
    problems = []
    for cyc in cycles:
        chain = " → ".join([cyc[0][1], *(e[2] for e in cyc)])
        problems.append(Problem(file, cyc[0][0], cols.holder, cyc[0][1],
                                f"cycle: {chain} ({_rows_text([e[0] for e in cyc])}); money "
                                "cannot flow back to a unit it came from"))
    if problems:
        raise ImportRejected(file, problems)
    receivers = {r.to for _, r in rows}
    return rank, [u for u in nodes if u not in receivers]


@dataclass
class Flows:
    """Per (unit, task): the rows bringing money in (row, amount, from) and sending it on."""

    incoming: dict[tuple[str, str], list[tuple[int, int, str]]]
    outgoing: dict[tuple[str, str], list[tuple[int, int]]]

    @classmethod
    def of(cls, rows: Rows, tasks: Sequence[str]) -> Flows:
        flows = cls(defaultdict(list), defaultdict(list))
        for n, r in rows:
            for t in tasks:
                if r.amounts.get(t, 0):
                    flows.incoming[(r.to, t)].append((n, r.amounts[t], r.holder))
                    flows.outgoing[(r.holder, t)].append((n, r.amounts[t]))
        return flows


def check_totals(file: str, flows: Flows, tops: list[str], expected: dict[str, int],
                 unit: str) -> list[Problem]:
    problems = []
    for t, want in expected.items():
        got = sum(a for u in tops for _, a in flows.outgoing[(u, t)])
        if got != want:
            diff = got - want
            problems.append(Problem(
                file, None, t, None,
                f"--expect-total: the rows from {', '.join(tops)} sum to {money(got, unit)}, "
                f"expected {money(want, unit)} ({'over' if diff > 0 else 'short'} by "
                f"{money(abs(diff), unit)})"))
    return problems


def _over(file: str, holder: str, t: str, flows: Flows, unit: str) -> Problem | None:
    """The row where a holder's forwards first exceed what it receives in task t, if any."""
    ins, outs = flows.incoming[(holder, t)], flows.outgoing[(holder, t)]
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


def closure(file: str, rows: Rows, tops: list[str], flows: Flows, opts: AllocationOptions,
            problems: list[Problem]) -> tuple[dict[tuple[str, str], str], set[str]]:
    """Each holder's indicator per task, and the indicators not created because the numbers fail."""
    holder_indicator: dict[tuple[str, str], str] = {}
    blocked: set[str] = set()
    for (holder, t), outs in flows.outgoing.items():
        if holder in tops:
            holder_indicator[(holder, t)] = allocation_indicator_id(opts.doc, None, holder, t)
            continue
        ins = flows.incoming[(holder, t)]
        children = {allocation_indicator_id(opts.doc, holder, r.to, t)
                    for _, r in rows if r.holder == holder}
        if len(ins) > 1:
            problems.append(Problem(
                file, outs[0][0], t, None,
                f"{holder} receives {t} on {_rows_text([n for n, _, _ in ins])} and also forwards "
                "it; an edge-list table cannot say which of its indicators a forward draws on — "
                "split the table by document"))
            blocked |= children
            continue
        over = _over(file, holder, t, flows, opts.unit)
        if over:
            problems.append(over)
            blocked |= children
        if ins:
            holder_indicator[(holder, t)] = allocation_indicator_id(opts.doc, ins[0][2], holder, t)
    return holder_indicator, blocked


def is_direct_county(note: str | None) -> bool:
    return bool(note) and any(m in _squash(note or "") for m in DIRECT_COUNTY_MARKS)


@dataclass
class Geography:
    """Per receiving unit of the table: its area (geographic parent) and 直管县 mark."""

    area: dict[str, str] = field(default_factory=dict)
    direct: dict[str, bool] = field(default_factory=dict)
    explicit: set[str] = field(default_factory=set)  # the table states the area (cell or note)


def direct_counties(file: str, rows: Rows, notes: list[str]) -> tuple[Rows, Geography]:
    """Shanxi-style rows (a county listed under its prefecture, noted 「资金管理型直管县」) become
    transfers from the table's root: the province funds the county, the prefecture does not.
    The county's area stays the prefecture. Every unit's area is the ``area`` cell, else ``from``.
    """
    parent_of: dict[str, str] = {}
    for _n, r in rows:
        parent_of.setdefault(r.to, r.holder)

    def top_of(unit: str) -> str:
        seen = {unit}
        while unit in parent_of and parent_of[unit] not in seen:
            unit = parent_of[unit]
            seen.add(unit)
        return unit

    out: Rows = []
    problems: list[Problem] = []
    geo = Geography()
    pairs = {(r.holder, r.to) for _n, r in rows}
    for n, r in rows:
        marked = is_direct_county(r.note)
        if marked and r.holder in parent_of:  # listed under its prefecture: funded from the root
            top = top_of(r.holder)
            area = r.area or r.holder
            if (top, r.to) in pairs:
                problems.append(Problem(file, n, "to", r.to,
                                        f"{r.to} is marked 直管县 (funded by {top} directly) but "
                                        f"{top} → {r.to} is also on another row"))
                continue
            notes.append(f"{file}: row {n}: {r.to} is a 资金管理型直管县: funded by {top} directly "
                         f"(not through {r.holder}); it counts in {area}'s subtotal")
            r = r.model_copy(update={"holder": top, "area": area})
        elif marked and not r.area:
            problems.append(Problem(file, n, "area", None,
                                    f"{r.to} is marked 直管县 and funded by {r.holder} directly: "
                                    "give its prefecture in the area column"))
            continue
        area = r.area or r.holder
        if area == r.to:
            problems.append(Problem(file, n, "area", r.area, f"{r.to} cannot be its own area"))
            continue
        if r.to not in geo.area:
            geo.area[r.to] = area
            geo.direct[r.to] = marked or area != r.holder
            if r.area or marked:
                geo.explicit.add(r.to)
        out.append((n, r))
    if problems:
        raise ImportRejected(file, problems)
    return out, geo


def unit_levels(batch: Batch, tops: list[str], geo: Geography) -> dict[str, Level | None]:
    """Each unit's administrative level: a unit already declared keeps its level unless the table
    states its area (an ``area`` cell or a 直管县 note); a top is a region (a 省: a province);
    below that one level per step of the area tree; a 直管县 is a county. None: below a township,
    or under an area the ledger does not know — such a unit is left undeclared."""
    levels: dict[str, Level | None] = {}
    for top in tops:
        known = batch.unit(top)
        levels[top] = Level(known.level) if known else (
            Level.PROVINCE if top.endswith("省") else Level.REGION)

    def level_of(unit: str, depth: int = 0) -> Level | None:
        if unit in levels:
            return levels[unit]
        known = batch.unit(unit)
        if known is not None and unit not in geo.explicit:
            levels[unit] = Level(known.level)
        elif geo.direct.get(unit):
            levels[unit] = Level.COUNTY
        elif unit not in geo.area or depth > 20:
            levels[unit] = Level(known.level) if known else None
        else:
            above = level_of(geo.area[unit], depth + 1)
            levels[unit] = None if above in (None, Level.TOWNSHIP) else Level.below(above)
        return levels[unit]

    for unit in geo.area:
        level_of(unit)
    return levels


def declare_units(batch: Batch, tops: list[str], geo: Geography, opts: AllocationOptions) -> None:
    """Record the units' levels and areas in the import's batch: new units, and units whose area
    the table states; what is recorded already is not restated (``set_unit`` records no change)."""
    levels = unit_levels(batch, tops, geo)
    declared = {u: lv for u, lv in levels.items() if lv is not None}
    for unit in sorted(declared, key=lambda u: declared[u].rank):
        known = batch.unit(unit)
        if known is not None and (unit in tops or unit not in geo.explicit):
            continue
        level = declared[unit]
        cmd = build(SetUnitCommand, unit=unit, level=level.value,
                    area=None if unit in tops else geo.area[unit],
                    direct_county=bool(geo.direct.get(unit)) and level is Level.COUNTY,
                    effective_date=opts.effective_date, doc=opts.doc, actor=opts.actor)
        batch.set_unit(cmd)


@dataclass
class AllocationPlan:
    steps: list[Step]
    problems: list[Problem]
    blocked: set[str]
    roots: list[Root]
    notes: list[str]
    tops: list[str] = field(default_factory=list)
    geography: Geography = field(default_factory=Geography)


def plan_allocations(app: BudgetLedger, table: RawTable, opts: AllocationOptions) -> AllocationPlan:
    """Validate an edge-list table and turn it into issue/forward steps (parents first)."""
    notes = list(table.notes)
    cols = table_columns(table, notes)
    expected = expected_totals(opts, cols.tasks)
    rows = read_rows(table, cols, opts.unit)
    rows, geo = direct_counties(table.file, rows, notes)
    rank, tops = shape(table.file, cols, rows)
    flows = Flows.of(rows, cols.tasks)
    problems = check_totals(table.file, flows, tops, expected, opts.unit)
    holder_indicator, blocked = closure(table.file, rows, tops, flows, opts, problems)
    plan = AllocationPlan([], problems, blocked, [], notes, tops, geo)
    template = _template(opts)
    for top in tops:
        for t in cols.tasks:
            outs = flows.outgoing[(top, t)]
            total = sum(a for _, a in outs)
            if not total:
                continue
            ident = allocation_indicator_id(opts.doc, None, top, t)
            issue = build(IssueCommand, indicator_id=ident, unit=top, task=t, amount=total,
                          **template)
            plan.roots.append(Root(ident, top, t))
            plan.steps.append(Step(outs[0][0], t, None, f"root of {top}, {t}: ",
                                   issue_step(app, issue, opts), ident))
    raw_cells = dict(table.records())
    for n, r in sorted(rows, key=lambda nr: (rank[nr[1].holder], nr[0])):
        for t in cols.tasks:
            cell = r.amounts.get(t, 0)
            parent = holder_indicator.get((r.holder, t))
            if not cell or parent is None:  # no indicator, or reported above (receives nothing)
                continue
            ident = allocation_indicator_id(opts.doc, r.holder, r.to, t)
            fwd = build(ForwardCommand, parent_id=parent, child_id=ident, unit=r.to, amount=cell,
                        doc=opts.doc, effective_date=opts.effective_date, actor=opts.actor)
            plan.steps.append(Step(n, t, raw_cells[n][t], f"{r.holder} → {r.to}, {t}: ",
                                   forward_step(app, fwd, opts, r.holder, t), ident, needs=parent))
    return plan


def import_allocations(
    app: BudgetLedger, table: RawTable, opts: AllocationOptions,
    progress: ProgressFactory | None = None,
) -> ImportResult:
    plan = plan_allocations(app, table, opts)
    summary = (f"document {opts.doc} was already imported: every indicator this table creates "
               "exists (ids are derived from document + from + to + task). Use --skip-existing to "
               "import only rows that are new")
    result = run_import(app, table, "allocations", plan.steps, plan.problems, failed=plan.blocked,
                        progress=progress, already_summary=summary,
                        finish=lambda b: declare_units(b, plan.tops, plan.geography, opts))
    result.roots = plan.roots
    result.notes = plan.notes
    return result
