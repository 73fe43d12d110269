"""Small range helpers whose cost follows the work, never the size of a VMO.

- `keys_in_range`: the keys of a page list inside [lo, hi), found by walking whichever is
  smaller, the range or the list.
- `IntervalSet`: disjoint half-open page intervals (zero intervals of a page node).
- `RunBuilder`: byte runs ((byte, count), ...) built piece by piece, normalized as the
  trace format wants them (counts > 0, neighbours differ).
- `byte_runs`: the runs of a byte buffer, in time linear in its length and memory
  linear in its runs.
"""

from __future__ import annotations

import bisect
import functools
import re
from collections.abc import Iterable, Iterator, Mapping

__all__ = ["IntervalSet", "RunBuilder", "Runs", "byte_runs", "keys_in_range", "runs_length"]

Runs = tuple[tuple[int, int], ...]


@functools.cache
def _other_than(byte: int) -> re.Pattern[bytes]:
    # One character class: the regex engine scans it without backtracking or a stack
    # (a back-reference such as rb"(.)\1*" keeps state per byte of a run).
    return re.compile(b"[^" + re.escape(bytes((byte,))) + b"]")


def byte_runs(buf: bytes | bytearray | memoryview) -> Iterator[tuple[int, int]]:
    """The (byte, count) runs of `buf`, in order."""
    n = len(buf)
    i = 0
    while i < n:
        byte = buf[i]
        m = _other_than(byte).search(buf, i)
        j = m.start() if m else n
        yield byte, j - i
        i = j


def keys_in_range(d: Mapping[int, object], lo: int, hi: int) -> list[int]:
    """Sorted keys k of `d` with lo <= k < hi, in O(min(hi - lo, len(d)))."""
    if hi <= lo or not d:
        return []
    if hi - lo <= len(d):
        return [k for k in range(lo, hi) if k in d]
    return sorted(k for k in d if lo <= k < hi)


def runs_length(runs: Iterable[tuple[int, int]]) -> int:
    return sum(c for _, c in runs)


class RunBuilder:
    def __init__(self) -> None:
        self._runs: list[tuple[int, int]] = []

    def add(self, byte: int, count: int) -> None:
        if count <= 0:
            return
        if self._runs and self._runs[-1][0] == byte:
            self._runs[-1] = (byte, self._runs[-1][1] + count)
        else:
            self._runs.append((byte, count))

    def add_bytes(self, b: bytes | bytearray | memoryview) -> None:
        for byte, count in byte_runs(b):
            self.add(byte, count)

    def result(self) -> Runs:
        return tuple(self._runs)


class RunCursor:
    """Reads consecutive pieces of a run list, in order, without materializing it."""

    def __init__(self, runs: Runs) -> None:
        self._runs = runs
        self._i = 0
        self._used = 0  # bytes of runs[_i] already taken

    def take(self, n: int) -> Iterator[tuple[int, int]]:
        """The runs covering the next n bytes."""
        while n > 0:
            byte, count = self._runs[self._i]
            k = min(n, count - self._used)
            yield byte, k
            n -= k
            self._used += k
            if self._used == count:
                self._i += 1
                self._used = 0


class IntervalSet:
    """Disjoint, non-adjacent half-open intervals [a, b) of ints, kept sorted."""

    def __init__(self, intervals: Iterable[tuple[int, int]] = ()) -> None:
        self._starts: list[int] = []
        self._ends: list[int] = []
        for a, b in intervals:
            self.add(a, b)

    def __bool__(self) -> bool:
        return bool(self._starts)

    def __iter__(self) -> Iterator[tuple[int, int]]:
        return iter(list(zip(self._starts, self._ends, strict=True)))

    def __repr__(self) -> str:
        return f"IntervalSet({list(self)})"

    def contains(self, x: int) -> bool:
        i = bisect.bisect_right(self._starts, x) - 1
        return i >= 0 and x < self._ends[i]

    def add(self, a: int, b: int) -> None:
        if b <= a:
            return
        # Every interval touching or overlapping [a, b) merges into it.
        i = bisect.bisect_left(self._ends, a)  # first interval ending at or after a
        j = bisect.bisect_right(self._starts, b)  # intervals starting at or before b
        if i < j:
            a = min(a, self._starts[i])
            b = max(b, self._ends[j - 1])
        self._starts[i:j] = [a]
        self._ends[i:j] = [b]

    def remove(self, a: int, b: int) -> None:
        if b <= a:
            return
        i = bisect.bisect_right(self._ends, a)  # first interval ending after a
        j = bisect.bisect_left(self._starts, b)  # intervals starting before b
        if i >= j:
            return
        new: list[tuple[int, int]] = []
        if self._starts[i] < a:
            new.append((self._starts[i], a))
        if self._ends[j - 1] > b:
            new.append((b, self._ends[j - 1]))
        self._starts[i:j] = [s for s, _ in new]
        self._ends[i:j] = [e for _, e in new]

    def clear(self) -> None:
        self._starts.clear()
        self._ends.clear()

    def within(self, a: int, b: int) -> list[tuple[int, int]]:
        """The parts of the set inside [a, b)."""
        out: list[tuple[int, int]] = []
        i = max(0, bisect.bisect_right(self._starts, a) - 1)
        while i < len(self._starts) and self._starts[i] < b:
            lo, hi = max(a, self._starts[i]), min(b, self._ends[i])
            if lo < hi:
                out.append((lo, hi))
            i += 1
        return out
