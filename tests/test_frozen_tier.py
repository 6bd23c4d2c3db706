"""The aggregate cache's frozen tier (ledger/aggregate_cache.py, Project.freeze/thaw): a project
pushed out of the live tier is kept as bytes and thawed into the same state; it is never stale
(another writer's events evict it), it is bounded, and it can be turned off."""

from __future__ import annotations

import tempfile
from datetime import date
from pathlib import Path

import pytest
from hypothesis import given

import ledger.aggregate_cache as cache_mod
from ledger.aggregate_cache import CACHE_ENV, FROZEN_ENV
from ledger.application import BudgetLedger
from ledger.commands import PayCommand, build
from ledger.errors import InputError
from ledger.project import PaymentBook, Project
from tests.helpers import allocate, issue, pay, project
from tests.test_snapshots import KEY, OPS, apply_all, open_ledger, replayed, state


@given(OPS)
def test_a_thawed_project_equals_the_one_frozen_and_the_replay(
        ops: list[tuple[str, int, int]]) -> None:
    """Every kind of project event (payments with and without vouchers, reversals, releases,
    a second funding line, progress, renames): the thawed state is the replayed one."""
    with tempfile.TemporaryDirectory() as tmp:
        app = open_ledger(Path(tmp) / "l.db")
        apply_all(app, ops)
        full = replayed(app)
        thawed = Project.thaw(full.freeze())
        assert thawed is not full and type(thawed) is Project
        assert state(thawed) == state(full)
        assert thawed.pending_events == [] and thawed.id == KEY
        again = Project.thaw(thawed.freeze())  # thawing shares nothing with what was frozen
        again.payments.add(f"{again.project_id}:P999", "R9", 1, date(2030, 1, 1), "V9")
        again.payments.reversed[:] = bytes(len(again.payments))
        for line in again.lines.values():
            line.unpaid.add(date(2030, 1, 1), 1)
        assert state(thawed) == state(full)
        app.close()


def test_unusual_payment_ids_and_a_new_attribute_survive(tmp_path: Path) -> None:
    app = open_ledger(tmp_path / "l.db")
    pay(app, "P1", "1万", voucher="A")
    prj = replayed(app)
    states = {f"odd-{k}": p for k, p in prj.payments.items()}  # not PROJECT:Pn
    next(iter(states.values())).indicator_id = "not-a-line"  # frozen as itself
    prj.payments = PaymentBook.of(prj.payments.prefix, states,
                                  {v: f"odd-{k}" for v, k in prj.vouchers.items()})
    assert list(prj.payments) == ["odd-P1:P1"] and prj.vouchers == {"A": "odd-P1:P1"}
    prj.note = "an attribute a later version adds"
    thawed = Project.thaw(prj.freeze())
    assert state(thawed) == state(prj)
    app.close()


def _passes(app: BudgetLedger, names: list[str], months: int, per_batch: int,
            tag: str = "") -> None:
    for month in range(months):
        for start in range(0, len(names), per_batch):
            with app.batch() as b:
                b.preload(names[start:start + per_batch])
                for n in names[start:start + per_batch]:
                    b.pay(build(PayCommand, project_id=n, amount=100, payee="某公司",
                                voucher=f"{n}-{tag}{month}", effective_date=f"2025-0{month + 3}-01"))


def _ledger(url: str, names: list[str]) -> BudgetLedger:
    app = BudgetLedger.open(url)
    issue(app, "R", "拉萨市", "1000万")
    for n in names:
        project(app, n, "拉萨市")
        allocate(app, "R", n, "1万")
    return app


def _small_bulk_ledger(db_url: str, mp: pytest.MonkeyPatch,
                       bound: int) -> tuple[BudgetLedger, list[str]]:
    """24 projects under a bound of ``bound`` units; a put of 4 counts as bulk."""
    mp.setattr(cache_mod, "BULK_PUT", 4)
    mp.setenv(CACHE_ENV, str(bound))
    names = [f"P{k:02d}" for k in range(24)]
    return _ledger(db_url, names), names


def test_passes_over_more_than_the_live_tier_holds_thaw_instead_of_replaying(
        db_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    app, names = _small_bulk_ledger(db_url, monkeypatch, bound=100)  # 40 KB: a few live
    cache = app.aggregate_cache
    misses = cache.misses
    _passes(app, names, 3, 6)
    assert cache.misses == misses  # every load of every pass came from the cache
    assert cache.thawed > 0 and len(cache.frozen) > 0
    assert cache.frozen_bytes == sum(len(d) + cache_mod.ENTRY for d in cache.frozen.values())
    for n in names:  # and never a wrong answer
        got = app.get_project(n)
        assert state(got) == state(_fresh(app, n))
    app.close()


def _fresh(app: BudgetLedger, project_id: str) -> Project:
    from ledger.library_patches import fold

    agg = app.repository.get(Project.uuid_for(project_id), projector_func=fold)
    assert isinstance(agg, Project)
    return agg


def test_another_writer_evicts_a_frozen_project(db_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(CACHE_ENV, "4")  # 1.6 KB: no aggregate stays live, two projects fit frozen
    app = _ledger(db_url, ["P1", "P2"])
    rival = BudgetLedger.open(db_url)
    pay(app, "P1", "0.1万")
    assert Project.uuid_for("P1").int in app.aggregate_cache.frozen
    pay(rival, "P1", "0.5万")  # the frozen P1 is stale now
    prj = app.get_project("P1")
    assert sorted(p.amount for p in prj.payments.values()) == [1_000 * 100, 5_000 * 100]
    assert state(prj) == state(_fresh(app, "P1"))
    rival.close()
    app.close()


def test_one_bound_holds_both_tiers_and_the_frozen_one_can_be_turned_off(
        db_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    bound = 12  # 4.8 KB: about a dozen of the 24 frozen (~400 B each with their entries)
    app, names = _small_bulk_ledger(db_url, monkeypatch, bound=bound)
    cache = app.aggregate_cache
    _passes(app, names, 2, 6)
    assert 0 < len(cache.frozen) < len(names)  # more than fits: some were dropped
    assert cache.weight * cache_mod.UNIT + cache.frozen_bytes <= bound * cache_mod.UNIT
    assert cache.weight <= bound // cache_mod.LIVE_FLOOR + 8  # the live tier gave way
    assert state(app.get_project("P05")) == state(_fresh(app, "P05"))
    app.close()
    monkeypatch.setenv(FROZEN_ENV, "0")
    app = BudgetLedger.open(db_url)
    _passes(app, names[:12], 1, 6, tag="again")
    assert len(app.aggregate_cache.frozen) == 0 and app.aggregate_cache.thawed == 0
    assert len(app.aggregate_cache.items) > 0
    app.close()
    monkeypatch.setenv(FROZEN_ENV, "yes")
    with pytest.raises(InputError, match=FROZEN_ENV):
        BudgetLedger.open(db_url)
    fresh = db_url.replace("ledger.db", "never.db")
    with pytest.raises(InputError, match=FROZEN_ENV):  # refused before the store is made
        BudgetLedger.open(fresh)
    assert not Path(fresh.removeprefix("sqlite:///")).exists()


def test_a_project_that_cannot_be_frozen_is_dropped_and_the_save_stands(
        db_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """The freeze runs after the commit: a failure there must not fail (and so re-run) a
    command already recorded; the project is only not kept."""
    monkeypatch.setenv(CACHE_ENV, "4")  # 1.6 KB, less than any live aggregate weighs: all go
    app = _ledger(db_url, ["P1"])
    monkeypatch.setattr(Project, "freeze", lambda self: 1 / 0)
    payment = pay(app, "P1", "0.1万")
    assert Project.uuid_for("P1") not in app.aggregate_cache
    assert list(app.get_project("P1").payments) == [payment]  # recorded once
    app.close()


def test_the_live_tier_stays_under_its_cap_while_the_frozen_tier_is_on(
        db_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """The 24 projects (~150 units live) fit the bound of 200 units, but not the live tier's
    half of it: the rest are frozen, none is dropped, and none is missed."""
    app, names = _small_bulk_ledger(db_url, monkeypatch, bound=200)
    cache = app.aggregate_cache
    misses = cache.misses
    _passes(app, names, 2, 6)
    assert cache.weight <= 200 // cache_mod.LIVE_CAP
    assert len(cache.frozen) > 0 and len(cache) == len(names) + 1  # the projects and R
    assert cache.misses == misses
    assert state(app.get_project("P03")) == state(_fresh(app, "P03"))
    app.close()
    monkeypatch.setenv(FROZEN_ENV, "0")  # no frozen tier: the whole bound is the live tier's
    app = BudgetLedger.open(db_url)
    _passes(app, names, 1, 6, tag="again")
    assert app.aggregate_cache.weight > 200 // cache_mod.LIVE_CAP
    app.close()
