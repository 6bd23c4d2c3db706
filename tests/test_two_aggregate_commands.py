"""Commands that touch two aggregates are run by the Batch in one style: every check of both
aggregates runs once, before either aggregate triggers an event."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterator
from typing import Any

import pytest

import ledger.indicator
import ledger.project
from ledger import invariants as inv
from ledger.application import BudgetLedger
from ledger.batch import Batch
from ledger.commands import (
    AllocateCommand,
    DeallocateCommand,
    ForwardCommand,
    RecoverCommand,
    build,
)
from ledger.subjects import SubjectNotRefinement, check_refines
from tests.helpers import allocate, forward, issue, project

#: the named checks a two-aggregate command may run, and where each is looked up
CHECKS: tuple[tuple[Any, str], ...] = (
    (inv, "check_positive"),
    (inv, "check_available"),
    (inv, "check_dated_after"),
    (inv, "check_inherits"),
    (inv, "check_same_unit"),
    (inv, "check_line_exists"),
    (inv, "check_line_covers"),
    (ledger.indicator, "check_refines"),
    (ledger.project, "check_refines"),
)


@pytest.fixture
def books(app: BudgetLedger) -> BudgetLedger:
    """R (100 万, subject 21305) → C (60 万, 城关区) → project P1 funded 20 万."""
    issue(app, "R", "拉萨市", "100万", subject="21305")
    forward(app, "R", "C", "城关区", "60万")
    project(app, "P1", "城关区")
    allocate(app, "C", "P1", "20万")
    return app


@pytest.fixture
def calls(monkeypatch: pytest.MonkeyPatch) -> Iterator[Counter[tuple[str, str]]]:
    """Counts each check's calls, keyed by (check, the entity or amount it was about)."""
    seen: Counter[tuple[str, str]] = Counter()

    def spy(name: str, real: Callable[..., None]) -> Callable[..., None]:
        def counted(*args: object, **kwargs: object) -> None:
            about = args[0] if args else ""
            seen[(name, getattr(about, "indicator_id", getattr(about, "project_id", str(about))))] += 1
            real(*args, **kwargs)
        return counted

    for module, name in CHECKS:
        monkeypatch.setattr(module, name, spy(name, getattr(module, name)))
    yield seen


COMMANDS: dict[str, Callable[[Batch], str]] = {
    "forward": lambda b: b.forward(build(
        ForwardCommand, parent_id="C", child_id="D", unit="墨竹工卡县", amount="10万", doc="F",
        effective_date="2025-03-01", task="以工代赈任务", year=2025, subject="2130504")),
    "allocate": lambda b: b.allocate(build(
        AllocateCommand, indicator_id="C", project_id="P1", amount="10万",
        effective_date="2025-03-01", subject="2130504")),
    "deallocate": lambda b: b.deallocate(build(
        DeallocateCommand, indicator_id="C", project_id="P1", amount="5万",
        effective_date="2025-03-01", reason="调减")),
    "recover": lambda b: b.recover(build(
        RecoverCommand, indicator_id="C", amount="5万", doc="收", effective_date="2025-03-01",
        reason="结余")),
    "recover to pool": lambda b: b.recover(build(
        RecoverCommand, indicator_id="C", amount="5万", doc="收", effective_date="2025-03-01",
        reason="统筹", to="pool", pool_id="C-POOL")),
}


@pytest.mark.parametrize("name", sorted(COMMANDS))
def test_each_check_runs_once(books: BudgetLedger, calls: Counter[tuple[str, str]],
                              name: str) -> None:
    batch = Batch(books)
    COMMANDS[name](batch)
    assert len(batch.touched()) == 2
    assert calls, "the command ran no check"
    twice = {key: n for key, n in calls.items() if n > 1}
    assert twice == {}
    positive = sum(n for (check, _), n in calls.items() if check == "check_positive")
    assert positive == 1  # the one amount, checked once


REFUSED: dict[str, tuple[type[inv.InvariantViolation], Callable[[Batch], str]]] = {
    "allocate: the project refuses the subject": (SubjectNotRefinement, lambda b: b.allocate(build(
        AllocateCommand, indicator_id="C", project_id="P1", amount="1万",
        effective_date="2025-03-01", subject="2140101"))),
    "allocate: the indicator cannot cover it": (inv.AvailableWouldGoNegative, lambda b: b.allocate(
        build(AllocateCommand, indicator_id="C", project_id="P1", amount="41万",
              effective_date="2025-03-01"))),
    "deallocate: the line cannot cover it": (inv.PaymentExceedsFunding, lambda b: b.deallocate(
        build(DeallocateCommand, indicator_id="C", project_id="P1", amount="21万",
              effective_date="2025-03-01", reason="调减"))),
    "deallocate: dated before the indicator": (inv.EntryBeforeItsEntity, lambda b: b.deallocate(
        build(DeallocateCommand, indicator_id="C", project_id="P1", amount="1万",
              effective_date="2025-01-02", reason="调减"))),
    "forward: the child claims another task": (inv.InheritanceMismatch, lambda b: b.forward(build(
        ForwardCommand, parent_id="C", child_id="D", unit="墨竹工卡县", amount="1万", doc="F",
        effective_date="2025-03-01", task="少数民族发展任务"))),
    "recover: more than the child holds": (inv.AvailableWouldGoNegative, lambda b: b.recover(build(
        RecoverCommand, indicator_id="C", amount="41万", doc="收", effective_date="2025-03-01",
        reason="结余"))),
}


@pytest.mark.parametrize("case", sorted(REFUSED))
def test_a_refused_command_leaves_both_aggregates_untouched(books: BudgetLedger,
                                                            case: str) -> None:
    """An import applies many rows to one Batch and goes on after a refused row: a refusal
    after one aggregate had triggered its event would skew every later row's checks."""
    expected, attempt = REFUSED[case]
    batch = Batch(books)
    batch.preload(project_ids=["P1"], indicator_ids=["R", "C"])
    before = {i: (a.available, a.version) for i, a in batch.indicators.items()}
    with pytest.raises(expected):
        attempt(batch)
    assert batch.touched() == []
    assert {i: (a.available, a.version) for i, a in batch.indicators.items()} == before
    assert batch.projects["P1"].lines["C"].allocated == 20 * 1_000_000


def test_the_project_side_says_which_indicator_a_bad_subject_is_under(books: BudgetLedger) -> None:
    with pytest.raises(SubjectNotRefinement, match="indicator C is kept under subject 21305"):
        allocate(books, "C", "P1", "1万", subject="2140101", effective_date="2025-03-01")
    check_refines("x", "21305", "2130504")  # the real check, unpatched here
