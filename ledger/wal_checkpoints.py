"""SQLite's WAL checkpoints, taken off the writer's path by a thread of their own.

In WAL mode SQLite appends each commit's pages to the ``-wal`` file. Once that file holds 1,000
pages, the committing connection copies them back into the database file (a *checkpoint*) before
its commit returns. At national scale one save writes ~1,700 pages (a page of the events index
for each of its 1,000 projects, plus the new rows), so every save paid for a checkpoint: the
commits took 32.8 s of a 141 s payments phase at scale 1.0, and 7.6 s of a 120 s one with this
thread (docs/performance.md, "Checkpoints off the writer's path").

A PASSIVE checkpoint takes no lock that a writer needs. So after each commit, :class:`Checkpointer`
wakes a thread that runs one on its own connection while the writer builds its next save. The
Python ``sqlite3`` module releases the GIL while SQLite works, so on a machine with two cores the
copy runs beside the import. Once every page is back in the file, the next save starts the WAL
again from its beginning, so it stays about one save long.

The writer keeps SQLite's own automatic checkpoint as a bound, raised to :data:`BOUND_PAGES`:
if the thread falls behind (a long reader holds old pages), the WAL grows to that size at most
before a commit checkpoints inline, as it always did. Durability is SQLite's, unchanged: a commit
is in the WAL, fsynced, before it returns; a checkpoint interrupted by a crash is redone by the
next connection.
"""

from __future__ import annotations

import logging
import sqlite3
import threading

log = logging.getLogger(__name__)

#: the writer's own automatic checkpoint, in pages (~64 MB at 4 KB): a bound, not the rule
BOUND_PAGES = 16_384
#: the thread ends after this many seconds without a commit (a new commit starts another)
IDLE_S = 5.0
#: how long the thread's connection waits for a lock before it skips a checkpoint: not the
#: writers' lock timeout, so that closing the ledger never waits long behind it
BUSY_S = 1.0


class Checkpointer:
    """One per SQLite store a process writes to. :meth:`nudge` after each commit."""

    def __init__(self, path: str) -> None:
        self.path = path
        self._cond = threading.Condition()
        self._asked = 0  # commits nudged so far
        self._done = 0  # of those, the ones a finished checkpoint came after
        self._thread: threading.Thread | None = None
        self._closed = False
        self.runs = 0  # checkpoints run (tests, benchmarks)

    def nudge(self) -> None:
        """A commit happened: checkpoint soon, in the thread (started if it is not running)."""
        with self._cond:
            if self._closed:
                return
            self._asked += 1
            self._cond.notify_all()
            if self._thread is None:
                self._thread = threading.Thread(
                    target=self._run, name=f"sqlite-wal-checkpoint {self.path}", daemon=True)
                self._thread.start()

    def _run(self) -> None:
        try:
            conn = sqlite3.connect(self.path, timeout=BUSY_S, isolation_level=None,
                                   check_same_thread=False)
        except sqlite3.Error as e:  # the writer's bound still checkpoints
            log.debug("no background checkpoints for %s: %s", self.path, e)
            with self._cond:
                self._thread = None
                self._cond.notify_all()
            return
        try:
            while True:
                with self._cond:
                    if self._done == self._asked and not self._closed:
                        self._cond.wait(IDLE_S)
                    if self._closed or self._done == self._asked:  # closed, or idle: end
                        self._thread = None
                        self._cond.notify_all()
                        return
                    asked = self._asked
                try:
                    conn.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchall()
                    self.runs += 1
                except sqlite3.Error as e:  # the writer's bound still checkpoints
                    log.debug("background checkpoint of %s skipped: %s", self.path, e)
                with self._cond:
                    self._done = asked
                    self._cond.notify_all()
        finally:
            conn.close()

    def settle(self, timeout: float = 30.0) -> None:
        """Wait until a checkpoint has run after every commit so far: the database file then
        holds them all (what a byte-for-byte copy of the file, or a test comparing bytes, needs)."""
        with self._cond:
            self._cond.wait_for(lambda: self._done >= self._asked or self._thread is None, timeout)

    def close(self) -> None:
        """Stop the thread (it finishes the checkpoint it is running)."""
        with self._cond:
            self._closed = True
            thread = self._thread
            self._cond.notify_all()
        if thread is not None:
            thread.join()
