"""The logic the invariant catalogue and well-formedness are written in, twice.

`Z3` is z3 itself: what `vmospec prove` builds formulas with. `CONCRETE` computes the
same operators on Python values (unsigned 64-bit words wrap as bit-vectors do), so
`vmospec explore` evaluates the very same predicates on concrete states at concrete
offsets: one definition of each invariant, two ways to read it.
"""

from __future__ import annotations

from typing import Any

import z3

from spec.abi import U64_MAX
from spec.symbolic import word as _z3_word


class U64(int):
    """An unsigned 64-bit word: arithmetic wraps modulo 2^64, as a z3 bit-vector's does."""

    __slots__ = ()

    def __new__(cls, x: int) -> U64:
        return int.__new__(cls, x if 0 <= x <= U64_MAX else x & U64_MAX)

    def __add__(self, o: Any) -> Any:
        return U64(int(self) + o) if isinstance(o, int) else NotImplemented

    __radd__ = __add__

    def __sub__(self, o: Any) -> Any:
        return U64(int(self) - o) if isinstance(o, int) else NotImplemented

    def __rsub__(self, o: Any) -> Any:
        return U64(o - int(self)) if isinstance(o, int) else NotImplemented

    def __mul__(self, o: Any) -> Any:
        return U64(int(self) * o) if isinstance(o, int) else NotImplemented

    __rmul__ = __mul__

    def __and__(self, o: Any) -> Any:
        return U64(int(self) & o) if isinstance(o, int) else NotImplemented

    __rand__ = __and__

    def __or__(self, o: Any) -> Any:
        return U64(int(self) | o) if isinstance(o, int) else NotImplemented

    __ror__ = __or__

    def __invert__(self) -> U64:
        return U64(~int(self))


class Concrete:
    """The catalogue's operators on Python bools and wrapping words."""

    symbolic = False

    @staticmethod
    def word(x: Any) -> U64:
        return x if type(x) is U64 else U64(x)

    @staticmethod
    def BitVecVal(x: int, bits: int) -> U64:
        return U64(x)

    @staticmethod
    def And(*fs: Any) -> bool:
        return all(fs)

    @staticmethod
    def Or(*fs: Any) -> bool:
        return any(fs)

    @staticmethod
    def Not(f: Any) -> bool:
        return not f

    @staticmethod
    def Implies(a: Any, b: Any) -> bool:
        return (not a) or bool(b)

    @staticmethod
    def If(c: Any, a: Any, b: Any) -> Any:
        return a if c else b

    @staticmethod
    def ULT(a: Any, b: Any) -> bool:
        return int(a) & U64_MAX < int(b) & U64_MAX

    @staticmethod
    def ULE(a: Any, b: Any) -> bool:
        return int(a) & U64_MAX <= int(b) & U64_MAX

    @staticmethod
    def UGE(a: Any, b: Any) -> bool:
        return int(a) & U64_MAX >= int(b) & U64_MAX

    @staticmethod
    def UDiv(a: Any, b: Any) -> U64:
        return U64((int(a) & U64_MAX) // (int(b) & U64_MAX))

    @staticmethod
    def Extract(hi: int, lo: int, x: Any) -> int:
        return (int(x) >> lo) & ((1 << (hi - lo + 1)) - 1)


class Z3:
    """z3's own operators (and `word`, which makes a Python int a 64-bit value)."""

    symbolic = True
    word = staticmethod(_z3_word)
    BitVecVal = staticmethod(z3.BitVecVal)
    And = staticmethod(z3.And)
    Or = staticmethod(z3.Or)
    Not = staticmethod(z3.Not)
    Implies = staticmethod(z3.Implies)
    If = staticmethod(z3.If)
    ULT = staticmethod(z3.ULT)
    ULE = staticmethod(z3.ULE)
    UGE = staticmethod(z3.UGE)
    UDiv = staticmethod(z3.UDiv)
    Extract = staticmethod(z3.Extract)


Logic = type[Concrete] | type[Z3]


def logic_for(x: Any) -> Logic:
    """The logic a value belongs to: a concrete offset or a z3 term."""
    return Concrete if isinstance(x, int) else Z3
