"""The SQL path (SQLite decodes the stored JSON) writes exactly the writer's rows, for every event
type, and hands a malformed or unknown event to the writer, which names it."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from pathlib import Path
from uuid import UUID

import pytest
from eventsourcing.persistence import StoredEvent

from ledger.application import BudgetLedger
from ledger.commands import (
    DeallocateCommand,
    ForwardCommand,
    ProgressCommand,
    RecoverCommand,
    RenameProjectCommand,
    SetUnitCommand,
    build,
)
from ledger.movements import Project
from projections import sql_fast_path
from projections.db import current_engine, engine_for, scratch_engine
from projections.updater import Projector, create_schema, drop_schema
from projections.verify import verify_projections
from projections.writer import UndecodableEvent
from tests.helpers import allocate, issue, project
from tests.projections_scenario import build_scenario
from tests.strategies import dump, first_difference


def every_event_type(app: BudgetLedger) -> None:
    build_scenario(app)  # issues, forwards, projects, allocations, payments, a reversal, a recovery
    app.recover(build(RecoverCommand, indicator_id="C", amount="10万", doc="城财〔2025〕7号",
                      effective_date="2025-06-01", reason="统筹", to="pool", pool_id="C-POOL"))
    app.deallocate(build(DeallocateCommand, indicator_id="C", project_id="X1", amount="5万",
                         effective_date="2025-06-02", reason="核减"))
    app.report_progress(build(ProgressCommand, project_id="X1", percent="42.5",
                              effective_date="2025-06-03"))
    app.rename_project(build(RenameProjectCommand, project_id="X1", new_name="新名称",
                             doc="城发〔2025〕8号", effective_date="2025-06-04"))
    project(app, "Z", "城关区", effective_date="2025-06-05")
    allocate(app, "C-POOL", "Z", "1万", effective_date="2025-06-06")
    issue(app, "S", "城关区", "10万", subject="21305", effective_date="2025-06-05")
    allocate(app, "S", "Z", "1万", effective_date="2025-06-06", subject="2130504")
    for level in ("county", "prefecture"):
        app.set_unit(build(SetUnitCommand, unit="城关区", level=level, area="拉萨市",
                           effective_date="2025-06-07"))


def sql_rebuild(app: BudgetLedger) -> int | None:
    """Rebuild the store's own read models by the SQL path alone (no writer to fall back on)."""
    projector = Projector(app)
    _sqlite, table = projector._store_table()
    with projector.engine.begin() as conn:
        drop_schema(conn)
        create_schema(conn)
        done = sql_fast_path.apply(conn, table, 0, app.last_position())
        conn.exec_driver_sql(f"UPDATE rm_position SET position = {app.last_position()}")
        return done


@pytest.fixture
def any_app(any_url: str) -> Iterator[BudgetLedger]:
    ledger = BudgetLedger.open(any_url)
    yield ledger
    ledger.close()


def test_every_event_type_goes_through_sql_and_matches_the_writer(any_app: BudgetLedger) -> None:
    app = any_app
    every_event_type(app)
    projector = Projector(app)
    _sqlite, table = projector._store_table()
    with projector.engine.connect() as conn:
        types = {t.partition(".")[2] for t in conn.exec_driver_sql(
            f"SELECT DISTINCT topic FROM {table}").scalars()}
    assert types == set(sql_fast_path.TOPICS.values())  # the store holds every type the path decodes
    assert sql_rebuild(app) == app.last_position()
    # verify rebuilds through the Python writer into a scratch database and compares row by row
    assert verify_projections(app, projector.engine) == []
    if app.config.kind == "sqlite":  # and, like for like, every raw value
        by_writer = scratch_engine()
        Projector(app, by_writer).rebuild()
        ours, theirs = dump(engine_for(app.config)), dump(by_writer)
        assert ours == theirs, first_difference(ours, theirs)


def raw(app: BudgetLedger, sql: str, *args: object) -> list[object]:
    path = app.config.sqlite_path
    assert path
    with sqlite3.connect(path) as db:
        rows = [r[0] if len(r) == 1 else r for r in db.execute(sql, args)]
    db.close()
    return rows


@pytest.mark.parametrize("field,value", [
    ("amount", '"12"'), ("effective_date", '{"_type_": "date_iso", "_data_": "2025-02-30"}'),
    ("actor", "7"),
])
def test_a_malformed_payment_is_named_by_the_writer_and_nothing_is_half_written(
        app: BudgetLedger, field: str, value: str) -> None:
    every_event_type(app)
    topic = str(Project.PaymentMade.TOPIC)
    position = raw(app, "SELECT max(rowid) FROM stored_events WHERE topic = ?", topic)[0]
    path = app.config.sqlite_path
    assert path
    with sqlite3.connect(path) as db:
        db.execute(f"UPDATE stored_events SET state = json_set(state, '$.{field}', json(?)) "
                   "WHERE rowid = ?", (value, position))
    db.close()
    with pytest.raises(Exception) as caught:
        sql_rebuild(app)
    assert caught.type.__name__ == "IntegrityError"
    assert raw(app, "SELECT count(*) FROM sqlite_master WHERE name LIKE 'rm_%'") == [0]
    with pytest.raises(UndecodableEvent, match=f"log position {position}"):
        Projector(app).rebuild()
    # the rebuild commits batch by batch: what it left stops before the batch of the bad event
    # (none of that batch's rows) and is behind the log, so no query answers from it
    assert Projector(app).position() < position
    assert raw(app, "SELECT count(*) FROM rm_payments WHERE position >= ?", position) == [0]
    assert current_engine(app.config) is None


def test_an_unknown_topic_is_left_to_the_writer(app: BudgetLedger) -> None:
    every_event_type(app)
    path = app.config.sqlite_path
    assert path
    with sqlite3.connect(path) as db:
        db.execute("UPDATE stored_events SET topic = 'budget_ledger.Project.Vanished' "
                   "WHERE rowid = (SELECT max(rowid) FROM stored_events)")
    db.close()
    assert sql_rebuild(app) is None
    with pytest.raises(UndecodableEvent, match="unknown topic"):
        Projector(app).rebuild()


def test_both_layouts_of_an_indicator_creation_go_through_sql(tmp_path: Path) -> None:
    """A log written before IndicatorTerms (loose terms) and after it (nested): SQL reads both."""
    from tests.test_indicator_terms import old_rows

    app = BudgetLedger.open(str(tmp_path / "old.db"))
    app.recorder.insert_events([
        StoredEvent(UUID(r["originator_id"]), r["originator_version"], r["topic"],
                    r["state"].encode("utf-8")) for r in old_rows()])
    app.forward(build(ForwardCommand, parent_id="C", child_id="D", unit="墨竹工卡县",
                      amount="5万", doc="F2", effective_date="2025-04-01"))
    assert sql_rebuild(app) == app.last_position()
    by_writer = scratch_engine()
    Projector(app, by_writer).rebuild()
    ours, theirs = dump(engine_for(app.config)), dump(by_writer)
    assert ours == theirs, first_difference(ours, theirs)
    with engine_for(app.config).connect() as conn:
        years = conn.exec_driver_sql("SELECT indicator_id, year, subject FROM rm_indicators "
                                     "ORDER BY indicator_id").all()
    assert [tuple(r) for r in years] == [("C", 2025, "2130504"), ("C-POOL", 2025, "2130504"),
                                         ("D", 2025, "2130504"), ("R", 2025, "21305")]
    app.close()


@pytest.mark.parametrize("field,value", [("amount", '"12"'), ("actor", "7"),
                                         ("effective_date", '{"_type_": "date_iso", "_data_": "2025-2-3"}')])
def test_postgres_refuses_a_malformed_payment_and_the_writer_names_it(
        pg_url: str, field: str, value: str) -> None:
    app = BudgetLedger.open(pg_url)
    every_event_type(app)
    projector = Projector(app)
    _sqlite, table = projector._store_table()
    topic = str(Project.PaymentMade.TOPIC)
    with projector.engine.begin() as conn:
        position = conn.exec_driver_sql(
            f"SELECT max(notification_id) FROM {table} WHERE topic = '{topic}'").scalar()
        conn.exec_driver_sql(
            f"UPDATE {table} SET state = convert_to(jsonb_set(convert_from(state, 'UTF8')::jsonb, "
            f"'{{{field}}}', '{value}'::jsonb)::text, 'UTF8') WHERE notification_id = {position}")
    with pytest.raises(sql_fast_path.Refused):
        sql_rebuild(app)
    with pytest.raises(UndecodableEvent, match=f"log position {position}"):
        projector.rebuild()
    app.close()
