"""The value layer: the handful of operations every op of the spec is written in.

Two backends implement it. `Concrete` works on Python ints and bools and on interval
maps; it is what `vmospec check` runs. `Symbolic` works on z3 terms (64-bit bit-vectors,
booleans, arrays); it is what the proofs run. The op functions never touch either
representation directly, so the proofs are about the very code the checker runs.

Words are unsigned 64-bit values; sums report overflow explicitly instead of wrapping
silently. Byte maps (content) and page sets (commit state, pager marks) cost what the
work costs, never what the VMO's size is.
"""

from __future__ import annotations

import operator
from abc import ABC, abstractmethod
from collections.abc import Iterator
from itertools import islice
from typing import Any

from spec import intervals as iv
from spec.abi import U64_MAX

Word = Any  # an unsigned 64-bit value: int in Concrete, z3 BitVecRef in Symbolic
Flag = Any  # a truth value: bool in Concrete, z3 BoolRef in Symbolic
ByteMap = Any  # offset -> byte: ByteRuns in Concrete, z3 Array in Symbolic
PageSet = Any  # set of page numbers: PageRuns in Concrete, z3 Array in Symbolic
Data = tuple[tuple[int, int], ...]  # normalized byte runs ((byte, count), ...)

MOD = 1 << 64


class Values(ABC):
    """The operations an op may use on words, flags, byte maps and page sets."""

    symbolic: bool

    # -- words and flags -------------------------------------------------------------
    @abstractmethod
    def add(self, a: Word, b: Word) -> tuple[Word, Flag]:
        """a + b modulo 2^64, and whether the true sum overflowed."""

    @abstractmethod
    def sub(self, a: Word, b: Word) -> Word:
        """a - b modulo 2^64 (callers guard a >= b)."""

    @abstractmethod
    def ult(self, a: Word, b: Word) -> Flag: ...

    @abstractmethod
    def ule(self, a: Word, b: Word) -> Flag: ...

    @abstractmethod
    def eq(self, a: Word, b: Word) -> Flag: ...

    @abstractmethod
    def and_(self, *fs: Flag) -> Flag: ...

    @abstractmethod
    def or_(self, *fs: Flag) -> Flag: ...

    @abstractmethod
    def not_(self, f: Flag) -> Flag: ...

    @abstractmethod
    def ite(self, c: Flag, a: Any, b: Any) -> Any: ...

    @abstractmethod
    def has_bits(self, mask: Word, bits: int) -> Flag:
        """Every bit of `bits` is set in `mask`."""

    @abstractmethod
    def bit_and(self, a: Word, b: Word) -> Word: ...

    @abstractmethod
    def bit_or(self, a: Word, b: Word) -> Word: ...

    @abstractmethod
    def floor_to(self, x: Word, p: int) -> Word:
        """x rounded down to a multiple of the power of two p."""

    @abstractmethod
    def ceil_to(self, x: Word, p: int) -> tuple[Word, Flag]:
        """x rounded up to a multiple of p, and whether that overflowed."""

    @abstractmethod
    def div_to(self, x: Word, p: int) -> Word:
        """x // p for the power of two p (page numbers)."""

    @abstractmethod
    def mul_to(self, x: Word, p: int) -> Word:
        """x * p modulo 2^64 for the power of two p (page number to offset)."""

    def aligned(self, x: Word, p: int) -> Flag:
        return self.eq(self.floor_to(x, p), x)

    def umin(self, a: Word, b: Word) -> Word:
        return self.ite(self.ult(a, b), a, b)

    def ne(self, a: Word, b: Word) -> Flag:
        return self.not_(self.eq(a, b))

    # -- byte maps ---------------------------------------------------------------------
    @abstractmethod
    def bytes_const(self, byte: int) -> ByteMap:
        """A map reading `byte` everywhere."""

    @abstractmethod
    def bytes_pager(self, page: int) -> ByteMap:
        """The pager content of docs/trace-format.md: page n reads (n + 1) % 256."""

    @abstractmethod
    def bytes_fill(self, m: ByteMap, lo: Word, hi: Word, byte: int) -> ByteMap:
        """m with [lo, hi) set to `byte` (nothing when hi <= lo)."""

    @abstractmethod
    def bytes_write(self, m: ByteMap, offset: Word, data: Any) -> ByteMap:
        """m with `data` (concrete runs, or in Symbolic a (array, length) pair) at offset."""

    @abstractmethod
    def bytes_splice(self, m: ByteMap, lo: Word, hi: Word, src: ByteMap, shift: Word) -> ByteMap:
        """m with [lo, hi) replaced by src read at (index + shift): a window copy."""

    @abstractmethod
    def bytes_read(self, m: ByteMap, offset: Word, length: Word) -> Any:
        """The bytes [offset, offset + length): Data in Concrete, a view in Symbolic."""

    @abstractmethod
    def bytes_zero_in(self, m: ByteMap, lo: Word, hi: Word) -> Flag:
        """Every byte of [lo, hi) reads zero."""

    # -- page sets ---------------------------------------------------------------------
    @abstractmethod
    def pages_empty(self) -> PageSet: ...

    @abstractmethod
    def pages_add(self, s: PageSet, lo: Word, hi: Word) -> PageSet:
        """s with the pages [lo, hi) added."""

    @abstractmethod
    def pages_remove(self, s: PageSet, lo: Word, hi: Word) -> PageSet: ...

    @abstractmethod
    def pages_count(self, s: PageSet, lo: Word, hi: Word) -> Word:
        """How many pages of [lo, hi) are in s."""

    @abstractmethod
    def pages_any(self, s: PageSet, lo: Word, hi: Word) -> Flag:
        """Some page of [lo, hi) is in s."""

    @abstractmethod
    def pages_union(self, s: PageSet, t: PageSet) -> PageSet:
        """The pages in s or in t."""

    @abstractmethod
    def pages_diff(self, s: PageSet, t: PageSet) -> PageSet:
        """The pages of s that are not in t."""

    @abstractmethod
    def pages_within(self, s: PageSet, lo: Word, hi: Word) -> PageSet:
        """The pages of s inside [lo, hi): what a walk over that range may look at."""

    @abstractmethod
    def pages_first_in(self, s: PageSet, lo: Word, hi: Word) -> Word:
        """The lowest page of [lo, hi) in s, or hi when there is none."""

    @abstractmethod
    def pages_first_out(self, s: PageSet, lo: Word, hi: Word) -> Word:
        """The lowest page of [lo, hi) not in s, or hi when there is none."""


    # -- copy-on-write families (spec/cow.py): generic, through the operations above --
    def pages_inter(self, s: PageSet, t: PageSet) -> PageSet:
        """The pages in both s and t."""
        return self.pages_diff(s, self.pages_diff(s, t))

    def pages_runs(self, s: PageSet) -> list[tuple[Word, Word]]:
        """The maximal runs [a, b) of s (Concrete only: a z3 set has no runs)."""
        top = (U64_MAX + 1) // self.page_size()
        out: list[tuple[Word, Word]] = []
        lo = 0
        while lo < top:
            a = self.pages_first_in(s, lo, top)
            if a >= top:
                break
            b = self.pages_first_out(s, a, top)
            out.append((a, b))
            lo = b
        return out

    def page_size(self) -> int:
        return int(getattr(self, "page", 4096))

    def page_in(self, s: PageSet, x: Word) -> Flag:
        """Page x is in s."""
        return self.pages_any(s, x, self.add(x, 1)[0])

    def split(self, whole: int, sees: list[Flag]) -> list[tuple[Flag, Any]]:
        """`whole` split evenly, truncated, among the flags that hold: for each flag,
        whether it alone holds, and its part (0 where it does not hold). The number of
        flags is structure, so a part is `whole` divided by a constant (ZX_INFO_VMO
        share counts, spec/cow.py)."""
        n = sum(1 for f in sees if f)
        return [(bool(f) and n == 1, whole // n if f else 0) for f in sees]

    def pages_up(self, s: PageSet, d: Word) -> PageSet:
        """s with every page moved up by d pages (a child's pages as its parent's)."""
        out = self.pages_empty()
        for a, b in self.pages_runs(s):
            out = self.pages_add(out, a + d, b + d)
        return out

    def pages_down(self, s: PageSet, d: Word) -> PageSet:
        """s with every page moved down by d pages; pages below d drop out."""
        out = self.pages_empty()
        for a, b in self.pages_runs(s):
            if b > d:
                out = self.pages_add(out, max(a, d) - d, b - d)
        return out

    def bytes_overlay(self, m: ByteMap, pages: PageSet, src: ByteMap, shift: Word) -> ByteMap:
        """m with the bytes of every page in `pages` read from src at (index + shift)."""
        p = self.page_size()
        for a, b in self.pages_runs(pages):
            m = self.bytes_splice(m, a * p, b * p, src, shift)
        return m

# ======================================================================================
# Concrete backend
# ======================================================================================


class Runs:
    """Bytes as run-length pieces: what a read returns. A piece (value, count) is count
    bytes of `value` (0..255), or, for a negative value -(1 + q), the pager pattern of
    trace-format.md read from pattern index q on (page n reads (n + 1) % 256).

    It iterates, compares and hashes as the normalized (byte, count) runs it stands for
    (the form of `Data`), so it equals a trace's `data` of the same bytes; but it holds
    one piece per run of the map it was read from, however many pages the pattern
    crosses: a read of 2^40 bytes of the pattern is one piece.
    """

    __slots__ = ("length", "page", "pieces", "plain")

    def __init__(self, pieces: tuple[tuple[int, int], ...], page: int,
                 length: int | None = None, plain: bool | None = None) -> None:
        self.pieces = pieces
        self.page = page
        self.length = sum(n for _, n in pieces) if length is None else length
        # Without the pattern, the pieces of a (canonical) map are already the runs.
        self.plain = all(v >= 0 for v, _ in pieces) if plain is None else plain

    def __iter__(self) -> Iterator[tuple[int, int]]:
        if self.plain:
            return iter(self.pieces)
        return _normalized(self._expanded())

    def _expanded(self, reverse: bool = False) -> Iterator[tuple[int, int]]:
        """Each piece as runs (a pattern piece: one per page), in order or backwards."""
        page = self.page
        for v, n in reversed(self.pieces) if reverse else self.pieces:
            if v >= 0:
                yield v, n
                continue
            lo = -1 - v
            hi = lo + n
            while lo < hi:
                if reverse:
                    cut = max(lo, (hi - 1) // page * page)
                    yield ((hi - 1) // page + 1) % 256, hi - cut
                    hi = cut
                else:
                    cut = min(hi, (lo // page + 1) * page)
                    yield (lo // page + 1) % 256, cut - lo
                    lo = cut

    def __len__(self) -> int:
        """How many runs (as for a `Data` tuple), counted piece by piece."""
        if self.plain:
            return len(self.pieces)
        page, total, prev = self.page, 0, -1
        for v, n in self.pieces:
            if v >= 0:
                total += 1
                first = last = v
            else:
                q = -1 - v
                total += (q + n - 1) // page - q // page + 1
                first, last = (q // page + 1) % 256, ((q + n - 1) // page + 1) % 256
            total -= first == prev  # merges with the run before
            prev = last
        return total

    def tail_runs(self, k: int) -> list[tuple[int, int]]:
        """The last k runs, walked from the end."""
        return list(islice(_normalized(self._expanded(reverse=True)), k))[::-1]

    def __bool__(self) -> bool:
        return self.length > 0

    def __eq__(self, other: object) -> bool:
        if isinstance(other, Runs):
            if self.pieces == other.pieces and self.page == other.page:
                return True
            if self.length != other.length:
                return False
        elif isinstance(other, tuple):
            if self.plain:
                return self.pieces == other
            if self.length != sum(n for _, n in other):
                return False
        else:
            return NotImplemented
        # Both sides are streamed, so a mismatch costs only the runs before it.
        mine, theirs = iter(self), _normalized(iter(other))
        return all(a == b for a, b in zip(mine, theirs, strict=True))

    def __hash__(self) -> int:
        return hash(self.pieces if self.plain else tuple(self))

    def __repr__(self) -> str:
        return f"Runs({self.pieces!r}, page={self.page})"


def _normalized(runs: Iterator[tuple[int, int]]) -> Iterator[tuple[int, int]]:
    """Drop empty runs and merge equal neighbours."""
    byte, count = -1, 0
    for b, n in runs:
        if n <= 0:
            continue
        if b == byte:
            count += n
        else:
            if count:
                yield byte, count
            byte, count = b, n
    if count:
        yield byte, count


class ByteRuns:
    """An immutable map from u64 offsets to bytes: runs tiling [0, 2^64) in a persistent
    interval map (spec/intervals.py), so an update shares all but O(log n) of it.

    A run's value 0..255 is that byte; a negative value -(1 + shift) is the pager
    pattern read at index + shift. A value depends only on the absolute index, so equal
    neighbours always merge and each content has one representation.
    """

    __slots__ = ("page", "runs")

    def __init__(self, runs: iv.IntervalMap, page: int) -> None:
        self.runs = runs
        self.page = page

    def __eq__(self, other: object) -> bool:
        return isinstance(other, ByteRuns) and self.runs == other.runs

    def __hash__(self) -> int:
        return hash(self.runs)

    def byte_at(self, x: int) -> int:
        run = self.runs.find(x)
        assert run is not None
        v: int = run[2]
        return v if v >= 0 else ((x - 1 - v) // self.page + 1) % 256

    def pieces(self, lo: int, hi: int) -> list[tuple[int, int, int]]:
        """The runs (start, end, value) that cover [lo, hi), clipped to it."""
        return [(max(a, lo), min(b, hi), v)
                for a, b, v in self.runs.overlapping(lo, hi)]

    def replaced(self, lo: int, hi: int, new: list[tuple[int, int, int]]) -> ByteRuns:
        """This map with [lo, hi) replaced by the runs `new` (which tile [lo, hi))."""
        if hi <= lo:
            return self
        return ByteRuns(self.runs.splice(lo, hi, new), self.page)

    def read(self, lo: int, length: int) -> Data | Runs:
        """The bytes [lo, lo + length): plain runs (`Data`) where no run is the pager
        pattern, which is the common case and compares at C speed; `Runs` otherwise."""
        hi = lo + length
        pieces = []
        plain = True
        for a, b, v in self.runs.overlapping(lo, hi):
            a, b = max(a, lo), min(b, hi)
            if v >= 0:
                pieces.append((v, b - a))
            else:  # a pattern piece starts at pattern index a + shift
                pieces.append((v - a, b - a))
                plain = False
        if plain:  # the runs of a canonical map: already normalized
            return tuple(pieces)
        return Runs(tuple(pieces), self.page, max(length, 0), False)


class PageRuns:
    """An immutable set of page numbers: disjoint, non-adjacent intervals in a
    persistent interval map (spec/intervals.py)."""

    __slots__ = ("runs",)

    def __init__(self, runs: iv.IntervalMap) -> None:
        self.runs = runs

    def __eq__(self, other: object) -> bool:
        return isinstance(other, PageRuns) and self.runs == other.runs

    def __hash__(self) -> int:
        return hash(self.runs)

    def _with(self, lo: int, hi: int, present: bool) -> PageRuns:
        if hi <= lo:
            return self
        return PageRuns(self.runs.splice(lo, hi, [(lo, hi, True)] if present else []))

    def overlap(self, lo: int, hi: int) -> list[tuple[int, int]]:
        return [(max(a, lo), min(b, hi)) for a, b, _ in self.runs.overlapping(lo, hi)]

    def all(self) -> list[tuple[int, int]]:
        return [(a, b) for a, b, _ in self.runs.items()]

    def bounds(self) -> tuple[int, int]:
        """The least page in the set and one past the greatest ((0, 0) when empty)."""
        a, z = self.runs.first(), self.runs.last()
        return (0, 0) if a is None or z is None else (a[0], z[1])


class Concrete(Values):
    """Python ints and bools: fast replay of traces."""

    symbolic = False

    def __init__(self, page: int = 4096) -> None:
        self.page = page

    def add(self, a: int, b: int) -> tuple[int, bool]:
        s = a + b
        return (s & U64_MAX, s > U64_MAX)

    def sub(self, a: int, b: int) -> int:
        return (a - b) & U64_MAX

    # The plainest operations are Python's own (C functions: no Python frame per call,
    # the same results on ints and bools).
    ult = staticmethod(operator.lt)  # type: ignore[assignment]
    ule = staticmethod(operator.le)  # type: ignore[assignment]
    eq = staticmethod(operator.eq)  # type: ignore[assignment]

    def and_(self, *fs: bool) -> bool:
        return all(fs)

    def or_(self, *fs: bool) -> bool:
        return any(fs)

    not_ = staticmethod(operator.not_)  # type: ignore[assignment]

    def ite(self, c: bool, a: Any, b: Any) -> Any:
        return a if c else b

    def has_bits(self, mask: int, bits: int) -> bool:
        return mask & bits == bits

    bit_and = staticmethod(operator.and_)  # type: ignore[assignment]
    bit_or = staticmethod(operator.or_)  # type: ignore[assignment]

    def floor_to(self, x: int, p: int) -> int:
        return x & ~(p - 1)

    def ceil_to(self, x: int, p: int) -> tuple[int, bool]:
        r = (x + p - 1) & ~(p - 1)
        return (r & U64_MAX, r > U64_MAX)

    div_to = staticmethod(operator.floordiv)  # type: ignore[assignment]

    def mul_to(self, x: int, p: int) -> int:
        return (x * p) & U64_MAX

    def aligned(self, x: int, p: int) -> bool:
        return x & (p - 1) == 0

    def umin(self, a: int, b: int) -> int:
        return a if a < b else b

    ne = staticmethod(operator.ne)  # type: ignore[assignment]

    def bytes_const(self, byte: int) -> ByteRuns:
        return ByteRuns(iv.IntervalMap.of([(0, MOD, byte)]), self.page)

    def bytes_pager(self, page: int) -> ByteRuns:
        return ByteRuns(iv.IntervalMap.of([(0, MOD, -1)]), page)

    def bytes_fill(self, m: ByteRuns, lo: int, hi: int, byte: int) -> ByteRuns:
        return m.replaced(lo, hi, [(lo, hi, byte)])

    def bytes_write(self, m: ByteRuns, offset: int, data: Data) -> ByteRuns:
        new = []
        x = offset
        for b, n in data:
            new.append((x, x + n, b))
            x += n
        return m.replaced(offset, x, new)

    def bytes_splice(
        self, m: ByteRuns, lo: int, hi: int, src: ByteRuns, shift: int
    ) -> ByteRuns:
        if hi <= lo:
            return m
        new = []
        for s, e, v in src.pieces(lo + shift, hi + shift):
            if v < 0:  # the pattern, seen from the shifted index; it repeats every 256 pages
                v = -1 - ((-1 - v) + shift) % (256 * src.page)
            new.append((s - shift, e - shift, v))
        return m.replaced(lo, hi, new)

    def bytes_read(self, m: ByteRuns, offset: int, length: int) -> Data | Runs:
        return m.read(offset, length)

    def bytes_zero_in(self, m: ByteRuns, lo: int, hi: int) -> bool:
        # Runs are streamed: the first run that is not zero ends the walk.
        return all(b == 0 for b, _ in m.read(lo, hi - lo)) if hi > lo else True

    def pages_empty(self) -> PageRuns:
        return _EMPTY_PAGES

    def pages_add(self, s: PageRuns, lo: int, hi: int) -> PageRuns:
        return s._with(lo, hi, True)

    def pages_remove(self, s: PageRuns, lo: int, hi: int) -> PageRuns:
        return s._with(lo, hi, False)

    def pages_count(self, s: PageRuns, lo: int, hi: int) -> int:
        return s.runs.covered(lo, hi)

    def pages_any(self, s: PageRuns, lo: int, hi: int) -> bool:
        return self.pages_first_in(s, lo, hi) < hi

    def pages_union(self, s: PageRuns, t: PageRuns) -> PageRuns:
        if len(s.runs) < len(t.runs):  # walk the smaller set
            s, t = t, s
        for a, z in t.all():
            s = s._with(a, z, True)
        return s

    def pages_diff(self, s: PageRuns, t: PageRuns) -> PageRuns:
        for a, z in t.overlap(*s.bounds()):  # only what can meet s
            s = s._with(a, z, False)
        return s

    def pages_within(self, s: PageRuns, lo: int, hi: int) -> PageRuns:
        return PageRuns(s.runs.restrict(lo, hi))

    def pages_first_in(self, s: PageRuns, lo: int, hi: int) -> int:
        if hi <= lo:
            return hi
        if s.runs.find(lo) is not None:
            return lo
        nxt = s.runs.after(lo)
        return nxt[0] if nxt is not None and nxt[0] < hi else hi

    def pages_first_out(self, s: PageRuns, lo: int, hi: int) -> int:
        if hi <= lo:
            return hi
        run = s.runs.find(lo)  # runs never touch, so its end is out of the set
        return lo if run is None else min(run[1], hi)


_EMPTY_PAGES = PageRuns(iv.IntervalMap.of(()))
