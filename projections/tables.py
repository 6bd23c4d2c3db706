"""SQL read models (SQLAlchemy 2 typed ORM), all derived from the event log.

Every amount is an integer of 分. ``rm_position`` holds the last log position applied; it is
written in the same transaction as the rows, so a killed updater resumes exactly where it was.
The tables can be dropped and rebuilt from position 0 at any time (``verify`` does exactly that).
"""

from __future__ import annotations

from datetime import date

from sqlalchemy import BigInteger, Boolean, Date, Index, Integer, String, Text
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column


class Base(DeclarativeBase):
    pass


class Position(Base):
    """The last notification id applied to the read models."""

    __tablename__ = "rm_position"
    name: Mapped[str] = mapped_column(String(40), primary_key=True)
    position: Mapped[int] = mapped_column(BigInteger, default=0)


class IndicatorRow(Base):
    """One budget indicator and its balances. ``path`` is '/root/…/self/' for subtree queries."""

    __tablename__ = "rm_indicators"
    indicator_id: Mapped[str] = mapped_column(String(120), primary_key=True)
    uuid: Mapped[str] = mapped_column(String(32), unique=True)
    unit: Mapped[str] = mapped_column(String(200), index=True)
    issuer: Mapped[str] = mapped_column(String(200))
    parent_id: Mapped[str | None] = mapped_column(String(120), index=True)
    root_id: Mapped[str] = mapped_column(String(120), index=True)
    path: Mapped[str] = mapped_column(String(1000), index=True)
    depth: Mapped[int] = mapped_column(Integer)
    year: Mapped[int] = mapped_column(Integer)
    task: Mapped[str] = mapped_column(String(200))
    source: Mapped[str] = mapped_column(String(20))
    subject: Mapped[str | None] = mapped_column(String(20))
    tracking: Mapped[bool] = mapped_column(Boolean)
    direct: Mapped[bool] = mapped_column(Boolean)
    advance: Mapped[bool] = mapped_column(Boolean)
    doc: Mapped[str] = mapped_column(String(200))
    effective_date: Mapped[date] = mapped_column(Date)
    received: Mapped[int] = mapped_column(BigInteger, default=0)
    forwarded: Mapped[int] = mapped_column(BigInteger, default=0)  # net of recoveries from children
    allocated: Mapped[int] = mapped_column(BigInteger, default=0)  # net of deallocations
    paid: Mapped[int] = mapped_column(BigInteger, default=0)  # by projects from this indicator, net of reversals
    recovered: Mapped[int] = mapped_column(BigInteger, default=0)  # returned to the parent
    available: Mapped[int] = mapped_column(BigInteger, default=0)
    position: Mapped[int] = mapped_column(BigInteger)  # log position of its creation


class ProjectRow(Base):
    __tablename__ = "rm_projects"
    project_id: Mapped[str] = mapped_column(String(120), primary_key=True)
    uuid: Mapped[str] = mapped_column(String(32), unique=True)
    unit: Mapped[str] = mapped_column(String(200), index=True)
    name: Mapped[str] = mapped_column(String(500))
    original_name: Mapped[str] = mapped_column(String(500))
    category: Mapped[str] = mapped_column(String(40))
    doc: Mapped[str | None] = mapped_column(String(200))
    effective_date: Mapped[date] = mapped_column(Date)
    percent: Mapped[str | None] = mapped_column(String(8))  # latest physical progress, decimal string
    allocated: Mapped[int] = mapped_column(BigInteger, default=0)
    paid: Mapped[int] = mapped_column(BigInteger, default=0)
    position: Mapped[int] = mapped_column(BigInteger)


class FundingLineRow(Base):
    """One source indicator's money in one project — never pooled with another source."""

    __tablename__ = "rm_funding_lines"
    project_id: Mapped[str] = mapped_column(String(120), primary_key=True)
    indicator_id: Mapped[str] = mapped_column(String(120), primary_key=True, index=True)
    allocated: Mapped[int] = mapped_column(BigInteger, default=0)
    paid: Mapped[int] = mapped_column(BigInteger, default=0)
    first_date: Mapped[date] = mapped_column(Date)


class PaymentRow(Base):
    __tablename__ = "rm_payments"
    payment_id: Mapped[str] = mapped_column(String(140), primary_key=True)
    project_id: Mapped[str] = mapped_column(String(120), index=True)
    indicator_id: Mapped[str] = mapped_column(String(120), index=True)
    amount: Mapped[int] = mapped_column(BigInteger)
    payee: Mapped[str] = mapped_column(String(500))
    payee_kind: Mapped[str] = mapped_column(String(20))
    voucher: Mapped[str | None] = mapped_column(String(120), index=True)
    labour: Mapped[bool] = mapped_column(Boolean)
    effective_date: Mapped[date] = mapped_column(Date, index=True)
    reversed: Mapped[bool] = mapped_column(Boolean, default=False)
    reversed_date: Mapped[date | None] = mapped_column(Date)
    reversal_reason: Mapped[str | None] = mapped_column(String(500))
    position: Mapped[int] = mapped_column(BigInteger)


class ProgressReportRow(Base):
    __tablename__ = "rm_progress_reports"
    position: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    project_id: Mapped[str] = mapped_column(String(120), index=True)
    percent: Mapped[str] = mapped_column(String(8))
    effective_date: Mapped[date] = mapped_column(Date)


class RenameRow(Base):
    __tablename__ = "rm_renames"
    position: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    project_id: Mapped[str] = mapped_column(String(120), index=True)
    old_name: Mapped[str] = mapped_column(String(500))
    new_name: Mapped[str] = mapped_column(String(500))
    doc: Mapped[str] = mapped_column(String(200))
    effective_date: Mapped[date] = mapped_column(Date)


class EventRow(Base):
    """The log, readable: one row per event with its common fields and its payload as JSON."""

    __tablename__ = "rm_events"
    position: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    recorded_at: Mapped[str] = mapped_column(String(40))
    effective_date: Mapped[date] = mapped_column(Date, index=True)
    type: Mapped[str] = mapped_column(String(40), index=True)
    actor: Mapped[str] = mapped_column(String(200))
    entity: Mapped[str] = mapped_column(String(140))
    doc: Mapped[str | None] = mapped_column(String(200))
    amount: Mapped[int | None] = mapped_column(BigInteger)
    payload: Mapped[str] = mapped_column(Text)


class EventEntityRow(Base):
    """Every entity an event touched (a forward touches parent and child; a payment its project,
    indicator and itself) — the index behind ``history ID``."""

    __tablename__ = "rm_event_entities"
    entity: Mapped[str] = mapped_column(String(140), primary_key=True)
    position: Mapped[int] = mapped_column(BigInteger, primary_key=True)


Index("ix_rm_indicators_year_task", IndicatorRow.year, IndicatorRow.task)

ALL_TABLES = [t for t in Base.metadata.sorted_tables]
