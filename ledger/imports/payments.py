"""``import payments``: one payment per row; the voucher is the natural key (unique in the file, and
within its project in the ledger — the write side's rule). Rows are validated as they are read
(never held as cells and models at once) and applied in date order (stable)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any, TypeVar

from ledger.application import BudgetLedger
from ledger.batch import Batch
from ledger.commands import PayCommand, build
from ledger.imports.apply import ImportResult, ProgressFactory, Step, apply_streamed
from ledger.imports.problems import AlreadyRecorded, Problem, RowError, Skipped
from ledger.imports.reading import RawTable
from ledger.imports.rows import PAYMENT_COLUMNS, PaymentRow, simple_rows
from ledger.money import format_yuan
from ledger.project import PayeeKind

T = TypeVar("T")

ALREADY = ("every voucher in this file is already recorded (a voucher is a payment's natural key). "
           "Use --skip-existing to import only new vouchers")


@dataclass(frozen=True, slots=True)
class _Payment:
    """A validated row, compact until it is applied: a 100k-row file is held once, as these (a
    pydantic model per row would hold its fields three times over). Its :class:`Step` is built
    only when it is applied, and the texts rows repeat (project, payee, indicator, doc) and the
    dates are shared, so a row costs its voucher, its amount and ~100 bytes (``_Shared``)."""

    row: int
    voucher: str
    project: str
    indicator: str | None
    payee: str
    payee_kind: PayeeKind
    amount: int
    date: date
    labour: bool
    doc: str | None

    def step(self, actor: str, skip: bool) -> Step:
        return Step(self.row, "amount", format_yuan(self.amount), f"voucher {self.voucher}: ",
                    lambda batch: self.apply(batch, actor, skip), date=self.date)

    def apply(self, batch: Batch, actor: str, skip: bool) -> str:
        prj = batch.project(self.project)
        pid = prj.payments.paid_by_voucher(self.voucher)
        if pid is None:
            return batch.pay(build(
                PayCommand, project_id=self.project, indicator_id=self.indicator,
                amount=self.amount, effective_date=self.date, payee=self.payee,
                payee_kind=self.payee_kind, voucher=self.voucher, labour=self.labour,
                doc=self.doc, actor=actor))
        if not skip:
            raise AlreadyRecorded(f"already recorded as payment {pid} (project {prj.project_id}); "
                                  "use --skip-existing to import only new vouchers",
                                  column="voucher", value=self.voucher)
        old = prj.payments[pid].amount
        if old != self.amount:
            raise RowError(f"already recorded as payment {pid} of project {prj.project_id} for "
                           f"{format_yuan(old)} 元; this row says project {self.project}, "
                           f"{format_yuan(self.amount)} 元", column="voucher", value=self.voucher)
        raise Skipped


class _Shared(dict[Any, Any]):
    """One object per distinct text or date of the file (a 100k-row file names a few thousand
    projects and payees: without this each row held its own copies)."""

    def __call__(self, value: T) -> T:
        return self.setdefault(value, value)  # type: ignore[no-any-return]


def plan_payments(
    app: BudgetLedger, table: RawTable, *, unit: str = "元", skip_existing: bool = False,
    actor: str = "unknown",
) -> tuple[list[_Payment], list[Problem]]:
    """One compact row per payment, validated as the file is read, sorted by date (stable)."""
    file = table.file
    problems: list[Problem] = []
    first: dict[str, int] = {}
    plan: list[_Payment] = []
    same = _Shared()
    build(PayCommand, project_id="-", amount=1, effective_date="2025-01-01", payee="-",
          actor=actor)  # the command line's part (actor), checked once
    for n, r in simple_rows(PaymentRow, table, PAYMENT_COLUMNS, unit, problems):
        if r.voucher in first:
            problems.append(Problem(file, n, "voucher", r.voucher,
                                    f"duplicate voucher: already on row {first[r.voucher]}"))
            continue
        first[r.voucher] = n
        plan.append(_Payment(n, r.voucher, same(r.project), r.indicator and same(r.indicator),
                             same(r.payee), r.payee_kind, r.amount, same(r.date), r.labour,
                             r.doc and same(r.doc)))
    plan.sort(key=lambda p: (p.date, p.row))
    return plan, problems


def import_payments(
    app: BudgetLedger, table: RawTable, *, unit: str = "元", skip_existing: bool = False,
    actor: str = "unknown", progress: ProgressFactory | None = None,
) -> ImportResult:
    plan, problems = plan_payments(app, table, unit=unit, skip_existing=skip_existing, actor=actor)
    ends = {p.project: i for i, p in enumerate(plan)}  # a project's last row
    result = apply_streamed(
        app, table.file, "payments", table.count, (p.step(actor, skip_existing) for p in plan),
        problems, count=len(plan), ends={i: project for project, i in ends.items()},
        progress=progress, already_summary=ALREADY, preload=lambda b: b.preload(ends))
    result.notes = list(table.notes)
    return result
