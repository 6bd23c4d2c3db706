"""Concurrent writers: real processes paying from one project / forwarding from one indicator.

Afterwards nothing is overspent, every success is exactly one event, the books balance, the hash
chain is one unbroken line, and a writer that can never get through gives up after a bounded
number of attempts with exit 4 — on SQLite ("busy, retried") and on the real PostgreSQL server.
"""

from __future__ import annotations

import multiprocessing as mp
import os
import sqlite3
import subprocess
import sys
import time
from typing import Any

import pytest

from ledger.application import MAX_ATTEMPTS, BudgetLedger
from ledger.batch import Batch
from ledger.commands import PayCommand, build
from ledger.errors import StoreUnavailable
from ledger.integrity import verify_chain
from ledger.invariants import InvariantViolation
from projections import journal as jn
from projections.updater import Projector
from tests.helpers import allocate, forward, issue, pay, project

WRITERS = 4
TRIES = 6  # per writer; WRITERS * TRIES attempts for a budget that covers fewer
STEP = "10万"
STEP_FEN = 100_000 * 100
BUDGET_STEPS = 10


def _writer(url: str, kind: str, writer: int, start_at: float) -> dict[str, Any]:
    """One process: TRIES commands against the same aggregate as every other writer."""
    app = BudgetLedger.open(url)
    done: list[str] = []
    refused = busy = 0
    time.sleep(max(0.0, start_at - time.time()))  # everyone starts together
    for i in range(TRIES):
        try:
            if kind == "pay":
                done.append(pay(app, "P1", STEP, payee=f"writer-{writer}"))
            else:
                done.append(forward(app, "R", f"C{writer}-{i}", "拉萨市", STEP))
        except InvariantViolation:
            refused += 1
        except StoreUnavailable:
            busy += 1
    app.close()
    return {"done": done, "refused": refused, "busy": busy}


def _run_writers(url: str, kind: str) -> list[dict[str, Any]]:
    ctx = mp.get_context("spawn")
    start_at = time.time() + 3
    with ctx.Pool(WRITERS) as pool:
        return pool.starmap(_writer, [(url, kind, w, start_at) for w in range(WRITERS)])


def _count_topic(app: BudgetLedger, suffix: str) -> int:
    notes = app.recorder.select_notifications(0, 1_000_000, inclusive_of_start=False)
    return sum(1 for n in notes if n.topic.endswith(suffix))


def _totals(results: list[dict[str, Any]]) -> tuple[list[str], int, int]:
    done = [d for r in results for d in r["done"]]
    return done, sum(r["refused"] for r in results), sum(r["busy"] for r in results)


def test_concurrent_payments_never_overspend_or_lose_events(any_url: str) -> None:
    app = BudgetLedger.open(any_url)
    issue(app, "R", "拉萨市", "1000万")
    project(app, "P1", "拉萨市")
    allocate(app, "R", "P1", f"{10 * BUDGET_STEPS}万")
    before = app.last_position()

    results = _run_writers(any_url, "pay")
    done, refused, busy = _totals(results)

    assert len(done) + refused + busy == WRITERS * TRIES
    assert len(set(done)) == len(done)  # no payment id handed out twice
    prj = app.get_project("P1")
    line = prj.lines["R"]
    assert line.paid == len(done) * STEP_FEN <= line.allocated  # never overspent
    if busy == 0:
        assert line.paid == line.allocated  # every refusal was a real shortfall
    assert sorted(prj.payments) == sorted(done)
    assert _count_topic(app, "PaymentMade") == len(done)  # one event per success, none lost
    assert app.last_position() >= before + len(done)
    assert verify_chain(app) == []  # concurrent writers extended one chain

    projector = Projector(app, batch_size=7)
    projector.catch_up()
    with projector.engine.connect() as conn:
        pays = [p for p in jn.payments(conn, jn.LIVE) if not p.reversed]
        paid, n = sum(p.amount for p in pays), len(pays)
    assert (n, paid) == (len(done), line.paid)
    projector.engine.dispose()
    app.close()


def test_concurrent_forwards_conserve_money(any_url: str) -> None:
    app = BudgetLedger.open(any_url)
    issue(app, "R", "西藏自治区", f"{10 * BUDGET_STEPS}万")

    results = _run_writers(any_url, "forward")
    done, refused, busy = _totals(results)

    assert len(done) + refused + busy == WRITERS * TRIES
    root = app.get_indicator("R")
    children = [app.get_indicator(c) for c in done]
    assert root.forwarded == sum(c.received for c in children) == len(done) * STEP_FEN
    assert root.available == root.received - root.forwarded >= 0
    if busy == 0:
        assert root.available == 0
    assert _count_topic(app, "ForwardedOut") == _count_topic(app, "Received") == len(done)
    assert verify_chain(app) == []

    projector = Projector(app)
    projector.catch_up()
    with projector.engine.connect() as conn:
        rows = [(r.indicator_id, r.received, r.forwarded, r.available)
                for r in jn.indicators(conn, jn.LIVE)]
    by_id = {r[0]: r for r in rows}
    assert by_id["R"][2] == sum(by_id[c][1] for c in done) == root.forwarded
    assert by_id["R"][3] == root.available
    projector.engine.dispose()
    app.close()


def test_a_writer_that_always_conflicts_gives_up_after_bounded_retries(any_url: str) -> None:
    """Every attempt loses to a rival that pays on the same project in between load and save:
    a real optimistic-concurrency conflict in the store, MAX_ATTEMPTS times, then StoreUnavailable."""
    app = BudgetLedger.open(any_url)
    rival = BudgetLedger.open(any_url)
    issue(app, "R", "拉萨市", "1000万")
    project(app, "P1", "拉萨市")
    allocate(app, "R", "P1", "500万")
    attempts = 0
    cmd = build(PayCommand, project_id="P1", amount="1万", payee="loser", effective_date="2025-03-01")

    def work(b: Batch) -> str:
        nonlocal attempts
        attempts += 1
        result = b.pay(cmd)
        pay(rival, "P1", "1万", payee="rival")  # the rival saves first, every time
        return result

    with pytest.raises(StoreUnavailable, match="attempts conflicted"):
        app.run(work)
    assert attempts == MAX_ATTEMPTS
    prj = app.get_project("P1")
    assert [p.amount for p in prj.payments.values()] == [10_000 * 100] * MAX_ATTEMPTS  # rival's only
    assert verify_chain(app) == []
    rival.close()
    app.close()


def _cli(url: str, *args: str, lock_timeout: str = "1") -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "BUDGET_LEDGER_LOCK_TIMEOUT": lock_timeout}
    return subprocess.run(
        [sys.executable, "-c", "from cli.main import main; main()", "--db", url, *args],
        capture_output=True, text=True, env=env, timeout=120,
    )


def test_cli_writer_behind_a_held_lock_exits_4_and_writes_nothing(any_url: str) -> None:
    """Another process holds the store's write lock for longer than a writer will wait."""
    app = BudgetLedger.open(any_url)
    issue(app, "R", "拉萨市", "1000万")
    project(app, "P1", "拉萨市")
    allocate(app, "R", "P1", "500万")
    before = app.last_position()
    pay_args = ("pay", "--project", "P1", "--amount", "1万", "--payee", "某公司", "--date", "2025-03-01")

    cfg = app.config
    if cfg.kind == "sqlite":
        holder: Any = sqlite3.connect(cfg.sqlite_path or "", isolation_level=None)
        holder.execute("BEGIN IMMEDIATE")
    else:
        import psycopg

        dsn = cfg.sqlalchemy_url.replace("postgresql+psycopg://", "postgresql://")
        holder = psycopg.connect(dsn, options=f"-csearch_path={cfg.schema}")
        holder.execute(f"LOCK TABLE {app.recorder.events_table_name} IN EXCLUSIVE MODE")  # type: ignore[attr-defined]
    try:
        proc = _cli(cfg.url, *pay_args)  # gives up within its bounded retries, or times out
    finally:
        holder.rollback() if cfg.kind == "postgres" else holder.execute("ROLLBACK")
        holder.close()
    assert proc.returncode == 4, proc.stderr
    assert "busy" in proc.stderr and f"{MAX_ATTEMPTS} attempts" in proc.stderr
    assert app.last_position() == before
    assert app.get_project("P1").payments == {}

    proc = _cli(cfg.url, *pay_args)  # the lock is gone: the same command goes through
    assert proc.returncode == 0, proc.stderr
    assert len(app.get_project("P1").payments) == 1
    app.close()
