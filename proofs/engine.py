"""Running the spec on z3 terms and discharging what it must satisfy.

`symbolic_root` builds the simplest object shape: one root VMO behind one handle, with
size, rights, content, commit set and (if discardable) tracker all symbolic. `paths`
runs any transition of the spec on it with the z3 backend, giving one path per way
the transition can go. `prove` asks z3 whether a claim holds on every path whose
condition is satisfiable, and `satisfiable` shows that hypotheses are not vacuous.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any, Literal

import z3

from spec.explore import Cx, Path, explore
from spec.outcome import Outcome
from spec.profiles import Profile
from spec.state import EMPTY_STATE, ROOT, UNRECLAIMABLE, Handle, Kind, Memory, State, Tracker, Vmo
from spec.symbolic import BV8, BV64, Symbolic

Verdict = Literal["proved", "counterexample", "unknown"]


@dataclass(frozen=True)
class RootVmo:
    """The symbolic unknowns of a one-VMO state."""

    state: State
    size: z3.BitVecRef
    rights: z3.BitVecRef
    content: z3.ArrayRef
    committed: z3.ArrayRef
    lock_state: z3.BitVecRef | None
    lock_count: z3.BitVecRef | None
    well_formed: z3.BoolRef  # what every reachable state of this shape satisfies


def symbolic_root(page: int, kind: Kind, handle: str = "a") -> RootVmo:
    size = z3.BitVec("S", 64)
    rights = z3.BitVec("rights", 64)
    content = z3.Array("content", BV64, BV8)
    committed = z3.Array("committed", BV64, z3.BoolSort())
    facts = [size & (page - 1) == 0, z3.ULE(rights, 0xFFFFFFFF)]
    tracker = None
    lock_state = lock_count = None
    if kind.discardable:
        lock_state = z3.BitVec("tracker_state", 64)
        lock_count = z3.BitVec("lock_count", 64)
        tracker = Tracker(lock_state, lock_count)
        # discardable.states: four states; the count is >= 1 exactly in Unreclaimable
        facts += [z3.ULE(lock_state, 3),
                  (lock_state == UNRECLAIMABLE) == z3.UGE(lock_count, 1),
                  z3.Implies(lock_state != UNRECLAIMABLE, lock_count == 0)]
    vmo = Vmo(kind, ROOT, size, None, 0, Memory(content, committed), tracker, None, False)
    st = EMPTY_STATE._replace(
        handles=MappingProxyType({handle: Handle(1, rights)}),
        objects=MappingProxyType({1: vmo}),
        next_obj=2,
    )
    return RootVmo(st, size, rights, content, committed, lock_state, lock_count, z3.And(*facts))


def paths(
    run: Callable[[Cx], Outcome], profile: Profile, page: int,
    config: dict[str, bool] | None = None,
) -> tuple[list[Path[Outcome]], list[Any]]:
    """Every path of a transition on z3 terms, and the side facts its fresh terms carry."""
    v = Symbolic(page)
    found = explore(run, v, profile, page, config or {})
    return found, v.side


RLIMIT = 200_000_000  # z3's own count of work: the same budget on a busy or slow machine


def _solver(rlimit: int) -> z3.Solver:
    s = z3.Solver()
    s.set("rlimit", rlimit)
    return s


def satisfiable(*facts: Any, rlimit: int = RLIMIT) -> bool:
    s = _solver(rlimit)
    s.add(*facts)
    return bool(s.check() == z3.sat)


def prove(
    hypotheses: list[Any], claim: Any, rlimit: int = RLIMIT
) -> tuple[Verdict, z3.ModelRef | None]:
    """Does `claim` follow from `hypotheses`? Out of budget is `unknown`, never `proved`."""
    s = _solver(rlimit)
    s.add(*hypotheses)
    s.add(z3.Not(claim))
    r = s.check()
    if r == z3.unsat:
        return "proved", None
    if r == z3.sat:
        return "counterexample", s.model()
    return "unknown", None


def in_range(i: z3.BitVecRef, lo: Any, hi: Any) -> z3.BoolRef:
    return z3.And(z3.ULE(lo, i), z3.ULT(i, hi))
