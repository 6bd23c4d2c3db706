"""An allocation table's validated rows outside the heap: a scratch SQLite table.

Held as one :class:`~ledger.imports.allocation_rows.Edge` per row, a 1.3 M-row file took ~0.28 KB
a row for the whole import (~450 MB at the end of planning). Here the rows go into a private
temporary SQLite database (``sqlite3.connect("")``: a file SQLite creates in the temporary
directory and deletes when the connection closes), indexed by holder and by receiver; planning
and writing read back one holder's rows at a time, in file order, and the checks that need the
whole table are queries or streamed passes over it. Python holds only per-holder data (ranks,
what each holder receives), which grows with the tree's inner units, not with its rows.
"""

from __future__ import annotations

import sqlite3
import weakref
from collections.abc import Iterable, Iterator
from dataclasses import dataclass


@dataclass(slots=True)
class Edge:
    """One validated row, as read back: ``holder`` passes :meth:`amount` (分, per task column,
    in header order) on to ``to``. ``area`` is the area cell (None: the holder); ``direct`` a
    直管县 note (after planning: the unit is funded past its area). Short-lived: never a table's
    worth at once."""

    row: int
    holder: str
    to: str
    amounts: tuple[int, ...]
    area: str | None = None
    direct: bool = False

    def amount(self, ti: int) -> int:
        return self.amounts[ti]


#: rows inserted per executemany
_FLUSH = 10_000
#: the scratch database's page cache (KiB): bounded, the rest is on disk
_CACHE_KIB = 8192


class EdgeStore:
    """The table's rows (``edge``: row, holder, receiver, area, direct, one amount column per
    task) in a scratch database that lives as long as this object (see the module)."""

    def __init__(self, tasks: int) -> None:
        self.tasks = tasks
        # one thread at a time; the finalizer may run in whichever thread collects the store
        self.db = sqlite3.connect("", isolation_level=None, check_same_thread=False)
        # closed (and so deleted) when the store is collected, even if close() is never called
        self._finalizer = weakref.finalize(self, self.db.close)
        for pragma in ("journal_mode=OFF", "synchronous=OFF", "temp_store=FILE",
                       f"cache_size=-{_CACHE_KIB}"):
            self.db.execute(f"PRAGMA {pragma}")
        amounts = "".join(f", a{i} INTEGER NOT NULL" for i in range(tasks))
        self.db.execute("CREATE TABLE edge (row INTEGER PRIMARY KEY, holder TEXT NOT NULL, "
                        f"receiver TEXT NOT NULL, area TEXT, direct INTEGER NOT NULL{amounts})")
        self.cols = "row, holder, receiver, area, direct" + "".join(
            f", a{i}" for i in range(tasks))
        self._insert = (f"INSERT INTO edge ({self.cols}) VALUES "
                        f"({', '.join('?' * (5 + tasks))})")
        self._pending: list[tuple[object, ...]] = []
        self._firsts = False
        self.db.execute("BEGIN")

    def close(self) -> None:
        self._finalizer()

    # -- filling ------------------------------------------------------------------------------

    def add(self, row: int, holder: str, to: str, amounts: list[int], area: str | None,
            direct: bool) -> None:
        self._pending.append((row, holder, to, area, int(direct), *amounts))
        if len(self._pending) >= _FLUSH:
            self._flush()

    def _flush(self) -> None:
        self.db.executemany(self._insert, self._pending)
        self._pending = []

    def finish(self) -> None:
        """All rows are in: index them (a holder's rows in file order; a receiver's)."""
        self._flush()
        self.db.execute("CREATE INDEX edge_holder ON edge (holder, row)")
        self.db.execute("CREATE INDEX edge_receiver ON edge (receiver, holder, row)")
        self.db.execute("COMMIT")

    def move(self, row: int, holder: str, area: str) -> None:
        """A 直管县 row: funded by ``holder`` (the root), counted in ``area``."""
        self.db.execute("UPDATE edge SET holder = ?, area = ? WHERE row = ?", (holder, area, row))

    def mark_direct(self) -> None:
        """Every row whose area is not its holder is funded past its area."""
        self.db.execute("UPDATE edge SET direct = 1 WHERE direct = 0 AND area IS NOT NULL "
                        "AND area != holder")

    # -- reading ------------------------------------------------------------------------------

    def _edges(self, sql: str, params: Iterable[object] = ()) -> Iterator[Edge]:
        for r in self.db.execute(sql, tuple(params)):
            yield Edge(r[0], r[1], r[2], r[5:], r[3], bool(r[4]))

    def edges(self, where: str = "1", params: Iterable[object] = ()) -> Iterator[Edge]:
        """The rows matching ``where``, in file order, streamed."""
        return self._edges(f"SELECT {self.cols} FROM edge WHERE {where} ORDER BY row", params)

    def of(self, holder: str) -> Iterator[Edge]:
        """One holder's rows, in file order, streamed (its index)."""
        return self._edges(f"SELECT {self.cols} FROM edge INDEXED BY edge_holder "
                           "WHERE holder = ? ORDER BY row", (holder,))

    def has_pair(self, holder: str, to: str) -> bool:
        return self.db.execute("SELECT 1 FROM edge WHERE receiver = ? AND holder = ? LIMIT 1",
                               (to, holder)).fetchone() is not None

    def holders(self) -> dict[str, int]:
        """Each holder and its first row."""
        return dict(self.db.execute("SELECT holder, min(row) FROM edge GROUP BY holder"))

    def inner(self) -> list[Edge]:
        """The rows whose receiver is itself a holder, in file order (the tree's inner edges:
        as many as its inner units, not its rows)."""
        return list(self.edges("receiver IN (SELECT holder FROM edge)"))

    def duplicates(self) -> Iterator[tuple[int, str, str, int]]:
        """(row, holder, receiver, first row) of each repeated ``from,to`` pair after its first,
        grouped by receiver, each group in file order."""
        return iter(self.db.execute(
            "SELECT e.row, e.holder, e.receiver, d.first FROM edge e JOIN "
            "(SELECT receiver, holder, min(row) AS first FROM edge GROUP BY receiver, holder "
            " HAVING count(*) > 1) d ON e.receiver = d.receiver AND e.holder = d.holder "
            "WHERE e.row > d.first ORDER BY e.receiver, e.row"))

    def cells(self) -> int:
        """How many non-zero task cells the table has."""
        if not self.tasks:
            return 0
        total = " + ".join(f"(a{i} != 0)" for i in range(self.tasks))
        return int(self.db.execute(f"SELECT coalesce(sum({total}), 0) FROM edge").fetchone()[0])

    def set_ranks(self, rank: dict[str, int]) -> None:
        """The holders' ranks (parents first): a receiver's first row is its first in that order."""
        self.db.execute("CREATE TEMP TABLE holder (name TEXT PRIMARY KEY, rank INTEGER NOT NULL) "
                        "WITHOUT ROWID")
        self.db.executemany("INSERT INTO holder VALUES (?, ?)", rank.items())

    def _first_rows(self) -> None:
        """Each receiver's first row, holders parents first and then in file order (the order
        the rows are applied in) — one key per row, ``rank << 32 | row``, its minimum kept."""
        if not self._firsts:
            self.db.execute("CREATE TEMP TABLE first (row INTEGER PRIMARY KEY)")
            self.db.execute(
                "INSERT INTO first SELECT min(h.rank * 4294967296 + e.row) % 4294967296 "
                "FROM edge e JOIN holder h ON h.name = e.holder GROUP BY e.receiver")
            self._firsts = True

    def firsts(self) -> Iterator[Edge]:
        """Each receiving unit's first row, in file order, streamed."""
        self._first_rows()
        cols = ", ".join(f"e.{c.strip()}" for c in self.cols.split(","))
        return self._edges(f"SELECT {cols} FROM first f JOIN edge e ON e.row = f.row "
                           "ORDER BY f.row")

    def first_areas(self) -> list[str]:
        """The units the receivers' first rows name as their area (or holder), by first row."""
        self._first_rows()
        return [r[0] for r in self.db.execute(
            "SELECT coalesce(e.area, e.holder) AS unit FROM first f JOIN edge e ON e.row = f.row "
            "GROUP BY unit ORDER BY min(f.row)")]

    def first_of(self, to: str) -> Edge | None:
        """The first row that gives ``to`` money (holders parents first, then file order)."""
        cols = ", ".join(f"e.{c.strip()}" for c in self.cols.split(","))
        return next(self._edges(f"SELECT {cols} FROM edge e JOIN holder h ON h.name = e.holder "
                                "WHERE e.receiver = ? ORDER BY h.rank, e.row LIMIT 1", (to,)), None)
