"""BudgetLedger.run gives up after MAX_ATTEMPTS attempts or BUDGET_LEDGER_MAX_WAIT seconds, whichever
comes first, and says how long it waited; a read-only store is said to be read-only at once."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner
from eventsourcing.persistence import OperationalError

from cli.main import cli, register
from ledger import application
from ledger.application import MAX_ATTEMPTS, BudgetLedger
from ledger.batch import Batch
from ledger.errors import StoreUnavailable
from tests.helpers import issue

register()


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> Clock:
    c = Clock()
    monkeypatch.setattr(application, "_clock", c)
    monkeypatch.setattr(application, "_sleep", lambda s: setattr(c, "now", c.now + s))
    return c


def _locked_for(monkeypatch: pytest.MonkeyPatch, clock: Clock, seconds: float,
                message: str = "database is locked") -> list[int]:
    calls: list[int] = []

    def commit(self: Batch) -> int:
        calls.append(1)
        clock.now += seconds  # each attempt waits out the lock timeout
        raise OperationalError(message)

    monkeypatch.setattr(Batch, "commit", commit)
    return calls


def test_attempts_that_each_wait_30_s_stop_after_the_time_budget(
        app: BudgetLedger, clock: Clock, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("BUDGET_LEDGER_MAX_WAIT", raising=False)
    calls = _locked_for(monkeypatch, clock, 30)
    with pytest.raises(StoreUnavailable) as e:
        issue(app, "R", "拉萨市", "10万")
    assert len(calls) == 2 < MAX_ATTEMPTS  # 2 × 30 s, not 8 × 30 s
    assert "2 attempts" in str(e.value) and "over 60.0 s" in str(e.value)
    assert "60 s, BUDGET_LEDGER_MAX_WAIT" in str(e.value) and "nothing was written" in str(e.value)


def test_quick_conflicts_still_stop_after_max_attempts(
        app: BudgetLedger, clock: Clock, monkeypatch: pytest.MonkeyPatch) -> None:
    calls = _locked_for(monkeypatch, clock, 0.01)
    with pytest.raises(StoreUnavailable, match=f"{MAX_ATTEMPTS} attempts conflicted"):
        issue(app, "R", "拉萨市", "10万")
    assert len(calls) == MAX_ATTEMPTS


def test_the_budget_is_configurable(app: BudgetLedger, clock: Clock,
                                    monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BUDGET_LEDGER_MAX_WAIT", "5")
    calls = _locked_for(monkeypatch, clock, 2)
    with pytest.raises(StoreUnavailable, match=r"3 attempts .* over 6\.\d s"):
        issue(app, "R", "拉萨市", "10万")
    assert len(calls) == 3


def test_a_read_only_store_is_said_to_be_read_only_without_retrying(
        tmp_path: Path, clock: Clock, monkeypatch: pytest.MonkeyPatch) -> None:
    db = tmp_path / "l.db"
    assert CliRunner().invoke(cli, ["--db", str(db), "init"]).exit_code == 0
    calls = _locked_for(monkeypatch, clock, 0, "attempt to write a readonly database")
    res = CliRunner().invoke(cli, ["--db", str(db), "issue", "--to", "拉萨市", "--amount", "1万",
                                   "--doc", "D1", "--date", "2025-01-05", "--year", "2025",
                                   "--task", "以工代赈任务", "--source", "provincial"])
    assert res.exit_code == 4 and len(calls) == 1
    assert "read-only" in res.stderr and "busy" not in res.stderr


def test_a_bad_max_wait_is_exit_2(tmp_path: Path) -> None:
    res = CliRunner().invoke(cli, ["--db", str(tmp_path / "l.db"), "issue", "--to", "拉萨市",
                                   "--amount", "1万", "--doc", "D1", "--date", "2025-01-05",
                                   "--year", "2025", "--task", "以工代赈任务", "--source",
                                   "provincial"], env={"BUDGET_LEDGER_MAX_WAIT": "soon"})
    assert res.exit_code == 2 and "BUDGET_LEDGER_MAX_WAIT" in res.stderr
