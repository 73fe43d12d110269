"""Whole outcomes by z3: inputs where a reading's two alternatives (spec/readings.py)
leave outcomes that a later call tells apart, searched symbolically (issue 12, item 1).

For every reading, every op whose code reads it, every hunt shape and handle
(proofs/shapes.py HUNT_SHAPES) and every symbolic context (none; after a COMMIT, a
write or, on a pager-backed shape, an ALWAYS_NEED of any range; with the pager failing
the first page), the context and the call are run on z3 terms under the two
alternatives (effects.variant: the 2025 kernel with the reading set to each, allowed to
run out of memory), from the shape's fresh state (any size and rights, any tracker
state a few LOCK/UNLOCK/reclaim steps reach). z3 is asked for inputs where an outcome
of one alternative is matched by no outcome of the other: another status, lock_state or
discard, or a state that differs in a byte some VMO reads, a committed page, a hidden
node's page or zero marker, the tracker's state or count, or a pager mark.

The model is made minimal (rights, sizes, the call's offset and size, the context's,
then the differing offset: proofs/witness.py) and made a concrete trace: the shape's
setup, the context and the call with the model's values. The concrete spec then picks
the observation that tells the two apart (proofs/effects.py `_compare`): the call's own
record, a read of the byte that differs, ZX_INFO_VMO, then the usual observations. A
witness is kept only when both records conform under doc, and each under its own
alternative and not under the other.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from dataclasses import replace
from types import MappingProxyType
from typing import Any, cast

import z3

from proofs import effects
from proofs.prover import PAGE, shape
from proofs.shapes import HUNT_SHAPES
from proofs.steps import OFFSET, SIZE
from proofs.witness import (
    CONFIG,
    Fresh,
    Recorded,
    build,
    fresh_arrays,
    initial_rights,
    values_of,
)
from spec import abi, cow
from spec.explore import Cx, Infeasible, explore
from spec.explore import Path as SpecPath
from spec.outcome import Outcome
from spec.profiles import PROFILES, Profile
from spec.readings import READINGS, Reading
from spec.state import Handle, State, Vmo
from spec.symbolic import Symbolic, word
from spec.transitions import transition

Step = effects.Step  # (kind, call, args): args hold z3 words where the input is symbolic
OFFSET_1, SIZE_1 = z3.BitVec("offset_1", 64), z3.BitVec("size_1", 64)
# The differing offsets z3 may pick, one per (path of the other alternative, VMO).
_INDEX = "i_"


def _op(h: str, op: int, offset: Any, size: Any, bad_buffer: bool = False) -> Step:
    return ("call", "vmo_op_range", {
        "vmo": h, "op": op, "offset": offset, "size": size,
        "buffer_size": abi.LOCK_STATE_SIZE if op == abi.OP_LOCK and not bad_buffer else 0,
        "buffer_null": bad_buffer})


def contexts(shape_name: str, h: str) -> list[tuple[str, tuple[Step, ...]]]:
    """The symbolic contexts before the call, smallest first."""
    out: list[tuple[str, tuple[Step, ...]]] = [
        ("fresh", ()),
        ("after a COMMIT", (_op(h, abi.OP_COMMIT, OFFSET_1, SIZE_1),)),
    ]
    if shape_name in ("pager", "pager-child"):
        # a write differs from a COMMIT only where it dirties pages: on a pager's
        out += [
            ("after a write", (("call", "vmo_write",
                                {"vmo": h, "offset": OFFSET_1, "data": ((0x5A, SIZE_1),)}),)),
            ("after ALWAYS_NEED", (_op(h, abi.OP_ALWAYS_NEED, OFFSET_1, SIZE_1),)),
            ("with the pager failing a page", (("call", "pager_fail", {
                "pager": "p", "vmo": "a", "offset": 0, "length": PAGE,
                "error": abi.ERR_IO}),)),
        ]
    return out


def calls(r: Reading, h: str) -> list[tuple[str, Step]]:
    """The calls in question for a reading, on symbolic offsets and sizes."""
    out: list[tuple[str, Step]] = []
    for op in effects.ops_of(r):
        out.append((effects.op_name(op), _op(h, op, OFFSET, SIZE)))
        if op == abi.OP_LOCK:
            out.append(("LOCK (bad buffer)", _op(h, op, OFFSET, SIZE, bad_buffer=True)))
    if r.name.startswith("discard-"):
        out.append(("reclaim", ("event", "reclaim", {"vmo": h})))
    if r.name.startswith("info-"):
        out.append(("vmo_info", ("call", "vmo_info", {"vmo": h})))
    return out


# Pairs of paths (one alternative's outcome, the other's on the same inputs) one call
# may compare; past it the call is left to the concrete search (ZERO running out of
# memory on a discardable VMO: hundreds of paths each way).
MAX_PAIRS = 300
MAX_PATHS = 60  # paths of one alternative past which the call is not searched by z3


def _common(a: tuple[Any, ...], b: tuple[Any, ...]) -> int:
    """How many conditions two paths share from the start."""
    n = 0
    for x, y in zip(a, b, strict=False):
        if x != y:
            break
        n += 1
    return n


MAX_MISSES = 3  # models per call the concrete spec may refute before the search moves on


# z3's own count of work per query (not seconds: the hunt gives the same register on a
# busy machine); a query past it counts as no difference found.
RLIMIT = 2_000_000
MINIMAL_RLIMIT = 20_000_000  # per query of the minimisation, run on confirmed hits only


def _model(fresh: Fresh, facts: list[Any]) -> tuple[dict[str, int], z3.ModelRef] | None:
    """Some values satisfying the facts on the fresh state (and z3's model), or None."""
    s = z3.Solver()
    s.set("rlimit", RLIMIT)
    s.add(*fresh.base, *facts)
    if s.check() != z3.sat:
        return None
    m = s.model()
    return values_of(m), m


def _satisfied(cands: list[tuple[list[Any], tuple[str, ...]]],
               raw: tuple[dict[str, int], z3.ModelRef]) -> int:
    """The first candidate whose facts the model makes true."""
    for k, (facts, _names) in enumerate(cands):
        if z3.is_true(raw[1].eval(z3.And(*facts), model_completion=True)):
            return k
    return 0


class _Watch:
    """A profile that notes which readings the op code asks for."""

    def __init__(self, p: Profile) -> None:
        self._p = p
        self.asked: set[str] = set()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._p, name)

    def reading(self, name: str) -> str:
        self.asked.add(name)
        return self._p.reading(name)


def _state(shape_name: str) -> State:
    """The shape's state as its setup leaves it (proofs/witness.py fresh_arrays: nothing
    committed, no marks, contents as created; sizes, rights and tracker unknown), its
    pager handle (if any) with the rights pager_create gives. Running on it, rather than
    rewriting each formula afterwards, lets z3 drop the branches a fresh VMO never takes."""
    subst = fresh_arrays(shape_name)
    st = cast(State, _rewrite(shape(shape_name).state, subst))
    pagers = [k for k, o in st.objects.items() if not isinstance(o, Vmo)]
    if pagers:
        st = st.with_handle("p", Handle(pagers[0], initial_rights(shape_name)["p"]))
    return st


def _rewrite(x: Any, subst: list[tuple[Any, Any]]) -> Any:
    if z3.is_expr(x):
        return z3.simplify(z3.substitute(x, *subst))
    if isinstance(x, Mapping):
        return MappingProxyType({k: _rewrite(v, subst) for k, v in x.items()})
    if isinstance(x, tuple) and hasattr(x, "_fields"):
        return type(x)(*(_rewrite(v, subst) for v in x))
    if isinstance(x, tuple):
        return tuple(_rewrite(v, subst) for v in x)
    return x


def _paths(profile: Profile | _Watch, st: State, prefix: tuple[Step, ...], call: Step
           ) -> tuple[list[SpecPath[Outcome]], list[Any]]:
    """The paths of the context (each step succeeding) then the call, on z3 terms. The
    two alternatives' runs name their fresh words alike: up to the reading they make
    the same ones in the same order (whether bytes read zero, the first page of a set),
    which must have one value on one input, not one per alternative."""
    v = Symbolic(PAGE)

    def run(cx: Cx) -> Outcome:
        s = st
        for _kind, name, args in prefix:
            if name == "pager_fail":  # concrete offsets only: its effect, as the op's
                s = _failing(s, args)
                continue
            o = transition(cx, s, name, args)
            if o.status != abi.OK:
                raise Infeasible
            s = o.state
        return transition(cx, s, call[1], call[2])

    found = explore(run, v, cast(Profile, profile), PAGE, CONFIG)
    return found, v.side


def _failing(st: State, args: dict[str, Any]) -> State:
    """The effect of pager_fail (pager.fail.effect): the range's next request fails."""
    obj = st.handles[args["vmo"]].obj
    vmo = st.vmo(obj)
    assert vmo.marks is not None
    fail = (args["offset"] // PAGE, (args["offset"] + args["length"]) // PAGE, args["error"])
    return st.with_object(obj, vmo._replace(marks=vmo.marks._replace(
        fails=(*vmo.marks.fails, fail))))


def _w(x: Any) -> Any:
    return word(x) if not isinstance(x, bool) else z3.BoolVal(x)


def _differs(cx: Cx, a: Outcome, b: Outcome, tag: str) -> list[Any]:
    """Where two outcomes of one call can be told apart, as z3 flags; the offsets are
    fresh words named `i_<tag>_<object>` (a byte) and `j_<tag>_<node>` (a page)."""
    if a.status != b.status:
        return [z3.BoolVal(True)]
    out: list[Any] = []
    la, lb = a.out.get("lock_state"), b.out.get("lock_state")
    if (la is None) != (lb is None):
        return [z3.BoolVal(True)]
    if la is not None and lb is not None:
        out += [_w(la[k]) != _w(lb[k]) for k in la]
    if a.out.get("discarded") is not b.out.get("discarded"):
        da, db = a.out.get("discarded"), b.out.get("discarded")
        out.append(z3.BoolVal(True) if isinstance(da, bool) and isinstance(db, bool)
                   else _w(da) != _w(db))
    sa, sb = a.state, b.state
    if set(sa.objects) != set(sb.objects) or set(sa.nodes) != set(sb.nodes):
        return [z3.BoolVal(True)]
    for oid, x in sa.objects.items():
        y = sb.objects[oid]
        if not isinstance(x, Vmo) or not isinstance(y, Vmo):
            continue
        if x.tracker is not None and y.tracker is not None:
            out += [_w(x.tracker.state) != _w(y.tracker.state),
                    _w(x.tracker.count) != _w(y.tracker.count)]
        j = z3.BitVec(f"j_{tag}_{oid}", 64)
        pages = z3.ULT(j, z3.LShR(_w(x.size), PAGE.bit_length() - 1))
        if x.memory is not None and y.memory is not None:
            i = z3.BitVec(f"{_INDEX}{tag}_{oid}", 64)
            ca, cb = cow.view(cx, sa, oid), cow.view(cx, sb, oid)
            out += [z3.And(z3.ULT(i, _w(x.size)), ca[i] != cb[i]),
                    z3.And(pages, x.memory.committed[j] != y.memory.committed[j])]
        if x.marks is not None and y.marks is not None:
            mx, my = x.marks, y.marks
            out += [z3.And(pages, s[j] != t[j]) for s, t in (
                (mx.dirty, my.dirty), (mx.always_need, my.always_need),
                (mx.dont_need, my.dont_need))]
            if len(mx.fails) != len(my.fails):
                return [z3.BoolVal(True)]
            out += [_w(p) != _w(q) for f, g in zip(mx.fails, my.fails, strict=True)
                    for p, q in zip(f, g, strict=True)]
    for nid, n in sa.nodes.items():
        m = sb.nodes[nid]
        j = z3.BitVec(f"j_{tag}_n{abs(nid)}", 64)
        out += [n.pages[j] != m.pages[j], n.zeros[j] != m.zeros[j]]
    return out


def _unmatched(cx: Cx, x: SpecPath[Outcome],
               others: list[SpecPath[Outcome]]) -> tuple[list[Any], tuple[str, ...]]:
    """Facts for: x is an outcome here, and no outcome of the other alternative is it;
    and the names of the differing offsets they speak of."""
    facts = [z3.And(True, *x.condition)]
    for k, y in enumerate(others):
        d = [] if _same(x.result, y.result) else _differs(cx, x.result, y.result, f"b{k}")
        facts.append(z3.Or(z3.Not(z3.And(True, *y.condition)), *d))
    objs = [oid for oid, o in x.result.state.objects.items()
            if isinstance(o, Vmo) and o.memory is not None]
    return facts, tuple(f"{_INDEX}b{k}_{oid}" for k in range(len(others)) for oid in objs)


def _shape_of(x: Any) -> Any:
    """A hashable form of a value in which equal z3 terms are equal (z3 shares equal
    terms: one id each), for telling identical paths apart without asking z3."""
    if z3.is_expr(x):
        return ("z3", x.get_id())
    if isinstance(x, Mapping):
        return tuple((k, _shape_of(v)) for k, v in sorted(x.items(), key=lambda kv: repr(kv[0])))
    if isinstance(x, tuple):
        return tuple(_shape_of(y) for y in x)
    return x


def _same(x: Any, y: Any) -> bool:
    return bool(_shape_of(x) == _shape_of(y))


def _concrete(x: Any, m: dict[str, int]) -> Any:
    """A step's argument with the model's values for its z3 words."""
    if isinstance(x, tuple):
        return tuple(_concrete(y, m) for y in x)
    if z3.is_expr(x):
        return m.get(str(x), 0)
    return x


def _args(args: dict[str, Any], m: dict[str, int], h: str, handle: str) -> dict[str, Any]:
    out = {k: _concrete(v, m) for k, v in args.items()}
    if out.get("vmo") == handle:
        out["vmo"] = h
    return out


def _reads(st: State, m: dict[str, int]) -> list[effects.Observation]:
    """A read of each byte the model says differs, through a handle to its VMO."""
    names = {hd.obj: name for name, hd in st.handles.items() if name != "p"}
    out: list[effects.Observation] = []
    for key, value in sorted(m.items()):
        if not key.startswith(_INDEX):
            continue
        obj = int(key.rsplit("_", 1)[1])
        step: Step = ("call", "vmo_read", {"vmo": names.get(obj, "a"), "offset": value,
                                           "length": 1})
        if obj in names and all(step != s[1][0] for s in out):
            out.append((f"a read of byte {value} of {names[obj]}", (step,)))
    return out[:3]


def _witness(r: Reading, pa: Profile, pb: Profile, shape_name: str, handle: str, ctx: str,
             prefix: tuple[Step, ...], label: str, call: Step, m: dict[str, int]
             ) -> effects.EffectInstance | None:
    """The model as a concrete trace under each alternative, told apart by the first
    observation that does it; None when the concrete spec does not confirm it."""
    doc = PROFILES["doc"]
    w = build(shape_name, handle, "COMMIT", m)  # the setup: sizes, tracker, rights
    h = str(w.args["vmo"])
    setup = tuple((s.kind, s.name, s.args) for s in w.setup)
    steps = tuple((k, n, _args(a, m, h, handle)) for k, n, a in prefix)
    kind, name, args = call
    the_call: Step = (kind, name, _args(args, m, h, handle))
    size = int(m.get("S_c" if handle != "a" and shape_name != "reference" else "S_a", PAGE))
    seen = (*_reads(_state(shape_name), m), *effects.observations(h, size))
    runs = []
    for p in (pa, pb):
        run = effects.run_steps(p, effects.Run(), setup + steps)
        if run is None or any(s.outcome.get("status", abi.OK) != abi.OK for s in run.steps):
            return None
        runs.append(run)
    ra, rb = runs
    hit = effects._compare(r, pa, pb, ra, rb, the_call, doc, seen)
    if hit is None:  # an outcome only the second alternative allows
        back = effects._compare(r, pb, pa, rb, ra, the_call, doc, seen)
        if back is None:
            return None
        obs, sb, sa, at = back
    else:
        obs, sa, sb, at = hit
    if not (_only(pa, pb, sa) and _only(pb, pa, sb)):
        return None
    return effects.EffectInstance(r, shape_name, ctx, label, obs, sa, sb, at,
                                  call_at=len(ra.steps), handle=handle, found_by="z3")


def _only(mine: Profile, other: Profile, steps: list[Recorded]) -> bool:
    """The record conforms under its own alternative, not under the other."""
    return effects.conforms(mine, steps) and not effects.conforms(other, steps)


def _targets(shape_name: str) -> Iterator[str]:
    yield from shape(shape_name).targets


# The hunt shapes z3 searches: all but the resizable VMO (an anonymous VMO to every op a
# reading is about) and the slice and reference (they own no pages: their ops act on
# their parent's, as on the anonymous VMO).
SHAPES = tuple(s for s in HUNT_SHAPES if s not in ("resizable", "slice", "reference"))


def variants(r: Reading) -> tuple[Profile, Profile]:
    """The two alternatives' profiles (effects.variant); out of memory only where the
    reading is about running out: elsewhere NO_MEMORY is one more outcome of both,
    which only multiplies the paths."""
    out = []
    for alt in r.alternatives[:2]:
        p = effects.variant(r.name, alt)
        out.append(replace(p, may_run_out_of_memory=r.name.endswith("partial_no_memory")))
    return out[0], out[1]


def search(r: Reading, progress: Callable[[], None] | None = None
           ) -> list[effects.EffectInstance]:
    """Every (shape, handle, context, call) where z3 finds the reading's first two
    alternatives told apart and the concrete spec confirms it."""
    pa, pb = variants(r)
    found: list[effects.EffectInstance] = []
    for shape_name in SHAPES:
        st = _state(shape_name)
        for handle in _targets(shape_name):
            for label, call in calls(r, handle):
                # the first context (smallest first) where the call shows the reading
                for ctx, prefix in contexts(shape_name, handle):
                    if progress:
                        progress()
                    hit = _search_one(r, pa, pb, shape_name, st, handle, ctx, prefix,
                                      label, call)
                    if hit is not None:
                        found.append(hit)
                        break
    return found


def _search_one(r: Reading, pa: Profile, pb: Profile, shape_name: str, st: State,
                handle: str, ctx: str, prefix: tuple[Step, ...], label: str, call: Step
                ) -> effects.EffectInstance | None:
    watch = _Watch(pa)
    try:
        xa, side_a = _paths(watch, st, prefix, call)
        if r.name not in watch.asked:
            return None  # the op never asks: the alternatives cannot differ here
        xb, side_b = _paths(pb, st, prefix, call)
        if max(len(xa), len(xb)) > MAX_PATHS:
            return None  # too many ways to go: the concrete search's (ZERO out of memory)
    except TypeError:
        return None  # a step the z3 backend cannot run (cow.fetch): the concrete search's

    fresh = Fresh(shape_name, [*shape(shape_name).facts, *side_a, *side_b])
    cx = Cx(Symbolic(PAGE), pa, PAGE, CONFIG, [])
    more = ("offset_1", "size_1")
    shapes_a = [(_shape_of(x.condition), _shape_of(x.result)) for x in xa]
    shapes_b = [(_shape_of(x.condition), _shape_of(x.result)) for x in xb]
    cands: list[tuple[list[Any], tuple[str, ...]]] = []
    pairs = 0
    for mine, theirs, ms, ts in ((xa, xb, shapes_a, shapes_b), (xb, xa, shapes_b, shapes_a)):
        for n in sorted(range(len(mine)), key=lambda n: mine[n].result.status != abi.OK):
            if ms[n] in ts:
                continue  # the other alternative has this very path
            # Both runs branch alike up to the reading: the other's outcomes on x's
            # inputs are among its paths that share the longest start of x's condition
            # (x's very condition where the reading led to no branch; several paths
            # where the op chooses, as between NO_MEMORY and success).
            common = [_common(ms[n][0], t[0]) for t in ts]
            twins = [y for y, c in zip(theirs, common, strict=True) if c == max(common)]
            pairs += len(twins)
            if pairs > MAX_PAIRS:
                return None  # too many ways to go for one query: the concrete search's
            cands.append(_unmatched(cx, mine[n], twins))
    # One query for every candidate path at once (most combinations have none), then
    # the first candidate the model satisfies; one the concrete spec refutes is left out.
    for _miss in range(MAX_MISSES):
        anyone = z3.Or(False, *(z3.And(*f) for f, _n in cands))
        raw = _model(fresh, [anyone])
        if raw is None:
            return None
        k = _satisfied(cands, raw)
        facts, names = cands[k]
        hit = _witness(r, pa, pb, shape_name, handle, ctx, prefix, label, call, raw[0])
        if hit is None:
            cands.pop(k)
            continue  # a z3 word left free that the concrete run fixes
        # the least input over every candidate, else over this one (the differing
        # offsets the model already has at 0 need no search)
        every = tuple(n for _f, ns in cands for n in ns if raw[0].get(n, 0))
        for goal, extra in ((anyone, every), (z3.And(*facts), names)):
            m = fresh.minimal(handle, goal, more=(*more, *extra), rlimit=MINIMAL_RLIMIT)
            small = None if m is None else _witness(r, pa, pb, shape_name, handle, ctx,
                                                     prefix, label, call, m)
            if small is not None:
                return small
        return hit
    return None


def search_all() -> dict[str, list[effects.EffectInstance]]:
    """Every reading's instances (spec/readings.py order)."""
    return {r.name: search(r) for r in READINGS}
