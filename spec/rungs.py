"""Rungs and ladder endings that every op's code shares, Zircon's and other kernels'.

A rung is (status, condition, source); `fail_or` ends a ladder: its status, or the
op's effect when no rung held. The sources follow spec/op_range.py's style.
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


def requires(cx: Cx, t: Target, right: int, name: str) -> Rung:
    # page: each op's "Requires the ZX_RIGHT_... right."
    return (ERR_ACCESS_DENIED, lacks(cx, t, right), f"page {name}: requires {right_name(right)}")


def past_end(cx: Cx, t: Target, offset: Word, size: Word) -> Word:
    """offset + size overflows u64 or ends past the VMO's size (kf: "in bounds")."""
    end, ovf = cx.v.add(offset, size)
    return cx.v.or_(ovf, cx.v.ult(t.size, end))


def bad_handle(h: Handle | None) -> Rung:
    return (ERR_BAD_HANDLE, lambda: h is None, "page: BAD_HANDLE, handle is not a valid handle")


def wrong_type(obj: object) -> Rung:
    return (ERR_WRONG_TYPE, lambda: isinstance(obj, Pager), "page: WRONG_TYPE, not a VMO handle")


def physical(cx: Cx, t: Target, why: str) -> Rung:
    if cx.profile.precedence == "any":
        return (Maybe(ANY_ERROR), lambda: t.vmo.kind.physical, "page silent on physical VMOs")
    return (ERR_NOT_SUPPORTED, lambda: t.vmo.kind.physical, why)


def discarded(cx: Cx, t: Target, why: str) -> Rung:
    if cx.profile.precedence == "any":
        return (Maybe(ANY_ERROR), lambda: is_discarded(cx, t.vmo), "page silent on discarded VMOs")
    return (ERR_NOT_FOUND, lambda: is_discarded(cx, t.vmo), why)


def out_of_memory(cx: Cx) -> bool:
    """page ERRORS: "Allocations to commit pages for COMMIT or ZERO failed." Where the
    profile allows it, a call whose arguments are valid may fail so, changing nothing."""
    if cx.profile.may_run_out_of_memory and cx.choose((False, True)):
        cx.why = "page: NO_MEMORY, allocation failed"
        return True
    return False
