"""Feeding the read models from the notification log: exactly once, in order, resumable.

One mechanism for both stores: pull notifications after the stored position with
``recorder.select_notifications(position, limit, inclusive_of_start=False)``, apply a batch,
and commit the rows together with the new position. The position is advanced *first*, with a
compare-and-set, so two updaters racing on one database cannot both apply the same batch.
(The library's ProjectionRunner needs ``recorder.subscribe()``, which the SQLite recorders
lack; pulling works the same on SQLite and PostgreSQL.)

:class:`ReadModelWriter` knows nothing about where events come from, so the same code folds the
live log, a full rebuild into scratch tables (``verify``), and filtered replays (``--as-of``).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Iterator, Sequence
from datetime import date, datetime
from decimal import Decimal
from operator import itemgetter
from typing import TYPE_CHECKING, Any

from sqlalchemy import Connection, Date, Engine, insert, select, update

from projections.tables import (
    Base,
    EventEntityRow,
    EventRow,
    FundingLineRow,
    IndicatorRow,
    PaymentRow,
    Position,
    ProgressReportRow,
    ProjectRow,
    RenameRow,
)

if TYPE_CHECKING:
    from ledger.application import BudgetLedger

POSITION_NAME = "main"
_CHUNK = 500
_SKIP_PAYLOAD = {"originator_id", "originator_version", "timestamp", "originator_topic"}

Item = tuple[int, Any]  # (log position, decoded domain event)


def _chunks(seq: Sequence[Any], n: int = _CHUNK) -> Iterator[Sequence[Any]]:
    for i in range(0, len(seq), n):
        yield seq[i : i + n]


def _jsonable(v: Any) -> Any:
    if isinstance(v, (date, datetime)):
        return v.isoformat()
    if isinstance(v, Decimal):
        return str(v)
    return v


def event_type(ev: Any) -> str:
    """'Indicator.ForwardedOut' — the stable topic without its prefix."""
    return str(type(ev).TOPIC).split(".", 1)[1]


def event_payload(ev: Any) -> dict[str, Any]:
    return {k: _jsonable(v) for k, v in vars(ev).items() if k not in _SKIP_PAYLOAD}


class WorkingSet:
    """The rows one batch touches, loaded once, changed in memory, written back in bulk."""

    def __init__(self, conn: Connection) -> None:
        self.conn = conn
        self.ind: dict[str, dict[str, Any]] = {}
        self.ind_by_uuid: dict[str, str] = {}
        self.prj: dict[str, dict[str, Any]] = {}
        self.prj_by_uuid: dict[str, str] = {}
        self.lines: dict[tuple[str, str], dict[str, Any]] = {}
        self.new: set[tuple[str, Any]] = set()  # ("ind"|"prj"|"line", key) inserted, not updated
        self.dirty: set[tuple[str, Any]] = set()
        self.payments: dict[str, dict[str, Any]] = {}  # new in this batch
        self.reversals: list[dict[str, Any]] = []  # of payments stored earlier
        self.progress: list[dict[str, Any]] = []
        self.renames: list[dict[str, Any]] = []
        self.events: list[dict[str, Any]] = []
        self.entities: list[dict[str, Any]] = []

    # ---- loading -------------------------------------------------------------------------

    def preload(self, items: Sequence[Item]) -> None:
        ind_uuids: set[str] = set()
        prj_uuids: set[str] = set()
        ind_ids: set[str] = set()
        prj_ids: set[str] = set()
        for _pos, ev in items:
            kind = event_type(ev).split(".")[0]
            (ind_uuids if kind == "Indicator" else prj_uuids).add(ev.originator_id.hex)
            for attr, bucket in (("parent_id", ind_ids), ("indicator_id", ind_ids), ("project_id", prj_ids)):
                v = getattr(ev, attr, None)
                if v:
                    bucket.add(v)
        self._load(IndicatorRow, IndicatorRow.uuid, ind_uuids, "ind")
        self._load(IndicatorRow, IndicatorRow.indicator_id, ind_ids, "ind")
        self._load(ProjectRow, ProjectRow.uuid, prj_uuids, "prj")
        self._load(ProjectRow, ProjectRow.project_id, prj_ids, "prj")
        pids = list(self.prj)
        for chunk in _chunks(pids):
            for row in self.conn.execute(
                select(FundingLineRow).where(FundingLineRow.project_id.in_(chunk))
            ).mappings():
                self.lines[(row["project_id"], row["indicator_id"])] = dict(row)

    def _load(self, table: Any, column: Any, keys: set[str], kind: str) -> None:
        cache, by_uuid, pk = (
            (self.ind, self.ind_by_uuid, "indicator_id")
            if kind == "ind"
            else (self.prj, self.prj_by_uuid, "project_id")
        )
        keys = {k for k in keys if k not in cache and k not in by_uuid}
        for chunk in _chunks(sorted(keys)):
            for row in self.conn.execute(select(table).where(column.in_(chunk))).mappings():
                r = dict(row)
                cache[r[pk]] = r
                by_uuid[r["uuid"]] = r[pk]

    def indicator(self, key: str, *, by_uuid: bool = False) -> dict[str, Any]:
        ident = self.ind_by_uuid[key] if by_uuid else key
        self.dirty.add(("ind", ident))
        return self.ind[ident]

    def project(self, key: str, *, by_uuid: bool = False) -> dict[str, Any]:
        ident = self.prj_by_uuid[key] if by_uuid else key
        self.dirty.add(("prj", ident))
        return self.prj[ident]

    def line(self, project_id: str, indicator_id: str, effective_date: date) -> dict[str, Any]:
        key = (project_id, indicator_id)
        row = self.lines.get(key)
        if row is None:
            row = {"project_id": project_id, "indicator_id": indicator_id, "allocated": 0,
                   "paid": 0, "first_date": effective_date}
            self.lines[key] = row
            self.new.add(("line", key))
        self.dirty.add(("line", key))
        return row

    # ---- writing -------------------------------------------------------------------------

    def flush(self) -> None:
        out = _Driver(self.conn)
        groups: dict[str, tuple[Any, dict[Any, dict[str, Any]], list[str]]] = {
            "ind": (IndicatorRow, self.ind, ["indicator_id"]),
            "prj": (ProjectRow, self.prj, ["project_id"]),
            "line": (FundingLineRow, self.lines, ["project_id", "indicator_id"]),
        }
        for kind, (table, rows, pks) in groups.items():
            new_rows = [rows[k] for (g, k) in self.new if g == kind]
            old_rows = [rows[k] for (g, k) in self.dirty if g == kind and (g, k) not in self.new]
            out.insert(table, new_rows)
            out.update(table, old_rows, pks)
        out.insert(PaymentRow, list(self.payments.values()))
        out.update(PaymentRow, [
            {"payment_id": r["_pid"], "reversed": True, "reversed_date": r["rd"],
             "reversal_reason": r["rr"]} for r in self.reversals
        ], ["payment_id"], ["reversed", "reversed_date", "reversal_reason"])
        out.insert(ProgressReportRow, self.progress)
        out.insert(RenameRow, self.renames)
        out.insert(EventRow, self.events)
        out.insert(EventEntityRow, self.entities)


class _Driver:
    """Bulk writes straight to the DB-API ``executemany`` with tuples.

    SQLAlchemy's per-row parameter processing cost a third of a rebuild (see
    docs/performance.md); the rows here are plain values the driver adapts itself. SQLite gets
    dates as ISO strings — exactly the form SQLAlchemy's ``Date`` stores and reads back there.
    """

    def __init__(self, conn: Connection) -> None:
        self.conn = conn
        self.sqlite = conn.dialect.name == "sqlite"
        self.mark = "?" if self.sqlite else "%s"

    def _params(self, table: Any, cols: list[str], rows: Sequence[dict[str, Any]]) -> list[Any]:
        get = itemgetter(*cols)
        columns = table.__table__.columns
        dated = [i for i, c in enumerate(cols) if isinstance(columns[c].type, Date)]
        if not self.sqlite or not dated:
            return [get(r) for r in rows]
        params = []
        for r in rows:
            t = list(get(r))
            for i in dated:
                if t[i] is not None:
                    t[i] = t[i].isoformat()
            params.append(tuple(t))
        return params

    def insert(self, table: Any, rows: Sequence[dict[str, Any]]) -> None:
        if not rows:
            return
        cols = [c.name for c in table.__table__.columns]
        sql = (f"INSERT INTO {table.__tablename__} ({', '.join(cols)}) "
               f"VALUES ({', '.join([self.mark] * len(cols))})")
        self.conn.exec_driver_sql(sql, self._params(table, cols, rows))

    def update(self, table: Any, rows: Sequence[dict[str, Any]], pks: list[str],
               cols: list[str] | None = None) -> None:
        if not rows:
            return
        if cols is None:
            cols = [c.name for c in table.__table__.columns if c.name not in pks]
        sql = (f"UPDATE {table.__tablename__} SET {', '.join(f'{c} = {self.mark}' for c in cols)} "
               f"WHERE {' AND '.join(f'{pk} = {self.mark}' for pk in pks)}")
        self.conn.exec_driver_sql(sql, self._params(table, [*cols, *pks], rows))


class ReadModelWriter:
    """Applies decoded events, in order, to the read-model tables on one connection."""

    def apply(self, conn: Connection, items: Sequence[Item]) -> None:
        if not items:
            return
        ws = WorkingSet(conn)
        ws.preload(items)
        for pos, ev in items:
            typ = event_type(ev)
            entities = _HANDLERS[typ](ws, pos, ev)
            payload = event_payload(ev)
            ws.events.append({
                "position": pos,
                "recorded_at": ev.timestamp.isoformat(),
                "effective_date": ev.effective_date,
                "type": typ,
                "actor": ev.actor,
                "entity": entities[0],
                "doc": getattr(ev, "doc", None),
                "amount": getattr(ev, "amount", None),
                "payload": json.dumps(payload, ensure_ascii=False, sort_keys=True),
            })
            for e in dict.fromkeys(x for x in entities if x):
                ws.entities.append({"entity": e, "position": pos})
        ws.flush()


# ---- one handler per event type; each returns the entities the event touched ------------------


def _new_indicator(ws: WorkingSet, pos: int, ev: Any, parent: dict[str, Any] | None) -> list[str]:
    ident = ev.indicator_id
    row = {
        "indicator_id": ident, "uuid": ev.originator_id.hex, "unit": ev.unit, "issuer": ev.issuer,
        "parent_id": parent["indicator_id"] if parent else None,
        "root_id": parent["root_id"] if parent else ident,
        "path": (parent["path"] if parent else "/") + ident + "/",
        "depth": parent["depth"] + 1 if parent else 0,
        "year": ev.year, "task": ev.task, "source": ev.source, "subject": ev.subject,
        "tracking": ev.tracking, "direct": ev.direct, "advance": ev.advance, "doc": ev.doc,
        "effective_date": ev.effective_date, "received": ev.amount, "forwarded": 0,
        "allocated": 0, "paid": 0, "recovered": 0, "available": ev.amount, "position": pos,
    }
    ws.ind[ident] = row
    ws.ind_by_uuid[row["uuid"]] = ident
    ws.new.add(("ind", ident))
    return [ident] + ([row["parent_id"]] if parent else [])


def _issued(ws: WorkingSet, pos: int, ev: Any) -> list[str]:
    return _new_indicator(ws, pos, ev, None)


def _received(ws: WorkingSet, pos: int, ev: Any) -> list[str]:
    return _new_indicator(ws, pos, ev, ws.ind[ev.parent_id])


def _move(field: str, sign: int, other: str) -> Callable[[WorkingSet, int, Any], list[str]]:
    """Indicator events that shift money between one balance column and 'available'."""

    def handler(ws: WorkingSet, pos: int, ev: Any) -> list[str]:
        row = ws.indicator(ev.originator_id.hex, by_uuid=True)
        row[field] += sign * ev.amount
        row["available"] -= sign * ev.amount
        return [row["indicator_id"], getattr(ev, other, None)]

    return handler


def _registered(ws: WorkingSet, pos: int, ev: Any) -> list[str]:
    row = {
        "project_id": ev.project_id, "uuid": ev.originator_id.hex, "unit": ev.unit,
        "name": ev.name, "original_name": ev.name, "category": ev.category, "doc": ev.doc,
        "effective_date": ev.effective_date, "percent": None, "allocated": 0, "paid": 0,
        "position": pos,
    }
    ws.prj[ev.project_id] = row
    ws.prj_by_uuid[row["uuid"]] = ev.project_id
    ws.new.add(("prj", ev.project_id))
    return [ev.project_id]


def _funding(sign: int) -> Callable[[WorkingSet, int, Any], list[str]]:
    def handler(ws: WorkingSet, pos: int, ev: Any) -> list[str]:
        prj = ws.project(ev.originator_id.hex, by_uuid=True)
        line = ws.line(prj["project_id"], ev.indicator_id, ev.effective_date)
        line["allocated"] += sign * ev.amount
        prj["allocated"] += sign * ev.amount
        return [prj["project_id"], ev.indicator_id]

    return handler


def _paid(sign: int) -> Callable[[WorkingSet, int, Any], list[str]]:
    def handler(ws: WorkingSet, pos: int, ev: Any) -> list[str]:
        prj = ws.project(ev.originator_id.hex, by_uuid=True)
        line = ws.line(prj["project_id"], ev.indicator_id, ev.effective_date)
        ind = ws.indicator(ev.indicator_id)
        for row in (line, prj, ind):
            row["paid"] += sign * ev.amount
        if sign > 0:
            ws.payments[ev.payment_id] = {
                "payment_id": ev.payment_id, "project_id": prj["project_id"],
                "indicator_id": ev.indicator_id, "amount": ev.amount, "payee": ev.payee,
                "payee_kind": ev.payee_kind, "voucher": ev.voucher, "labour": ev.labour,
                "effective_date": ev.effective_date, "reversed": False, "reversed_date": None,
                "reversal_reason": None, "position": pos,
            }
        elif ev.payment_id in ws.payments:
            ws.payments[ev.payment_id].update(
                reversed=True, reversed_date=ev.effective_date, reversal_reason=ev.reason
            )
        else:
            ws.reversals.append({"_pid": ev.payment_id, "rd": ev.effective_date, "rr": ev.reason})
        return [prj["project_id"], ev.indicator_id, ev.payment_id]

    return handler


def _progress(ws: WorkingSet, pos: int, ev: Any) -> list[str]:
    prj = ws.project(ev.originator_id.hex, by_uuid=True)
    prj["percent"] = str(ev.percent)
    ws.progress.append({"position": pos, "project_id": prj["project_id"],
                        "percent": str(ev.percent), "effective_date": ev.effective_date})
    return [prj["project_id"]]


def _renamed(ws: WorkingSet, pos: int, ev: Any) -> list[str]:
    prj = ws.project(ev.originator_id.hex, by_uuid=True)
    prj["name"] = ev.new_name
    ws.renames.append({"position": pos, "project_id": prj["project_id"], "old_name": ev.old_name,
                       "new_name": ev.new_name, "doc": ev.doc, "effective_date": ev.effective_date})
    return [prj["project_id"]]


_HANDLERS: dict[str, Callable[[WorkingSet, int, Any], list[str]]] = {
    "Indicator.Issued": _issued,
    "Indicator.Received": _received,
    "Indicator.ForwardedOut": _move("forwarded", +1, "child_id"),
    "Indicator.AllocatedToProject": _move("allocated", +1, "project_id"),
    "Indicator.Deallocated": _move("allocated", -1, "project_id"),
    "Indicator.Recovered": _move("recovered", +1, "returned_to"),
    "Indicator.RecoveryReceived": _move("forwarded", -1, "child_id"),
    "Project.Registered": _registered,
    "Project.FundingAllocated": _funding(+1),
    "Project.FundingReleased": _funding(-1),
    "Project.PaymentMade": _paid(+1),
    "Project.PaymentReversed": _paid(-1),
    "Project.ProgressReported": _progress,
    "Project.Renamed": _renamed,
}


def ensure_schema(engine: Engine) -> None:
    Base.metadata.create_all(engine)
    with engine.begin() as conn:
        if conn.execute(select(Position.position).where(Position.name == POSITION_NAME)).first() is None:
            conn.execute(insert(Position).values(name=POSITION_NAME, position=0))


def read_position(conn: Connection) -> int:
    return int(conn.execute(select(Position.position).where(Position.name == POSITION_NAME)).scalar_one())


class Projector:
    """Keeps the read models of one ledger up to date with its log."""

    def __init__(self, app: BudgetLedger, engine: Engine | None = None, batch_size: int = 1000) -> None:
        from projections.db import engine_for

        self.app = app
        self.engine = engine if engine is not None else engine_for(app.config)
        self.batch_size = batch_size
        self.writer = ReadModelWriter()
        self._schema_ready = False

    def ensure_schema(self) -> None:
        if not self._schema_ready:
            ensure_schema(self.engine)
            self._schema_ready = True

    def position(self) -> int:
        self.ensure_schema()
        with self.engine.connect() as conn:
            return read_position(conn)

    def decode(self, notifications: Iterable[Any]) -> list[Item]:
        mapper = self.app.mapper
        return [(n.id, mapper.to_domain_event(n)) for n in notifications]

    def catch_up(self, max_events: int | None = None, on_batch: Callable[[int], None] | None = None) -> int:
        """Apply every event after the stored position; returns how many were applied."""
        self.ensure_schema()
        applied = 0
        while max_events is None or applied < max_events:
            limit = self.batch_size if max_events is None else min(self.batch_size, max_events - applied)
            start = self.position()
            notes = self.app.recorder.select_notifications(start, limit, inclusive_of_start=False)
            if not notes:
                break
            items = self.decode(notes)
            with self.engine.begin() as conn:
                moved = conn.execute(
                    update(Position)
                    .where(Position.name == POSITION_NAME, Position.position == start)
                    .values(position=items[-1][0])
                ).rowcount
                if moved != 1:  # another updater applied this batch first; start again from its position
                    conn.rollback()
                    continue
                self.writer.apply(conn, items)
            applied += len(items)
            if on_batch:
                on_batch(len(items))
        return applied
