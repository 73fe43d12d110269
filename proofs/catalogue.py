"""The invariant catalogue. To add an invariant, write one predicate with `@invariant`.

A predicate sees one path of one step applied to one shape (`Ctx`) and returns a pair
of z3 formulas: when the invariant speaks about this path (`applies`), and what must
then hold (`holds`). The obligation is: for every well-formed state of the shape and
every argument, on every path, applies implies holds. Offsets named `c.i` (a byte) and
`c.k` (a page) are arbitrary, so a claim about them is a claim about every offset.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import z3

from proofs.logic import Z3, Logic
from proofs.shapes import Shape
from proofs.steps import OFFSET, SIZE, Step
from proofs.wellformed import CLAUSES, well_formed, well_formed_at
from spec import abi, cow
from spec.abi import (
    ERR_ACCESS_DENIED,
    ERR_BAD_HANDLE,
    ERR_BAD_STATE,
    ERR_INVALID_ARGS,
    ERR_IO,
    ERR_IO_DATA_INTEGRITY,
    ERR_NO_MEMORY,
    ERR_NOT_SUPPORTED,
    ERR_OUT_OF_RANGE,
    ERR_UNAVAILABLE,
    ERR_WRONG_TYPE,
    OK,
)
from spec.explore import ANY_ERROR, Cx, Path
from spec.objects import visible_size
from spec.outcome import Outcome
from spec.profiles import Profile
from spec.state import DISCARDED, REFERENCE, SLICE, State, Vmo
from spec.symbolic import Symbolic, word

Formula = Any  # a z3 BoolRef, or a Python bool where the answer is structural


@dataclass(frozen=True)
class Ctx:
    """One path of one step on one shape, as a predicate sees it."""

    shape: Shape
    step: Step
    handle: str
    page: int
    profile: Profile
    path: Path[Outcome]
    i: Any
    k: Any
    # What the formulas are built in, and the step's offset and size: z3 for the proofs,
    # concrete values when `vmospec explore` evaluates a predicate on a real state.
    z: Logic = Z3
    offset: Any = OFFSET
    length: Any = SIZE

    @property
    def pre(self) -> State:
        return self.shape.state

    @property
    def post(self) -> State:
        return self.path.result.state

    @property
    def status(self) -> int:
        return self.path.result.status

    @property
    def out(self) -> Any:
        return self.path.result.out

    @property
    def obj(self) -> int:
        return self.pre.handles[self.handle].obj

    @property
    def rights(self) -> Any:
        return self.pre.handles[self.handle].rights

    def vmo(self, st: State, obj: int | None = None) -> Vmo:
        return st.vmo(self.obj if obj is None else obj)

    def owner(self, st: State) -> tuple[int, Any]:
        """The VMO whose pages the handle's VMO sees, and its window offset there."""
        obj, shift = self.obj, self.z.BitVecVal(0, 64)
        o = st.vmo(obj)
        while o.memory is None and o.parent is not None:
            shift = shift + self.z.word(o.window if o.role == SLICE else 0)
            obj = o.parent
            o = st.vmo(obj)
        return obj, shift

    def size(self) -> Any:
        return self.z.word(visible_size(self.pre, self.obj))

    def end(self) -> tuple[Any, Any]:
        """offset + size and whether it overflowed."""
        e = self.offset + self.length
        return e, self.z.ULT(e, self.offset)

    def in_range(self, x: Any, lo: Any, hi: Any) -> Any:
        return self.z.And(self.z.ULE(lo, x), self.z.ULT(x, hi))

    def unchanged(self, objs: list[int] | None = None, trackers: bool = True) -> Formula:
        """The objects (default: all) read, commit and lock the same at c.i / c.k."""
        out: list[Any] = []
        for obj, o in self.pre.objects.items():
            if (objs is not None and obj not in objs) or not isinstance(o, Vmo):
                continue
            after = self.post.objects.get(obj)
            if not isinstance(after, Vmo):
                return False
            size_before = self.z.word(visible_size(self.pre, obj))
            out.append(size_before == self.z.word(visible_size(self.post, obj)))
            if o.memory is not None and after.memory is not None:
                out += [o.memory.content[self.i] == after.memory.content[self.i],
                        o.memory.committed[self.k] == after.memory.committed[self.k]]
            if trackers and o.tracker is not None and after.tracker is not None:
                out += [self.z.word(o.tracker.state) == self.z.word(after.tracker.state),
                        self.z.word(o.tracker.count) == self.z.word(after.tracker.count)]
        return self.z.And(True, *out)

    def content(self, st: State, obj: int) -> Any:
        mem = st.vmo(obj).memory
        assert mem is not None
        return mem.content

    def committed(self, st: State, obj: int) -> Any:
        mem = st.vmo(obj).memory
        assert mem is not None
        return mem.committed


Predicate = Callable[[Ctx], tuple[Formula, Formula]]
Scope = Callable[[Step, Shape, str], bool]


@dataclass(frozen=True)
class Invariant:
    name: str
    statement: str
    source: str
    scope: Scope
    predicate: Predicate
    profiles: Callable[[Profile], bool] = lambda p: True  # the profiles it is proved under


CATALOGUE: dict[str, Invariant] = {}


def invariant(
    name: str, statement: str, source: str, scope: Scope,
    profiles: Callable[[Profile], bool] = lambda p: True,
) -> Callable[[Predicate], Predicate]:
    """Register the decorated predicate as an invariant of the catalogue."""
    def register(p: Predicate) -> Predicate:
        CATALOGUE[name] = Invariant(name, statement, source, scope, p, profiles)
        return p

    return register


# -- scopes ----------------------------------------------------------------------------------

OP_RANGE = "vmo_op_range"
CONTENT_PRESERVING = {"COMMIT", "CACHE_SYNC", "CACHE_INVALIDATE", "CACHE_CLEAN",
                      "CACHE_CLEAN_INVALIDATE", "DONT_NEED", "ALWAYS_NEED", "PREFETCH",
                      "TRY_LOCK"}
LOCK_FAMILY = {"LOCK", "LOCK (bad buffer)", "TRY_LOCK", "UNLOCK"}


def labels(*names: str) -> Scope:
    return lambda step, shape, h: step.label in names


def op_range_steps(step: Step, shape: Shape, h: str) -> bool:
    return step.call == OP_RANGE


def every_step(step: Step, shape: Shape, h: str) -> bool:
    return True


def on_shapes(shapes: set[str], inner: Scope) -> Scope:
    return lambda step, shape, h: shape.name in shapes and inner(step, shape, h)


# -- rights (page.rights.sufficient, rights.per_op) -------------------------------------------

R, W = abi.RIGHT_READ, abi.RIGHT_WRITE
NEEDS: dict[str, tuple[int, ...]] = {  # any one of these rights is enough
    "COMMIT": (W,), "DECOMMIT": (W,), "ZERO": (W,),
    "LOCK": (R, W), "LOCK (bad buffer)": (R, W), "TRY_LOCK": (R, W), "UNLOCK": (R, W),
    "CACHE_SYNC": (R,), "CACHE_CLEAN": (R,), "CACHE_CLEAN_INVALIDATE": (R,),
    "CACHE_INVALIDATE": (W,), "PREFETCH": (R,),
    "vmo_read": (R,), "vmo_write": (W,), "vmo_set_size": (W,),
}

# page.errors.listed: the statuses the reference page lists for each op.
_GENERAL = {OK, ERR_BAD_HANDLE, ERR_WRONG_TYPE, ERR_ACCESS_DENIED, ERR_OUT_OF_RANGE}
PAGE_STATUSES: dict[str, set[int]] = {
    "COMMIT": _GENERAL | {ERR_NO_MEMORY, ERR_BAD_STATE, ERR_IO, ERR_IO_DATA_INTEGRITY},
    "DECOMMIT": _GENERAL | {ERR_INVALID_ARGS, ERR_NOT_SUPPORTED},
    "ZERO": _GENERAL | {ERR_NO_MEMORY},
    "LOCK": _GENERAL | {ERR_INVALID_ARGS, ERR_NOT_SUPPORTED},
    "LOCK (bad buffer)": _GENERAL | {ERR_INVALID_ARGS, ERR_NOT_SUPPORTED},
    "TRY_LOCK": _GENERAL | {ERR_NOT_SUPPORTED, ERR_UNAVAILABLE},
    "UNLOCK": _GENERAL | {ERR_NOT_SUPPORTED, ERR_BAD_STATE},
    "CACHE_SYNC": _GENERAL | {ERR_INVALID_ARGS},
    "CACHE_INVALIDATE": _GENERAL | {ERR_INVALID_ARGS},
    "CACHE_CLEAN": _GENERAL | {ERR_INVALID_ARGS},
    "CACHE_CLEAN_INVALIDATE": _GENERAL | {ERR_INVALID_ARGS},
    "DONT_NEED": _GENERAL,
    "ALWAYS_NEED": _GENERAL,
    "PREFETCH": {ERR_BAD_HANDLE, ERR_WRONG_TYPE, ERR_INVALID_ARGS},  # not a listed op
    "invalid op 15": {ERR_BAD_HANDLE, ERR_WRONG_TYPE, ERR_INVALID_ARGS},
}


def lacks(c: Ctx, rights: tuple[int, ...]) -> Formula:
    r = c.z.word(c.rights)
    return c.z.And(*[(r & bit) == 0 for bit in rights])


# -- the catalogue -----------------------------------------------------------------------------


@invariant("decommit-zeroes",
           "After a successful DECOMMIT the range reads zero and holds no pages.",
           "page.decommit.resets",
           on_shapes({"anonymous", "resizable", "discardable", "slice", "reference"},
                     labels("DECOMMIT")))  # decommit.cow_or_pager
def decommit_zeroes(c: Ctx) -> tuple[Formula, Formula]:
    if c.profile.decommit_support == "page" and c.shape.name == "reference":
        return False, True  # page.decommit.supported_only
    owner, shift = c.owner(c.post)
    end, ovf = c.end()
    x = shift + c.i
    applies = c.z.And(c.status == OK, c.z.Not(ovf), c.in_range(c.i, c.offset, end))
    holds = c.z.And(c.content(c.post, owner)[x] == 0,
                   c.z.Not(c.committed(c.post, owner)[c.z.UDiv(x, c.page)]))
    return applies, holds


@invariant("zero-zeroes",
           "After a successful ZERO the range reads zero and every other byte is unchanged.",
           "page.zero.resets",
           labels("ZERO"))
def zero_zeroes(c: Ctx) -> tuple[Formula, Formula]:
    owner, shift = c.owner(c.post)
    end, ovf = c.end()
    lo, hi = shift + c.offset, shift + end
    before, after = c.content(c.pre, owner), c.content(c.post, owner)
    holds = c.z.If(c.in_range(c.i, lo, hi), after[c.i] == 0, after[c.i] == before[c.i])
    return c.z.And(c.status == OK, c.z.Not(ovf)), holds


@invariant("frame",
           "No op changes bytes, commit state or lock state outside its effective (rounded) "
           "range and what its description allows.",
           "page.description.range, conv.rounded_out",
           op_range_steps)
def frame(c: Ctx) -> tuple[Formula, Formula]:
    owner, shift = c.owner(c.post)
    end, ovf = c.end()
    p = c.page
    lo = (shift + c.offset) & ~c.z.BitVecVal(p - 1, 64)
    hi_raw = shift + end
    hi = (hi_raw + (p - 1)) & ~c.z.BitVecVal(p - 1, 64)
    hi_ovf = c.z.Or(ovf, c.z.ULT(hi, hi_raw), c.z.ULT(hi_raw, shift))
    inside = c.z.And(c.z.ULE(lo, c.i), c.z.Or(hi_ovf, c.z.ULT(c.i, hi)))
    page_inside = c.z.And(c.z.ULE(c.z.UDiv(lo, p), c.k),
                          c.z.Or(hi_ovf, c.z.ULT(c.k, c.z.UDiv(hi, p))))
    mem_before, mem_after = c.vmo(c.pre, owner).memory, c.vmo(c.post, owner).memory
    assert mem_before is not None and mem_after is not None
    others = [o for o in c.pre.objects if o != owner]
    # What a trace could observe: bytes and pages below the owner's size.
    size = c.z.word(visible_size(c.pre, owner))
    seen, page_seen = c.z.ULT(c.i, size), c.z.ULT(c.k, c.z.UDiv(size, p))
    holds = c.z.And(
        c.z.Implies(c.z.And(seen, c.z.Not(inside)),
                   mem_after.content[c.i] == mem_before.content[c.i]),
        c.z.Implies(c.z.And(page_seen, c.z.Not(page_inside)),
                   mem_after.committed[c.k] == mem_before.committed[c.k]),
        c.unchanged(others),
    )
    tracker_before, tracker_after = c.vmo(c.pre, owner).tracker, c.vmo(c.post, owner).tracker
    if c.step.label not in LOCK_FAMILY and tracker_before is not None and tracker_after:
        holds = c.z.And(holds, c.z.word(tracker_before.state) == c.z.word(tracker_after.state),
                       c.z.word(tracker_before.count) == c.z.word(tracker_after.count))
    return True, holds


@invariant("content-preserved",
           "COMMIT, the cache ops, DONT_NEED, ALWAYS_NEED, PREFETCH and TRY_LOCK never change "
           "what any byte reads.",
           "cache.effect, dont_need.effect, always_need.effect, prefetch.non_pager",
           labels(*CONTENT_PRESERVING))
def content_preserved(c: Ctx) -> tuple[Formula, Formula]:
    same = []
    for obj, o in c.pre.objects.items():
        if isinstance(o, Vmo) and o.memory is not None:
            same.append(c.content(c.post, obj)[c.i] == o.memory.content[c.i])
    return True, c.z.And(True, *same)


def _clauses_after(c: Ctx, names: list[str]) -> Formula:
    return c.z.And(*[CLAUSES[n](c.post, c.page, c.i) for n in names])


UNCOMMITTED_ZERO = ["uncommitted pages read zero", "nothing committed past the size"]


@invariant("uncommitted-zero",
           "Uncommitted pages read zero (outside pager-backed VMOs and snapshot clones), and "
           "committed bytes never exceed the size rounded up to pages.",
           "page.zero.dedupe, info.committed_bytes",
           every_step)
def uncommitted_zero(c: Ctx) -> tuple[Formula, Formula]:
    return True, _clauses_after(c, UNCOMMITTED_ZERO)


# Where a failing step leaves a documented partial effect (notes/proofs.md).
def _partial_effect(c: Ctx) -> bool:
    if c.step.label == "ZERO" and c.profile.zero_checks == "pieces":
        return c.status in (ERR_OUT_OF_RANGE, ERR_BAD_STATE)  # zero.piece_bounds.2025
    if c.step.label == "LOCK (bad buffer)" and c.profile.lock_buffer_rule == "after_lock":
        return c.status == ERR_INVALID_ARGS  # lock.bad_buffer: lock, then unlock
    return False


@invariant("errors-atomic",
           "A step that fails leaves the state unchanged, except the documented partial "
           "effects (ZERO in pieces, LOCK's buffer check).",
           "page.return_value, commit.effect, zero.piece_bounds.2025, lock.bad_buffer",
           every_step)
def errors_atomic(c: Ctx) -> tuple[Formula, Formula]:
    if c.step.call == "reclaim" or c.status == OK or _partial_effect(c):
        return False, True
    return True, c.unchanged()


@invariant("rights",
           "Without the right an op needs, nothing changes and the status is ACCESS_DENIED "
           "or an error checked earlier.",
           "page.rights.sufficient, rights.per_op",
           lambda step, shape, h: step.label in NEEDS)
def rights(c: Ctx) -> tuple[Formula, Formula]:
    earlier = {ERR_ACCESS_DENIED, ERR_BAD_HANDLE, ERR_WRONG_TYPE}
    if c.step.label == "CACHE_INVALIDATE":
        earlier.add(ERR_NOT_SUPPORTED)  # cache.invalidate_gate: the debug gate comes first
    if c.step.label == "PREFETCH" and not c.profile.prefetch:
        earlier.add(ERR_INVALID_ARGS)  # prefix.order: an op the kernel does not know
    return lacks(c, NEEDS[c.step.label]), c.z.And(c.status in earlier, c.unchanged())


def _tracker(c: Ctx) -> Any:
    t = c.vmo(c.pre).tracker
    assert t is not None
    return t


@invariant("lock-prevents-discard",
           "While the lock count is above zero, reclaim discards nothing.",
           "page.lock.prevents_discard, reclaim.not_eligible",
           on_shapes({"discardable"}, labels("reclaim")))
def lock_prevents_discard(c: Ctx) -> tuple[Formula, Formula]:
    t = _tracker(c)
    return c.z.UGE(c.z.word(t.count), 1), c.z.And(c.out.get("discarded") is False, c.unchanged())


@invariant("discard-visible",
           "After a discard, TRY_LOCK fails, LOCK reports the discarded range and reads zero, "
           "and reads, writes and COMMIT fail, until the VMO is locked again.",
           "page.try_lock.unavailable, page.lock.discarded_range, discard.commit.not_found, "
           "discard.read_write.not_found",
           on_shapes({"discardable"}, labels("TRY_LOCK", "LOCK", "vmo_read", "vmo_write",
                                             "COMMIT")))
def discard_visible(c: Ctx) -> tuple[Formula, Formula]:
    discarded = c.z.word(_tracker(c).state) == DISCARDED
    if c.step.label != "LOCK":
        # commit.empty: an empty COMMIT succeeds before the discard is looked at
        return c.z.And(discarded, c.length != 0), c.status != OK
    if c.status != OK:
        return False, True
    lock = c.out["lock_state"]
    return discarded, c.z.And(c.z.word(lock["discarded_size"]) == c.size(),
                             c.content(c.post, c.obj)[c.i] == 0)


@invariant("lock-counting",
           "UNLOCK without a matching LOCK or TRY_LOCK is BAD_STATE (or an earlier error) and "
           "changes nothing.",
           "page.errors.unlock_not_locked",
           on_shapes({"discardable"}, labels("UNLOCK")))
def lock_counting(c: Ctx) -> tuple[Formula, Formula]:
    unlocked = c.z.word(_tracker(c).count) == 0
    well_asked = c.z.And(c.z.Not(lacks(c, (R, W))), c.offset == 0, c.size() == c.length)
    status_ok = c.z.Implies(well_asked, c.status == ERR_BAD_STATE) \
        if c.profile.precedence == "first" else c.status != OK
    return unlocked, c.z.And(c.status != OK, status_ok, c.unchanged())


@invariant("no-wrap-around",
           "No op acts on a range whose end overflows 64 bits: such a call fails or changes "
           "nothing.",
           "page.errors.out_of_range",
           lambda step, shape, h: step.call in (OP_RANGE, "vmo_read", "vmo_write"))
def no_wrap_around(c: Ctx) -> tuple[Formula, Formula]:
    _end, ovf = c.end()
    return ovf, c.z.Or(c.status != OK, c.unchanged())


@invariant("window",
           "Slices and references act on their parent's window, and only on it.",
           "child.shared_pages",
           on_shapes({"slice", "reference"},
                     lambda step, shape, h: h == "c" and step.call in (OP_RANGE, "vmo_write")))
def window(c: Ctx) -> tuple[Formula, Formula]:
    child = c.vmo(c.pre)
    root = child.parent
    assert root is not None
    if child.role == REFERENCE:
        lo, hi = c.z.BitVecVal(0, 64), c.z.word(visible_size(c.pre, root))
    else:
        lo, hi = c.z.word(child.window), c.z.word(child.window) + c.z.word(child.size)
    p = c.page
    before, after = c.vmo(c.pre, root).memory, c.vmo(c.post, root).memory
    assert before is not None and after is not None
    outside = c.z.And(c.z.Not(c.in_range(c.i, lo, hi)),
                     c.z.ULT(c.i, c.z.word(visible_size(c.pre, root))))  # what a read could see
    page_outside = c.z.Not(c.in_range(c.k, c.z.UDiv(lo, p), c.z.UDiv(hi, p)))
    return True, c.z.And(c.z.Implies(outside, after.content[c.i] == before.content[c.i]),
                        c.z.Implies(page_outside, after.committed[c.k] == before.committed[c.k]))


@invariant("snapshot-isolation",
           "After a snapshot, writes, ZERO and DECOMMIT on one side are not visible on the "
           "other.",
           "child.effect",
           on_shapes({"snapshot"}, labels("vmo_write", "ZERO", "DECOMMIT")))
def snapshot_isolation(c: Ctx) -> tuple[Formula, Formula]:
    # The other side: every other VMO that holds its own pages (in the shape, the one
    # other VMO of the pair; on an explored state, the whole family).
    mine = c.owner(c.pre)[0]
    others = [k for k, o in c.pre.objects.items()
              if isinstance(o, Vmo) and o.memory is not None and k != mine]
    visible = [c.z.ULT(c.i, c.z.word(visible_size(c.pre, k))) for k in others]  # readable
    same = [c.z.Implies(vis, c.content(c.post, k)[c.i] == c.content(c.pre, k)[c.i])
            for vis, k in zip(visible, others, strict=True)]
    return c.z.Or(False, *visible), c.z.And(True, *same)


# The only invariants proved on shapes.FAMILY_SHAPES.
FAMILY_INVARIANTS = {"read-through", "family-isolation", "zero-through-merge",
                     "isolation-through-merge", "share-counts", "legacy-one-owner"}
SHARERS = {"two-sharer", "three-sharer"}


def _family_cx(c: Ctx) -> Cx:
    return Cx(Symbolic(c.page), c.profile, c.page, {}, [])


def _backed(c: Ctx, st: State, obj: int) -> Any:
    """obj's pages that hold data: its own, and those a hidden ancestor holds for it."""
    mem = st.vmo(obj).memory
    assert mem is not None
    if obj not in st.nodes:
        return mem.committed
    x = z3.BitVec("backed_page", 64)
    return z3.Lambda([x], z3.Or(mem.committed[x], cow.hidden_seen(_family_cx(c), st, obj)[x]))


@invariant("read-through",
           "A child of a pager-backed VMO reads its parent's current content at every "
           "offset it has not forked or zeroed, within its window.",
           "cow.unidirectional, cow.read_through",
           on_shapes({"pager-child"}, lambda step, shape, h: step.label in (
               "vmo_write", "ZERO", "COMMIT", "DECOMMIT", "ALWAYS_NEED", "DONT_NEED",
               "PREFETCH", "vmo_read", "reclaim")))  # through the root and the child
def read_through(c: Ctx) -> tuple[Formula, Formula]:
    node = c.post.nodes[2]
    child, root = c.vmo(c.post, 2), c.vmo(c.post, 1)
    assert child.memory is not None and root.memory is not None
    k = z3.UDiv(c.i, c.page)
    unforked = z3.And(z3.ULT(c.i, word(node.limit)), z3.Not(child.memory.committed[k]),
                      z3.Not(node.zeros[k]))
    seen = cow.view(Cx(Symbolic(c.page), c.profile, c.page, {}, []), c.post, 2)
    return unforked, seen[c.i] == root.memory.content[c.i + word(node.window)]


@invariant("family-isolation",
           "In a copy-on-write family (two or three sharers under hidden nodes), a write, "
           "ZERO, COMMIT or DECOMMIT through one VMO changes no byte another one reads.",
           "cow.hidden_node, cow.fork, cow.zero",
           on_shapes({"two-sharer", "three-sharer"}, labels(
               "vmo_write", "ZERO", "COMMIT", "DECOMMIT", "vmo_set_size")))
def family_isolation(c: Ctx) -> tuple[Formula, Formula]:
    others = [k for k, o in c.pre.objects.items() if isinstance(o, Vmo) and k != c.obj]
    visible = z3.And(*[z3.ULT(c.i, word(visible_size(c.pre, k))) for k in others])
    return visible, z3.And(*[c.content(c.post, k)[c.i] == c.content(c.pre, k)[c.i]
                             for k in others])


CLOSE = labels("handle_close")


@invariant("zero-through-merge",
           "Zeroed offsets stay zero through a merge: after a close (and the merge of the "
           "hidden node it leaves with one child), an offset a VMO had zeroed reads zero "
           "and holds no page of its ancestors (no parent data reappears).",
           "cow.zero, cow.merge",
           on_shapes(SHARERS, CLOSE))
def zero_through_merge(c: Ctx) -> tuple[Formula, Formula]:
    page = z3.UDiv(c.i, c.page)
    applies, holds = [], []
    for k, n in c.pre.nodes.items():
        if n.hidden or not isinstance(c.post.objects.get(k), Vmo):
            continue
        before, after = c.vmo(c.pre, k).memory, c.vmo(c.post, k).memory
        assert before is not None and after is not None
        zeroed = z3.And(n.zeros[page], z3.Not(before.committed[page]), before.content[c.i] == 0,
                        z3.ULT(c.i, word(visible_size(c.pre, k))))
        applies.append(zeroed)
        holds.append(z3.Implies(zeroed, z3.And(after.content[c.i] == 0,
                                               z3.Not(_backed(c, c.post, k)[page]))))
    return z3.Or(False, *applies), z3.And(True, *holds)


@invariant("isolation-through-merge",
           "Snapshot isolation holds across close and merge: closing one VMO of a family "
           "changes neither the bytes another one reads nor which of its pages hold data "
           "(the pages a merged hidden node held for it become its own).",
           "cow.merge, child.effect",
           on_shapes(SHARERS, CLOSE))
def isolation_through_merge(c: Ctx) -> tuple[Formula, Formula]:
    page = z3.UDiv(c.i, c.page)
    survivors = [k for k, o in c.pre.objects.items()
                 if isinstance(o, Vmo) and isinstance(c.post.objects.get(k), Vmo)
                 and k != c.obj]
    same = []
    for k in survivors:
        inside = z3.ULT(c.i, word(visible_size(c.pre, k)))
        same.append(z3.Implies(inside, z3.And(
            c.content(c.post, k)[c.i] == c.content(c.pre, k)[c.i],
            _backed(c, c.post, k)[page] == _backed(c, c.pre, k)[page])))
    return True, z3.And(True, *same)


def _no_leak(c: Ctx, st: State, seen: dict[int, dict[int, Any]]) -> Any:
    """Every page a hidden node holds at c.k is seen by some VMO (nothing leaks)."""
    out = []
    for hid, n in st.nodes.items():
        if n.hidden:
            sees = [f for f, _alone, _part in
                    cow.shares(_family_cx(c), seen, hid, c.k).values()]
            out.append(z3.Implies(n.pages[c.k], z3.Or(False, *sees)))
    return z3.And(True, *out)


@invariant("share-counts",
           "The share counts sum to the pages held: at every page of every hidden node, the "
           "VMOs' scaled parts add up to the page (short of one fixed-point unit per "
           "sharer, the truncation), and to nothing where it holds none; a VMO counts a "
           "shared page as private exactly when it alone sees it, and only a page within its "
           "size (private <= committed <= what the VMO sees). A VMO's own pages count in "
           "full for it alone, so summed over pages: scaled plus fraction over a family "
           "equals the pages its nodes own.",
           "info.attribution.2025, decision.cow.fraction",
           on_shapes(SHARERS, labels("vmo_write", "ZERO", "COMMIT", "DECOMMIT",
                                     "vmo_set_size", "handle_close")),
           profiles=lambda p: p.attribution == "share_count")
def share_counts(c: Ctx) -> tuple[Formula, Formula]:
    cx = _family_cx(c)
    before, after = cow.sights(cx, c.pre), cow.sights(cx, c.post)
    whole = c.page << cow.FRACTION_BITS
    holds = []
    for hid, n in c.post.nodes.items():
        if not n.hidden:
            continue
        per = cow.shares(cx, after, hid, c.k)
        total = z3.Sum([z3.IntVal(0), *[part for _f, _a, part in per.values()]])
        holds.append(z3.If(n.pages[c.k],
                           z3.And(total <= whole, total > whole - len(per)),
                           total == 0))
        for obj, (f, alone, _part) in per.items():
            mine = c.k - cow.shift_to(cx, c.post, obj, hid)
            size = word(visible_size(c.post, obj))
            others = [g for o, (g, _a, _p) in per.items() if o != obj]
            holds += [alone == z3.And(f, *[z3.Not(g) for g in others]),
                      z3.Implies(f, z3.And(z3.UGE(c.k, cow.shift_to(cx, c.post, obj, hid)),
                                           z3.ULT(mine, z3.UDiv(size, c.page))))]
    return _no_leak(c, c.pre, before), z3.And(True, *holds)


def _legacy_scope(label: str, shape: str, h: str) -> bool:
    """The steps legacy-one-owner is proved for, chosen for its cost (notes/proofs.md):
    COMMIT forks as a write does (cow.fork) and DECOMMIT is refused on every family
    node (decommit.after_merge); ZERO, the dearest, on the two-sharer family and on the
    three-sharer's `d`, whose zero copies down through the middle hidden node."""
    if label == "ZERO":
        return shape == "two-sharer" or h == "d"
    return label in ("vmo_write", "vmo_set_size", "handle_close")


@invariant("legacy-one-owner",
           "Under legacy attribution each page a family's hidden nodes hold counts for "
           "exactly one VMO, one that sees it, and a page they do not hold for none; a "
           "VMO's own pages count for it alone, so summed over a family the committed "
           "bytes equal the pages its nodes hold.",
           "info.attribution.legacy, decision.cow.legacy_owner",
           on_shapes(SHARERS, lambda step, shape, h: _legacy_scope(step.label, shape.name, h)),
           profiles=lambda p: p.name == "zircon-2024")
def legacy_one_owner(c: Ctx) -> tuple[Formula, Formula]:
    cx = _family_cx(c)
    after = cow.sights(cx, c.post)
    holds = []
    for hid, n in c.post.nodes.items():
        if not n.hidden:
            continue
        per = cow.shares(cx, after, hid, c.k)
        counts = cow.legacy_counts(cx, per)
        one = z3.PbEq([(f, 1) for f in counts.values()], 1) if counts else z3.BoolVal(False)
        holds.append(z3.If(n.pages[c.k], one, z3.Not(z3.Or(False, *counts.values()))))
        holds += [z3.Implies(counts[k], per[k][0]) for k in counts]
    return _no_leak(c, c.pre, cow.sights(cx, c.pre)), z3.And(True, *holds)


@invariant("status-domain",
           "Each op returns only statuses the reference page lists for it.",
           "page.errors.listed",
           lambda step, shape, h: step.label in PAGE_STATUSES)
def status_domain(c: Ctx) -> tuple[Formula, Formula]:
    if c.status == ANY_ERROR:  # the page is silent: any failure is a listed one or not
        return True, False
    return True, c.status in PAGE_STATUSES[c.step.label]


@invariant("well-formed",
           "Well-formedness of the state is inductive: every step preserves every clause "
           "(those of uncommitted-zero are proved there).",
           "discardable.states, create.effect, pager.supply.effect",
           every_step)
def well_formed_inductive(c: Ctx) -> tuple[Formula, Formula]:
    return True, _clauses_after(c, [n for n in CLAUSES if n not in UNCOMMITTED_ZERO])


def hypotheses(shape: Shape, page: int, at: list[Any] | None = None) -> list[Any]:
    """What every obligation about this shape may assume of the state before the step:
    the shape's facts, well-formedness, and that fewer than 2^63 locks are held (no
    trace is long enough to take more; notes/proofs.md). With `at`, well-formedness is
    given only at those offsets: fewer assumptions, so a proof from them still holds,
    and z3 answers quantifier-free questions far faster."""
    bounded = [z3.ULT(word(o.tracker.count), 1 << 63) for o in shape.state.objects.values()
               if isinstance(o, Vmo) and o.tracker is not None]
    if at is None:
        wf = [well_formed(shape.state, page)]
    else:
        wf = [well_formed_at(shape.state, page, x) for x in at]
    return [*shape.facts, *wf, *bounded]
