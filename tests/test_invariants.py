"""Each named invariant refuses its command, and a refused command writes nothing."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from ledger import invariants as inv
from ledger.application import BudgetLedger
from ledger.commands import (
    DeallocateCommand,
    ForwardCommand,
    IssueCommand,
    ProgressCommand,
    RecoverCommand,
    RenameProjectCommand,
    ReverseCommand,
    build,
)
from ledger.errors import InputError
from tests.helpers import allocate, forward, issue, pay, project


@pytest.fixture
def books(app: BudgetLedger) -> BudgetLedger:
    """Region R (1,000 万, tracked) → prefecture C (300 万) → project P1 funded 100 万, 10 万 paid."""
    issue(app, "R", "西藏自治区", "1000万")
    forward(app, "R", "C", "拉萨市", "300万")
    project(app, "P1", "拉萨市")
    allocate(app, "C", "P1", "100万")
    pay(app, "P1", "10万", voucher="V1")
    return app


def _reverse(app: BudgetLedger, pid: str) -> str:
    return app.reverse(build(ReverseCommand, payment_id=pid, effective_date="2025-03-02", reason="错付"))


REFUSALS: dict[str, tuple[type[inv.InvariantViolation], Callable[[BudgetLedger], object]]] = {
    "forward more than available": (
        inv.AvailableWouldGoNegative, lambda a: forward(a, "R", "X", "日喀则市", "700.01万")),
    "allocate more than available": (
        inv.AvailableWouldGoNegative, lambda a: allocate(a, "C", "P1", "200.000001万", effective_date="2025-03-01")),
    "recover more than the child holds": (
        inv.AvailableWouldGoNegative,
        lambda a: a.recover(build(RecoverCommand, indicator_id="C", amount="200.01万", doc="D",
                                  effective_date="2025-04-01", reason="x"))),
    "pay more than the unpaid line": (
        inv.PaymentExceedsFunding, lambda a: pay(a, "P1", "90.000001万")),
    "release more than the unpaid line": (
        inv.PaymentExceedsFunding,
        lambda a: a.deallocate(build(DeallocateCommand, indicator_id="C", project_id="P1",
                                     amount="90.01万", effective_date="2025-04-01", reason="x"))),
    "child claims another task": (
        inv.InheritanceMismatch, lambda a: forward(a, "R", "X", "日喀则市", "1万", task="少数民族发展任务")),
    "child claims another year": (
        inv.InheritanceMismatch, lambda a: forward(a, "R", "X", "日喀则市", "1万", year=2024)),
    "child drops the tracking flag": (
        inv.TrackingFlagChanged, lambda a: forward(a, "R", "X", "日喀则市", "1万", tracking=False)),
    "duplicate indicator id": (
        inv.DuplicateId, lambda a: forward(a, "R", "C", "日喀则市", "1万")),
    "duplicate root id": (
        inv.DuplicateId, lambda a: issue(a, "R", "西藏自治区", "1万")),
    "duplicate project id": (
        inv.DuplicateId, lambda a: project(a, "P1", "拉萨市")),
    "duplicate voucher in a project": (
        inv.DuplicateId, lambda a: pay(a, "P1", "1万", voucher="V1")),
    "unknown parent": (
        inv.UnknownEntity, lambda a: forward(a, "NOPE", "X", "日喀则市", "1万")),
    "unknown project": (
        inv.UnknownEntity, lambda a: pay(a, "NOPE", "1万")),
    "payment from an indicator that is not a funding line": (
        inv.UnknownEntity, lambda a: pay(a, "P1", "1万", indicator_id="R")),
    "reverse an unknown payment": (
        inv.UnknownEntity, lambda a: _reverse(a, "P1:P9")),
    "reverse twice": (
        inv.PaymentAlreadyReversed, lambda a: (_reverse(a, "P1:P1"), _reverse(a, "P1:P1"))),
    "fund a project of another unit": (
        inv.WrongHolder, lambda a: (project(a, "P2", "日喀则市"), allocate(a, "C", "P2", "1万"))),
    "forward dated before the parent existed": (
        inv.EntryBeforeItsEntity,
        lambda a: forward(a, "R", "X", "日喀则市", "1万", effective_date="2024-12-31")),
    "payment dated before the project was registered": (
        inv.EntryBeforeItsEntity, lambda a: pay(a, "P1", "1万", effective_date="2025-01-20")),
    "progress dated before the project was registered": (
        inv.EntryBeforeItsEntity,
        lambda a: a.report_progress(build(ProgressCommand, project_id="P1", percent="10",
                                          effective_date="2025-01-01"))),
    "reversal dated before its payment": (
        inv.EntryBeforeItsEntity,
        lambda a: a.reverse(build(ReverseCommand, payment_id="P1:P1", effective_date="2025-02-28",
                                  reason="错付"))),
    "back-dated payment before the funds reached the project": (
        inv.PaymentExceedsFunding, lambda a: pay(a, "P1", "1万", effective_date="2025-02-05")),
    "back-dated forward that a later allocation would overdraw": (
        inv.AvailableWouldGoNegative,
        lambda a: forward(a, "C", "X", "城关区", "350万", effective_date="2025-02-01")),
}


@pytest.mark.parametrize("case", sorted(REFUSALS))
def test_invariant_refuses_and_writes_nothing(books: BudgetLedger, case: str) -> None:
    expected, attempt = REFUSALS[case]
    before = books.last_position()
    if case == "reverse twice" or case == "fund a project of another unit":
        with pytest.raises(expected):
            attempt(books)
        return  # these record a first valid command before the refused one
    with pytest.raises(expected) as err:
        attempt(books)
    assert err.value.exit_code == 3
    assert err.value.name in str(err.value)
    assert books.last_position() == before


def test_every_named_invariant_is_exercised() -> None:
    exercised = {cls for cls, _ in REFUSALS.values()} | {inv.NonPositiveAmount, inv.RenameWithoutDocument}
    assert exercised == set(inv.ALL_INVARIANTS)


def test_non_positive_amount_is_refused_by_the_domain_itself(books: BudgetLedger) -> None:
    """The aggregates' own checks refuse it (the commands' pydantic models refuse it earlier)."""
    parent = books.get_indicator("R")
    with pytest.raises(inv.NonPositiveAmount):
        parent.check_debit(0, parent.last_date, "forward")
    with pytest.raises(inv.NonPositiveAmount):
        parent.check_debit(-5, parent.last_date, "allocate")
    prj = books.get_project("P1")
    with pytest.raises(inv.NonPositiveAmount):
        prj.check_release(indicator_id="C", amount=0, effective_date=prj.last_date)
    assert not parent.pending_events


def test_rename_needs_a_document(books: BudgetLedger) -> None:
    prj = books.get_project("P1")
    with pytest.raises(inv.RenameWithoutDocument):
        prj.rename(new_name="新名", doc="  ", effective_date=prj.last_date, actor="t", reason=None)
    books.rename_project(build(RenameProjectCommand, project_id="P1", new_name="新名", doc="城政〔2025〕8号",
                               effective_date="2025-04-01"))
    assert books.get_project("P1").name == "新名"
    assert books.get_project("P1").original_name == "项目 P1"


@pytest.mark.parametrize(
    "fields, option",
    [
        ({"amount": "1e5"}, "--amount"),
        ({"amount": "-100"}, "--amount"),
        ({"amount": "100.001"}, "--amount"),
        ({"amount": "0"}, "--amount"),
        ({"amount": ""}, "--amount"),
        ({"amount": 1.5}, "--amount"),
        ({"amount": "12美元"}, "--amount"),
        ({"effective_date": "2025/01/01"}, "--date"),
        ({"effective_date": "2025-02-30"}, "--date"),
        ({"year": 1800}, "--year"),
        ({"source": "national"}, "--source"),
        ({"subject": "abc"}, "--subject"),
        ({"unit": ""}, "--to"),
    ],
)
def test_bad_input_names_the_field(app: BudgetLedger, fields: dict[str, object], option: str) -> None:
    base = dict(unit="西藏自治区", amount="1万", doc="D", effective_date="2025-01-01", year=2025,
                task="以工代赈任务", source="provincial")
    base.update(fields)
    with pytest.raises(InputError) as err:
        app.issue(build(IssueCommand, **base))
    assert err.value.exit_code == 2
    assert str(err.value).startswith(option)
    assert app.last_position() == 0


def test_missing_field_is_named() -> None:
    with pytest.raises(InputError) as err:
        build(ForwardCommand, parent_id="R", unit="u", amount="1万", effective_date="2025-01-01")
    assert "--doc: is required" in str(err.value)
