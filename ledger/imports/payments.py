"""``import payments``: one payment per row; the voucher is the natural key (unique in the file, and
within its project in the ledger — the write side's rule). Rows are validated as they are read
(never held as cells and models at once) and applied in date order (stable)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from ledger.application import BudgetLedger
from ledger.batch import Batch
from ledger.commands import PayCommand, build
from ledger.imports.apply import ImportResult, ProgressFactory, Step, apply_streamed
from ledger.imports.problems import AlreadyRecorded, Problem, RowError, Skipped
from ledger.imports.reading import RawTable
from ledger.imports.rows import PAYMENT_COLUMNS, PaymentRow, simple_rows
from ledger.money import format_yuan
from ledger.project import PayeeKind

ALREADY = ("every voucher in this file is already recorded (a voucher is a payment's natural key). "
           "Use --skip-existing to import only new vouchers")


@dataclass(frozen=True, slots=True)
class _Payment:
    """A validated row, compact until it is applied: a 100k-row file is held once, as these (a
    pydantic model per row would hold its fields three times over)."""

    voucher: str
    project: str
    indicator: str | None
    payee: str
    payee_kind: PayeeKind
    amount: int
    date: date
    labour: bool
    doc: str | None
    actor: str
    skip: bool

    @classmethod
    def of(cls, r: PaymentRow, actor: str, skip: bool) -> _Payment:
        return cls(r.voucher, r.project, r.indicator, r.payee, r.payee_kind, r.amount, r.date,
                   r.labour, r.doc, actor, skip)

    def __call__(self, batch: Batch) -> str:
        prj = batch.project(self.project)
        pid = prj.vouchers.get(self.voucher)
        if pid is None:
            return batch.pay(build(
                PayCommand, project_id=self.project, indicator_id=self.indicator,
                amount=self.amount, effective_date=self.date, payee=self.payee,
                payee_kind=self.payee_kind, voucher=self.voucher, labour=self.labour,
                doc=self.doc, actor=self.actor))
        if not self.skip:
            raise AlreadyRecorded(f"already recorded as payment {pid} (project {prj.project_id}); "
                                  "use --skip-existing to import only new vouchers",
                                  column="voucher", value=self.voucher)
        old = prj.payments[pid].amount
        if old != self.amount:
            raise RowError(f"already recorded as payment {pid} of project {prj.project_id} for "
                           f"{format_yuan(old)} 元; this row says project {self.project}, "
                           f"{format_yuan(self.amount)} 元", column="voucher", value=self.voucher)
        raise Skipped


def plan_payments(
    app: BudgetLedger, table: RawTable, *, unit: str = "元", skip_existing: bool = False,
    actor: str = "unknown",
) -> tuple[list[Step], list[Problem]]:
    """One step per row, validated as the file is read, sorted by date (stable)."""
    file = table.file
    problems: list[Problem] = []
    first: dict[str, int] = {}
    steps: list[Step] = []
    build(PayCommand, project_id="-", amount=1, effective_date="2025-01-01", payee="-",
          actor=actor)  # the command line's part (actor), checked once
    for n, r in simple_rows(PaymentRow, table, PAYMENT_COLUMNS, unit, problems):
        if r.voucher in first:
            problems.append(Problem(file, n, "voucher", r.voucher,
                                    f"duplicate voucher: already on row {first[r.voucher]}"))
            continue
        first[r.voucher] = n
        steps.append(Step(n, "amount", format_yuan(r.amount), f"voucher {r.voucher}: ",
                          _Payment.of(r, actor, skip_existing), date=r.date))
    steps.sort(key=lambda s: (s.date, s.row))
    return steps, problems


def import_payments(
    app: BudgetLedger, table: RawTable, *, unit: str = "元", skip_existing: bool = False,
    actor: str = "unknown", progress: ProgressFactory | None = None,
) -> ImportResult:
    steps, problems = plan_payments(app, table, unit=unit, skip_existing=skip_existing, actor=actor)
    projects = {s.run.project for s in steps if isinstance(s.run, _Payment)}
    result = apply_streamed(app, table.file, "payments", table.count, steps, problems,
                            owner=_project_of, progress=progress, already_summary=ALREADY,
                            preload=lambda b: b.preload(projects))
    result.notes = list(table.notes)
    return result


def _project_of(step: Step) -> str:
    assert isinstance(step.run, _Payment)
    return step.run.project
