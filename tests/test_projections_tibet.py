"""The bundled Tibet table (seed 000's attachment), recorded with a loop of app.forward, then traced.

Runs on SQLite and on the real PostgreSQL server (when BUDGET_LEDGER_TEST_PG is set).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from ledger.application import BudgetLedger
from ledger.commands import ForwardCommand, IssueCommand, ReverseCommand, build
from projections.lineage import trace_down, trace_up
from projections.progress import progress
from projections.updater import Projector
from projections.verify import verify_projections
from tests.helpers import TASKS, allocate, pay, project, tibet_rows, wan

DOC = "藏财农〔2024〕123号"
WORK_RELIEF = "以工代赈任务"


def record_table(app: BudgetLedger) -> dict[tuple[str, str], str]:
    """One root per task for the region, then one forward per non-empty cell, parents first."""
    rows = tibet_rows()
    held: dict[tuple[str, str], str] = {}
    for t, task in enumerate(TASKS):
        total = sum(wan(r[task]) for r in rows if r["from"] == "西藏自治区")
        held[("西藏自治区", task)] = app.issue(build(
            IssueCommand, indicator_id=f"XZ-{t}", unit="西藏自治区", amount=total, doc=DOC,
            effective_date="2024-12-23", year=2025, task=task, source="provincial",
            tracking=True, advance=True))
    for r in sorted(rows, key=lambda r: r["from"] != "西藏自治区"):  # region rows first
        for t, task in enumerate(TASKS):
            if wan(r[task]):
                held[(r["to"], task)] = app.forward(build(
                    ForwardCommand, parent_id=held[(r["from"], task)], child_id=f"{r['to']}-{t}",
                    unit=r["to"], amount=wan(r[task]), doc=DOC, effective_date="2024-12-27"))
    return held


@pytest.fixture
def tibet(any_url: str) -> Iterator[tuple[BudgetLedger, Projector]]:
    app = BudgetLedger.open(any_url)
    record_table(app)
    projector = Projector(app)
    projector.catch_up()
    yield app, projector
    projector.engine.dispose()
    app.close()


def edges(node: dict[str, Any]) -> Iterator[tuple[str, str, int]]:
    for c in node["children"]:
        yield node["unit"], c["unit"], int(c["amount"].replace(".", ""))
        yield from edges(c)


def test_trace_of_the_work_relief_root_reaches_every_receiver(tibet: tuple[BudgetLedger, Projector]) -> None:
    app, projector = tibet
    tree = trace_down(projector.engine, "XZ-2")
    assert (tree["unit"], tree["task"], tree["amount"], tree["doc"]) == ("西藏自治区", WORK_RELIEF, "50000000.00", DOC)
    expected = sorted((r["from"], r["to"], wan(r[WORK_RELIEF])) for r in tibet_rows() if wan(r[WORK_RELIEF]))
    assert sorted(edges(tree)) == expected
    assert len(expected) == 21  # 5 prefectures, 5 counties funded directly, 11 under prefectures

    def adds_up(node: dict[str, Any]) -> None:
        assert node["tracking"] is True  # the flag survived every hop
        kids = sum(int(c["amount"].replace(".", "")) for c in node["children"])
        assert kids == int(node["forwarded"].replace(".", ""))
        assert kids + int(node["available"].replace(".", "")) == int(node["amount"].replace(".", ""))
        for c in node["children"]:
            adds_up(c)

    adds_up(tree)
    assert verify_projections(app, projector.engine) == []


def test_payments_trace_up_and_progress_rolls_up(tibet: tuple[BudgetLedger, Projector]) -> None:
    app, projector = tibet
    county = "堆龙德庆区-2"  # 440万 of 以工代赈任务 from 拉萨市
    project(app, "DL-1", "堆龙德庆区", effective_date="2025-02-01")
    allocate(app, county, "DL-1", "300万")
    pay(app, "DL-1", "1000000", effective_date="2025-03-01", payee="某施工队", labour=True)
    pay(app, "DL-1", "500000", effective_date="2025-03-05", payee="某建材公司")
    app.reverse(build(ReverseCommand, payment_id="DL-1:P2", effective_date="2025-03-20", reason="发票有误"))
    projector.catch_up()

    hops = trace_up(projector.engine, "DL-1:P1")
    assert [(h["id"], h["unit"]) for h in hops] == [
        ("DL-1:P1", "堆龙德庆区"), ("DL-1", "堆龙德庆区"), (county, "堆龙德庆区"),
        ("拉萨市-2", "拉萨市"), ("XZ-2", "西藏自治区")]
    assert hops[-1]["root"] and hops[-1]["doc"] == DOC

    rows = {r["unit"]: r for r in progress(projector.engine)}
    assert (rows["堆龙德庆区"]["paid"], rows["堆龙德庆区"]["ratio"]) == ("1000000.00", "0.0302")  # 100 / 3,309万 (2343+526+440)
    assert rows["拉萨市"]["paid"] == rows["西藏自治区"]["paid"] == "1000000.00"
    assert rows["西藏自治区"]["received"] == "2215200000.00"  # 221,520.00 万元, seed 000's total
    assert rows["城关区"]["paid"] == "0.00" and rows["林周县"]["parent"] == "西藏自治区"
    assert [r["unit"] for r in progress(projector.engine)][:2] == ["西藏自治区", "拉萨市"]
    by_task = {r["task"]: r for r in progress(projector.engine, "堆龙德庆区", by="task")}
    assert (by_task[WORK_RELIEF]["received"], by_task[WORK_RELIEF]["ratio"]) == ("4400000.00", "0.2273")
    assert verify_projections(app, projector.engine) == []
