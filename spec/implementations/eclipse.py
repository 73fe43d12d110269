"""Pryancito/eclipse (kf 7.2): zCore, but LOCK, UNLOCK and the cache ops answer.

LOCK and UNLOCK are NOT_SUPPORTED before any rights check; a cache op checks its right
and an overflow-safe range, then does nothing: no debugging gate, no size-0 rule.
Everything else is zCore's (kf 7.2: items 1-4 and 6-15 of 7.1).
"""

from __future__ import annotations

from dataclasses import replace
from types import MappingProxyType
from typing import TYPE_CHECKING

from spec import abi
from spec.abi import ERR_ACCESS_DENIED, ERR_NOT_SUPPORTED, ERR_OUT_OF_RANGE
from spec.explore import Cx
from spec.implementations import zcore
from spec.objects import Target
from spec.op_range import CACHE_OPS
from spec.outcome import Outcome
from spec.overrides import OpFn
from spec.rungs import fail_or, lacks, past_end, right_name, unchanged
from spec.state import State
from spec.values import Word

if TYPE_CHECKING:
    from spec.profiles import Profile


def profile(zcore_profile: Profile) -> Profile:
    return replace(
        zcore_profile,
        name="eclipse",
        summary="Pryancito/eclipse (kf 7.2): zCore, but cache ops are checked no-ops and "
        "LOCK is NOT_SUPPORTED",
        overrides=OVERRIDES,
        lacks=(
            *zcore_profile.lacks,
            # kf 7.2 (1)-(3): no debugging gate and no size-0 rule on cache ops
            ("kf 3.3 CACHE_INVALIDATE (1): debugging syscalls are off", "kf 7.2 (2)"),
            ("page: INVALID_ARGS, size 0 cache op", "kf 7.2 (1)"),
        ),
    )


def not_supported(name: str) -> OpFn:
    """kf 7.2 (4): LOCK and UNLOCK are NOT_SUPPORTED, before any rights check."""
    def run(
        cx: Cx, st: State, t: Target, offset: Word, size: Word, _bs: int, _bn: bool
    ) -> Outcome:
        cx.why = f"kf 7.2 (4): eclipse {name} is NOT_SUPPORTED before any rights check"
        return Outcome(ERR_NOT_SUPPORTED, st)

    return run


def cache_op(right: int, name: str, gated: bool) -> OpFn:
    """kf 7.2 (1)-(3): the right, then an overflow-safe range check, then nothing."""
    item = "(3)" if gated else "(1)"
    why = f"kf 7.2 {'(2)' if gated else '(1)'}: eclipse {name} does nothing, OK"

    def run(
        cx: Cx, st: State, t: Target, offset: Word, size: Word, _bs: int, _bn: bool
    ) -> Outcome:
        status = cx.ladder(
            (ERR_ACCESS_DENIED, lacks(cx, t, right),
             f"kf 7.2 {item}: eclipse {name} needs {right_name(right)}, with no debugging gate"),
            (ERR_OUT_OF_RANGE, lambda: past_end(cx, t, offset, size),
             "kf 7.2 (1): eclipse checks a cache op's range (overflow-safe)"),
        )
        return fail_or(cx, st, status, lambda: unchanged(cx, st, why))

    return run


OVERRIDES = replace(zcore.OVERRIDES, ops=MappingProxyType({
    **zcore.OVERRIDES.ops,
    abi.OP_LOCK: not_supported("LOCK"),
    abi.OP_UNLOCK: not_supported("UNLOCK"),
    **{op: cache_op(*how) for op, how in CACHE_OPS.items()},
}))
