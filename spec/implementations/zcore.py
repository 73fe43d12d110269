"""rcore-os/zCore (kf 7.1): zircon-2025, with zCore's own prefix and ops.

zCore decodes the op before it looks the handle up and has no ops 11-14; its COMMIT
and DECOMMIT need page alignment and check no bounds; its ZERO checks its end once, up
front, on a u64 sum that wraps; LOCK, UNLOCK and the cache ops panic; zx_vmo_create
accepts RESIZABLE only.
"""

from __future__ import annotations

from dataclasses import replace
from types import MappingProxyType
from typing import TYPE_CHECKING

from spec import abi
from spec.abi import ERR_INVALID_ARGS, ERR_OUT_OF_RANGE, OK, RIGHT_WRITE
from spec.explore import Cx, Rung
from spec.objects import Target
from spec.op_range import (
    CACHE_OPS,
    commit_range,
    decommit_kind,
    decommit_range,
    decommit_support,
    zero_range,
    zero_rights_and_kind,
)
from spec.outcome import PANIC, Outcome
from spec.overrides import OpFn, Overrides
from spec.rungs import bad_handle, discarded, fail_or, physical, requires, wrong_type
from spec.state import SLICE, Handle, State
from spec.values import Word

if TYPE_CHECKING:
    from spec.profiles import Profile


def profile(zircon_2025: Profile) -> Profile:
    """Where kf 7.1 states nothing, zCore takes zircon-2025's choice."""
    return replace(
        zircon_2025,
        name="zcore",
        summary="rcore-os/zCore (kf 7.1): decodes the op first, no TRY_LOCK or hints, "
        "unbounded COMMIT, panics on LOCK and cache ops",
        kind="implementation",
        prefetch=False,  # kf 7.1 (4): op 14 is not decoded
        zero_checks="upfront",  # kf 7.1 (10)-(11): one bounds check before anything is zeroed
        catalogue_holds=False,
        overrides=OVERRIDES,
        lacks=LACKS,
    )


# The Zircon rungs zCore does not have (kf 7.1): its COMMIT and DECOMMIT check no bounds.
LACKS = (
    ("page: OUT_OF_RANGE, invalid range; kf 3.3 COMMIT (3)-(4)", "kf 7.1 (7)"),
    ("kf 3.3 DECOMMIT (4)-(5): range not within S", "kf 7.1 (7)"),
)

# zCore's op type (kf 7.1 (1)) has no ops 11-14: each is INVALID_ARGS, before the handle.
UNDECODED = {
    abi.OP_TRY_LOCK: "kf 7.1 (1), (3): zCore does not decode TRY_LOCK -> INVALID_ARGS",
    abi.OP_DONT_NEED: "kf 7.1 (1), (2): zCore does not decode DONT_NEED -> INVALID_ARGS",
    abi.OP_ALWAYS_NEED: "kf 7.1 (1), (2): zCore does not decode ALWAYS_NEED -> INVALID_ARGS",
    abi.OP_PREFETCH: "kf 7.1 (1), (4): zCore does not decode PREFETCH -> INVALID_ARGS",
}


def prefix(
    cx: Cx, st: State, h: Handle | None, obj: object, op: int, fn: OpFn | None,
    offset: Word, size: Word,
) -> tuple[int | None, OpFn | None]:
    """kf 7.1 (1): the op is decoded before the handle is looked up (items 2-4 are what
    that does to a valid handle)."""
    why = UNDECODED.get(op)
    if why is not None:
        fn = None
    return cx.ladder(
        (ERR_INVALID_ARGS, lambda: fn is None,
         why or "kf 7.1 (1): op decoded before the handle lookup"),
        bad_handle(h), wrong_type(obj)), fn


def _aligned(cx: Cx, offset: Word, size: Word, name: str) -> Rung:
    """kf 7.1 (6): COMMIT and DECOMMIT need a page-aligned offset and size, checked right
    after the rights."""
    v, p = cx.v, cx.page
    return (ERR_INVALID_ARGS, lambda: v.not_(v.and_(v.aligned(offset, p), v.aligned(size, p))),
            f"kf 7.1 (6): zCore {name} needs a page-aligned offset and size")


def commit(
    cx: Cx, st: State, t: Target, offset: Word, size: Word, _bs: int, _bn: bool
) -> Outcome:
    """Zircon's COMMIT rungs, alignment after the right, and no bounds (kf 7.1 (6)-(7)),
    so no early-out for an empty range either."""
    v, p = cx.v, cx.page
    end, ovf = v.add(offset, size)
    lo, hi = v.floor_to(offset, p), v.ceil_to(end, p)[0]
    status = cx.ladder(
        requires(cx, t, RIGHT_WRITE, "COMMIT"),
        _aligned(cx, offset, size, "COMMIT"),
        physical(cx, t, "kf 3.3 COMMIT (2): physical VMO"),
        discarded(cx, t, "kf 5.4: COMMIT of a discarded VMO -> NOT_FOUND"),
    )

    def effect() -> Outcome:
        a, b = lo, hi
        if cx.when(v.or_(ovf, v.ult(t.size, end))):
            # the pages past S are not in the spec's state (notes/implementations.md), so
            # only the part within S is committed
            a, b = v.umin(lo, t.size), v.ite(ovf, t.size, v.umin(hi, t.size))
            cx.why = "kf 7.1 (7): zCore COMMIT past S succeeds (no bounds check)"
        return commit_range(cx, st, t, a, b)

    return fail_or(cx, st, status, effect)


def decommit(
    cx: Cx, st: State, t: Target, offset: Word, size: Word, _bs: int, _bn: bool
) -> Outcome:
    """Zircon's DECOMMIT rungs, alignment after the right, and no bounds (kf 7.1 (6)-(7))."""
    v = cx.v
    end, ovf = v.add(offset, size)
    status = cx.ladder(
        requires(cx, t, RIGHT_WRITE, "DECOMMIT"),
        _aligned(cx, offset, size, "DECOMMIT"),
        *decommit_kind(cx, st, t),
        *decommit_support(cx, st, t, size),
    )

    def effect() -> Outcome:
        lo, hi = offset, end
        if cx.when(v.or_(ovf, v.ult(t.size, end))):
            # what lies past S is not in the spec's state
            cx.why = "kf 7.1 (7): zCore DECOMMIT past S succeeds (no bounds check)"
            lo, hi = v.umin(offset, t.size), t.size
        return decommit_range(cx, st, t, lo, hi)

    return fail_or(cx, st, status, effect)


def zero(
    cx: Cx, st: State, t: Target, offset: Word, size: Word, _bs: int, _bn: bool
) -> Outcome:
    """ZERO checks its end against the size once, before zeroing anything (kf 7.1
    (10)-(11)); the end is the u64 sum, which wraps in a release build (kf 7.1 (14))."""
    v = cx.v
    end, ovf = v.add(offset, size)
    if t.vmo.role == SLICE:
        bounds: Rung = (ERR_OUT_OF_RANGE, lambda: v.ule(t.size, end),
                        "kf 7.1 (12): a zCore slice refuses ZERO with offset+size >= its size")
    else:
        bounds = (ERR_OUT_OF_RANGE, lambda: v.ult(t.size, end),
                  "kf 7.1 (10): zCore checks ZERO's offset+size <= S before zeroing anything")
    status = cx.ladder(*zero_rights_and_kind(cx, t), bounds)

    def effect() -> Outcome:
        if ovf is not False and cx.when(ovf):
            cx.why = ("kf 7.1 (14): zCore's release build wraps offset+size under S: "
                      "nothing is zeroed, OK")
            return Outcome(OK, st)
        return zero_range(cx, st, t, offset, end)

    return fail_or(cx, st, status, effect)


def panics(name: str) -> OpFn:
    """kf 7.1 (5): the op is `unimplemented!()`: no status comes back."""
    def run(
        cx: Cx, st: State, t: Target, offset: Word, size: Word, _bs: int, _bn: bool
    ) -> Outcome:
        cx.why = f"kf 7.1 (5): zCore {name} panics (unimplemented!()): no status comes back"
        return Outcome(PANIC, st)

    return run


OVERRIDES = Overrides(
    prefix=prefix,
    prefix_ops=frozenset(UNDECODED),
    ops=MappingProxyType({
        abi.OP_COMMIT: commit,
        abi.OP_DECOMMIT: decommit,
        abi.OP_ZERO: zero,
        abi.OP_LOCK: panics("LOCK"),
        abi.OP_UNLOCK: panics("UNLOCK"),
        **{op: panics(name) for op, (_right, name, _gated) in CACHE_OPS.items()},
    }),
    create_options=(abi.VMO_RESIZABLE, "kf 7.1 (15): zCore accepts RESIZABLE only"),
)
