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

from abc import ABC, abstractmethod
from bisect import bisect_right
from typing import Any

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
    def pages_first_in(self, s: PageSet, lo: Word, hi: Word) -> Word:
        """The lowest page of [lo, hi) in s, or hi when there is none."""

    @abstractmethod
    def pages_first_out(self, s: PageSet, lo: Word, hi: Word) -> Word:
        """The lowest page of [lo, hi) not in s, or hi when there is none."""


# ======================================================================================
# Concrete backend
# ======================================================================================


def _normalize(runs: list[tuple[int, int]]) -> Data:
    out: list[tuple[int, int]] = []
    for b, n in runs:
        if n <= 0:
            continue
        if out and out[-1][0] == b:
            out[-1] = (b, out[-1][1] + n)
        else:
            out.append((b, n))
    return tuple(out)


class ByteRuns:
    """An immutable map from u64 offsets to bytes as sorted breakpoints.

    `starts[i]` begins a run that lasts until `starts[i + 1]` (or 2^64). A value 0..255 is
    that byte; a negative value -(1 + shift) is the pager pattern read at index + shift.
    """

    __slots__ = ("page", "starts", "vals")

    def __init__(self, starts: tuple[int, ...], vals: tuple[int, ...], page: int) -> None:
        self.starts = starts
        self.vals = vals
        self.page = page

    def __eq__(self, other: object) -> bool:
        return (
            isinstance(other, ByteRuns)
            and self.starts == other.starts
            and self.vals == other.vals
        )

    def __hash__(self) -> int:
        return hash((self.starts, self.vals))

    def byte_at(self, x: int) -> int:
        v = self.vals[bisect_right(self.starts, x) - 1]
        return v if v >= 0 else self._pattern(x - 1 - v)

    def _pattern(self, x: int) -> int:
        return (x // self.page + 1) % 256

    def pieces(self, lo: int, hi: int) -> list[tuple[int, int, int]]:
        """The runs (start, end, value) that cover [lo, hi), clipped to it."""
        starts, vals = self.starts, self.vals
        i = bisect_right(starts, lo) - 1
        out = []
        n = len(starts)
        while lo < hi:
            end = starts[i + 1] if i + 1 < n else MOD
            end = min(end, hi)
            out.append((lo, end, vals[i]))
            lo = end
            i += 1
        return out

    def replaced(self, lo: int, hi: int, new: list[tuple[int, int, int]]) -> ByteRuns:
        """This map with [lo, hi) replaced by the runs `new` (which tile [lo, hi))."""
        if hi <= lo:
            return self
        starts, vals = self.starts, self.vals
        i = bisect_right(starts, lo) - 1  # run holding lo
        j = bisect_right(starts, hi - 1) - 1  # run holding hi - 1
        out_s = list(starts[: i + 1])
        out_v = list(vals[: i + 1])
        if out_s[-1] == lo:
            out_s.pop()
            out_v.pop()

        # A value depends only on the absolute index, so equal neighbours always merge.
        def push(s: int, v: int) -> None:
            if not out_v or out_v[-1] != v:
                out_s.append(s)
                out_v.append(v)

        for s, _e, v in new:
            push(s, v)
        if hi < MOD:
            k = j + 1
            if k < len(starts) and starts[k] == hi:
                push(hi, vals[k])
                k += 1
            else:
                push(hi, vals[j])
            out_s.extend(starts[k:])
            out_v.extend(vals[k:])
        return ByteRuns(tuple(out_s), tuple(out_v), self.page)

    def read(self, lo: int, length: int) -> Data:
        runs: list[tuple[int, int]] = []
        for s, e, v in self.pieces(lo, lo + length):
            if v >= 0:
                runs.append((v, e - s))
                continue
            shift = -1 - v
            x = s
            while x < e:
                page_end = ((x + shift) // self.page + 1) * self.page - shift
                stop = min(e, page_end)
                runs.append((self._pattern(x + shift), stop - x))
                x = stop
        return _normalize(runs)


class PageRuns:
    """An immutable set of page numbers as sorted, disjoint, non-adjacent [lo, hi) pairs."""

    __slots__ = ("bounds",)

    def __init__(self, bounds: tuple[int, ...]) -> None:
        self.bounds = bounds  # lo0, hi0, lo1, hi1, ...

    def __eq__(self, other: object) -> bool:
        return isinstance(other, PageRuns) and self.bounds == other.bounds

    def __hash__(self) -> int:
        return hash(self.bounds)

    def _with(self, lo: int, hi: int, present: bool) -> PageRuns:
        if hi <= lo:
            return self
        b = self.bounds
        kept: list[int] = []
        nlo, nhi = lo, hi
        for k in range(0, len(b), 2):
            a, z = b[k], b[k + 1]
            if z < lo or a > hi or (not present and (z == lo or a == hi)):
                kept.extend((a, z))
            elif present:  # overlapping or touching: merge
                nlo, nhi = min(nlo, a), max(nhi, z)
            else:  # cut [lo, hi) out of [a, z)
                if a < lo:
                    kept.extend((a, lo))
                if z > hi:
                    kept.extend((hi, z))
        if present:
            kept.extend((nlo, nhi))
            pairs = sorted(zip(kept[::2], kept[1::2], strict=True))
            kept = [x for p in pairs for x in p]
        return PageRuns(tuple(kept))

    def overlap(self, lo: int, hi: int) -> list[tuple[int, int]]:
        b = self.bounds
        out = []
        for k in range(0, len(b), 2):
            a, z = max(b[k], lo), min(b[k + 1], hi)
            if a < z:
                out.append((a, z))
        return out


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

    def ult(self, a: int, b: int) -> bool:
        return a < b

    def ule(self, a: int, b: int) -> bool:
        return a <= b

    def eq(self, a: int, b: int) -> bool:
        return a == b

    def and_(self, *fs: bool) -> bool:
        return all(fs)

    def or_(self, *fs: bool) -> bool:
        return any(fs)

    def not_(self, f: bool) -> bool:
        return not f

    def ite(self, c: bool, a: Any, b: Any) -> Any:
        return a if c else b

    def has_bits(self, mask: int, bits: int) -> bool:
        return mask & bits == bits

    def bit_and(self, a: int, b: int) -> int:
        return a & b

    def bit_or(self, a: int, b: int) -> int:
        return a | b

    def floor_to(self, x: int, p: int) -> int:
        return x & ~(p - 1)

    def ceil_to(self, x: int, p: int) -> tuple[int, bool]:
        r = (x + p - 1) & ~(p - 1)
        return (r & U64_MAX, r > U64_MAX)

    def div_to(self, x: int, p: int) -> int:
        return x // p

    def mul_to(self, x: int, p: int) -> int:
        return (x * p) & U64_MAX

    def aligned(self, x: int, p: int) -> bool:
        return x & (p - 1) == 0

    def umin(self, a: int, b: int) -> int:
        return a if a < b else b

    def ne(self, a: int, b: int) -> bool:
        return a != b

    def bytes_const(self, byte: int) -> ByteRuns:
        return ByteRuns((0,), (byte,), self.page)

    def bytes_pager(self, page: int) -> ByteRuns:
        return ByteRuns((0,), (-1,), page)

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

    def bytes_read(self, m: ByteRuns, offset: int, length: int) -> Data:
        return m.read(offset, length)

    def bytes_zero_in(self, m: ByteRuns, lo: int, hi: int) -> bool:
        return all(b == 0 for b, _ in m.read(lo, hi - lo)) if hi > lo else True

    def pages_empty(self) -> PageRuns:
        return _EMPTY_PAGES

    def pages_add(self, s: PageRuns, lo: int, hi: int) -> PageRuns:
        return s._with(lo, hi, True)

    def pages_remove(self, s: PageRuns, lo: int, hi: int) -> PageRuns:
        return s._with(lo, hi, False) if s.bounds else s

    def pages_count(self, s: PageRuns, lo: int, hi: int) -> int:
        return sum(z - a for a, z in s.overlap(lo, hi))

    def pages_any(self, s: PageRuns, lo: int, hi: int) -> bool:
        return bool(s.overlap(lo, hi))

    def pages_union(self, s: PageRuns, t: PageRuns) -> PageRuns:
        b = t.bounds
        for k in range(0, len(b), 2):
            s = s._with(b[k], b[k + 1], True)
        return s

    def pages_diff(self, s: PageRuns, t: PageRuns) -> PageRuns:
        b = t.bounds
        for k in range(0, len(b), 2):
            s = s._with(b[k], b[k + 1], False)
        return s

    def pages_first_in(self, s: PageRuns, lo: int, hi: int) -> int:
        ov = s.overlap(lo, hi)
        return ov[0][0] if ov else hi

    def pages_first_out(self, s: PageRuns, lo: int, hi: int) -> int:
        x = lo
        for a, z in s.overlap(lo, hi):
            if a > x:
                return x
            x = z
        return x if x < hi else hi


_EMPTY_PAGES = PageRuns(())
