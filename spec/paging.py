"""Effects on pages shared by several transitions: committing (paging in from the
trace's pager), releasing, zeroing and writing bytes.

Ranges here are byte offsets in the target VMO's own space, already checked; they are
moved into the owner's space with the target's shift.
"""

from __future__ import annotations

from spec.abi import ERR_BAD_STATE, OK
from spec.explore import Cx
from spec.objects import Target, memory, pager_detached, with_memory
from spec.state import Memory, State
from spec.values import Word


def owner_pages(cx: Cx, t: Target, lo: Word, hi: Word) -> tuple[Word, Word]:
    """The owner's page numbers [a, b) that hold the bytes [lo, hi) of the target,
    rounded out."""
    v, p = cx.v, cx.page
    a = v.div_to(v.add(lo, t.shift)[0], p)
    b = v.div_to(v.ceil_to(v.add(hi, t.shift)[0], p)[0], p)
    return a, b


def commit_pages(
    cx: Cx, st: State, t: Target, a: Word, b: Word, reading: bool = False
) -> tuple[State, int]:
    """Make the owner's pages [a, b) committed. Pager-backed pages that are absent are
    requested; a request the trace scripted to fail fails the call, keeping the pages
    before it (kernel-facts 4.1: nothing is rolled back). A read (`reading`) needs no
    page for a dirty zero interval of a pager VMO, so it commits none there (kf 4.3)."""
    v = cx.v
    owner = st.vmo(t.owner)
    mem = memory(st, t)
    if owner.kind.contiguous:  # every page exists from creation
        return st, OK
    marks = owner.marks
    if marks is None:
        return with_memory(st, t, Memory(mem.content, v.pages_add(mem.committed, a, b))), OK
    if pager_detached(st, owner) and cx.when(v.ult(v.pages_first_out(mem.committed, a, b), b)):
        cx.why = "kf 6: a detached page source cannot supply pages -> BAD_STATE"
        return st, ERR_BAD_STATE
    stop, failing = b, -1
    for k, (fa, fb, _status) in enumerate(marks.fails):
        lo = v.ite(v.ult(a, fa), fa, a)
        hi = v.umin(b, fb)
        first = v.pages_first_out(mem.committed, lo, hi)
        if cx.when(v.and_(v.ult(lo, hi), v.ult(first, hi), v.ult(first, stop))):
            stop, failing = first, k
    fetched = v.pages_add(v.pages_empty(), a, stop)
    if reading:
        fetched = v.pages_diff(fetched, marks.dirty)
    st = with_memory(st, t, Memory(mem.content, v.pages_union(mem.committed, fetched)))
    if failing < 0:
        return st, OK
    cx.why = "trace-format: a scripted pager failure, answered once"
    fails = marks.fails[:failing] + marks.fails[failing + 1:]
    st = st.with_object(t.owner, st.vmo(t.owner)._replace(marks=marks._replace(fails=fails)))
    return st, marks.fails[failing][2]


def release_bytes(cx: Cx, st: State, t: Target, lo: Word, hi: Word) -> State:
    """DECOMMIT's effect: [lo, hi) (page-aligned) reads zero and holds no pages."""
    v, p = cx.v, cx.page
    mem = memory(st, t)
    olo, ohi = v.add(lo, t.shift)[0], v.add(hi, t.shift)[0]
    content = v.bytes_fill(mem.content, olo, ohi, 0)
    committed = v.pages_remove(mem.committed, v.div_to(olo, p), v.div_to(ohi, p))
    return with_memory(st, t, Memory(content, committed))


def zero_whole_pages(cx: Cx, st: State, t: Target, lo: Word, hi: Word) -> State:
    """ZERO of whole pages [lo, hi): the bytes read zero. Anonymous and COW pages are
    freed or replaced by zero markers; a contiguous VMO keeps its pages; a pager-backed
    VMO gets dirty zero intervals and commits nothing (kernel-facts 4.3)."""
    v, p = cx.v, cx.page
    owner = st.vmo(t.owner)
    mem = memory(st, t)
    olo, ohi = v.add(lo, t.shift)[0], v.add(hi, t.shift)[0]
    a, b = v.div_to(olo, p), v.div_to(ohi, p)
    content = v.bytes_fill(mem.content, olo, ohi, 0)
    committed = mem.committed if owner.kind.contiguous else v.pages_remove(mem.committed, a, b)
    return mark_dirty(cx, with_memory(st, t, Memory(content, committed)), t.owner, a, b)


def mark_dirty(cx: Cx, st: State, owner: int, a: Word, b: Word) -> State:
    """A pager-backed owner's pages [a, b) no longer read the pager's content."""
    marks = st.vmo(owner).marks
    if marks is None:
        return st
    dirty = cx.v.pages_add(marks.dirty, a, b)
    return st.with_object(owner, st.vmo(owner)._replace(marks=marks._replace(dirty=dirty)))


def write_bytes(cx: Cx, st: State, t: Target, offset: Word, data: object, end: Word) -> State:
    """Bytes written into [offset, end): the pages holding them become committed (and
    dirty, for a pager-backed VMO). The caller has paged absent pager pages in."""
    mem = memory(st, t)
    content = cx.v.bytes_write(mem.content, cx.v.add(offset, t.shift)[0], data)
    return _touched(cx, st, t, offset, end, content)


def _touched(cx: Cx, st: State, t: Target, lo: Word, hi: Word, content: object) -> State:
    """The owner with new content, and the pages holding [lo, hi) committed and dirty."""
    v = cx.v
    owner = st.vmo(t.owner)
    mem = memory(st, t)
    a, b = owner_pages(cx, t, lo, hi)
    committed = mem.committed if owner.kind.contiguous else v.pages_add(mem.committed, a, b)
    return mark_dirty(cx, with_memory(st, t, Memory(content, committed)), t.owner, a, b)


def zero_partial_page(cx: Cx, st: State, t: Target, lo: Word, hi: Word) -> tuple[State, int]:
    """ZERO of part of one page: nothing if the page already reads zero; otherwise the
    bytes are written in place, which commits (or forks) that page (kernel-facts 4.3)."""
    v, p = cx.v, cx.page
    mem = memory(st, t)
    page_lo = v.floor_to(lo, p)
    olo = v.add(page_lo, t.shift)[0]
    if cx.when(v.bytes_zero_in(mem.content, olo, v.add(olo, p)[0])):
        return st, OK
    a, b = owner_pages(cx, t, page_lo, v.add(page_lo, p)[0])
    st, status = commit_pages(cx, st, t, a, b)
    if status != OK:
        return st, status
    mem = memory(st, t)
    content = v.bytes_fill(mem.content, v.add(lo, t.shift)[0], v.add(hi, t.shift)[0], 0)
    return _touched(cx, st, t, lo, hi, content), OK
