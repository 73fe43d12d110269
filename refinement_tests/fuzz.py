"""The refinement fuzzer: generated traces, run in lockstep on a backend and the spec.

`traces()` is a hypothesis strategy for whole vmo-trace v1 traces. It keeps an abstract
picture of the world it has built (which handle names it bound, to what kind of VMO or
pager, with which rights, of roughly which size) so that later steps mostly name live
handles and draw offsets and sizes from the values where the semantics change (0, 1,
page-1, page, page+1, size-page, size, size+1, 2^63, 2^64-1, unaligned ones), not
uniform noise. It covers every call and event of trace-format.md, handles with reduced
rights, every kind of VMO a v1 trace can create, invalid and OR-ed op values, and
pager_fail with the five codes (and invalid ones).

`lockstep()` runs a trace step by step on a backend and, in step with it, on the spec:
each observed outcome must be one the spec allows from one of the states it may be in
(`explore` + `agrees`, as the checker does); the possible states are then narrowed to
those whose outcome agreed. A step that no state explains is a divergence.

`fuzz()` drives hypothesis: a divergence fails the example, hypothesis shrinks it, and
every smaller failing trace found on the way is written (atomically) into the output
directory at once, so an interrupted run loses nothing. The final file is the shrunk
trace, with the backend's observed outcomes, ready for `vmospec check`.

The zircon profiles assume allocations succeed (`may_run_out_of_memory` is off), while
the model has a finite frame pool and spends Python time per page it commits. So no
generated step asks for more than BUDGET_PAGES pages of work that needs frames
(COMMIT; PREFETCH, ALWAYS_NEED and reads of pager-backed VMOs; supplies): a range whose
in-bounds part is longer is shortened to that. Ranges past the end are never shortened.
"""

from __future__ import annotations

import hashlib
import random
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, Phase, Verbosity, given, seed, settings
from hypothesis import strategies as st

from refinement_tests.backends import Backend, BackendError
from refinement_tests.checker import Allowed, agrees
from refinement_tests.coverage import Coverage, spec_reachable
from refinement_tests.trace import Header, StatusExpect, Step, step_to_json, write_trace
from spec import abi
from spec.explore import Cx, explore
from spec.outcome import Outcome
from spec.profiles import Profile
from spec.state import EMPTY_STATE, State
from spec.transitions import transition
from spec.values import Concrete

__all__ = [
    "BUDGET_PAGES",
    "Divergence",
    "FuzzReport",
    "GenStep",
    "GenTrace",
    "LockstepResult",
    "fuzz",
    "lockstep",
    "traces",
    "write_failing_trace",
]

U64 = abi.U64_MAX
BUDGET_PAGES = 64  # the most pages one generated step may need frames for
_AVOID: set[str] = set()
MAX_STATES = 256  # as the checker: past this many possible states, stop the trace


# --- generated traces --------------------------------------------------------------------


@dataclass(frozen=True)
class GenStep:
    name: str
    kind: str  # "call" or "event"
    args: dict[str, Any]
    vmo_kind: str | None = None  # the kind of VMO this step creates, for coverage


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
    pager_lineage: bool = False  # pages come from a pager
    resizable: bool = False
    shares: int | None = None  # a reference: the object whose size it follows


@dataclass
class _Handle:
    name: str
    obj: int
    rights: int
    live: bool = True


_VMO_RIGHTS = abi.DEFAULT_VMO_RIGHTS
_MAX_SIZE = (U64 // (32 * 4096)) * (32 * 4096)


class _World:
    def __init__(self, page: int) -> None:
        self.p = page
        self.objs: dict[int, _Obj] = {}
        self.handles: list[_Handle] = []
        self.count = 0

    def fresh(self, prefix: str) -> str:
        self.count += 1
        return f"{prefix}{self.count}"

    def add(self, out: str, obj: _Obj, rights: int) -> None:
        oid = len(self.objs) + 1
        self.objs[oid] = obj
        self.handles.append(_Handle(out, oid, rights))

    def size_rec(self, oid: int) -> _Obj:
        o = self.objs[oid]
        while o.shares is not None:
            o = self.objs[o.shares]
        return o

    def vmo_handles(self, live: bool = True) -> list[_Handle]:
        return [h for h in self.handles
                if not self.objs[h.obj].is_pager and (h.live or not live)]

    def pager_handles(self) -> list[_Handle]:
        return [h for h in self.handles if self.objs[h.obj].is_pager and h.live]


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


class _Gen:
    """Draws one trace, step by step, from a hypothesis `draw`."""

    def __init__(self, draw: Callable[[st.SearchStrategy[Any]], Any], page: int) -> None:
        self.draw = draw
        self.p = page
        self.w = _World(page)

    def with_draw(self, draw: Callable[[st.SearchStrategy[Any]], Any]) -> _Gen:
        self.draw = draw
        return self

    # -- values ----------------------------------------------------------------------------

    def pick(self, options: Sequence[Any]) -> Any:
        return self.draw(st.sampled_from(list(options)))

    def offset(self, s: int) -> int:
        p = self.p
        opts = _clip([0, p, 1, p - 1, p + 1, s - p, s, s + 1, s - 1, 2 * p + 7, s + p,
                      1 << 63, U64, U64 - p + 1])
        if self.draw(st.integers(0, 7)) == 7:
            return int(self.draw(st.integers(0, s + 2 * p)))
        return int(self.pick(opts))

    def length(self, s: int, off: int) -> int:
        p = self.p
        opts = _clip([p, 0, 1, p - 1, p + 1, s - off, s - off + 1, s, s + 1, s - p,
                      2 * p, 1 << 63, U64, U64 - p + 1, (1 << 64) - off, (1 << 64) - off - 1])
        if self.draw(st.integers(0, 7)) == 7:
            return int(self.draw(st.integers(0, s + 2 * p)))
        return int(self.pick(opts))

    def vmo_size(self) -> int:
        return self._avoid(self._vmo_size())

    def _avoid(self, size: int) -> int:
        if "d1" in _AVOID and size > _MAX_SIZE and size != U64:
            return U64
        return size

    def _vmo_size(self) -> int:
        p = self.p
        opts = [p, 2 * p, 4 * p, 0, 1, p - 1, p + 1, 3 * p, 8 * p, 16 * p + 5, 1 << 63, U64,
                U64 - p + 1, U64 - 2 * p + 1]
        if self.draw(st.integers(0, 9)) == 9:
            return int(self.draw(st.integers(0, 16 * p)))
        return int(self.pick(opts))

    def budget(self, off: int, length: int, hi: int) -> int:
        """`length`, shortened so that [off, off + length) ∩ [0, hi) spans at most
        BUDGET_PAGES pages; a range that starts at or past `hi` is left alone."""
        p = self.p
        lo = off - off % p
        end = min(off + length, hi)
        if end <= lo:
            return length
        pages = -(-end // p) - lo // p
        if pages <= BUDGET_PAGES:
            return length
        return lo + BUDGET_PAGES * p - off

    def vmo_handle(self) -> str:
        """Mostly a live VMO handle; sometimes a pager handle (WRONG_TYPE), a closed or
        never bound name, or $invalid (BAD_HANDLE)."""
        live = self.w.vmo_handles()
        k = self.draw(st.integers(0, 19))
        if live and k < 18:
            # The newest handles a little more often: they are what the trace just built.
            i = self.draw(st.integers(0, len(live) - 1))
            return live[-1 - i].name
        others = ["$invalid", "nobody"] + [h.name for h in self.w.handles if not h.live]
        others += [h.name for h in self.w.pager_handles()]
        return str(self.pick(others))

    def pager_handle(self) -> str:
        pagers = self.w.pager_handles()
        if pagers and self.draw(st.integers(0, 9)) < 9:
            return str(self.pick([h.name for h in reversed(pagers)]))
        live = [h.name for h in self.w.vmo_handles()]
        return str(self.pick(["$invalid", "nobody", *live]))

    def believed(self, name: str) -> tuple[_Obj | None, _Handle | None]:
        for h in self.w.handles:
            if h.name == name:
                return self.w.objs[h.obj], h
        return None, None

    def size_of(self, name: str) -> tuple[int, int]:
        o, h = self.believed(name)
        if o is None or h is None or o.is_pager:
            return 4 * self.p, 4 * self.p
        rec = self.w.size_rec(h.obj)
        return rec.size, rec.size_hi

    def data(self) -> tuple[tuple[int, int], ...]:
        p = self.p
        n = int(self.pick([1, p, 0, 2, 8, p + 1, p - 1, 2 * p + 3]))
        if n == 0:
            return ()
        cut = int(self.draw(st.integers(0, n)))
        a = int(self.draw(st.integers(0, 255)))
        b = int(self.draw(st.integers(0, 255)))
        runs = [(a, cut), (b, n - cut)]
        out: list[tuple[int, int]] = []
        for byte, c in runs:
            if c == 0:
                continue
            if out and out[-1][0] == byte:
                out[-1] = (byte, out[-1][1] + c)
            else:
                out.append((byte, c))
        return tuple(out)

    # -- steps -----------------------------------------------------------------------------

    def step(self) -> list[GenStep]:
        """One generated call or event (two when a pager VMO needs its pager first)."""
        have_vmo = bool(self.w.vmo_handles())
        if not have_vmo:
            return self.pick_create()
        table: list[tuple[int, Callable[[], GenStep | list[GenStep]]]] = [
            (40, self.op_range),
            (7, self.write),
            (6, self.read),
            (5, self.info),
            (6, self.create_child),
            (5, self.duplicate),
            (5, self.reclaim),
            (4, self.set_size),
            (4, self.pager_fail),
            (3, self.supply),
            (3, self.close),
            (3, self.create),
            (3, self.pager_create_vmo),
            (2, self.get_size),
            (1, self.pager_create),
        ]
        total = sum(w for w, _ in table)
        k = int(self.draw(st.integers(0, total - 1)))
        for weight, fn in table:
            if k < weight:
                made = fn()
                return made if isinstance(made, list) else [made]
            k -= weight
        raise AssertionError("unreachable")

    def pick_create(self) -> list[GenStep]:
        if self.draw(st.integers(0, 3)) < 3:
            return [self.create()]
        return self.pager_create_vmo()

    def create(self) -> GenStep:
        p = self.p
        size = self.vmo_size()
        opts = int(self.pick([0, abi.VMO_DISCARDABLE, abi.VMO_RESIZABLE,
                              abi.VMO_RESIZABLE | abi.VMO_DISCARDABLE, abi.VMO_UNBOUNDED,
                              abi.VMO_UNBOUNDED | abi.VMO_RESIZABLE, abi.VMO_TRAP_DIRTY, 1 << 9]))
        if "d1" in _AVOID and opts == abi.VMO_UNBOUNDED:
            opts = 0
        out = self.w.fresh("v")
        if opts & abi.VMO_UNBOUNDED:
            label, rounded = "unbounded", _MAX_SIZE
        else:
            label = ("discardable" if opts & abi.VMO_DISCARDABLE
                     else "resizable" if opts & abi.VMO_RESIZABLE else "plain")
            rounded = _round_up(size, p) or 0
        resizable = bool(opts & abi.VMO_RESIZABLE)
        self.w.add(out, _Obj(False, label, rounded, rounded, resizable=resizable),
                   _VMO_RIGHTS | (abi.RIGHT_RESIZE if resizable else 0))
        return GenStep("vmo_create", "call", {"size": size, "options": opts, "out": out}, label)

    def pager_create(self) -> GenStep:
        out = self.w.fresh("p")
        self.w.add(out, _Obj(True), abi.DEFAULT_PAGER_RIGHTS)
        return GenStep("pager_create", "call", {"out": out})

    def pager_create_vmo(self) -> list[GenStep]:
        pre: list[GenStep] = []
        if not self.w.pager_handles():
            pre.append(self.pager_create())
        pager = self.pager_handle()
        size = self.vmo_size()
        opts = int(self.pick([0, abi.VMO_RESIZABLE, abi.VMO_TRAP_DIRTY, abi.VMO_DISCARDABLE,
                              abi.VMO_UNBOUNDED, abi.VMO_UNBOUNDED | abi.VMO_RESIZABLE, 1 << 9]))
        if "d1" in _AVOID and opts == abi.VMO_UNBOUNDED:
            opts = 0
        if "d3" in _AVOID and opts == abi.VMO_UNBOUNDED | abi.VMO_RESIZABLE:
            opts = abi.VMO_RESIZABLE
        if "d4" in _AVOID and opts == abi.VMO_DISCARDABLE:
            size = 4096
        out = self.w.fresh("pv")
        rounded = _MAX_SIZE if opts & abi.VMO_UNBOUNDED else (_round_up(size, self.p) or 0)
        resizable = bool(opts & abi.VMO_RESIZABLE)
        label = "pager-resizable" if resizable else "pager"
        self.w.add(out, _Obj(False, label, rounded, rounded, pager_lineage=True,
                             resizable=resizable),
                   _VMO_RIGHTS | (abi.RIGHT_RESIZE if resizable else 0))
        return [*pre, GenStep("pager_create_vmo", "call",
                              {"pager": pager, "options": opts, "size": size, "out": out},
                              label)]

    def create_child(self) -> GenStep:
        p = self.p
        parent = self.vmo_handle()
        s, _hi = self.size_of(parent)
        c = abi
        opts = int(self.pick([
            c.CHILD_SNAPSHOT, c.CHILD_SLICE, c.CHILD_REFERENCE, c.CHILD_SNAPSHOT_AT_LEAST_ON_WRITE,
            c.CHILD_SNAPSHOT_MODIFIED, c.CHILD_SNAPSHOT | c.CHILD_RESIZABLE,
            c.CHILD_SNAPSHOT_AT_LEAST_ON_WRITE | c.CHILD_RESIZABLE,
            c.CHILD_REFERENCE | c.CHILD_RESIZABLE, c.CHILD_SNAPSHOT | c.CHILD_NO_WRITE,
            c.CHILD_SLICE | c.CHILD_NO_WRITE, c.CHILD_SNAPSHOT_AT_LEAST_ON_WRITE | c.CHILD_NO_WRITE,
            c.CHILD_SNAPSHOT | c.CHILD_SLICE, 0, c.CHILD_SNAPSHOT | c.CHILD_RESIZABLE
            | c.CHILD_NO_WRITE, 1 << 10]))
        if "d2" in _AVOID and opts == c.CHILD_SLICE | c.CHILD_NO_WRITE:
            opts = c.CHILD_SLICE
        if opts & c.CHILD_REFERENCE:
            offset = int(self.pick([0, p]))
            size = int(self.pick([0, p]))
        else:
            offset = int(self.pick(_clip([0, p, s - p, s, 1, s + p, 1 << 63, U64 - p + 1])))
            size = int(self.pick(_clip([s, p, 0, s - offset, 2 * p, s + p, 1, U64, 1 << 63])))
        po, ph = self.believed(parent)
        types = opts & (c.CHILD_SNAPSHOT | c.CHILD_SLICE | c.CHILD_REFERENCE
                        | c.CHILD_SNAPSHOT_AT_LEAST_ON_WRITE | c.CHILD_SNAPSHOT_MODIFIED)
        label = {c.CHILD_SNAPSHOT: "snapshot", c.CHILD_SLICE: "slice",
                 c.CHILD_REFERENCE: "reference",
                 c.CHILD_SNAPSHOT_AT_LEAST_ON_WRITE: "snapshot-at-least-on-write",
                 c.CHILD_SNAPSHOT_MODIFIED: "snapshot-modified"}.get(types, "invalid child")
        rounded = _round_up(size, p) or 0
        lineage = po is not None and po.pager_lineage
        resizable = bool(opts & c.CHILD_RESIZABLE)
        rights = ((ph.rights if ph else _VMO_RIGHTS) & ~abi.RIGHT_RESIZE
                  | abi.RIGHT_GET_PROPERTY | abi.RIGHT_SET_PROPERTY)
        if resizable:
            rights |= abi.RIGHT_RESIZE
        if opts & c.CHILD_NO_WRITE:
            rights &= ~abi.RIGHT_WRITE
        elif label.startswith("snapshot"):
            rights = rights & ~abi.RIGHT_EXECUTE | abi.RIGHT_WRITE
        out = self.w.fresh("c")
        if label == "reference" and ph is not None:
            obj = _Obj(False, label, 0, 0, pager_lineage=lineage, shares=ph.obj,
                       resizable=po is not None and po.resizable)
        else:
            obj = _Obj(False, label, rounded, rounded, pager_lineage=lineage,
                       resizable=resizable)
        self.w.add(out, obj, rights)
        return GenStep("vmo_create_child", "call",
                       {"vmo": parent, "options": opts, "offset": offset, "size": size,
                        "out": out}, label if label != "invalid child" else None)

    def duplicate(self) -> GenStep:
        live = [h for h in self.w.handles if h.live]
        name = str(self.pick([h.name for h in reversed(live)] + ["$invalid"]))
        _o, h = self.believed(name)
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
            self.w.handles.append(_Handle(out, h.obj, new))
        return GenStep("handle_duplicate", "call", {"handle": name, "rights": rights, "out": out})

    def close(self) -> GenStep:
        names = [h.name for h in self.w.handles if h.live]
        name = str(self.pick([*names, "$invalid", "nobody"]))
        for h in self.w.handles:
            if h.name == name:
                h.live = False
        return GenStep("handle_close", "call", {"handle": name})

    def op_range(self) -> GenStep:
        vmo = self.vmo_handle()
        s, hi = self.size_of(vmo)
        o, _h = self.believed(vmo)
        op = self.op()
        if self.draw(st.integers(0, 2)) == 0:
            offset, size = 0, s  # the whole VMO: what the LOCK family needs
        else:
            offset = self.offset(s)
            size = self.length(s, offset)
        if op == abi.OP_COMMIT or (o is not None and o.pager_lineage and op in (
                abi.OP_PREFETCH, abi.OP_ALWAYS_NEED)):
            size = self.budget(offset, size, hi)
        buffer_size = abi.LOCK_STATE_SIZE if op == abi.OP_LOCK else 0
        buffer_null = False
        if op in (abi.OP_LOCK, abi.OP_TRY_LOCK) or self.draw(st.integers(0, 19)) == 0:
            kind = int(self.draw(st.integers(0, 5)))
            if kind == 3:
                buffer_null = True
            elif kind == 4:
                buffer_size = int(self.pick([0, abi.LOCK_STATE_SIZE - 1, 8]))
            elif kind == 5:
                buffer_size = 64
        return GenStep("vmo_op_range", "call",
                       {"vmo": vmo, "op": op, "offset": offset, "size": size,
                        "buffer_size": buffer_size, "buffer_null": buffer_null})

    def op(self) -> int:
        k = int(self.draw(st.integers(0, 19)))
        valid = [abi.OP_COMMIT, abi.OP_LOCK, abi.OP_UNLOCK, abi.OP_TRY_LOCK, abi.OP_DECOMMIT,
                 abi.OP_ZERO, abi.OP_CACHE_SYNC, abi.OP_CACHE_INVALIDATE, abi.OP_CACHE_CLEAN,
                 abi.OP_CACHE_CLEAN_INVALIDATE, abi.OP_DONT_NEED, abi.OP_ALWAYS_NEED,
                 abi.OP_PREFETCH]
        if k < 17:
            return int(self.pick(valid))
        if k < 19:
            return int(self.pick([0, abi.OP_LOOKUP_HISTORIC, 15, 16, 1 << 31, 0xFFFFFFFF]))
        a = int(self.pick(valid))
        b = int(self.pick(valid))
        return a | b  # an OR-ed op: "ZX_VMO_OP_A|ZX_VMO_OP_B" in a trace

    def read(self) -> GenStep:
        vmo = self.vmo_handle()
        s, hi = self.size_of(vmo)
        o, _ = self.believed(vmo)
        offset = self.offset(s)
        length = self.length(s, offset)
        if o is not None and o.pager_lineage:
            length = self.budget(offset, length, hi)
        return GenStep("vmo_read", "call", {"vmo": vmo, "offset": offset, "length": length})

    def write(self) -> GenStep:
        vmo = self.vmo_handle()
        s, _ = self.size_of(vmo)
        data = self.data()
        n = sum(c for _, c in data)
        offset = int(self.pick(_clip([0, 1, self.p - 1, self.p, s - n, s - n + 1, s, s - 1,
                                      2 * self.p + 3, 1 << 63, U64])))
        return GenStep("vmo_write", "call", {"vmo": vmo, "offset": offset, "data": data})

    def get_size(self) -> GenStep:
        return GenStep("vmo_get_size", "call", {"vmo": self.vmo_handle()})

    def info(self) -> GenStep:
        return GenStep("vmo_info", "call", {"vmo": self.vmo_handle()})

    def set_size(self) -> GenStep:
        p = self.p
        vmo = self.vmo_handle()
        s, _ = self.size_of(vmo)
        size = int(self.pick(_clip([s + p, s - p, 0, p, s + 1, s - p + 5, 3 * p + 100, 1 << 63,
                                    U64, U64 - p + 1, s])))
        size = self._avoid(size)
        _o, h = self.believed(vmo)
        if h is not None:
            rec = self.w.size_rec(h.obj)
            rounded = _round_up(size, p)
            if rounded is not None and rounded <= _MAX_SIZE and rec.resizable:
                rec.size = rounded
                rec.size_hi = max(rec.size_hi, rounded)
        return GenStep("vmo_set_size", "call", {"vmo": vmo, "size": size})

    def pager_vmo(self) -> str:
        pvs = [h.name for h in self.w.vmo_handles() if self.w.objs[h.obj].pager_lineage]
        if pvs and self.draw(st.integers(0, 9)) < 9:
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
        return GenStep("pager_supply_pages", "call",
                       {"pager": pager, "vmo": vmo, "offset": offset, "length": length})

    def pager_fail(self) -> GenStep:
        p = self.p
        pager = self.pager_handle()
        vmo = self.pager_vmo()
        s, _ = self.size_of(vmo)
        offset = int(self.pick(_clip([0, p, s - p, s, 1, s + p, U64 - p + 1])))
        length = int(self.pick(_clip([s - offset, p, 2 * p, 0, s, 1, s + p, U64 - p + 1])))
        codes = sorted(abi.PAGER_FAIL_STATUSES)
        error = int(self.pick([*codes, abi.OK, abi.ERR_INVALID_ARGS, abi.ERR_INTERNAL,
                               abi.ERR_NOT_FOUND]))
        return GenStep("pager_fail", "call", {"pager": pager, "vmo": vmo, "offset": offset,
                                              "length": length, "error": error})

    def reclaim(self) -> GenStep:
        return GenStep("reclaim", "event", {"vmo": self.vmo_handle()})


@st.composite
def traces(draw: Callable[[st.SearchStrategy[Any]], Any], page: int = 4096,
           max_steps: int = 30) -> GenTrace:
    """A whole vmo-trace: a header config and 1..max_steps steps."""
    g = _Gen(draw, page)
    config = {"debugging_syscalls": bool(draw(st.integers(0, 3)) == 3), "page_loaning": False}
    steps: list[GenStep] = []
    # As st.lists does it: a "go on" choice before each step, so that hypothesis can
    # delete a step (its span) and shorten the trace.
    def next_step(d: Callable[[st.SearchStrategy[Any]], Any]) -> list[GenStep] | None:
        if steps and d(st.integers(0, 19)) == 0:
            return None
        return g.with_draw(d).step()

    one_step = st.composite(next_step)()
    while len(steps) < max_steps:
        made = draw(one_step)
        if made is None:
            break
        steps.extend(made)
    return GenTrace(page, config, tuple(steps))


# --- lockstep ------------------------------------------------------------------------------


@dataclass
class Divergence:
    """The first step whose observed outcome the spec does not allow (or that failed)."""

    step: int  # 1-based
    name: str
    observed: dict[str, Any]
    allowed: list[dict[str, Any]]
    reason: str = ""  # set when a backend or the spec raised instead

    def summary(self) -> str:
        if self.reason:
            return f"step {self.step} ({self.name}): {self.reason}"
        return f"step {self.step} ({self.name}): observed {_show(self.observed)}, " \
               f"allowed {'; '.join(_show(a) for a in self.allowed) or 'nothing'}"


def _show(d: Mapping[str, Any]) -> str:
    from refinement_tests.checker import render_value, status_name

    parts = []
    for k, x in d.items():
        if k == "rule":
            continue
        val = status_name(x) if k == "status" and isinstance(x, int) else render_value(x)
        parts.append(f"{k}={val}")
    return ", ".join(parts)


@dataclass
class LockstepResult:
    steps_run: int
    observed: list[dict[str, Any]]  # per step run, the backend's outcome
    divergence: Divergence | None = None
    coverage: Coverage = field(default_factory=Coverage)
    max_states: int = 1


def _state_key(s: State) -> tuple[Any, ...]:
    return (tuple(sorted(s.handles.items())), tuple(sorted(s.objects.items())), s.next_obj)


def lockstep(trace: GenTrace, backend: Backend, profile: Profile,
             coverage: Coverage | None = None) -> LockstepResult:
    """Run the trace on the backend and the spec together; stop at the first step the
    spec does not allow."""
    page = trace.page
    config = dict(trace.config)
    v = Concrete(page)
    states: list[State] = [EMPTY_STATE]
    res = LockstepResult(0, [], coverage=coverage if coverage is not None else Coverage())
    backend.start(trace.header())
    for i, gs in enumerate(trace.steps, 1):
        try:
            observed = backend.step(gs.name, gs.kind, gs.args)
        except BackendError as e:
            res.divergence = Divergence(i, gs.name, {}, [], f"the backend failed: {e}")
            res.steps_run = i
            return res
        except Exception as e:  # a crash of the implementation is a finding too
            res.divergence = Divergence(i, gs.name, {}, [],
                                        f"the backend raised {type(e).__name__}: {e}")
            res.steps_run = i
            return res
        res.observed.append(observed)
        res.steps_run = i
        expect: dict[str, Any] = dict(observed)
        if "status" in expect:
            expect["status"] = StatusExpect(frozenset((observed["status"],)))
        step = Step(i, i + 1, gs.kind, gs.name, gs.args, expect, None, {})
        nxt: list[State] = []
        seen: list[Any] = []
        try:
            for s in states:

                def run(cx: Cx, s: State = s) -> Outcome:
                    return transition(cx, s, gs.name, gs.args)  # noqa: B023

                for path in explore(run, v, profile, page, config):
                    seen.append(path)
                    if agrees(step, path.result):
                        nxt.append(path.result.state)
        except Exception as e:  # the spec itself failed on this step
            res.divergence = Divergence(i, gs.name, observed, [],
                                        f"the spec raised {type(e).__name__}: {e}")
            return res
        res.coverage.record(gs.name, gs.kind, gs.args, observed, gs.vmo_kind)
        if not nxt:
            allowed: list[dict[str, Any]] = []
            for p in seen:
                a = Allowed(p.result.status, p.result.out, p.why).render(gs.kind == "event")
                if a not in allowed:
                    allowed.append(a)
            res.divergence = Divergence(i, gs.name, observed, allowed)
            return res
        if len(nxt) > 1:
            uniq: dict[tuple[Any, ...], State] = {}
            for s in nxt:
                uniq.setdefault(_state_key(s), s)
            nxt = list(uniq.values())
        states = nxt
        res.max_states = max(res.max_states, len(states))
        if len(states) > MAX_STATES:
            break  # under-observed: nothing more this trace can judge
    return res


def trace_lines(trace: GenTrace, result: LockstepResult) -> list[dict[str, Any]]:
    """The steps run, each with the outcome the backend observed (vmo-trace JSON)."""
    lines = []
    for gs, observed in zip(trace.steps, result.observed, strict=False):
        lines.append(step_to_json(gs.name, gs.kind, dict(gs.args), observed))
    d = result.divergence
    if d is not None and d.reason and len(result.observed) < d.step:
        # The step that crashed: written without an outcome, with what happened.
        gs = trace.steps[d.step - 1]
        lines.append(step_to_json(gs.name, gs.kind, dict(gs.args), {}, d.reason))
    elif d is not None and lines:
        lines[d.step - 1]["note"] = "diverges: " + d.summary()
    return lines


def write_failing_trace(path: Path, trace: GenTrace, result: LockstepResult,
                        meta: dict[str, Any]) -> None:
    """The failing prefix, with observed outcomes, atomically."""
    write_trace(path, trace.header(**meta), trace_lines(trace, result))


# --- the fuzz driver -------------------------------------------------------------------------


class _Diverged(Exception):
    pass


@dataclass
class FuzzReport:
    backend: str
    profile: str
    seed: int
    seconds: float = 0.0
    traces: int = 0
    steps: int = 0
    coverage: Coverage = field(default_factory=Coverage)
    divergence: Divergence | None = None
    trace_path: str | None = None
    shrunk_steps: int = 0
    interrupted: bool = False

    def coverage_report(self, page: int = 4096) -> dict[str, Any]:
        return self.coverage.report(spec_reachable(self.profile, page))


def _batch_seed(base: int, batch: int) -> int:
    digest = hashlib.sha256(f"{base}:{batch}".encode()).digest()
    return int.from_bytes(digest[:8], "big")


def fuzz(
    backend: Backend,
    profile: Profile,
    *,
    seconds: float | None = 60.0,
    max_examples: int | None = None,
    seed_value: int | None = None,
    out_dir: Path | None = None,
    page: int = 4096,
    max_steps: int = 30,
    batch: int = 25,
    on_progress: Callable[[FuzzReport], None] | None = None,
    trace_name: str | None = None,
) -> FuzzReport:
    """Generate traces and run them in lockstep until `seconds` have passed or
    `max_examples` traces were generated (whichever comes first), or a divergence is
    found (then shrunk, and saved in `out_dir`)."""
    if seed_value is None:
        seed_value = random.SystemRandom().randrange(1 << 32)
    report = FuzzReport(backend.name, profile.name, seed_value)
    started = time.perf_counter()
    name = trace_name or f"fuzz-{profile.name}-{_slug(backend.name)}-seed{seed_value}.jsonl"
    path = (out_dir / name) if out_dir is not None else None
    best: list[tuple[int, int]] = []  # (steps, size) of the smallest trace written
    last_fail: list[tuple[GenTrace, LockstepResult]] = []

    def meta() -> dict[str, Any]:
        return {"origin": "vmospec fuzz: shrunk failing trace", "backend": backend.name,
                "profile": profile.name, "seed": seed_value}

    def check(trace: GenTrace) -> None:
        result = lockstep(trace, backend, profile, report.coverage)
        report.traces += 1
        report.steps += result.steps_run
        if result.divergence is None:
            return
        last_fail[:] = [(trace, result)]
        key = (result.divergence.step, len(repr(trace.steps[: result.divergence.step])))
        if path is not None and (not best or key < best[0]):
            write_failing_trace(path, trace, result, meta())  # before anything else
            best[:] = [key]
        raise _Diverged(result.divergence.summary())

    n_batch = 0
    try:
        while True:
            elapsed = time.perf_counter() - started
            if seconds is not None and elapsed >= seconds:
                break
            if max_examples is not None and n_batch * batch >= max_examples:
                break
            count = batch if max_examples is None else min(batch, max_examples - n_batch * batch)
            bseed = _batch_seed(seed_value, n_batch)
            n_batch += 1

            @settings(max_examples=count, database=None, deadline=None,
                      verbosity=Verbosity.quiet, suppress_health_check=list(HealthCheck),
                      phases=(Phase.generate, Phase.shrink), report_multiple_bugs=False,
                      print_blob=False)
            @seed(bseed)
            @given(trace=traces(page=page, max_steps=max_steps))
            def run_batch(trace: GenTrace) -> None:
                check(trace)

            try:
                run_batch()
            except _Diverged:
                trace, result = last_fail[0]
                report.divergence = result.divergence
                report.shrunk_steps = result.divergence.step if result.divergence else 0
                if path is not None:
                    # The last failing example hypothesis ran is the shrunk one.
                    write_failing_trace(path, trace, result, meta())
                    report.trace_path = str(path)
                break
            if on_progress is not None:
                report.seconds = time.perf_counter() - started
                on_progress(report)
    except KeyboardInterrupt:
        report.interrupted = True
        if last_fail and path is not None and path.exists():
            report.trace_path = str(path)
            report.divergence = last_fail[0][1].divergence
    report.seconds = time.perf_counter() - started
    return report


def _slug(text: str) -> str:
    return "".join(ch if ch.isalnum() or ch in "-_" else "-" for ch in text)

