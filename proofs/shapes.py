"""Object shapes the proofs quantify over (docs/architecture.md, rule 5).

A shape fixes the structure: which VMOs exist, which is a slice, reference or snapshot
of which, and which handles name them. Everything else is a z3 unknown: sizes,
windows, rights, contents, commit sets, tracker state and lock count, pager marks.
The proofs hold for every value of the unknowns that satisfies the well-formedness
of `proofs/wellformed.py`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from types import MappingProxyType

import networkx as nx
import z3

from spec.abi import CACHE_POLICY_UNCACHED, DEFAULT_VMO_RIGHTS, RIGHT_RESIZE
from spec.calls import max_size
from spec.state import (
    REFERENCE,
    ROOT,
    SLICE,
    SNAPSHOT,
    Handle,
    Kind,
    Memory,
    Node,
    Object,
    Pager,
    PagerMarks,
    State,
    Tracker,
    Vmo,
)
from spec.symbolic import BV8, BV64


@dataclass(frozen=True)
class Shape:
    name: str
    state: State
    targets: tuple[str, ...]  # the handles transitions are applied through
    facts: tuple[z3.BoolRef, ...]  # what the shape's unknowns satisfy beyond well-formedness

    def graph(self) -> nx.DiGraph:
        return self.state.graph()


def _memory(tag: str) -> Memory:
    return Memory(z3.Array(f"content_{tag}", BV64, BV8),
                  z3.Array(f"committed_{tag}", BV64, z3.BoolSort()))


def _rights(tag: str) -> tuple[z3.BitVecRef, z3.BoolRef]:
    """A handle's rights: any subset of what a VMO handle can carry."""
    r = z3.BitVec(f"rights_{tag}", 64)
    return r, (r & ~z3.BitVecVal(DEFAULT_VMO_RIGHTS | RIGHT_RESIZE, 64)) == 0


def _state(objects: dict[int, Object], handles: dict[str, Handle]) -> State:
    return State(MappingProxyType(handles), MappingProxyType(objects), max(objects) + 1)


def _aligned(x: z3.BitVecRef, page: int) -> z3.BoolRef:
    return x & (page - 1) == 0


def _size_ok(x: z3.BitVecRef, page: int) -> z3.BoolRef:
    """A size a VMO can have: whole pages, at most MAX_SIZE (zx_vmo_create refuses more)."""
    return z3.And(_aligned(x, page), z3.ULE(x, max_size(page)))


def anonymous(page: int) -> Shape:
    size = z3.BitVec("S_a", 64)
    rights, r_ok = _rights("a")
    vmo = Vmo(Kind(), ROOT, size, None, 0, _memory("a"), None, None, False)
    return Shape("anonymous", _state({1: vmo}, {"a": Handle(1, rights)}), ("a",),
                 (_size_ok(size, page), r_ok))


def resizable(page: int) -> Shape:
    size = z3.BitVec("S_a", 64)
    rights, r_ok = _rights("a")
    vmo = Vmo(Kind(resizable=True), ROOT, size, None, 0, _memory("a"), None, None, False)
    return Shape("resizable", _state({1: vmo}, {"a": Handle(1, rights)}), ("a",),
                 (_size_ok(size, page), r_ok))


def uncached(page: int) -> Shape:
    """A root VMO whose cache policy is not CACHED (cache_policy.effect): with no parent
    and no child, as zx_vmo_set_cache_policy requires."""
    size = z3.BitVec("S_a", 64)
    rights, r_ok = _rights("a")
    kind = Kind(cache_policy=CACHE_POLICY_UNCACHED)
    vmo = Vmo(kind, ROOT, size, None, 0, _memory("a"), None, None, False)
    return Shape("uncached", _state({1: vmo}, {"a": Handle(1, rights)}), ("a",),
                 (_size_ok(size, page), r_ok))


def _root_kind(name: str, kind: Kind, page: int, committed: z3.ArrayRef | None = None,
               tracker: Tracker | None = None) -> Shape:
    """One root VMO `a` of the given kind (issue 12, item 3): its size, rights, content
    and (unless given) commit set are unknowns."""
    size = z3.BitVec("S_a", 64)
    rights, r_ok = _rights("a")
    memory = _memory("a")
    if committed is not None:
        memory = memory._replace(committed=committed)
    vmo = Vmo(kind, ROOT, size, None, 0, memory, tracker, None, False)
    return Shape(name, _state({1: vmo}, {"a": Handle(1, rights)}), ("a",),
                 (_size_ok(size, page), r_ok))


def contiguous(page: int) -> Shape:
    """A contiguous VMO: every page committed from creation (contiguous.effect)."""
    return _root_kind("contiguous", Kind(contiguous=True), page,
                      committed=z3.K(BV64, z3.BoolVal(True)))


def physical(page: int) -> Shape:
    """A physical VMO: uncached from creation, no RAM page (physical.effect)."""
    return _root_kind("physical", Kind(physical=True, cache_policy=CACHE_POLICY_UNCACHED),
                      page, committed=z3.K(BV64, z3.BoolVal(False)))


def discardable_resizable(page: int) -> Shape:
    """A discardable VMO that is also resizable: its tracker state and lock count are
    unknowns, as in `discardable`."""
    tracker = Tracker(z3.BitVec("tracker_a", 64), z3.BitVec("locks_a", 64))
    return _root_kind("discardable-resizable", Kind(resizable=True, discardable=True), page,
                      tracker=tracker)


def discardable(page: int) -> Shape:
    size = z3.BitVec("S_a", 64)
    rights, r_ok = _rights("a")
    tracker = Tracker(z3.BitVec("tracker_a", 64), z3.BitVec("locks_a", 64))
    vmo = Vmo(Kind(discardable=True), ROOT, size, None, 0, _memory("a"), tracker, None, False)
    return Shape("discardable", _state({1: vmo}, {"a": Handle(1, rights)}), ("a",),
                 (_size_ok(size, page), r_ok))


def _child_shape(name: str, role: str, page: int) -> Shape:
    size = z3.BitVec("S_a", 64)
    # The window is fixed at one page: with a symbolic window the solver times out on
    # ZERO and writes through a slice (notes/proofs.md). Sizes stay symbolic.
    window = z3.BitVecVal(page, 64)
    csize = z3.BitVec("S_c", 64)
    ra, ra_ok = _rights("a")
    rc, rc_ok = _rights("c")
    root = Vmo(Kind(), ROOT, size, None, 0, _memory("a"), None, None, role == SNAPSHOT)
    facts = [_size_ok(size, page), _aligned(window, page), _size_ok(csize, page), ra_ok, rc_ok]
    if role == SLICE:
        child = Vmo(Kind(), SLICE, csize, 1, window, None, None, None, False)
        end = window + csize
        facts += [z3.ULE(window, end), z3.ULE(end, size)]  # the slice fits its parent
    elif role == REFERENCE:
        child = Vmo(Kind(), REFERENCE, 0, 1, 0, None, None, None, False)
    else:
        child = Vmo(Kind(), SNAPSHOT, csize, 1, window, _memory("c"), None, None, True)
    st = _state({1: root, 2: child}, {"a": Handle(1, ra), "c": Handle(2, rc)})
    # Through the root, a slice's or reference's parent acts as an anonymous VMO does;
    # a snapshot's original does not (it is copy-on-write), so it is a target too.
    targets = ("c", "a") if role == SNAPSHOT else ("c",)
    return Shape(name, st, targets, tuple(facts))


def pager_backed(page: int) -> Shape:
    size = z3.BitVec("S_a", 64)
    rights, r_ok = _rights("a")
    marks = PagerMarks(2, z3.Array("dirty_a", BV64, z3.BoolSort()),
                       z3.Array("always_need_a", BV64, z3.BoolSort()),
                       z3.Array("dont_need_a", BV64, z3.BoolSort()), ())
    vmo = Vmo(Kind(pager_backed=True), ROOT, size, None, 0, _memory("a"), None, marks, False)
    pager = Pager()
    st = _state({1: vmo, 2: pager}, {"a": Handle(1, rights), "p": Handle(2, 0)})
    return Shape("pager", st, ("a",), (_size_ok(size, page), r_ok))


def pager_child(page: int) -> Shape:
    """A pager-backed root `a` and an AT_LEAST_ON_WRITE child `c` one page in, reading
    through it (cow.unidirectional): the child's own pages, zero markers and window
    limit are unknowns. Steps go through either (a read or write through the child pages
    the root in: the pager answers every request, as the shape scripts no failure)."""
    size, csize, limit = z3.BitVec("S_a", 64), z3.BitVec("S_c", 64), z3.BitVec("L_c", 64)
    window = z3.BitVecVal(page, 64)
    ra, ra_ok = _rights("a")
    rc, rc_ok = _rights("c")
    marks = PagerMarks(3, z3.Array("dirty_a", BV64, z3.BoolSort()),
                       z3.Array("always_need_a", BV64, z3.BoolSort()),
                       z3.Array("dont_need_a", BV64, z3.BoolSort()), ())
    root = Vmo(Kind(pager_backed=True), ROOT, size, None, 0, _memory("a"), None, marks, True)
    child = Vmo(Kind(), SNAPSHOT, csize, 1, window, _memory("c"), None, None, True)
    empty = z3.K(BV64, z3.BoolVal(False))
    node = Node(1, window, limit, empty, z3.Array("zeros_c", BV64, z3.BoolSort()), False, False)
    st = State(MappingProxyType({"a": Handle(1, ra), "c": Handle(2, rc)}),
               MappingProxyType({1: root, 2: child, 3: Pager()}), 4,
               MappingProxyType({2: node}))
    # the child sees at most what lies of the root past its window, and its own size
    room = z3.If(z3.ULE(window, size), size - window, z3.BitVecVal(0, 64))
    facts = (_size_ok(size, page), _size_ok(csize, page), _aligned(limit, page),
             z3.ULE(limit, csize), z3.ULE(limit, room), ra_ok, rc_ok)
    return Shape("pager-child", st, ("a", "c"), facts)


SHAPES: dict[str, Callable[[int], Shape]] = {
    "anonymous": anonymous,
    "resizable": resizable,
    "discardable": discardable,
    "slice": lambda page: _child_shape("slice", SLICE, page),
    "reference": lambda page: _child_shape("reference", REFERENCE, page),
    "snapshot": lambda page: _child_shape("snapshot", SNAPSHOT, page),
    "pager": pager_backed,
}

def _set(name: str) -> z3.ArrayRef:
    return z3.Array(name, BV64, z3.BoolSort())


def _family(name: str, page: int, three: bool) -> Shape:
    """An original `a` with a full snapshot `c` one page in (two sharers under a hidden
    node: cow.hidden_node) and, with `three`, a second snapshot `d` of `a` at 0, whose
    hidden node sits between the first one and `a`. The hidden nodes' pages, every zero
    marker, each VMO's own pages and the windows' limits are unknowns."""
    size, csize, limit = z3.BitVec("S_a", 64), z3.BitVec("S_c", 64), z3.BitVec("L_c", 64)
    window = z3.BitVecVal(page, 64)
    ra, ra_ok = _rights("a")
    rc, rc_ok = _rights("c")
    empty = z3.K(BV64, z3.BoolVal(False))
    objects: dict[int, Object] = {
        1: Vmo(Kind(), ROOT, size, None, 0, _memory("a"), None, None, True),
        2: Vmo(Kind(), SNAPSHOT, csize, 1, window, _memory("c"), None, None, True)}
    handles = {"a": Handle(1, ra), "c": Handle(2, rc)}
    top = 4 if three else 3
    nodes = {top: Node(None, 0, 0, _set("pages_h"), _set("zeros_h"), True, False),
             2: Node(top, window, limit, empty, _set("zeros_c"), False, True)}
    room = z3.If(z3.ULE(window, size), size - window, z3.BitVecVal(0, 64))
    facts = [_size_ok(size, page), _size_ok(csize, page), _aligned(limit, page),
             z3.ULE(limit, csize), z3.ULE(limit, room), ra_ok, rc_ok]
    if three:
        dsize, dlimit = z3.BitVec("S_d", 64), z3.BitVec("L_d", 64)
        rd, rd_ok = _rights("d")
        objects[3] = Vmo(Kind(), SNAPSHOT, dsize, 1, 0, _memory("d"), None, None, True)
        handles["d"] = Handle(3, rd)
        nodes[5] = Node(top, 0, size, _set("pages_h2"), _set("zeros_h2"), True, False)
        nodes[3] = Node(5, 0, dlimit, empty, _set("zeros_d"), False, True)
        nodes[1] = Node(5, 0, size, empty, _set("zeros_a"), False, True)
        facts += [_size_ok(dsize, page), _aligned(dlimit, page), z3.ULE(dlimit, dsize),
                  z3.ULE(dlimit, size), rd_ok]
    else:
        nodes[1] = Node(top, 0, size, empty, _set("zeros_a"), False, True)
    st = State(MappingProxyType(handles), MappingProxyType(objects), max(nodes) + 1,
               MappingProxyType(nodes))
    return Shape(name, st, tuple(handles), tuple(facts))


# Copy-on-write family shapes: proved only for the invariants about families
# (catalogue.FAMILY_INVARIANTS), so the rest of the catalogue keeps its cost.
FAMILY_SHAPES: dict[str, Callable[[int], Shape]] = {
    "pager-child": pager_child,
    "two-sharer": lambda page: _family("two-sharer", page, False),
    "three-sharer": lambda page: _family("three-sharer", page, True),
}


# Kinds the hunt looks at beyond SHAPES (issue 12, item 3): not in the catalogue's
# obligations, whose cost they would raise for facts the examples already pin.
KIND_SHAPES: dict[str, Callable[[int], Shape]] = {
    "uncached": uncached,
    "discardable-resizable": discardable_resizable,
    "contiguous": contiguous,
    "physical": physical,
}
# Every shape the hunt searches, simplest first within each group.
HUNT_SHAPES: dict[str, Callable[[int], Shape]] = {**SHAPES, **KIND_SHAPES, **FAMILY_SHAPES}
