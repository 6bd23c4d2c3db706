"""The ledger cannot be driven into a false state: a hypothesis state machine, property-tested.

Random programs of issue / forward / project add / allocate / pay / progress-report / recover /
deallocate / reverse / rename commands — valid ones and refused ones (over-amounts, unknown ids,
tracking-flag and task changes, duplicate ids and vouchers, double reversals, backdated dates,
the wrong holder) — run against the real :class:`BudgetLedger` on a fresh SQLite store per
example. A small model kept here says only which commands must be refused, and by which named
invariant, and what the balances must be.

After every step the checks in :meth:`LedgerMachine.ledger_invariants` run on the read models
(after ``Projector.catch_up``), on the aggregates the step touched and on a replica folded event
by event from position 0; at the end of each program the whole log is replayed in one go, every
aggregate is compared, ``--as-of`` replays are compared with the state recorded at each date, and
the same program is run again on a second fresh store (determinism).

Programs' dates never go backwards (a backdated command is one the ledger must refuse), so the
state after the last step of a date is exactly what ``--as-of`` that date must show.
"""

from __future__ import annotations

import random
import shutil
import tempfile
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

from hypothesis import event
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, precondition, rule
from sqlalchemy import select

from ledger import invariants as inv
from ledger.application import BudgetLedger
from ledger.commands import (
    AddProjectCommand,
    AllocateCommand,
    Command,
    DeallocateCommand,
    ForwardCommand,
    IssueCommand,
    PayCommand,
    ProgressCommand,
    RecoverCommand,
    RenameProjectCommand,
    ReverseCommand,
    build,
)
from ledger.errors import InputError, LedgerError
from ledger.project import Category, PayeeKind
from ledger.subjects import SubjectNotRefinement, is_below
from projections import journal as jn
from projections import lineage
from projections.db import engine_for, scratch_engine
from projections.journal import View
from projections.tables import Position
from projections.updater import Projector, ensure_schema
from projections.writer import JournalWriter
from tests.reference import first_difference as books_difference
from tests.reference import journal_books, reference_books
from tests.strategies import Dump, dump, first_difference

START = date(2025, 1, 1)
UNITS = ("西藏自治区", "拉萨市", "城关区", "林周县")
TASKS = ("巩固拓展脱贫攻坚成果和乡村振兴任务", "少数民族发展任务", "以工代赈任务")
SOURCES = ("central", "provincial", "prefecture", "county")
UNKNOWN = "NO-SUCH-ID"
TERMS = ("year", "task", "source", "subject", "tracking", "direct", "advance")
BALANCES = ("received", "forwarded", "allocated", "paid", "recovered", "available")

Outcome = type[LedgerError] | None  # the error class the ledger must raise, or None: accepted

AMOUNT = st.integers(min_value=1, max_value=200_000)  # 分: small, so boundaries are hit often
AS_OF_CHECKS = 4  # --as-of replays per program, at dates spread over it
REFERENCE_EVERY = 10  # steps between per-step comparisons with the (slow) reference fold
DAYS = st.one_of(st.just(0), st.integers(min_value=1, max_value=4))


# ---- the independent model: just enough to say what must be refused and what balances are -------


def lowest_from(moves: list[tuple[date, int]], day: date) -> int:
    """The lowest end-of-day balance on ``day`` or later, by brute force over every such day."""
    days = {day} | {d for d, _ in moves if d > day}
    return min(sum(delta for d, delta in moves if d <= end) for end in days)


@dataclass
class MIndicator:
    ident: str
    unit: str
    parent: str | None
    root: str
    terms: dict[str, Any]
    received: int
    last: date
    forwarded: int = 0
    allocated: int = 0
    recovered: int = 0
    moves: list[tuple[date, int]] = field(default_factory=list)  # (date, change of available)

    @property
    def created(self) -> date:
        return self.moves[0][0]

    @property
    def available(self) -> int:
        return self.received - self.forwarded - self.allocated - self.recovered


@dataclass
class MLine:
    allocated: int = 0
    paid: int = 0
    moves: list[tuple[date, int]] = field(default_factory=list)  # (date, change of unpaid)


@dataclass
class MPayment:
    indicator: str
    amount: int
    day: date
    reversed: bool = False


@dataclass
class MProject:
    ident: str
    unit: str
    name: str
    last: date
    lines: dict[str, MLine] = field(default_factory=dict)
    payments: dict[str, MPayment] = field(default_factory=dict)
    vouchers: set[str] = field(default_factory=set)
    percent: str | None = None
    created: date = START
    name_key: tuple[date, int] = (date.min, 0)  # the latest-dated rename wins (then the later one)
    percent_key: tuple[date, int] = (date.min, 0)


class Model:
    """Mirrors the order in which the application checks, so the expected error class is exact."""

    def __init__(self) -> None:
        self.ind: dict[str, MIndicator] = {}
        self.prj: dict[str, MProject] = {}
        self.seq = 0  # commands applied, to order same-day renames and progress reports

    def expect(self, method: str, cmd: Any) -> Outcome:
        return getattr(self, "expect_" + method)(cmd)  # type: ignore[no-any-return]

    def expect_issue(self, cmd: IssueCommand) -> Outcome:
        return inv.DuplicateId if cmd.indicator_id in self.ind else None

    def expect_forward(self, cmd: ForwardCommand) -> Outcome:
        parent = self.ind.get(cmd.parent_id)
        if parent is None:
            return inv.UnknownEntity
        if cmd.child_id in self.ind:
            return inv.DuplicateId
        terms = cmd.expected_terms()
        if "tracking" in terms and terms["tracking"] != parent.terms["tracking"]:
            return inv.TrackingFlagChanged
        if any(parent.terms[k] != v for k, v in terms.items() if k != "tracking"):
            return inv.InheritanceMismatch
        if cmd.subject is not None and cmd.subject != parent.terms["subject"] and (
                parent.terms["subject"] is None or not is_below(cmd.subject, parent.terms["subject"])):
            return SubjectNotRefinement
        if cmd.effective_date < parent.created:
            return inv.EntryBeforeItsEntity
        if cmd.amount > lowest_from(parent.moves, cmd.effective_date):
            return inv.AvailableWouldGoNegative
        return None

    def expect_add_project(self, cmd: AddProjectCommand) -> Outcome:
        return inv.DuplicateId if cmd.project_id in self.prj else None

    def expect_allocate(self, cmd: AllocateCommand) -> Outcome:
        ind, prj = self.ind.get(cmd.indicator_id), self.prj.get(cmd.project_id)
        if ind is None or prj is None:
            return inv.UnknownEntity
        if ind.unit != prj.unit:
            return inv.WrongHolder
        if cmd.effective_date < prj.created or cmd.effective_date < ind.created:
            return inv.EntryBeforeItsEntity
        if cmd.amount > lowest_from(ind.moves, cmd.effective_date):
            return inv.AvailableWouldGoNegative
        return None

    def expect_deallocate(self, cmd: DeallocateCommand) -> Outcome:
        ind, prj = self.ind.get(cmd.indicator_id), self.prj.get(cmd.project_id)
        if ind is None or prj is None:
            return inv.UnknownEntity
        if cmd.effective_date < ind.created:
            return inv.EntryBeforeItsEntity
        if cmd.indicator_id not in prj.lines:
            return inv.UnknownEntity
        if cmd.effective_date < prj.created:
            return inv.EntryBeforeItsEntity
        if cmd.amount > lowest_from(prj.lines[cmd.indicator_id].moves, cmd.effective_date):
            return inv.PaymentExceedsFunding
        return None

    def expect_pay(self, cmd: PayCommand) -> Outcome:
        prj = self.prj.get(cmd.project_id)
        if prj is None:
            return inv.UnknownEntity
        indicator = cmd.indicator_id
        if indicator is None:
            if not prj.lines:
                return inv.UnknownEntity
            if len(prj.lines) > 1:
                return InputError
            indicator = next(iter(prj.lines))
        if cmd.effective_date < prj.created:
            return inv.EntryBeforeItsEntity
        line = prj.lines.get(indicator)
        if line is None:
            return inv.UnknownEntity
        if cmd.amount > lowest_from(line.moves, cmd.effective_date):
            return inv.PaymentExceedsFunding
        if cmd.voucher and cmd.voucher in prj.vouchers:
            return inv.DuplicateId
        return None

    def expect_reverse(self, cmd: ReverseCommand) -> Outcome:
        project_id, sep, seq = cmd.payment_id.rpartition(":P")
        if not sep or not seq.isdigit():
            return inv.UnknownEntity
        prj = self.prj.get(project_id)
        if prj is None or cmd.payment_id not in prj.payments:
            return inv.UnknownEntity
        if prj.payments[cmd.payment_id].reversed:
            return inv.PaymentAlreadyReversed
        if cmd.effective_date < prj.payments[cmd.payment_id].day:
            return inv.EntryBeforeItsEntity
        return None

    def expect_report_progress(self, cmd: ProgressCommand) -> Outcome:
        prj = self.prj.get(cmd.project_id)
        if prj is None:
            return inv.UnknownEntity
        return inv.EntryBeforeItsEntity if cmd.effective_date < prj.created else None

    expect_rename_project = expect_report_progress

    def expect_recover(self, cmd: RecoverCommand) -> Outcome:
        ind = self.ind.get(cmd.indicator_id)
        if ind is None:
            return inv.UnknownEntity
        if cmd.effective_date < ind.created:
            return inv.EntryBeforeItsEntity
        if cmd.amount > lowest_from(ind.moves, cmd.effective_date):
            return inv.AvailableWouldGoNegative
        return None

    # ---- applying an accepted command ------------------------------------------------------

    def apply(self, method: str, cmd: Any, result: str) -> None:
        d = cmd.effective_date
        self.seq += 1
        if method == "issue":
            terms = {k: getattr(cmd, k) for k in TERMS}
            self.ind[result] = MIndicator(result, cmd.unit, None, result, terms, cmd.amount, d,
                                          moves=[(d, cmd.amount)])
        elif method == "forward":
            parent = self.ind[cmd.parent_id]
            parent.forwarded += cmd.amount
            parent.moves.append((d, -cmd.amount))
            parent.last = max(parent.last, d)
            terms = dict(parent.terms)
            if cmd.subject is not None:  # a 项级 refinement (checked by expect_forward)
                terms["subject"] = cmd.subject
            self.ind[result] = MIndicator(result, cmd.unit, parent.ident, parent.root,
                                          terms, cmd.amount, d, moves=[(d, cmd.amount)])
        elif method == "add_project":
            self.prj[result] = MProject(result, cmd.unit, cmd.name, d, created=d)
        elif method in ("allocate", "deallocate"):
            sign = 1 if method == "allocate" else -1
            ind, prj = self.ind[cmd.indicator_id], self.prj[cmd.project_id]
            ind.allocated += sign * cmd.amount
            ind.moves.append((d, -sign * cmd.amount))
            line = prj.lines.setdefault(ind.ident, MLine())
            line.allocated += sign * cmd.amount
            line.moves.append((d, sign * cmd.amount))
            ind.last, prj.last = max(ind.last, d), max(prj.last, d)
        elif method == "pay":
            prj = self.prj[cmd.project_id]
            indicator = cmd.indicator_id or next(iter(prj.lines))
            expected_id = f"{prj.ident}:P{len(prj.payments) + 1}"
            assert result == expected_id, f"payment id {result!r}, expected {expected_id!r}"
            prj.payments[result] = MPayment(indicator, cmd.amount, d)
            prj.lines[indicator].paid += cmd.amount
            prj.lines[indicator].moves.append((d, -cmd.amount))
            if cmd.voucher:
                prj.vouchers.add(cmd.voucher)
            prj.last = max(prj.last, d)
        elif method == "reverse":
            prj = self.prj[cmd.payment_id.rpartition(":P")[0]]
            payment = prj.payments[cmd.payment_id]
            payment.reversed = True
            prj.lines[payment.indicator].paid -= payment.amount
            prj.lines[payment.indicator].moves.append((d, payment.amount))
            prj.last = max(prj.last, d)
        elif method == "report_progress":
            prj = self.prj[cmd.project_id]
            if (d, self.seq) >= prj.percent_key:
                prj.percent, prj.percent_key = str(cmd.percent), (d, self.seq)
            prj.last = max(prj.last, d)
        elif method == "rename_project":
            prj = self.prj[cmd.project_id]
            if (d, self.seq) >= prj.name_key:
                prj.name, prj.name_key = cmd.new_name, (d, self.seq)
            prj.last = max(prj.last, d)
        elif method == "recover" and cmd.to == "pool":  # 同级统筹: a child of the same unit
            ind = self.ind[cmd.indicator_id]
            ind.forwarded += cmd.amount
            ind.moves.append((d, -cmd.amount))
            ind.last = max(ind.last, d)
            self.ind[result] = MIndicator(result, ind.unit, ind.ident, ind.root, dict(ind.terms),
                                          cmd.amount, d, moves=[(d, cmd.amount)])
        elif method == "recover":
            ind = self.ind[cmd.indicator_id]
            ind.recovered += cmd.amount
            ind.moves.append((d, -cmd.amount))
            ind.last = max(ind.last, d)
            if ind.parent:
                parent = self.ind[ind.parent]
                parent.forwarded -= cmd.amount
                parent.moves.append((d, cmd.amount))
                parent.last = max(parent.last, d)
        else:  # pragma: no cover - a rule the model does not know is a test bug
            raise AssertionError(f"model has no rule for {method}")

    def paid_from(self, indicator: str) -> int:
        return sum(p.lines[indicator].paid for p in self.prj.values() if indicator in p.lines)


def touched_by(method: str, cmd: Any, model: Model) -> tuple[set[str], set[str]]:
    """(indicator ids, project ids) whose aggregates a command may have changed."""
    inds: set[str] = set()
    prjs: set[str] = set()
    for attr, bucket in (("indicator_id", inds), ("parent_id", inds), ("child_id", inds),
                         ("project_id", prjs)):
        value = getattr(cmd, attr, None)
        if value:
            bucket.add(value)
    if method == "reverse":
        prjs.add(cmd.payment_id.rpartition(":P")[0])
    if method == "recover" and cmd.to == "pool" and cmd.pool_id:
        inds.add(cmd.pool_id)
    elif method == "recover" and cmd.indicator_id in model.ind:
        parent = model.ind[cmd.indicator_id].parent
        if parent:
            inds.add(parent)
    return inds & set(model.ind), prjs & set(model.prj)


def run_program(app: BudgetLedger, program: list[tuple[str, Command]]) -> None:
    """Replay a recorded program of commands (refusals included) on another ledger."""
    for method, cmd in program:
        try:
            getattr(app, method)(cmd)
        except (inv.InvariantViolation, InputError):
            pass


# ---- the state machine ------------------------------------------------------------------------


class LedgerMachine(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.tmp = tempfile.mkdtemp(prefix="bl-stateful-")
        self.app = BudgetLedger.open(f"sqlite:///{self.tmp}/ledger.db")
        self.live = engine_for(self.app.config)
        self.projector = Projector(self.app, self.live)
        # a replica folded from position 0, one event per apply (the live side applies per step)
        self.replica = scratch_engine()
        ensure_schema(self.replica)
        self.replica_position = 0
        self.writer = JournalWriter()
        self.model = Model()
        self.program: list[tuple[str, Command]] = []
        self.today = START
        self.next_id = 0
        self.snapshots: dict[date, Any] = {}  # the live books after each step's day
        self.moments: list[tuple[datetime, date, Any]] = []  # (known-at, today, live books)
        self.current: dict[str, list[Any]] = {}
        self.prev_dump: Dump | None = None
        self.prev_count = 0
        self.refused = False  # this step's commands were all refused
        self.accepted = False  # some command of this step was accepted
        self.touched: tuple[set[str], set[str]] = (set(), set())
        self.clean = False  # True once the last step's checks all passed

    # ---- helpers ---------------------------------------------------------------------------

    def fresh(self, prefix: str) -> str:
        self.next_id += 1
        return f"{prefix}{self.next_id}"

    def tick(self, days: int) -> date:
        self.today += timedelta(days=days)
        return self.today

    def submit(self, method: str, model_cls: type[Command], **fields: Any) -> None:
        """Build, predict, run; the outcome must be exactly what the model predicts."""
        self.clean = False
        cmd = build(model_cls, **fields)
        expected = self.model.expect(method, cmd)
        inds, prjs = touched_by(method, cmd, self.model)
        self.touched = (self.touched[0] | inds, self.touched[1] | prjs)
        event(f"{method}: {expected.__name__ if expected else 'accepted'}")  # --hypothesis-show-statistics
        before = self.app.last_position()
        self.program.append((method, cmd))
        try:
            result = getattr(self.app, method)(cmd)
        except (inv.InvariantViolation, InputError) as e:
            assert expected is not None, f"{method} refused, but the model accepts it: {e}"
            assert type(e) is expected, (
                f"{method} refused with {type(e).__name__}, expected {expected.__name__}: {e}"
            )
            assert self.app.last_position() == before, f"refused {method} wrote events"
            self.refused = not self.accepted
            return
        assert expected is None, f"{method} accepted, but must be refused by {expected.__name__}"
        assert self.app.last_position() > before, f"accepted {method} wrote no event"
        self.refused, self.accepted = False, True
        self.model.apply(method, cmd, result)

    def pick(self, data: st.DataObject, pool: list[str], label: str) -> str:
        return data.draw(st.sampled_from(sorted(pool)), label=label) if pool else UNKNOWN

    def before(self, d: date) -> date | None:
        """A date before ``d`` that the program may use for a backdated attempt."""
        return d - timedelta(days=1) if d > START else None

    # ---- rules -----------------------------------------------------------------------------

    @initialize(amount=AMOUNT, tracking=st.booleans(), share=st.integers(1, 100),
                category=st.sampled_from(list(Category)))
    def opening(self, amount: int, tracking: bool, share: int, category: Category) -> None:
        """A region's root indicator and a first project funded from it, so that payments,
        releases and reversals are possible from the first step."""
        root, project = self.fresh("I"), self.fresh("P")
        self.submit("issue", IssueCommand, indicator_id=root, unit=UNITS[0], amount=amount,
                    doc="藏财农〔2025〕1号", effective_date=self.today, year=2025, task=TASKS[0],
                    source="central", tracking=tracking)
        self.submit("add_project", AddProjectCommand, project_id=project, unit=UNITS[0],
                    name="首个项目", category=category, effective_date=self.today)
        self.submit("allocate", AllocateCommand, indicator_id=root, project_id=project,
                    amount=max(1, amount * share // 100), effective_date=self.today)

    @rule(data=st.data(), days=DAYS, amount=AMOUNT, duplicate=st.booleans())
    def issue(self, data: st.DataObject, days: int, amount: int, duplicate: bool) -> None:
        ident = self.pick(data, list(self.model.ind), "id") if duplicate else self.fresh("I")
        self.submit(
            "issue", IssueCommand, indicator_id=ident, amount=amount,
            unit=data.draw(st.sampled_from(UNITS), label="unit"), doc="D-ISSUE",
            effective_date=self.tick(days), year=data.draw(st.sampled_from([2024, 2025])),
            task=data.draw(st.sampled_from(TASKS), label="task"),
            source=data.draw(st.sampled_from(SOURCES), label="source"),
            subject=data.draw(st.sampled_from([None, "21305", "2130504", "2130505"]), label="subject"),
            tracking=data.draw(st.booleans(), label="tracking"),
            direct=data.draw(st.booleans(), label="direct"),
            advance=data.draw(st.booleans(), label="advance"),
        )

    @rule(data=st.data(), days=DAYS, variant=st.sampled_from(
        ["ok", "ok", "ok", "terms", "over", "unknown", "duplicate", "tracking", "task", "backdated",
         "refine", "not-a-child"]))
    def forward(self, data: st.DataObject, days: int, variant: str) -> None:
        today = self.tick(days)
        funded = [i for i, m in self.model.ind.items() if m.available > 0]
        parent_id = UNKNOWN if variant == "unknown" else self.pick(
            data, funded if variant in ("ok", "terms") and funded else list(self.model.ind), "parent")
        parent = self.model.ind.get(parent_id)
        available = parent.available if parent else 0
        if variant == "over":
            amount = available + data.draw(AMOUNT, label="excess")
        else:
            amount = data.draw(st.integers(1, max(1, available)), label="amount")
        fields: dict[str, Any] = dict(
            parent_id=parent_id, unit=data.draw(st.sampled_from(UNITS), label="unit"),
            amount=amount, doc="D-FWD", effective_date=today,
            child_id=self.pick(data, list(self.model.ind), "child") if variant == "duplicate"
            else self.fresh("I"),
        )
        if parent and variant == "terms":  # restating the parent's own terms is fine
            fields.update({k: parent.terms[k] for k in ("year", "task", "source", "tracking")})
        if parent and variant == "tracking":
            fields["tracking"] = not parent.terms["tracking"]
        if parent and variant == "task":
            fields["task"] = next(t for t in TASKS if t != parent.terms["task"])
        if parent and variant == "backdated" and self.before(parent.last):
            fields["effective_date"] = self.before(parent.last)
        if parent and variant == "refine":  # 21305 → 2130501; a 项级 subject stays itself
            subject = parent.terms["subject"]
            fields["subject"] = (subject + "01" if subject and len(subject) == 5
                                 else subject or "2130501")
        if variant == "not-a-child":
            fields["subject"] = "2130601"  # never below 21305 / 2130504 / 2130505
        self.submit("forward", ForwardCommand, **fields)

    @rule(data=st.data(), days=DAYS, duplicate=st.booleans())
    def add_project(self, data: st.DataObject, days: int, duplicate: bool) -> None:
        today = self.tick(days)
        ident = self.pick(data, list(self.model.prj), "id") if duplicate else self.fresh("P")
        units = sorted({i.unit for i in self.model.ind.values()}) or list(UNITS)
        self.submit("add_project", AddProjectCommand, project_id=ident, name=f"项目{ident}",
                    unit=data.draw(st.sampled_from(units), label="unit"),
                    category=data.draw(st.sampled_from(list(Category)), label="category"),
                    effective_date=today)

    @precondition(lambda self: self.model.prj)
    @rule(data=st.data(), days=DAYS, variant=st.sampled_from(
        ["ok", "ok", "ok", "over", "wrong-holder", "unknown-indicator", "unknown-project",
         "backdated"]))
    def allocate(self, data: st.DataObject, days: int, variant: str) -> None:
        today = self.tick(days)
        funded_units = {m.unit for m in self.model.ind.values() if m.available > 0}
        fundable = [p for p, m in self.model.prj.items() if m.unit in funded_units]
        project_id = UNKNOWN if variant == "unknown-project" else self.pick(
            data, fundable or list(self.model.prj), "project")
        prj = self.model.prj.get(project_id)
        same = [i for i, m in self.model.ind.items()
                if prj and m.unit == prj.unit and (m.available > 0 or variant != "ok")]
        other = [i for i, m in self.model.ind.items() if not prj or m.unit != prj.unit]
        if variant == "unknown-indicator":
            indicator_id = UNKNOWN
        elif variant == "wrong-holder" and other:
            indicator_id = self.pick(data, other, "indicator")
        else:
            indicator_id = self.pick(data, same or other, "indicator")
        ind = self.model.ind.get(indicator_id)
        available = ind.available if ind else 0
        amount = (available + data.draw(AMOUNT, label="excess") if variant == "over"
                  else data.draw(st.integers(1, max(1, available)), label="amount"))
        when = today
        if variant == "backdated":
            lasts = [x.last for x in (ind, prj) if x is not None]
            when = (self.before(max(lasts)) if lasts else None) or today
        self.submit("allocate", AllocateCommand, indicator_id=indicator_id, project_id=project_id,
                    amount=amount, effective_date=when)

    def _line(self, data: st.DataObject, unpaid_only: bool) -> tuple[str, str, int]:
        """(project, indicator, unpaid) of an existing funding line, or unknowns."""
        lines = [(p, i, ln.allocated - ln.paid) for p, m in self.model.prj.items()
                 for i, ln in m.lines.items() if ln.allocated - ln.paid > 0 or not unpaid_only]
        if not lines:
            return (self.pick(data, list(self.model.prj), "project"), UNKNOWN, 0)
        return data.draw(st.sampled_from(sorted(lines)), label="line")

    @precondition(lambda self: any(m.lines for m in self.model.prj.values()))
    @rule(data=st.data(), days=DAYS, variant=st.sampled_from(
        ["ok", "ok", "over", "no-line", "backdated"]))
    def deallocate(self, data: st.DataObject, days: int, variant: str) -> None:
        today = self.tick(days)
        project_id, indicator_id, unpaid = self._line(data, unpaid_only=variant != "over")
        if variant == "no-line":
            indicator_id = self.pick(data, list(self.model.ind), "indicator")
        amount = (unpaid + data.draw(AMOUNT, label="excess") if variant == "over"
                  else data.draw(st.integers(1, max(1, unpaid)), label="amount"))
        when = today
        if variant == "backdated":
            lasts = [x.last for x in (self.model.ind.get(indicator_id),
                                      self.model.prj.get(project_id)) if x is not None]
            when = (self.before(max(lasts)) if lasts else None) or today
        self.submit("deallocate", DeallocateCommand, indicator_id=indicator_id,
                    project_id=project_id, amount=amount, effective_date=when, reason="调整")

    @precondition(lambda self: any(m.lines for m in self.model.prj.values()))
    @rule(data=st.data(), days=DAYS, variant=st.sampled_from(
        ["ok", "ok", "ok", "implicit-line", "over", "duplicate-voucher", "no-line",
         "unknown-project", "backdated"]))
    def pay(self, data: st.DataObject, days: int, variant: str) -> None:
        today = self.tick(days)
        project_id, indicator_id, unpaid = self._line(data, unpaid_only=variant != "over")
        indicator: str | None = indicator_id
        if variant == "unknown-project":
            project_id = UNKNOWN
        if variant == "no-line":
            indicator = self.pick(data, list(self.model.ind), "indicator")
            if indicator in self.model.prj[project_id].lines:
                indicator = UNKNOWN
        if variant == "implicit-line":
            indicator = None
        amount = (unpaid + data.draw(AMOUNT, label="excess") if variant == "over"
                  else data.draw(st.integers(1, max(1, unpaid)), label="amount"))
        prj = self.model.prj.get(project_id)
        voucher = data.draw(st.sampled_from([None, self.fresh("V")]), label="voucher")
        if variant == "duplicate-voucher" and prj and prj.vouchers:
            voucher = self.pick(data, list(prj.vouchers), "voucher")
        when = (self.before(prj.last) if prj and variant == "backdated" else None) or today
        self.submit("pay", PayCommand, project_id=project_id, indicator_id=indicator,
                    amount=amount, effective_date=when, payee="某合作社",
                    payee_kind=data.draw(st.sampled_from(list(PayeeKind)), label="payee_kind"),
                    labour=data.draw(st.booleans(), label="labour"), voucher=voucher)

    @precondition(lambda self: any(m.payments for m in self.model.prj.values()))
    @rule(data=st.data(), days=DAYS, variant=st.sampled_from(
        ["ok", "ok", "again", "unknown", "malformed", "backdated"]))
    def reverse(self, data: st.DataObject, days: int, variant: str) -> None:
        today = self.tick(days)
        payments = {pid: (p, pay) for p in self.model.prj.values() for pid, pay in p.payments.items()}
        live = [pid for pid, (_p, pay) in payments.items() if not pay.reversed]
        done = [pid for pid, (_p, pay) in payments.items() if pay.reversed]
        if variant == "again" and done:
            payment_id = self.pick(data, done, "payment")
        elif variant == "unknown":
            payment_id = f"{self.pick(data, list(self.model.prj), 'project')}:P999"
        elif variant == "malformed":
            payment_id = data.draw(st.sampled_from(["P1", "P1:X2", ":P", "P1:P"]), label="payment")
        else:
            payment_id = self.pick(data, live or list(payments), "payment")
        prj = payments[payment_id][0] if payment_id in payments else None
        when = (self.before(prj.last) if prj and variant == "backdated" else None) or today
        self.submit("reverse", ReverseCommand, payment_id=payment_id, effective_date=when,
                    reason="错付冲正")

    @precondition(lambda self: self.model.prj)
    @rule(data=st.data(), days=DAYS, variant=st.sampled_from(["ok", "ok", "unknown", "backdated"]),
          percent=st.decimals(min_value=0, max_value=100, places=2))
    def report_progress(self, data: st.DataObject, days: int, variant: str, percent: Any) -> None:
        today = self.tick(days)
        project_id = UNKNOWN if variant == "unknown" else self.pick(
            data, list(self.model.prj), "project")
        prj = self.model.prj.get(project_id)
        when = (self.before(prj.last) if prj and variant == "backdated" else None) or today
        self.submit("report_progress", ProgressCommand, project_id=project_id,
                    percent=str(percent), effective_date=when)

    @precondition(lambda self: self.model.prj)
    @rule(data=st.data(), days=DAYS, variant=st.sampled_from(["ok", "unknown", "backdated"]))
    def rename_project(self, data: st.DataObject, days: int, variant: str) -> None:
        today = self.tick(days)
        project_id = UNKNOWN if variant == "unknown" else self.pick(
            data, list(self.model.prj), "project")
        prj = self.model.prj.get(project_id)
        when = (self.before(prj.last) if prj and variant == "backdated" else None) or today
        self.submit("rename_project", RenameProjectCommand, project_id=project_id,
                    new_name=f"改名{self.fresh('N')}", doc="D-RENAME", effective_date=when)

    @rule(data=st.data(), days=DAYS, variant=st.sampled_from(
        ["ok", "ok", "ok", "over", "unknown", "backdated"]), pool=st.booleans())
    def recover(self, data: st.DataObject, days: int, variant: str, pool: bool) -> None:
        today = self.tick(days)
        indicator_id = UNKNOWN if variant == "unknown" else self.pick(
            data, list(self.model.ind), "indicator")
        ind = self.model.ind.get(indicator_id)
        available = ind.available if ind else 0
        amount = (available + data.draw(AMOUNT, label="excess") if variant == "over"
                  else data.draw(st.integers(1, max(1, available)), label="amount"))
        when = today
        if ind and variant == "backdated":
            parent = self.model.ind.get(ind.parent or "")
            latest = max(ind.last, parent.last if parent else ind.last)
            when = self.before(latest) or today
        where: dict[str, Any] = {"to": "pool", "pool_id": self.fresh("I")} if pool else {}
        self.submit("recover", RecoverCommand, indicator_id=indicator_id, amount=amount,
                    doc="D-RECOVER", effective_date=when, reason="结余收回", **where)

    @rule(field=st.sampled_from(["zero", "float", "three-decimals", "exponent", "date"]))
    def bad_input(self, field: str) -> None:
        """Refused before any aggregate is loaded: build() names the option, nothing runs."""
        self.clean = False
        fields: dict[str, Any] = dict(indicator_id=UNKNOWN, amount="1.00", doc="D",
                                      effective_date=self.today.isoformat(), reason="r")
        bad = {"zero": ("amount", 0), "float": ("amount", 1.5), "three-decimals": ("amount", "1.234"),
               "exponent": ("amount", "1e3"), "date": ("effective_date", "2025-02-30")}[field]
        fields[bad[0]] = bad[1]
        try:
            build(RecoverCommand, **fields)
        except InputError as e:
            assert RecoverCommand.OPTIONS.get(bad[0], "--" + bad[0]) in str(e)
        else:
            raise AssertionError(f"build accepted a bad {bad[0]}: {bad[1]!r}")
        self.refused = not self.accepted

    # ---- the invariants, after every step ----------------------------------------------------

    @invariant()
    def ledger_invariants(self) -> None:
        self.clean = False
        self.projector.catch_up()
        count = self.app.last_position()
        with self.live.connect() as conn:
            live = dump(conn)
            position = conn.execute(select(Position.position)).scalar_one()
        assert position == count, f"read models at position {position}, log at {count}"
        if self.refused:
            assert count == self.prev_count, "a refused command changed the event count"
            assert live == self.prev_dump, (
                "a refused command changed the read models: "
                + first_difference(live, self.prev_dump or {})
            )
        self.prev_dump, self.prev_count = live, count
        with self.live.connect() as conn:
            self.current = {"indicators": jn.indicators(conn, jn.LIVE),
                            "projects": jn.projects(conn, jn.LIVE),
                            "lines": jn.lines(conn, jn.LIVE), "payments": jn.payments(conn, jn.LIVE)}
        rows = {r.indicator_id: r for r in self._rows("indicators")}
        self.check_model(rows)
        self.check_conservation(rows)
        self.check_inheritance(rows)
        self.check_payments_trace_to_roots(rows, self.touched[1])
        self.check_aggregates(rows, *self.touched)
        self.check_replica(count, live)
        books = journal_books(self.live, jn.LIVE)
        self.snapshots[self.today] = books
        self.moments.append((datetime.now(UTC), self.today, books))
        self.check_an_earlier_view()
        self.refused = self.accepted = False
        self.touched = (set(), set())
        self.clean = True

    def check_an_earlier_view(self) -> None:
        """After every step, one earlier (as-of, known-at) pair, drawn from the steps so far:
        the journal shows the books recorded then; every few steps, both clocks at once before
        that step's day also equal the reference fold over the filtered log."""
        steps = len(self.moments)
        moment, day, books = self.moments[random.Random(steps).randrange(steps)]
        for view in (View(known_at=moment), View(as_of=day, known_at=moment)):
            got = journal_books(self.live, view)
            assert got == books, f"{view} after step {steps}: " + books_difference(got, books)
        if steps % REFERENCE_EVERY == 0:
            earlier = day - timedelta(days=2)
            got = journal_books(self.live, View(as_of=earlier, known_at=moment))
            want = reference_books(self.app, as_of=earlier, known_at=moment)
            assert got == want, f"--as-of {earlier} --known-at {moment}: " + books_difference(got, want)
            check_view_invariants(got, f"--as-of {earlier} --known-at {moment}")

    def _rows(self, kind: str) -> list[Any]:
        """Indicators, projects, funding lines or payments with their balances, as of this step."""
        return self.current[kind]

    def check_model(self, rows: dict[str, Any]) -> None:
        """Balances and ids in the read models equal the model's."""
        assert set(rows) == set(self.model.ind), "indicator ids differ from the model's"
        for ident, m in self.model.ind.items():
            r = rows[ident]
            want = (m.received, m.forwarded, m.allocated, self.model.paid_from(ident), m.recovered,
                    m.available)
            got = tuple(getattr(r, b) for b in BALANCES)
            assert got == want, f"indicator {ident} balances {dict(zip(BALANCES, got, strict=True))}, model {dict(zip(BALANCES, want, strict=True))}"
            assert (r.parent_id, r.root_id, r.unit) == (m.parent, m.root, m.unit), f"indicator {ident} lineage"
        projects = {r.project_id: r for r in self._rows("projects")}
        assert set(projects) == set(self.model.prj), "project ids differ from the model's"
        lines = {(r.project_id, r.indicator_id): r for r in self._rows("lines")}
        want_lines = {(p, i): (ln.allocated, ln.paid) for p, m in self.model.prj.items()
                      for i, ln in m.lines.items()}
        assert {k: (r.allocated, r.paid) for k, r in lines.items()} == want_lines, "funding lines"
        payments = {r.payment_id: (r.indicator_id, r.amount, r.reversed) for r in self._rows("payments")}
        want_payments = {pid: (pay.indicator, pay.amount, pay.reversed)
                         for m in self.model.prj.values() for pid, pay in m.payments.items()}
        assert payments == want_payments, "payments"
        for pid, m in self.model.prj.items():
            assert (projects[pid].name, projects[pid].percent) == (m.name, m.percent), f"project {pid}"

    def check_conservation(self, rows: dict[str, Any]) -> None:
        """At every indicator and across every root's tree; nothing below zero anywhere."""
        lines = self._rows("lines")
        payments = self._rows("payments")
        projects = self._rows("projects")
        children: dict[str, list[Any]] = {}
        for r in rows.values():
            for b in BALANCES:
                assert getattr(r, b) >= 0, f"indicator {r.indicator_id}: {b} = {getattr(r, b)} < 0"
            assert r.received == r.forwarded + r.allocated + r.recovered + r.available, (
                f"indicator {r.indicator_id} does not conserve: received {r.received} ≠ forwarded "
                f"{r.forwarded} + allocated {r.allocated} + recovered {r.recovered} + available "
                f"{r.available}"
            )
            if r.parent_id:
                children.setdefault(r.parent_id, []).append(r)
        for r in rows.values():
            net = sum(c.received - c.recovered for c in children.get(r.indicator_id, []))
            assert r.forwarded == net, f"indicator {r.indicator_id}: forwarded {r.forwarded}, children hold {net}"
            mine = [ln for ln in lines if ln.indicator_id == r.indicator_id]
            assert r.allocated == sum(ln.allocated for ln in mine), f"indicator {r.indicator_id} allocated ≠ its lines"
            assert r.paid == sum(ln.paid for ln in mine), f"indicator {r.indicator_id} paid ≠ its lines"
        for ln in lines:
            assert 0 <= ln.paid <= ln.allocated, f"line {ln.project_id}<-{ln.indicator_id}: paid {ln.paid} of {ln.allocated}"
        for p in projects:
            mine = [ln for ln in lines if ln.project_id == p.project_id]
            assert (p.allocated, p.paid) == (sum(x.allocated for x in mine), sum(x.paid for x in mine)), (
                f"project {p.project_id} totals ≠ its lines")
        for root in (r for r in rows.values() if r.parent_id is None):
            tree = {i for i, r in rows.items() if r.root_id == root.indicator_id}
            available = sum(rows[i].available for i in tree)
            unpaid = sum(ln.allocated - ln.paid for ln in lines if ln.indicator_id in tree)
            paid = sum(p.amount for p in payments if p.indicator_id in tree and not p.reversed)
            assert root.received == available + unpaid + paid + root.recovered, (
                f"tree of {root.indicator_id}: issued {root.received} ≠ available {available} + "
                f"unpaid allocations {unpaid} + paid {paid} + returned {root.recovered}"
            )

    def check_inheritance(self, rows: dict[str, Any]) -> None:
        for r in rows.values():
            root = rows[r.root_id]
            for term in TERMS:
                if term == "subject" and r.subject != root.subject:  # refined to 项级 below it
                    assert root.subject and is_below(r.subject, root.subject), (
                        f"indicator {r.indicator_id}: subject {r.subject}, root {root.subject}")
                    continue
                assert getattr(r, term) == getattr(root, term), (
                    f"indicator {r.indicator_id}: {term} {getattr(r, term)!r}, root "
                    f"{root.indicator_id} has {getattr(root, term)!r}")
            if r.parent_id:
                assert rows[r.parent_id].root_id == r.root_id, f"indicator {r.indicator_id} root"

    def check_payments_trace_to_roots(self, rows: dict[str, Any], traced: set[str] | None) -> None:
        """Every payment's chain up ends at an issued root: walked here along parent_id for every
        payment, and through ``trace --up`` (projections.lineage) for payments of the projects in
        ``traced`` (None: all) — a chain never changes once its payment exists."""
        for p in self._rows("payments"):
            walk = [p.indicator_id]
            while rows[walk[-1]].parent_id is not None:
                walk.append(rows[walk[-1]].parent_id)
                assert len(walk) <= len(rows), f"cycle above indicator {p.indicator_id}"
            assert walk[-1] == rows[p.indicator_id].root_id, f"payment {p.payment_id} ends at {walk}"
            if traced is None or p.project_id in traced:
                hops = lineage.trace_up(self.live, p.payment_id)
                chain = [h["id"] for h in hops if h["kind"] == "indicator"]
                roots = [h["id"] for h in hops if h.get("root")]
                assert (chain, roots) == (walk, [walk[-1]]), (
                    f"trace --up {p.payment_id}: {chain} with roots {roots}; parents say {walk}")

    def check_aggregates(self, rows: dict[str, Any], inds: set[str], prjs: set[str]) -> None:
        """The aggregates a step touched agree with the read models and the model."""
        for ident in inds:
            agg = self.app.get_indicator(ident)
            r = rows[ident]
            got = (agg.received, agg.forwarded, agg.allocated, agg.recovered, agg.available)
            want = (r.received, r.forwarded, r.allocated, r.recovered, r.available)
            assert got == want, f"aggregate {ident} balances {got}, read model {want}"
            assert agg.available >= 0, f"aggregate {ident} available {agg.available} < 0"
            assert agg.last_date == self.model.ind[ident].last, f"aggregate {ident} last date"
        for ident in prjs:
            agg = self.app.get_project(ident)
            m = self.model.prj[ident]
            assert {i: (ln.allocated, ln.paid) for i, ln in agg.lines.items()} == {
                i: (ln.allocated, ln.paid) for i, ln in m.lines.items()}, f"aggregate {ident} lines"
            assert {k: (p.amount, p.reversed) for k, p in agg.payments.items()} == {
                k: (p.amount, p.reversed) for k, p in m.payments.items()}, f"aggregate {ident} payments"
            assert agg.last_date == m.last, f"aggregate {ident} last date"

    def check_replica(self, count: int, live: Dump) -> None:
        """Fold the new events one at a time into the replica built from position 0."""
        notes = self.projector.read(self.replica_position, max(1, count - self.replica_position))
        with self.replica.begin() as conn:
            for n in notes:
                self.writer.apply(conn, [n])
                self.replica_position = n.id
            replica = dump(conn)
        assert replica == live, "replay from 0 ≠ live read models: " + first_difference(replica, live)

    # ---- at the end of every program -------------------------------------------------------

    def teardown(self) -> None:
        try:
            if self.clean:
                self.final_checks()
        finally:
            self.app.close()
            self.live.dispose()
            self.replica.dispose()
            shutil.rmtree(self.tmp, ignore_errors=True)

    def final_checks(self) -> None:
        live = self.prev_dump or {}
        count = self.prev_count
        # the whole log rebuilt in one transaction from position 0
        full = scratch_engine()
        try:
            Projector(self.app, full).rebuild()
            with full.connect() as conn:
                assert dump(conn) == live, "full rebuild ≠ live: " + first_difference(dump(conn), live)
                assert conn.execute(select(Position.position)).scalar_one() == count
        finally:
            full.dispose()
        # every aggregate, not just the touched ones
        rows = {r.indicator_id: r for r in self._rows("indicators")}
        self.check_aggregates(rows, set(self.model.ind), set(self.model.prj))
        self.check_payments_trace_to_roots(rows, None)
        # --as-of an earlier date shows what the books showed after that date's last step, and
        # --known-at an earlier moment what they showed then; both equal the reference fold
        # (back-dated entries recorded later may change an as-of view of an earlier day, so the
        # books recorded after a step are the view as of that day *as known then*)
        for day in spread(sorted(self.snapshots), AS_OF_CHECKS):
            got = journal_books(self.live, View(as_of=day))
            want = reference_books(self.app, as_of=day)
            assert got == want, f"--as-of {day} ≠ reference fold: " + books_difference(got, want)
            check_view_invariants(got, f"--as-of {day}")
        for moment, day, books in spread(self.moments, AS_OF_CHECKS):
            got = journal_books(self.live, View(known_at=moment))
            assert got == books, f"--known-at {moment} ≠ the books then: " + books_difference(got, books)
            got = journal_books(self.live, View(as_of=day, known_at=moment))
            assert got == books, f"--as-of {day} --known-at {moment}: " + books_difference(got, books)
            earlier = day - timedelta(days=3)  # both clocks at once, before that step's day
            got = journal_books(self.live, View(as_of=earlier, known_at=moment))
            want = reference_books(self.app, as_of=earlier, known_at=moment)
            assert got == want, f"--as-of {earlier} --known-at {moment}: " + books_difference(got, want)
            check_view_invariants(got, f"--as-of {earlier} --known-at {moment}")
        # the same program on a second fresh store gives the same books
        other_dir = tempfile.mkdtemp(prefix="bl-stateful-twin-")
        twin = BudgetLedger.open(f"sqlite:///{other_dir}/ledger.db")
        engine = engine_for(twin.config)
        try:
            run_program(twin, self.program)
            Projector(twin, engine).catch_up()
            a = dump(engine, ignore_recorded_at=True)
            b = dump(self.live, ignore_recorded_at=True)
            assert a == b, "same program, different books: " + first_difference(a, b)
        finally:
            twin.close()
            engine.dispose()
            shutil.rmtree(other_dir, ignore_errors=True)


def check_view_invariants(books: Any, where: str) -> None:
    """Every as-of view is a state the ledger may be in: nothing negative, lines within funding."""
    for ident, (_u, _p, received, forwarded, allocated, recovered, paid, available) in books["indicators"].items():
        assert available >= 0, f"{where}: indicator {ident} available {available} < 0"
        assert min(received, forwarded, allocated, recovered, paid) >= 0, f"{where}: indicator {ident}"
    for key, (allocated, paid) in books["lines"].items():
        assert 0 <= paid <= allocated, f"{where}: line {key} paid {paid} of {allocated}"


def spread(items: list[Any], n: int) -> list[Any]:
    """Up to ``n`` items evenly spaced from first to last."""
    if len(items) <= n:
        return items
    return [items[round(i * (len(items) - 1) / (n - 1))] for i in range(n)]


TestLedgerStateMachine = LedgerMachine.TestCase
