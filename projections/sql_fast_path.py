"""Payments straight from the event table into the read models, by the database's JSON functions.

Payments are nine events in ten of a national year. When the read models live in the same SQLite
database as the events (the ordinary ``--db FILE``), a rebuild or catch-up lets SQLite decode their
stored JSON and insert the rows itself — ``INSERT … SELECT json_extract(…)`` — instead of a Python
round trip per event. Every other event goes through :class:`~projections.updater.JournalWriter`,
which is also the reference: ``verify`` rebuilds through it into a scratch database and compares.
"""

from __future__ import annotations

from sqlalchemy import Connection

from ledger.movements import Project
from ledger.topics import event_name

PAYMENT_TOPIC = str(Project.PaymentMade.TOPIC)
PAYMENT = event_name(Project.PaymentMade)

_FIELDS = """
    e.rowid AS position, pr.project_id AS project_id,
    json_extract(state, '$.payment_id') AS payment_id,
    json_extract(state, '$.indicator_id') AS indicator_id,
    json_extract(state, '$.amount') AS amount,
    json_extract(state, '$.payee') AS payee,
    json_extract(state, '$.payee_kind') AS payee_kind,
    json_extract(state, '$.voucher') AS voucher,
    json_extract(state, '$.labour') AS labour,
    json_extract(state, '$.effective_date._data_') AS effective_date,
    json_extract(state, '$.timestamp._data_') AS ts,
    json_extract(state, '$.actor') AS actor,
    json_extract(state, '$.doc') AS doc
"""

# the library omits '.000000' when a timestamp has no microseconds; recorded_at is fixed width
_RECORDED_AT = ("CASE WHEN length(p.ts) = 25 THEN substr(p.ts, 1, 19) || '.000000' || substr(p.ts, 20) "
                "ELSE p.ts END")


def payments(conn: Connection, table: str, after: int, upto: int) -> int:
    """Insert the read-model rows of the payments at positions (after, upto]; returns how many.

    Raises ``ValueError`` when a payment's JSON is not what a payment holds or names a project
    the read models do not know — the caller then lets the Python writer name the event."""
    conn.exec_driver_sql("DROP TABLE IF EXISTS temp._pay")
    conn.exec_driver_sql(
        f"CREATE TEMP TABLE _pay AS SELECT {_FIELDS} FROM {table} e "
        "LEFT JOIN rm_projects pr ON pr.uuid = e.originator_id "
        f"WHERE e.rowid > {int(after)} AND e.rowid <= {int(upto)} AND e.topic = '{PAYMENT_TOPIC}'")
    n, bad = conn.exec_driver_sql(
        "SELECT count(*), sum(CASE WHEN p.payment_id IS NULL OR p.indicator_id IS NULL "
        "OR typeof(p.amount) != 'integer' OR p.effective_date IS NULL OR p.ts IS NULL "
        "OR p.project_id IS NULL THEN 1 ELSE 0 END) FROM temp._pay p").one()
    if bad:
        raise ValueError("a stored payment is not what the read models expect")
    if not n:
        return 0
    join = "FROM temp._pay p"
    conn.exec_driver_sql(
        "INSERT INTO rm_events (position, recorded_at, effective_date, type, actor, entity, other, "
        f"third, doc, amount) SELECT p.position, {_RECORDED_AT}, p.effective_date, "
        f"'{PAYMENT}', p.actor, p.project_id, p.indicator_id, p.payment_id, p.doc, "
        f"p.amount {join}")
    conn.exec_driver_sql(
        "INSERT INTO rm_payments (payment_id, project_id, indicator_id, amount, payee, payee_kind, "
        "voucher, labour, effective_date, recorded_at, position) SELECT p.payment_id, "
        "p.project_id, p.indicator_id, p.amount, p.payee, p.payee_kind, p.voucher, p.labour, "
        f"p.effective_date, {_RECORDED_AT}, p.position {join}")
    conn.exec_driver_sql(
        "INSERT INTO rm_journal (position, indicator_id, project_id, payment_id, bucket, amount, "
        "effective_date, recorded_at) SELECT p.position, p.indicator_id, p.project_id, "
        f"p.payment_id, 'paid', p.amount, p.effective_date, {_RECORDED_AT} {join}")
    conn.exec_driver_sql("DROP TABLE temp._pay")
    return int(n)
