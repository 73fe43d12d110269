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

from spec import calls, cow, objects, op_range, paging, rungs
from spec.abi import ERR_INTERNAL, ERR_INVALID_ARGS, ERR_NOT_SUPPORTED, ERR_WRONG_TYPE, OK
from spec.explore import Cx, Rung
from spec.objects import Target, memory, with_memory
from spec.outcome import Outcome
from spec.sources import ids
from spec.state import DISCARDED, RECLAIMABLE, SNAPSHOT, UNRECLAIMABLE, State, Tracker

Mutant = Callable[[], AbstractContextManager[None]]


def _cites(why: str, cited: tuple[str, ...]) -> bool:
    return any(i in cited or any(c.endswith(".") and i.startswith(c) for c in cited)
               for i in ids(why))


@contextmanager
def _drop_rungs(*cited: str) -> Iterator[None]:
    """Guards that cite any of these fact ids (or, for a name ending in ".", any id of
    that topic) are gone."""
    ladder, first = Cx.ladder, Cx.first

    def keep(rungs: tuple[Rung, ...]) -> tuple[Rung, ...]:
        return tuple(r for r in rungs if not _cites(r[2], cited))

    with mock.patch.object(Cx, "ladder", lambda self, *r: ladder(self, *keep(r))), \
            mock.patch.object(Cx, "first", lambda self, *r: first(self, *keep(r))):
        yield


@contextmanager
def _retarget(status: int, *cited: str) -> Iterator[None]:
    """Guards that cite any of these fact ids (as in _drop_rungs) report `status`."""
    ladder, first = Cx.ladder, Cx.first

    def swap(rungs: tuple[Rung, ...]) -> tuple[Rung, ...]:
        return tuple((status, r[1], r[2]) if _cites(r[2], cited) else r for r in rungs)

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


def _fetch_nothing(cx: Cx, st: State, obj: int, a: Any, b: Any, best_effort: bool = False
                   ) -> tuple[State, int]:
    """A child reading through pages nothing in at the root."""
    return st, OK


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
    "no-rights-checks": lambda: _drop_rungs(
        "page.commit.rights", "page.decommit.rights", "page.zero.rights", "page.lock.rights",
        "page.try_lock.rights", "page.unlock.rights", "page.cache_sync.rights",
        "page.cache_invalidate.rights", "page.cache_clean.rights",
        "page.cache_clean_invalidate.rights", "prefetch.rights", "rw.rights",
        "set_size.rights", "set_size.resize_right", "dup.rights", "child.rights",
        "pager.op.vmo_rights", "sel4zircon.rights.write_all", "eclipse.cache.rights"),
    "bad-handle-misreported": lambda: _retarget(
        ERR_WRONG_TYPE, "page.errors.bad_handle", "prefix.handle_lookup", "handle.lookup",
        "pager.handle", "pager.op.vmo_handle"),
    "invalid-op-misreported": lambda: _retarget(ERR_NOT_SUPPORTED, "page.errors.invalid_op"),
    "commit-unbounded": lambda: _drop_rungs("commit.bounds"),
    "decommit-unaligned-ok": lambda: _drop_rungs("decommit.aligned"),
    "decommit-anywhere": lambda: _drop_rungs("decommit.bounds.2025", "decommit.bounds.2023",
                                             "decommit.cow_or_pager"),
    "decommit-keeps-bytes": _patch(op_range, "release_bytes", _decommit_keeps_bytes),
    "commit-does-nothing": _patch(op_range, "commit_pages", _commit_nothing),
    "zero-whole-pages-off-by-one": _patch(op_range, "zero_whole_pages", _whole_pages_short),
    "zero-pieces-unchecked": lambda: _drop_rungs("zero.overflow.2025"),
    "lock-count-not-kept": _patch(op_range, "_locked", _locked_without_count),
    "lock-any-range": lambda: _drop_rungs("lock.whole_range"),
    "lock-family-misreported": lambda: _retarget(ERR_INVALID_ARGS, "page.errors.not_discardable"),
    "unlock-unbalanced-ok": lambda: _drop_rungs("page.errors.unlock_not_locked"),
    "try-lock-ignores-discard": lambda: _drop_rungs("page.try_lock.unavailable"),
    "discarded-still-readable": lambda: _drop_rungs("discard.commit.not_found",
                                                   "discard.read_write.not_found"),
    "reclaim-ignores-lock": _patch(calls, "reclaim", _reclaim_ignores_lock),
    "cache-size-zero-ok": lambda: _drop_rungs("page.errors.cache_size_zero"),
    "cache-invalidate-ungated": lambda: _drop_rungs("cache.invalidate_gate"),
    "cache-unbounded": lambda: _drop_rungs("page.errors.out_of_range"),
    "hints-unbounded": lambda: _drop_rungs("dont_need.bounds", "always_need.bounds",
                                           "hints.overflow"),
    "prefetch-unbounded": lambda: _drop_rungs("prefetch.bounds"),
    "through-fetches-nothing": _patch(cow, "fetch", _fetch_nothing),
    "shrink-leaves-stale-view": _patch(cow, "_clear_unseen", lambda cx, st: st),
    "read-returns-zeros": _patch(calls, "vmo_read", _read_zeros),
    "close-keeps-handle": _patch(calls, "handle_close", _close_keeps_handle),
    "child-errors-misreported": lambda: _retarget(ERR_INTERNAL, "child.",
                                                    "discardable.no_children"),
    "pager-errors-misreported": lambda: _retarget(ERR_INTERNAL, "pager."),
    "create-errors-misreported": lambda: _retarget(ERR_INTERNAL, "create."),
    "resize-errors-misreported": lambda: _retarget(ERR_INTERNAL, "set_size."),
    "handle-errors-misreported": lambda: _retarget(ERR_INTERNAL, "handle.lookup", "dup.", "close."),
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
    "uncached-readable": lambda: _drop_rungs("rw.uncached"),
    "uncached-has-children": lambda: _drop_rungs("child.uncached"),
    "cache-policy-unguarded": lambda: _drop_rungs(
        "cache_policy.family", "cache_policy.reference.2025", "cache_policy.cached_only.2025",
        "cache_policy.committed.2023"),
    "physical-acts-as-paged": lambda: _drop_rungs(
        "commit.physical", "decommit.physical", "zero.physical", "cache.physical.2025",
        "rw.physical", "set_size.physical", "child.physical"),
    "contiguous-acts-as-anonymous": lambda: _drop_rungs(
        "decommit.contiguous", "child.snapshot.contiguous"),
    "kind-creation-unchecked": lambda: _drop_rungs(
        "contiguous.size", "contiguous.alignment", "physical.size", "physical.range"),
    "always-need-stops-at-failure": _patch(op_range, "page_in_best_effort", _always_need_stops),
    "write-all-or-nothing": _patch(calls, "write_bytes", _write_all_or_nothing),
}
