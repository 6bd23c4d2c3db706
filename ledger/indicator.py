"""The budget indicator (预算指标): an amount one unit holds under one document, task and source.

Money moves between indicators only by events recorded here. Each public method checks its
invariants first and only then triggers its event, so a refused command triggers nothing.
"""

from __future__ import annotations

from datetime import date
from functools import lru_cache
from uuid import NAMESPACE_URL, UUID, uuid5

from eventsourcing.domain import Aggregate, event

from ledger import invariants as inv
from ledger.subjects import check_refines
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
        """下达 — a root indicator put at a unit's disposal by an issuer outside (or at the top of) the ledger."""

        TOPIC = topic("Indicator.Issued")
        indicator_id: str
        unit: str
        issuer: str
        amount: int
        year: int
        task: str
        source: str
        subject: str | None
        tracking: bool
        direct: bool
        advance: bool
        doc: str
        effective_date: date
        actor: str

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
        year: int,
        task: str,
        source: str,
        subject: str | None,
        tracking: bool,
        direct: bool,
        advance: bool,
        doc: str,
        effective_date: date,
        parent_id: str | None = None,
        root_id: str | None = None,
    ) -> None:
        self.indicator_id = indicator_id
        self.unit = unit
        self.issuer = issuer
        self.year = year
        self.task = task
        self.source = source
        self.subject = subject
        self.tracking = tracking
        self.direct = direct
        self.advance = advance
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

    def inherited_terms(self) -> dict[str, object]:
        return {
            "year": self.year,
            "task": self.task,
            "source": self.source,
            "subject": self.subject,
            "tracking": self.tracking,
            "direct": self.direct,
            "advance": self.advance,
        }

    # ---- creation -------------------------------------------------------------------------

    @classmethod
    def issue(
        cls,
        *,
        indicator_id: str,
        unit: str,
        issuer: str,
        amount: int,
        year: int,
        task: str,
        source: str,
        subject: str | None,
        tracking: bool,
        direct: bool,
        advance: bool,
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
            year=year,
            task=task,
            source=source,
            subject=subject,
            tracking=tracking,
            direct=direct,
            advance=advance,
            doc=doc,
            effective_date=effective_date,
            actor=actor,
        )

    def forward(
        self,
        *,
        child_id: str,
        unit: str,
        amount: int,
        doc: str,
        effective_date: date,
        actor: str,
        expected_terms: dict[str, object] | None = None,
        subject: str | None = None,
    ) -> Indicator:
        """转下达: debit this indicator and create the child. Save both together. ``subject``
        refines the functional subject for the child (a 项级 subject below this one's)."""
        inv.check_inherits(self, expected_terms or {})
        terms = self.inherited_terms()
        if subject is not None:
            check_refines(f"indicator {self.indicator_id}", self.subject, subject)
            terms["subject"] = subject
        self.check_dated(effective_date)
        inv.check_available(self, amount, "forward", effective_date)
        self._forwarded_out(
            child_id=child_id, amount=amount, effective_date=effective_date, actor=actor, doc=doc
        )
        return type(self)._create(
            self.Received,
            id=self.uuid_for(child_id),
            indicator_id=child_id,
            unit=unit,
            issuer=self.unit,
            amount=amount,
            doc=doc,
            effective_date=effective_date,
            actor=actor,
            parent_id=self.indicator_id,
            root_id=self.root_id,
            **terms,  # type: ignore[arg-type]
        )

    # ---- movements ------------------------------------------------------------------------

    def allocate(
        self, *, project_id: str, amount: int, effective_date: date, actor: str, doc: str | None
    ) -> None:
        """分解: assign money of this indicator to a project (the project records the line)."""
        self.check_dated(effective_date)
        inv.check_available(self, amount, "allocate", effective_date)
        self._allocated_to_project(
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
        """调减: a project's line gives money back (the project checks it is unpaid)."""
        inv.check_positive(amount)
        self.check_dated(effective_date)
        self._deallocated(
            project_id=project_id,
            amount=amount,
            effective_date=effective_date,
            actor=actor,
            doc=doc,
            reason=reason,
        )

    def recover(
        self,
        *,
        parent: Indicator | None,
        amount: int,
        effective_date: date,
        actor: str,
        doc: str,
        reason: str,
    ) -> None:
        """收回: return unspent money to the parent (or, for a root, to its issuer). The parent
        existed before this child, so a date valid here is valid there."""
        self.check_dated(effective_date)
        inv.check_available(self, amount, "return", effective_date)
        self._recovered(
            amount=amount,
            returned_to=self.parent_id,
            effective_date=effective_date,
            actor=actor,
            doc=doc,
            reason=reason,
        )
        if parent is not None:
            parent._recovery_received(
                child_id=self.indicator_id,
                amount=amount,
                effective_date=effective_date,
                actor=actor,
                doc=doc,
                reason=reason,
            )

    def pool(
        self,
        *,
        pool_id: str,
        amount: int,
        effective_date: date,
        actor: str,
        doc: str,
        reason: str,
    ) -> Indicator:
        """收回 into the same level's pool (同级统筹): unspent money leaves this indicator for a
        pool indicator of the same unit (its child, same terms and root). Save both together."""
        self.check_dated(effective_date)
        inv.check_available(self, amount, "return", effective_date)
        self._pooled(child_id=pool_id, amount=amount, effective_date=effective_date, actor=actor,
                     doc=doc, reason=reason)
        return type(self)._create(
            self.PoolReceived,
            id=self.uuid_for(pool_id),
            indicator_id=pool_id,
            unit=self.unit,
            issuer=self.unit,
            amount=amount,
            doc=doc,
            effective_date=effective_date,
            actor=actor,
            parent_id=self.indicator_id,
            root_id=self.root_id,
            **self.inherited_terms(),  # type: ignore[arg-type]
        )

    def check_dated(self, effective_date: date) -> None:
        inv.check_dated_after(f"indicator {self.indicator_id}", self.effective_date, effective_date)

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
