"""``import payments``: one payment per row; the voucher is the natural key (unique in the file, and
within its project in the ledger — the write side's rule). Rows are validated as they are read
(never held as cells and models at once) and applied in date order (stable)."""

from __future__ import annotations

from collections.abc import Callable

from ledger.application import Batch, BudgetLedger
from ledger.commands import PayCommand, build
from ledger.imports.apply import ImportResult, ProgressFactory, Step, apply_steps
from ledger.imports.problems import AlreadyRecorded, Problem, RowError, Skipped
from ledger.imports.reading import RawTable
from ledger.imports.rows import PAYMENT_COLUMNS, PaymentRow, simple_rows
from ledger.money import format_yuan

ALREADY = ("every voucher in this file is already recorded (a voucher is a payment's natural key). "
           "Use --skip-existing to import only new vouchers")


def plan_payments(
    app: BudgetLedger, table: RawTable, *, unit: str = "元", skip_existing: bool = False,
    actor: str = "unknown",
) -> tuple[list[Step], list[Problem]]:
    file = table.file
    problems: list[Problem] = []
    first: dict[str, int] = {}
    steps: list[Step] = []
    for n, r in simple_rows(PaymentRow, table, PAYMENT_COLUMNS, unit, problems):
        if r.voucher in first:
            problems.append(Problem(file, n, "voucher", r.voucher,
                                    f"duplicate voucher: already on row {first[r.voucher]}"))
            continue
        first[r.voucher] = n
        cmd = build(PayCommand, project_id=r.project, indicator_id=r.indicator, amount=r.amount,
                    effective_date=r.date, payee=r.payee, payee_kind=r.payee_kind,
                    voucher=r.voucher, labour=r.labour, doc=r.doc, actor=actor)
        steps.append(Step(n, "amount", format_yuan(r.amount), f"voucher {r.voucher}: ",
                          _pay_step(cmd, skip_existing), date=r.date))
    steps.sort(key=lambda s: (s.date, s.row))
    return steps, problems


def _pay_step(cmd: PayCommand, skip: bool) -> Callable[[Batch], str]:
    def run(batch: Batch) -> str:
        assert cmd.voucher is not None
        prj = batch.project(cmd.project_id)
        pid = prj.vouchers.get(cmd.voucher)
        if pid is None:
            return batch.pay(cmd)
        if not skip:
            raise AlreadyRecorded(f"already recorded as payment {pid} (project {prj.project_id}); "
                                  "use --skip-existing to import only new vouchers",
                                  column="voucher", value=cmd.voucher)
        old = prj.payments[pid].amount
        if old != cmd.amount:
            raise RowError(f"already recorded as payment {pid} of project {prj.project_id} for "
                           f"{format_yuan(old)} 元; this row says project {cmd.project_id}, "
                           f"{format_yuan(cmd.amount)} 元", column="voucher", value=cmd.voucher)
        raise Skipped

    return run


def import_payments(
    app: BudgetLedger, table: RawTable, *, unit: str = "元", skip_existing: bool = False,
    actor: str = "unknown", progress: ProgressFactory | None = None,
) -> ImportResult:
    steps, problems = plan_payments(app, table, unit=unit, skip_existing=skip_existing, actor=actor)
    result = apply_steps(app, table.file, "payments", table.count, steps, problems,
                         progress=progress, already_summary=ALREADY)
    result.notes = list(table.notes)
    return result
