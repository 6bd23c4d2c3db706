"""A catch-up from position 0 loads like a rebuild (secondary indexes built once at the end) and
ends with exactly the tables and indexes a rebuild makes, even when an earlier one was killed."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlalchemy import Engine, inspect, select

from ledger.application import BudgetLedger
from projections.db import scratch_engine
from projections.tables import INDEXES, Meta
from projections.updater import DEFERRED, Projector
from projections.verify import verify_projections
from tests.projections_scenario import build_scenario
from tests.strategies import dump


@pytest.fixture
def any_app(any_url: str) -> Iterator[BudgetLedger]:
    ledger = BudgetLedger.open(any_url)
    yield ledger
    ledger.close()


def index_names(engine: Engine) -> set[str]:
    with engine.connect() as conn:
        insp = inspect(conn)
        return {str(ix["name"]) for t in {ix.table.name for ix in INDEXES}  # type: ignore[union-attr]
                for ix in insp.get_indexes(t)}


def deferred(engine: Engine) -> str | None:
    with engine.connect() as conn:
        return conn.execute(select(Meta.value).where(Meta.key == DEFERRED)).scalar()


def same_as_a_rebuild(app: BudgetLedger, engine: Engine) -> None:
    """Row for row (SQLite: against a scratch rebuild; PostgreSQL: by ``verify``)."""
    assert verify_projections(app, engine) == []
    if app.config.kind == "sqlite":
        fresh = scratch_engine()
        Projector(app, fresh).rebuild()
        assert dump(engine) == dump(fresh)


def test_catch_up_from_nothing_defers_the_indexes_and_ends_with_all_of_them(
        any_app: BudgetLedger) -> None:
    build_scenario(any_app)
    projector = Projector(any_app, batch_size=7, bulk_batch_size=7)
    projector.ensure_schema()
    seen: list[set[str]] = []
    assert projector.catch_up(on_batch=lambda _n: seen.append(index_names(projector.engine))) > 7
    assert seen and all(not names & {ix.name for ix in INDEXES} for names in seen)
    assert {str(ix.name) for ix in INDEXES} <= index_names(projector.engine)
    assert deferred(projector.engine) is None
    same_as_a_rebuild(any_app, projector.engine)


def test_a_killed_bulk_catch_up_is_finished_by_the_next_one(any_app: BudgetLedger) -> None:
    build_scenario(any_app)
    projector = Projector(any_app, batch_size=5, bulk_batch_size=5)
    projector.ensure_schema()
    assert projector._begin_bulk()  # what catch_up does first; then killed after two batches
    assert projector._catch_up(10, None) == 10
    assert deferred(projector.engine) is not None
    assert not index_names(projector.engine) & {ix.name for ix in INDEXES}

    later = Projector(any_app)
    assert later.catch_up() == any_app.last_position() - 10
    assert {str(ix.name) for ix in INDEXES} <= index_names(later.engine)
    assert deferred(later.engine) is None
    same_as_a_rebuild(any_app, later.engine)


def test_catch_up_past_position_0_keeps_the_indexes(app: BudgetLedger) -> None:
    build_scenario(app)
    projector = Projector(app, batch_size=5)
    assert projector.catch_up(max_events=5) == 5
    assert {str(ix.name) for ix in INDEXES} <= index_names(projector.engine)
    assert not projector._begin_bulk()
