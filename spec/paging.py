"""Effects on pages shared by several transitions: committing (paging in from the
trace's pager), releasing, zeroing and writing bytes.

Ranges here are byte offsets in the target VMO's own space, already checked; they are
moved into the owner's space with the target's shift.
"""

from __future__ import annotations

from spec import cow
from spec.abi import ERR_BAD_STATE, OK
from spec.explore import Cx
from spec.objects import Target, memory, pager_detached, with_memory
from spec.state import Memory, State
from spec.values import PageSet, Word


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
    """Make the owner's pages [a, b) committed, in ascending order. A pager-backed page
    that is absent is requested; the first request that fails (a failure the trace
    scripted, or a detached pager: BAD_STATE) fails the call, keeping the pages before
    it (commit.effect: nothing is rolled back). Dirty pages read without the pager
    (written ones, and zero intervals: zero.effect), so they are never requested; only a
    COMMIT (not `reading`: a read, PREFETCH, ALWAYS_NEED) gives a zero interval a page."""
    v = cx.v
    if t.owner in st.nodes:
        # cow.read_through, cow.through_fork: a read through a pager root's child
        # fetches into the root; a COMMIT forks every page in, fetching at the root first
        if reading and cow.reads_through(st, t.owner):
            return cow.fetch(cx, st, t.owner, a, b)
        st, status = cow.fork(cx, st, t.owner, a, b)
        if status != OK:
            return st, status
    owner = st.vmo(t.owner)
    mem = memory(st, t)
    marks = owner.marks
    if marks is None:
        st = with_memory(st, t, Memory(mem.content, v.pages_add(mem.committed, a, b)))
        return (cow.normalize(cx, st) if t.owner in st.nodes else st), OK
    have = _present(cx, mem.committed, marks.dirty, a, b)
    stop, status, failing = b, OK, -1
    if pager_detached(st, owner):
        first = v.pages_first_out(have, a, b)
        if cx.when(v.ult(first, b)):
            cx.why = "pager.detached"
            stop, status = first, ERR_BAD_STATE
    else:
        for k, (fa, fb, _status) in enumerate(marks.fails):
            lo = v.ite(v.ult(a, fa), fa, a)
            hi = v.umin(b, fb)
            first = v.pages_first_out(have, lo, hi)
            if cx.when(v.and_(v.ult(lo, hi), v.ult(first, hi), v.ult(first, stop))):
                stop, failing = first, k
    fetched = v.pages_add(v.pages_empty(), a, stop)
    if reading:
        fetched = v.pages_diff(fetched, marks.dirty)
    st = with_memory(st, t, Memory(mem.content, v.pages_union(mem.committed, fetched)))
    if failing < 0:
        return st, status
    cx.why = "pager.fail.effect, commit.pager_errors"
    fails = marks.fails[:failing] + marks.fails[failing + 1:]
    st = st.with_object(t.owner, st.vmo(t.owner)._replace(marks=marks._replace(fails=fails)))
    return st, marks.fails[failing][2]


def _present(cx: Cx, committed: PageSet, dirty: PageSet, a: Word, b: Word) -> PageSet:
    """The pages of [a, b) that read without the pager: only that range is walked, so a
    call costs what its range holds, not what the whole VMO does."""
    v = cx.v
    return v.pages_union(v.pages_within(committed, a, b), v.pages_within(dirty, a, b))


def page_in_best_effort(cx: Cx, st: State, t: Target, a: Word, b: Word) -> State:
    """ALWAYS_NEED's paging in: every absent page of [a, b) is requested, and a request
    that fails is skipped, not the end (the kernel ignores errors in this paging in:
    "hints are best effort", VmObjectPaged::HintRange). A scripted failure is used up by
    the first page that meets it; a detached pager supplies nothing. Dirty pages hold
    no page and get none. Through a child reading a pager-backed root the pages land in
    the root (cow.read_through)."""
    v = cx.v
    if t.owner in st.nodes and cow.reads_through(st, t.owner):
        return cow.fetch(cx, st, t.owner, a, b, best_effort=True)[0]
    owner = st.vmo(t.owner)
    marks = owner.marks
    if marks is None or owner.kind.contiguous or pager_detached(st, owner):
        return st
    mem = memory(st, t)
    have = _present(cx, mem.committed, marks.dirty, a, b)
    fails = list(marks.fails)
    skipped = v.pages_empty()
    pos = a
    while True:
        best, chosen = b, -1
        for k, (fa, fb, _status) in enumerate(fails):
            lo = v.ite(v.ult(pos, fa), fa, pos)
            hi = v.umin(b, fb)
            first = v.pages_first_out(have, lo, hi)
            if cx.when(v.and_(v.ult(lo, hi), v.ult(first, hi), v.ult(first, best))):
                best, chosen = first, k
        if chosen < 0:
            break
        skipped = v.pages_add(skipped, best, v.add(best, 1)[0])
        del fails[chosen]
        pos = v.add(best, 1)[0]
    fetched = v.pages_diff(v.pages_diff(v.pages_add(v.pages_empty(), a, b), marks.dirty),
                           skipped)
    st = with_memory(st, t, Memory(mem.content, v.pages_union(mem.committed, fetched)))
    if len(fails) == len(marks.fails):
        return st
    return st.with_object(t.owner, st.vmo(t.owner)._replace(
        marks=marks._replace(fails=tuple(fails))))


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
    VMO gets dirty zero intervals and commits nothing (zero.effect)."""
    v, p = cx.v, cx.page
    owner = st.vmo(t.owner)
    mem = memory(st, t)
    olo, ohi = v.add(lo, t.shift)[0], v.add(hi, t.shift)[0]
    a, b = v.div_to(olo, p), v.div_to(ohi, p)
    content = v.bytes_fill(mem.content, olo, ohi, 0)
    # whether ZERO frees the pages it zeroes is the reading zero-decommits (the page:
    # "de-duping to shared zero pages"); a contiguous VMO keeps its pages
    keeps = owner.kind.contiguous or (
        (v.symbolic or v.pages_any(mem.committed, a, b))
        and cx.reading("zero-decommits") == "keeps")
    committed = mem.committed if keeps else v.pages_remove(mem.committed, a, b)
    # whether ZERO gives pages it zeroes that held none a page of their own is the
    # reading zero-commits
    if (v.symbolic or v.ult(v.pages_first_out(mem.committed, a, b), b)) and \
            cx.reading("zero-commits") == "commits":
        committed = v.pages_add(committed, a, b)
    st = with_memory(st, t, Memory(content, committed))
    st = cow.zeroed(cx, st, t.owner, a, b)  # cow.zero: a zero marker in a family
    return mark_dirty(cx, st, t.owner, a, b)


def mark_dirty(cx: Cx, st: State, owner: int, a: Word, b: Word) -> State:
    """A pager-backed owner's pages [a, b) no longer read the pager's content."""
    marks = st.vmo(owner).marks
    if marks is None:
        return st
    dirty = cx.v.pages_add(marks.dirty, a, b)
    return st.with_object(owner, st.vmo(owner)._replace(marks=marks._replace(dirty=dirty)))


def write_bytes(cx: Cx, st: State, t: Target, offset: Word, data: object, end: Word,
                cut: Word | None = None) -> State:
    """Bytes written into [offset, end): the pages holding them become committed (and
    dirty, for a pager-backed VMO). The caller has paged absent pager pages in. With
    `cut`, only the bytes before it land (a write that failed part-way, write.effect)."""
    v = cx.v
    mem = memory(st, t)
    content = v.bytes_write(mem.content, v.add(offset, t.shift)[0], data)
    if cut is not None:
        content = v.bytes_splice(mem.content, v.add(offset, t.shift)[0],
                                 v.add(cut, t.shift)[0], content, 0)
        end = cut
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
    bytes are written in place, which commits (or forks) that page (zero.effect).
    In a pager-backed VMO only a dirty page without a frame (a zero interval) is known
    to read zero: an absent page's content is the pager's, so it is paged in first."""
    v, p = cx.v, cx.page
    mem = memory(st, t)
    page_lo = v.floor_to(lo, p)
    olo = v.add(page_lo, t.shift)[0]
    a, b = owner_pages(cx, t, page_lo, v.add(page_lo, p)[0])
    marks = st.vmo(t.owner).marks
    seen = cow.view(cx, st, t.owner) if t.owner in st.nodes else mem.content
    known_zero = v.bytes_zero_in(seen, olo, v.add(olo, p)[0])
    if t.owner in st.nodes:
        # A page a hidden node holds for it is a real page, whatever it reads: the bytes
        # are written into it, which forks it (cow.fork), as the kernel's partial ZERO
        # finds a page present and writes zeros there.
        shared = cow.hidden_seen(cx, st, t.owner)
        known_zero = v.and_(known_zero, v.not_(v.page_in(shared, a)))
    if marks is not None:
        known_zero = v.and_(known_zero, v.pages_any(marks.dirty, a, b),
                            v.not_(v.pages_any(mem.committed, a, b)))
    if cx.when(known_zero):
        return st, OK
    st, status = commit_pages(cx, st, t, a, b)
    if status != OK:
        return st, status
    mem = memory(st, t)
    content = v.bytes_fill(mem.content, v.add(lo, t.shift)[0], v.add(hi, t.shift)[0], 0)
    return _touched(cx, st, t, lo, hi, content), OK
