"""Shared fixtures: a fresh SQLite ledger per test, and the real PostgreSQL server when named.

PostgreSQL tests read ``BUDGET_LEDGER_TEST_PG`` (e.g. postgresql+psycopg://postgres@127.0.0.1:5432/test)
and are skipped, visibly, when it is unset. Each test gets its own schema, dropped afterwards.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, settings

import ledger.streamed as streamed
from ledger.application import BudgetLedger

settings.register_profile(
    "ci",
    max_examples=200,
    stateful_step_count=50,
    deadline=None,
    print_blob=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
settings.register_profile(
    "dev",
    max_examples=25,
    stateful_step_count=20,
    deadline=None,
    print_blob=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "dev"))

PG_ENV = "BUDGET_LEDGER_TEST_PG"


@pytest.fixture
def db_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'ledger.db'}"


@pytest.fixture
def app(db_url: str) -> Iterator[BudgetLedger]:
    ledger = BudgetLedger.open(db_url)
    yield ledger
    ledger.close()


def _pg_base() -> str:
    url = os.environ.get(PG_ENV)
    if not url:
        pytest.skip(f"{PG_ENV} is not set: PostgreSQL tests skipped")
    return url


@pytest.fixture
def pg_url() -> Iterator[str]:
    """A PostgreSQL store URL on a fresh schema of the test server; the schema is dropped after."""
    import psycopg

    base = _pg_base()
    schema = f"bl_test_{uuid.uuid4().hex[:10]}"
    dsn = base.replace("postgresql+psycopg://", "postgresql://")
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute(f'CREATE SCHEMA "{schema}"')
    sep = "&" if "?" in base else "?"
    try:
        yield f"{base}{sep}schema={schema}"
    finally:
        with psycopg.connect(dsn, autocommit=True) as conn:
            conn.execute(f'DROP SCHEMA "{schema}" CASCADE')


@pytest.fixture(params=["sqlite", "postgres"])
def any_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """The same test on SQLite and on the real PostgreSQL server."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'ledger.db'}"
    return str(request.getfixturevalue("pg_url"))


def _uses_postgres(item: pytest.Item) -> bool:
    callspec = getattr(item, "callspec", None)
    if callspec is not None and callspec.params.get("any_url") == "postgres":
        return True
    return "pg_url" in getattr(item, "fixturenames", ())


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Every test that reaches the PostgreSQL server carries the ``postgres`` marker, so
    ``pytest -m postgres`` (or ``-m "not postgres"``) selects exactly them."""
    for item in items:
        if _uses_postgres(item) and item.get_closest_marker("postgres") is None:
            item.add_marker(pytest.mark.postgres)


@pytest.fixture
def small_parts(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[int]]:
    """Streamed imports (ledger/streamed.py) in parts of 10 events, and a record of each save's size (so a test sees several saves)."""
    monkeypatch.setattr(streamed, "PART_EVENTS", 10)
    sizes: list[int] = []
    real = streamed.save_aggregates

    def spy(app: BudgetLedger, aggs: Any) -> Any:
        sizes.append(sum(len(a.pending_events) for a in aggs))
        return real(app, aggs)

    monkeypatch.setattr(streamed, "save_aggregates", spy)
    yield sizes


@pytest.fixture
def lost_connection(small_parts: list[int], monkeypatch: pytest.MonkeyPatch) -> Callable[[], None]:
    """Every save after the third part fails as a lost connection would; call the returned
    function to put the working save back."""
    from eventsourcing.persistence import OperationalError

    spy = streamed.save_aggregates

    def failing(app: BudgetLedger, aggs: Any) -> Any:
        if len(small_parts) == 3:
            raise OperationalError("connection lost")
        return spy(app, aggs)

    monkeypatch.setattr(streamed, "save_aggregates", failing)
    return lambda: monkeypatch.setattr(streamed, "save_aggregates", spy)
