"""An indicator's terms as one value (``IndicatorTerms``), stored by the transcoder; stores
written before it (the terms as loose fields, class version 1) still load, rebuild and verify.

``data/old_layout_events.json`` is the log of a small scenario (issue R, forward C with a 项级
subject, recover part of C into its pool C-POOL, a project funded from both, a payment, a
recovery to R) as the code before ``IndicatorTerms`` stored it (commit edd9606): each row's
originator id, version, topic and state bytes, exactly.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from uuid import UUID

import pytest
from click.testing import CliRunner
from eventsourcing.persistence import StoredEvent
from sqlalchemy import select

from cli.main import cli
from ledger.application import BudgetLedger
from ledger.batch import Batch
from ledger.commands import ForwardCommand, build
from ledger.imports.lookups import indicators_by_document
from ledger.terms import IndicatorTerms
from projections.stored_state import flatten_terms
from projections.tables import IndicatorRow
from projections.updater import Projector
from projections.verify import verify_projections
from projections.writer import JournalWriter, UndecodableEvent
from projections.writer import StoredEvent as LogRow
from tests.helpers import issue

OLD_LOG = Path(__file__).parent / "data" / "old_layout_events.json"
WAN = 1_000_000  # 分 in 1 万元
TERMS_R = IndicatorTerms(year=2025, task="以工代赈任务", source="provincial", subject="21305",
                         tracking=True, direct=False, advance=True)
TERMS_C = dataclasses.replace(TERMS_R, subject="2130504")


def old_rows() -> list[dict[str, Any]]:
    return list(json.loads(OLD_LOG.read_text("utf-8")))


@pytest.fixture
def old_store(tmp_path: Path) -> Iterator[tuple[BudgetLedger, Path]]:
    """A store holding the old log, written through the recorder (so the hash chain is too)."""
    db = tmp_path / "old.db"
    app = BudgetLedger.open(str(db))
    app.recorder.insert_events([
        StoredEvent(UUID(r["originator_id"]), r["originator_version"], r["topic"],
                    r["state"].encode("utf-8")) for r in old_rows()])
    yield app, db
    app.close()


def test_the_fixture_is_the_old_layout() -> None:
    created = [json.loads(r["state"]) for r in old_rows() if r["originator_version"] == 1
               and ".Indicator." in r["topic"]]
    assert len(created) == 3
    assert all("year" in s and "terms" not in s and "class_version" not in s for s in created)


def test_an_old_store_replays_into_terms(old_store: tuple[BudgetLedger, Path]) -> None:
    app, _db = old_store
    batch = Batch(app)  # the bulk path (Batch.preload → the mapper) upcasts too
    assert batch.preload(indicator_ids=["R", "C"]) == 2
    assert batch.indicators["C"].terms == TERMS_C
    r, c, pool = (app.get_indicator(i) for i in ("R", "C", "C-POOL"))  # Repository.get + fold
    assert (r.terms, c.terms, pool.terms) == (TERMS_R, TERMS_C, TERMS_C)
    assert (r.available, c.available, pool.available) == (45 * WAN, 25 * WAN, 0)
    assert (pool.unit, pool.issuer, pool.parent_id, pool.root_id) == ("城关区", "城关区", "C", "R")
    assert indicators_by_document(app, [("D-FWD", "城关区", "以工代赈任务")]) == {
        ("D-FWD", "城关区", "以工代赈任务"): ["C"]}


def test_an_old_store_rebuilds_and_verifies_clean(old_store: tuple[BudgetLedger, Path]) -> None:
    app, db = old_store
    app.forward(build(ForwardCommand, parent_id="C", child_id="D", unit="墨竹工卡县",
                      amount="5万", doc="F2", effective_date="2025-04-01"))  # a new-layout event
    projector = Projector(app)
    assert projector.rebuild() == len(old_rows()) + 2
    with projector.engine.connect() as conn:
        rows = {row.indicator_id: row for row in conn.execute(select(IndicatorRow))}
    got = {i: (r.unit, r.issuer, r.parent_id, r.root_id, r.year, r.task, r.source, r.subject,
               r.tracking, r.direct, r.advance, r.doc) for i, r in rows.items()}
    terms_c = dataclasses.astuple(TERMS_C)
    assert got == {
        "R": ("拉萨市", "(outside the ledger)", None, "R", *dataclasses.astuple(TERMS_R),
              "藏财农〔2024〕123号"),
        "C": ("城关区", "拉萨市", "R", "R", *terms_c, "D-FWD"),
        "C-POOL": ("城关区", "城关区", "C", "R", *terms_c, "城财〔2025〕5号"),
        "D": ("墨竹工卡县", "城关区", "C", "R", *terms_c, "F2"),
    }
    assert verify_projections(app, projector.engine) == []
    projector.engine.dispose()
    app.close()
    res = CliRunner().invoke(cli, ["--db", str(db), "verify"])
    assert res.exit_code == 0, res.output


def test_a_new_store_round_trips_the_value(tmp_path: Path) -> None:
    db = f"sqlite:///{tmp_path}/new.db"
    app = BudgetLedger.open(db)
    issue(app, "R", "拉萨市", "100万", subject="21305", advance=True)
    (stored,) = app.recorder.select_notifications(1, 1)
    state = json.loads(bytes(stored.state))
    assert state["class_version"] == 2 and "year" not in state
    assert state["terms"] == {"_type_": "indicator_terms", "_data_": dataclasses.asdict(TERMS_R)}
    app.close()
    again = BudgetLedger.open(db)  # a new process: no cache, replayed from the store
    terms = again.get_indicator("R").terms
    assert isinstance(terms, IndicatorTerms) and terms == TERMS_R
    with pytest.raises(dataclasses.FrozenInstanceError):
        terms.year = 2026  # type: ignore[misc]
    again.close()


@pytest.mark.parametrize("layout", ["old", "new"])
def test_history_of_an_issuance_shows_its_terms(tmp_path: Path, layout: str,
                                                old_store: tuple[BudgetLedger, Path]) -> None:
    if layout == "old":
        app, db = old_store
        app.close()
    else:
        db = tmp_path / "new.db"
        app = BudgetLedger.open(str(db))
        issue(app, "R", "拉萨市", "100万", subject="21305", advance=True, doc="藏财农〔2024〕123号")
        app.close()
    for args in (["history", "R"], ["log"]):
        res = CliRunner().invoke(cli, ["--db", str(db), *args])
        assert res.exit_code == 0, res.output
        assert ("year=2025, task=以工代赈任务, source=provincial, subject=21305, tracking=True, "
                "advance=True") in res.stdout
        assert "class_version" not in res.stdout and "_type_" not in res.stdout
    res = CliRunner().invoke(cli, ["--db", str(db), "--format", "json", "history", "R"])
    issued = json.loads(res.stdout)[0]
    assert {k: issued[k] for k in dataclasses.asdict(TERMS_R)} == dataclasses.asdict(TERMS_R)


def test_flatten_terms_gives_the_old_field_names_in_their_place() -> None:
    old = json.loads(old_rows()[0]["state"])
    terms = {k: old[k] for k in dataclasses.asdict(TERMS_R)}
    new = {k: v for k, v in old.items() if k not in terms}
    new = {**{k: new[k] for k in list(new)[:6]}, "terms": {"_type_": "indicator_terms",
                                                           "_data_": terms},
           **{k: new[k] for k in list(new)[6:]}, "class_version": 2}
    assert list(new)[6] == "terms"
    flat = flatten_terms(new)
    assert flat == old and list(flat) == list(old)
    assert flatten_terms(old) is old  # the old layout, and every other event, as it is


def test_a_state_that_is_not_an_object_is_refused() -> None:
    with pytest.raises(ValueError, match="JSON list"):
        flatten_terms([])


@pytest.mark.parametrize("terms", [{"year": 2025}, {"_type_": "date_iso", "_data_": "2025-01-01"},
                                   "2025"])
def test_a_forged_terms_field_is_an_undecodable_event(terms: object) -> None:
    state = json.loads(old_rows()[0]["state"])
    state["terms"] = terms
    row = LogRow(1, "ab" * 16, "budget_ledger.Indicator.Issued", json.dumps(state))
    with pytest.raises(UndecodableEvent, match="log position 1"):
        JournalWriter._decode(row)
