"""A hypothesis strategy for whole vmo-trace v1 traces (`traces()`).

The generator keeps an abstract picture of the world it has asked for: which handle
names it bound, to what kind of VMO or pager, with which rights, of roughly which size,
and whether the call that bound them should have succeeded. Later steps mostly name live
handles, and draw offsets and sizes from the values where the semantics change (0, 1,
page-1, page, page+1, size-page, size, size+1, 2^63, 2^64-1, unaligned ones) rather
than uniform noise. It covers every call and event of docs/trace-format.md, handles with
reduced rights (handle_duplicate), every kind of VMO a v1 trace can create (plain,
resizable, discardable, UNBOUNDED, pager-backed, slices, references, snapshots,
AT_LEAST_ON_WRITE and MODIFIED snapshots, NO_WRITE children), invalid and OR-ed op
values, and pager_fail with the five codes (and invalid ones).

Some states matter and are rarely reached by independent random steps (a discarded
VMO, a page request that meets a scripted failure, a snapshot whose parent is then
written, a right missing where a call needs it). Short scenarios get there (write, act,
look; a snapshot of a written VMO, one side changed, the other read; LOCK/write/UNLOCK/
reclaim; pager_fail then a request in its range; a hint then reclaim; a duplicate with
fewer rights, or closed, then calls through it), and the next few steps *focus* on the
VMOs the scenario built. Their arguments are drawn like any other's.

A trace is decoded from one byte string that hypothesis draws (and shrinks), read in
order by `Choices`: one draw per trace instead of several per step, which made drawing
nine tenths of the fuzzer's time. Each choice reads just the bytes its range needs and
scales them monotonically, so smaller bytes mean earlier options (hypothesis shrinks
bytes towards zero) and a string that runs out reads as zeros: the first option, and
the end of the trace. Steps are removed whole by the fuzzer's own pass after
hypothesis's shrinker (refinement_tests/fuzz.py).

Two constraints on what is generated, both stated where they apply:
- Work that needs frames (COMMIT; PREFETCH, ALWAYS_NEED and reads of pager-backed
  VMOs; supplies) is kept to BUDGET_PAGES pages per step: the zircon profiles assume
  allocations succeed, while the model has a finite frame pool and spends time per page.
  Ranges past the end are never shortened.
- The known disagreements of refinement_tests/known.py marked "avoid" are steered
  clear of, unless `avoid` is emptied.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from hypothesis import strategies as st

from refinement_tests.known import KNOWN
from refinement_tests.trace import Header
from spec import abi

__all__ = ["AVOIDABLE", "BUDGET_PAGES", "CHOICE_BYTES", "Choices", "GenStep", "GenTrace",
           "TraceSource", "choice_bytes", "decode", "slot_size", "slots", "traces"]

U64 = abi.U64_MAX
BUDGET_PAGES = 64  # the most pages one generated step may need frames for
AVOIDABLE = frozenset(n for n, k in KNOWN.items() if k.how == "avoid")


@dataclass(frozen=True)
class GenStep:
    name: str
    kind: str  # "call" or "event"
    args: dict[str, Any]
    vmo_kind: str | None = None  # the kind of VMO this step creates, for coverage
    # What the generator believes the step acts on, for behavioural coverage
    # (refinement_tests/coverage.py): the kind of target (TARGETS), the class of its
    # range (RANGES, or SET_SIZES for vmo_set_size), and where the range lies: the
    # family (the VMO tree it belongs to) and the bytes in the family's root.
    target: str | None = None
    range_class: str | None = None
    family: int | None = None
    span: tuple[int, int] | None = None


# The kinds of target of behavioural coverage.
TARGETS = ("root", "slice-at-0", "slice-at-page", "reference", "snapshot", "original",
           "read-through", "pager-root", "discarded")
# The classes of range (offset, size) against the target's size S.
RANGES = ("size-0", "in-one-page", "whole-pages", "head-tail", "past-end", "overflow")
# The classes of a new size for vmo_set_size.
SET_SIZES = ("grow", "same", "shrink", "unaligned-no-grow", "too-big")


def range_class(offset: int, size: int, s: int, p: int) -> str:
    if size == 0:
        return "size-0"
    end = offset + size
    if end > U64:
        return "overflow"
    if end > s:
        return "past-end"
    if offset % p == 0 and size % p == 0:
        return "whole-pages"
    if offset // p == (end - 1) // p:
        return "in-one-page"
    return "head-tail"


def set_size_class(requested: int, s: int, p: int) -> str:
    rounded = _round_up(requested, p)
    if rounded is None or rounded > _MAX_SIZE:
        return "too-big"
    if rounded > s:
        return "grow"
    if requested % p:
        return "unaligned-no-grow"
    return "same" if rounded == s else "shrink"


@dataclass(frozen=True)
class GenTrace:
    page: int
    config: dict[str, bool]
    steps: tuple[GenStep, ...]

    def header(self, **meta: Any) -> Header:
        return Header(self.page, dict(self.config), meta)


@dataclass
class _Obj:
    """What the generator believes about an object it asked for."""

    is_pager: bool
    label: str = ""
    size: int = 0  # the size it believes the VMO has
    size_hi: int = 0  # no size it may have had is larger
    pager_lineage: bool = False  # its pages come from a pager
    resizable: bool = False
    shares: int | None = None  # a reference: the object whose size it follows
    immutable: bool = False  # a SNAPSHOT|NO_WRITE child
    base: int = 0  # where its offset 0 lies in the root (sum of child offsets)
    pager_name: str | None = None  # a pager VMO: the pager handle it was created with
    root: int | None = None  # pager lineage: the pager VMO at the top
    discardable: bool = False
    family: int = 0  # the object at the top of its tree of children
    has_snapshot: bool = False  # a snapshot child was made of it
    discarded: bool = False  # reclaimed with no lock held (what the generator believes)


@dataclass
class _Handle:
    name: str
    obj: int
    rights: int
    live: bool = True  # the call that bound it should have succeeded, and it is open


_VMO_RIGHTS = abi.DEFAULT_VMO_RIGHTS
_MAX_SIZE = (U64 // (32 * 4096)) * (32 * 4096)
_FAIL_CODES = sorted(abi.PAGER_FAIL_STATUSES)
_PAGER_OPS = [abi.OP_COMMIT, abi.OP_ZERO, abi.OP_PREFETCH, abi.OP_ALWAYS_NEED]
_LOCKS = (abi.OP_LOCK, abi.OP_TRY_LOCK, abi.OP_UNLOCK)
# The ops that change content or committed pages, for scenarios that look afterwards.
_EFFECT_OPS = [abi.OP_DECOMMIT, abi.OP_ZERO, abi.OP_COMMIT]
_VALID_OPS = [abi.OP_COMMIT, abi.OP_LOCK, abi.OP_UNLOCK, abi.OP_TRY_LOCK, abi.OP_DECOMMIT,
              abi.OP_ZERO, abi.OP_CACHE_SYNC, abi.OP_CACHE_INVALIDATE, abi.OP_CACHE_CLEAN,
              abi.OP_CACHE_CLEAN_INVALIDATE, abi.OP_DONT_NEED, abi.OP_ALWAYS_NEED, abi.OP_PREFETCH]
# Each valid op three times, then the invalid values once each (op 5 was LOOKUP).
_OP_TABLE = [*_VALID_OPS * 3, 0, abi.OP_LOOKUP_HISTORIC, 15, 16, 1 << 31, 0xFFFFFFFF]
_C = abi
_CHILD_OPTIONS = [
    _C.CHILD_SNAPSHOT, _C.CHILD_SLICE, _C.CHILD_REFERENCE, _C.CHILD_SNAPSHOT_AT_LEAST_ON_WRITE,
    _C.CHILD_SNAPSHOT_MODIFIED, _C.CHILD_SNAPSHOT | _C.CHILD_RESIZABLE,
    _C.CHILD_SNAPSHOT_AT_LEAST_ON_WRITE | _C.CHILD_RESIZABLE,
    _C.CHILD_REFERENCE | _C.CHILD_RESIZABLE, _C.CHILD_SNAPSHOT | _C.CHILD_NO_WRITE,
    _C.CHILD_SLICE | _C.CHILD_NO_WRITE, _C.CHILD_SNAPSHOT_AT_LEAST_ON_WRITE | _C.CHILD_NO_WRITE,
    _C.CHILD_SNAPSHOT | _C.CHILD_SLICE, 0, _C.CHILD_SNAPSHOT | _C.CHILD_RESIZABLE
    | _C.CHILD_NO_WRITE, _C.CHILD_SNAPSHOT | _C.CHILD_SNAPSHOT_MODIFIED, 1 << 10]
_SNAPSHOTS = _C.CHILD_SNAPSHOT | _C.CHILD_SNAPSHOT_AT_LEAST_ON_WRITE | _C.CHILD_SNAPSHOT_MODIFIED
_TYPES = _SNAPSHOTS | _C.CHILD_SLICE | _C.CHILD_REFERENCE
_LABELS = {_C.CHILD_SNAPSHOT: "snapshot", _C.CHILD_SLICE: "slice",
           _C.CHILD_REFERENCE: "reference",
           _C.CHILD_SNAPSHOT_AT_LEAST_ON_WRITE: "snapshot-at-least-on-write",
           _C.CHILD_SNAPSHOT_MODIFIED: "snapshot-modified"}
# vmo_create options: the valid ones first and more often, then invalid ones.
_CREATE_OPTIONS = [0, abi.VMO_DISCARDABLE, abi.VMO_RESIZABLE, 0, abi.VMO_DISCARDABLE,
                   abi.VMO_RESIZABLE | abi.VMO_DISCARDABLE, abi.VMO_UNBOUNDED,
                   abi.VMO_UNBOUNDED | abi.VMO_RESIZABLE, abi.VMO_TRAP_DIRTY, 1 << 9]
_PAGER_OPTIONS = [0, abi.VMO_RESIZABLE, 0, abi.VMO_TRAP_DIRTY, abi.VMO_DISCARDABLE,
                  abi.VMO_UNBOUNDED, abi.VMO_UNBOUNDED | abi.VMO_RESIZABLE, 1 << 9]


def _round_up(x: int, p: int) -> int | None:
    r = -(-x // p) * p
    return r if r <= U64 else None


def _clip(xs: Sequence[int]) -> list[int]:
    """The values that are u64, first occurrence kept (order matters: hypothesis
    shrinks towards the front)."""
    out: list[int] = []
    for x in xs:
        if 0 <= x <= U64 and x not in out:
            out.append(x)
    return out


@dataclass
class _World:
    objs: dict[int, _Obj] = field(default_factory=dict)
    handles: list[_Handle] = field(default_factory=list)
    count: int = 0

    def fresh(self, prefix: str) -> str:
        self.count += 1
        return f"{prefix}{self.count}"

    def add(self, out: str, obj: _Obj, rights: int, live: bool) -> int:
        oid = len(self.objs) + 1
        if not obj.family:
            obj.family = oid
        self.objs[oid] = obj
        self.handles.append(_Handle(out, oid, rights, live))
        return oid

    def size_rec(self, oid: int) -> _Obj:
        o = self.objs[oid]
        while o.shares is not None:
            o = self.objs[o.shares]
        return o

    def vmo_handles(self) -> list[_Handle]:
        return [h for h in self.handles if h.live and not self.objs[h.obj].is_pager]

    def pager_handles(self) -> list[_Handle]:
        return [h for h in self.handles if h.live and self.objs[h.obj].is_pager]

    def get(self, name: str) -> tuple[_Obj | None, _Handle | None]:
        for h in self.handles:
            if h.name == name:
                return self.objs[h.obj], h
        return None, None


CHOICE_BYTES = 1024  # the most bytes one trace's choices are read from


class Choices:
    """The choices of one trace, read in order from a byte string."""

    __slots__ = ("buf", "pos")

    def __init__(self, buf: bytes) -> None:
        self.buf = buf
        self.pos = 0

    def num(self, lo: int, hi: int) -> int:
        """A number in [lo, hi] from the next bytes (as few as the range needs), scaled
        so that smaller bytes give smaller numbers; zeros past the end."""
        n = hi - lo
        if n <= 0:
            return lo
        k = (n.bit_length() + 7) >> 3
        pos = self.pos
        self.pos = pos + k
        v = int.from_bytes(self.buf[pos:pos + k], "big")
        if self.pos > len(self.buf):
            v <<= 8 * (self.pos - len(self.buf))  # the missing low bytes read as zeros
        return lo + ((v * (n + 1)) >> (8 * k))

    @property
    def exhausted(self) -> bool:
        return self.pos >= len(self.buf)


class _Gen:
    """Draws one trace, step by step."""

    def __init__(self, choices: Choices, page: int, avoid: frozenset[str]) -> None:
        self.c = choices
        self.p = page
        self.avoid = avoid
        self.w = _World()
        self.focus: list[str] = []  # handles the next few steps act on
        self.focus_left = 0
        steps: list[tuple[int, Callable[[], GenStep | list[GenStep]]]] = [
            (36, self.op_range),
            (7, self.write),
            (6, self.read),
            (5, self.info),
            (5, self.create_child),
            (4, self.duplicate),
            (4, self.reclaim),
            (3, self.set_size),
            (3, self.pager_fail),
            (3, self.supply),
            (2, self.close),
            (3, self.create),
            (3, self.pager_create_vmo),
            (2, self.get_size),
            (1, self.pager_create),
            (3, self.effect),
            (5, self.cow),
            (3, self.discard_cycle),
            (4, self.rights),
            (3, self.pager_failure),
            (2, self.pager_hints),
            (3, self.window),
            (2, self.resize_tail),
            (6, self.aim),
            (2, self.cache_policy),
            (2, self.uncached),
            (2, self.contiguous),
            (1, self.physical),
        ]
        self.table = [fn for _, fn in steps]
        self.weights = [w for w, _ in steps]
        self.total = sum(self.weights)
        self.op_table = _OP_TABLE

    # -- values ------------------------------------------------------------------------

    def num(self, lo: int, hi: int) -> int:
        return self.c.num(lo, hi)

    def pick(self, options: Sequence[Any]) -> Any:
        """One of the options; hypothesis shrinks towards the first."""
        return options[self.num(0, len(options) - 1)] if len(options) > 1 else options[0]

    def pick_or_any(self, options: Sequence[int], hi: int, any_in: int = 7) -> int:
        """One of the options (the values where semantics change) or, about one time in
        `any_in` + 1, any value in [0, hi]."""
        n = len(options)
        k = self.num(0, n + n // any_in)
        # Small numbers: hypothesis shrinks a huge one bit by bit, a test run each.
        return int(options[k]) if k < n else self.num(0, min(hi, 64 * self.p))

    def offset(self, s: int) -> int:
        """An offset into a VMO of size s: 0 and the values where semantics change, or
        (one time in four) any value up to a page past the end."""
        p = self.p
        return self.pick_or_any(_clip([0, p, 1, p - 1, p + 1, s - p, s, s + 1, s - 1, 2 * p + 7,
                                       s + p, 1 << 63, U64, U64 - p + 1]), s + p, 3)

    def length(self, s: int, off: int) -> int:
        p = self.p
        return self.pick_or_any(
            _clip([p, s - off, 0, 1, p - 1, p + 1, s - off + 1, s, s + 1, s - p, 2 * p, 1 << 63,
                   U64, U64 - p + 1, (1 << 64) - off, (1 << 64) - off - 1]),
            max(s - off, 0) + p, 3)

    def inside(self, s: int) -> tuple[int, int]:
        """A range within [0, s] (where a scenario's steps meet each other's effects) or,
        one time in three, one that starts inside and ends past s."""
        p = self.p
        if s and self.num(0, 2) == 0:
            back = int(self.pick([x for x in (p // 2, 1, p, p + 1, s) if 0 < x <= s]))
            # a length stays a u64: near 2^64 the range ends at 2^64 - 1 instead
            return s - back, min(back + int(self.pick([1, p, p // 2])), U64)
        offset = self.pick_or_any([x for x in _clip([0, p, 1, p - 1, p + 1, s - p, 2 * p + 7])
                                   if x <= s] or [0], s, 3)
        rest = s - offset
        length = self.pick_or_any([x for x in _clip([p, rest, 1, p - 1, p + 1, 2 * p])
                                   if x <= rest] or [0], rest, 3)
        return offset, length

    def vmo_size(self) -> int:
        p = self.p
        return self.pick_or_any(
            [p, 2 * p, 4 * p, 0, 1, p - 1, p + 1, 3 * p, 8 * p, 16 * p + 5, 1 << 63, U64,
             U64 - p + 1, U64 - 2 * p + 1, _MAX_SIZE, _MAX_SIZE + 1], 16 * p)

    def budget(self, off: int, length: int, hi: int) -> int:
        """`length`, shortened so that [off, off + length) ∩ [0, hi) spans at most
        BUDGET_PAGES pages; a range that starts at or past `hi` is left alone."""
        p = self.p
        lo = off - off % p
        end = min(off + length, hi)
        if end <= lo:
            return length
        if -(-end // p) - lo // p <= BUDGET_PAGES:
            return length
        return lo + BUDGET_PAGES * p - off

    def data(self) -> tuple[tuple[int, int], ...]:
        p = self.p
        n = int(self.pick([1, p, 0, 2, 8, p + 1, p - 1, 2 * p + 3]))
        if n == 0:
            return ()
        cut = self.num(0, n)
        a, b = self.num(0, 255), self.num(0, 255)
        out: list[tuple[int, int]] = []
        for byte, c in ((a, cut), (b, n - cut)):
            if c == 0:
                continue
            if out and out[-1][0] == byte:
                out[-1] = (byte, out[-1][1] + c)
            else:
                out.append((byte, c))
        return tuple(out)

    # -- steps, as behavioural coverage sees them ----------------------------------------

    def _mk(self, name: str, kind: str, args: dict[str, Any], vmo_kind: str | None = None,
            sized: str | None = None) -> GenStep:
        """A step, with what it acts on as the generator believes it now (`sized`: the
        class of a new size, taken before the world is changed)."""
        h = args.get("vmo", args.get("handle"))
        o, hd = self.w.get(h) if isinstance(h, str) else (None, None)
        if o is None or hd is None or o.is_pager:
            return GenStep(name, kind, args, vmo_kind)
        target = self._target(o)
        s = self.w.size_rec(hd.obj).size
        off = args.get("offset")
        n = args.get("size") if name == "vmo_op_range" else args.get("length")
        if name == "vmo_write":
            n = sum(c for _, c in args["data"])
        rng, span = sized, None
        if sized is not None:
            lo = args["size"] // self.p * self.p
            span = (o.base + min(lo, s), o.base + max(s, lo + self.p))
        elif off is not None and n is not None:
            rng = range_class(off, n, s, self.p)
            if n and off < s:
                span = (o.base + off, o.base + min(off + n, s))
        if name == "vmo_op_range" and args["op"] == abi.OP_LOCK:
            o.discarded = False  # LOCK takes a discarded VMO back (its pages gone)
        return GenStep(name, kind, args, vmo_kind, target, rng, o.family, span)

    def _new_vmo(self, size: int, options: int, label: str, **kw: Any) -> GenStep:
        """vmo_create of a VMO a scenario needs (a valid size and options), entered in
        the world as it will be."""
        out = self.w.fresh("v")
        rights = _VMO_RIGHTS | (abi.RIGHT_RESIZE if options & abi.VMO_RESIZABLE else 0)
        self.w.add(out, _Obj(False, label, size, size, **kw), rights, True)
        return self._mk("vmo_create", "call", {"size": size, "options": options, "out": out},
                        label)

    def _target(self, o: _Obj) -> str:
        if o.discarded:
            return "discarded"
        if o.has_snapshot:
            return "original"
        if o.label == "slice":
            return "slice-at-page" if o.base else "slice-at-0"
        if o.label == "reference":
            return "reference"
        if o.label.startswith("snapshot"):
            lazy = o.label != "snapshot" and o.pager_lineage
            return "read-through" if lazy else "snapshot"
        return "pager-root" if o.pager_name else "root"

    # -- handles -----------------------------------------------------------------------

    def vmo_handle(self) -> str:
        """Mostly a live VMO handle (while a scenario focuses, one of its handles); now
        and then a pager handle (WRONG_TYPE), a dead or never bound name, or $invalid
        (BAD_HANDLE). One choice."""
        live = [h.name for h in self.w.vmo_handles()]
        if self.focus_left > 0 and self.focus:
            live = self.focus
        others = [h.name for h in self.w.pager_handles()] + ["$invalid", "nobody"]
        others += [h.name for h in self.w.handles if not h.live]
        n = 12 * len(live)
        k = self.num(0, n + max(2, len(live)))
        if k < n:
            return live[-1 - k % len(live)]  # the newest first: hypothesis shrinks to it
        return others[(k - n) % len(others)]

    def pager_handle(self) -> str:
        pagers = [h.name for h in self.w.pager_handles()]
        others = ["$invalid", "nobody", *(h.name for h in self.w.vmo_handles())]
        n = 9 * len(pagers)
        k = self.num(0, n)
        return pagers[-1 - k % len(pagers)] if k < n else str(self.pick(others))

    def size_of(self, name: str) -> tuple[int, int]:
        o, h = self.w.get(name)
        if o is None or h is None or o.is_pager:
            return 4 * self.p, 4 * self.p
        rec = self.w.size_rec(h.obj)
        return rec.size, rec.size_hi

    # -- steps -------------------------------------------------------------------------

    def step(self, first: bool) -> list[GenStep]:
        """One call or event, or a short scenario of a few, or nothing: the end of the
        trace (never before the first step)."""
        stop = 0 if first else 5  # the weight of ending here
        if not self.w.vmo_handles():
            k = self.num(0, stop + 3)
            if k >= 4:
                return []
            return [self.create()] if k < 3 else self.pager_create_vmo()
        total = self.total
        # The end of the trace sits mid-range (a habit from when hypothesis drew each
        # choice: it drew the ends of a range more often than their share).
        k = self.num(0, stop + total - 1)
        mid = total // 2
        if mid <= k < mid + stop:
            return []
        if k >= mid + stop:
            k -= stop
        if self.focus_left > 0:
            self.focus_left -= 1
        for weight, fn in zip(self.weights, self.table, strict=True):
            if k < weight:
                made = fn()
                return made if isinstance(made, list) else [made]
            k -= weight
        raise AssertionError("unreachable")

    def swarm(self) -> None:
        """Swarm testing: one trace in two leaves out a random subset of the steps and
        scenarios, and of the valid ops, so that those left get the room rare paths
        need (bytes of zero leave everything in)."""
        if self.num(0, 1) == 0:
            return
        mask = self.num(0, (1 << len(self.table)) - 1)
        weights = [0 if mask >> i & 1 else w for i, w in enumerate(self.weights)]
        if sum(weights):
            self.weights, self.total = weights, sum(weights)
        mask = self.num(0, (1 << len(_VALID_OPS)) - 1)
        ops = [op for i, op in enumerate(_VALID_OPS) if not mask >> i & 1]
        if ops:
            self.op_table = [*ops * 3, *_OP_TABLE[3 * len(_VALID_OPS):]]

    def _focus(self, names: list[str], steps: int) -> None:
        self.focus = names
        self.focus_left = steps

    # -- creating ----------------------------------------------------------------------

    def create(self) -> GenStep:
        p = self.p
        size = self.vmo_size()
        opts = int(self.pick(_CREATE_OPTIONS))
        out = self.w.fresh("v")
        rounded = _MAX_SIZE if opts & abi.VMO_UNBOUNDED else (_round_up(size, p) or 0)
        ok = (not opts & ~(abi.VMO_RESIZABLE | abi.VMO_DISCARDABLE | abi.VMO_UNBOUNDED)
              and opts & (abi.VMO_UNBOUNDED | abi.VMO_RESIZABLE) != (
                  abi.VMO_UNBOUNDED | abi.VMO_RESIZABLE)
              and _round_up(size, p) is not None and rounded <= _MAX_SIZE)
        label = ("unbounded" if opts & abi.VMO_UNBOUNDED else "discardable"
                 if opts & abi.VMO_DISCARDABLE else "resizable" if opts & abi.VMO_RESIZABLE
                 else "plain")
        resizable = bool(opts & abi.VMO_RESIZABLE)
        self.w.add(out, _Obj(False, label, rounded, rounded, resizable=resizable,
                             discardable=bool(opts & abi.VMO_DISCARDABLE)),
                   _VMO_RIGHTS | (abi.RIGHT_RESIZE if resizable else 0), ok)
        return self._mk("vmo_create", "call", {"size": size, "options": opts, "out": out}, label)

    def pager_create(self) -> GenStep:
        out = self.w.fresh("p")
        self.w.add(out, _Obj(True), abi.DEFAULT_PAGER_RIGHTS, True)
        return self._mk("pager_create", "call", {"out": out})

    def pager_create_vmo(self) -> list[GenStep]:
        pre = [] if self.w.pager_handles() else [self.pager_create()]
        pager = self.pager_handle()
        size = self.vmo_size()
        opts = int(self.pick(_PAGER_OPTIONS))
        both = abi.VMO_UNBOUNDED | abi.VMO_RESIZABLE
        out = self.w.fresh("pv")
        rounded = _MAX_SIZE if opts & abi.VMO_UNBOUNDED else (_round_up(size, self.p) or 0)
        po, ph = self.w.get(pager)
        ok = (po is not None and po.is_pager and ph is not None and ph.live
              and bool(ph.rights & abi.RIGHT_ATTACH_VMO)
              and not opts & ~(abi.VMO_RESIZABLE | abi.VMO_TRAP_DIRTY | abi.VMO_UNBOUNDED)
              and opts & both != both and _round_up(size, self.p) is not None
              and rounded <= _MAX_SIZE)
        resizable = bool(opts & abi.VMO_RESIZABLE)
        label = "pager-resizable" if resizable else "pager"
        oid = len(self.w.objs) + 1
        self.w.add(out, _Obj(False, label, rounded, rounded, pager_lineage=True,
                             resizable=resizable, pager_name=pager, root=oid),
                   _VMO_RIGHTS | (abi.RIGHT_RESIZE if resizable else 0), ok)
        return [*pre, self._mk("pager_create_vmo", "call",
                              {"pager": pager, "options": opts, "size": size, "out": out},
                              label)]

    def create_child(self, parent: str | None = None, opts: int | None = None,
                     simple: bool = False, window: tuple[int, int] | None = None) -> GenStep:
        p = self.p
        parent = parent if parent is not None else self.vmo_handle()
        s, _hi = self.size_of(parent)
        if opts is None:
            opts = int(self.pick(_CHILD_OPTIONS))
        if window is not None:
            offset, size = window
        elif opts & _C.CHILD_REFERENCE:
            offset, size = int(self.pick([0, p])), int(self.pick([0, p]))
        elif simple:
            offset, size = 0, s
        else:
            offset = int(self.pick(_clip([0, p, s - p, s, 1, s + p, 1 << 63, U64 - p + 1])))
            size = int(self.pick(_clip([s, p, 0, s - offset, 2 * p, s + p, 1, U64, 1 << 63,
                                        _MAX_SIZE + 1])))
        po, ph = self.w.get(parent)
        base = po.base if po is not None else 0
        snapshot = bool(opts & _SNAPSHOTS) and not opts & (_C.CHILD_SLICE | _C.CHILD_REFERENCE)
        rounded = _round_up(size, p)
        ok = self._child_ok(po, ph, opts, offset, size, s)
        types = opts & _TYPES
        label = _LABELS.get(types)
        rights = ((ph.rights if ph else _VMO_RIGHTS) & ~abi.RIGHT_RESIZE
                  | abi.RIGHT_GET_PROPERTY | abi.RIGHT_SET_PROPERTY)
        if opts & _C.CHILD_RESIZABLE:
            rights |= abi.RIGHT_RESIZE
        if opts & _C.CHILD_NO_WRITE:
            rights &= ~abi.RIGHT_WRITE
        elif snapshot:
            rights = rights & ~abi.RIGHT_EXECUTE | abi.RIGHT_WRITE
        out = self.w.fresh("c")
        lineage = po is not None and po.pager_lineage
        root = po.root if po is not None else None
        family = po.family if po is not None else 0
        if label == "reference" and ph is not None and po is not None:
            obj = _Obj(False, label, 0, 0, pager_lineage=lineage, shares=ph.obj,
                       resizable=po.resizable, base=base, root=root, family=family)
        else:
            r = rounded or 0
            obj = _Obj(False, label or "", r, r, pager_lineage=lineage,
                       resizable=bool(opts & _C.CHILD_RESIZABLE), root=root,
                       immutable=bool(opts & _C.CHILD_NO_WRITE) and snapshot,
                       base=base + offset, family=family)
        if ok and snapshot and po is not None:
            po.has_snapshot = True
        self.w.add(out, obj, rights, ok)
        return self._mk("vmo_create_child", "call",
                       {"vmo": parent, "options": opts, "offset": offset, "size": size,
                        "out": out}, label)

    def _child_ok(self, po: _Obj | None, ph: _Handle | None, opts: int, offset: int,
                  size: int, s: int) -> bool:
        """Should zx_vmo_create_child succeed (child.*, roughly)?"""
        p = self.p
        rounded = _round_up(size, p)
        need = abi.RIGHT_DUPLICATE | abi.RIGHT_READ
        if (po is None or ph is None or not ph.live or po.is_pager or rounded is None
                or rounded > _MAX_SIZE or ph.rights & need != need or po.discardable
                or (opts & _C.CHILD_NO_WRITE and opts & _C.CHILD_RESIZABLE)):
            return False
        o = opts & ~_C.CHILD_NO_WRITE
        if o & _C.CHILD_SLICE:
            return (o == _C.CHILD_SLICE and offset % p == 0 and offset + rounded <= s
                    and not po.resizable)
        if o & _C.CHILD_REFERENCE:
            return (not o & ~(_C.CHILD_REFERENCE | _C.CHILD_RESIZABLE) and offset == 0
                    and size == 0 and po.label != "slice"
                    and (not o & _C.CHILD_RESIZABLE or po.resizable))
        kind = o & _SNAPSHOTS
        if kind == 0 or kind & (kind - 1) or o & ~(_SNAPSHOTS | _C.CHILD_RESIZABLE):
            return False
        if offset % p or offset + rounded > U64:
            return False
        if kind == _C.CHILD_SNAPSHOT and po.pager_lineage:
            return False
        if po.label == "slice":
            return kind == _C.CHILD_SNAPSHOT_AT_LEAST_ON_WRITE and po.pager_lineage
        return True

    def duplicate(self) -> GenStep:
        live = [h for h in self.w.handles if h.live]
        name = str(self.pick([h.name for h in reversed(live)] + ["$invalid"]))
        _o, h = self.w.get(name)
        src = h.rights if h else _VMO_RIGHTS
        r = abi
        rights = int(self.pick([
            r.RIGHT_SAME_RIGHTS, src & ~r.RIGHT_WRITE, src & ~r.RIGHT_READ,
            src & ~(r.RIGHT_READ | r.RIGHT_WRITE), src, src & ~r.RIGHT_DUPLICATE, 0,
            r.RIGHT_READ | r.RIGHT_DUPLICATE, r.RIGHT_WRITE | r.RIGHT_DUPLICATE,
            src & ~r.RIGHT_RESIZE, src & ~r.RIGHT_ATTACH_VMO, src & ~r.RIGHT_MANAGE_VMO,
            src | r.RIGHT_RESIZE, src | r.RIGHT_MANAGE_VMO]))
        out = self.w.fresh("h")
        if h is not None:
            new = src if rights == r.RIGHT_SAME_RIGHTS else rights
            ok = (h.live and bool(src & r.RIGHT_DUPLICATE)
                  and (rights == r.RIGHT_SAME_RIGHTS or not rights & ~src))
            self.w.handles.append(_Handle(out, h.obj, new, ok))
        return self._mk("handle_duplicate", "call", {"handle": name, "rights": rights, "out": out})

    def close(self) -> GenStep:
        names = [h.name for h in self.w.handles if h.live]
        return self.close_named(str(self.pick([*names, "$invalid", "nobody"])))

    # -- zx_vmo_op_range ---------------------------------------------------------------

    def op_range(self, vmo: str | None = None, ops: Sequence[int] | None = None,
                 inside: bool = False, at: tuple[int, int] | None = None) -> GenStep:
        vmo = vmo if vmo is not None else self.vmo_handle()
        s, hi = self.size_of(vmo)
        o, _h = self.w.get(vmo)
        op = self.op() if ops is None else int(self.pick(ops))
        if at is not None:
            offset, size = at
        elif inside and op == abi.OP_DECOMMIT and self.num(0, 2):
            # DECOMMIT wants whole pages; an aligned range inside is where it acts.
            offset = int(self.pick([x for x in (0, self.p, s - self.p) if 0 <= x < s] or [0]))
            size = int(self.pick([x for x in (self.p, s - offset, 2 * self.p)
                                  if 0 < x <= s - offset] or [s - offset]))
        elif inside:
            offset, size = self.inside(s)
        else:
            offset = self.offset(s)
            whole = op in _LOCKS and self.num(0, 3) > 0
            if whole or (offset == 0 and self.num(0, 1) == 0):
                offset, size = 0, s  # the whole VMO: what the LOCK family needs
            else:
                size = self.length(s, offset)
        if op == abi.OP_COMMIT or (o is not None and o.pager_lineage and op in (
                abi.OP_PREFETCH, abi.OP_ALWAYS_NEED)):
            size = self.budget(offset, size, hi)
        buffer_size = abi.LOCK_STATE_SIZE if op == abi.OP_LOCK else 0
        buffer_null = False
        if op in _LOCKS:
            kind = self.num(0, 5)
            if kind == 3:
                buffer_null = True
            elif kind == 4:
                buffer_size = int(self.pick([0, abi.LOCK_STATE_SIZE - 1, 8]))
            elif kind == 5:
                buffer_size = 64
        return self._mk("vmo_op_range", "call",
                       {"vmo": vmo, "op": op, "offset": offset, "size": size,
                        "buffer_size": buffer_size, "buffer_null": buffer_null})

    def op(self) -> int:
        """A valid op (mostly), an invalid value, or two valid ops OR-ed together, as a
        trace writes "ZX_VMO_OP_TRY_LOCK|ZX_VMO_OP_COMMIT"."""
        k = self.num(0, len(self.op_table) + 1)
        if k < len(self.op_table):
            return self.op_table[k]
        return int(self.pick(_VALID_OPS)) | int(self.pick(_VALID_OPS))

    # -- the other calls ---------------------------------------------------------------

    def read(self, vmo: str | None = None, inside: bool = False) -> GenStep:
        vmo = vmo if vmo is not None else self.vmo_handle()
        s, hi = self.size_of(vmo)
        o, _ = self.w.get(vmo)
        if inside:
            offset, length = self.inside(s)
        else:
            offset = self.offset(s)
            length = self.length(s, offset)
        if o is not None and o.pager_lineage:
            length = self.budget(offset, length, hi)
        return self._mk("vmo_read", "call", {"vmo": vmo, "offset": offset, "length": length})

    def write(self, vmo: str | None = None, inside: bool = False) -> GenStep:
        vmo = vmo if vmo is not None else self.vmo_handle()
        s, _ = self.size_of(vmo)
        data = self.data()
        n = sum(c for _, c in data)
        p = self.p
        offsets = _clip([0, 1, p - 1, p, s - n, s - n + 1, s, s - 1, 2 * p + 3, 1 << 63, U64])
        if inside:
            offsets = [x for x in offsets if x + n <= s] or [0]
        offset = int(self.pick(offsets))
        return self._mk("vmo_write", "call", {"vmo": vmo, "offset": offset, "data": data})

    def get_size(self) -> GenStep:
        return self._mk("vmo_get_size", "call", {"vmo": self.vmo_handle()})

    def cache_policy(self, vmo: str | None = None) -> GenStep:
        """zx_vmo_set_cache_policy: the four policies, CACHED first, and now and then a
        value outside the mask."""
        vmo = vmo if vmo is not None else self.vmo_handle()
        policy = self.pick_or_any([abi.CACHE_POLICY_CACHED, abi.CACHE_POLICY_UNCACHED,
                                   abi.CACHE_POLICY_WRITE_COMBINING,
                                   abi.CACHE_POLICY_UNCACHED_DEVICE, 4, abi.U32_MAX], 255)
        return self._mk("vmo_set_cache_policy", "call", {"vmo": vmo, "cache_policy": policy})

    def contiguous(self) -> list[GenStep]:
        """A contiguous VMO (contiguous.*; the recorder's BTI), then two calls on it."""
        p = self.p
        size = int(self.pick([p, 2 * p, 4 * p, 0, p + 1]))
        align = int(self.pick([0, 12, 16, 11, 64]))
        out = self.w.fresh("g")
        shift = p.bit_length() - 1
        ok = size > 0 and size % p == 0 and (align == 0 or shift <= align < 64)
        self.w.add(out, _Obj(False, "contiguous", size, size), _VMO_RIGHTS, ok)
        self._focus([out], 2)
        return [self._mk("vmo_create_contiguous", "call",
                         {"size": size, "alignment_log2": align, "out": out}, "contiguous")]

    def physical(self) -> list[GenStep]:
        """A physical VMO (physical.*; the recorder's MMIO resource), then two calls on it."""
        p = self.p
        size = int(self.pick([p, 2 * p, 100, 0]))
        paddr = int(self.pick([1 << 28, 0, 1, U64 - p + 1]))
        out = self.w.fresh("m")
        ok = size > 0 and size % p == 0 and paddr % p == 0 and paddr + size - 1 <= U64
        self.w.add(out, _Obj(False, "physical", size, size), _VMO_RIGHTS, ok)
        self._focus([out], 2)
        return [self._mk("vmo_create_physical", "call",
                         {"paddr": paddr, "size": size, "out": out}, "physical")]

    def uncached(self) -> list[GenStep]:
        """An uncached VMO (cache_policy.*): a plain VMO, perhaps written first, made
        uncached, then two calls on it (a read or write, ZERO, a cache op, a child, the
        policy again)."""
        p = self.p
        made = self._new_vmo(int(self.pick([p, 2 * p, 4 * p])), 0, "plain")
        vmo = str(made.args["out"])
        pre = [self.write(vmo)] if self.num(0, 1) else []
        policy = self._mk("vmo_set_cache_policy", "call",
                          {"vmo": vmo, "cache_policy": int(self.pick([1, 3, 2]))})
        self._focus([vmo], 2)
        return [made, *pre, policy]

    def info(self, vmo: str | None = None) -> GenStep:
        vmo = vmo if vmo is not None else self.vmo_handle()
        return self._mk("vmo_info", "call", {"vmo": vmo})

    def set_size(self) -> GenStep:
        p = self.p
        vmo = self.vmo_handle()
        s, _ = self.size_of(vmo)
        size = int(self.pick(_clip([s + p, s - p, 0, p, s + 1, s - p + 5, 3 * p + 100,
                                    1 << 63, U64, U64 - p + 1, s, _MAX_SIZE + 1])))
        return self._set_size(vmo, size)

    def _set_size(self, vmo: str, size: int) -> GenStep:
        p = self.p
        s, _ = self.size_of(vmo)
        step = self._mk("vmo_set_size", "call", {"vmo": vmo, "size": size},
                        sized=set_size_class(size, s, p))
        o, h = self.w.get(vmo)
        rounded = _round_up(size, p)
        if h is not None and o is not None and rounded is not None:
            rec = self.w.size_rec(h.obj)
            if rec.resizable and rounded <= _MAX_SIZE:
                rec.size = rounded
                rec.size_hi = max(rec.size_hi, rounded)
        return step

    def pager_vmo(self) -> str:
        pvs = [h.name for h in self.w.vmo_handles() if self.w.objs[h.obj].pager_lineage]
        if pvs and self.num(0, 9) < 9:
            return str(self.pick(list(reversed(pvs))))
        return self.vmo_handle()

    def supply(self) -> GenStep:
        p = self.p
        pager = self.pager_handle()
        vmo = self.pager_vmo()
        s, hi = self.size_of(vmo)
        offset = int(self.pick(_clip([0, p, s - p, s, 1, s + p, U64 - p + 1])))
        length = int(self.pick(_clip([p, s - offset, 0, 2 * p, s, 1, s + p, U64 - p + 1])))
        length = self.budget(offset, length, hi)
        return self._mk("pager_supply_pages", "call",
                       {"pager": pager, "vmo": vmo, "offset": offset, "length": length})

    def pager_fail(self, vmo: str | None = None, pager: str | None = None,
                   codes_only: bool = False) -> GenStep:
        p = self.p
        pager = pager if pager is not None else self.pager_handle()
        vmo = vmo if vmo is not None else self.pager_vmo()
        s, _ = self.size_of(vmo)
        if codes_only:  # a scenario's failure: a valid range
            offset = int(self.pick([x for x in (0, p, s - p) if 0 <= x < s] or [0]))
            length = int(self.pick([x for x in (p, s - offset) if 0 < x <= s - offset]
                                   or [p]))
        else:
            offset = int(self.pick(_clip([0, p, s - p, s, 1, s + p, U64 - p + 1])))
            length = int(self.pick(_clip([s - offset, p, 2 * p, 0, s, 1, s + p,
                                          U64 - p + 1])))
        # The five codes ZX_PAGER_OP_FAIL accepts, then invalid ones.
        error = int(self.pick(_FAIL_CODES if codes_only else [
            *_FAIL_CODES, abi.OK, abi.ERR_INVALID_ARGS, abi.ERR_INTERNAL, abi.ERR_NOT_FOUND]))
        return self._mk("pager_fail", "call", {"pager": pager, "vmo": vmo, "offset": offset,
                                              "length": length, "error": error})

    def reclaim(self, vmo: str | None = None) -> GenStep:
        return self._mk("reclaim", "event", {"vmo": vmo if vmo is not None else self.vmo_handle()})

    # -- scenarios ---------------------------------------------------------------------

    def observe(self, vmo: str) -> GenStep:
        """A look at a VMO: a read of all of it (up to BUDGET_PAGES pages), a read of a
        range drawn as any other, or ZX_INFO_VMO."""
        k = self.num(0, 3)
        if k == 0:
            s, hi = self.size_of(vmo)
            return self._mk("vmo_read", "call",
                           {"vmo": vmo, "offset": 0, "length": self.budget(0, s, hi)})
        return self.read(vmo, inside=True) if k < 3 else self.info(vmo)

    def effect(self) -> list[GenStep]:
        """Write a VMO, act on it, look at it: the effects of each op on content and
        committed pages become visible. The next steps stay on it."""
        roots = [h.name for h in self.w.vmo_handles()
                 if self.w.objs[h.obj].label in ("plain", "resizable", "discardable", "pager",
                                                 "pager-resizable")]
        vmo = self.vmo_handle() if not roots or self.num(0, 1) else str(
            self.pick(list(reversed(roots))))
        self._focus([vmo], 2)
        ops = _EFFECT_OPS if self.num(0, 2) else None
        s, hi = self.size_of(vmo)
        look = (self._mk("vmo_read", "call", {"vmo": vmo, "offset": 0,
                                             "length": self.budget(0, s, hi)})
                if self.num(0, 1) else self.observe(vmo))
        return [self.write(vmo, inside=True), self.op_range(vmo, ops, inside=self.num(0, 3) > 0),
                look]

    def cow(self) -> list[GenStep]:
        """A snapshot (or slice) of a written VMO; then one side is changed and one is
        looked at. The next steps stay on the two."""
        anon = [h.name for h in self.w.vmo_handles()
                if not self.w.objs[h.obj].pager_lineage and not self.w.objs[h.obj].discardable]
        pre: list[GenStep] = []
        if not anon:
            pre.append(self.create())
            anon = [pre[-1].args["out"]]
        parent = str(self.pick(list(reversed(anon))))
        opts = int(self.pick([_C.CHILD_SNAPSHOT, _C.CHILD_SNAPSHOT_AT_LEAST_ON_WRITE,
                              _C.CHILD_SNAPSHOT_MODIFIED, _C.CHILD_SNAPSHOT | _C.CHILD_RESIZABLE,
                              _C.CHILD_SLICE]))
        steps = [*pre, self.write(parent, inside=True),
                 self.create_child(parent, opts, simple=self.num(0, 3) > 0)]
        pair = [parent, steps[-1].args["out"]]
        k = self.num(0, 1)
        changed, other = pair[k], pair[1 - k]
        steps.append(self.write(changed, inside=True) if self.num(0, 1)
                     else self.op_range(changed, _EFFECT_OPS, inside=True))
        if self.num(0, 2):
            s, hi = self.size_of(other)
            steps.append(self._mk("vmo_read", "call",
                                 {"vmo": other, "offset": 0, "length": self.budget(0, s, hi)}))
        else:
            steps.append(self.observe(changed))
        self._focus(pair, 2)
        return steps

    def discard_cycle(self) -> list[GenStep]:
        """LOCK (once or twice), write, UNLOCK (none, once or twice), reclaim, then one
        more call on it: the VMO was discarded if all its locks were dropped (COMMIT
        is NOT_FOUND there, TRY_LOCK UNAVAILABLE, LOCK reports it)."""
        pre: list[GenStep] = []
        cands = [h.name for h in self.w.vmo_handles() if self.w.objs[h.obj].discardable]
        if not cands:
            p = self.p
            pre.append(self._new_vmo(int(self.pick([p, 2 * p, 4 * p])), abi.VMO_DISCARDABLE,
                                     "discardable", discardable=True))
            cands = [pre[-1].args["out"]]
        vmo = str(self.pick(list(reversed(cands))))
        s, _ = self.size_of(vmo)
        locks = [self.op_range(vmo, [abi.OP_LOCK, abi.OP_TRY_LOCK])
                 for _ in range(1 + self.num(0, 1))]
        written = self.write(vmo)
        unlocks = [self._mk("vmo_op_range", "call",
                            {"vmo": vmo, "op": abi.OP_UNLOCK, "offset": 0, "size": s,
                             "buffer_size": 0, "buffer_null": False})
                   for _ in range(int(self.pick([1, 0, 2])))]
        reclaim = self.reclaim(vmo)
        o, _h = self.w.get(vmo)
        if o is not None and len(unlocks) >= len(locks):
            o.discarded = True  # every lock dropped, then reclaimed (it holds a page)
        k = self.num(0, 3)
        then = (self.op_range(vmo, [abi.OP_COMMIT, abi.OP_TRY_LOCK, abi.OP_LOCK, abi.OP_ZERO,
                                    abi.OP_UNLOCK, abi.OP_DECOMMIT]) if k == 0
                else self.read(vmo) if k == 1 else self.write(vmo) if k == 2
                else self.info(vmo))
        self._focus([vmo], 2)
        return [*pre, *locks, written, *unlocks, reclaim, then]

    def rights(self) -> list[GenStep]:
        """A duplicate with fewer rights (or then closed), then calls through it: each
        right check, and BAD_HANDLE after a close, meets a call that would otherwise
        succeed."""
        live = self.w.vmo_handles()
        src = live[-1 - self.num(0, len(live) - 1)]
        r = abi
        cut = int(self.pick([r.RIGHT_WRITE, r.RIGHT_READ, r.RIGHT_READ | r.RIGHT_WRITE,
                             r.RIGHT_DUPLICATE, r.RIGHT_RESIZE, 0]))
        out = self.w.fresh("h")
        self.w.handles.append(_Handle(out, src.obj, src.rights & ~cut,
                                      bool(src.rights & r.RIGHT_DUPLICATE)))
        steps = [self._mk("handle_duplicate", "call",
                         {"handle": src.name, "rights": src.rights & ~cut, "out": out})]
        if cut == 0:
            steps.append(self.close_named(out))
        else:
            self._focus([out], 2)
        for _ in range(2):
            k = self.num(0, 5)
            steps.append(self.op_range(out, _VALID_OPS, inside=True) if k < 3
                         else self.read(out, inside=True) if k == 3
                         else self.write(out, inside=True) if k == 4
                         else self.create_child(out))
        return steps

    def close_named(self, name: str) -> GenStep:
        for h in self.w.handles:
            if h.name == name:
                h.live = False
        return self._mk("handle_close", "call", {"handle": name})

    def pager_root(self, fresh: int = 4) -> tuple[list[GenStep], str]:
        """A live, non-empty pager VMO made by pager_create_vmo: an existing one, or (one
        time in `fresh`, or when there is none) a new one, all of its pages absent."""
        roots = [h.name for h in self.w.vmo_handles()
                 if self.w.objs[h.obj].pager_name and self.w.objs[h.obj].size]
        if roots and self.num(0, fresh - 1):
            return [], str(self.pick(list(reversed(roots))))
        pre = [] if self.w.pager_handles() else [self.pager_create()]
        pager = self.w.pager_handles()[-1].name
        p = self.p
        size = int(self.pick([2 * p, p, 4 * p, 3 * p]))
        out = self.w.fresh("pv")
        oid = len(self.w.objs) + 1
        self.w.add(out, _Obj(False, "pager", size, size, pager_lineage=True, pager_name=pager,
                             root=oid), _VMO_RIGHTS, True)
        return [*pre, self._mk("pager_create_vmo", "call",
                              {"pager": pager, "options": 0, "size": size, "out": out},
                              "pager")], out

    def pager_failure(self) -> list[GenStep]:
        """pager_fail of a range with one of the five codes, then a call that requests
        pages there (COMMIT, ZERO of part of a page, PREFETCH, ALWAYS_NEED, a read)."""
        pre, vmo = self.pager_root(fresh=2)
        o, _ = self.w.get(vmo)
        assert o is not None
        fail = self.pager_fail(vmo, o.pager_name, codes_only=True)
        p = self.p
        offset = fail.args["offset"] + int(self.pick([0, 1, p // 2]))
        size = int(self.pick([p, 1, p - 1, max(fail.args["length"], 1)]))
        size = self.budget(offset, size, self.size_of(vmo)[1])
        k = self.num(0, 4)
        if k == 4:
            then = self._mk("vmo_read", "call", {"vmo": vmo, "offset": offset, "length": size})
        else:
            then = self._mk("vmo_op_range", "call",
                           {"vmo": vmo, "op": _PAGER_OPS[k],
                            "offset": offset, "size": size, "buffer_size": 0,
                            "buffer_null": False})
        self._focus([vmo], 2)
        return [*pre, fail, then]

    def pager_hints(self) -> list[GenStep]:
        """A hint (ALWAYS_NEED or DONT_NEED) on a pager VMO, pages read in, then reclaim:
        what reclaim may evict depends on the hints."""
        pre, vmo = self.pager_root()
        self._focus([vmo], 2)
        return [*pre, self.op_range(vmo, [abi.OP_ALWAYS_NEED, abi.OP_DONT_NEED], inside=True),
                self.read(vmo, inside=True), self.reclaim(vmo)]


    def window(self) -> list[GenStep]:
        """A slice at a page offset (or at 0) of a written VMO; an effect through the
        slice; then a look at the parent or the slice. A window translated wrongly
        shows only where the slice does not start at 0."""
        p = self.p
        roots = [h.name for h in self.w.vmo_handles()
                 if self.w.objs[h.obj].label == "plain"
                 and 2 * p <= self.w.objs[h.obj].size <= 16 * p]
        pre: list[GenStep] = []
        if not roots or self.num(0, 2) == 0:
            pre.append(self._new_vmo(int(self.pick([4 * p, 3 * p, 8 * p, 2 * p])), 0, "plain"))
            roots = [pre[-1].args["out"]]
        parent = str(self.pick(list(reversed(roots))))
        s, _ = self.size_of(parent)
        fill = ((1 + self.num(0, 254), s),)
        pre.append(self._mk("vmo_write", "call", {"vmo": parent, "offset": 0, "data": fill}))
        offset = int(self.pick([x for x in (p, s - p, 2 * p, 0) if x < s] or [0]))
        size = int(self.pick([x for x in (s - offset, p, 2 * p) if 0 < x <= s - offset]))
        child = self.create_child(parent, _C.CHILD_SLICE, window=(offset, size))
        name = child.args["out"]
        k = self.num(0, 3)
        cs, _ = self.size_of(name)
        at = self._ranged(str(self.pick(["whole-pages", "head-tail", "in-one-page",
                                         "past-end"])), cs)
        act = (self.write(name, inside=True) if k == 3 else
               self.op_range(name, [abi.OP_ZERO, abi.OP_DECOMMIT, abi.OP_COMMIT,
                                    abi.OP_ZERO], at=at))
        look_at = parent if self.num(0, 1) == 0 else name
        ls, hi = self.size_of(look_at)
        look = self._mk("vmo_read", "call",
                        {"vmo": look_at, "offset": 0, "length": self.budget(0, ls, hi)})
        self._focus([parent, name], 2)
        return [*pre, child, act, look]

    def resize_tail(self) -> list[GenStep]:
        """A resizable VMO written to its end, resized (often to an unaligned size that
        does not grow it), then its last page read: a resize zeroes the bytes between
        the new size and the page boundary."""
        p = self.p
        cands = [h.name for h in self.w.vmo_handles() if self.w.objs[h.obj].resizable
                 and not self.w.objs[h.obj].shares and 0 < self.w.objs[h.obj].size <= 16 * p]
        pre: list[GenStep] = []
        if not cands or self.num(0, 2) == 0:
            pre.append(self._new_vmo(int(self.pick([2 * p, p, 4 * p, 3 * p])),
                                     abi.VMO_RESIZABLE, "resizable", resizable=True))
            cands = [pre[-1].args["out"]]
        vmo = str(self.pick(list(reversed(cands))))
        s, _ = self.size_of(vmo)
        if s:
            pre.append(self._mk("vmo_write", "call",
                                {"vmo": vmo, "offset": 0, "data": ((1 + self.num(0, 254), s),)}))
        new = int(self.pick(_clip([s - p // 2, s - p - 1, s - 1, p + 5, 1, s - p, s + 1,
                                   s + p // 2])))
        resize = self._set_size(vmo, new)
        s2, hi = self.size_of(vmo)
        lo = new // p * p
        k = self.num(0, 2)
        offset, length = ((lo, s2 - lo) if k == 0 else (new, p) if k == 1 else (0, s2))
        look = self._mk("vmo_read", "call", {"vmo": vmo, "offset": offset,
                                             "length": self.budget(offset, length, hi)})
        self._focus([vmo], 2)
        return [*pre, resize, look]


    def aim(self) -> list[GenStep]:
        """Behavioural coverage by construction: a kind of target (TARGETS) is built,
        or one already built is taken, then a call acts on it with a range of a chosen
        class (RANGES), or a set_size of a chosen class, and a look follows."""
        p = self.p
        kind = TARGETS[self.num(0, len(TARGETS) - 1)]
        pre, name = self._build(kind)
        s, hi = self.size_of(name)
        k = self.num(0, 9)
        if k == 9:
            size = int(self.pick(_clip([s + p, s - p // 2, s, s - p, _MAX_SIZE + 1])))
            act = self._set_size(name, size)
        else:
            offset, size = self._ranged(RANGES[self.num(0, len(RANGES) - 1)], s)
            if k < 7:
                act = self.op_range(name, at=(offset, size))
            elif k == 7:
                act = self._mk("vmo_read", "call", {"vmo": name, "offset": offset,
                                                    "length": self.budget(offset, size, hi)})
            else:
                n = min(size, 2 * p + 1)
                act = self._mk("vmo_write", "call", {"vmo": name, "offset": offset,
                                                     "data": ((1 + self.num(0, 254), n),)
                                                     if n else ()})
        self._focus([name], 2)
        return [*pre, act, self.observe(name)]

    def _ranged(self, cls: str, s: int) -> tuple[int, int]:
        """An (offset, size) of the range class `cls` against a VMO of size s."""
        p = self.p
        pages = s // p
        if cls == "size-0":
            return int(self.pick(_clip([0, p, s, 1]))), 0
        if cls == "overflow":
            return int(self.pick([U64 - p + 1, 1 << 63, U64])), int(self.pick([2 * p, U64]))
        if cls == "past-end" or not pages:
            return int(self.pick(_clip([s - p, s, 0, s + p]))), int(self.pick([2 * p, p + 1]))
        first = self.num(0, pages - 1)
        if cls == "whole-pages":
            return first * p, p * (1 + self.num(0, pages - first - 1))
        if cls == "in-one-page":
            lo = self.num(0, p - 1)
            return first * p + lo, 1 + self.num(0, p - lo - 1)
        if pages - first < 2:  # head-tail needs two pages
            first = max(0, pages - 2)
        if pages < 2:
            return first * p + 1, p - 1  # in one page after all: the best a page allows
        return first * p + self.num(1, p - 1), p + self.num(0, p - 1)

    def _build(self, kind: str) -> tuple[list[GenStep], str]:
        """A live handle to a VMO of the target kind: one already there (one time in
        two), or built now."""
        p = self.p
        have = [h.name for h in self.w.vmo_handles()
                if self._target(self.w.objs[h.obj]) == kind
                and self.w.objs[h.obj].size <= 16 * p]
        if have and self.num(0, 1):
            return [], str(self.pick(list(reversed(have))))
        size = int(self.pick([4 * p, 2 * p, 3 * p]))
        if kind == "pager-root" or kind == "read-through":
            pre, root = self.pager_root(fresh=1)
            if kind == "pager-root":
                return pre, root
            child = self.create_child(root, _C.CHILD_SNAPSHOT_AT_LEAST_ON_WRITE, simple=True)
            return [*pre, child], child.args["out"]
        if kind == "discarded":
            made = self._new_vmo(size, abi.VMO_DISCARDABLE, "discardable", discardable=True)
            out = made.args["out"]
            whole = {"vmo": out, "offset": 0, "size": size, "buffer_size": 0,
                     "buffer_null": False}
            steps = [made,
                     self._mk("vmo_op_range", "call", {**whole, "op": abi.OP_TRY_LOCK}),
                     self._mk("vmo_write", "call", {"vmo": out, "offset": 0,
                                                    "data": ((1 + self.num(0, 254), p),)}),
                     self._mk("vmo_op_range", "call", {**whole, "op": abi.OP_UNLOCK}),
                     self.reclaim(out)]
            o, _ = self.w.get(out)
            assert o is not None
            o.discarded = True
            return steps, out
        made = self._new_vmo(size, 0, "plain")
        out = made.args["out"]
        pre = [made,
               self._mk("vmo_write", "call", {"vmo": out, "offset": 0,
                                              "data": ((1 + self.num(0, 254), size),)})]
        if kind == "root":
            return pre, out
        opts, window = {"slice-at-0": (_C.CHILD_SLICE, (0, size - p)),
                        "slice-at-page": (_C.CHILD_SLICE, (p, size - p)),
                        "reference": (_C.CHILD_REFERENCE, (0, 0)),
                        "snapshot": (_C.CHILD_SNAPSHOT, (0, size)),
                        "original": (_C.CHILD_SNAPSHOT, (0, size))}[kind]
        child = self.create_child(out, opts, window=window)
        return [*pre, child], (out if kind == "original" else child.args["out"])


class TraceSource:
    """Decodes a trace one step at a time, so a caller can run each step before the
    next is decoded (the fuzzer does: a trace then ends at its first divergence)."""

    def __init__(self, choices: Choices | bytes, page: int = 4096,
                 avoid: frozenset[str] = AVOIDABLE) -> None:
        self.choices = choices if isinstance(choices, Choices) else Choices(choices)
        self._gen = _Gen(self.choices, page, avoid)
        self.page = page
        self.config = {"debugging_syscalls": self.choices.num(0, 3) == 3,
                       "page_loaning": False}
        self._gen.swarm()
        self.steps: list[GenStep] = []

    def next(self) -> list[GenStep]:
        """The next step (a scenario: a few), or [] when the trace ends here (a choice
        to end it, or no choices left)."""
        if self.choices.exhausted and self.steps:
            return []
        made = self._gen.step(first=not self.steps)
        self.steps.extend(made)
        return made

    def trace(self) -> GenTrace:
        return GenTrace(self.page, dict(self.config), tuple(self.steps))


def slot_size(max_steps: int = 30) -> int:
    """The bytes one trace is decoded from: a step reads about 4.5, so this is enough
    that a trace mostly ends by its own choice or at max_steps."""
    return min(CHOICE_BYTES, 8 * max_steps)


def choice_bytes(max_steps: int = 30, slots: int = 1) -> st.SearchStrategy[bytes]:
    """The byte strings traces are decoded from, `slots` traces' worth (`slots(buf)`
    cuts them apart). Of one size: hypothesis draws a string of varying size a byte at
    a time, which took a third of the run."""
    n = slot_size(max_steps) * slots
    return st.binary(min_size=n, max_size=n)


def slots(buf: bytes, max_steps: int = 30) -> list[bytes]:
    """The slots of a string from `choice_bytes`, one per trace. Each trace has its own
    bytes, so shrinking one never shifts another."""
    n = slot_size(max_steps)
    return [buf[i:i + n] for i in range(0, len(buf), n)]


def decode(buf: bytes, page: int = 4096, max_steps: int = 30,
           avoid: frozenset[str] = AVOIDABLE) -> GenTrace:
    """The whole trace a byte string decodes to: 1..max_steps steps (a scenario may
    run a few past it)."""
    source = TraceSource(buf, page, avoid)
    while len(source.steps) < max_steps and source.next():
        pass
    return source.trace()


def traces(page: int = 4096, max_steps: int = 30,
           avoid: frozenset[str] = AVOIDABLE) -> st.SearchStrategy[GenTrace]:
    """Whole vmo-traces. `avoid` names the known disagreements to steer clear of."""
    return choice_bytes(max_steps).map(lambda b: decode(b, page, max_steps, avoid))
