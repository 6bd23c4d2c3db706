"""The Python writer of the read models: stored events in, read-model rows out.

:class:`JournalWriter` decodes each stored JSON state directly (no domain object per event) and
inserts the rows in bulk, one handler per event class. It is the reference: a scratch database
(``verify``'s rebuild) is filled only by it, and the SQL path (``projections/sql_fast_path.py``)
must write exactly its rows. :func:`read_log` reads the stored events straight from the library's
table.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from datetime import date
from typing import Any, NamedTuple

from sqlalchemy import Connection, select

from ledger.errors import LedgerError
from ledger.movements import MOVES, Indicator, Project  # the aggregates, typed Any (see there)
from ledger.topics import event_name
from ledger.unit import Unit as _Unit
from projections import sql_fast_path
from projections.db import chunks
from projections.stored_state import TRANSCODED, fixed_utc, flatten_terms
from projections.tables import ALL_TABLES, IndicatorRow, ProjectRow


class UndecodableEvent(LedgerError):
    """A stored event the read models cannot understand (edited bytes, unknown topic): the store
    is damaged (exit 4); ``verify`` reports it as a finding."""

    exit_code = 4


class StoredEvent(NamedTuple):
    """One row of the event store's table, as read for the read models (no domain object)."""

    id: int
    originator_hex: str
    topic: str
    state: bytes | str


def read_log(curs: Any, sqlite: bool, table: str, after: int, limit: int,
             stop: int | None = None) -> list[StoredEvent]:
    """Stored events after position ``after``, straight from the library's table on one of its
    own cursors. The library's ``select_notifications`` builds a UUID object per row, a fifth of
    a rebuild; the read models need the hex only. Same table, same order, same positions."""
    pos = "rowid" if sqlite else "notification_id"
    upper = f" AND {pos} <= {int(stop)}" if stop is not None else ""
    curs.execute(f"SELECT {pos} AS pos, originator_id, topic, state FROM {table} "
                 f"WHERE {pos} > {int(after)}{upper} ORDER BY {pos} LIMIT {int(limit)}")
    rows = curs.fetchall()
    if sqlite:
        return [StoredEvent(r["pos"], r["originator_id"], r["topic"], r["state"]) for r in rows]
    return [StoredEvent(r["pos"], r["originator_id"].hex, r["topic"], bytes(r["state"])) for r in rows]


# ---- rows per event type ------------------------------------------------------------------------

Rows = dict[str, list[tuple[Any, ...]]]
_COLS: dict[str, list[str]] = {t.name: [c.name for c in t.columns] for t in ALL_TABLES}


class JournalWriter:
    """Turns notifications into read-model rows and writes them with ``executemany``.

    ``ids`` maps aggregate UUIDs (hex) to human ids: events on an existing indicator or project
    name it only by its UUID. It is filled by creation events and, for aggregates created
    before this batch, by one query per batch.
    """

    def __init__(self) -> None:
        self.ids: dict[str, str] = {}

    def apply(self, conn: Connection, notes: Sequence[Any]) -> None:
        if not notes:
            return
        sqlite = conn.dialect.name == "sqlite"
        decoded = [self._decode(n) for n in notes]
        self._resolve(conn, decoded)
        rows: Rows = {name: [] for name in _COLS}
        for pos, typ, origin, s in decoded:
            if not sqlite:
                s["effective_date"] = date.fromisoformat(s["effective_date"])
            touched = _HANDLERS[typ](self, rows, pos, typ, origin, s)
            if touched is None:  # a payment: its rm_payments row is its log entry
                continue
            entity, other, third = (*touched, None, None)[:3]
            rows["rm_events"].append((pos, s["timestamp"], s["effective_date"], typ, s["actor"],
                                      entity, other, third, s.get("doc"), s.get("amount")))
        mark = "?" if sqlite else "%s"
        for name, batch in rows.items():
            if batch:
                cols = _COLS[name]
                conn.exec_driver_sql(
                    f"INSERT INTO {name} ({', '.join(cols)}) VALUES ({', '.join([mark] * len(cols))})",
                    batch,  # type: ignore[arg-type]
                )

    @staticmethod
    def _decode(n: StoredEvent) -> tuple[int, str, str, dict[str, Any]]:
        try:
            _kind, sep, typ = str(n.topic).partition(".")
            if not sep or typ not in _HANDLERS:
                raise ValueError(f"unknown topic {n.topic!r}")
            state = n.state.decode("utf-8") if isinstance(n.state, bytes) else str(n.state)
            s = flatten_terms(json.loads(state))  # one layout for both class versions
            for key in TRANSCODED:
                if key in s:
                    s[key] = s[key]["_data_"]
            s["timestamp"] = fixed_utc(s["timestamp"])
            date.fromisoformat(s["effective_date"])
            amount = s.get("amount", 0)
            if not isinstance(amount, int) or isinstance(amount, bool):
                raise ValueError(f"amount {amount!r} is not a whole number of fen")
            if not isinstance(s["actor"], str):
                raise ValueError(f"actor {s['actor']!r} is not text")
        except (ValueError, KeyError, TypeError, UnicodeDecodeError) as e:
            raise UndecodableEvent(f"log position {n.id}: stored event cannot be decoded ({e}); "
                                   "the log was altered — `budget-ledger verify` reports it") from e
        return n.id, typ, n.originator_hex, s

    def _resolve(self, conn: Connection, decoded: list[tuple[int, str, str, dict[str, Any]]]) -> None:
        created = {origin for _p, typ, origin, _s in decoded if typ in _CREATIONS}
        missing = {origin for _p, typ, origin, _s in decoded
                   if typ not in _CREATIONS and typ not in _SELF_NAMED
                   and origin not in self.ids and origin not in created}
        if len(self.ids) > 1_000_000:  # bounded memory on very long rebuilds
            self.ids.clear()
        keys = sorted(missing)
        for table, pk in ((IndicatorRow, IndicatorRow.indicator_id), (ProjectRow, ProjectRow.project_id)):
            for chunk in chunks(keys):
                stmt = select(table.uuid, pk).where(table.uuid.in_(chunk))
                self.ids.update({u: ident for u, ident in conn.execute(stmt)})
        for pos, _typ, origin, _s in decoded:
            if origin in missing and origin not in self.ids:
                raise UndecodableEvent(f"log position {pos}: event on an aggregate never created")

    # ---- handlers: each appends its rows and returns the entities the event touched ------------

    def journal(self, rows: Rows, pos: int, typ: str, s: dict[str, Any], indicator: str,
                project: str | None = None, payment: str | None = None) -> None:
        bucket, sign = MOVES[typ]
        rows["rm_journal"].append((pos, indicator, project, payment, bucket, sign * s["amount"],
                                   s["effective_date"], s["timestamp"]))

    def indicator_created(self, rows: Rows, pos: int, typ: str, origin: str, s: dict[str, Any]) -> list[str]:
        ident = s["indicator_id"]
        parent = s.get("parent_id")
        self.ids[origin] = ident
        rows["rm_indicators"].append((
            ident, origin, s["unit"], s["issuer"], parent, s.get("root_id") or ident, s["year"],
            s["task"], s["source"], s["subject"], s["tracking"], s["direct"], s["advance"], s["doc"],
            s["effective_date"], s["timestamp"], pos,
        ))
        self.journal(rows, pos, typ, s, ident)
        return [ident, parent] if parent else [ident]

    def indicator_move(self, rows: Rows, pos: int, typ: str, origin: str, s: dict[str, Any]) -> list[str]:
        ident = self.ids[origin]
        other = s.get(_OTHER[typ])
        self.journal(rows, pos, typ, s, ident, project=s.get("project_id"))
        return [ident, other] if other else [ident]

    def project_registered(self, rows: Rows, pos: int, typ: str, origin: str, s: dict[str, Any]) -> list[str]:
        ident = s["project_id"]
        self.ids[origin] = ident
        rows["rm_projects"].append((ident, origin, s["unit"], s["name"], s["category"], s.get("doc"),
                                    s["effective_date"], s["timestamp"], pos))
        return [ident]

    def funding(self, rows: Rows, pos: int, typ: str, origin: str, s: dict[str, Any]) -> list[str]:
        return [self.ids[origin], s["indicator_id"]]

    def payment(self, rows: Rows, pos: int, typ: str, origin: str, s: dict[str, Any]) -> None:
        """No rm_events row: the payment's row carries its log entry (actor, doc)."""
        prj, pid = self.ids[origin], s["payment_id"]
        rows["rm_payments"].append((pid, prj, s["indicator_id"], s["amount"], s["payee"],
                                    s["payee_kind"], s.get("voucher"), s["labour"], s["actor"],
                                    s.get("doc"), s["effective_date"], s["timestamp"], pos))
        self.journal(rows, pos, PAID, s, s["indicator_id"], prj, pid)

    def reversal(self, rows: Rows, pos: int, typ: str, origin: str, s: dict[str, Any]) -> list[str]:
        prj, pid = self.ids[origin], s["payment_id"]
        rows["rm_reversals"].append((pid, s["reason"], s["effective_date"], s["timestamp"], pos))
        self.journal(rows, pos, REVERSED, s, s["indicator_id"], prj, pid)
        return [prj, s["indicator_id"], pid]

    def progress(self, rows: Rows, pos: int, typ: str, origin: str, s: dict[str, Any]) -> list[str]:
        prj = self.ids[origin]
        rows["rm_progress_reports"].append((pos, prj, str(s["percent"]), s["effective_date"],
                                            s["timestamp"]))
        return [prj]

    def renamed(self, rows: Rows, pos: int, typ: str, origin: str, s: dict[str, Any]) -> list[str]:
        prj = self.ids[origin]
        rows["rm_renames"].append((pos, prj, s["old_name"], s["new_name"], s["doc"],
                                   s["effective_date"], s["timestamp"]))
        return [prj]

    def unit_set(self, rows: Rows, pos: int, typ: str, origin: str, s: dict[str, Any]) -> list[str]:
        """Unit.Declared / Unit.Corrected: the unit's level and area from this event on (both
        events name the unit)."""
        name = s["unit"]
        rows["rm_units"].append((pos, name, s["level"], s.get("area"), s["direct_county"],
                                 s.get("doc"), s["effective_date"], s["timestamp"]))
        return [name]

    def subject_refined(self, rows: Rows, pos: int, typ: str, origin: str, s: dict[str, Any]) -> list[str]:
        prj = self.ids[origin]
        rows["rm_line_subjects"].append((pos, prj, s["indicator_id"], s["subject"],
                                         s["effective_date"], s["timestamp"]))
        return [prj, s["indicator_id"]]


E = event_name
PAID, REVERSED = E(Project.PaymentMade), E(Project.PaymentReversed)
_CREATIONS = {E(Indicator.Issued), E(Indicator.Received), E(Indicator.PoolReceived),
              E(Project.Registered)}
Unit: Any = _Unit  # its @event classes are made at run time too
_SELF_NAMED = {E(Unit.Declared), E(Unit.Corrected)}  # name their entity; no UUID look-up
_OTHER = sql_fast_path.COUNTERPARTY  # the counterparty an indicator movement names

# event (by class) → the writer's handler; an event class renamed or removed fails here
_HANDLERS: dict[str, Callable[..., list[str] | None]] = {
    E(Indicator.Issued): JournalWriter.indicator_created,
    E(Indicator.Received): JournalWriter.indicator_created,
    E(Indicator.PoolReceived): JournalWriter.indicator_created,
    **{typ: JournalWriter.indicator_move for typ in _OTHER},
    E(Project.Registered): JournalWriter.project_registered,
    E(Project.FundingAllocated): JournalWriter.funding,
    E(Project.FundingReleased): JournalWriter.funding,
    E(Project.PaymentMade): JournalWriter.payment,
    E(Project.PaymentReversed): JournalWriter.reversal,
    E(Project.ProgressReported): JournalWriter.progress,
    E(Project.Renamed): JournalWriter.renamed,
    E(Project.SubjectRefined): JournalWriter.subject_refined,
    **{typ: JournalWriter.unit_set for typ in _SELF_NAMED},
}
