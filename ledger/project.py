"""The project (项目) aggregate: funding lines, progress, payments and their reversals.

One funding line per source indicator — sources are never pooled — and every payment draws on
exactly one line. Corrections are new events (reversal, release, rename), never edits.
"""

from __future__ import annotations

import pickle
from array import array
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from enum import StrEnum
from functools import lru_cache
from typing import Any
from uuid import NAMESPACE_URL, UUID, SafeUUID, uuid5

from eventsourcing.domain import Aggregate, event

from ledger import invariants as inv
from ledger.subjects import check_refines
from ledger.timeline import Timeline, day_of_ordinal, money_column, money_from_bytes, widened
from ledger.topics import topic

_NS = uuid5(NAMESPACE_URL, "budget-ledger:project")
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MICROSECOND = timedelta(microseconds=1)
_SEP = "\x00"  # between a frozen project's vouchers
#: the attribute names of frozen projects and where a value is encoded, numbered (Project.freeze)
_LAYOUTS: dict[tuple[object, ...], int] = {}
_LAYOUT_KEYS: list[tuple[str, ...]] = []
_LAYOUT_CODED: list[list[tuple[int, str]]] = []
#: the values pickle encodes slowly (~5 µs a datetime, where a whole frozen project takes ~2 µs
#: to pickle): a date as its ordinal, a UTC datetime as microseconds, a Decimal as text
_KINDS: dict[type, str] = {date: "d", datetime: "t", Decimal: "D"}


def _layout(keys: tuple[str, ...], kinds: tuple[str | None, ...]) -> int:
    number = _LAYOUTS.get((keys, kinds))
    if number is None:
        number = _LAYOUTS[keys, kinds] = len(_LAYOUT_KEYS)
        _LAYOUT_KEYS.append(keys)
        _LAYOUT_CODED.append([(i, k) for i, k in enumerate(kinds) if k is not None])
    return number


def _encode(kind: str, v: object) -> object:
    if kind == "d":
        return v.toordinal()  # type: ignore[attr-defined]
    if kind == "t":
        return (v - _EPOCH) // _MICROSECOND if v.tzinfo is UTC else v  # type: ignore[attr-defined,operator]
    return str(v)


def _decode(kind: str, v: object) -> object:
    if kind == "d":
        return day_of_ordinal(v)
    if kind == "t":
        return _EPOCH + timedelta(microseconds=v) if type(v) is int else v  # type: ignore[arg-type]
    return Decimal(v)  # type: ignore[arg-type]


def _shared_prefix(texts: Iterable[str]) -> str:
    """The longest prefix of every text (that of the first and the last in sorted order)."""
    first, last = min(texts), max(texts)
    for i, c in enumerate(first):
        if c != last[i]:
            return first[:i]
    return first


def _uuid(value: int) -> UUID:
    """``UUID(int=value)`` without its checks (~0.3 µs where the constructor takes ~2): the
    value is one a UUID gave."""
    u = object.__new__(UUID)
    object.__setattr__(u, "int", value)
    object.__setattr__(u, "is_safe", SafeUUID.unknown)
    return u


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
    """One payment as :class:`PaymentBook` reads it back (a copy: the book is the state)."""

    indicator_id: str
    amount: int
    effective_date: date
    reversed: bool = False


class PaymentBook(Mapping[str, PaymentState]):
    """A project's payments (支付) and their vouchers, as columns.

    The aggregate cache holds projects by the hundred thousand, and a project is mostly its
    payments: one object per payment (a ``PaymentState``, its id string, its amount, a dict
    slot, a voucher slot) made a project of 22 events ~10 KB, and freezing or thawing it for
    the cache's frozen tier cost ~70 µs, a fifth of a payment at scale 1.0 (docs/performance.md,
    "Payments as columns"). As columns — machine arrays of amounts, days and funding-line
    numbers — a project of 22 events takes ~4 KB (half of it the vouchers), and the columns
    freeze as bytes.

    Reads as a mapping of payment id → :class:`PaymentState`; the ids are ``{prefix}{n}``
    (n from 1, as :meth:`Project.next_payment_id` makes them), so none is stored unless a
    payment arrives with another (``ids`` then lists them all). ``vouchers`` maps each voucher
    to its payment's index.
    """

    __slots__ = ("prefix", "ids", "indicators", "line", "amounts", "days", "reversed",
                 "vouchers")

    def __init__(self, prefix: str) -> None:
        self.prefix = prefix
        self.ids: list[str] | None = None
        self.indicators: list[str] = []  # the indicator ids paid from, each once
        self.line = array("I")  # each payment's indicator, as its index in ``indicators``
        self.amounts = money_column()
        self.days = array("i")  # effective dates as ordinals
        self.reversed = bytearray()  # 1 once the payment is reversed
        self.vouchers: dict[str, int] = {}

    # ---- reading ---------------------------------------------------------------------------

    def id_of(self, i: int) -> str:
        return self.ids[i] if self.ids is not None else f"{self.prefix}{i + 1}"

    def index(self, payment_id: str) -> int | None:
        if self.ids is not None:
            return self.ids.index(payment_id) if payment_id in self.ids else None
        prefix = self.prefix
        if not payment_id.startswith(prefix):
            return None
        seq = payment_id[len(prefix):]
        if not (seq.isascii() and seq.isdigit()) or seq[0] == "0" or int(seq) > len(self.amounts):
            return None
        return int(seq) - 1

    def state(self, i: int) -> PaymentState:
        return PaymentState(self.indicators[self.line[i]], self.amounts[i],
                            day_of_ordinal(self.days[i]), bool(self.reversed[i]))

    def __getitem__(self, payment_id: str) -> PaymentState:
        i = self.index(payment_id)
        if i is None:
            raise KeyError(payment_id)
        return self.state(i)

    def __contains__(self, payment_id: object) -> bool:
        return isinstance(payment_id, str) and self.index(payment_id) is not None

    def __iter__(self) -> Iterator[str]:
        return iter(self.ids) if self.ids is not None else (
            f"{self.prefix}{n}" for n in range(1, len(self.amounts) + 1))

    def __len__(self) -> int:
        return len(self.amounts)

    def paid_by_voucher(self, voucher: str) -> str | None:
        """The id of the payment recorded with ``voucher``, if any."""
        i = self.vouchers.get(voucher)
        return None if i is None else self.id_of(i)

    def voucher_map(self) -> dict[str, str]:
        return {v: self.id_of(i) for v, i in self.vouchers.items()}

    def __eq__(self, other: object) -> bool:
        """Equal books hold the same payments in the same order, and the same vouchers; a
        book equals a plain mapping of the same payments (``{}`` when it holds none)."""
        if isinstance(other, PaymentBook):
            return (list(self.items()) == list(other.items())
                    and self.voucher_map() == other.voucher_map())
        if isinstance(other, Mapping):
            return dict(self.items()) == dict(other.items())
        return NotImplemented

    __hash__ = None  # type: ignore[assignment]  # mutable

    # ---- writing (only from the project's events) ------------------------------------------

    def add(self, payment_id: str, indicator_id: str, amount: int, day: date,
            voucher: str | None) -> None:
        n = len(self.amounts)
        if self.ids is not None or payment_id != f"{self.prefix}{n + 1}":
            if self.ids is None:
                self.ids = [self.id_of(i) for i in range(n)]
            self.ids.append(payment_id)
        indicators = self.indicators
        if indicators and indicators[0] == indicator_id:
            self.line.append(0)
        elif indicator_id in indicators:
            self.line.append(indicators.index(indicator_id))
        else:
            self.line.append(len(indicators))
            indicators.append(indicator_id)
        self.amounts = widened(self.amounts, amount)
        self.amounts.append(amount)
        self.days.append(day.toordinal())
        self.reversed.append(0)
        if voucher:
            self.vouchers[voucher] = n

    def mark_reversed(self, payment_id: str) -> None:
        i = self.index(payment_id)
        if i is None:
            raise KeyError(payment_id)
        self.reversed[i] = 1

    @classmethod
    def of(cls, prefix: str, payments: dict[str, PaymentState],
           vouchers: dict[str, str]) -> PaymentBook:
        """From the id → state and voucher → id form (a snapshot's)."""
        book = cls(prefix)
        paid_with = {pid: v for v, pid in vouchers.items()}
        for pid, p in payments.items():
            book.add(pid, p.indicator_id, p.amount, p.effective_date, paid_with.get(pid))
            if p.reversed:
                book.reversed[-1] = 1
        return book

    # ---- the aggregate cache's frozen form -------------------------------------------------

    def freeze(self) -> tuple[Any, ...]:
        """Columns as bytes (a copy at C speed), the usual ones as None: every payment from the
        first funding line, none reversed. Vouchers as one text, less the prefix they all
        share (a project's vouchers mostly do), with their payments' indexes only when some
        payment has none."""
        n = len(self.amounts)
        vouchers = self.vouchers
        shared = _shared_prefix(vouchers) if len(vouchers) > 1 else ""
        cut = len(shared)
        text: str | list[str] = _SEP.join([v[cut:] for v in vouchers])
        if not vouchers or text.count(_SEP) != len(vouchers) - 1:  # a voucher holds _SEP
            text, shared = list(vouchers), ""
        return (self.prefix, self.ids, self.indicators,
                None if self.line.count(0) == n else self.line.tobytes(),
                self.amounts.tobytes(), self.days.tobytes(),
                bytes(self.reversed) if 1 in self.reversed else None,
                shared, text, None if len(vouchers) == n else list(vouchers.values()))

    @classmethod
    def thaw(cls, frozen: tuple[Any, ...]) -> PaymentBook:
        (prefix, ids, indicators, line, amounts, days, reversed_, shared, text,
         paid_by) = frozen
        book = cls.__new__(cls)
        book.prefix, book.ids, book.indicators = prefix, ids, indicators
        book.days = array("i")
        book.days.frombytes(days)
        n = len(book.days)
        book.amounts = money_from_bytes(amounts, n)
        book.line = array("I")
        if line is None:
            book.line.frombytes(bytes(4 * n))
        else:
            book.line.frombytes(line)
        book.reversed = bytearray(n if reversed_ is None else reversed_)
        if type(text) is str:
            suffixes = text.split(_SEP) if text else []
            vouchers = [shared + v for v in suffixes] if shared else suffixes
        else:
            vouchers = text
        book.vouchers = dict(zip(vouchers, range(n) if paid_by is None
                                 else paid_by, strict=True))
        return book


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
        self.payments = PaymentBook(f"{project_id}:P")
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

    @property
    def vouchers(self) -> dict[str, str]:
        """Voucher → payment id (a copy; :meth:`PaymentBook.paid_by_voucher` asks for one)."""
        return self.payments.voucher_map()

    def freeze(self) -> bytes:
        """This project's state as bytes, for the aggregate cache's frozen tier only (never
        stored, never read by another process: pickle is safe here, and the layout numbers
        below are this process's). Frozen, a project of 22 events is ~0.6 KB; it freezes in
        ~10 µs and thaws in ~15–20 µs (``python -m bench.frozen``), where a load from the
        store replays every event (~27 µs each at scale 1.0: docs/performance.md, "Payments
        as columns").

        Every attribute is carried (one added later needs no change here): the payments and
        the funding lines' timelines as their columns' bytes; dates, UTC datetimes and
        Decimals as ordinals, microseconds and text (pickling one of those objects costs
        more than the rest of a project: ~5 µs a datetime); the rest as they are."""
        state = dict(self.__dict__)
        book: PaymentBook = state.pop("payments")
        lines: dict[str, FundingLine] = state.pop("lines")
        state["_id"] = self.id.int
        values = list(state.values())
        layout = _layout(tuple(state), tuple(map(_KINDS.get, map(type, values))))
        for i, kind in _LAYOUT_CODED[layout]:
            values[i] = _encode(kind, values[i])
        funding = [(k, ln.allocated, ln.paid, *ln.unpaid.to_bytes()) for k, ln in lines.items()]
        return pickle.dumps((layout, values, funding, book.freeze()), 5)

    @classmethod
    def thaw(cls, frozen: bytes) -> Project:
        """The project :meth:`freeze` was given, as a new object equal to it."""
        layout, values, funding, book = pickle.loads(frozen)
        for i, kind in _LAYOUT_CODED[layout]:
            values[i] = _decode(kind, values[i])
        state = dict(zip(_LAYOUT_KEYS[layout], values, strict=True))
        state["_id"] = _uuid(state["_id"])
        state["lines"] = {k: FundingLine(allocated, paid, Timeline.from_bytes(days, deltas))
                          for k, allocated, paid, days, deltas in funding}
        state["payments"] = PaymentBook.thaw(book)
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
        """The funding line from ``indicator_id`` grows (checked by :meth:`check_funding`);
        triggered straight from its event class, as :meth:`pay` is."""
        self.trigger_event(
            self.FundingAllocated,  # type: ignore[attr-defined]
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
        self.payments.add(payment_id, indicator_id, amount, effective_date, voucher)
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
        self.payments.mark_reversed(payment_id)
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
