"""Minimal witnesses for the hunt and the diff: the smallest fresh state and arguments
under which a z3 formula over a step's paths holds, made into a replayable trace.

A witness state is *fresh*: the shape's objects as the trace creates them (nothing
committed, contents as created), with the model's sizes, the tracker state a few
LOCK/UNLOCK/reclaim steps give, and the rights a `handle_duplicate` gives. The z3 query
is asked about exactly that state (the shape's arrays are replaced by the fresh ones),
so the trace built from the model is the input the formula speaks of; every witness is
then replayed on the concrete spec to confirm it (proofs/diff.py, proofs/hunt.py).

Minimality: the model is asked, in this order, for the handle's full rights, a tracker
that needs no steps, a VMO of at least one page, then the smallest VMO size, child size,
offset, size and lock count (z3 Optimize, lexicographic).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any, Protocol

import z3

from proofs.catalogue import hypotheses
from proofs.prover import PAGE, shape
from proofs.steps import OFFSET, SIZE, STEP_BY_LABEL
from proofs.wellformed import pager_byte
from spec import abi
from spec.abi import OK
from spec.explore import ANY_ERROR, explore
from spec.explore import Path as SpecPath
from spec.outcome import Between, Outcome, status_name
from spec.profiles import PROFILES
from spec.state import DISCARDED, EMPTY_STATE, RECLAIMABLE, UNRECLAIMABLE, UNSET, State
from spec.symbolic import BV8, BV64
from spec.transitions import transition
from spec.values import Concrete

CONFIG = {"debugging_syscalls": False, "page_loaning": False}
MAX_LOCKS = 8  # a witness takes at most this many locks
WITNESS_TIMEOUT_MS = 10_000
# Shapes from the simplest witness (fewest setup steps) to the most involved.
SHAPE_ORDER = ("anonymous", "resizable", "discardable", "pager", "slice", "reference",
               "snapshot", "uncached", "discardable-resizable", "contiguous", "physical",
               "pager-child", "two-sharer", "three-sharer")


def shape_rank(name: str, handle: str) -> tuple[int, int]:
    return SHAPE_ORDER.index(name), 0 if handle == "a" else 1


def fresh_arrays(shape_name: str) -> list[tuple[Any, Any]]:
    """The shape's arrays as the setup steps leave them."""
    def arr(name: str, sort: Any) -> Any:
        return z3.Array(name, BV64, sort)

    no = z3.K(BV64, z3.BoolVal(False))
    zero = z3.K(BV64, z3.BitVecVal(0, 8))
    subst: list[tuple[Any, Any]] = [(arr("committed_a", z3.BoolSort()), no),
                                    (arr("committed_c", z3.BoolSort()), no),
                                    (arr("content_c", BV8), zero)]
    # a family's hidden nodes and zero markers, and a second snapshot's pages: none yet
    subst += [(arr(n, z3.BoolSort()), no) for n in (
        "pages_h", "pages_h2", "zeros_h", "zeros_h2", "zeros_a", "zeros_c", "zeros_d",
        "committed_d")]
    subst.append((arr("content_d", BV8), zero))
    if shape_name in ("pager", "pager-child"):
        i = z3.BitVec("i_fresh", 64)
        subst += [(arr("content_a", BV8), z3.Lambda([i], pager_byte(i, PAGE))),
                  (arr("dirty_a", z3.BoolSort()), no),
                  (arr("always_need_a", z3.BoolSort()), no),
                  (arr("dont_need_a", z3.BoolSort()), no)]
    else:
        subst.append((arr("content_a", BV8), zero))
    return subst


@cache
def initial_rights(shape_name: str) -> dict[str, int]:
    """The rights each handle of the shape has when the setup steps create it."""
    b = Builder("zircon-2025")
    setup(b, shape_name, PAGE, PAGE if shape_name != "slice" else 0)
    return {h: int(x.rights) for h, x in b.state.handles.items()}


class Fresh:
    """One shape's fresh state for z3: `sub` rewrites a formula about the shape's arrays
    into one about the fresh state; `base` is what that state satisfies (hypotheses at
    the call's offsets, rights the setup can give, a tracker reachable in a few steps).
    `sat` asks, incrementally, whether extra facts can hold there."""

    def __init__(self, shape_name: str, facts: list[Any]) -> None:
        sh = shape(shape_name)
        self.shape = shape_name
        self._subst = fresh_arrays(shape_name)
        points = [OFFSET, z3.UDiv(OFFSET, PAGE), SIZE]
        extra: list[Any] = list(hypotheses(sh, PAGE, at=points))
        for h, rights in initial_rights(shape_name).items():
            if h in sh.state.handles and h != "p":
                r = z3.BitVec(f"rights_{h}", 64)
                extra.append(r & ~z3.BitVecVal(rights, 64) == 0)
        if shape_name in ("discardable", "discardable-resizable"):
            extra.append(z3.ULE(z3.BitVec("locks_a", 64), MAX_LOCKS))
        self.base = [self.sub(f) for f in [*facts, *extra]]
        self.solver = z3.Solver()
        self.solver.set("timeout", WITNESS_TIMEOUT_MS)
        self.solver.add(*self.base)

    def sub(self, f: Any) -> Any:
        if not z3.is_expr(f):
            return z3.BoolVal(bool(f))
        return z3.simplify(z3.substitute(f, *self._subst))

    def sat(self, *facts: Any) -> bool:
        self.solver.push()
        self.solver.add(*facts)
        r = self.solver.check()
        self.solver.pop()
        return bool(r == z3.sat)

    def minimal(self, handle: str, *facts: Any, more: tuple[str, ...] = (),
                rlimit: int | None = None) -> dict[str, int] | None:
        return minimal_model(self.shape, handle, [*self.base, *facts], more, rlimit)


def minimal_model(shape_name: str, handle: str, facts: list[Any], more: tuple[str, ...] = (),
                  rlimit: int | None = None) -> dict[str, int] | None:
    """The smallest values satisfying `facts` (already fresh), or None if unsat.

    Preferences first (each kept only if it can hold): the handle's full rights, a
    tracker that needs no steps, a VMO of at least one page; then each word in turn is
    fixed to its least value (small candidates, else a binary search), the words
    `more` names last. With `rlimit`, each query is bounded by z3's count of work
    instead of the time."""
    s = z3.Solver()
    if rlimit is None:
        s.set("timeout", WITNESS_TIMEOUT_MS)
    else:
        s.set("rlimit", rlimit)
    s.add(*facts)
    if s.check() != z3.sat:
        return None
    rights = initial_rights(shape_name)
    prefs = [z3.BitVec(f"rights_{h}", 64) == rights[h]
             for h in (handle, "a", "c") if h in rights]
    if shape_name in ("discardable", "discardable-resizable"):
        prefs.append(z3.BitVec("tracker_a", 64) == UNSET)
    prefs.append(z3.UGE(z3.BitVec("S_a", 64), PAGE))
    for p in prefs:
        _keep_if_sat(s, p)
    for n in ("S_a", "S_c", "offset", "size", "locks_a", *more):
        x = z3.BitVec(n, 64)
        small = [PAGE] if n == "S_a" else []
        if any(_keep_if_sat(s, x == c) for c in [*small, 0, 1, PAGE, PAGE + 1, 2 * PAGE]):
            continue
        lo, hi = 0, (1 << 64) - 1  # the least value is in (lo, hi]
        while lo + 1 < hi:
            mid = (lo + hi) // 2
            s.push()
            s.add(z3.ULE(x, mid))
            r = s.check()
            s.pop()
            if r == z3.sat:
                hi = mid
            elif r == z3.unknown and rlimit is not None:
                break  # out of budget: keep the least value found so far
            else:
                lo = mid
        _keep_if_sat(s, z3.ULE(x, hi))
    if s.check() != z3.sat:
        return None
    return values_of(s.model())


def _keep_if_sat(s: z3.Solver, f: Any) -> bool:
    s.push()
    s.add(f)
    if s.check() == z3.sat:
        return True
    s.pop()
    return False


def values_of(m: z3.ModelRef) -> dict[str, int]:
    out: dict[str, int] = {}
    for d in m.decls():
        val = m[d]
        if z3.is_bv_value(val):
            out[d.name()] = val.as_long()
    return out


# ----------------------------------------------------------------------------------------
# Traces
# ----------------------------------------------------------------------------------------


@dataclass
class Recorded:
    kind: str
    name: str
    args: dict[str, Any]
    outcome: dict[str, Any] = field(default_factory=dict)
    note: str | None = None


def run_step(profile: str, st: State, name: str, args: dict[str, Any]) -> list[SpecPath[Outcome]]:
    """Every outcome `profile` allows for one call on a concrete state."""
    return explore(lambda cx: transition(cx, st, name, args), Concrete(PAGE),
                   PROFILES[profile], PAGE, CONFIG)


class Builder:
    """Runs setup steps on the concrete spec, recording each one's outcome: its status
    (an OK one where the profile allows it), and with `outputs` what else a trace can
    record."""

    def __init__(self, profile: str, outputs: bool = False) -> None:
        self.profile = profile
        self.outputs = outputs
        self.state: State = EMPTY_STATE
        self.steps: list[Recorded] = []
        # per step: the state it ran on and every outcome the profile allowed there
        self.seen: list[tuple[State, list[SpecPath[Outcome]]]] = []

    def add(self, name: str, note: str | None = None, kind: str = "call", **args: Any) -> int:
        if name == "vmo_op_range":
            args.setdefault("buffer_size", abi.LOCK_STATE_SIZE if args["op"] == abi.OP_LOCK
                            else 0)
            args.setdefault("buffer_null", False)
        paths = run_step(self.profile, self.state, name, args)
        ok = [p for p in paths if p.result.status == OK] or paths
        o = ok[0].result
        outcome: dict[str, Any] = {} if kind == "event" else {"status": o.status}
        if self.outputs:
            outcome.update(key_outputs(o))
        self.steps.append(Recorded(kind, name, dict(args), outcome, note))
        self.seen.append((self.state, paths))
        self.state = o.state
        return o.status


class StepAdder(Protocol):
    """Anything that records steps the way Builder does (counterexample traces too)."""

    def add(self, name: str, note: str | None = None, kind: str = "call",
            **args: Any) -> int: ...


def setup(b: StepAdder, shape_name: str, size_a: int, size_c: int) -> None:
    """The steps that build a proof shape, with the given sizes."""
    if shape_name in ("pager", "pager-child"):
        b.add("pager_create", out="p")
        b.add("pager_create_vmo", pager="p", options=0, size=size_a, out="a")
        if shape_name == "pager-child":
            b.add("vmo_create_child", vmo="a", options=abi.CHILD_SNAPSHOT_AT_LEAST_ON_WRITE,
                  offset=PAGE, size=size_c, out="c")
        return
    if shape_name == "contiguous":
        b.add("vmo_create_contiguous", size=size_a, alignment_log2=0, out="a")
        return
    if shape_name == "physical":
        b.add("vmo_create_physical", paddr=1 << 28, size=size_a, out="a")
        return
    options = {"resizable": abi.VMO_RESIZABLE, "discardable": abi.VMO_DISCARDABLE,
               "discardable-resizable": abi.VMO_DISCARDABLE | abi.VMO_RESIZABLE
               }.get(shape_name, 0)
    b.add("vmo_create", size=size_a, options=options, out="a")
    if shape_name == "uncached":
        b.add("vmo_set_cache_policy", vmo="a", cache_policy=abi.CACHE_POLICY_UNCACHED)
    if shape_name == "slice":
        b.add("vmo_create_child", vmo="a", options=abi.CHILD_SLICE, offset=PAGE, size=size_c,
              out="c")
    elif shape_name == "reference":
        b.add("vmo_create_child", vmo="a", options=abi.CHILD_REFERENCE, offset=0, size=0,
              out="c")
    elif shape_name in ("snapshot", "two-sharer", "three-sharer"):
        b.add("vmo_create_child", vmo="a", options=abi.CHILD_SNAPSHOT, offset=PAGE,
              size=size_c, out="c")
        if shape_name == "three-sharer":
            b.add("vmo_create_child", vmo="a", options=abi.CHILD_SNAPSHOT, offset=0,
                  size=size_a, out="d")


def constructible(profile: str, shape_name: str) -> bool:
    """Can `profile` build the shape at all? (zCore creates no discardable VMO.)"""
    b = Builder(profile)
    setup(b, shape_name, 2 * PAGE, PAGE)
    return all(st.outcome.get("status", OK) == OK for st in b.steps)


def tracker(b: StepAdder, m: Mapping[str, Any]) -> None:
    """Steps that give VMO `a` the tracker state and lock count of the values `m`."""
    state, locks = int(m.get("tracker_a", UNSET)), int(m.get("locks_a", 0))
    lock: dict[str, Any] = {"vmo": "a", "offset": 0, "size": int(m.get("S_a", PAGE))}
    if state == UNRECLAIMABLE:
        for _ in range(min(max(locks, 1), MAX_LOCKS)):
            b.add("vmo_op_range", op=abi.OP_TRY_LOCK, note="the witness's lock count", **lock)
    elif state in (RECLAIMABLE, DISCARDED):
        if state == DISCARDED and lock["size"]:
            # reclaim discards only a VMO holding a page (reclaim.first_page)
            b.add("vmo_op_range", op=abi.OP_COMMIT, vmo="a", offset=0,
                  size=min(lock["size"], PAGE), note="a page for reclaim to discard")
        b.add("vmo_op_range", op=abi.OP_LOCK, note="the witness's tracker state", **lock)
        b.add("vmo_op_range", op=abi.OP_UNLOCK, **lock)
        if state == DISCARDED:
            b.add("reclaim", kind="event", vmo="a")


def decode_args(args: dict[str, Any]) -> dict[str, Any]:
    """Trace-form arguments of proofs/steps.py to the decoded form the spec takes."""
    out = dict(args)
    if "data" in out:
        out["data"] = tuple((x, n) for x, n in out["data"] if n)
    if "buffer" in out:
        out.pop("buffer")
        out["buffer_null"] = True
    return out


@dataclass
class Witness:
    """The setup, the state before the step, and the step itself (not yet recorded)."""

    shape: str
    handle: str
    step: str
    values: dict[str, int]
    setup: list[Recorded]
    state: State
    call: str
    kind: str
    args: dict[str, Any]

    def outcomes(self, profile: str) -> list[SpecPath[Outcome]]:
        return run_step(profile, self.state, self.call, self.args)


def build(shape_name: str, handle: str, step: str, m: dict[str, int]) -> Witness:
    """Set up the fresh state the model describes; the step is left for the caller."""
    b = Builder("zircon-2025")  # the setup calls behave alike under every profile
    setup(b, shape_name, m.get("S_a", PAGE), m.get("S_c", PAGE))
    if shape_name in ("discardable", "discardable-resizable"):
        tracker(b, m)
    h = handle
    rights = m.get(f"rights_{handle}", initial_rights(shape_name)[handle])
    if rights != initial_rights(shape_name)[handle]:
        b.add("handle_duplicate", handle=handle, rights=rights, out="h",
              note="the witness's rights for the handle")
        h = "h"
    s = STEP_BY_LABEL[step]
    args = decode_args(s.trace_args(h, {"offset": m.get("offset", 0), "size": m.get("size", 0),
                                    "data_byte": 0x5A}))
    if s.call == "vmo_op_range":
        args.setdefault("buffer_size", abi.LOCK_STATE_SIZE if args["op"] == abi.OP_LOCK else 0)
        args.setdefault("buffer_null", False)
    kind = "event" if s.call == "reclaim" else "call"
    return Witness(shape_name, handle, step, m, b.steps, b.state, s.call, kind, args)


def status_set(paths: list[SpecPath[Outcome]]) -> set[int]:
    return {p.result.status for p in paths}


def allows(statuses: set[int], s: int) -> bool:
    """Does an outcome set allow status s? ANY_ERROR stands for every failure."""
    if s in statuses:
        return True
    if s == ANY_ERROR:
        return False
    return s != OK and ANY_ERROR in statuses


def outcome_text(paths: list[SpecPath[Outcome]]) -> str:
    return " or ".join(sorted({_one_outcome(p.result) for p in paths})) or "none"


def _one_outcome(o: Outcome) -> str:
    """Its status, and for reclaim (always OK) whether it discarded: what eras change."""
    text = status_name(o.status, True)
    return f"{text}; discarded={o.out['discarded']}" if "discarded" in o.out else text


def key_outputs(o: Outcome) -> dict[str, Any]:
    """The concrete outputs a trace can record (bounds are not recorded)."""
    out: dict[str, Any] = {}
    for k, val in o.out.items():
        if isinstance(val, Between):
            continue
        out[k] = dict(val) if k == "lock_state" else val
    return out


def recorded_step(w: Witness, paths: list[SpecPath[Outcome]], note: str) -> Recorded:
    """The step, with the outcome set `paths` allows recorded as its expectation."""
    statuses = status_set(paths)
    outcome: dict[str, Any] = {}
    if w.kind == "call":
        if ANY_ERROR in statuses:
            if OK not in statuses:
                outcome["status"] = ("not", frozenset({OK}))
        elif len(statuses) == 1:
            outcome["status"] = next(iter(statuses))
        else:
            outcome["status"] = ("any", frozenset(statuses))
    if len(paths) == 1:
        outcome.update(key_outputs(paths[0].result))
    return Recorded(w.kind, w.call, dict(w.args), outcome, note)


# Writing a trace file belongs to the front door (proofs/ imports only spec/): it
# hands in a writer. A status set is recorded as ("any", statuses) or ("not", statuses).
Writer = Callable[[Path, list[Recorded], dict[str, Any]], None]


def write(path: Path, steps: list[Recorded], meta: dict[str, Any], writer: Writer) -> str:
    path.parent.mkdir(parents=True, exist_ok=True)
    writer(path, steps, meta)
    return str(path)
