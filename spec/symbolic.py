"""The z3 backend of the value layer: the same op functions, run on terms.

Words are 64-bit bit-vectors, flags are booleans, byte maps are arrays from offsets to
bytes and page sets are arrays from page numbers to booleans. Range updates are
lambdas, so a 2^64-byte VMO is one term. Counting pages of a symbolic set is not
expressible without cardinality, so `pages_count` returns a fresh word bounded by the
range length (recorded in `side`): proofs about exact committed-byte counts are out of
this backend's reach, and that is said where it matters.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import z3

from spec.values import Data, Values

BV64 = z3.BitVecSort(64)
BV8 = z3.BitVecSort(8)


def word(x: Any) -> z3.BitVecRef:
    if isinstance(x, int) and not isinstance(x, bool):
        return z3.BitVecVal(x, 64)
    return x


def flag(x: Any) -> z3.BoolRef:
    if isinstance(x, bool):
        return z3.BoolVal(x)
    return x


@dataclass(frozen=True)
class SymbolicBytes:
    """What a read returns in the z3 backend: `length` bytes of `content` from `offset`."""

    content: z3.ArrayRef
    offset: z3.BitVecRef
    length: z3.BitVecRef

    def at(self, i: Any) -> z3.BitVecRef:
        return self.content[word(self.offset) + word(i)]


class Symbolic(Values):
    """z3 terms: what the proofs run the spec on."""

    symbolic = True

    def __init__(self, page: int = 4096) -> None:
        self.page = page
        self.side: list[z3.BoolRef] = []  # facts about fresh terms this run introduced
        self._fresh = 0

    def fresh_word(self, stem: str) -> z3.BitVecRef:
        self._fresh += 1
        return z3.BitVec(f"{stem}!{self._fresh}", 64)

    def fresh_flag(self, stem: str) -> z3.BoolRef:
        self._fresh += 1
        return z3.Bool(f"{stem}!{self._fresh}")

    @staticmethod
    def _in(i: z3.BitVecRef, lo: Any, hi: Any) -> z3.BoolRef:
        return z3.And(z3.ULE(word(lo), i), z3.ULT(i, word(hi)))

    def add(self, a: Any, b: Any) -> tuple[Any, Any]:
        s = word(a) + word(b)
        return (s, z3.ULT(s, word(a)))

    def sub(self, a: Any, b: Any) -> Any:
        return word(a) - word(b)

    def ult(self, a: Any, b: Any) -> Any:
        return z3.ULT(word(a), word(b))

    def ule(self, a: Any, b: Any) -> Any:
        return z3.ULE(word(a), word(b))

    def eq(self, a: Any, b: Any) -> Any:
        return word(a) == word(b)

    def and_(self, *fs: Any) -> Any:
        return z3.And(*[flag(f) for f in fs])

    def or_(self, *fs: Any) -> Any:
        return z3.Or(*[flag(f) for f in fs])

    def not_(self, f: Any) -> Any:
        return z3.Not(flag(f))

    def ite(self, c: Any, a: Any, b: Any) -> Any:
        if isinstance(c, bool):
            return a if c else b
        if isinstance(a, int) or isinstance(b, int):
            a, b = word(a), word(b)
        return z3.If(c, a, b)

    def has_bits(self, mask: Any, bits: int) -> Any:
        return (word(mask) & bits) == bits

    def bit_and(self, a: Any, b: Any) -> Any:
        return word(a) & word(b)

    def bit_or(self, a: Any, b: Any) -> Any:
        return word(a) | word(b)

    def floor_to(self, x: Any, p: int) -> Any:
        return word(x) & ~z3.BitVecVal(p - 1, 64)

    def ceil_to(self, x: Any, p: int) -> tuple[Any, Any]:
        x = word(x)
        return ((x + (p - 1)) & ~z3.BitVecVal(p - 1, 64), z3.UGT(x, -p & ((1 << 64) - 1)))

    def div_to(self, x: Any, p: int) -> Any:
        return z3.LShR(word(x), p.bit_length() - 1)

    def mul_to(self, x: Any, p: int) -> Any:
        return word(x) << (p.bit_length() - 1)

    # -- byte maps ---------------------------------------------------------------------
    def bytes_const(self, byte: int) -> Any:
        return z3.K(BV64, z3.BitVecVal(byte, 8))

    def bytes_pager(self, page: int) -> Any:
        i = z3.BitVec("i", 64)
        return z3.Lambda([i], z3.Extract(7, 0, z3.UDiv(i, page) + 1))

    def bytes_fill(self, m: Any, lo: Any, hi: Any, byte: int) -> Any:
        i = z3.BitVec("i", 64)
        return z3.Lambda([i], z3.If(self._in(i, lo, hi), z3.BitVecVal(byte, 8), m[i]))

    def bytes_write(self, m: Any, offset: Any, data: Any) -> Any:
        if isinstance(data, tuple) and all(isinstance(r, tuple) for r in data):
            runs: Data = data
            x = word(offset)
            for b, n in runs:
                m = self.bytes_fill(m, x, x + n, b)
                x = x + n
            return m
        src, length = data
        i = z3.BitVec("i", 64)
        off = word(offset)
        return z3.Lambda([i], z3.If(self._in(i, off, off + word(length)), src[i - off], m[i]))

    def bytes_splice(self, m: Any, lo: Any, hi: Any, src: Any, shift: Any) -> Any:
        i = z3.BitVec("i", 64)
        return z3.Lambda([i], z3.If(self._in(i, lo, hi), src[i + word(shift)], m[i]))

    def bytes_read(self, m: Any, offset: Any, length: Any) -> SymbolicBytes:
        return SymbolicBytes(m, word(offset), word(length))

    def bytes_zero_in(self, m: Any, lo: Any, hi: Any) -> Any:
        # A fresh flag that implies the range reads zero, rather than the quantified
        # formula itself: branching on a quantifier makes z3 slow, and taking the
        # "not zero" branch when the bytes are zero only commits a page (zero.effect).
        z = self.fresh_flag("zero_in")
        i = z3.BitVec("i", 64)
        self.side.append(z3.Implies(z, z3.ForAll([i], z3.Implies(self._in(i, lo, hi), m[i] == 0))))
        return z

    # -- page sets ---------------------------------------------------------------------
    def pages_empty(self) -> Any:
        return z3.K(BV64, z3.BoolVal(False))

    def pages_add(self, s: Any, lo: Any, hi: Any) -> Any:
        i = z3.BitVec("i", 64)
        return z3.Lambda([i], z3.Or(self._in(i, lo, hi), s[i]))

    def pages_remove(self, s: Any, lo: Any, hi: Any) -> Any:
        i = z3.BitVec("i", 64)
        return z3.Lambda([i], z3.And(z3.Not(self._in(i, lo, hi)), s[i]))

    def pages_count(self, s: Any, lo: Any, hi: Any) -> Any:
        c = self.fresh_word("count")
        span = z3.If(z3.ULE(word(lo), word(hi)), word(hi) - word(lo), z3.BitVecVal(0, 64))
        self.side.append(z3.ULE(c, span))
        self.side.append(z3.Implies(c == 0, z3.Not(self.pages_any(s, lo, hi))))
        return c

    def pages_any(self, s: Any, lo: Any, hi: Any) -> Any:
        i = z3.BitVec("i", 64)
        return z3.Exists([i], z3.And(self._in(i, lo, hi), s[i]))

    def pages_union(self, s: Any, t: Any) -> Any:
        i = z3.BitVec("i", 64)
        return z3.Lambda([i], z3.Or(s[i], t[i]))

    def pages_diff(self, s: Any, t: Any) -> Any:
        i = z3.BitVec("i", 64)
        return z3.Lambda([i], z3.And(s[i], z3.Not(t[i])))

    def pages_within(self, s: Any, lo: Any, hi: Any) -> Any:
        i = z3.BitVec("i", 64)
        return z3.Lambda([i], z3.And(self._in(i, lo, hi), s[i]))

    def _first(self, s: Any, lo: Any, hi: Any, member: bool) -> Any:
        r = self.fresh_word("first")
        i = z3.BitVec("i", 64)
        hit = s[i] if member else z3.Not(s[i])
        self.side.append(z3.And(z3.ULE(word(lo), r), z3.ULE(r, word(hi))))
        self.side.append(z3.ForAll([i], z3.Implies(self._in(i, lo, r), z3.Not(hit))))
        self.side.append(z3.Or(r == word(hi), s[r] if member else z3.Not(s[r])))
        return r

    def pages_first_in(self, s: Any, lo: Any, hi: Any) -> Any:
        return self._first(s, lo, hi, True)

    def pages_first_out(self, s: Any, lo: Any, hi: Any) -> Any:
        return self._first(s, lo, hi, False)

    # -- copy-on-write families ----------------------------------------------------------
    def pages_runs(self, s: Any) -> list[tuple[Any, Any]]:
        raise TypeError("a symbolic page set has no runs")

    def pages_up(self, s: Any, d: Any) -> Any:
        i = z3.BitVec("i", 64)
        return z3.Lambda([i], z3.And(z3.UGE(i, word(d)), s[i - word(d)]))

    def pages_down(self, s: Any, d: Any) -> Any:
        i = z3.BitVec("i", 64)
        return z3.Lambda([i], z3.And(z3.ULE(i, i + word(d)), s[i + word(d)]))

    def page_in(self, s: Any, x: Any) -> Any:
        return s[word(x)]

    def split(self, whole: int, sees: list[Any]) -> list[tuple[Any, Any]]:
        # Integers (a part of P << 63 needs more than 64 bits); the count of sharers is
        # at most len(sees), so each division is by a constant.
        n = z3.Sum([z3.If(flag(f), z3.IntVal(1), z3.IntVal(0)) for f in sees])
        part: Any = z3.IntVal(0)
        for k in range(len(sees), 0, -1):
            part = z3.If(n == k, z3.IntVal(whole // k), part)
        return [(z3.And(flag(f), n == 1), z3.If(flag(f), part, z3.IntVal(0))) for f in sees]

    def bytes_overlay(self, m: Any, pages: Any, src: Any, shift: Any) -> Any:
        i = z3.BitVec("i", 64)
        return z3.Lambda([i], z3.If(pages[z3.UDiv(i, self.page)], src[i + word(shift)], m[i]))

