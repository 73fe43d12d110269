"""Well-formedness: what every state reachable by a trace satisfies (invariant 15).

Each clause is a named z3 predicate over a State, so a proof can assume all of them of
the state before a step and must show each of them of the state after it.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import z3

from spec.abi import DEFAULT_VMO_RIGHTS, RIGHT_RESIZE
from spec.objects import visible_size
from spec.state import DISCARDED, SLICE, SNAPSHOT, UNRECLAIMABLE, State, Vmo
from spec.symbolic import word

Clause = Callable[[State, int, z3.BitVecRef], z3.BoolRef]


def _page_of(i: z3.BitVecRef, page: int) -> z3.BitVecRef:
    return z3.UDiv(i, page)


def pager_byte(i: Any, page: int) -> z3.BitVecRef:
    """The format's pager content at offset i: page n reads (n + 1) % 256."""
    return z3.Extract(7, 0, z3.UDiv(word(i), page) + 1)


def _vmos(st: State) -> list[tuple[int, Vmo]]:
    return [(k, o) for k, o in st.objects.items() if isinstance(o, Vmo)]


def sizes_aligned(st: State, page: int, i: z3.BitVecRef) -> z3.BoolRef:
    return z3.And(True, *[word(visible_size(st, k)) & (page - 1) == 0 for k, _ in _vmos(st)])


def nothing_committed_past_size(st: State, page: int, i: z3.BitVecRef) -> z3.BoolRef:
    """Committed bytes never exceed the size: no page at or past S is committed."""
    out = []
    for k, o in _vmos(st):
        if o.memory is not None:
            last = z3.UDiv(word(visible_size(st, k)), page)
            out.append(z3.Implies(z3.UGE(i, last), z3.Not(o.memory.committed[i])))
    return z3.And(True, *out)


def uncommitted_reads_zero(st: State, page: int, i: z3.BitVecRef) -> z3.BoolRef:
    """Invariant 5: outside pager-backed VMOs and snapshot clones (which read their
    parent's pages until they fork them), a page that is not committed reads zero."""
    out = []
    for _, o in _vmos(st):
        if o.memory is not None and o.marks is None and o.role != SNAPSHOT:
            out.append(z3.Implies(z3.Not(o.memory.committed[_page_of(i, page)]),
                                  o.memory.content[i] == 0))
    return z3.And(True, *out)


def snapshot_reads_zero_past_size(st: State, page: int, i: z3.BitVecRef) -> z3.BoolRef:
    out = []
    for k, o in _vmos(st):
        if o.memory is not None and o.role == SNAPSHOT:
            out.append(z3.Implies(z3.UGE(i, word(visible_size(st, k))),
                                  o.memory.content[i] == 0))
    return z3.And(True, *out)


def clean_pager_pages_read_pager_content(st: State, page: int, i: z3.BitVecRef) -> z3.BoolRef:
    """A pager page never written (or zeroed) reads what the pager supplies."""
    out = []
    for _, o in _vmos(st):
        if o.memory is not None and o.marks is not None:
            out.append(z3.Implies(z3.Not(o.marks.dirty[_page_of(i, page)]),
                                  o.memory.content[i] == pager_byte(i, page)))
    return z3.And(True, *out)


def tracker_consistent(st: State, page: int, i: z3.BitVecRef) -> z3.BoolRef:
    """discardable.states: four states; the lock count is >= 1 exactly in Unreclaimable; a discarded
    VMO holds no page and reads zero."""
    out = []
    for _, o in _vmos(st):
        if o.tracker is None or o.memory is None:
            continue
        s, n = word(o.tracker.state), word(o.tracker.count)
        out += [
            z3.ULE(s, 3),
            (s == UNRECLAIMABLE) == z3.UGE(n, 1),
            z3.Implies(s != UNRECLAIMABLE, n == 0),
            z3.Implies(s == DISCARDED, z3.And(o.memory.content[i] == 0,
                                              z3.Not(o.memory.committed[i]))),
        ]
    return z3.And(True, *out)


def slices_fit(st: State, page: int, i: z3.BitVecRef) -> z3.BoolRef:
    out = []
    for _, o in _vmos(st):
        if o.role == SLICE and o.parent is not None:
            end = word(o.window) + word(o.size)
            out += [word(o.window) & (page - 1) == 0, z3.ULE(word(o.window), end),
                    z3.ULE(end, word(visible_size(st, o.parent)))]
    return z3.And(True, *out)


def rights_are_vmo_rights(st: State, page: int, i: z3.BitVecRef) -> z3.BoolRef:
    out = []
    for h in st.handles.values():
        if isinstance(st.objects.get(h.obj), Vmo):
            out.append(word(h.rights) & ~z3.BitVecVal(DEFAULT_VMO_RIGHTS | RIGHT_RESIZE, 64) == 0)
    return z3.And(True, *out)


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
