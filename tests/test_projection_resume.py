"""A projection killed with SIGKILL in the middle of a batch resumes without losing or doubling an event.

The child process applies batches of 25 events; after writing the rows of its 5th batch, and
before that transaction commits, it announces itself and waits — and is killed right there.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

from ledger.application import BudgetLedger
from ledger.commands import AddProjectCommand, AllocateCommand, PayCommand, build
from projections.db import scratch_engine
from projections.journal import LIVE, events
from projections.updater import Projector, read_position
from projections.verify import verify_projections
from tests.helpers import forward, issue
from tests.strategies import dump

BATCH = 25
KILL_IN_BATCH = 5

CHILD = f"""
import sys, time
from ledger.application import BudgetLedger
from projections.updater import Projector

app = BudgetLedger.open(sys.argv[1])
original = Projector.apply_range
count = 0

def apply_range(self, conn, after, upto):
    global count
    applied = original(self, conn, after, upto)  # rows written, transaction still open
    count += 1
    print("written", count, flush=True)
    if count == {KILL_IN_BATCH}:
        time.sleep(60)  # killed here, before the commit
    return applied

Projector.apply_range = apply_range
Projector(app, batch_size={BATCH}, bulk_batch_size={BATCH}).catch_up()
print("finished", flush=True)
"""


def many_events(app: BudgetLedger, projects: int = 150) -> int:
    issue(app, "R", "区", "10000万")
    forward(app, "R", "C", "县", "10000万")
    with app.batch() as b:
        for i in range(projects):
            pid = f"X{i}"
            b.add_project(build(AddProjectCommand, project_id=pid, unit="县", name=f"项目{i}",
                                category="产业发展", effective_date="2025-02-01"))
            b.allocate(build(AllocateCommand, indicator_id="C", project_id=pid, amount="10万",
                             effective_date="2025-02-10"))
            b.pay(build(PayCommand, project_id=pid, amount=f"{1000 + i}.50",
                        effective_date="2025-03-01", payee="某公司"))
    return app.last_position()


def test_killed_projection_resumes_with_identical_tables(app: BudgetLedger, db_url: str) -> None:
    head = many_events(app)
    assert head > 20 * BATCH
    root = Path(__file__).resolve().parents[1]
    env = {**os.environ, "PYTHONPATH": str(root)}
    child = subprocess.Popen([sys.executable, "-c", CHILD, db_url], stdout=subprocess.PIPE,
                             text=True, env=env, cwd=root)
    try:
        assert child.stdout is not None
        for line in child.stdout:
            if line.strip() == f"written {KILL_IN_BATCH}":
                break
        else:
            raise AssertionError("the child finished before it could be killed")
        child.send_signal(signal.SIGKILL)
        child.wait(timeout=30)
    finally:
        if child.poll() is None:
            child.kill()
    assert child.returncode == -signal.SIGKILL

    projector = Projector(app)
    with projector.engine.connect() as conn:  # the half-written batch left no trace
        assert read_position(conn) == (KILL_IN_BATCH - 1) * BATCH
        assert len(events(conn, LIVE)) == (KILL_IN_BATCH - 1) * BATCH

    assert projector.catch_up() == head - (KILL_IN_BATCH - 1) * BATCH
    assert projector.position() == head
    assert verify_projections(app, projector.engine) == []
    fresh = scratch_engine()
    Projector(app, fresh).rebuild()
    assert dump(projector.engine) == dump(fresh)
    assert projector.catch_up() == 0  # nothing applied twice
