"""Deliberately broken copy-on-write rules (spec/cow.py), switched on by name.

Each example in refinement_tests/traces/cow/ must diverge under one of these, and each
must be caught by one of them (refinement_tests/tests/test_cow_examples.py).
"""

from __future__ import annotations

from typing import Any
from unittest import mock

from refinement_tests.spec_mutants import Mutant
from spec import cow, op_range
from spec.explore import Cx
from spec.objects import Target
from spec.state import State
from spec.values import Word

_ATTRIBUTION = cow.attribution
_MERGE = cow._merge


def _unsplit(cx: Cx, st: State, obj: int) -> tuple[int, int, int, int]:
    """Share counts that never split a page: scaled reads as committed."""
    committed, private, _scaled, _frac = _ATTRIBUTION(cx, st, obj)
    return committed, private, committed, 0


def _private_is_committed(cx: Cx, st: State, obj: int) -> tuple[int, int, int, int]:
    committed, _private, scaled, frac = _ATTRIBUTION(cx, st, obj)
    return committed, committed, scaled, frac


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


def _patch(name: str, new: Any, target: Any = cow) -> Mutant:
    return lambda: mock.patch.object(target, name, new)


COW_MUTANTS: dict[str, Mutant] = {
    "shared-pages-unsplit": _patch("attribution", _unsplit),
    "private-counts-shared": _patch("attribution", _private_is_committed),
    "fraction-dropped": _patch("attribution", _fraction_dropped),
    "legacy-youngest-owner": _patch("legacy_owner", max),
    "legacy-no-copy-down": _patch("_push_down", _push_nothing),
    "merge-frees-everything": _patch("_merge", _merge_frees_all),
    "zero-leaves-no-marker": _patch("zeroed", lambda cx, st, obj, a, b: st),
    "resize-keeps-windows": _patch("resized", _unresized),
    "child-is-a-copy": _patch("reads_through", lambda st, obj: False),
    "decommit-beside-children": _patch("_decommit_unsupported", _no_decommit_rule, op_range),
}
