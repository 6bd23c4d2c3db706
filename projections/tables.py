"""SQL read models (SQLAlchemy Core tables), all derived from the event log, all append-only.

The heart is the **journal** (分录, ``rm_journal``): every event that moves money becomes one
movement row — indicator, project and payment where there is one, bucket, signed amount in 分,
effective date, recorded-at and log position. Balances are never stored: they are sums over the
journal (``projections/journal.py``), filtered by effective date (``--as-of``) and recorded-at
(``--known-at``) — the live view is simply "no filter".

Facts that are not additive are rows valid from their effective date and recorded-at: an
indicator's or a project's creation, a payment, its reversal, a progress report, a rename. So
every table is only ever appended to, and any past view is a ``WHERE``, never a replay.

``recorded_at`` is a fixed-width UTC string ('2025-01-05T10:00:00.000000+00:00') so that it
compares as text on every store. ``rm_meta`` holds the schema version: a store whose read models
were written by another version is rebuilt (``budget-ledger rebuild``), never read wrongly.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import BigInteger, Boolean, Column, Date, Index, Integer, MetaData, String, Table

SCHEMA_VERSION = 6  # 1: balances in place; 2: journal; 3: compact rm_events; 4: SQLite keys; 5: units,
# line subjects; 6: payments logged in rm_payments only, keyed by position; two unused indexes gone

# A log position as a key: on SQLite an INTEGER PRIMARY KEY is the row id itself (one B-tree, not a
# table plus a unique index); elsewhere a BIGINT.
PositionKey = BigInteger().with_variant(Integer(), "sqlite")
# Tables keyed by a text id say ``sqlite_with_rowid=False``: on SQLite their rows live in that
# key's B-tree (no hidden row id).


metadata = MetaData()


class Cols:
    """A table whose columns read as attributes (``IndicatorRow.unit``) and which stands for the
    table in ``select()``, ``insert()`` … Core, not the ORM: no query maps rows to objects, and
    importing the ORM cost every query a fifth of its start-up."""

    def __init__(self, table: Table) -> None:
        self.__table__ = table
        self.__tablename__ = table.name

    def __clause_element__(self) -> Table:
        return self.__table__

    def __getattr__(self, name: str) -> Column[Any]:
        try:
            return self.__table__.c[name]  # type: ignore[no-any-return]
        except KeyError:
            raise AttributeError(f"{self.__tablename__} has no column {name!r}") from None


# The last notification id applied to the read models (one row, named POSITION_NAME).
POSITION_NAME = "main"
Position = Cols(Table(
    "rm_position", metadata,
    Column("name", String(40), primary_key=True),
    Column("position", BigInteger, default=0, nullable=False),
))

# Facts about the read models themselves: ``schema_version``; DEFERRED while a bulk catch-up
# from position 0 has yet to build the secondary indexes at its end.
DEFERRED = "indexes_deferred"
Meta = Cols(Table(
    "rm_meta", metadata,
    Column("key", String(40), primary_key=True),
    Column("value", String(200), nullable=False),
))

# One movement of money (分录). ``bucket`` is one of ``ledger.buckets.BUCKETS``.
JournalRow = Cols(Table(
    "rm_journal", metadata,
    Column("position", PositionKey, primary_key=True),
    Column("indicator_id", String(120), nullable=False),
    Column("project_id", String(120), nullable=True),
    Column("payment_id", String(140), nullable=True),
    Column("bucket", String(12), nullable=False),
    Column("amount", BigInteger, nullable=False),  # signed 分
    Column("effective_date", Date, nullable=False),
    Column("recorded_at", String(32), nullable=False),
))

# A budget indicator's terms, valid from its creation (they never change afterwards).
IndicatorRow = Cols(Table(
    "rm_indicators", metadata,
    Column("indicator_id", String(120), primary_key=True),
    Column("uuid", String(32), nullable=False),
    Column("unit", String(200), nullable=False),
    Column("issuer", String(200), nullable=False),
    Column("parent_id", String(120), nullable=True),
    Column("root_id", String(120), nullable=False),
    Column("year", Integer, nullable=False),
    Column("task", String(200), nullable=False),
    Column("source", String(20), nullable=False),
    Column("subject", String(20), nullable=True),
    Column("tracking", Boolean, nullable=False),
    Column("direct", Boolean, nullable=False),
    Column("advance", Boolean, nullable=False),
    Column("doc", String(200), nullable=False),
    Column("effective_date", Date, nullable=False),
    Column("recorded_at", String(32), nullable=False),
    Column("position", BigInteger, nullable=False),  # log position of its creation
    sqlite_with_rowid=False,
))

# A project as registered; its name as of a day comes from ``rm_renames``.
ProjectRow = Cols(Table(
    "rm_projects", metadata,
    Column("project_id", String(120), primary_key=True),
    Column("uuid", String(32), nullable=False),
    Column("unit", String(200), nullable=False),
    Column("original_name", String(500), nullable=False),
    Column("category", String(40), nullable=False),
    Column("doc", String(200), nullable=True),
    Column("effective_date", Date, nullable=False),
    Column("recorded_at", String(32), nullable=False),
    Column("position", BigInteger, nullable=False),
    sqlite_with_rowid=False,
))

# A payment as made; whether it is reversed as of a day comes from ``rm_reversals``. It is also
# the payment's entry in the log (``rm_events`` has no row for it): actor and doc are here for that.
PaymentRow = Cols(Table(
    "rm_payments", metadata,
    Column("payment_id", String(140), nullable=False),  # unique: ix_rm_payments_id
    Column("project_id", String(120), nullable=False),
    Column("indicator_id", String(120), nullable=False),
    Column("amount", BigInteger, nullable=False),
    Column("payee", String(500), nullable=False),
    Column("payee_kind", String(20), nullable=False),
    Column("voucher", String(120), nullable=True),
    Column("labour", Boolean, nullable=False),
    Column("actor", String(200), nullable=False),
    Column("doc", String(200), nullable=True),
    Column("effective_date", Date, nullable=False),
    Column("recorded_at", String(32), nullable=False),
    # keyed by position (a rebuild appends; the log reads it in order), not by payment_id
    Column("position", PositionKey, primary_key=True),
    info={"natural_key": ("payment_id",)},  # what verify names a row by
))

# A payment's reversal (冲销): a compensating entry, valid from its own date.
ReversalRow = Cols(Table(
    "rm_reversals", metadata,
    Column("payment_id", String(140), primary_key=True),
    Column("reason", String(500), nullable=False),
    Column("effective_date", Date, nullable=False),
    Column("recorded_at", String(32), nullable=False),
    Column("position", BigInteger, nullable=False),
    sqlite_with_rowid=False,
))

ProgressReportRow = Cols(Table(
    "rm_progress_reports", metadata,
    Column("position", PositionKey, primary_key=True),
    Column("project_id", String(120), nullable=False),
    Column("percent", String(8), nullable=False),
    Column("effective_date", Date, nullable=False),
    Column("recorded_at", String(32), nullable=False),
))

RenameRow = Cols(Table(
    "rm_renames", metadata,
    Column("position", PositionKey, primary_key=True),
    Column("project_id", String(120), nullable=False),
    Column("old_name", String(500), nullable=False),
    Column("new_name", String(500), nullable=False),
    Column("doc", String(200), nullable=False),
    Column("effective_date", Date, nullable=False),
    Column("recorded_at", String(32), nullable=False),
))

# A unit's administrative level and geographic area, as declared or corrected (one row per
# ``Unit.Declared`` / ``Unit.Corrected``); the latest row in view is the unit's state.
UnitRow = Cols(Table(
    "rm_units", metadata,
    Column("position", BigInteger, primary_key=True),
    Column("unit", String(200), nullable=False),
    Column("level", String(20), nullable=False),
    Column("area", String(200), nullable=True),
    Column("direct_county", Boolean, nullable=False),
    Column("doc", String(200), nullable=True),
    Column("effective_date", Date, nullable=False),
    Column("recorded_at", String(32), nullable=False),
))

# A funding line's functional subject refined to 项级 (``Project.SubjectRefined``); the
# latest row in view is the line's subject, else its indicator's.
LineSubjectRow = Cols(Table(
    "rm_line_subjects", metadata,
    Column("position", BigInteger, primary_key=True),
    Column("project_id", String(120), nullable=False),
    Column("indicator_id", String(120), nullable=False),
    Column("subject", String(20), nullable=False),
    Column("effective_date", Date, nullable=False),
    Column("recorded_at", String(32), nullable=False),
))

# The log, indexed: one row per event with its common fields and up to three entities it
# touched (a forward: parent and child; a reversal: project, indicator and the payment). The
# event's own fields are read from the event store itself when shown (``history``, ``log``),
# so what is shown is exactly what the hash chain covers. Payments, most of the log, are not
# here: ``rm_payments`` holds every field of their entry (type ``PAYMENT_TYPE``; entity, other,
# third: project, indicator, payment), so each is written once, not twice; the readable log is
# both tables (``projections/journal.py`` ``log_select``).
EventRow = Cols(Table(
    "rm_events", metadata,
    Column("position", PositionKey, primary_key=True),
    Column("recorded_at", String(32), nullable=False),
    Column("effective_date", Date, nullable=False),
    Column("type", String(40), nullable=False),
    Column("actor", String(200), nullable=False),
    Column("entity", String(140), nullable=False),
    Column("other", String(140), nullable=True),
    Column("third", String(140), nullable=True),
    Column("doc", String(200), nullable=True),
    Column("amount", BigInteger, nullable=True),
))

PAYMENT_TYPE = "Project.PaymentMade"  # the log type of a rm_payments row (tests/test_log_with_payments.py)


# The indexes a rebuild needs while it loads (events name aggregates by UUID), built with the tables.
LOOKUP_INDEXES = [
    Index("ix_rm_indicators_uuid", IndicatorRow.uuid, unique=True),
    Index("ix_rm_projects_uuid", ProjectRow.uuid, unique=True),
]

# Every other secondary index, named, so a bulk rebuild builds it once at the end. Only what a
# query uses: no query looks the journal up by payment or a payment by voucher (schema 6 dropped
# those two indexes).
INDEXES = [
    Index("ix_rm_journal_indicator", JournalRow.indicator_id, JournalRow.effective_date),
    Index("ix_rm_journal_project", JournalRow.project_id, JournalRow.indicator_id),
    Index("ix_rm_indicators_unit", IndicatorRow.unit),
    Index("ix_rm_indicators_parent", IndicatorRow.parent_id),
    Index("ix_rm_indicators_root", IndicatorRow.root_id),
    Index("ix_rm_indicators_year_task", IndicatorRow.year, IndicatorRow.task),
    Index("ix_rm_projects_unit", ProjectRow.unit),
    Index("ix_rm_payments_project", PaymentRow.project_id),
    Index("ix_rm_payments_indicator", PaymentRow.indicator_id),
    Index("ix_rm_payments_id", PaymentRow.payment_id, unique=True),
    Index("ix_rm_progress_project", ProgressReportRow.project_id),
    Index("ix_rm_renames_project", RenameRow.project_id),
    Index("ix_rm_events_type", EventRow.type),
    Index("ix_rm_events_entity", EventRow.entity),
    Index("ix_rm_events_other", EventRow.other),
    Index("ix_rm_events_third", EventRow.third),
    Index("ix_rm_units_unit", UnitRow.unit),
]

ALL_TABLES = list(metadata.sorted_tables)
DATA_TABLES = [t for t in ALL_TABLES if t.name not in ("rm_position", "rm_meta")]
