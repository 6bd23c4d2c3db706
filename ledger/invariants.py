"""Every ledger invariant, named and checked in one place.

Each check raises a subclass of :class:`InvariantViolation` *before* any event is triggered,
so a refused command leaves every aggregate — and the store — untouched (exit code 3).
The ``name`` of each class is stable: tests, docs and error messages use it.
"""

from __future__ import annotations

from datetime import date
from typing import TYPE_CHECKING

from ledger.errors import LedgerError
from ledger.money import MAX_ENTRY_FEN, format_yuan

if TYPE_CHECKING:
    from ledger.indicator import Indicator
    from ledger.project import Project


class InvariantViolation(LedgerError):
    """The request would put the ledger in a false state; nothing was written."""

    exit_code = 3
    name = "invariant"

    def __str__(self) -> str:
        return f"[{self.name}] {super().__str__()}"


class AvailableWouldGoNegative(InvariantViolation):
    """An indicator never passes on, allocates or returns more than it holds and has not passed on."""

    name = "available-non-negative"


class PaymentExceedsFunding(InvariantViolation):
    """A project never pays (or releases) more than its unpaid funding from that indicator."""

    name = "payment-within-funding-line"


class InheritanceMismatch(InvariantViolation):
    """A child indicator carries its parent's task, year, source, subject and flags, unchanged."""

    name = "child-inherits-parent"


class TrackingFlagChanged(InvariantViolation):
    """The tracking flag (追踪) is set at the root only and never dropped or added below it."""

    name = "tracking-flag-unchanged"


class NonPositiveAmount(InvariantViolation):
    """Amounts are positive integers of 分, at most ``MAX_ENTRY_FEN`` (1 万亿元) per entry."""

    name = "positive-exact-amount"


class DuplicateId(InvariantViolation):
    """Ids of indicators, projects and payments are unique; vouchers are unique within a project."""

    name = "unique-ids"


class UnknownEntity(InvariantViolation):
    """A command refers to an indicator, project, payment or funding line that does not exist."""

    name = "entity-exists"


class PaymentAlreadyReversed(InvariantViolation):
    """A reversal reverses one payment, once."""

    name = "reverse-once"


class WrongHolder(InvariantViolation):
    """A project is funded only from indicators held by its own implementing unit."""

    name = "project-funded-by-own-unit"


class EntryBeforeItsEntity(InvariantViolation):
    """An entry is never dated before the indicator, project or payment it is about existed.

    Back-dated entries are otherwise accepted (the views are bitemporal); the balance checks
    then look at the entry's own day and every later one, so every as-of view still satisfies
    every invariant."""

    name = "dated-after-its-entity"


class RenameWithoutDocument(InvariantViolation):
    """A project's name changes only by an event carrying the approving document."""

    name = "rename-needs-document"


ALL_INVARIANTS: tuple[type[InvariantViolation], ...] = (
    AvailableWouldGoNegative,
    PaymentExceedsFunding,
    InheritanceMismatch,
    TrackingFlagChanged,
    NonPositiveAmount,
    DuplicateId,
    UnknownEntity,
    PaymentAlreadyReversed,
    WrongHolder,
    EntryBeforeItsEntity,
    RenameWithoutDocument,
)


def check_positive(amount: int) -> None:
    if isinstance(amount, bool) or not isinstance(amount, int) or amount <= 0:
        raise NonPositiveAmount(f"amount must be a positive integer of 分, got {amount!r}")
    if amount > MAX_ENTRY_FEN:
        raise NonPositiveAmount(
            f"amount {format_yuan(amount)} 元 is above the largest single entry "
            f"({format_yuan(MAX_ENTRY_FEN)} 元)"
        )


def _from(day: date, last: date | None) -> str:
    """' on 2025-05-20 and after' for a back-dated entry, '' for the usual one."""
    return "" if last is None or day >= last else f" on {day.isoformat()} and every day after"


def check_available(indicator: Indicator, amount: int, action: str, day: date) -> None:
    """What the indicator holds on ``day`` and every later day covers ``amount``."""
    check_positive(amount)
    low = indicator.timeline.lowest_from(day)
    if amount > low:
        raise AvailableWouldGoNegative(
            f"indicator {indicator.indicator_id} ({indicator.unit}) cannot {action} "
            f"{format_yuan(amount)} 元 dated {day.isoformat()}: only {format_yuan(low)} 元 "
            f"available{_from(day, indicator.timeline.last)} "
            f"(short by {format_yuan(amount - low)} 元)"
        )


def check_dated_after(entity: str, created: date, day: date, what: str = "it was created") -> None:
    if day < created:
        raise EntryBeforeItsEntity(
            f"{entity}: an entry dated {day.isoformat()} is before {what} "
            f"({created.isoformat()})"
        )


def check_inherits(parent: Indicator, expected: dict[str, object]) -> None:
    """``expected`` holds what the caller claims for the child; each must equal the parent's."""
    terms = parent.terms
    if "tracking" in expected and expected["tracking"] is not None:
        if bool(expected["tracking"]) != terms.tracking:
            raise TrackingFlagChanged(
                f"indicator {parent.indicator_id} is "
                f"{'tracked' if terms.tracking else 'not tracked'} (追踪); a child cannot "
                f"{'drop' if terms.tracking else 'add'} the flag"
            )
    for key, value in expected.items():
        if key == "tracking" or value is None:
            continue
        if getattr(terms, key) != value:
            raise InheritanceMismatch(
                f"child of {parent.indicator_id} must keep {key}={getattr(terms, key)!r}, "
                f"got {value!r}"
            )


def check_same_unit(indicator: Indicator, project: Project) -> None:
    if indicator.unit != project.unit:
        raise WrongHolder(
            f"project {project.project_id} is implemented by {project.unit}; indicator "
            f"{indicator.indicator_id} is held by {indicator.unit}"
        )


def check_line_exists(project: Project, indicator_id: str) -> None:
    if indicator_id not in project.lines:
        raise UnknownEntity(
            f"project {project.project_id} has no funding line from indicator {indicator_id}"
        )


def check_line_covers(project: Project, indicator_id: str, amount: int, action: str,
                      day: date) -> None:
    """The line's unpaid funding on ``day`` and every later day covers ``amount``."""
    check_positive(amount)
    check_line_exists(project, indicator_id)
    unpaid = project.lines[indicator_id].unpaid
    low = unpaid.lowest_from(day)
    if amount > low:
        raise PaymentExceedsFunding(
            f"project {project.project_id} cannot {action} {format_yuan(amount)} 元 from "
            f"indicator {indicator_id} dated {day.isoformat()}: unpaid funding is "
            f"{format_yuan(low)} 元{_from(day, unpaid.last)} (short by {format_yuan(amount - low)} 元)"
        )


def check_reversible(project: Project, payment_id: str) -> None:
    payment = project.payments.get(payment_id)
    if payment is None:
        raise UnknownEntity(f"project {project.project_id} has no payment {payment_id}")
    if payment.reversed:
        raise PaymentAlreadyReversed(f"payment {payment_id} was already reversed")


def check_voucher_unused(project: Project, voucher: str | None) -> None:
    paid = project.payments.paid_by_voucher(voucher) if voucher else None
    if paid is not None:
        raise DuplicateId(
            f"voucher {voucher!r} is already recorded on project {project.project_id} "
            f"(payment {paid})"
        )


def check_rename_document(doc: str | None) -> None:
    if not doc or not doc.strip():
        raise RenameWithoutDocument("a project name change needs the approving document (--doc)")
