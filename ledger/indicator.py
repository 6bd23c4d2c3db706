"""The budget indicator (预算指标): an amount one unit holds under one document, task and source.

Money moves between indicators only by events recorded here. Every movement touches a second
aggregate (a child, a parent, a project), so the Batch runs it: this indicator's ``check_…``
methods first (no state change), the other aggregate's checks, and only then the methods that
trigger each one's own event — a refused command triggers nothing, and each check runs once.
"""

from __future__ import annotations

from datetime import date
from functools import lru_cache
from typing import Any
from uuid import NAMESPACE_URL, UUID, uuid5

from eventsourcing.domain import Aggregate, event

from ledger import invariants as inv
from ledger.subjects import check_refines
from ledger.terms import IndicatorTerms
from ledger.timeline import Timeline
from ledger.topics import topic

_NS = uuid5(NAMESPACE_URL, "budget-ledger:indicator")


class Indicator(Aggregate):
    """A budget indicator. ``parent_id`` is None for a root (issued), else the forwarding parent."""

    TOPIC = topic("Indicator")

    class Created(Aggregate.Created):
        """Base of the two creation events; never stored by itself."""

        TOPIC = topic("Indicator.Created")

    class Issued(Created):
        """下达 — a root indicator put at a unit's disposal by an issuer outside (or at the top of) the ledger.

        Class version 2 carries the terms as one :class:`IndicatorTerms`; version 1 (stored
        before it) had its seven fields loose, and is upcast on load. ``Received`` and
        ``PoolReceived`` inherit both."""

        TOPIC = topic("Indicator.Issued")
        class_version = 2
        indicator_id: str
        unit: str
        issuer: str
        amount: int
        terms: IndicatorTerms
        doc: str
        effective_date: date
        actor: str

        @staticmethod
        def upcast_v1_v2(state: dict[str, Any]) -> None:
            IndicatorTerms.upcast(state)

    class Received(Issued):
        """转下达 (received side) — a child indicator created by a forward; carries its parent's
        terms: ``Issued``'s fields, and where it came from."""

        TOPIC = topic("Indicator.Received")
        parent_id: str
        root_id: str

    class PoolReceived(Received):
        """收回统筹 (received side) — money a finance department took back from one of its own
        indicators into the same level's pool (同级统筹): a child of that indicator held by the
        same unit, with its terms, so the money stays tracked and stays 衔接 money. The same
        fields as ``Received``; its own topic."""

        TOPIC = topic("Indicator.PoolReceived")

    def __init__(
        self,
        indicator_id: str,
        unit: str,
        issuer: str,
        amount: int,
        terms: IndicatorTerms,
        doc: str,
        effective_date: date,
        parent_id: str | None = None,
        root_id: str | None = None,
    ) -> None:
        self.indicator_id = indicator_id
        self.unit = unit
        self.issuer = issuer
        self.terms = terms
        self.doc = doc
        self.effective_date = effective_date
        self.parent_id = parent_id
        self.root_id = root_id or indicator_id
        self.received = amount
        self.forwarded = 0  # net of money recovered back from children
        self.allocated = 0  # net of deallocations
        self.recovered = 0  # returned to the parent (or, for a root, to the issuer)
        self.last_date = effective_date  # the latest effective date of any entry
        self.timeline = Timeline()  # available, by business date
        self.timeline.add(effective_date, amount)

    # ---- identity -------------------------------------------------------------------------

    @staticmethod
    @lru_cache(maxsize=1 << 14)
    def uuid_for(indicator_id: str) -> UUID:
        """uuid5 of the id, remembered for the last few thousand: an import asks for a new
        indicator's UUID four times (preload, the id check, the event, the cache)."""
        return uuid5(_NS, indicator_id)

    @property
    def available(self) -> int:
        """What the unit holds and has not passed on: received − forwarded − allocated − recovered."""
        return self.received - self.forwarded - self.allocated - self.recovered

    # ---- creation -------------------------------------------------------------------------

    @classmethod
    def issue(
        cls,
        *,
        indicator_id: str,
        unit: str,
        issuer: str,
        amount: int,
        terms: IndicatorTerms,
        doc: str,
        effective_date: date,
        actor: str,
    ) -> Indicator:
        inv.check_positive(amount)
        return cls._create(
            cls.Issued,
            id=cls.uuid_for(indicator_id),
            indicator_id=indicator_id,
            unit=unit,
            issuer=issuer,
            amount=amount,
            terms=terms,
            doc=doc,
            effective_date=effective_date,
            actor=actor,
        )

    @classmethod
    def receive(
        cls,
        *,
        parent: Indicator,
        child_id: str,
        unit: str,
        amount: int,
        terms: IndicatorTerms,
        doc: str,
        effective_date: date,
        actor: str,
    ) -> Indicator:
        """转下达, receiving side: the child a forward creates, with ``terms`` from
        :meth:`child_terms` (checked there) and the parent's unit as issuer and root."""
        return cls._child(cls.Received, parent, child_id, unit, amount, terms, doc,
                          effective_date, actor)

    @classmethod
    def receive_pool(
        cls, *, parent: Indicator, pool_id: str, amount: int, effective_date: date, actor: str,
        doc: str,
    ) -> Indicator:
        """收回统筹, the pool's side: a child of ``parent`` held by the same unit, same terms."""
        return cls._child(cls.PoolReceived, parent, pool_id, parent.unit, amount, parent.terms,
                          doc, effective_date, actor)

    @classmethod
    def _child(
        cls, event: Any, parent: Indicator, ident: str, unit: str, amount: int,
        terms: IndicatorTerms, doc: str, effective_date: date, actor: str,
    ) -> Indicator:
        """A child indicator of ``parent``: issued by the parent's unit, under the parent's root."""
        return cls._create(
            event,
            id=cls.uuid_for(ident),
            indicator_id=ident,
            unit=unit,
            issuer=parent.unit,
            amount=amount,
            doc=doc,
            effective_date=effective_date,
            actor=actor,
            parent_id=parent.indicator_id,
            root_id=parent.root_id,
            terms=terms,
        )

    # ---- checks (no state change) ----------------------------------------------------------
    # A command that touches two aggregates (forward, allocate, deallocate, recover, pool) is
    # orchestrated by the Batch (ledger/batch.py): it runs both aggregates' checks, then
    # calls both aggregates' movement methods below, which only trigger their own events. So
    # nothing is triggered unless every check of the command passed, and each check runs once.

    def check_dated(self, effective_date: date) -> None:
        """``dated-after-its-entity``: no entry before this indicator existed."""
        inv.check_dated_after(f"indicator {self.indicator_id}", self.effective_date, effective_date)

    def check_debit(self, amount: int, effective_date: date, action: str) -> None:
        """Any money leaving this indicator: dated after it, positive, and covered by what it
        holds on that day and every later one (``available-non-negative``)."""
        self.check_dated(effective_date)
        inv.check_available(self, amount, action, effective_date)

    def child_terms(
        self, expected_terms: dict[str, object] | None, subject: str | None
    ) -> IndicatorTerms:
        """The terms a child of this indicator carries: the caller's expectations must match
        this indicator's (``child-inherits-parent``, ``tracking-flag-unchanged``); ``subject``
        may refine the functional subject to a 项级 subject below this one's."""
        inv.check_inherits(self, expected_terms or {})
        if subject is None:
            return self.terms
        check_refines(f"indicator {self.indicator_id}", self.terms.subject, subject)
        return self.terms.refined(subject)

    # ---- movements (each triggers this indicator's event only; checked above, by the Batch) -

    def forward_out(
        self, *, child_id: str, amount: int, effective_date: date, actor: str, doc: str
    ) -> None:
        """转下达, sending side (checked by :meth:`check_debit`)."""
        self._forwarded_out(
            child_id=child_id, amount=amount, effective_date=effective_date, actor=actor, doc=doc
        )

    def allocate(
        self, *, project_id: str, amount: int, effective_date: date, actor: str, doc: str | None
    ) -> None:
        """分解: money of this indicator assigned to a project (checked by :meth:`check_debit`;
        the project records the line)."""
        # triggered straight from the class @event made, as Project.pay does (the decorator's
        # per-call binding was ~40 % of the trigger; tests/test_write_path.py: the same bytes)
        self.trigger_event(
            self.AllocatedToProject,  # type: ignore[attr-defined]
            project_id=project_id, amount=amount, effective_date=effective_date, actor=actor, doc=doc
        )

    def deallocate(
        self,
        *,
        project_id: str,
        amount: int,
        effective_date: date,
        actor: str,
        doc: str | None,
        reason: str,
    ) -> None:
        """调减: a project's line gives money back (the date by :meth:`check_dated`; the amount
        by the project, which checks it is unpaid)."""
        self._deallocated(
            project_id=project_id,
            amount=amount,
            effective_date=effective_date,
            actor=actor,
            doc=doc,
            reason=reason,
        )

    def recover(
        self, *, amount: int, effective_date: date, actor: str, doc: str, reason: str
    ) -> None:
        """收回: unspent money returned to the parent (or, for a root, to its issuer); checked
        by :meth:`check_debit`."""
        self._recovered(
            amount=amount,
            returned_to=self.parent_id,
            effective_date=effective_date,
            actor=actor,
            doc=doc,
            reason=reason,
        )

    def receive_recovery(
        self, *, child_id: str, amount: int, effective_date: date, actor: str, doc: str,
        reason: str,
    ) -> None:
        """The parent's side of a recovery. Nothing to check here: the parent existed before
        its child, so a date valid for the child is valid here, and money only comes back."""
        self._recovery_received(
            child_id=child_id,
            amount=amount,
            effective_date=effective_date,
            actor=actor,
            doc=doc,
            reason=reason,
        )

    def pool_out(
        self, *, pool_id: str, amount: int, effective_date: date, actor: str, doc: str, reason: str
    ) -> None:
        """收回 into the same level's pool (同级统筹), sending side (checked by
        :meth:`check_debit`); the pool indicator is :meth:`receive_pool`."""
        self._pooled(child_id=pool_id, amount=amount, effective_date=effective_date, actor=actor,
                     doc=doc, reason=reason)

    def _moved(self, effective_date: date, available_change: int) -> None:
        self.timeline.add(effective_date, available_change)
        self.last_date = max(self.last_date, effective_date)

    # ---- events (the bodies are the only place indicator state changes) --------------------

    @event("ForwardedOut", topic=topic("Indicator.ForwardedOut"))
    def _forwarded_out(
        self, child_id: str, amount: int, effective_date: date, actor: str, doc: str
    ) -> None:
        self.forwarded += amount
        self._moved(effective_date, -amount)

    @event("AllocatedToProject", topic=topic("Indicator.AllocatedToProject"))
    def _allocated_to_project(
        self, project_id: str, amount: int, effective_date: date, actor: str, doc: str | None
    ) -> None:
        self.allocated += amount
        self._moved(effective_date, -amount)

    @event("Deallocated", topic=topic("Indicator.Deallocated"))
    def _deallocated(
        self,
        project_id: str,
        amount: int,
        effective_date: date,
        actor: str,
        doc: str | None,
        reason: str,
    ) -> None:
        self.allocated -= amount
        self._moved(effective_date, amount)

    @event("Recovered", topic=topic("Indicator.Recovered"))
    def _recovered(
        self,
        amount: int,
        returned_to: str | None,
        effective_date: date,
        actor: str,
        doc: str,
        reason: str,
    ) -> None:
        self.recovered += amount
        self._moved(effective_date, -amount)

    @event("Pooled", topic=topic("Indicator.Pooled"))
    def _pooled(
        self, child_id: str, amount: int, effective_date: date, actor: str, doc: str, reason: str
    ) -> None:
        self.forwarded += amount  # passed to the pool indicator, which holds it from now on
        self._moved(effective_date, -amount)

    @event("RecoveryReceived", topic=topic("Indicator.RecoveryReceived"))
    def _recovery_received(
        self, child_id: str, amount: int, effective_date: date, actor: str, doc: str, reason: str
    ) -> None:
        self.forwarded -= amount
        self._moved(effective_date, amount)
