"""Deliberately broken copy-on-write rules (spec/cow.py), switched on by name.

Each example in refinement_tests/traces/cow/ must diverge under one of these, and each
must be caught by one of them (refinement_tests/tests/test_cow_examples.py).
"""

from __future__ import annotations

from typing import Any
from unittest import mock

import z3

from refinement_tests.spec_mutants import Mutant
from spec import cow, op_range, paging
from spec.abi import ERR_BAD_STATE
from spec.explore import Cx
from spec.objects import Target, memory, pager_detached, with_memory
from spec.state import Memory, State
from spec.values import Word

_ATTRIBUTION = cow.attribution
_FETCH = cow.fetch
_MERGE = cow._merge
_SHARES = cow.shares
_ZERO_WHOLE = paging.zero_whole_pages


def _unsplit(cx: Cx, seen: Any, hid: int, x: Word) -> dict[int, tuple[Any, Any, Any]]:
    """Share counts that never split a page: each VMO that sees it takes all of it."""
    whole = cx.page << cow.FRACTION_BITS
    return {k: (f, alone, z3.If(f, z3.IntVal(whole), z3.IntVal(0)) if cx.v.symbolic
                else (whole if f else 0))
            for k, (f, alone, _part) in _SHARES(cx, seen, hid, x).items()}


def _private_is_committed(cx: Cx, seen: Any, hid: int, x: Word
                          ) -> dict[int, tuple[Any, Any, Any]]:
    """Every VMO that sees a shared page counts it as its private one."""
    return {k: (f, f, part) for k, (f, _alone, part) in _SHARES(cx, seen, hid, x).items()}


def _fraction_dropped(cx: Cx, st: State, obj: int) -> tuple[int, int, int, int]:
    committed, private, scaled, _frac = _ATTRIBUTION(cx, st, obj)
    return committed, private, scaled, 0


def _same(cx: Cx, st: State, *_args: Any) -> State:
    return st


def _no_decommit_rule(st: State, t: Target) -> bool:
    return bool(t.root.kind.pager_backed)


def _unresized(cx: Cx, st: State, obj: int, size: Word) -> State:
    return st


def _push_nothing(cx: Cx, st: State, obj: int, a: Word, b: Word) -> State:
    return st


def _merge_frees_all(cx: Cx, st: State, hid: int, cid: int) -> State:
    """A merge that moves no page into the survivor."""
    nodes = dict(st.nodes)
    nodes[hid] = nodes[hid]._replace(pages=cx.v.pages_empty())
    return _MERGE(cx, st.with_nodes(nodes), hid, cid)


def _merge_drops_markers(cx: Cx, st: State, hid: int, cid: int) -> State:
    """A merge that keeps only the hidden node's zero markers: the survivor's own are
    lost, so where it had zeroed it sees the grandparent's page again."""
    zeros = st.nodes[cid].zeros
    st = _MERGE(cx, st, hid, cid)
    nodes = dict(st.nodes)
    n = nodes[cid]
    nodes[cid] = n._replace(zeros=cx.v.pages_diff(n.zeros, zeros))
    return st.with_nodes(nodes)


def _zero_keeps_pages(cx: Cx, st: State, t: Target, lo: Word, hi: Word) -> State:
    """ZERO of whole pages that reads zero but frees none of them (zero.effect: a root's
    whole pages are decommitted, vmo-zero DecommitMiddle)."""
    kept = memory(st, t).committed
    st = _ZERO_WHOLE(cx, st, t, lo, hi)
    return with_memory(st, t, Memory(memory(st, t).content, kept))


def _detached_child_faults(cx: Cx, st: State, obj: int, a: Word, b: Word,
                           best_effort: bool = False) -> tuple[State, int]:
    """A read through a child of a detached root faults on every page it reads through,
    even one the root still holds (CloneDetachTest read as if closing the pager freed the
    root's pages, which only zx_pager_detach_vmo does: pager.close_keeps_pages)."""
    v = cx.v
    want, root = v.pages_add(v.pages_empty(), a, b), obj
    while root in st.nodes:
        through = cow.sight(cx, st, root)[1]
        if through is None:
            break
        pages, root, shift = through
        want = v.pages_up(v.pages_inter(want, pages), v.div_to(shift, cx.page))
    if root != obj and pager_detached(st, st.vmo(root)) and list(v.pages_runs(want)):
        return st, ERR_BAD_STATE
    return _FETCH(cx, st, obj, a, b, best_effort)


def _zero_frees_contiguous(cx: Cx, st: State, t: Target, lo: Word, hi: Word) -> State:
    """ZERO of whole pages that frees them in a contiguous VMO too (zero.effect: its
    pages stay, vmo-zero's contiguous case and kernel facts 8.4.2)."""
    st = _ZERO_WHOLE(cx, st, t, lo, hi)
    if not st.vmo(t.owner).kind.contiguous:
        return st
    v, mem = cx.v, memory(st, t)
    a, b = (v.div_to(v.add(x, t.shift)[0], cx.page) for x in (lo, hi))
    return with_memory(st, t, Memory(mem.content, v.pages_remove(mem.committed, a, b)))


def _patch(name: str, new: Any, target: Any = cow) -> Mutant:
    return lambda: mock.patch.object(target, name, new)


COW_MUTANTS: dict[str, Mutant] = {
    "shared-pages-unsplit": _patch("shares", _unsplit),
    "private-counts-shared": _patch("shares", _private_is_committed),
    "fraction-dropped": _patch("attribution", _fraction_dropped),
    "legacy-youngest-owner": _patch("legacy_owner", max),
    "legacy-shared-page-unowned": _patch("legacy_owner", lambda who: -1),
    "legacy-no-copy-down": _patch("_push_down", _push_nothing),
    "merge-frees-everything": _patch("_merge", _merge_frees_all),
    "merge-drops-markers": _patch("_merge", _merge_drops_markers),
    "zero-leaves-no-marker": _patch("zeroed", lambda cx, st, obj, a, b: st),
    "resize-keeps-windows": _patch("resized", _unresized),
    "resize-leaves-stale-bytes": _patch("_clear_unseen", lambda cx, st: st),
    "detached-child-faults-held": _patch("fetch", _detached_child_faults),
    "child-is-a-copy": _patch("reads_through", lambda st, obj: False),
    "zero-keeps-whole-pages": _patch("zero_whole_pages", _zero_keeps_pages, op_range),
    "contiguous-zero-frees": _patch("zero_whole_pages", _zero_frees_contiguous, op_range),
    "decommit-beside-children": _patch("_decommit_unsupported", _no_decommit_rule, op_range),
}
