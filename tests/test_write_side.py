"""The write side end to end: atomic multi-aggregate saves, durability across processes, the same
scenario on SQLite and PostgreSQL, and the Tibet table recorded command by command."""

from __future__ import annotations

import json
import subprocess
import sys
from collections import defaultdict

import pytest
from click.testing import CliRunner

from cli.main import cli, register
from ledger import invariants as inv
from ledger.application import BudgetLedger
from ledger.commands import DeallocateCommand, RecoverCommand, ReverseCommand, build
from tests.helpers import TASKS, allocate, forward, issue, pay, project, tibet_rows, wan

register()


def scenario(app: BudgetLedger) -> dict[str, object]:
    """Issue → forward → project → allocate → pay → reverse → deallocate → recover."""
    issue(app, "R", "西藏自治区", "1000万")
    forward(app, "R", "C", "拉萨市", "300万")
    project(app, "P1", "拉萨市")
    allocate(app, "C", "P1", "100万")
    p1 = pay(app, "P1", "10万", voucher="V1", labour=True)
    pay(app, "P1", "5万", voucher="V2")
    app.reverse(build(ReverseCommand, payment_id=p1, effective_date="2025-03-05", reason="重复支付"))
    app.deallocate(build(DeallocateCommand, indicator_id="C", project_id="P1", amount="20万",
                         effective_date="2025-04-01", reason="结余"))
    app.recover(build(RecoverCommand, indicator_id="C", amount="50万", doc="拉财〔2025〕9号",
                      effective_date="2025-06-30", reason="项目调整"))
    return state(app)


def state(app: BudgetLedger) -> dict[str, object]:
    r, c, p = app.get_indicator("R"), app.get_indicator("C"), app.get_project("P1")
    return {
        "R": (r.received, r.forwarded, r.allocated, r.recovered, r.available),
        "C": (c.received, c.forwarded, c.allocated, c.recovered, c.available),
        "P1": {k: (v.allocated, v.paid) for k, v in p.lines.items()},
        "payments": {k: (v.amount, v.reversed) for k, v in p.payments.items()},
        "events": app.last_position(),
    }


EXPECTED = {
    "R": (10_000_000_00, 250_000_000, 0, 0, 750_000_000),  # 300万 out, 50万 back
    "C": (300_000_000, 0, 80_000_000, 50_000_000, 170_000_000),
    "P1": {"C": (80_000_000, 5_000_000)},
    "payments": {"P1:P1": (10_000_000, True), "P1:P2": (5_000_000, False)},
    "events": 13,
}


def test_scenario_on_sqlite_and_postgres(any_url: str) -> None:
    app = BudgetLedger.open(any_url)
    try:
        assert scenario(app) == EXPECTED
    finally:
        app.close()
    reopened = BudgetLedger.open(any_url)  # a new application object reads the same state
    try:
        assert state(reopened) == EXPECTED
    finally:
        reopened.close()


def test_refused_forward_leaves_parent_untouched(app: BudgetLedger) -> None:
    issue(app, "R", "西藏自治区", "100万")
    before = (app.get_indicator("R").version, app.last_position())
    with pytest.raises(inv.AvailableWouldGoNegative):
        forward(app, "R", "C", "拉萨市", "100.01万")
    assert (app.get_indicator("R").version, app.last_position()) == before
    with pytest.raises(inv.UnknownEntity):
        app.get_indicator("C")


def test_a_forward_is_one_atomic_save_of_parent_and_child(app: BudgetLedger) -> None:
    issue(app, "R", "西藏自治区", "100万")
    forward(app, "R", "C", "拉萨市", "40万")
    notes = app.recorder.select_notifications(start=1, limit=10)
    assert [n.topic for n in notes] == [
        "budget_ledger.Indicator.Issued",
        "budget_ledger.Indicator.ForwardedOut",
        "budget_ledger.Indicator.Received",
    ]


def test_events_survive_a_restart_in_a_new_process(db_url: str) -> None:
    app = BudgetLedger.open(db_url)
    scenario(app)
    app.close()
    code = (
        "import json, sys; from ledger.application import BudgetLedger; "
        f"a = BudgetLedger.open({db_url!r}); c = a.get_indicator('C'); "
        "print(json.dumps([c.available, a.last_position(), sorted(a.get_project('P1').payments)]))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert json.loads(out.stdout) == [170_000_000, 13, ["P1:P1", "P1:P2"]]


def test_tibet_table_recorded_by_commands_matches_to_the_fen(app: BudgetLedger) -> None:
    """A loop over the bundled CSV: one root per task for the region, one forward per cell."""
    rows = tibet_rows()
    children = {r["to"] for r in rows}
    tops = {r["from"] for r in rows} - children
    assert tops == {"西藏自治区"}
    held: dict[tuple[str, str], str] = {}
    with app.batch() as b:
        from ledger.commands import ForwardCommand, IssueCommand

        for t, task in enumerate(TASKS):
            total = sum(wan(r[task]) for r in rows if r["from"] == "西藏自治区")
            held[("西藏自治区", task)] = b.issue(build(
                IssueCommand, indicator_id=f"XZ-{t}", unit="西藏自治区", amount=total,
                doc="藏财农〔2024〕123号", effective_date="2024-12-23", year=2025, task=task,
                source="provincial", tracking=True, advance=True))
        pending = list(rows)
        while pending:  # parent before child
            later = []
            for r in pending:
                for task in TASKS:
                    if not wan(r[task]):
                        continue
                    parent = held.get((r["from"], task))
                    if parent is None:
                        later.append(r)
                        break
                    held[(r["to"], task)] = b.forward(build(
                        ForwardCommand, parent_id=parent, child_id=f"{r['to']}-{TASKS.index(task)}",
                        unit=r["to"], amount=wan(r[task]), doc="藏财农〔2024〕123号",
                        effective_date="2024-12-23"))
            assert len(later) < len(pending)
            pending = later
    roots = [app.get_indicator(f"XZ-{t}") for t in range(3)]
    assert [r.received for r in roots] == [180_000 * 1_000_000, 36_520 * 1_000_000, 5_000 * 1_000_000]
    assert all(r.available == 0 for r in roots)
    outgoing: dict[tuple[str, str], int] = defaultdict(int)
    for r in rows:
        for task in TASKS:
            outgoing[(r["from"], task)] += wan(r[task])
    for r in rows:
        for t, task in enumerate(TASKS):
            if not wan(r[task]):
                continue
            ind = app.get_indicator(f"{r['to']}-{t}")
            assert ind.received == wan(r[task])
            assert ind.available == wan(r[task]) - outgoing[(r["to"], task)]
            assert ind.terms.tracking and ind.terms.advance and ind.terms.task == task
    # the prefecture's own share is exactly what it forwards to its counties (seed 000's arithmetic)
    lasa = app.get_indicator("拉萨市-0")
    assert lasa.received == 14_994 * 1_000_000 and lasa.available == 0


@pytest.fixture
def runner_db(db_url: str) -> list[str]:
    return ["--db", db_url, "--actor", "审计员"]


def run(args: list[str]) -> tuple[int, str, str]:
    result = CliRunner().invoke(cli, args)
    return result.exit_code, result.stdout, result.stderr


def test_cli_write_commands_print_ids_and_map_exit_codes(runner_db: list[str]) -> None:
    base = runner_db
    assert run(base + ["init"])[0] == 0
    code, out, _ = run(base + ["issue", "--to", "西藏自治区", "--amount", "5000万", "--doc", "D1",
                               "--date", "2024-12-23", "--year", "2025", "--task", "以工代赈任务",
                               "--source", "provincial", "--tracking", "--id", "R1"])
    assert (code, out.strip()) == (0, "R1")
    code, out, _ = run(base + ["--format", "json", "forward", "--parent", "R1", "--to", "拉萨市",
                               "--amount", "741万", "--doc", "D2", "--date", "2024-12-25"])
    assert code == 0 and json.loads(out)["id"].startswith("I-")
    code, _, err = run(base + ["forward", "--parent", "R1", "--to", "拉萨市", "--amount", "1e5",
                               "--doc", "D2", "--date", "2024-12-25"])
    assert code == 2 and "--amount" in err
    code, _, err = run(base + ["forward", "--parent", "R1", "--to", "拉萨市", "--amount", "5000万",
                               "--doc", "D2", "--date", "2024-12-25"])
    assert code == 3 and "available-non-negative" in err
    code, _, err = run(base + ["forward", "--parent", "R1", "--to", "拉萨市", "--amount", "1万",
                               "--doc", "D2", "--date", "2024-12-25", "--no-tracking"])
    assert code == 3 and "tracking-flag-unchanged" in err
    assert run(base + ["project", "add", "--id", "P1", "--unit", "拉萨市", "--name", "大棚",
                       "--category", "产业发展", "--date", "2025-01-01"])[0] == 0
    assert run(base + ["forward", "--parent", "R1", "--to", "拉萨市", "--amount", "200万", "--doc", "D2",
                       "--date", "2024-12-25", "--id", "C1", "--tracking"])[0] == 0
    assert run(base + ["allocate", "--indicator", "C1", "--project", "P1", "--amount", "100万",
                       "--date", "2025-01-02"])[0] == 0
    code, out, _ = run(base + ["pay", "--project", "P1", "--amount", "120000.00", "--date", "2025-01-03",
                               "--payee", "某公司", "--voucher", "V1"])
    assert (code, out.strip()) == (0, "P1:P1")
    assert run(base + ["reverse", "P1:P1", "--date", "2025-01-04", "--reason", "错付"])[0] == 0
    code, _, err = run(base + ["reverse", "P1:P1", "--date", "2025-01-04", "--reason", "错付"])
    assert code == 3 and "reverse-once" in err
    code, _, err = run(base + ["project", "rename", "--id", "P1", "--name", "温室", "--doc", "",
                               "--date", "2025-01-05"])
    assert code == 2 and "--doc" in err


def test_unreachable_store_exits_4(tmp_path: object) -> None:
    code, _, err = run(["--db", "/nonexistent/dir/x.db", "init"])
    assert code == 4 and "cannot open the store" in err
    code, _, err = run(["--db", "postgresql+psycopg://nobody@127.0.0.1:1/none", "init"])
    assert code == 4
