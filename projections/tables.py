"""SQL read models (SQLAlchemy 2 typed ORM), all derived from the event log, all append-only.

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

from datetime import date

from sqlalchemy import BigInteger, Boolean, Date, Index, Integer, String
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

SCHEMA_VERSION = 5  # 1: balances in place; 2: journal; 3: compact rm_events; 4: SQLite keys; 5: units, line subjects

# A log position as a key: on SQLite an INTEGER PRIMARY KEY is the row id itself (one B-tree, not a
# table plus a unique index); elsewhere a BIGINT.
PositionKey = BigInteger().with_variant(Integer(), "sqlite")
# Tables keyed by a text id keep their rows in that key's B-tree on SQLite (no hidden row id).
TEXT_KEYED = {"sqlite_with_rowid": False}


class Base(DeclarativeBase):
    pass


class Position(Base):
    """The last notification id applied to the read models."""

    __tablename__ = "rm_position"
    name: Mapped[str] = mapped_column(String(40), primary_key=True)
    position: Mapped[int] = mapped_column(BigInteger, default=0)


class Meta(Base):
    """Facts about the read models themselves: ``schema_version``."""

    __tablename__ = "rm_meta"
    key: Mapped[str] = mapped_column(String(40), primary_key=True)
    value: Mapped[str] = mapped_column(String(200))


class JournalRow(Base):
    """One movement of money (分录). ``bucket`` is one of ``ledger.movements.BUCKETS``."""

    __tablename__ = "rm_journal"
    position: Mapped[int] = mapped_column(PositionKey, primary_key=True)
    indicator_id: Mapped[str] = mapped_column(String(120))
    project_id: Mapped[str | None] = mapped_column(String(120))
    payment_id: Mapped[str | None] = mapped_column(String(140))
    bucket: Mapped[str] = mapped_column(String(12))
    amount: Mapped[int] = mapped_column(BigInteger)  # signed 分
    effective_date: Mapped[date] = mapped_column(Date)
    recorded_at: Mapped[str] = mapped_column(String(32))


class IndicatorRow(Base):
    """A budget indicator's terms, valid from its creation (they never change afterwards)."""

    __tablename__ = "rm_indicators"
    __table_args__ = TEXT_KEYED
    indicator_id: Mapped[str] = mapped_column(String(120), primary_key=True)
    uuid: Mapped[str] = mapped_column(String(32))
    unit: Mapped[str] = mapped_column(String(200))
    issuer: Mapped[str] = mapped_column(String(200))
    parent_id: Mapped[str | None] = mapped_column(String(120))
    root_id: Mapped[str] = mapped_column(String(120))
    year: Mapped[int] = mapped_column(Integer)
    task: Mapped[str] = mapped_column(String(200))
    source: Mapped[str] = mapped_column(String(20))
    subject: Mapped[str | None] = mapped_column(String(20))
    tracking: Mapped[bool] = mapped_column(Boolean)
    direct: Mapped[bool] = mapped_column(Boolean)
    advance: Mapped[bool] = mapped_column(Boolean)
    doc: Mapped[str] = mapped_column(String(200))
    effective_date: Mapped[date] = mapped_column(Date)
    recorded_at: Mapped[str] = mapped_column(String(32))
    position: Mapped[int] = mapped_column(BigInteger)  # log position of its creation


class ProjectRow(Base):
    """A project as registered; its name as of a day comes from ``rm_renames``."""

    __tablename__ = "rm_projects"
    __table_args__ = TEXT_KEYED
    project_id: Mapped[str] = mapped_column(String(120), primary_key=True)
    uuid: Mapped[str] = mapped_column(String(32))
    unit: Mapped[str] = mapped_column(String(200))
    original_name: Mapped[str] = mapped_column(String(500))
    category: Mapped[str] = mapped_column(String(40))
    doc: Mapped[str | None] = mapped_column(String(200))
    effective_date: Mapped[date] = mapped_column(Date)
    recorded_at: Mapped[str] = mapped_column(String(32))
    position: Mapped[int] = mapped_column(BigInteger)


class PaymentRow(Base):
    """A payment as made; whether it is reversed as of a day comes from ``rm_reversals``."""

    __tablename__ = "rm_payments"
    __table_args__ = TEXT_KEYED
    payment_id: Mapped[str] = mapped_column(String(140), primary_key=True)
    project_id: Mapped[str] = mapped_column(String(120))
    indicator_id: Mapped[str] = mapped_column(String(120))
    amount: Mapped[int] = mapped_column(BigInteger)
    payee: Mapped[str] = mapped_column(String(500))
    payee_kind: Mapped[str] = mapped_column(String(20))
    voucher: Mapped[str | None] = mapped_column(String(120))
    labour: Mapped[bool] = mapped_column(Boolean)
    effective_date: Mapped[date] = mapped_column(Date)
    recorded_at: Mapped[str] = mapped_column(String(32))
    position: Mapped[int] = mapped_column(BigInteger)


class ReversalRow(Base):
    """A payment's reversal (冲销): a compensating entry, valid from its own date."""

    __tablename__ = "rm_reversals"
    __table_args__ = TEXT_KEYED
    payment_id: Mapped[str] = mapped_column(String(140), primary_key=True)
    reason: Mapped[str] = mapped_column(String(500))
    effective_date: Mapped[date] = mapped_column(Date)
    recorded_at: Mapped[str] = mapped_column(String(32))
    position: Mapped[int] = mapped_column(BigInteger)


class ProgressReportRow(Base):
    __tablename__ = "rm_progress_reports"
    position: Mapped[int] = mapped_column(PositionKey, primary_key=True)
    project_id: Mapped[str] = mapped_column(String(120))
    percent: Mapped[str] = mapped_column(String(8))
    effective_date: Mapped[date] = mapped_column(Date)
    recorded_at: Mapped[str] = mapped_column(String(32))


class RenameRow(Base):
    __tablename__ = "rm_renames"
    position: Mapped[int] = mapped_column(PositionKey, primary_key=True)
    project_id: Mapped[str] = mapped_column(String(120))
    old_name: Mapped[str] = mapped_column(String(500))
    new_name: Mapped[str] = mapped_column(String(500))
    doc: Mapped[str] = mapped_column(String(200))
    effective_date: Mapped[date] = mapped_column(Date)
    recorded_at: Mapped[str] = mapped_column(String(32))


class UnitRow(Base):
    """A unit's administrative level and geographic area, as declared or corrected (one row per
    ``Unit.Declared`` / ``Unit.Corrected``); the latest row in view is the unit's state."""

    __tablename__ = "rm_units"
    position: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    unit: Mapped[str] = mapped_column(String(200))
    level: Mapped[str] = mapped_column(String(20))
    area: Mapped[str | None] = mapped_column(String(200))
    direct_county: Mapped[bool] = mapped_column(Boolean)
    doc: Mapped[str | None] = mapped_column(String(200))
    effective_date: Mapped[date] = mapped_column(Date)
    recorded_at: Mapped[str] = mapped_column(String(32))


class LineSubjectRow(Base):
    """A funding line's functional subject refined to 项级 (``Project.SubjectRefined``); the
    latest row in view is the line's subject, else its indicator's."""

    __tablename__ = "rm_line_subjects"
    position: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    project_id: Mapped[str] = mapped_column(String(120))
    indicator_id: Mapped[str] = mapped_column(String(120))
    subject: Mapped[str] = mapped_column(String(20))
    effective_date: Mapped[date] = mapped_column(Date)
    recorded_at: Mapped[str] = mapped_column(String(32))


class EventRow(Base):
    """The log, indexed: one row per event with its common fields and up to three entities it
    touched (a forward: parent and child; a payment: project, indicator and the payment). The
    event's own fields are read from the event store itself when shown (``history``, ``log``),
    so what is shown is exactly what the hash chain covers."""

    __tablename__ = "rm_events"
    position: Mapped[int] = mapped_column(PositionKey, primary_key=True)
    recorded_at: Mapped[str] = mapped_column(String(32))
    effective_date: Mapped[date] = mapped_column(Date)
    type: Mapped[str] = mapped_column(String(40))
    actor: Mapped[str] = mapped_column(String(200))
    entity: Mapped[str] = mapped_column(String(140))
    other: Mapped[str | None] = mapped_column(String(140))
    third: Mapped[str | None] = mapped_column(String(140))
    doc: Mapped[str | None] = mapped_column(String(200))
    amount: Mapped[int | None] = mapped_column(BigInteger)


# The indexes a rebuild needs while it loads (events name aggregates by UUID), built with the tables.
LOOKUP_INDEXES = [
    Index("ix_rm_indicators_uuid", IndicatorRow.uuid, unique=True),
    Index("ix_rm_projects_uuid", ProjectRow.uuid, unique=True),
]

# Every other secondary index, named, so a bulk rebuild builds it once at the end.
INDEXES = [
    Index("ix_rm_journal_indicator", JournalRow.indicator_id, JournalRow.effective_date),
    Index("ix_rm_journal_project", JournalRow.project_id, JournalRow.indicator_id),
    Index("ix_rm_journal_payment", JournalRow.payment_id),
    Index("ix_rm_indicators_unit", IndicatorRow.unit),
    Index("ix_rm_indicators_parent", IndicatorRow.parent_id),
    Index("ix_rm_indicators_root", IndicatorRow.root_id),
    Index("ix_rm_indicators_year_task", IndicatorRow.year, IndicatorRow.task),
    Index("ix_rm_projects_unit", ProjectRow.unit),
    Index("ix_rm_payments_project", PaymentRow.project_id),
    Index("ix_rm_payments_indicator", PaymentRow.indicator_id),
    Index("ix_rm_payments_voucher", PaymentRow.voucher),
    Index("ix_rm_progress_project", ProgressReportRow.project_id),
    Index("ix_rm_renames_project", RenameRow.project_id),
    Index("ix_rm_events_type", EventRow.type),
    Index("ix_rm_events_entity", EventRow.entity),
    Index("ix_rm_events_other", EventRow.other),
    Index("ix_rm_events_third", EventRow.third),
    Index("ix_rm_units_unit", UnitRow.unit),
]

ALL_TABLES = list(Base.metadata.sorted_tables)
DATA_TABLES = [t for t in ALL_TABLES if t.name not in ("rm_position", "rm_meta")]
