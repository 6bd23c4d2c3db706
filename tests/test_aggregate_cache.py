"""The in-process aggregate cache (ledger/aggregate_cache.py): it saves reloads and never changes
an answer — another writer's events evict what they touch, a failed batch never puts its
half-mutated aggregates back, and a stale aggregate still loses the optimistic-concurrency check.
"""

from __future__ import annotations

import pytest

from ledger.aggregate_cache import CACHE_ENV, weigh
from ledger.application import BudgetLedger
from ledger.batch import Batch
from ledger.commands import PayCommand, build
from ledger.errors import InputError, StoreUnavailable
from ledger.invariants import InvariantViolation
from ledger.library_patches import fold
from ledger.project import Project
from tests.helpers import allocate, issue, pay, project


def _books(prj: Project) -> tuple[object, ...]:
    lines = {k: (v.allocated, v.paid, v.unpaid.total, list(v.unpaid.moves), v.unpaid.last)
             for k, v in prj.lines.items()}
    payments = {k: (p.indicator_id, p.amount, p.effective_date, p.reversed)
                for k, p in prj.payments.items()}
    return (prj.version, prj.name, lines, payments, dict(prj.vouchers), prj.last_date)


def _fresh(app: BudgetLedger, project_id: str) -> Project:
    """Straight from the store, around every cache."""
    agg = app.repository.get(Project.uuid_for(project_id), projector_func=fold)
    assert isinstance(agg, Project)
    return agg


def _ledger(any_url: str) -> BudgetLedger:
    app = BudgetLedger.open(any_url)
    issue(app, "R", "拉萨市", "1000万")
    project(app, "P1", "拉萨市")
    allocate(app, "R", "P1", "100万")
    return app


def test_a_cached_aggregate_equals_a_fresh_load(any_url: str) -> None:
    app = _ledger(any_url)
    for i in range(5):
        pay(app, "P1", "1万", voucher=f"V{i}", effective_date=f"2025-03-{10 - i:02d}")
    hits = app.aggregate_cache.hits
    b = Batch(app)
    cached = b.project("P1")
    assert app.aggregate_cache.hits == hits + 1  # served from the cache, not the store
    assert _books(cached) == _books(_fresh(app, "P1"))
    app.close()


def test_another_writer_evicts_what_it_touched(any_url: str) -> None:
    app = _ledger(any_url)
    rival = BudgetLedger.open(any_url)
    pay(app, "P1", "10万")  # app now holds P1 at its newest version
    pay(rival, "P1", "85万")  # ... which another writer makes stale
    assert _books(app.get_project("P1")) == _books(_fresh(rival, "P1"))  # a read sees it
    pay(app, "P1", "0.5万")  # back in the cache
    pay(rival, "P1", "0.5万")
    with pytest.raises(InvariantViolation):
        pay(app, "P1", "10万")  # 4万 left: the refusal is judged on the store's state
    pay(app, "P1", "4万")
    assert _books(app.get_project("P1")) == _books(_fresh(rival, "P1"))
    assert app.get_project("P1").lines["R"].paid == 100 * 10_000 * 100
    rival.close()
    app.close()


def test_a_stale_aggregate_still_fails_the_version_check_and_is_reloaded(any_url: str) -> None:
    """The rival saves between this batch's load (from the cache) and its save."""
    app = _ledger(any_url)
    rival = BudgetLedger.open(any_url)
    pay(app, "P1", "1万")
    attempts = 0
    cmd = build(PayCommand, project_id="P1", amount="1万", payee="mine", effective_date="2025-03-02")

    def work(b: Batch) -> str:
        nonlocal attempts
        attempts += 1
        result = b.pay(cmd)
        if attempts == 1:
            pay(rival, "P1", "1万", payee="rival")
        return result

    app.run(work)
    assert attempts == 2
    prj = _fresh(app, "P1")
    assert sorted(p.amount for p in prj.payments.values()) == [10_000 * 100] * 3
    assert _books(app.get_project("P1")) == _books(prj)

    # an import batch does not retry: it says so, and the next one loads afresh
    with pytest.raises(StoreUnavailable), app.batch() as b:
        b.pay(cmd)
        pay(rival, "P1", "1万", payee="rival")
    pay(app, "P1", "1万")
    assert len(_fresh(app, "P1").payments) == 5
    rival.close()
    app.close()


def test_a_failed_batch_puts_nothing_back(any_url: str) -> None:
    app = _ledger(any_url)
    pay(app, "P1", "1万")

    def work(b: Batch) -> str:
        b.pay(build(PayCommand, project_id="P1", amount="2万", payee="x",
                    effective_date="2025-03-03"))
        raise InvariantViolation("refused after a mutation")

    with pytest.raises(InvariantViolation):
        app.run(work)
    with pytest.raises(ValueError), app.batch() as b:
        b.pay(build(PayCommand, project_id="P1", amount="3万", payee="x",
                    effective_date="2025-03-03"))
        raise ValueError("import refused")
    prj = app.get_project("P1")
    assert [p.amount for p in prj.payments.values()] == [10_000 * 100]
    assert _books(prj) == _books(_fresh(app, "P1"))
    app.close()


def test_the_cache_is_bounded_and_can_be_turned_off(db_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(CACHE_ENV, "12")  # each aggregate weighs FIXED (5) + version // 4
    app = BudgetLedger.open(db_url)
    issue(app, "R", "拉萨市", "1000万")
    for k in range(5):
        project(app, f"P{k}", "拉萨市")
        allocate(app, "R", f"P{k}", "1万")  # R grows by one event each time
    cache = app.aggregate_cache
    assert cache.weight == sum(weigh(a) for a in cache.items.values()) <= 12
    assert 0 < len(cache) < 6
    pay(app, "P4", "0.5万")
    assert cache.weight == sum(weigh(a) for a in cache.items.values()) <= 12
    app.close()
    monkeypatch.setenv(CACHE_ENV, "0")
    app = BudgetLedger.open(db_url)
    allocate(app, "R", "P1", "1万")
    pay(app, "P1", "1万")
    assert len(app.aggregate_cache) == 0 and app.aggregate_cache.hits == 0
    app.close()
    monkeypatch.setenv(CACHE_ENV, "lots")
    with pytest.raises(InputError):
        BudgetLedger.open(db_url)


def test_preload_loads_in_bulk_what_one_by_one_would(any_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(CACHE_ENV, "0")  # every aggregate from the store
    app = BudgetLedger.open(any_url)
    issue(app, "R", "拉萨市", "1000万")
    for k in range(7):
        project(app, f"P{k}", "拉萨市")
        allocate(app, "R", f"P{k}", "10万")
        for i in range(k):
            pay(app, f"P{k}", "1万", voucher=f"V{k}-{i}", effective_date=f"2025-03-{9 - i:02d}")
    b = Batch(app)
    held = b.project("P0")
    assert b.preload([f"P{k}" for k in range(7)] + ["nope"], indicator_ids=["R", "nope"]) == 7
    assert b.project("P0") is held  # what the batch holds is kept
    for k in range(7):
        assert _books(b.projects[f"P{k}"]) == _books(_fresh(app, f"P{k}"))
    assert b.indicators["R"].version == app.get_indicator("R").version
    assert "nope" not in b.projects and "nope" not in b.indicators
    with pytest.raises(InvariantViolation):
        b.project("nope")  # still refused by the command that names it
    b.pay(build(PayCommand, project_id="P3", amount="7万", payee="x", effective_date="2025-04-01"))
    with pytest.raises(InvariantViolation):  # the preloaded books are the real ones
        b.pay(build(PayCommand, project_id="P3", amount="0.01万", payee="x",
                    effective_date="2025-04-01"))
    app.close()


def test_ids_preload_found_absent_are_new_and_a_rival_creating_one_still_loses(any_url: str) -> None:
    from ledger.commands import AddProjectCommand
    from ledger.invariants import DuplicateId

    app = _ledger(any_url)
    rival = BudgetLedger.open(any_url)
    b = Batch(app)
    b.preload(["P1", "P2", "P3"])
    assert b.absent == {Project.uuid_for("P2"), Project.uuid_for("P3")}
    cmd = {"unit": "拉萨市", "name": "n", "category": "以工代赈", "effective_date": "2025-02-01"}
    with pytest.raises(DuplicateId):  # P1 was preloaded: it exists
        b.add_project(build(AddProjectCommand, project_id="P1", **cmd))
    b.add_project(build(AddProjectCommand, project_id="P2", **cmd))
    project(rival, "P3", "拉萨市")  # created by someone else after the preload
    b.add_project(build(AddProjectCommand, project_id="P3", **cmd))  # this batch's view: new
    with pytest.raises(StoreUnavailable):  # ... but the save refuses: nothing of it is written
        with app.batch() as ib:
            ib.projects.update(b.projects)
    assert not app.exists(Project.uuid_for("P2"))

    def work(batch: Batch) -> str:  # a command run by run() is retried and then refused
        batch.preload(["P4"])
        if not rival.exists(Project.uuid_for("P4")):
            project(rival, "P4", "拉萨市")
        return batch.add_project(build(AddProjectCommand, project_id="P4", **cmd))

    with pytest.raises(DuplicateId):
        app.run(work)
    rival.close()
    app.close()


def test_passes_over_more_than_the_cache_holds_still_hit(db_url: str,
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    """Batches visiting the same projects in the same order, pass after pass (an import's monthly
    files): plain LRU evicts exactly the project the next batch needs and never hits once the
    projects outweigh the bound; a bulk put goes in at the old end, so the cache keeps a share."""
    import ledger.aggregate_cache as cache_mod

    monkeypatch.setattr(cache_mod, "BULK_PUT", 4, raising=False)
    monkeypatch.setenv(CACHE_ENV, "60")  # 12 projects of version 2: 60 units, then they grow
    app = BudgetLedger.open(db_url)
    issue(app, "R", "拉萨市", "1000万")
    names = [f"P{k:02d}" for k in range(24)]
    for n in names:
        project(app, n, "拉萨市")
        allocate(app, "R", n, "1万")
    for month in range(3):
        hits = app.aggregate_cache.hits
        for start in range(0, len(names), 6):
            with app.batch() as b:
                b.preload(names[start:start + 6])
                for n in names[start:start + 6]:
                    b.pay(build(PayCommand, project_id=n, amount=100, payee="某公司",
                                voucher=f"{n}-{month}", effective_date=f"2025-0{month + 3}-01",
                                actor="test"))
        cache = app.aggregate_cache
        assert cache.weight == sum(weigh(a) for a in cache.items.values()) <= 60
        assert cache.hits - hits >= 4, f"pass {month + 1}: {cache.hits - hits} hits"
    for n in names:  # and never a wrong answer
        assert _books(app.get_project(n)) == _books(_fresh(app, n))
    app.close()
