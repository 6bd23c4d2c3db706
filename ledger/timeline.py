"""A balance over business dates, with entries arriving in any date order.

Every ``--as-of`` view is the end-of-day balance of some day. A back-dated entry (a voucher
dated before a progress report already recorded, say) is accepted only if the balance it draws
on stays non-negative on its own day *and on every later day* — a release on 1 June may have
lowered what a 20 May payment can use. :meth:`Timeline.lowest_from` answers exactly that; for
the usual entry, dated on or after everything before it, it is the running total, O(1).
"""

from __future__ import annotations

from bisect import insort
from datetime import date


class Timeline:
    """End-of-day balances of one quantity (an indicator's available, a line's unpaid)."""

    __slots__ = ("moves", "total", "last")

    def __init__(self) -> None:
        self.moves: list[tuple[date, int]] = []  # (effective date, change), sorted by date
        self.total = 0
        self.last: date | None = None

    def add(self, day: date, delta: int) -> None:
        if self.last is None or day >= self.last:
            self.moves.append((day, delta))
            self.last = day
        else:
            insort(self.moves, (day, delta), key=lambda m: m[0])
        self.total += delta

    def lowest_from(self, day: date) -> int:
        """The lowest end-of-day balance on ``day`` or any later day."""
        if self.last is None or day >= self.last:
            return self.total
        balance = sum(delta for when, delta in self.moves if when <= day)
        lowest = balance
        later = [(when, delta) for when, delta in self.moves if when > day]
        for i, (when, delta) in enumerate(later):
            balance += delta
            if i + 1 == len(later) or later[i + 1][0] != when:  # end of that day
                lowest = min(lowest, balance)
        return lowest
