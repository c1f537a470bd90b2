"""Sorted (timestamp, id) indexes, bisected for range queries."""

from __future__ import annotations

from bisect import bisect_left, bisect_right, insort

_MAX_ID = 1 << 63


class TimeIndex:
    """(timestamp, id) pairs kept sorted; ties on the timestamp are ordered by id."""

    def __init__(self, pairs: list[tuple[int, int]] | None = None) -> None:
        self.pairs: list[tuple[int, int]] = sorted(pairs or [])

    def add(self, ts: int, record_id: int) -> None:
        insort(self.pairs, (ts, record_id))

    def move(self, old_ts: int, new_ts: int, record_id: int) -> None:
        self.remove(old_ts, record_id)
        self.add(new_ts, record_id)

    def remove(self, ts: int, record_id: int) -> None:
        i = bisect_left(self.pairs, (ts, record_id))
        if i < len(self.pairs) and self.pairs[i] == (ts, record_id):
            del self.pairs[i]

    def span(self, lo: int | None, hi: int | None) -> tuple[int, int]:
        """Positions [i, j) of the pairs with lo <= timestamp <= hi (both inclusive)."""
        i = 0 if lo is None else bisect_left(self.pairs, (lo, -1))
        j = len(self.pairs) if hi is None else bisect_right(self.pairs, (hi, _MAX_ID))
        return i, max(i, j)

    def __len__(self) -> int:
        return len(self.pairs)
