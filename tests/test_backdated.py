"""Back-dated entries are accepted when every as-of view from their date on stays valid, and the
bitemporal views then show them from their own date — as known from their recording."""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime
from pathlib import Path

import pytest
from click.testing import CliRunner

from cli.main import cli, register
from ledger import invariants as inv
from ledger.application import BudgetLedger
from ledger.commands import DeallocateCommand, ProgressCommand, build
from tests.helpers import allocate, forward, issue, pay, project

register()


def books(app: BudgetLedger) -> None:
    """R 1,000万 (01-01) → C 400万 (01-05) → P1 funded 100万 (02-10), 10万 paid (03-01)."""
    issue(app, "R", "西藏自治区", "1000万")
    forward(app, "R", "C", "城关区", "400万")
    project(app, "P1", "城关区")
    allocate(app, "C", "P1", "100万")
    pay(app, "P1", "10万", voucher="V1")


def test_a_backdated_payment_must_fit_on_its_day_and_every_later_day(app: BudgetLedger) -> None:
    books(app)
    assert pay(app, "P1", "5万", effective_date="2025-02-20", voucher="V2") == "P1:P2"
    app.deallocate(build(DeallocateCommand, indicator_id="C", project_id="P1", amount="80万",
                         effective_date="2025-04-01", reason="核减"))
    # on 02-15 the line had 100万 unpaid, but from 04-01 on only 5万: a 6万 payment dated 02-15
    # would leave the books of 04-01 overdrawn
    before = app.last_position()
    with pytest.raises(inv.PaymentExceedsFunding, match="on 2025-02-15 and every day after"):
        pay(app, "P1", "6万", effective_date="2025-02-15", voucher="V3")
    assert app.last_position() == before
    pay(app, "P1", "5万", effective_date="2025-02-15", voucher="V3")
    assert app.get_project("P1").lines["C"].unpaid.lowest_from(datetime(2025, 2, 10).date()) == 0


def test_a_backdated_release_must_leave_later_payments_covered(app: BudgetLedger) -> None:
    books(app)
    with pytest.raises(inv.PaymentExceedsFunding, match="on 2025-02-20 and every day after"):
        app.deallocate(build(DeallocateCommand, indicator_id="C", project_id="P1", amount="95万",
                             effective_date="2025-02-20", reason="核减"))
    app.deallocate(build(DeallocateCommand, indicator_id="C", project_id="P1", amount="90万",
                         effective_date="2025-02-20", reason="核减"))


def test_a_backdated_allocation_must_fit_the_indicator_on_every_later_day(app: BudgetLedger) -> None:
    books(app)
    forward(app, "C", "D", "城关区", "300万", effective_date="2025-03-10")  # C keeps 0 from 03-10
    project(app, "P2", "城关区")
    with pytest.raises(inv.AvailableWouldGoNegative, match="2025-02-15"):
        allocate(app, "C", "P2", "1万", effective_date="2025-02-15")  # fine on 02-15, not on 03-10


def run(db: str, *args: str) -> tuple[int, str]:
    res = CliRunner().invoke(cli, ["--db", db, "--format", "json", *args])
    assert res.exit_code == 0, res.stderr
    return res.exit_code, res.stdout


def paid(db: str, *when: str) -> str:
    _, out = run(db, "balance", "城关区", *when)
    return {r["indicator"]: r for r in json.loads(out)}["C"]["paid"]


def test_cli_voucher_dated_before_a_progress_report(tmp_path: Path) -> None:
    db = f"sqlite:///{tmp_path / 'l.db'}"
    app = BudgetLedger.open(db)
    books(app)
    app.report_progress(build(ProgressCommand, project_id="P1", percent="50", effective_date="2025-05-01"))
    app.close()
    time.sleep(0.01)
    before_recording = datetime.now(UTC).isoformat()
    time.sleep(0.01)
    # the clerk records, after the May progress report, a voucher of 2025-04-10
    res = CliRunner().invoke(cli, ["--db", db, "pay", "--project", "P1", "--amount", "20万",
                                   "--date", "2025-04-10", "--payee", "某公司", "--voucher", "V-0410"])
    assert res.exit_code == 0, res.stderr
    time.sleep(0.01)
    after_recording = datetime.now(UTC).isoformat()

    assert paid(db) == "300000.00"
    assert paid(db, "--as-of", "2025-04-09") == "100000.00"  # before the voucher's date
    assert paid(db, "--as-of", "2025-04-10") == "300000.00"  # from its date on
    assert paid(db, "--as-of", "2025-06-30", "--known-at", before_recording) == "100000.00"
    assert paid(db, "--as-of", "2025-06-30", "--known-at", after_recording) == "300000.00"
    assert paid(db, "--as-of", "2025-04-09", "--known-at", after_recording) == "100000.00"
    _, out = run(db, "trace", "P1:P2", "--up", "--as-of", "2025-04-10")
    assert json.loads(out)[0]["date"] == "2025-04-10"
    res = CliRunner().invoke(cli, ["--db", db, "trace", "P1:P2", "--as-of", "2025-04-09"])
    assert res.exit_code == 2 and "in this view of the books" in res.stderr
    res = CliRunner().invoke(cli, ["--db", db, "verify"])
    assert res.exit_code == 0, res.stdout
