"""rcore-os/zCore (the zcore.* facts of docs/kernel-facts.md): zircon-2025, with zCore's
own prefix and ops.

zCore decodes the op before it looks the handle up and has no ops 11-14; its COMMIT
and DECOMMIT need page alignment and check no bounds; its ZERO checks its end once, up
front, on a u64 sum that wraps; LOCK, UNLOCK and the cache ops panic; zx_vmo_create
accepts RESIZABLE only.
"""

from __future__ import annotations

from types import MappingProxyType

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
from spec.overrides import OpFn, Overrides, answers
from spec.rungs import bad_handle, discarded, fail_or, physical, requires, wrong_type
from spec.state import SLICE, Handle, State
from spec.values import Word

# Built on zircon-2025: where the zcore.* facts state nothing, zCore takes its choice.
NAME = "zcore"
SUMMARY = ("rcore-os/zCore: decodes the op first, no TRY_LOCK or hints, "
           "unbounded COMMIT, panics on LOCK and cache ops")
CHOICES = {
    "prefetch": False,  # zcore.prefetch.undecoded
    "zero_checks": "upfront",  # zcore.zero.upfront_bounds
}

# The Zircon rungs zCore does not have: its COMMIT and DECOMMIT check no bounds.
LACKS = (
    ("commit.bounds", "zcore.range.unbounded"),
    ("decommit.bounds.2025", "zcore.range.unbounded"),
)

# zCore's op type (zcore.op_range.decode_first) has no ops 11-14: each is INVALID_ARGS,
# before the handle.
UNDECODED = {
    abi.OP_TRY_LOCK: "zcore.op_range.decode_first, zcore.try_lock.undecoded",
    abi.OP_DONT_NEED: "zcore.op_range.decode_first, zcore.hints.undecoded",
    abi.OP_ALWAYS_NEED: "zcore.op_range.decode_first, zcore.hints.undecoded",
    abi.OP_PREFETCH: "zcore.op_range.decode_first, zcore.prefetch.undecoded",
}


def prefix(
    cx: Cx, st: State, h: Handle | None, obj: object, op: int, fn: OpFn | None,
    offset: Word, size: Word,
) -> tuple[int | None, OpFn | None]:
    """zcore.op_range.decode_first: the op is decoded before the handle is looked up (the
    undecoded facts are what
    that does to a valid handle)."""
    why = UNDECODED.get(op)
    if why is not None:
        fn = None
    return cx.ladder(
        (ERR_INVALID_ARGS, lambda: fn is None,
         why or "zcore.op_range.decode_first"),
        bad_handle(h), wrong_type(obj)), fn


def _aligned(cx: Cx, offset: Word, size: Word, name: str) -> Rung:
    """zcore.range.aligned: COMMIT and DECOMMIT need a page-aligned offset and size, checked right
    after the rights."""
    v, p = cx.v, cx.page
    return (ERR_INVALID_ARGS, lambda: v.not_(v.and_(v.aligned(offset, p), v.aligned(size, p))),
            "zcore.range.aligned")


def commit(
    cx: Cx, st: State, t: Target, offset: Word, size: Word, _bs: int, _bn: bool
) -> Outcome:
    """Zircon's COMMIT rungs, alignment after the right, and no bounds (zcore.range.aligned,
    zcore.range.unbounded),
    so no early-out for an empty range either."""
    v, p = cx.v, cx.page
    end, ovf = v.add(offset, size)
    lo, hi = v.floor_to(offset, p), v.ceil_to(end, p)[0]
    status = cx.ladder(
        requires(cx, t, RIGHT_WRITE, "COMMIT"),
        _aligned(cx, offset, size, "COMMIT"),
        physical(cx, t, "commit.physical"),
        discarded(cx, t, "discard.commit.not_found"),
    )

    def effect() -> Outcome:
        a, b = lo, hi
        if cx.when(v.or_(ovf, v.ult(t.size, end))):
            # the pages past S are not in the spec's state (notes/implementations.md), so
            # only the part within S is committed
            a, b = v.umin(lo, t.size), v.ite(ovf, t.size, v.umin(hi, t.size))
            cx.why = "zcore.range.unbounded, decision.past_end_state"
        return commit_range(cx, st, t, a, b)

    return fail_or(cx, st, status, effect)


def decommit(
    cx: Cx, st: State, t: Target, offset: Word, size: Word, _bs: int, _bn: bool
) -> Outcome:
    """Zircon's DECOMMIT rungs, alignment after the right, and no bounds (zcore.range.aligned,
    zcore.range.unbounded)."""
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
            cx.why = "zcore.range.unbounded"
            lo, hi = v.umin(offset, t.size), t.size
        return decommit_range(cx, st, t, lo, hi)

    return fail_or(cx, st, status, effect)


def zero(
    cx: Cx, st: State, t: Target, offset: Word, size: Word, _bs: int, _bn: bool
) -> Outcome:
    """ZERO checks its end against the size once, before zeroing anything
    (zcore.zero.upfront_bounds); the end is the u64 sum, which wraps in a release build
    (zcore.zero.wraps)."""
    v = cx.v
    end, ovf = v.add(offset, size)
    if t.vmo.role == SLICE:
        bounds: Rung = (ERR_OUT_OF_RANGE, lambda: v.ule(t.size, end),
                        "zcore.zero.slice_off_by_one")
    else:
        bounds = (ERR_OUT_OF_RANGE, lambda: v.ult(t.size, end),
                  "zcore.zero.upfront_bounds")
    status = cx.ladder(*zero_rights_and_kind(cx, t), bounds)

    def effect() -> Outcome:
        if ovf is not False and cx.when(ovf):
            cx.why = "zcore.zero.wraps"
            return Outcome(OK, st)
        return zero_range(cx, st, t, offset, end)

    return fail_or(cx, st, status, effect)


# zcore.unimplemented.panic: the op is `unimplemented!()`: no status comes back.
PANICS = answers(PANIC, "zcore.unimplemented.panic")

OVERRIDES = Overrides(
    prefix=prefix,
    prefix_ops=frozenset(UNDECODED),
    ops=MappingProxyType({
        abi.OP_COMMIT: commit,
        abi.OP_DECOMMIT: decommit,
        abi.OP_ZERO: zero,
        abi.OP_LOCK: PANICS,
        abi.OP_UNLOCK: PANICS,
        **dict.fromkeys(CACHE_OPS, PANICS),
    }),
    create_options=(abi.VMO_RESIZABLE, "zcore.create.resizable_only"),
)
