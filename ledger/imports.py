"""Bulk imports (批量导入): allocation tables, projects with funding lines, payments.

A file goes through four steps, and nothing is written unless every row passes all of them:

1. **read** — CSV (UTF-8 unless told otherwise) or ``.xlsx`` into raw cells, keeping the file's row numbers;
2. **validate** — every row into a pydantic row model; a bad cell is one problem naming file, row,
   column, value and why (exit 2);
3. **plan** — rows into ledger commands in an order the ledger accepts (parents before children,
   effective dates ascending, stable), checking what only the whole file can tell: cycles, duplicate
   rows and vouchers, totals that do not close, rows already imported (natural keys);
4. **apply** — every command to ONE :class:`~ledger.application.Batch`, i.e. against the ledger *plus the
   rows before it*; a refused row is reported and the next one is tried, so one run lists every bad row.
   Only a clean file is saved, in one transaction.

Natural keys make imports idempotent: an allocation row's indicators get ids derived from
document + from + to + task (:func:`allocation_indicator_id`), a project is its id, a payment its voucher.
"""

from __future__ import annotations

import codecs
import csv
import hashlib
import io
from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Annotated, Any, TypeVar

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, ValidationError, ValidationInfo

from ledger import invariants as inv
from ledger.application import Batch, BudgetLedger
from ledger.commands import (
    AddProjectCommand,
    AllocateCommand,
    EffectiveDate,
    ForwardCommand,
    Ident,
    IssueCommand,
    PayCommand,
    Text,
    build,
)
from ledger.errors import InputError, LedgerError
from ledger.indicator import Indicator
from ledger.money import AmountError, format_wan, format_yuan, parse_amount
from ledger.project import Category, PayeeKind, Project

#: rows above which the CLI shows a progress bar
PROGRESS_THRESHOLD = 1000
#: cells that mean "nothing" in an allocation table
ZERO_CELLS = frozenset({"", "-", "－", "—"})
TRUE_CELLS = frozenset({"yes", "y", "true", "1", "是", "x", "✓"})
FALSE_CELLS = frozenset({"", "no", "n", "false", "0", "否"})

Advance = Callable[[int], None]
#: ``progress(label, total)`` returns a function advancing the bar; the CLI passes a rich one
ProgressFactory = Callable[[str, int], Advance]


# ---- problems ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Problem:
    """One reason a file is refused, located as precisely as the file allows."""

    file: str
    row: int | None
    column: str | None
    value: str | None
    why: str
    invariant: bool = False  # a ledger invariant (exit 3) rather than bad input (exit 2)

    def __str__(self) -> str:
        where = [f"row {self.row}"] if self.row is not None else []
        if self.column:
            where.append(f"column {self.column}")
        if self.value is not None:
            where.append(f"value {self.value!r}")
        return f"{self.file}: {', '.join(where) + ': ' if where else ''}{self.why}"


class ImportRejected(LedgerError):
    """The file was refused as a whole; ``problems`` holds one line per bad row. Nothing written.

    Exit 3 when every problem is a ledger invariant, else 2 (bad input).
    """

    def __init__(self, file: str, items: Sequence[Problem], footer: str | None = None) -> None:
        self.file = file
        self.items = sorted(items, key=lambda p: (p.row or 0, p.column or ""))
        self.exit_code = 3 if self.items and all(p.invariant for p in self.items) else 2
        lines = [str(p) for p in self.items]
        lines.append(footer or f"{file}: {_count(len(self.items), 'problem')}; nothing was written")
        self.problems = lines
        super().__init__("\n".join(lines))


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}{'' if n == 1 else 's'}"


class AlreadyRecorded(InputError):
    """A row whose natural key is already in the ledger (re-import without --skip-existing)."""


class _Skipped(Exception):
    """A row already in the ledger, skipped under --skip-existing."""


# ---- reading ----------------------------------------------------------------------------------


@dataclass
class RawTable:
    """Cells as text, each data row with its row number in the file (header = its own row)."""

    file: str
    header: list[str]
    rows: list[tuple[int, dict[str, str]]]
    header_row: int = 1


def _refuse(file: str, why: str, row: int | None = None) -> ImportRejected:
    return ImportRejected(file, [Problem(file, row, None, None, why)])


def read_table(path: str | Path, *, encoding: str = "utf-8", name: str | None = None) -> RawTable:
    """Read a ``.csv`` or ``.xlsx`` file (first sheet) into a :class:`RawTable`."""
    p = Path(path)
    label = name or p.name
    if p.suffix.lower() in (".xlsx", ".xlsm"):
        return _table(label, _read_xlsx(p, label))
    try:
        data = p.read_bytes()
    except OSError as e:
        raise InputError(f"FILE: cannot read {path}: {e.strerror or e}", field="file") from None
    return table_from_bytes(data, label, encoding=encoding)


def table_from_bytes(data: bytes, label: str, *, encoding: str = "utf-8") -> RawTable:
    enc = encoding.strip().lower().replace("_", "-")
    enc = "utf-8-sig" if enc in ("utf-8", "utf8") else enc
    try:
        codecs.lookup(enc)
    except LookupError:
        raise InputError(f"--encoding: unknown encoding {encoding!r}", field="encoding") from None
    try:
        text = data.decode(enc)
    except UnicodeDecodeError as e:
        row = data[: e.start].count(b"\n") + 1
        bad = data[e.start : e.start + 2].hex(" ")
        hint = "save it as UTF-8, or pass --encoding gbk for a GBK export" if enc == "utf-8-sig" else (
            "check --encoding"
        )
        raise _refuse(
            label, f"not valid {encoding} text (bytes {bad} at byte {e.start}); {hint}", row
        ) from None
    return table_from_text(text, label)


def table_from_text(text: str, label: str) -> RawTable:
    reader = csv.reader(io.StringIO(text, newline=""))
    cells: list[tuple[int, list[str]]] = []
    while True:
        start = reader.line_num + 1
        try:
            row = next(reader)
        except StopIteration:
            break
        except csv.Error as e:
            raise _refuse(label, f"unreadable CSV: {e}", start) from None
        cells.append((start, row))
    return _table(label, cells)


def _xlsx_cell(v: Any) -> str:
    if v is None:
        return ""
    if isinstance(v, bool):
        return "yes" if v else "no"
    if isinstance(v, datetime):
        return v.date().isoformat() if v.time() == datetime.min.time() else v.isoformat()
    if isinstance(v, date):
        return v.isoformat()
    if isinstance(v, int):
        return str(v)
    if isinstance(v, float):  # a number cell: its shortest exact decimal, checked like any text
        return str(int(v)) if v.is_integer() and abs(v) < 1e15 else repr(v)
    if isinstance(v, Decimal):
        return format(v, "f")
    return str(v)


def _read_xlsx(path: Path, label: str) -> list[tuple[int, list[str]]]:
    from zipfile import BadZipFile

    import openpyxl

    try:
        wb = openpyxl.load_workbook(path, read_only=True, data_only=True)
    except (BadZipFile, OSError, KeyError, ValueError) as e:
        raise _refuse(label, f"not a readable .xlsx workbook: {e}") from None
    try:
        ws = wb.worksheets[0]
        return [
            (i, [_xlsx_cell(v) for v in values])
            for i, values in enumerate(ws.iter_rows(values_only=True), start=1)
        ]
    finally:
        wb.close()


def _table(label: str, cells: Iterable[tuple[int, list[str]]]) -> RawTable:
    rows = [(n, [c.strip() for c in r]) for n, r in cells]
    rows = [(n, r) for n, r in rows if any(r)]
    if not rows:
        raise _refuse(label, "the file is empty: expected a header row and data rows")
    header_row, header = rows[0]
    while header and not header[-1]:
        header.pop()
    seen: dict[str, int] = {}
    for i, name in enumerate(header):
        if not name:
            raise _refuse(label, f"header column {i + 1} has no name", header_row)
        if name in seen:
            raise _refuse(label, f"header names column {name!r} twice", header_row)
        seen[name] = i
    data: list[tuple[int, dict[str, str]]] = []
    problems: list[Problem] = []
    for n, r in rows[1:]:
        extra = [c for c in r[len(header) :] if c]
        if extra:
            problems.append(Problem(label, n, None, extra[0],
                                    f"the row has {len(r)} cells but the header only {len(header)}"))
            continue
        r = r + [""] * (len(header) - len(r))
        data.append((n, dict(zip(header, r, strict=False))))
    if problems:
        raise ImportRejected(label, problems)
    if not data:
        raise _refuse(label, "no data rows below the header", header_row)
    return RawTable(label, header, data, header_row)


# ---- row models -------------------------------------------------------------------------------


def _table_amount(value: Any, info: ValidationInfo) -> int:
    """A table cell: '-' or empty is 0; else an exact amount in the table's unit (suffix allowed)."""
    text = "" if value is None else str(value).strip()
    if text in ZERO_CELLS:
        return 0
    unit = (info.context or {}).get("unit", "元")
    try:
        return parse_amount(text, unit, allow_zero=True)
    except AmountError as e:
        raise ValueError(str(e)) from None


def _positive_amount(value: Any, info: ValidationInfo) -> int:
    unit = (info.context or {}).get("unit", "元")
    try:
        return parse_amount(str(value).strip(), unit)
    except AmountError as e:
        raise ValueError(str(e)) from None


def _flag(value: Any) -> bool:
    text = str(value).strip().lower()
    if text in TRUE_CELLS:
        return True
    if text in FALSE_CELLS:
        return False
    raise ValueError("expected yes/no (also true/false, 1/0, 是/否; empty means no)")


TableAmount = Annotated[int, BeforeValidator(_table_amount)]
PositiveAmount = Annotated[int, BeforeValidator(_positive_amount)]
Flag = Annotated[bool, BeforeValidator(_flag)]
Voucher = Annotated[str, Field(min_length=1, max_length=120)]


class Row(BaseModel):
    """A file row; field names are the column names (errors name the column the user sees)."""

    model_config = ConfigDict(extra="forbid", frozen=True, str_strip_whitespace=True)


class AllocationRow(Row):
    """One transfer of an edge-list table: ``from`` passes ``amounts[task]`` on to ``to``."""

    holder: Text
    to: Text
    amounts: dict[str, TableAmount]
    note: str | None = None


class ProjectRow(Row):
    """A project, and optionally one funding line of it (one row per line; repeat the project)."""

    project: Ident
    unit: Text
    name: Text
    category: Category
    date: EffectiveDate
    doc: Text | None = None
    indicator: Ident | None = None
    indicator_doc: Text | None = None
    indicator_task: Text | None = None
    amount: PositiveAmount | None = None


class PaymentRow(Row):
    """One payment (支付); the voucher is its natural key."""

    voucher: Voucher
    project: Ident
    indicator: Ident | None = None
    payee: Text
    payee_kind: PayeeKind = PayeeKind.ENTERPRISE
    amount: PositiveAmount
    date: EffectiveDate
    labour: Flag = False
    doc: Text | None = None


PROJECT_COLUMNS = {"required": ("project", "unit", "name", "category", "date"),
                   "optional": ("doc", "indicator", "indicator_doc", "indicator_task", "amount")}
PAYMENT_COLUMNS = {"required": ("voucher", "project", "payee", "amount", "date"),
                   "optional": ("indicator", "payee_kind", "labour", "doc")}

R = TypeVar("R", bound=Row)


def _why(err: Mapping[str, Any]) -> str:
    kind = err["type"]
    if kind == "missing":
        return "is empty; this column is required"
    if kind == "string_pattern_mismatch":
        return "must not contain spaces"
    if kind == "string_too_long":
        return err["msg"].replace("String", "the text")
    return str(err["msg"]).removeprefix("Value error, ")


def _validate(
    model: type[R], table: RawTable, n: int, raw: dict[str, str], data: dict[str, Any],
    columns: Mapping[str, str], context: dict[str, Any],
) -> tuple[R | None, list[Problem]]:
    """Validate one row; every bad cell becomes a Problem naming its column and raw value."""
    try:
        return model.model_validate(data, context=context), []
    except ValidationError as e:
        problems = []
        for err in e.errors():
            loc = [str(p) for p in err["loc"]]
            column = loc[1] if loc[:1] == ["amounts"] and len(loc) > 1 else (
                columns.get(loc[0], loc[0]) if loc else None
            )
            value = raw.get(column) if column else None
            problems.append(Problem(table.file, n, column, value or None, _why(err)))
        return None, problems


def _check_columns(table: RawTable, spec: Mapping[str, Sequence[str]]) -> None:
    required, optional = spec["required"], spec["optional"]
    missing = [c for c in required if c not in table.header]
    unknown = [c for c in table.header if c not in required and c not in optional]
    why = []
    if missing:
        why.append(f"missing column{'s' if len(missing) > 1 else ''} {', '.join(missing)}")
    if unknown:
        why.append(f"unknown column{'s' if len(unknown) > 1 else ''} {', '.join(unknown)}")
    if why:
        expected = ",".join([*required, *optional])
        raise _refuse(table.file, f"wrong header: {'; '.join(why)} (expected {expected})",
                      table.header_row)


def _simple_rows(
    model: type[R], table: RawTable, spec: Mapping[str, Sequence[str]], unit: str
) -> tuple[list[tuple[int, R]], list[Problem]]:
    _check_columns(table, spec)
    good: list[tuple[int, R]] = []
    problems: list[Problem] = []
    for n, raw in table.rows:
        data = {k: v for k, v in raw.items() if v != ""}
        row, bad = _validate(model, table, n, raw, data, {}, {"unit": unit})
        problems += bad
        if row is not None:
            good.append((n, row))
    return good, problems


# ---- applying ---------------------------------------------------------------------------------


@dataclass
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
class ImportResult:
    file: str
    kind: str
    rows: int
    applied: int
    skipped: int
    events: int
    ids: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {"file": self.file, "kind": self.kind, "rows": self.rows, "applied": self.applied,
                "skipped": self.skipped, "events": self.events, "ids": self.ids}


def _strip_option(message: str) -> str:
    """'--indicator: project …' → 'project …' (the row's column already says where)."""
    head, sep, rest = message.partition(": ")
    return rest if sep and head.startswith("--") else message


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
) -> ImportResult:
    """Apply every step to one Batch; commit only when no step and no earlier check failed."""
    blocked = set(failed or ())  # reported already (e.g. a holder whose numbers do not close)
    failed = set(blocked)
    problems = list(problems)
    ids: list[str] = []
    skipped = dependants = already = 0
    advance = progress("checking rows against the ledger", len(steps)) if progress else None
    with app.batch() as batch:
        for step in steps:
            if advance:
                advance(1)
            if step.ident in blocked:
                continue
            if step.needs is not None and step.needs in failed:
                dependants += 1
                if step.ident:
                    failed.add(step.ident)
                continue
            try:
                ids.append(step.run(batch))
            except _Skipped:
                skipped += 1
            except (InputError, inv.InvariantViolation) as e:
                if isinstance(e, AlreadyRecorded):
                    already += 1
                if step.ident:
                    failed.add(step.ident)
                problems.append(Problem(
                    file, step.row, step.column, step.value,
                    step.context + _strip_option(str(e)),
                    invariant=isinstance(e, inv.InvariantViolation),
                ))
        if problems:
            footer = None
            if already == len(problems) and already + dependants == len(steps) and already_summary:
                raise ImportRejected(file, [Problem(file, None, None, None, already_summary)],
                                     footer=f"{file}: nothing was written")
            if dependants:
                footer = (f"{file}: {_count(len(problems), 'problem')}; "
                          f"{_count(dependants, 'command')} depending on refused rows not checked; "
                          "nothing was written")
            raise ImportRejected(file, problems, footer)
        events = sum(len(a.pending_events) for a in batch.touched())
    return ImportResult(file, kind, rows, len(ids), skipped, events, ids)


# ---- allocation tables ------------------------------------------------------------------------


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


def _money(fen: int, unit: str) -> str:
    return f"{format_wan(fen)} 万元" if unit in ("万元", "万") else f"{format_yuan(fen)} 元"


def _rows_text(lines: Sequence[int]) -> str:
    shown = ", ".join(str(n) for n in lines[:8])
    return f"row{'s' if len(lines) > 1 else ''} {shown}{', …' if len(lines) > 8 else ''}"


def _topological(
    nodes: list[str], edges: list[tuple[int, str, str]]
) -> tuple[dict[str, int], list[list[tuple[int, str, str]]]]:
    """Rank holders parent-before-child (ties by first appearance); also return cycles found."""
    order = {n: i for i, n in enumerate(nodes)}
    out: dict[str, list[tuple[int, str, str]]] = defaultdict(list)
    indeg = dict.fromkeys(nodes, 0)
    for e in edges:
        out[e[1]].append(e)
        indeg[e[2]] += 1
    ready = sorted((n for n in nodes if indeg[n] == 0), key=order.__getitem__)
    rank: dict[str, int] = {}
    while ready:
        n = ready.pop(0)
        rank[n] = len(rank)
        for _, _, child in out[n]:
            indeg[child] -= 1
            if indeg[child] == 0:
                ready.append(child)
        ready.sort(key=order.__getitem__)
    cycles: list[list[tuple[int, str, str]]] = []
    # units below a cycle are unranked too: peel off those that lead to no cycle, so that every
    # walk below follows edges that stay among units on (or leading into) a cycle
    live = {n for n in nodes if n not in rank}
    peeled = True
    while peeled:
        dead = {n for n in live if not any(e[2] in live for e in out[n])}
        live -= dead
        peeled = bool(dead)
    left = [n for n in nodes if n in live]
    seen: set[str] = set()
    for start in left:
        if start in seen:
            continue
        path: list[tuple[int, str, str]] = []
        pos: dict[str, int] = {}
        n = start
        while n not in pos and n not in seen:
            pos[n] = len(path)
            nxt = next(e for e in out[n] if e[2] in live)
            path.append(nxt)
            n = nxt[2]
        seen.update(pos)
        if n in pos:
            cycles.append(path[pos[n] :])
    return rank, cycles


def plan_allocations(
    app: BudgetLedger, table: RawTable, opts: AllocationOptions
) -> tuple[list[Step], list[Problem], set[str], str]:
    """Validate an edge-list table and turn it into issue/forward steps (parents first)."""
    file = table.file
    lower = {h.lower(): h for h in table.header}
    missing = [c for c in ("from", "to") if c not in lower]
    tasks = [h for h in table.header if h.lower() not in ("from", "to", "note")]
    if missing or not tasks:
        why = f"missing column(s) {', '.join(missing)}" if missing else "no task column"
        raise _refuse(file, f"wrong header: {why} (expected from,to,<task>…[,note])",
                      table.header_row)

    # the command line: checked once, naming the option
    template = dict(doc=opts.doc, effective_date=opts.effective_date, year=opts.year,
                    source=opts.source, subject=opts.subject, tracking=opts.tracking,
                    direct=opts.direct, advance=opts.advance, issuer=opts.issuer, actor=opts.actor)
    build(IssueCommand, unit="-", task="-", amount=1, **template)
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

    # rows
    problems: list[Problem] = []
    rows: list[tuple[int, AllocationRow]] = []
    columns = {"holder": lower["from"], "to": lower["to"], "note": lower.get("note", "note")}
    first_of_pair: dict[tuple[str, str], int] = {}
    for n, raw in table.rows:
        data = {"holder": raw[lower["from"]], "to": raw[lower["to"]],
                "amounts": {t: raw[t] for t in tasks}, "note": raw.get(lower.get("note", ""))}
        data = {k: v for k, v in data.items() if v not in ("", None)}
        row, bad = _validate(AllocationRow, table, n, raw, data, columns, {"unit": opts.unit})
        problems += bad
        if row is None:
            continue
        if row.holder == row.to:
            problems.append(Problem(file, n, columns["to"], row.to,
                                    "a unit cannot forward to itself (a cycle of one)"))
            continue
        pair = (row.holder, row.to)
        if pair in first_of_pair:
            problems.append(Problem(file, n, columns["to"], row.to,
                                    f"duplicate row: {row.holder} → {row.to} is already on row "
                                    f"{first_of_pair[pair]}"))
            continue
        first_of_pair[pair] = n
        rows.append((n, row))
    if problems:
        raise ImportRejected(file, problems)

    # shape of the graph
    nodes = list(dict.fromkeys(u for _, r in rows for u in (r.holder, r.to)))
    edges = [(n, r.holder, r.to) for n, r in rows]
    rank, cycles = _topological(nodes, edges)
    if cycles:
        for cyc in cycles:
            chain = " → ".join([cyc[0][1], *(e[2] for e in cyc)])
            problems.append(Problem(file, cyc[0][0], lower["from"], cyc[0][1],
                                    f"cycle: {chain} ({_rows_text([e[0] for e in cyc])}); money "
                                    "cannot flow back to a unit it came from"))
        raise ImportRejected(file, problems)
    receivers = {r.to for _, r in rows}
    tops = [u for u in nodes if u not in receivers]

    # totals and closure, per holder and task, from the table alone
    incoming: dict[tuple[str, str], list[tuple[int, int, str]]] = defaultdict(list)
    outgoing: dict[tuple[str, str], list[tuple[int, int]]] = defaultdict(list)
    for n, r in rows:
        for t in tasks:
            if r.amounts.get(t, 0):
                incoming[(r.to, t)].append((n, r.amounts[t], r.holder))
                outgoing[(r.holder, t)].append((n, r.amounts[t]))
    for t, want in expected.items():
        got = sum(a for u in tops for _, a in outgoing[(u, t)])
        if got != want:
            diff = got - want
            problems.append(Problem(
                file, None, t, None,
                f"--expect-total: the rows from {', '.join(tops)} sum to {_money(got, opts.unit)}, "
                f"expected {_money(want, opts.unit)} ({'over' if diff > 0 else 'short'} by "
                f"{_money(abs(diff), opts.unit)})"))
    holder_indicator: dict[tuple[str, str], str] = {}
    blocked: set[str] = set()  # indicators not created because their holder's numbers fail
    for (holder, t), outs in outgoing.items():
        if holder in tops:
            holder_indicator[(holder, t)] = allocation_indicator_id(opts.doc, None, holder, t)
            continue
        ins = incoming[(holder, t)]
        if len(ins) > 1:
            problems.append(Problem(
                file, outs[0][0], t, None,
                f"{holder} receives {t} on {_rows_text([n for n, _, _ in ins])} and also forwards it; "
                "an edge-list table cannot say which of its indicators a forward draws on — split "
                "the table by document"))
            blocked.update(allocation_indicator_id(opts.doc, holder, r.to, t)
                           for n, r in rows if r.holder == holder)
            continue
        have = ins[0][1] if ins else 0
        running = 0
        for n, a in outs:
            running += a
            if running > have:
                total = sum(a for _, a in outs)
                src = f"receives {_money(have, opts.unit)} ({_rows_text([ins[0][0]])})" if ins else (
                    "receives nothing in this task")
                problems.append(Problem(
                    file, n, t, None,
                    f"holder {holder} forwards {_money(total, opts.unit)} in total "
                    f"({_rows_text([m for m, _ in outs])}) but {src}: over by "
                    f"{_money(total - have, opts.unit)} [{inv.AvailableWouldGoNegative.name}]",
                    invariant=True))
                blocked.update(allocation_indicator_id(opts.doc, holder, r.to, t)
                               for _, r in rows if r.holder == holder)
                break
        if ins:
            holder_indicator[(holder, t)] = allocation_indicator_id(opts.doc, ins[0][2], holder, t)

    # steps: roots, then rows in parent-before-child order (stable by row number)
    steps: list[Step] = []
    repo = app.repository

    def exists(ident: str, batch: Batch) -> bool:
        return ident in batch.indicators or Indicator.uuid_for(ident) in repo

    for top in tops:
        for t in tasks:
            total = sum(a for _, a in outgoing[(top, t)])
            if not total:
                continue
            ident = allocation_indicator_id(opts.doc, None, top, t)
            issue = build(IssueCommand, indicator_id=ident, unit=top, task=t, amount=total,
                          **template)
            steps.append(Step(None, t, None, f"root of {top}, {t}: ",
                              _issue_step(issue, exists, opts.skip_existing), ident))
    raw_cells = dict(table.rows)
    for n, r in sorted(rows, key=lambda nr: (rank[nr[1].holder], nr[0])):
        for t in tasks:
            cell = r.amounts.get(t, 0)
            parent = holder_indicator.get((r.holder, t))
            if not cell or parent is None:  # no indicator, or reported above (receives nothing)
                continue
            ident = allocation_indicator_id(opts.doc, r.holder, r.to, t)
            fwd = build(ForwardCommand, parent_id=parent, child_id=ident, unit=r.to, amount=cell,
                        doc=opts.doc, effective_date=opts.effective_date, actor=opts.actor)
            steps.append(Step(n, t, raw_cells[n][t], f"{r.holder} → {r.to}, {t}: ",
                              _forward_step(fwd, exists, opts, r.holder, t), ident, needs=parent))
    summary = (f"document {opts.doc} was already imported: every indicator this table creates "
               "exists (ids are derived from document + from + to + task). Use --skip-existing to "
               "import only rows that are new")
    return steps, problems, blocked, summary


def _issue_step(
    cmd: IssueCommand, exists: Callable[[str, Batch], bool], skip: bool
) -> Callable[[Batch], str]:
    def run(batch: Batch) -> str:
        assert cmd.indicator_id is not None
        if exists(cmd.indicator_id, batch):
            if skip:
                raise _Skipped
            raise AlreadyRecorded(f"already imported: root indicator {cmd.indicator_id} exists "
                                  f"(document {cmd.doc}); use --skip-existing to import only new "
                                  "rows")
        return batch.issue(cmd)

    return run


def _forward_step(
    cmd: ForwardCommand, exists: Callable[[str, Batch], bool], opts: AllocationOptions,
    holder: str, task: str,
) -> Callable[[Batch], str]:
    def run(batch: Batch) -> str:
        assert cmd.child_id is not None
        if exists(cmd.child_id, batch):
            if not opts.skip_existing:
                raise AlreadyRecorded(f"already imported: indicator {cmd.child_id} exists")
            old = batch.indicator(cmd.child_id)
            if old.received != cmd.amount or old.unit != cmd.unit:
                raise InputError(
                    f"indicator {cmd.child_id} was imported earlier with "
                    f"{_money(old.received, opts.unit)} for {old.unit}; the file now says "
                    f"{_money(cmd.amount, opts.unit)} — correct it with recover/forward, not a "
                    "re-import")
            raise _Skipped
        try:
            return batch.forward(cmd)
        except inv.AvailableWouldGoNegative as e:
            parent = batch.indicator(cmd.parent_id)
            short = cmd.amount - parent.available
            raise inv.AvailableWouldGoNegative(
                f"holder {holder}, task {task}: forwards {_money(cmd.amount, opts.unit)} but only "
                f"{_money(parent.available, opts.unit)} is left (short by "
                f"{_money(short, opts.unit)}); {e.args[0]}") from None

    return run


def import_allocations(
    app: BudgetLedger, table: RawTable, opts: AllocationOptions,
    progress: ProgressFactory | None = None,
) -> ImportResult:
    steps, problems, blocked, summary = plan_allocations(app, table, opts)
    return apply_steps(app, table.file, "allocations", len(table.rows), steps, problems,
                       failed=blocked, progress=progress, already_summary=summary)


# ---- projects ---------------------------------------------------------------------------------


class _ReadModel:
    """The SQL read models, caught up first: for look-ups the event store cannot answer by key."""

    def __init__(self, app: BudgetLedger) -> None:
        from projections.updater import Projector

        self.projector = Projector(app)
        self.projector.catch_up()

    def indicators(self, doc: str, unit: str, task: str) -> list[str]:
        from sqlalchemy import select

        from projections.tables import IndicatorRow

        q = select(IndicatorRow.indicator_id).where(
            IndicatorRow.doc == doc, IndicatorRow.unit == unit, IndicatorRow.task == task
        ).order_by(IndicatorRow.indicator_id)
        with self.projector.engine.connect() as conn:
            return list(conn.execute(q).scalars())

    def payments(self, vouchers: Sequence[str]) -> dict[str, tuple[str, str, int]]:
        from sqlalchemy import select

        from projections.tables import PaymentRow as Paid

        found: dict[str, tuple[str, str, int]] = {}
        with self.projector.engine.connect() as conn:
            for i in range(0, len(vouchers), 500):
                q = select(Paid.voucher, Paid.payment_id, Paid.project_id, Paid.amount).where(
                    Paid.voucher.in_(vouchers[i : i + 500]))
                for v, pid, prj, amount in conn.execute(q):
                    found.setdefault(v, (pid, prj, amount))
        return found

    def close(self) -> None:
        self.projector.engine.dispose()


def plan_projects(
    app: BudgetLedger, table: RawTable, *, unit: str = "元", skip_existing: bool = False,
    actor: str = "unknown",
) -> tuple[list[Step], list[Problem]]:
    file = table.file
    rows, problems = _simple_rows(ProjectRow, table, PROJECT_COLUMNS, unit)
    first: dict[str, tuple[int, ProjectRow]] = {}
    lines: dict[tuple[str, str], int] = {}
    good: list[tuple[int, ProjectRow]] = []
    for n, r in rows:
        if r.amount is None and (r.indicator or r.indicator_doc or r.indicator_task):
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

    # resolve doc + unit + task to an indicator (through the read model)
    resolved: dict[int, str] = {}
    wanted = [(n, r) for n, r in good if r.amount is not None and not r.indicator]
    if wanted:
        rm = _ReadModel(app)
        try:
            for n, r in wanted:
                assert r.indicator_doc and r.indicator_task
                found = rm.indicators(r.indicator_doc, r.unit, r.indicator_task)
                value = f"{r.indicator_doc} / {r.indicator_task}"
                if not found:
                    problems.append(Problem(
                        file, n, "indicator_doc", value,
                        f"no indicator of document {r.indicator_doc} for {r.unit} in task "
                        f"{r.indicator_task} [{inv.UnknownEntity.name}]", invariant=True))
                elif len(found) > 1:
                    problems.append(Problem(
                        file, n, "indicator_doc", value,
                        f"{len(found)} indicators match ({', '.join(found)}); name one in column "
                        "indicator"))
                else:
                    resolved[n] = found[0]
        finally:
            rm.close()
    for n, r in good:
        ind = r.indicator or resolved.get(n)
        if ind and r.amount is not None:
            if (r.project, ind) in lines:
                problems.append(Problem(file, n, "indicator", ind,
                                        f"duplicate funding line: project {r.project} is funded "
                                        f"from {ind} on row {lines[(r.project, ind)]} already "
                                        "(one row per source)"))
            lines[(r.project, ind)] = n

    steps: list[Step] = []
    registered: set[str] = set()
    repo = app.repository
    for n, r in sorted(good, key=lambda nr: (nr[1].date, nr[0])):
        if r.project not in registered:
            registered.add(r.project)
            cmd = build(AddProjectCommand, project_id=r.project, unit=r.unit, name=r.name,
                        category=r.category, effective_date=r.date, doc=r.doc, actor=actor)
            steps.append(Step(n, "project", r.project, "", _register_step(cmd, repo, skip_existing),
                              ident=r.project, date=r.date))
        ind = r.indicator or resolved.get(n)
        if r.amount is None or ind is None:
            continue
        acmd = build(AllocateCommand, indicator_id=ind, project_id=r.project, amount=r.amount,
                     effective_date=r.date, doc=r.doc, actor=actor)
        steps.append(Step(n, "amount", format_yuan(r.amount), f"{r.project} ← {ind}: ",
                          _allocate_step(acmd, skip_existing), needs=r.project, date=r.date))
    return steps, problems


def _register_step(cmd: AddProjectCommand, repo: Any, skip: bool) -> Callable[[Batch], str]:
    def run(batch: Batch) -> str:
        if cmd.project_id not in batch.projects and Project.uuid_for(cmd.project_id) in repo:
            if skip:
                raise _Skipped
            raise AlreadyRecorded(f"project {cmd.project_id} is already recorded")
        return batch.add_project(cmd)

    return run


def _allocate_step(cmd: AllocateCommand, skip: bool) -> Callable[[Batch], str]:
    def run(batch: Batch) -> str:
        if skip:
            prj = batch.project(cmd.project_id)
            new = bool(prj.pending_events) and isinstance(prj.pending_events[0], Project.Registered)
            if cmd.indicator_id in prj.lines and not new:
                raise _Skipped  # this funding line came with the project's earlier import
        return batch.allocate(cmd)

    return run


def import_projects(
    app: BudgetLedger, table: RawTable, *, unit: str = "元", skip_existing: bool = False,
    actor: str = "unknown", progress: ProgressFactory | None = None,
) -> ImportResult:
    steps, problems = plan_projects(app, table, unit=unit, skip_existing=skip_existing, actor=actor)
    summary = ("every project in this file is already recorded (a project id is its natural key). "
               "Use --skip-existing to import only projects that are new")
    return apply_steps(app, table.file, "projects", len(table.rows), steps, problems,
                       progress=progress, already_summary=summary)


# ---- payments ---------------------------------------------------------------------------------


def plan_payments(
    app: BudgetLedger, table: RawTable, *, unit: str = "元", skip_existing: bool = False,
    actor: str = "unknown",
) -> tuple[list[Step], list[Problem]]:
    file = table.file
    rows, problems = _simple_rows(PaymentRow, table, PAYMENT_COLUMNS, unit)
    first: dict[str, int] = {}
    good: list[tuple[int, PaymentRow]] = []
    for n, r in rows:
        if r.voucher in first:
            problems.append(Problem(file, n, "voucher", r.voucher,
                                    f"duplicate voucher: already on row {first[r.voucher]}"))
            continue
        first[r.voucher] = n
        good.append((n, r))
    rm = _ReadModel(app)
    try:
        recorded = rm.payments([r.voucher for _, r in good])
    finally:
        rm.close()
    steps: list[Step] = []
    for n, r in sorted(good, key=lambda nr: (nr[1].date, nr[0])):
        old = recorded.get(r.voucher)
        if old is not None:
            pid, prj, amount = old
            if not skip_existing:
                problems.append(Problem(file, n, "voucher", r.voucher,
                                        f"already recorded as payment {pid} (project {prj}); "
                                        "use --skip-existing to import only new vouchers"))
            elif prj != r.project or amount != r.amount:
                problems.append(Problem(file, n, "voucher", r.voucher,
                                        f"already recorded as payment {pid} of project {prj} for "
                                        f"{format_yuan(amount)} 元; this row says project "
                                        f"{r.project}, {format_yuan(r.amount)} 元"))
            else:
                steps.append(Step(n, "voucher", r.voucher, "", _skip_step, date=r.date))
            continue
        cmd = build(PayCommand, project_id=r.project, indicator_id=r.indicator, amount=r.amount,
                    effective_date=r.date, payee=r.payee, payee_kind=r.payee_kind,
                    voucher=r.voucher, labour=r.labour, doc=r.doc, actor=actor)
        steps.append(Step(n, "amount", format_yuan(r.amount), f"voucher {r.voucher}: ",
                          _pay_step(cmd), date=r.date))
    return steps, problems


def _skip_step(batch: Batch) -> str:
    raise _Skipped


def _pay_step(cmd: PayCommand) -> Callable[[Batch], str]:
    return lambda batch: batch.pay(cmd)


def import_payments(
    app: BudgetLedger, table: RawTable, *, unit: str = "元", skip_existing: bool = False,
    actor: str = "unknown", progress: ProgressFactory | None = None,
) -> ImportResult:
    steps, problems = plan_payments(app, table, unit=unit, skip_existing=skip_existing, actor=actor)
    already = sum(1 for p in problems if p.why.startswith("already recorded as payment"))
    summary = None
    if already and already == len(problems) and not steps:
        summary = ("every voucher in this file is already recorded (a voucher is a payment's natural "
                   "key). Use --skip-existing to import only new vouchers")
        raise ImportRejected(table.file, [Problem(table.file, None, None, None, summary)],
                             footer=f"{table.file}: nothing was written")
    return apply_steps(app, table.file, "payments", len(table.rows), steps, problems,
                       progress=progress)
