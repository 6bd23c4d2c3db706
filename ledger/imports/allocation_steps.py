"""The two commands an allocation row becomes — issue (a root) and forward — with the
"already imported?" check by deterministic id, and what ``--skip-existing`` accepts as the same row.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from ledger import invariants as inv
from ledger.application import BudgetLedger
from ledger.batch import Batch
from ledger.commands import ForwardCommand, IssueCommand
from ledger.imports.lookups import indicator_exists
from ledger.imports.problems import AlreadyRecorded, RowError, Skipped
from ledger.indicator import Indicator
from ledger.money import format_wan, format_yuan

if TYPE_CHECKING:
    from ledger.imports.allocations import AllocationOptions

#: the terms an existing indicator must share with the row to count as the same row
TERMS = ("year", "source", "subject", "tracking", "direct", "advance")


def money(fen: int, unit: str) -> str:
    """An amount in the table's unit, for messages."""
    return f"{format_wan(fen)} 万元" if unit in ("万元", "万") else f"{format_yuan(fen)} 元"


def _shown(value: object) -> str:
    if isinstance(value, bool):
        return "yes" if value else "no"
    return "none" if value is None else str(value)


def differences(old: Indicator, opts: AllocationOptions, unit: str, amount: int) -> list[str]:
    """What an existing indicator (same natural key) says that the command line / row does not."""
    diffs = []
    if old.unit != unit:
        diffs.append(f"unit {old.unit} → {unit}")
    if old.received != amount:
        diffs.append(f"amount {money(old.received, opts.unit)} → {money(amount, opts.unit)}")
    for term in TERMS:
        was, now = getattr(old.terms, term), getattr(opts, term)
        if was != now:
            diffs.append(f"{term} {_shown(was)} → {_shown(now)}")
    return diffs


def _check_new(app: BudgetLedger, batch: Batch, ident: str, opts: AllocationOptions, unit: str,
               amount: int, what: str, already: str) -> None:
    """Pass when ``ident`` is not in the ledger yet. Else refuse it (AlreadyRecorded), or under
    --skip-existing skip it when it was imported with the same content, refusing it when not."""
    if not indicator_exists(app, batch, ident):
        return
    if not opts.skip_existing:
        raise AlreadyRecorded(already)
    diffs = differences(batch.indicator(ident), opts, unit, amount)
    if diffs:
        raise RowError(
            f"{what} {ident} was imported earlier with other terms ({'; '.join(diffs)}) — "
            "--skip-existing only skips identical rows; correct the ledger with recover/forward "
            "(or import the table under its own document), not a re-import")
    raise Skipped


def issue_step(app: BudgetLedger, cmd: IssueCommand,
               opts: AllocationOptions) -> Callable[[Batch], str]:
    def run(batch: Batch) -> str:
        ident = cmd.indicator_id
        assert ident is not None
        _check_new(app, batch, ident, opts, cmd.unit, cmd.amount, "root indicator",
                   f"already imported: root indicator {ident} exists (document {cmd.doc}); use "
                   "--skip-existing to import only new rows")
        return batch.issue(cmd)

    return run


def forward_step(app: BudgetLedger, cmd: ForwardCommand, opts: AllocationOptions, holder: str,
                 task: str) -> Callable[[Batch], str]:
    def run(batch: Batch) -> str:
        ident = cmd.child_id
        assert ident is not None
        _check_new(app, batch, ident, opts, cmd.unit, cmd.amount, "indicator",
                   f"already imported: indicator {ident} exists")
        try:
            return batch.forward(cmd)
        except inv.AvailableWouldGoNegative as e:
            parent = batch.indicator(cmd.parent_id)
            short = cmd.amount - parent.available
            raise inv.AvailableWouldGoNegative(
                f"holder {holder}, task {task}: forwards {money(cmd.amount, opts.unit)} but only "
                f"{money(parent.available, opts.unit)} is left (short by "
                f"{money(short, opts.unit)}); {e.args[0]}") from None

    return run
