"""Bulk imports (批量导入): allocation tables, projects with funding lines, payments.

An application service above the write side: it turns a file into ledger commands and runs them in
one :class:`~ledger.batch.Batch`. Its look-ups go to the event store (by deterministic id, or
the log's indicator-creation events) — never to a read model. A file goes through four steps, and
nothing is written unless every row passes all of them:

1. **read** (:mod:`.reading`, :mod:`.xlsx`) — CSV or ``.xlsx`` into cells, keeping the file's row
   numbers, finding the header row, refusing short rows, unclosed quotes and uncomputed formulas;
2. **validate** (:mod:`.rows`) — every row into a pydantic row model; a bad cell is one problem
   naming file, row, column, value and why (exit 2);
3. **plan** (:mod:`.allocations`, :mod:`.projects`, :mod:`.payments`) — rows into ledger commands
   in an order the ledger accepts, checking what only the whole file can tell: cycles, duplicate
   rows and vouchers, totals that do not close, rows already imported (natural keys);
4. **apply** (:mod:`.apply`) — every command to ONE Batch, i.e. against the ledger *plus the rows
   before it*; a refused row is reported and the next one is tried, so one run lists every bad row.
   Only a clean file is saved, in one transaction (an allocation table in several saves inside
   that one transaction: :mod:`ledger.streamed`, :mod:`.allocation_write`).

Natural keys make imports idempotent: an allocation row's indicators get ids derived from
document + from + to + task (:func:`allocation_indicator_id`), a project is its id, a payment its
voucher (within its project).
"""

from ledger.imports.allocations import (
    AllocationOptions,
    AllocationPlan,
    allocation_indicator_id,
    import_allocations,
    plan_allocations,
)
from ledger.imports.apply import (
    PROGRESS_THRESHOLD,
    ImportResult,
    ProgressFactory,
    Root,
    Step,
    apply_steps,
)
from ledger.imports.payments import import_payments, plan_payments
from ledger.imports.problems import AlreadyRecorded, ImportRejected, Problem
from ledger.imports.projects import import_projects, plan_projects
from ledger.imports.reading import RawTable, read_table, table_from_bytes, table_from_text
from ledger.imports.rows import AllocationRow, PaymentRow, ProjectRow

__all__ = [
    "PROGRESS_THRESHOLD",
    "AllocationOptions",
    "AllocationPlan",
    "AllocationRow",
    "AlreadyRecorded",
    "ImportRejected",
    "ImportResult",
    "PaymentRow",
    "Problem",
    "ProgressFactory",
    "ProjectRow",
    "RawTable",
    "Root",
    "Step",
    "allocation_indicator_id",
    "apply_steps",
    "import_allocations",
    "import_payments",
    "import_projects",
    "plan_allocations",
    "plan_payments",
    "plan_projects",
    "read_table",
    "table_from_bytes",
    "table_from_text",
]
