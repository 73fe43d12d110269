"""Pryancito/eclipse (the eclipse.* facts of docs/kernel-facts.md): zCore, but LOCK,
UNLOCK and the cache ops answer.

LOCK and UNLOCK are NOT_SUPPORTED before any rights check; a cache op checks its right
and an overflow-safe range, then does nothing: no debugging gate, no size-0 rule.
Everything else is zCore's (the zcore.* facts but zcore.unimplemented.panic).
"""

from __future__ import annotations

from dataclasses import replace
from types import MappingProxyType

from spec import abi
from spec.abi import ERR_ACCESS_DENIED, ERR_NOT_SUPPORTED, ERR_OUT_OF_RANGE
from spec.explore import Cx
from spec.implementations import zcore
from spec.objects import Target
from spec.op_range import CACHE_OPS
from spec.outcome import Outcome
from spec.overrides import OpFn, answers
from spec.rungs import fail_or, lacks, past_end, unchanged
from spec.state import State
from spec.values import Word

# Built on zcore, whose choices it keeps.
NAME = "eclipse"
SUMMARY = ("Pryancito/eclipse: zCore, but cache ops are checked no-ops and "
           "LOCK is NOT_SUPPORTED")
CHOICES: dict[str, object] = {}
LACKS = (
    *zcore.LACKS,
    # no debugging gate and no size-0 rule on cache ops
    ("cache.invalidate_gate", "eclipse.cache.no_gate"),
    ("page.errors.cache_size_zero", "eclipse.cache.checked_noop"),
)


# eclipse.lock.not_supported: LOCK and UNLOCK are NOT_SUPPORTED, before any rights check.
LOCK_NOT_SUPPORTED = answers(ERR_NOT_SUPPORTED, "eclipse.lock.not_supported")

def cache_op(right: int, name: str, gated: bool) -> OpFn:
    """eclipse.cache.rights, eclipse.cache.checked_noop, eclipse.cache.no_gate: the right,
    then an overflow-safe range check, then nothing."""
    why = "eclipse.cache.no_gate" if gated else "eclipse.cache.checked_noop"
    rights = "eclipse.cache.rights, eclipse.cache.no_gate" if gated else "eclipse.cache.rights"

    def run(
        cx: Cx, st: State, t: Target, offset: Word, size: Word, _bs: int, _bn: bool
    ) -> Outcome:
        status = cx.ladder(
            (ERR_ACCESS_DENIED, lacks(cx, t, right),
             rights),
            (ERR_OUT_OF_RANGE, lambda: past_end(cx, t, offset, size),
             "eclipse.cache.checked_noop"),
        )
        return fail_or(cx, st, status, lambda: unchanged(cx, st, why))

    return run


OVERRIDES = replace(zcore.OVERRIDES, ops=MappingProxyType({
    **zcore.OVERRIDES.ops,
    abi.OP_LOCK: LOCK_NOT_SUPPORTED,
    abi.OP_UNLOCK: LOCK_NOT_SUPPORTED,
    **{op: cache_op(*how) for op, how in CACHE_OPS.items()},
}))
