"""Well-formedness: what every state reachable by a trace satisfies (invariant 15).

Each clause is a named predicate over a State at an offset, so a proof can assume all
of them of the state before a step and must show each of them of the state after it.
Given a z3 offset a clause is a z3 formula; given an int it is evaluated on a concrete
state (proofs/logic.py), which is how `vmospec explore` checks every state it reaches.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import z3

from proofs.logic import logic_for
from spec.abi import DEFAULT_VMO_RIGHTS, RIGHT_RESIZE
from spec.objects import has_live_snapshot_child, visible_size
from spec.state import DISCARDED, SLICE, SNAPSHOT, UNRECLAIMABLE, State, Vmo

Clause = Callable[[State, int, Any], Any]  # (state, page size, offset) -> formula


def _page_of(i: Any, page: int) -> Any:
    return logic_for(i).UDiv(i, page)


def pager_byte(i: Any, page: int) -> Any:
    """The format's pager content at offset i: page n reads (n + 1) % 256."""
    lg = logic_for(i)
    return lg.Extract(7, 0, lg.UDiv(lg.word(i), page) + 1)


def _vmos(st: State) -> list[tuple[int, Vmo]]:
    return [(k, o) for k, o in st.objects.items() if isinstance(o, Vmo)]


def sizes_aligned(st: State, page: int, i: Any) -> Any:
    lg = logic_for(i)
    return lg.And(True, *[lg.word(visible_size(st, k)) & (page - 1) == 0 for k, _ in _vmos(st)])


def nothing_committed_past_size(st: State, page: int, i: Any) -> Any:
    """Committed bytes never exceed the size: no page at or past S is committed."""
    lg = logic_for(i)
    out = []
    for k, o in _vmos(st):
        if o.memory is not None:
            last = lg.UDiv(lg.word(visible_size(st, k)), page)
            out.append(lg.Implies(lg.UGE(i, last), lg.Not(o.memory.committed[i])))
    return lg.And(True, *out)


def uncommitted_reads_zero(st: State, page: int, i: Any) -> Any:
    """Invariant 5: outside pager-backed VMOs and copy-on-write families (a snapshot,
    and an original whose pages a hidden node holds now, even once its handles are
    closed, read pages they do not own: cow.hidden_node), a page that is not committed
    reads zero."""
    lg = logic_for(i)
    out = []
    for k, o in _vmos(st):
        if (o.memory is not None and o.marks is None and o.role != SNAPSHOT
                and k not in st.nodes and not has_live_snapshot_child(st, k)):
            out.append(lg.Implies(lg.Not(o.memory.committed[_page_of(i, page)]),
                                  o.memory.content[i] == 0))
    return lg.And(True, *out)


def snapshot_reads_zero_past_size(st: State, page: int, i: Any) -> Any:
    lg = logic_for(i)
    out = []
    for k, o in _vmos(st):
        if o.memory is not None and o.role == SNAPSHOT:
            out.append(lg.Implies(lg.UGE(i, lg.word(visible_size(st, k))),
                                  o.memory.content[i] == 0))
    return lg.And(True, *out)


def clean_pager_pages_read_pager_content(st: State, page: int, i: Any) -> Any:
    """A pager page never written (or zeroed) reads what the pager supplies."""
    lg = logic_for(i)
    out = []
    for _, o in _vmos(st):
        if o.memory is not None and o.marks is not None:
            out.append(lg.Implies(lg.Not(o.marks.dirty[_page_of(i, page)]),
                                  o.memory.content[i] == pager_byte(i, page)))
    return lg.And(True, *out)


def tracker_consistent(st: State, page: int, i: Any) -> Any:
    """discardable.states: four states; the lock count is >= 1 exactly in Unreclaimable; a discarded
    VMO holds no page and reads zero."""
    lg = logic_for(i)
    out = []
    for _, o in _vmos(st):
        if o.tracker is None or o.memory is None:
            continue
        s, n = lg.word(o.tracker.state), lg.word(o.tracker.count)
        out += [
            lg.ULE(s, 3),
            (s == UNRECLAIMABLE) == lg.UGE(n, 1),
            lg.Implies(s != UNRECLAIMABLE, n == 0),
            lg.Implies(s == DISCARDED, lg.And(o.memory.content[i] == 0,
                                              lg.Not(o.memory.committed[i]))),
        ]
    return lg.And(True, *out)


def slices_fit(st: State, page: int, i: Any) -> Any:
    lg = logic_for(i)
    out = []
    for _, o in _vmos(st):
        if o.role == SLICE and o.parent is not None:
            end = lg.word(o.window) + lg.word(o.size)
            out += [lg.word(o.window) & (page - 1) == 0, lg.ULE(lg.word(o.window), end),
                    lg.ULE(end, lg.word(visible_size(st, o.parent)))]
    return lg.And(True, *out)


def rights_are_vmo_rights(st: State, page: int, i: Any) -> Any:
    lg = logic_for(i)
    out = []
    for h in st.handles.values():
        if isinstance(st.objects.get(h.obj), Vmo):
            vmo_rights = lg.BitVecVal(DEFAULT_VMO_RIGHTS | RIGHT_RESIZE, 64)
            out.append(lg.word(h.rights) & ~vmo_rights == 0)
    return lg.And(True, *out)


CLAUSES: dict[str, Clause] = {
    "sizes are page-aligned": sizes_aligned,
    "nothing committed past the size": nothing_committed_past_size,
    "uncommitted pages read zero": uncommitted_reads_zero,
    "a snapshot reads zero past its size": snapshot_reads_zero_past_size,
    "clean pager pages read the pager's content": clean_pager_pages_read_pager_content,
    "the discardable tracker is consistent": tracker_consistent,
    "slices fit their parent": slices_fit,
    "handles carry VMO rights": rights_are_vmo_rights,
}


def well_formed(st: State, page: int) -> z3.BoolRef:
    """All clauses, for every offset (the assumption about a state before a step)."""
    i = z3.BitVec("wf_i", 64)
    return z3.ForAll([i], well_formed_at(st, page, i))


def well_formed_at(st: State, page: int, i: Any) -> z3.BoolRef:
    """All clauses at one offset: a ground instance of `well_formed`."""
    return z3.And(*[c(st, page, i) for c in CLAUSES.values()])
