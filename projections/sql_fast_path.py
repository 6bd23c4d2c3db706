"""Every event straight from the event table into the read models, by the database's JSON functions.

When the read models live in the event store's own database (the ordinary ``--db FILE``, or the
PostgreSQL database of the store), a rebuild or catch-up lets the database decode the stored JSON
and insert the rows itself — ``INSERT … SELECT``, one statement per event group and table
(SQLite's ``json_extract``; PostgreSQL's ``jsonb``, parsed once per row) — instead of a Python
round trip per event. :class:`~projections.writer.JournalWriter` stays the reference: it serves
scratch databases, and ``verify`` rebuilds through it and compares row by row, so each verify
cross-checks the two.

The rows are the writer's, column for column (``JournalWriter``'s handlers say what each event
adds). Anything this path cannot vouch for — an unknown topic, a missing or mistyped field, a
malformed date, an event on an aggregate never created — undoes the batch's rows (a savepoint)
and the caller lets the writer name the bad event.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from typing import Any

from sqlalchemy import Connection

from ledger.movements import MOVES, Indicator, Project
from ledger.terms import TERMS_FIELD, IndicatorTerms
from ledger.topics import event_name
from ledger.unit import Unit as _Unit
from projections.stored_state import TRANSCODED

Unit: Any = _Unit

# the library omits '.000000' when a timestamp has no microseconds; recorded_at is fixed width
RECORDED_AT = ("CASE WHEN length(ts) = 25 THEN substr(ts, 1, 19) || '.000000' || substr(ts, 20) "
               "ELSE ts END")


def _bucket_sign(types: tuple[str, ...]) -> tuple[str, str]:
    """The journal's bucket and sign for a group's events: constants when the group has one type
    (a payment's row compared ``type`` with every movement type, twice)."""
    moves = [(t, MOVES[t]) for t in types if t in MOVES]
    if len({m for _t, m in moves}) == 1:
        bucket, sign = moves[0][1]
        return f"'{bucket}'", str(sign)
    return ("CASE type " + " ".join(f"WHEN '{t}' THEN '{b}'" for t, (b, _s) in moves) + " END",
            "CASE type " + " ".join(f"WHEN '{t}' THEN {s}" for t, (_b, s) in moves) + " END")


_EVENTS = ("INSERT INTO rm_events (position, recorded_at, effective_date, type, actor, entity, "
           "other, third, doc, amount) SELECT position, {ra}, effective_date, type, actor, {entity}, "
           "{other}, {third}, doc, amount FROM {g}")
_JOURNAL = ("INSERT INTO rm_journal (position, indicator_id, project_id, payment_id, bucket, amount, "
            "effective_date, recorded_at) SELECT position, {indicator}, {project}, {payment}, "
            "{bucket}, {sign} * amount, effective_date, {ra} FROM {g}")


@dataclass(frozen=True)
class Group:
    """Events decoded and written together: the JSON fields they carry, the aggregate their
    originator is (looked up by UUID: ``indicator`` or ``project``), and the rows they add."""

    name: str
    events: tuple[Any, ...]
    fields: tuple[str, ...]
    owner: str | None = None
    required: tuple[str, ...] = ()
    integers: tuple[str, ...] = ()
    entity: str = "owner"
    other: str = "NULL"
    third: str = "NULL"
    journal: tuple[str, str, str] | None = None  # indicator, project, payment expressions
    inserts: tuple[str, ...] = field(default=())
    logged: bool = True  # a row in rm_events (payments: their rm_payments row is their entry)

    @property
    def types(self) -> tuple[str, ...]:
        return tuple(event_name(e) for e in self.events)


# the counterparty an indicator movement names (its rm_events ``other``)
COUNTERPARTY = {
    event_name(Indicator.ForwardedOut): "child_id",
    event_name(Indicator.Pooled): "child_id",
    event_name(Indicator.RecoveryReceived): "child_id",
    event_name(Indicator.AllocatedToProject): "project_id",
    event_name(Indicator.Deallocated): "project_id",
    event_name(Indicator.Recovered): "returned_to",
}
_COUNTERPARTY_CASES = " ".join(f"WHEN '{t}' THEN {f}" for t, f in COUNTERPARTY.items())
_OWNERS = {"indicator": ("rm_indicators", "indicator_id"), "project": ("rm_projects", "project_id")}


_TERMS = {f.name for f in fields(IndicatorTerms)}

GROUPS: tuple[Group, ...] = (
    Group("ind_new", (Indicator.Issued, Indicator.Received, Indicator.PoolReceived),
          ("indicator_id", "unit", "issuer", "parent_id", "root_id", "year", "task", "source",
           "subject", "tracking", "direct", "advance"),
          required=("indicator_id", "unit", "issuer", "year", "task", "source", "tracking",
                    "direct", "advance", "doc"),
          integers=("amount", "year"),
          entity="indicator_id", other="NULLIF(parent_id, '')",
          journal=("indicator_id", "NULL", "NULL"),
          inserts=("INSERT INTO rm_indicators (indicator_id, uuid, unit, issuer, parent_id, root_id, "
                   "year, task, source, subject, tracking, direct, advance, doc, effective_date, "
                   "recorded_at, position) SELECT indicator_id, origin, unit, issuer, parent_id, "
                   "CASE WHEN root_id IS NULL OR root_id = '' THEN indicator_id ELSE root_id END, "
                   "year, task, source, subject, tracking, direct, advance, doc, effective_date, "
                   "{ra}, position FROM {g}",)),
    Group("ind_move", (Indicator.ForwardedOut, Indicator.Pooled, Indicator.RecoveryReceived,
                       Indicator.AllocatedToProject, Indicator.Deallocated, Indicator.Recovered),
          ("child_id", "project_id", "returned_to"), owner="indicator", integers=("amount",),
          other=f"NULLIF(CASE type {_COUNTERPARTY_CASES} END, '')",
          journal=("owner", "project_id", "NULL")),
    Group("prj_new", (Project.Registered,), ("project_id", "unit", "name", "category"),
          required=("project_id", "unit", "name", "category"), entity="project_id",
          inserts=("INSERT INTO rm_projects (project_id, uuid, unit, original_name, category, doc, "
                   "effective_date, recorded_at, position) SELECT project_id, origin, unit, name, "
                   "category, doc, effective_date, {ra}, position FROM {g}",)),
    Group("funding", (Project.FundingAllocated, Project.FundingReleased), ("indicator_id",),
          owner="project", required=("indicator_id",), integers=("amount",),
          other="indicator_id"),
    Group("paid", (Project.PaymentMade,),
          ("payment_id", "indicator_id", "payee", "payee_kind", "voucher", "labour"),
          owner="project", required=("payment_id", "indicator_id", "payee", "payee_kind", "labour"),
          integers=("amount",), journal=("indicator_id", "owner", "payment_id"), logged=False,
          inserts=("INSERT INTO rm_payments (payment_id, project_id, indicator_id, amount, payee, "
                   "payee_kind, voucher, labour, actor, doc, effective_date, recorded_at, position) "
                   "SELECT payment_id, owner, indicator_id, amount, payee, payee_kind, voucher, "
                   "labour, actor, doc, effective_date, {ra}, position FROM {g}",)),
    Group("reversed", (Project.PaymentReversed,), ("payment_id", "indicator_id", "reason"),
          owner="project", required=("payment_id", "indicator_id", "reason"),
          integers=("amount",), other="indicator_id", third="payment_id",
          journal=("indicator_id", "owner", "payment_id"),
          inserts=("INSERT INTO rm_reversals (payment_id, reason, effective_date, recorded_at, "
                   "position) SELECT payment_id, reason, effective_date, {ra}, position FROM {g}",)),
    Group("progress", (Project.ProgressReported,), ("percent",), owner="project",
          required=("percent",),
          inserts=("INSERT INTO rm_progress_reports (position, project_id, percent, effective_date, "
                   "recorded_at) SELECT position, owner, CAST(percent AS TEXT), effective_date, "
                   "{ra} FROM {g}",)),
    Group("renamed", (Project.Renamed,), ("old_name", "new_name"), owner="project",
          required=("old_name", "new_name", "doc"),
          inserts=("INSERT INTO rm_renames (position, project_id, old_name, new_name, doc, "
                   "effective_date, recorded_at) SELECT position, owner, old_name, new_name, doc, "
                   "effective_date, {ra} FROM {g}",)),
    Group("subject", (Project.SubjectRefined,), ("indicator_id", "subject"), owner="project",
          required=("indicator_id", "subject"), other="indicator_id",
          inserts=("INSERT INTO rm_line_subjects (position, project_id, indicator_id, subject, "
                   "effective_date, recorded_at) SELECT position, owner, indicator_id, subject, "
                   "effective_date, {ra} FROM {g}",)),
    Group("unit", (Unit.Declared, Unit.Corrected), ("unit", "level", "area", "direct_county"),
          required=("unit", "level", "direct_county"), entity="unit",
          inserts=("INSERT INTO rm_units (position, unit, level, area, direct_county, doc, "
                   "effective_date, recorded_at) SELECT position, unit, level, area, direct_county, "
                   "doc, effective_date, {ra} FROM {g}",)),
)

TOPICS: dict[str, str] = {}  # stored topic → event type, for every event this path decodes
for _g in GROUPS:
    for _e in _g.events:
        TOPICS[str(_e.TOPIC)] = event_name(_e)


# The stored state is a BLOB of JSON text; cast to TEXT, since the JSON functions were meant to
# refuse a BLOB (reading it as text is a bug SQLite keeps for old callers: 3.45.0 read it as
# binary JSONB, 3.45.1 restored the old reading). The same speed on 3.40.
_STATE = "CAST(e.state AS TEXT)"


def _extract(f: str) -> str:
    """SQLite: field ``f`` of a stored event ``e``. Transcoded values keep their data under
    ``_data_``; an indicator's terms are nested in ``terms`` (class version 2) or loose (version 1,
    see ``projections/stored_state.py``)."""
    if f in TRANSCODED:
        return f"json_extract({_STATE}, '$.{f}._data_')"
    if f in _TERMS:
        return (f"COALESCE(json_extract({_STATE}, '$.{TERMS_FIELD}._data_.{f}'), "
                f"json_extract({_STATE}, '$.{f}'))")
    return f"json_extract({_STATE}, '$.{f}')"


_INTEGERS = {"amount": "bigint", "year": "integer"}
_BOOLEANS = {"tracking", "direct", "advance", "labour", "direct_county"}


def _pg_extract(f: str) -> str:
    """PostgreSQL: field ``f`` of the event's state ``s.j`` (jsonb), typed, or NULL when the JSON
    holds another type (a NULL the group's checks then refuse)."""
    if f in TRANSCODED:
        node = f"(s.j->'{f}'->'_data_')"
    elif f in _TERMS:
        node = f"COALESCE(s.j->'{TERMS_FIELD}'->'_data_'->'{f}', s.j->'{f}')"
    else:
        node = f"(s.j->'{f}')"
    text = f"({node} #>> '{{}}')"
    if f in _INTEGERS:
        return (f"CASE WHEN jsonb_typeof({node}) = 'number' AND {text} ~ '^-?[0-9]+$' "
                f"THEN {text}::{_INTEGERS[f]} END")
    if f in _BOOLEANS:
        return f"CASE WHEN jsonb_typeof({node}) = 'boolean' THEN {text}::boolean END"
    if f == "effective_date":  # a well-formed day that does not exist fails the cast: refused
        return f"CASE WHEN {text} ~ '^[0-9]{{4}}-[0-9]{{2}}-[0-9]{{2}}$' THEN {text}::date END"
    return f"CASE WHEN jsonb_typeof({node}) = 'string' THEN {text} END"


class Refused(ValueError):
    """An event this path cannot vouch for (PostgreSQL's checks); the writer names it."""


def _stage(conn: Connection, table: str, g: Group, after: int, upto: int) -> int:
    """Decode the group's events at (after, upto] into a temporary table ``_<name>``. Its CHECK
    constraints (SQLite) or a count of the rows failing them (PostgreSQL) refuse an event that is
    not what the group expects: ``IntegrityError`` / :class:`Refused`. Returns how many events."""
    pg = conn.dialect.name == "postgresql"
    pos = "notification_id" if pg else "rowid"
    origin = "replace(e.originator_id::text, '-', '')" if pg else "e.originator_id"
    cols = {"position": f"e.{pos}", "origin": origin,
            "type": f"substr(e.topic, {'strpos' if pg else 'instr'}(e.topic, '.') + 1)"}
    for f in ("timestamp", "effective_date", "actor", "doc", "amount", *g.fields):
        cols["ts" if f == "timestamp" else f] = _pg_extract(f) if pg else _extract(f)
    source = f"{table} e"
    if pg:  # the state parsed once per row (OFFSET 0: not inlined into every reference)
        source += " CROSS JOIN LATERAL (SELECT convert_from(e.state, 'UTF8')::jsonb AS j OFFSET 0) s"
    if g.owner:
        owners, key = _OWNERS[g.owner]
        cols["owner"] = f"o.{key}"
        source += f" LEFT JOIN {owners} o ON o.uuid = {origin}"
    where = (f"WHERE e.{pos} > {int(after)} AND e.{pos} <= {int(upto)} "
             f"AND e.topic IN ({', '.join(repr(str(e.TOPIC)) for e in g.events)})")
    present = [f"{c} IS NOT NULL" for c in ("ts", "actor", "effective_date", *g.required,
                                            *g.integers, *(("owner",) if g.owner else ()))]
    select = f"SELECT {', '.join(f'{v} AS {k}' for k, v in cols.items())} FROM {source} {where}"
    if pg:
        conn.exec_driver_sql(f"DROP TABLE IF EXISTS pg_temp._{g.name}")
        staged = conn.exec_driver_sql(f"CREATE TEMP TABLE _{g.name} AS {select}").rowcount
        bad = conn.exec_driver_sql(f"SELECT count(*) FROM pg_temp._{g.name} "
                                   f"WHERE NOT ({' AND '.join(present)})").scalar()
        if bad:
            raise Refused(f"{bad} {g.name} event(s) not as expected")
        return int(staged)
    typed = {"ts": "text", "actor": "text", **dict.fromkeys(g.integers, "integer")}
    # one CHECK, every term 0 or 1 (never NULL, which a CHECK lets pass): a typeof test also
    # refuses NULL, so those columns need no IS NOT NULL of their own
    checks = [*(f"typeof({c}) = '{t}'" for c, t in typed.items()),
              "date(effective_date, '+0 days') IS effective_date",  # normalised
              *(p for p in present if p.split()[0] not in typed)]
    conn.exec_driver_sql(f"DROP TABLE IF EXISTS temp._{g.name}")
    conn.exec_driver_sql(f"CREATE TEMP TABLE _{g.name} ({', '.join(cols)}, "
                         f"CHECK ({' AND '.join(checks)}))")
    return int(conn.exec_driver_sql(f"INSERT INTO temp._{g.name} {select}").rowcount)


def _write(conn: Connection, g: Group) -> None:
    temp = f"{'pg_temp' if conn.dialect.name == 'postgresql' else 'temp'}._{g.name}"
    fmt = {"g": temp, "ra": RECORDED_AT}
    for stmt in g.inserts:
        conn.exec_driver_sql(stmt.format(**fmt))
    if g.journal:
        indicator, project, payment = g.journal
        bucket, sign = _bucket_sign(g.types)
        conn.exec_driver_sql(_JOURNAL.format(indicator=indicator, project=project, payment=payment,
                                             bucket=bucket, sign=sign, **fmt))
    if g.logged:
        conn.exec_driver_sql(_EVENTS.format(entity=g.entity, other=g.other, third=g.third, **fmt))
    conn.exec_driver_sql(f"DROP TABLE {temp}")


def apply(conn: Connection, table: str, after: int, upto: int) -> int | None:
    """Insert the read-model rows of every event at positions (after, upto]; returns how many
    events, or ``None`` when an unknown topic needs the writer's eyes. A malformed event raises
    (``IntegrityError``, :class:`Refused`, a cast's ``DataError``) with nothing written: its
    savepoint is undone.

    The topics present come from a ``DISTINCT`` (half the cost of a ``GROUP BY`` with counts,
    which sorts the batch); how many events, from the staging inserts' row counts."""
    pos = "notification_id" if conn.dialect.name == "postgresql" else "rowid"
    topics = conn.exec_driver_sql(
        f"SELECT DISTINCT topic FROM {table} WHERE {pos} > {int(after)} AND {pos} <= {int(upto)}"
    ).scalars().all()
    if any(topic not in TOPICS for topic in topics):
        return None
    present = {TOPICS[t] for t in topics}
    done = 0
    with conn.begin_nested():
        for g in GROUPS:
            if not present.intersection(g.types):
                continue
            done += _stage(conn, table, g, after, upto)
            _write(conn, g)
    return done
