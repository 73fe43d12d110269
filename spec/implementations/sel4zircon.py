"""jsuann/sel4zircon (the sel4zircon.* facts of docs/kernel-facts.md): a Zircon server on
seL4 with the 2018 ABI.

Only zx_vmo_op_range departs: it checks the range's overflow, the handle with WRITE for
every op, the range's bounds, and only then decodes the op, which has no ZERO, LOCK,
UNLOCK, TRY_LOCK or hints; DECOMMIT rounds its range out; a size-0 cache op is a no-op.
"""

from __future__ import annotations

from types import MappingProxyType

from spec import abi
from spec.abi import (
    ERR_ACCESS_DENIED,
    ERR_INVALID_ARGS,
    ERR_NOT_SUPPORTED,
    ERR_OUT_OF_RANGE,
    OK,
    RIGHT_WRITE,
)
from spec.explore import Cx, Rung
from spec.objects import Target, target
from spec.op_range import (
    CACHE_OPS,
    cache_op,
    decommit_bounds,
    decommit_kind,
    decommit_range,
    decommit_support,
)
from spec.outcome import Outcome
from spec.overrides import OpFn, Overrides
from spec.rungs import bad_handle, fail_or, past_end, requires, wrong_type
from spec.state import Handle, State
from spec.values import Word

# Built on zircon-2025: where the sel4zircon.* facts state nothing, it takes its choice.
NAME = "sel4zircon"
SUMMARY = ("jsuann/sel4zircon: WRITE for every op, bounds before the op, "
           "no ZERO, LOCK or hints")
CHOICES = {"prefetch": False}  # sel4zircon.op_range.undecoded
LACKS = (
    ("decommit.aligned", "sel4zircon.decommit.rounds_out"),  # DECOMMIT rounds out
)


# The op switch, where it answers other than Zircon's op would.
DECODE = {
    abi.OP_LOOKUP_HISTORIC: (ERR_NOT_SUPPORTED, "sel4zircon.op5.not_supported"),
    abi.OP_ZERO: (ERR_INVALID_ARGS, "sel4zircon.zero.invalid_args"),
    abi.OP_LOCK: (ERR_NOT_SUPPORTED, "sel4zircon.lock.not_supported"),
    abi.OP_UNLOCK: (ERR_NOT_SUPPORTED, "sel4zircon.lock.not_supported"),
}
# sel4zircon.op_range.undecoded: the ops the 2018 ABI does not have
UNDECODED = frozenset({abi.OP_TRY_LOCK, abi.OP_DONT_NEED, abi.OP_ALWAYS_NEED, abi.OP_PREFETCH})


def prefix(
    cx: Cx, st: State, h: Handle | None, obj: object, op: int, fn: OpFn | None,
    offset: Word, size: Word,
) -> tuple[int | None, OpFn | None]:
    """sel4zircon.op_range.overflow_first, .rights.write_all, .op_range.bounds_first:
    the range's overflow, the handle with WRITE for every op, the range's
    bounds, and only then the op decode."""
    v = cx.v
    _end, ovf = v.add(offset, size)
    decoded = DECODE.get(op)
    if decoded is None and (fn is None or op in UNDECODED):
        decoded = (ERR_INVALID_ARGS, "sel4zircon.op_range.undecoded")
    rungs: list[Rung] = [
        (ERR_OUT_OF_RANGE, lambda: ovf,
         "sel4zircon.op_range.overflow_first"),
        bad_handle(h), wrong_type(obj),
        (ERR_ACCESS_DENIED, lambda: h is not None and v.not_(v.has_bits(h.rights, RIGHT_WRITE)),
         "sel4zircon.rights.write_all"),
        (ERR_OUT_OF_RANGE,
         lambda: h is not None and past_end(cx, target(cx, st, h.obj, h.rights), offset, size),
         "sel4zircon.op_range.bounds_first"),
    ]
    if decoded is not None:
        fn = None
        rungs.append((decoded[0], lambda: True, decoded[1]))
    return cx.ladder(*rungs), fn


def decommit(
    cx: Cx, st: State, t: Target, offset: Word, size: Word, _bs: int, _bn: bool
) -> Outcome:
    """Zircon's DECOMMIT, but the range is rounded out to whole pages instead of having
    to be page-aligned (sel4zircon.decommit.rounds_out)."""
    v, p = cx.v, cx.page
    end, ovf = v.add(offset, size)
    status = cx.ladder(
        requires(cx, t, RIGHT_WRITE, "DECOMMIT"),
        *decommit_kind(cx, st, t),
        decommit_bounds(cx, t, offset, end, ovf),
        *decommit_support(cx, st, t, size),
    )

    def effect() -> Outcome:
        # its end is within S, which is page-aligned, so rounding up cannot overflow
        cx.why = "sel4zircon.decommit.rounds_out"
        return decommit_range(cx, st, t, v.floor_to(offset, p), v.ceil_to(end, p)[0])

    return fail_or(cx, st, status, effect)


def _size_zero_ok(cx: Cx, size: Word) -> Rung:
    return (OK, lambda: cx.v.eq(size, 0), "sel4zircon.cache.size0_ok")


OVERRIDES = Overrides(
    prefix=prefix,
    prefix_ops=frozenset(abi.OPS.values()),
    ops=MappingProxyType({
        abi.OP_DECOMMIT: decommit,
        **{op: cache_op(*how, size_zero=_size_zero_ok) for op, how in CACHE_OPS.items()},
    }),
)
