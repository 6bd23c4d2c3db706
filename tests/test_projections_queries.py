"""Every query on the small scenario of tests/projections_scenario.py, with amounts worked out by hand."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import Engine

from ledger.application import BudgetLedger
from ledger.errors import InputError
from projections.balances import balance, balance_totals
from projections.history import history, log
from projections.lineage import to_dot, trace_down, trace_up
from projections.progress import progress
from projections.updater import Projector
from tests.projections_scenario import build_scenario


@pytest.fixture
def books(app: BudgetLedger) -> Iterator[Engine]:
    build_scenario(app)
    projector = Projector(app)
    projector.catch_up()
    yield projector.engine
    projector.engine.dispose()


def by_id(rows: list[dict[str, Any]], key: str = "indicator") -> dict[str, dict[str, Any]]:
    return {r[key]: r for r in rows}


def test_balance_per_indicator_of_a_unit(books: Engine) -> None:
    rows = by_id(balance(books, "城关区"))
    assert set(rows) == {"C", "L"}
    c = rows["C"]
    assert (c["received"], c["forwarded"], c["allocated"], c["paid"], c["recovered"], c["available"]) == (
        "4000000.00", "0.00", "3000000.00", "0.00", "0.00", "1000000.00")  # X1:P1 was reversed
    assert c["tracking"] is True and c["task"] == "以工代赈任务" and c["year"] == 2025
    assert rows["L"]["paid"] == "200000.00" and rows["L"]["tracking"] is False


def test_balance_after_a_recovery_and_filters(books: Engine) -> None:
    p = by_id(balance(books, "拉萨市"))["P"]
    assert (p["received"], p["forwarded"], p["available"]) == ("6000000.00", "4800000.00", "1200000.00")
    d = by_id(balance(books, "达孜区"))["D"]
    assert (d["allocated"], d["paid"], d["recovered"], d["available"]) == (
        "800000.00", "300000.00", "200000.00", "0.00")
    assert [r["indicator"] for r in balance(books, "拉萨市", task="少数民族发展任务")] == ["P2"]
    assert balance(books, year=2024) == []
    assert len(balance(books)) == 7


def test_balance_totals_per_unit_task_year(books: Engine) -> None:
    per_unit = by_id(balance_totals(books, "unit"), "unit")
    assert per_unit["拉萨市"]["received"] == "6500000.00"
    assert per_unit["拉萨市"]["indicators"] == 2
    assert per_unit["城关区"]["available"] == "1500000.00"
    per_task = by_id(balance_totals(books, "task", "西藏自治区"), "task")
    assert per_task["少数民族发展任务"]["available"] == "1500000.00"
    per_year = balance_totals(books, "year")
    # each yuan sits in one place: R 1000万 + R2 200万 + L 100万 came in from outside, 430万 went
    # to projects (300 + 50 + 80), the rest is available somewhere (D's 20万 returned to P)
    total = per_year[0]
    assert (total["year"], total["paid"], total["allocated"], total["available"]) == (
        2025, "500000.00", "4300000.00", "8700000.00")


def test_progress_rolls_up_the_hierarchy(books: Engine) -> None:
    rows = progress(books)
    assert [(r["unit"], r["level"], r["received"], r["paid"], r["ratio"]) for r in rows] == [
        ("西藏自治区", 0, "12000000.00", "300000.00", "0.0250"),
        ("拉萨市", 1, "6500000.00", "300000.00", "0.0462"),
        ("城关区", 2, "5000000.00", "200000.00", "0.0400"),  # C + local L; only L's payment stands
        ("达孜区", 2, "800000.00", "300000.00", "0.3750"),  # net of the 20万 returned up
    ]
    assert [r["unit"] for r in progress(books, "拉萨市")] == ["拉萨市", "城关区", "达孜区"]


def test_forwards_and_allocations_are_not_spending(app: BudgetLedger) -> None:
    from tests.helpers import allocate, forward, issue, project

    issue(app, "R", "区", "100万")
    forward(app, "R", "C", "县", "100万")
    project(app, "X", "县")
    allocate(app, "C", "X", "100万")
    p = Projector(app)
    p.catch_up()
    assert {r["unit"]: r["ratio"] for r in progress(p.engine)} == {"区": "0.0000", "县": "0.0000"}


def test_progress_by_task_and_by_month(books: Engine) -> None:
    assert [(r["unit"], r["task"], r["received"], r["paid"], r["ratio"]) for r in progress(books, by="task")] == [
        ("西藏自治区", "以工代赈任务", "10000000.00", "300000.00", "0.0300"),
        ("西藏自治区", "少数民族发展任务", "2000000.00", "0.00", "0.0000"),
    ]
    months = progress(books, "达孜区", by="month")
    assert [(r["month"], r["received"], r["paid_in_month"], r["paid"], r["ratio"]) for r in months] == [
        ("2025-01", "1000000.00", "0.00", "0.00", "0.0000"),
        ("2025-02", "1000000.00", "0.00", "0.00", "0.0000"),
        ("2025-03", "1000000.00", "300000.00", "300000.00", "0.3000"),
        ("2025-04", "1000000.00", "0.00", "300000.00", "0.3000"),
        ("2025-05", "800000.00", "0.00", "300000.00", "0.3750"),
    ]
    region = progress(books, "西藏自治区", by="month")
    assert [(r["month"], r["paid_in_month"], r["paid"]) for r in region][2:] == [
        ("2025-03", "1300000.00", "1300000.00"), ("2025-04", "-1000000.00", "300000.00")]


def test_trace_down_lists_forwards_projects_per_line_and_payments(books: Engine) -> None:
    tree = trace_down(books, "R")
    assert (tree["id"], tree["kind"], tree["amount"], tree["doc"], tree["tracking"]) == (
        "R", "indicator", "10000000.00", "藏财〔2025〕1号", True)
    (p,) = tree["children"]
    assert [(c["id"], c["unit"], c["amount"]) for c in p["children"]] == [
        ("C", "城关区", "4000000.00"), ("D", "达孜区", "1000000.00")]
    c, d = p["children"]
    (x1,) = c["children"]  # X1's line from C only: its line from L is not this root's money
    assert (x1["kind"], x1["amount"], x1["paid"], x1["indicator"]) == ("project", "3000000.00", "0.00", "C")
    (p1,) = x1["children"]
    assert (p1["id"], p1["kind"], p1["amount"], p1["reversed"]) == ("X1:P1", "payment", "1000000.00", True)
    (y,) = d["children"]
    assert [(k["id"], k["amount"], k["tracking"]) for k in y["children"]] == [("Y:P1", "300000.00", True)]
    # the same project under its other source
    assert [k["id"] for k in trace_down(books, "L")["children"]] == ["X1"]


def test_trace_down_of_a_project_and_dot(books: Engine) -> None:
    x1 = trace_down(books, "X1")
    assert (x1["amount"], x1["paid"]) == ("3500000.00", "200000.00")
    assert [(k["id"], k["indicator"]) for k in x1["children"]] == [("X1:P1", "C"), ("X1:P2", "L")]
    dot = to_dot(trace_down(books, "R"))
    assert dot.startswith("digraph trace {") and '"P" -> "C" [label="400.00 万元"]' in dot
    assert "rankdir=LR;" in dot  # a wide tree reads left to right
    assert '"R" [shape=box, label="R\\n' in dot and '\\n1,000.00 万元' in dot  # separators
    assert '"C" -> "X1@C"' in dot and "style=\"dashed\"" in dot


def test_trace_up_from_a_payment_reaches_the_region_document(books: Engine) -> None:
    hops = trace_up(books, "Y:P1")
    assert [(h["hop"], h["id"], h["kind"], h["amount"]) for h in hops] == [
        (0, "Y:P1", "payment", "300000.00"), (1, "Y", "project", "800000.00"),
        (2, "D", "indicator", "1000000.00"), (3, "P", "indicator", "6000000.00"),
        (4, "R", "indicator", "10000000.00")]
    assert hops[-1]["root"] and hops[-1]["doc"] == "藏财〔2025〕1号" and hops[-1]["parent"] is None
    assert all(h["tracking"] for h in hops)


def test_trace_up_from_a_project_with_two_sources_has_two_roots(books: Engine) -> None:
    hops = trace_up(books, "X1")
    assert [(h["branch"], h["id"]) for h in hops] == [(0, "X1"), (1, "C"), (1, "P"), (1, "R"), (2, "L")]
    assert [h["id"] for h in hops if h["root"]] == ["R", "L"]
    assert [h["flags"] for h in hops if h["root"]] == [["追踪 tracking"], []]


def test_unknown_ids_are_input_errors(books: Engine) -> None:
    with pytest.raises(InputError, match="nope"):
        trace_down(books, "nope")
    with pytest.raises(InputError):
        trace_up(books, "X1:P9")


def test_history_of_a_payment_and_an_indicator(app: BudgetLedger, books: Engine) -> None:
    rows = history(books, "X1:P1", fields=Projector(app, books).states)
    assert [(r["type"], r["amount"], r["effective_date"]) for r in rows] == [
        ("Project.PaymentMade", "1000000.00", "2025-03-01"),
        ("Project.PaymentReversed", "1000000.00", "2025-04-01")]
    assert rows[1]["reason"] == "重复支付" and rows[1]["actor"] == "tester"
    assert rows[0]["payee"] == "某建设公司" and rows[0]["position"] < rows[1]["position"]
    types = [r["type"] for r in history(books, "D")]
    assert types == ["Indicator.ForwardedOut", "Indicator.Received", "Indicator.AllocatedToProject",
                     "Project.FundingAllocated", "Project.PaymentMade", "Indicator.Recovered",
                     "Indicator.RecoveryReceived"]


def test_log_pages_in_order(books: Engine) -> None:
    everything = log(books)
    assert [r["position"] for r in everything] == list(range(1, 26))
    page = log(books, after=10, limit=5)
    assert [r["position"] for r in page] == [11, 12, 13, 14, 15]
    first = everything[0]
    assert {"position", "recorded_at", "effective_date", "type", "actor", "entity"} <= set(first)
    assert (first["type"], first["entity"], first["amount"]) == ("Indicator.Issued", "R", "10000000.00")
