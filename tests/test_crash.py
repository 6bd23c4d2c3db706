"""Crash safety of the write side: SIGKILL a process in the middle of a large import.

A child process saves thousands of payments in one ``app.batch()``. It is killed either at a
known point — inside the save's transaction, after every event row (and chain row) is written,
before the commit — or at a few moments after the save began. Afterwards the store holds none
of the import or all of it, the hash chain is intact, the store is not wedged (the same import
then goes through), and the read models catch up to agree with a clean rebuild.
(The read side's own kill test is tests/test_projection_resume.py.)
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from ledger.application import BudgetLedger
from ledger.commands import AddProjectCommand, AllocateCommand, build
from ledger.integrity import verify_chain
from projections.updater import Projector
from projections.verify import verify_projections
from tests.helpers import issue

PROJECTS = 30
PAYMENTS = 3000
ROOT = Path(__file__).resolve().parents[1]

CHILD = """
import sys, time
from ledger import integrity
from ledger.application import BudgetLedger
from ledger.commands import PayCommand, build

url, n, projects, mode = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
if mode == "pause":  # stop inside the save's transaction, rows written, commit not yet sent
    for cls, name in ((integrity.ChainedSQLiteApplicationRecorder, "_insert_events"),
                      (integrity.ChainedPostgresApplicationRecorder, "_fetch_ids_after_insert_events")):
        def wrapped(self, *a, _orig=getattr(cls, name), **k):
            result = _orig(self, *a, **k)
            print("inside", flush=True)
            time.sleep(120)
            return result
        setattr(cls, name, wrapped)
app = BudgetLedger.open(url)
with app.batch() as b:
    for i in range(n):
        b.pay(build(PayCommand, project_id=f"X{i % projects}", amount="1.00", payee="某公司",
                    effective_date="2025-03-01", voucher=f"V{i}"))
    print("saving", flush=True)
print("saved", flush=True)
"""


def _setup(app: BudgetLedger) -> int:
    issue(app, "R", "县", "10000万")
    with app.batch() as b:
        for i in range(PROJECTS):
            pid = f"X{i}"
            b.add_project(build(AddProjectCommand, project_id=pid, unit="县", name=f"项目{i}",
                                category="产业发展", effective_date="2025-02-01"))
            b.allocate(build(AllocateCommand, indicator_id="R", project_id=pid, amount="10万",
                             effective_date="2025-02-10"))
    return _events(app)


def _child(url: str, mode: str) -> subprocess.Popen[str]:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.Popen(
        [sys.executable, "-c", CHILD, url, str(PAYMENTS), str(PROJECTS), mode],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env, cwd=ROOT,
    )


def _kill_after(child: subprocess.Popen[str], marker: str, delay: float) -> None:
    try:
        assert child.stdout is not None
        for line in child.stdout:
            if line.strip() == marker:
                break
        else:
            raise AssertionError(f"the child ended before {marker!r}: {child.stderr.read() if child.stderr else ''}")
        time.sleep(delay)
        child.send_signal(signal.SIGKILL)
        child.wait(timeout=30)
    finally:
        if child.poll() is None:
            child.kill()
            child.wait()


def _events(app: BudgetLedger) -> int:
    """How many events are stored (not the head position: PostgreSQL ids have gaps after a
    rolled-back insert)."""
    return len(app.recorder.select_notifications(0, 10**7, inclusive_of_start=False))


def _payments(app: BudgetLedger) -> int:
    return sum(len(app.get_project(f"X{i}").payments) for i in range(PROJECTS))


def _check_all_or_nothing(url: str, before: int) -> bool:
    """True when the import landed whole, False when it left no trace; anything else fails."""
    app = BudgetLedger.open(url)
    try:
        count, paid = _events(app), _payments(app)
        assert (count, paid) in ((before, 0), (before + PAYMENTS, PAYMENTS)), (count, paid)
        assert verify_chain(app) == []
        return count > before
    finally:
        app.close()


def _finish_and_compare(url: str, before: int, landed: bool) -> None:
    """The store still takes the import (unless it landed) and the read models agree."""
    if not landed:
        child = _child(url, "none")
        out, err = child.communicate(timeout=300)
        assert child.returncode == 0, err
        assert out.splitlines()[-1] == "saved"
    app = BudgetLedger.open(url)
    try:
        assert _events(app) == before + PAYMENTS and _payments(app) == PAYMENTS
        assert verify_chain(app) == []
        projector = Projector(app, batch_size=500)
        projector.catch_up()
        assert verify_projections(app, projector.engine) == []
        projector.engine.dispose()
    finally:
        app.close()


def test_kill_inside_the_save_transaction_leaves_nothing(any_url: str) -> None:
    app = BudgetLedger.open(any_url)
    before = _setup(app)
    app.close()
    child = _child(any_url, "pause")
    _kill_after(child, "inside", 0.0)
    assert child.returncode == -signal.SIGKILL
    assert _check_all_or_nothing(any_url, before) is False  # killed before the commit
    _finish_and_compare(any_url, before, landed=False)


@pytest.mark.parametrize("delay", [0.0, 0.05, 0.2])
def test_kill_at_some_moment_of_the_save_is_all_or_nothing(any_url: str, delay: float) -> None:
    app = BudgetLedger.open(any_url)
    before = _setup(app)
    app.close()
    child = _child(any_url, "none")
    _kill_after(child, "saving", delay)
    landed = _check_all_or_nothing(any_url, before)
    _finish_and_compare(any_url, before, landed)
