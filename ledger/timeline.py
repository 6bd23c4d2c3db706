"""A balance over business dates, with entries arriving in any date order.

Every ``--as-of`` view is the end-of-day balance of some day. A back-dated entry (a voucher
dated before a progress report already recorded, say) is accepted only if the balance it draws
on stays non-negative on its own day *and on every later day* — a release on 1 June may have
lowered what a 20 May payment can use. :meth:`Timeline.lowest_from` answers exactly that; for
the usual entry, dated on or after everything before it, it is the running total, O(1).

The moves are two columns, day ordinals and changes, in machine arrays: a project's lines are
what the aggregate cache holds by the hundred thousand, and arrays take ~1/5 of the memory of a
list of ``(date, int)`` tuples and freeze as plain bytes (ledger/project.py, ``Project.freeze``).
An entry is at most ``MAX_ENTRY_FEN`` (10^14 分), far inside a signed 64-bit column.
"""

from __future__ import annotations

from array import array
from bisect import bisect_right
from datetime import date
from functools import lru_cache

#: one date object per day, shared by every timeline and payment that reads one back
day_of_ordinal = lru_cache(maxsize=8192)(date.fromordinal)
_I32 = 2**31


def money_column(values: list[int] | None = None) -> array:
    """A column of 分: 4 bytes a value (typecode ``i``) while every value fits — most entries
    are under 2,147 万元 — else 8 (``q``; an entry is at most 10^14 分). The aggregate cache
    holds a national ledger's projects, and half their bytes are such columns."""
    try:
        return array("i", values or ())
    except OverflowError:
        return array("q", values or ())


def widened(column: array, value: int) -> array:
    """``column``, or a copy 8 bytes a value wide when ``value`` does not fit its 4."""
    if column.typecode == "q" or -_I32 <= value < _I32:
        return column
    return array("q", column)


def money_from_bytes(data: bytes, count: int) -> array:
    """A column's ``tobytes()`` back, its width told by its length."""
    column = array("q" if len(data) == 8 * count else "i")
    column.frombytes(data)
    return column


class Timeline:
    """End-of-day balances of one quantity (an indicator's available, a line's unpaid)."""

    __slots__ = ("days", "deltas", "total")

    def __init__(self) -> None:
        self.days = array("i")  # effective dates as ordinals, sorted
        self.deltas = money_column()  # the change on that day
        self.total = 0

    @classmethod
    def from_moves(cls, moves: list[tuple[date, int]]) -> Timeline:
        """From ``(day, change)`` pairs in date order (a snapshot's form)."""
        t = cls()
        t.days.extend(d.toordinal() for d, _ in moves)
        t.deltas = money_column([x for _, x in moves])
        t.total = sum(t.deltas)
        return t

    @classmethod
    def from_bytes(cls, days: bytes, deltas: bytes) -> Timeline:
        """From :meth:`to_bytes` (the aggregate cache's frozen form, this process only)."""
        t = cls()
        t.days.frombytes(days)
        t.deltas = money_from_bytes(deltas, len(t.days))
        t.total = sum(t.deltas)
        return t

    def to_bytes(self) -> tuple[bytes, bytes]:
        return self.days.tobytes(), self.deltas.tobytes()

    @property
    def moves(self) -> list[tuple[date, int]]:
        """``(day, change)`` pairs in date order."""
        return [(day_of_ordinal(d), x) for d, x in zip(self.days, self.deltas, strict=True)]

    @property
    def last(self) -> date | None:
        """The latest day with a move."""
        return day_of_ordinal(self.days[-1]) if self.days else None

    def add(self, day: date, delta: int) -> None:
        n = day.toordinal()
        days = self.days
        if not days or n >= days[-1]:
            days.append(n)
            self.deltas = widened(self.deltas, delta)
            self.deltas.append(delta)
        else:  # after the moves of the same day, as insort did
            i = bisect_right(days, n)
            days.insert(i, n)
            self.deltas = widened(self.deltas, delta)
            self.deltas.insert(i, delta)
        self.total += delta

    def lowest_from(self, day: date) -> int:
        """The lowest end-of-day balance on ``day`` or any later day."""
        n = day.toordinal()
        days = self.days
        if not days or n >= days[-1]:
            return self.total
        i = bisect_right(days, n)
        balance = sum(self.deltas[:i])
        lowest = balance
        end = len(days)
        for j in range(i, end):
            balance += self.deltas[j]
            if j + 1 == end or days[j + 1] != days[j]:  # end of that day
                lowest = min(lowest, balance)
        return lowest
