"""Look-ups an import needs, answered by what the write side owns — never by a read model.

- *Is this row already in the ledger?* Indicator ids derive from the allocation row's natural key
  and projects are their ids, so the event store answers by key (``batch.exists(uuid)``: one row, or
  none when the import preloaded its ids).
- *Is this voucher recorded?* A voucher is unique within its project (the write side's rule), so
  the payment step looks in the ``vouchers`` of the project it loads into the import's Batch.
- *Which indicator does document + unit + task name?* The store has no key for that, so the log's
  indicator-creation events (``Indicator.Issued`` / ``Indicator.Received``, selected by topic) are
  read once per import, in pages; only a projects file using ``indicator_doc`` pays for it.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable

from ledger.application import BudgetLedger
from ledger.batch import Batch
from ledger.indicator import Indicator
from ledger.project import Project

PAGE = 1000
DocKey = tuple[str, str, str]  # document, unit, task


def indicator_exists(app: BudgetLedger, batch: Batch, ident: str) -> bool:
    return ident in batch.indicators or batch.exists(Indicator.uuid_for(ident))


def project_exists(app: BudgetLedger, batch: Batch, ident: str) -> bool:
    return ident in batch.projects or batch.exists(Project.uuid_for(ident))


def indicators_by_document(app: BudgetLedger, wanted: Iterable[DocKey]) -> dict[DocKey, list[str]]:
    """Indicator ids created under each (document, unit, task) asked for, from the event log."""
    keys = set(wanted)
    found: dict[DocKey, list[str]] = defaultdict(list)
    if not keys:
        return found
    topics = [Indicator.Issued.TOPIC, Indicator.Received.TOPIC,  # type: ignore[attr-defined]
              Indicator.PoolReceived.TOPIC]  # type: ignore[attr-defined]
    start: int | None = None
    while True:
        page = app.recorder.select_notifications(start, PAGE, topics=topics,
                                                 inclusive_of_start=start is None)
        for item in page:
            ev = app.mapper.to_domain_event(item)
            key = (ev.doc, ev.unit, ev.terms.task)  # type: ignore[attr-defined]
            if key in keys:
                found[key].append(ev.indicator_id)  # type: ignore[attr-defined]
        if len(page) < PAGE:
            return {k: sorted(v) for k, v in found.items()}
        start = page[-1].id
