"""项级 subjects: a forward or an allocation refines 21305 to a subject below it, never beside it;
the tracking flag and the root stay; progress groups by subject."""

from __future__ import annotations

import pytest

from ledger.application import BudgetLedger
from ledger.subjects import SubjectNotRefinement, is_below
from projections.progress import progress
from projections.updater import Projector
from tests.helpers import allocate, forward, issue, pay, project


def test_is_below() -> None:
    assert is_below("2130504", "21305") and is_below("2130504", "213")
    assert not is_below("2130504", "2130504") and not is_below("2130601", "21305")
    assert not is_below("213050", "21305") and not is_below("21305", "2130504")


def test_a_forward_refines_the_subject_and_keeps_flag_and_root(app: BudgetLedger) -> None:
    issue(app, "R", "西藏自治区", "100万", subject="21305", tracking=True)
    forward(app, "R", "M", "拉萨市", "60万", subject="2130504")
    child = app.get_indicator("M")
    assert (child.terms.subject, child.terms.tracking, child.root_id) == ("2130504", True, "R")
    forward(app, "R", "M2", "日喀则市", "40万")  # no --subject: the parent's
    assert app.get_indicator("M2").terms.subject == "21305"


@pytest.mark.parametrize("bad", ["2130601", "21306", "213"])
def test_a_forward_never_refines_to_a_non_child(app: BudgetLedger, bad: str) -> None:
    issue(app, "R", "西藏自治区", "100万", subject="21305")
    before = app.last_position()
    with pytest.raises(SubjectNotRefinement):
        forward(app, "R", "M", "拉萨市", "60万", subject=bad)
    assert app.last_position() == before


def test_an_allocation_refines_its_line_and_progress_groups_by_subject(app: BudgetLedger) -> None:
    issue(app, "R", "城关区", "100万", subject="21305")
    project(app, "P1", "城关区", "产业发展")
    project(app, "P2", "城关区", "基础设施")
    allocate(app, "R", "P1", "50万", subject="2130504")
    allocate(app, "R", "P2", "30万")
    pay(app, "P1", "10万")
    with pytest.raises(SubjectNotRefinement):
        allocate(app, "R", "P2", "1万", subject="2130601")
    with pytest.raises(SubjectNotRefinement):  # the line is 2130504 now: not back up, not beside
        allocate(app, "R", "P1", "1万", subject="2130505")
    assert app.get_project("P1").line_subjects == {"R": "2130504"}
    p = Projector(app)
    p.catch_up()
    rows = {r["subject"]: r for r in progress(p.engine, by="subject")}
    assert rows["2130504"]["received"] == "500000.00" and rows["2130504"]["paid"] == "100000.00"
    assert rows["2130504"]["parent_subject"] == "21305"
    assert rows["2130504"]["spending_pct"] == "20.00"
    assert rows["21305"]["received"] == "500000.00"  # 30万 allocated + 20万 unallocated
    assert rows["21305"]["allocated"] == "300000.00"


def test_a_projects_file_may_refine_each_line(app: BudgetLedger) -> None:
    from ledger.imports import import_projects, table_from_text
    from ledger.imports.problems import ImportRejected

    issue(app, "R", "城关区", "100万", subject="21305")
    head = "project,unit,name,category,date,indicator,amount,subject\n"
    import_projects(app, table_from_text(head + "P1,城关区,大棚,产业发展,2025-02-01,R,50万,2130504\n"
                                         "P2,城关区,道路,基础设施,2025-02-01,R,10万,\n", "p.csv"))
    assert app.get_project("P1").line_subjects == {"R": "2130504"}
    assert app.get_project("P2").line_subjects == {}
    before = app.last_position()
    with pytest.raises(ImportRejected, match="subject-refines-parent"):
        import_projects(app, table_from_text(head + "P3,城关区,x,产业发展,2025-02-01,R,1万,2130601\n",
                                             "bad.csv"))
    assert app.last_position() == before
