"""The project (项目) aggregate: funding lines, progress, payments and their reversals.

One funding line per source indicator — sources are never pooled — and every payment draws on
exactly one line. Corrections are new events (reversal, release, rename), never edits.
"""

from __future__ import annotations

import pickle
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from enum import StrEnum
from functools import lru_cache
from itertools import accumulate
from uuid import NAMESPACE_URL, UUID, uuid5

from eventsourcing.domain import Aggregate, event

from ledger import invariants as inv
from ledger.subjects import check_refines
from ledger.timeline import Timeline
from ledger.topics import topic

_NS = uuid5(NAMESPACE_URL, "budget-ledger:project")
#: the attribute names of frozen projects, numbered (Project.freeze): ~150 bytes a project
_LAYOUTS: dict[tuple[str, ...], int] = {}
_LAYOUT_KEYS: list[tuple[str, ...]] = []


def _layout(keys: tuple[str, ...]) -> int:
    number = _LAYOUTS.get(keys)
    if number is None:
        number = _LAYOUTS[keys] = len(_LAYOUT_KEYS)
        _LAYOUT_KEYS.append(keys)
    return number


_day = lru_cache(maxsize=8192)(date.fromordinal)  # one date object per day, shared


def _steps(days: list[date]) -> list[int]:
    """Each day's ordinal less the one before it (the first less 0); ``accumulate`` undoes it."""
    ords = [d.toordinal() for d in days]
    return [b - a for a, b in zip([0, *ords], ords, strict=False)]


class Category(StrEnum):
    """Project categories named in the seeds."""

    INDUSTRY = "产业发展"
    INFRASTRUCTURE = "基础设施"
    EMPLOYMENT = "就业帮扶"
    WORK_RELIEF = "以工代赈"
    COURTYARD = "庭院经济"
    YULU = "雨露计划"
    MICROCREDIT = "小额信贷贴息"
    OTHER = "other"


class PayeeKind(StrEnum):
    ENTERPRISE = "enterprise"
    HOUSEHOLD = "household"
    INDIVIDUAL = "individual"
    GOVERNMENT_UNIT = "government-unit"
    FISCAL_ACCOUNT = "fiscal-account"


# Slotted: the aggregate cache keeps thousands of projects, each with one PaymentState per
# payment (a slotted instance is about half the size of one with a __dict__).
@dataclass(slots=True)
class FundingLine:
    allocated: int = 0  # net of releases
    paid: int = 0  # net of reversals
    unpaid: Timeline = field(default_factory=Timeline)  # allocated − paid, by business date


@dataclass(slots=True)
class PaymentState:
    indicator_id: str
    amount: int
    effective_date: date
    reversed: bool = False


class Project(Aggregate):
    TOPIC = topic("Project")

    class Created(Aggregate.Created):
        """Base of the creation event; never stored by itself."""

        TOPIC = topic("Project.Created")

    class Registered(Created):
        """项目入库 — a project registered in the unit's project library."""

        TOPIC = topic("Project.Registered")
        project_id: str
        unit: str
        name: str
        category: str
        doc: str | None
        effective_date: date
        actor: str

    def __init__(
        self,
        project_id: str,
        unit: str,
        name: str,
        category: str,
        doc: str | None,
        effective_date: date,
    ) -> None:
        self.project_id = project_id
        self.unit = unit
        self.name = name
        self.original_name = name
        self.category = category
        self.doc = doc
        self.effective_date = effective_date
        self.lines: dict[str, FundingLine] = {}
        self.line_subjects: dict[str, str] = {}  # indicator id -> refined subject (项级)
        self.payments: dict[str, PaymentState] = {}
        self.vouchers: dict[str, str] = {}
        self.percent: Decimal | None = None
        self.last_date = effective_date

    @staticmethod
    @lru_cache(maxsize=1 << 14)
    def uuid_for(project_id: str) -> UUID:
        """uuid5 of the id, remembered for the last few thousand, as Indicator.uuid_for: an
        import asks for a new project's UUID three times (preload, the id check, the event)."""
        return uuid5(_NS, project_id)

    @classmethod
    def register(
        cls,
        *,
        project_id: str,
        unit: str,
        name: str,
        category: str,
        doc: str | None,
        effective_date: date,
        actor: str,
    ) -> Project:
        return cls._create(
            cls.Registered,
            id=cls.uuid_for(project_id),
            project_id=project_id,
            unit=unit,
            name=name,
            category=category,
            doc=doc,
            effective_date=effective_date,
            actor=actor,
        )

    # ---- the aggregate cache's compact form ------------------------------------------------

    def freeze(self) -> bytes:
        """This project's state as bytes, for the aggregate cache's frozen tier only (never
        stored, never read by another process: pickle is safe here, and the layout numbers
        below are this process's). A live project of 22 events takes ~10 KB; frozen, ~1 KB,
        and it thaws in ~40 µs where a load from the store replays every event (~27 µs each
        at scale 1.0: docs/performance.md, "Frozen tier").

        Every attribute is carried: the scalar ones pickled as they are (a field added later
        needs no change here), the bulk — funding lines, payments, vouchers — as columns of
        ints and strings, which pickle at C speed (one slotted object per payment cost twice
        as much), with the payment ids left out when they are the usual ``PROJECT:Pn`` and each
        payment's indicator given as its funding line's number; days go as the steps between
        them (a step pickles in 2 bytes, an ordinal in 5)."""
        state = dict(self.__dict__)
        lines = state.pop("lines")
        payments: dict[str, PaymentState] = state.pop("payments")
        vouchers: dict[str, str] = state.pop("vouchers")
        state["_id"] = self.id.bytes
        layout = _layout(tuple(state))
        funding = [(k, ln.allocated, ln.paid, _steps([d for d, _ in ln.unpaid.moves]),
                    [x for _, x in ln.unpaid.moves]) for k, ln in lines.items()]
        keys = list(payments)
        prefix = f"{self.project_id}:P"
        usual = all(k == f"{prefix}{i}" for i, k in enumerate(keys, 1))
        rows = payments.values()
        index = {k: i for i, k in enumerate(keys)}
        line_no = {k: i for i, k in enumerate(lines)}  # a payment's indicator: its line's number
        return pickle.dumps((
            layout, tuple(state.values()), funding,
            None if usual else keys, [line_no.get(p.indicator_id, p.indicator_id) for p in rows],
            [p.amount for p in rows],
            _steps([p.effective_date for p in rows]),
            [i for i, p in enumerate(rows) if p.reversed],
            list(vouchers), [index[k] for k in vouchers.values()],
        ), 5)

    @classmethod
    def thaw(cls, frozen: bytes) -> Project:
        """The project :meth:`freeze` was given, as a new object equal to it."""
        (layout, values, funding, keys, indicators, amounts, days, reversed_, vouchers,
         paid_by) = pickle.loads(frozen)
        state = dict(zip(_LAYOUT_KEYS[layout], values, strict=True))
        state["_id"] = UUID(bytes=state["_id"])
        lines: dict[str, FundingLine] = {}
        for k, allocated, paid, line_days, deltas in funding:
            unpaid = Timeline()
            unpaid.moves = list(zip(map(_day, accumulate(line_days)), deltas, strict=True))
            unpaid.total = sum(deltas)
            unpaid.last = unpaid.moves[-1][0] if unpaid.moves else None
            lines[k] = FundingLine(allocated, paid, unpaid)
        if keys is None:
            prefix = f"{state['project_id']}:P"
            keys = [f"{prefix}{i}" for i in range(1, len(amounts) + 1)]
        line_ids = list(lines)
        payments = {k: PaymentState(ind if type(ind) is str else line_ids[ind], amount, _day(day))
                    for k, ind, amount, day in zip(keys, indicators, amounts, accumulate(days),
                                                   strict=True)}
        for i in reversed_:
            payments[keys[i]].reversed = True
        state["lines"], state["payments"] = lines, payments
        state["vouchers"] = {v: keys[i] for v, i in zip(vouchers, paid_by, strict=True)}
        project = cls.__new__(cls)
        project.__dict__.update(state)
        return project

    def next_payment_id(self) -> str:
        return f"{self.project_id}:P{len(self.payments) + 1}"

    @staticmethod
    def project_of_payment(payment_id: str) -> str:
        project_id, sep, seq = payment_id.rpartition(":P")
        if not sep or not seq.isdigit():
            raise inv.UnknownEntity(f"{payment_id!r} is not a payment id (PROJECT:Pn)")
        return project_id

    def check_dated(self, effective_date: date) -> None:
        inv.check_dated_after(f"project {self.project_id}", self.effective_date, effective_date,
                              "the project was registered")

    # ---- commands -------------------------------------------------------------------------

    # Two-aggregate commands (allocate, deallocate) are run by the Batch: it calls the
    # project's check_* and the indicator's checks first, then the methods that trigger events.

    def check_funding(
        self, *, indicator_id: str, indicator_subject: str | None, subject: str | None,
        effective_date: date,
    ) -> None:
        """An allocation's project side: dated after the project was registered and, with
        ``subject``, a 项级 subject below the line's current one. (The amount is checked once,
        by the indicator's debit.)"""
        self.check_dated(effective_date)
        if subject is not None:
            check_refines(f"indicator {indicator_id}",
                          self.line_subjects.get(indicator_id, indicator_subject), subject)

    def receive_funding(
        self, *, indicator_id: str, amount: int, effective_date: date, actor: str, doc: str | None
    ) -> None:
        """The funding line from ``indicator_id`` grows (checked by :meth:`check_funding`)."""
        self._funding_allocated(
            indicator_id=indicator_id,
            amount=amount,
            effective_date=effective_date,
            actor=actor,
            doc=doc,
        )

    def refine_subject(
        self, *, indicator_id: str, indicator_subject: str | None, subject: str,
        effective_date: date, actor: str, doc: str | None,
    ) -> None:
        """Refine the functional subject of the funding line from ``indicator_id`` (checked by
        :meth:`check_funding`); the line's current subject again records nothing."""
        current = self.line_subjects.get(indicator_id, indicator_subject)
        if subject == current:
            return
        self._subject_refined(indicator_id=indicator_id, subject=subject, old_subject=current,
                              effective_date=effective_date, actor=actor, doc=doc)

    def check_release(self, *, indicator_id: str, amount: int, effective_date: date) -> None:
        """A deallocation's project side: dated after the project, and the line exists and its
        unpaid part covers ``amount`` on that day and after (``payment-within-funding-line``)."""
        self.check_dated(effective_date)
        inv.check_line_covers(self, indicator_id, amount, "release", effective_date)

    def release_funding(
        self,
        *,
        indicator_id: str,
        amount: int,
        effective_date: date,
        actor: str,
        doc: str | None,
        reason: str,
    ) -> None:
        """The funding line shrinks (checked by :meth:`check_release`)."""
        self._funding_released(
            indicator_id=indicator_id,
            amount=amount,
            effective_date=effective_date,
            actor=actor,
            doc=doc,
            reason=reason,
        )

    def pay(
        self,
        *,
        indicator_id: str,
        amount: int,
        payee: str,
        payee_kind: str,
        voucher: str | None,
        labour: bool,
        effective_date: date,
        actor: str,
        doc: str | None,
    ) -> str:
        self.check_dated(effective_date)
        inv.check_line_covers(self, indicator_id, amount, "pay", effective_date)
        inv.check_voucher_unused(self, voucher)
        payment_id = self.next_payment_id()
        # The event class @event made for _payment_made, triggered directly: the same event and
        # the same method body, without the decorator's per-call binding and argument
        # re-coercion (~40 % of a payment's trigger; docs/performance.md, "Write path").
        self.trigger_event(
            self.PaymentMade,  # type: ignore[attr-defined]
            payment_id=payment_id,
            indicator_id=indicator_id,
            amount=amount,
            payee=payee,
            payee_kind=payee_kind,
            voucher=voucher,
            labour=labour,
            effective_date=effective_date,
            actor=actor,
            doc=doc,
        )
        return payment_id

    def reverse(
        self, *, payment_id: str, effective_date: date, actor: str, doc: str | None, reason: str
    ) -> None:
        inv.check_reversible(self, payment_id)
        p = self.payments[payment_id]
        inv.check_dated_after(f"payment {payment_id}", p.effective_date, effective_date,
                              "the payment was made")
        self._payment_reversed(
            payment_id=payment_id,
            indicator_id=p.indicator_id,
            amount=p.amount,
            effective_date=effective_date,
            actor=actor,
            doc=doc,
            reason=reason,
        )

    def report_progress(
        self, *, percent: Decimal, effective_date: date, actor: str, doc: str | None
    ) -> None:
        self.check_dated(effective_date)
        self._progress_reported(percent=percent, effective_date=effective_date, actor=actor, doc=doc)

    def rename(
        self, *, new_name: str, doc: str, effective_date: date, actor: str, reason: str | None
    ) -> None:
        inv.check_rename_document(doc)
        self.check_dated(effective_date)
        self._renamed(
            old_name=self.name,
            new_name=new_name,
            doc=doc,
            effective_date=effective_date,
            actor=actor,
            reason=reason,
        )

    def _entry(self, effective_date: date) -> None:
        self.last_date = max(self.last_date, effective_date)

    # ---- events ---------------------------------------------------------------------------

    @event("FundingAllocated", topic=topic("Project.FundingAllocated"))
    def _funding_allocated(
        self, indicator_id: str, amount: int, effective_date: date, actor: str, doc: str | None
    ) -> None:
        line = self.lines.setdefault(indicator_id, FundingLine())
        line.allocated += amount
        line.unpaid.add(effective_date, amount)
        self._entry(effective_date)

    @event("SubjectRefined", topic=topic("Project.SubjectRefined"))
    def _subject_refined(
        self, indicator_id: str, subject: str, old_subject: str | None, effective_date: date,
        actor: str, doc: str | None,
    ) -> None:
        self.line_subjects[indicator_id] = subject
        self._entry(effective_date)

    @event("FundingReleased", topic=topic("Project.FundingReleased"))
    def _funding_released(
        self,
        indicator_id: str,
        amount: int,
        effective_date: date,
        actor: str,
        doc: str | None,
        reason: str,
    ) -> None:
        line = self.lines[indicator_id]
        line.allocated -= amount
        line.unpaid.add(effective_date, -amount)
        self._entry(effective_date)

    @event("PaymentMade", topic=topic("Project.PaymentMade"))
    def _payment_made(
        self,
        payment_id: str,
        indicator_id: str,
        amount: int,
        payee: str,
        payee_kind: str,
        voucher: str | None,
        labour: bool,
        effective_date: date,
        actor: str,
        doc: str | None,
    ) -> None:
        line = self.lines[indicator_id]
        line.paid += amount
        line.unpaid.add(effective_date, -amount)
        self.payments[payment_id] = PaymentState(indicator_id, amount, effective_date)
        if voucher:
            self.vouchers[voucher] = payment_id
        self._entry(effective_date)

    @event("PaymentReversed", topic=topic("Project.PaymentReversed"))
    def _payment_reversed(
        self,
        payment_id: str,
        indicator_id: str,
        amount: int,
        effective_date: date,
        actor: str,
        doc: str | None,
        reason: str,
    ) -> None:
        line = self.lines[indicator_id]
        line.paid -= amount
        line.unpaid.add(effective_date, amount)
        self.payments[payment_id].reversed = True
        self._entry(effective_date)

    @event("ProgressReported", topic=topic("Project.ProgressReported"))
    def _progress_reported(
        self, percent: Decimal, effective_date: date, actor: str, doc: str | None
    ) -> None:
        self.percent = percent
        self._entry(effective_date)

    @event("Renamed", topic=topic("Project.Renamed"))
    def _renamed(
        self,
        old_name: str,
        new_name: str,
        doc: str,
        effective_date: date,
        actor: str,
        reason: str | None,
    ) -> None:
        self.name = new_name
        self._entry(effective_date)
