"""Rungs and ladder endings that every op's code shares, Zircon's and other kernels'.

A rung is (status, condition, source); `fail_or` ends a ladder: its status, or the
op's effect when no rung held. Each cites fact ids (spec/sources.py).
"""

from __future__ import annotations

from collections.abc import Callable

from spec.abi import (
    ERR_ACCESS_DENIED,
    ERR_BAD_HANDLE,
    ERR_NOT_FOUND,
    ERR_NOT_SUPPORTED,
    ERR_WRONG_TYPE,
    OK,
    RIGHT_READ,
)
from spec.explore import ANY_ERROR, Cx, Maybe, Rung
from spec.objects import Target, is_discarded
from spec.outcome import Outcome
from spec.state import Handle, Pager, State
from spec.values import Word


def fail_or(cx: Cx, st: State, status: int | None, then: Callable[[], Outcome]) -> Outcome:
    """The ladder's status, unchanged state; or, when no rung held, the effect."""
    if status is None:
        return then()
    return Outcome(status, st)


def unchanged(cx: Cx, st: State, why: str) -> Outcome:
    cx.why = why
    return Outcome(OK, st)


def lacks(cx: Cx, t: Target, right: int) -> Callable[[], object]:
    return lambda: cx.v.not_(cx.v.has_bits(t.rights, right))


def right_name(right: int) -> str:
    return "ZX_RIGHT_READ" if right == RIGHT_READ else "ZX_RIGHT_WRITE"


# The page's sentence naming the right each op requires.
RIGHTS_CITED = {
    "COMMIT": "page.commit.rights", "DECOMMIT": "page.decommit.rights",
    "ZERO": "page.zero.rights", "CACHE_SYNC": "page.cache_sync.rights",
    "CACHE_INVALIDATE": "page.cache_invalidate.rights", "CACHE_CLEAN": "page.cache_clean.rights",
    "CACHE_CLEAN_INVALIDATE": "page.cache_clean_invalidate.rights",
}


def requires(cx: Cx, t: Target, right: int, name: str) -> Rung:
    return (ERR_ACCESS_DENIED, lacks(cx, t, right), RIGHTS_CITED[name])


def past_end(cx: Cx, t: Target, offset: Word, size: Word) -> Word:
    """offset + size overflows u64 or ends past the VMO's size (conv.in_bounds)."""
    end, ovf = cx.v.add(offset, size)
    return cx.v.or_(ovf, cx.v.ult(t.size, end))


def rounded_out(cx: Cx, t: Target, offset: Word, size: Word) -> tuple[Word, Word, Word]:
    """The range rounded out to pages, [lo, hi) (conv.rounded_out), and whether the sum or
    its rounding overflows u64 or hi ends past the VMO's size."""
    v, p = cx.v, cx.page
    end, ovf = v.add(offset, size)
    hi, ovf_round = v.ceil_to(end, p)
    return v.floor_to(offset, p), hi, v.or_(ovf, ovf_round, v.ult(t.size, hi))


def bad_handle(h: Handle | None) -> Rung:
    return (ERR_BAD_HANDLE, lambda: h is None, "page.errors.bad_handle")


def wrong_type(obj: object) -> Rung:
    return (ERR_WRONG_TYPE, lambda: isinstance(obj, Pager), "page.errors.wrong_type")


def physical(cx: Cx, t: Target, why: str) -> Rung:
    if cx.profile.precedence == "any":
        return (Maybe(ANY_ERROR), lambda: t.vmo.kind.physical, "page.silent.physical")
    return (ERR_NOT_SUPPORTED, lambda: t.vmo.kind.physical, why)


def discarded(cx: Cx, t: Target, why: str) -> Rung:
    if cx.profile.precedence == "any":
        return (Maybe(ANY_ERROR), lambda: is_discarded(cx, t.vmo), "page.silent.discarded")
    return (ERR_NOT_FOUND, lambda: is_discarded(cx, t.vmo), why)


def out_of_memory(cx: Cx) -> bool:
    """page.errors.no_memory: allocations to commit pages may fail. Where the
    profile allows it, a call whose arguments are valid may fail so, changing nothing."""
    if cx.profile.may_run_out_of_memory and cx.choose((False, True)):
        cx.why = "page.errors.no_memory"
        return True
    return False
