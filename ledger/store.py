"""Where the events live: an SQLAlchemy-style URL turned into the eventsourcing environment.

SQLite (the default, a file) uses ``eventsourcing.sqlite``; PostgreSQL uses
``eventsourcing.postgres`` (psycopg 3). The read models (``projections/``) open the same
database through SQLAlchemy: :func:`sqlalchemy_url` gives them the matching URL.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import parse_qs, unquote, urlsplit

from ledger.errors import InputError

DEFAULT_URL = "sqlite:///budget-ledger.db"

# The library's application recorders plus a hash chain over the log (tamper evidence),
# written in the same transaction as the events: see ledger/integrity.py (and integrity_postgres.py,
# imported only for PostgreSQL stores, so SQLite users never load psycopg).
SQLITE_RECORDER = "ledger.integrity:ChainedSQLiteApplicationRecorder"
POSTGRES_RECORDER = "ledger.integrity_postgres:ChainedPostgresApplicationRecorder"

# How long one save waits for another writer's lock before it counts as a failed attempt
# (BudgetLedger.run retries at most MAX_ATTEMPTS times and for at most max_wait() seconds, then exit 4). PostgreSQL's library
# default, 0, would wait for ever behind a stuck writer.
LOCK_TIMEOUT_ENV = "BUDGET_LEDGER_LOCK_TIMEOUT"
DEFAULT_LOCK_TIMEOUT = {"sqlite": 30, "postgres": 10}


# The longest a writing command keeps retrying (conflicts, locks) before it gives up with exit 4.
MAX_WAIT_ENV = "BUDGET_LEDGER_MAX_WAIT"
DEFAULT_MAX_WAIT = 60


def max_wait() -> float:
    raw = os.environ.get(MAX_WAIT_ENV, "").strip()
    if not raw:
        return float(DEFAULT_MAX_WAIT)
    if not raw.isdigit() or int(raw) < 1:
        raise InputError(f"{MAX_WAIT_ENV}: expected whole seconds >= 1, got {raw!r}")
    return float(raw)


def lock_timeout(kind: str) -> str:
    raw = os.environ.get(LOCK_TIMEOUT_ENV, "").strip()
    if not raw:
        return str(DEFAULT_LOCK_TIMEOUT[kind])
    if not raw.isdigit() or int(raw) < 1:
        raise InputError(f"{LOCK_TIMEOUT_ENV}: expected whole seconds >= 1, got {raw!r}")
    return raw


@dataclass(frozen=True)
class StoreConfig:
    kind: str  # "sqlite" | "postgres"
    url: str  # as given (normalised)
    env: dict[str, str]
    sqlalchemy_url: str
    schema: str | None = None

    @property
    def sqlite_path(self) -> str | None:
        return self.env.get("SQLITE_DBNAME") if self.kind == "sqlite" else None


def resolve_url(url: str | None) -> str:
    return url or os.environ.get("BUDGET_LEDGER_DB") or DEFAULT_URL


def parse_store_url(url: str | None) -> StoreConfig:
    """``sqlite:///file.db``, a bare path, or ``postgresql+psycopg://user@host:port/db[?schema=s]``."""
    url = resolve_url(url)
    if "://" not in url:  # a bare path means SQLite
        url = "sqlite:///" + url
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    if scheme in ("sqlite", "sqlite+pysqlite"):
        path = unquote(url.split("://", 1)[1])
        path = path[1:] if path.startswith("/") else path
        if path in ("", ":memory:"):
            raise InputError("--db: an in-memory SQLite store would vanish; give a file path")
        if "?" in path:  # SQLAlchemy would read the rest as URL options and open another file
            raise InputError(f"--db: a SQLite file path cannot contain '?': {path!r}", field="db")
        abspath = str(Path(path).expanduser().resolve())
        env = {"PERSISTENCE_MODULE": "eventsourcing.sqlite", "SQLITE_DBNAME": abspath,
               "SQLITE_LOCK_TIMEOUT": lock_timeout("sqlite"), "APPLICATION_RECORDER_TOPIC": SQLITE_RECORDER}
        return StoreConfig("sqlite", f"sqlite:///{abspath}", env, f"sqlite:///{abspath}")
    if scheme in ("postgresql", "postgresql+psycopg", "postgres"):
        query = parse_qs(parts.query)
        schema = query.get("schema", [None])[0]
        env = {
            "PERSISTENCE_MODULE": "eventsourcing.postgres",
            "POSTGRES_DBNAME": (parts.path or "/").lstrip("/") or "postgres",
            "POSTGRES_HOST": parts.hostname or "127.0.0.1",
            "POSTGRES_PORT": str(parts.port or 5432),
            "POSTGRES_USER": unquote(parts.username or "postgres"),
            "POSTGRES_PASSWORD": unquote(parts.password or ""),
            "POSTGRES_CONNECT_TIMEOUT": "5",
            "POSTGRES_LOCK_TIMEOUT": lock_timeout("postgres"),
            "APPLICATION_RECORDER_TOPIC": POSTGRES_RECORDER,
        }
        if schema:
            env["POSTGRES_SCHEMA"] = schema
        netloc = parts.netloc
        sa_url = f"postgresql+psycopg://{netloc}/{env['POSTGRES_DBNAME']}"
        return StoreConfig("postgres", url, env, sa_url, schema)
    raise InputError(
        f"--db: unsupported store URL {url!r} (use a file path, sqlite:///FILE or "
        "postgresql+psycopg://USER@HOST:PORT/DB)",
        field="db",
    )


SQLITE_HEADER = b"SQLite format 3\x00"


def check_reachable(config: StoreConfig) -> None:
    """Fail fast, with the real reason, before the library opens the store.

    SQLite: a path that is a directory or a file that is not a SQLite database (the library would
    end in ``file is not a database`` / ``pop from an empty deque``). PostgreSQL: one direct
    connection, so "database does not exist" or "password authentication failed" is said at once
    instead of the pool's "couldn't get a connection after 5 s".
    """
    from ledger.errors import StoreUnavailable

    if config.kind == "sqlite":
        path = Path(config.sqlite_path or "")
        if path.is_dir():
            raise StoreUnavailable(f"--db: cannot open the store: {path} is a directory, not a ledger file")
        if path.is_file() and path.stat().st_size > 0:
            try:
                with path.open("rb") as f:
                    header = f.read(len(SQLITE_HEADER))
            except OSError as e:
                raise StoreUnavailable(f"--db: cannot open the store: cannot read {path}: {e.strerror or e}") from None
            if header != SQLITE_HEADER:
                raise StoreUnavailable(f"--db: cannot open the store: {path} is not a SQLite database (not a ledger file)")
        elif not path.exists() and not path.parent.is_dir():
            raise StoreUnavailable(f"--db: cannot open the store: the folder {path.parent} does not exist")
        return
    import psycopg  # only PostgreSQL users pay for the driver

    env = config.env
    try:
        conn = psycopg.connect(
            dbname=env["POSTGRES_DBNAME"], host=env["POSTGRES_HOST"], port=env["POSTGRES_PORT"],
            user=env["POSTGRES_USER"], password=env["POSTGRES_PASSWORD"] or None,
            connect_timeout=int(env["POSTGRES_CONNECT_TIMEOUT"]),
        )
    except psycopg.OperationalError as e:
        reason = " ".join(str(e).split()) or type(e).__name__
        # the server's own words come last: 'connection failed: ... FATAL:  database "x" does not exist'
        reason = reason.split("FATAL:", 1)[-1].strip() if "FATAL:" in reason else reason
        where = f"{env['POSTGRES_HOST']}:{env['POSTGRES_PORT']}/{env['POSTGRES_DBNAME']}"
        raise StoreUnavailable(f"--db: cannot open the store: PostgreSQL at {where}: {reason}") from None
    conn.close()
