"""Deliberately broken variants of the spec, switched on by name.

A check that cannot fail proves nothing: each example trace must diverge under at least
one of these, and each of these must be caught by some example. A mutant either drops
guard rungs (matched by their source text) or replaces one effect with a wrong one.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import replace
from typing import Any
from unittest import mock

from spec import calls, objects, op_range, paging, rungs
from spec.abi import ERR_INTERNAL, ERR_INVALID_ARGS, ERR_NOT_SUPPORTED, ERR_WRONG_TYPE, OK
from spec.explore import Cx, Rung
from spec.objects import Target, memory, with_memory
from spec.outcome import Outcome
from spec.state import DISCARDED, RECLAIMABLE, SNAPSHOT, UNRECLAIMABLE, State, Tracker

Mutant = Callable[[], AbstractContextManager[None]]


@contextmanager
def _drop_rungs(*fragments: str) -> Iterator[None]:
    """Guards whose source mentions any fragment are gone."""
    ladder, first = Cx.ladder, Cx.first

    def keep(rungs: tuple[Rung, ...]) -> tuple[Rung, ...]:
        return tuple(r for r in rungs if not any(f in r[2] for f in fragments))

    with mock.patch.object(Cx, "ladder", lambda self, *r: ladder(self, *keep(r))), \
            mock.patch.object(Cx, "first", lambda self, *r: first(self, *keep(r))):
        yield


@contextmanager
def _retarget(status: int, *fragments: str) -> Iterator[None]:
    """Guards whose source mentions any fragment report `status` instead."""
    ladder, first = Cx.ladder, Cx.first

    def swap(rungs: tuple[Rung, ...]) -> tuple[Rung, ...]:
        return tuple((status, r[1], r[2]) if any(f in r[2] for f in fragments) else r
                     for r in rungs)

    with mock.patch.object(Cx, "ladder", lambda self, *r: ladder(self, *swap(r))), \
            mock.patch.object(Cx, "first", lambda self, *r: first(self, *swap(r))):
        yield


@contextmanager
def _reversed_precedence() -> Iterator[None]:
    ladder = Cx.ladder
    with mock.patch.object(Cx, "ladder", lambda self, *r: ladder(self, *reversed(r))):
        yield


def _patch(target: Any, name: str, replacement: Any) -> Mutant:
    return lambda: mock.patch.object(target, name, replacement)


def _decommit_keeps_bytes(cx: Cx, st: State, t: Target, lo: Any, hi: Any) -> State:
    mem = memory(st, t)
    a, b = paging.owner_pages(cx, t, lo, hi)
    return with_memory(st, t, mem._replace(committed=cx.v.pages_remove(mem.committed, a, b)))


def _commit_nothing(cx: Cx, st: State, t: Target, a: Any, b: Any,
                    reading: bool = False) -> tuple[State, int]:
    return st, OK


def _whole_pages_short(cx: Cx, st: State, t: Target, lo: Any, hi: Any) -> State:
    return paging.zero_whole_pages(cx, st, t, lo, cx.v.sub(hi, 1))


def _locked_without_count(cx: Cx, tr: Tracker) -> Tracker:
    return Tracker(UNRECLAIMABLE, cx.v.ite(cx.v.eq(tr.count, 0), 1, tr.count))


def _reclaim_ignores_lock(cx: Cx, st: State, vmo: str) -> Outcome:
    h = st.handles.get(vmo)
    if h is not None:
        o = st.objects.get(h.obj)
        tracker = getattr(o, "tracker", None)
        if tracker is not None:
            unlocked = Tracker(RECLAIMABLE, 0)
            st = st.with_object(h.obj, st.vmo(h.obj).with_tracker(unlocked))
    return _REAL_RECLAIM(cx, st, vmo)


def _read_zeros(cx: Cx, st: State, vmo: str, offset: Any, length: Any) -> Outcome:
    o = _REAL_READ(cx, st, vmo, offset, length)
    if o.status == OK:
        return o._replace(out={"data": ((0, length),) if length else ()})
    return o


def _close_keeps_handle(cx: Cx, st: State, handle: str) -> Outcome:
    o = _REAL_CLOSE(cx, st, handle)
    return o._replace(state=st)


def _commit_one_page_more(cx: Cx, st: State, t: Target, a: Any, b: Any,
                          reading: bool = False) -> tuple[State, int]:
    return _REAL_COMMIT_PAGES(cx, st, t, a, cx.v.add(b, 1)[0], reading)


def _commit_clears_bytes(cx: Cx, st: State, t: Target, a: Any, b: Any,
                         reading: bool = False) -> tuple[State, int]:
    st, status = _REAL_COMMIT_PAGES(cx, st, t, a, b, reading)
    mem = memory(st, t)
    p = cx.page
    content = cx.v.bytes_fill(mem.content, cx.v.mul_to(a, p), cx.v.mul_to(b, p), 0)
    return with_memory(st, t, mem._replace(content=content)), status


def _errors_apply_effect(cx: Cx, st: State, status: int | None,
                         then: Callable[[], Outcome]) -> Outcome:
    if status is None or status == OK:
        return _REAL_FAIL_OR(cx, st, status, then)
    try:
        return Outcome(status, then().state)
    except AssertionError:  # an effect that needs what the guard ruled out
        return Outcome(status, st)


def _target_without_window(cx: Cx, st: State, obj: int, rights: Any) -> Target:
    t = _REAL_TARGET(cx, st, obj, rights)
    return t._replace(shift=0)


def _write_through_to_parent(cx: Cx, st: State, t: Target, offset: Any, data: object,
                             end: Any, cut: Any = None) -> State:
    st = _REAL_WRITE_BYTES(cx, st, t, offset, data, end, cut)
    if t.vmo.role == SNAPSHOT and t.vmo.parent is not None:
        parent = _REAL_TARGET(cx, st, t.vmo.parent, 0)
        st = _REAL_WRITE_BYTES(cx, st, parent, offset, data, end)
    return st


def _zero_partial_by_content(cx: Cx, st: State, t: Target, lo: Any, hi: Any
                             ) -> tuple[State, int]:
    """A partial ZERO that trusts the format's pager content: an absent pager page that
    would read zero is left alone, unrequested (no kernel can know that)."""
    v, p = cx.v, cx.page
    olo = v.add(v.floor_to(lo, p), t.shift)[0]
    if cx.when(v.bytes_zero_in(memory(st, t).content, olo, v.add(olo, p)[0])):
        return st, OK
    return _REAL_ZERO_PARTIAL(cx, st, t, lo, hi)


def _zero_discarded_unchecked(cx: Cx, st: State, t: Target, offset: Any, end: Any) -> Outcome:
    """ZERO of a discarded VMO succeeds before its pieces check their bounds."""
    if cx.when(objects.is_discarded(cx, t.vmo)):
        return Outcome(OK, st)
    return _REAL_ZERO_PIECES(cx, st, t, offset, end)


def _reclaim_discards_empty(cx: Cx, st: State, vmo: str) -> Outcome:
    """Reclaim discards a Reclaimable VMO even when it holds no page (the 2023 rule)."""
    profile = cx.profile
    cx.profile = replace(profile, discard_needs_page=False)
    try:
        return _REAL_RECLAIM(cx, st, vmo)
    finally:
        cx.profile = profile


def _always_need_stops(cx: Cx, st: State, t: Target, a: Any, b: Any) -> State:
    """ALWAYS_NEED stops paging in at the first failed request."""
    return _REAL_COMMIT_PAGES(cx, st, t, a, b, True)[0]


def _write_all_or_nothing(cx: Cx, st: State, t: Target, offset: Any, data: object,
                          end: Any, cut: Any = None) -> State:
    """A write that fails part-way leaves no byte written."""
    if cut is not None:
        return st
    return _REAL_WRITE_BYTES(cx, st, t, offset, data, end)


def _discard_keeps_pages(cx: Cx, st: State, obj: int) -> State:
    return st.with_object(obj, st.vmo(obj).with_tracker(Tracker(DISCARDED, 0)))


_REAL_COMMIT_PAGES = paging.commit_pages
_REAL_FAIL_OR = rungs.fail_or
_REAL_TARGET = objects.target
_REAL_WRITE_BYTES = paging.write_bytes
_REAL_ZERO_PARTIAL = paging.zero_partial_page
_REAL_ZERO_PIECES = op_range._zero_pieces
_REAL_RECLAIM = calls.reclaim
_REAL_READ = calls.vmo_read
_REAL_CLOSE = calls.handle_close

MUTANTS: dict[str, Mutant] = {
    "no-rights-checks": lambda: _drop_rungs("requires ZX_RIGHT", "needs ZX_RIGHT",
                                            "needs the right", "needs DUPLICATE", "kf 3.2"),
    "bad-handle-misreported": lambda: _retarget(ERR_WRONG_TYPE, "BAD_HANDLE", "handle lookup",
                                                "pager handle", "VMO handle"),
    "invalid-op-misreported": lambda: _retarget(ERR_NOT_SUPPORTED, "op is not a valid operation"),
    "commit-unbounded": lambda: _drop_rungs("COMMIT (3)-(4)"),
    "decommit-unaligned-ok": lambda: _drop_rungs("DECOMMIT (8)"),
    "decommit-anywhere": lambda: _drop_rungs("DECOMMIT (4)-(5)", "DECOMMIT (7)"),
    "decommit-keeps-bytes": _patch(op_range, "release_bytes", _decommit_keeps_bytes),
    "commit-does-nothing": _patch(op_range, "commit_pages", _commit_nothing),
    "zero-whole-pages-off-by-one": _patch(op_range, "zero_whole_pages", _whole_pages_short),
    "zero-pieces-unchecked": lambda: _drop_rungs("ZERO piece past S", "ZERO overflow"),
    "lock-count-not-kept": _patch(op_range, "_locked", _locked_without_count),
    "lock-any-range": lambda: _drop_rungs("range other than (0, S)"),
    "lock-family-misreported": lambda: _retarget(ERR_INVALID_ARGS, "not discardable"),
    "unlock-unbalanced-ok": lambda: _drop_rungs("UNLOCK of a VMO not locked"),
    "try-lock-ignores-discard": lambda: _drop_rungs("UNAVAILABLE once discarded"),
    "discarded-still-readable": lambda: _drop_rungs("of a discarded VMO"),
    "reclaim-ignores-lock": _patch(calls, "reclaim", _reclaim_ignores_lock),
    "cache-size-zero-ok": lambda: _drop_rungs("size 0 cache op"),
    "cache-invalidate-ungated": lambda: _drop_rungs("debugging syscalls are off"),
    "cache-unbounded": lambda: _drop_rungs("page: OUT_OF_RANGE"),
    "hints-unbounded": lambda: _drop_rungs("DONT_NEED: not in bounds", "ALWAYS_NEED: not in bounds",
                                           "DONT_NEED (3)", "ALWAYS_NEED (3)"),
    "prefetch-unbounded": lambda: _drop_rungs("PREFETCH (3)-(5)"),
    "read-returns-zeros": _patch(calls, "vmo_read", _read_zeros),
    "close-keeps-handle": _patch(calls, "handle_close", _close_keeps_handle),
    "child-errors-misreported": lambda: _retarget(ERR_INTERNAL, "sf 1:", "kf 5.5"),
    "pager-errors-misreported": lambda: _retarget(ERR_INTERNAL, "sf 6:"),
    "create-errors-misreported": lambda: _retarget(ERR_INTERNAL, "kf 6:"),
    "resize-errors-misreported": lambda: _retarget(ERR_INTERNAL, "sf 3:"),
    "handle-errors-misreported": lambda: _retarget(ERR_INTERNAL, "sf 4:"),
    "reversed-precedence": _reversed_precedence,
    "commit-one-page-too-many": _patch(op_range, "commit_pages", _commit_one_page_more),
    "commit-clears-bytes": _patch(op_range, "commit_pages", _commit_clears_bytes),
    "errors-apply-effect": _patch(op_range, "fail_or", _errors_apply_effect),
    "slice-ignores-window": _patch(op_range, "target", _target_without_window),
    "copy-on-write-lost": _patch(calls, "write_bytes", _write_through_to_parent),
    "discard-keeps-pages": _patch(calls, "discard", _discard_keeps_pages),
    "zero-trusts-pager-content": _patch(op_range, "zero_partial_page", _zero_partial_by_content),
    "zero-discarded-unchecked": _patch(op_range, "_zero_pieces", _zero_discarded_unchecked),
    "reclaim-discards-empty": _patch(calls, "reclaim", _reclaim_discards_empty),
    "always-need-stops-at-failure": _patch(op_range, "page_in_best_effort", _always_need_stops),
    "write-all-or-nothing": _patch(calls, "write_bytes", _write_all_or_nothing),
}
