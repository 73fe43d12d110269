"""Copy-on-write families: hidden nodes, who sees which page, and what each VMO is
attributed in ZX_INFO_VMO (notes/cow.md; kernel facts 8.1-8.5 in docs/kernel-facts.md).

A VMO in a family has a `Node` in `State.nodes`. SNAPSHOT moves the original's pages
into a fresh hidden node whose children are the original and the new child; a child of
a pager-backed VMO hangs from its visible parent and reads through it. A lookup walks up
from a VMO to the first node that holds the offset (a page or a zero marker), within
each node's window; pages of hidden nodes are shared, pages of a visible parent are
read through and never attributed to the child. Bytes stay materialized in each visible
VMO's own content for everything a hidden node holds (a hidden node's content never
changes, so the copy reads the same); only offsets read through a visible parent are
read live, by overlaying the parent's view (`view`).
"""

from __future__ import annotations

from itertools import pairwise
from typing import Any

from spec.abi import OK, U64_MAX
from spec.explore import Cx
from spec.objects import pager_detached, target
from spec.state import Memory, Node, State
from spec.values import ByteMap, Flag, PageSet, Word

FRACTION_BITS = 63  # *_fractional_scaled_bytes: 1 << 63 is one byte (info.attribution.2025)


def _held(cx: Cx, st: State, nid: int) -> PageSet:
    """The pages a node answers for itself: its own pages and its zero markers."""
    n = st.nodes[nid]
    own = n.pages if n.hidden else _memory(st, nid).committed
    return cx.v.pages_union(own, n.zeros)


def _memory(st: State, obj: int) -> Memory:
    mem = st.vmo(obj).memory
    assert mem is not None
    return mem


def _window(cx: Cx, n: Node) -> PageSet:
    """The pages [0, limit) through which a node may see its parent."""
    v = cx.v
    return v.pages_add(v.pages_empty(), 0, v.div_to(n.limit, cx.page))


def _is_hidden(st: State, nid: int | None) -> bool:
    return nid is not None and nid in st.nodes and st.nodes[nid].hidden


def sight(
    cx: Cx, st: State, obj: int
) -> tuple[dict[int, PageSet], tuple[PageSet, int, Word] | None]:
    """For a visible VMO in a family: the pages of each hidden ancestor it sees (in that
    node's offsets), and the pages it reads through a visible ancestor (its own page
    numbers, that ancestor, and the byte shift into it), or None."""
    v, p = cx.v, cx.page
    n = st.nodes[obj]
    shift = v.div_to(n.window, p)
    up = v.pages_up(v.pages_diff(_window(cx, n), _held(cx, st, obj)), shift)
    seen: dict[int, PageSet] = {}
    nid = n.parent
    while _is_hidden(st, nid):
        assert nid is not None
        h = st.nodes[nid]
        seen[nid] = v.pages_inter(up, h.pages)
        up = v.pages_diff(v.pages_inter(up, _window(cx, h)), _held(cx, st, nid))
        step = v.div_to(h.window, p)
        up = v.pages_up(up, step)
        shift = v.add(shift, step)[0]
        nid = h.parent
    if nid is None:
        return seen, None
    return seen, (v.pages_down(up, shift), nid, v.mul_to(shift, p))


def reads_through(st: State, obj: int) -> bool:
    """Some node on obj's chain hangs from a visible VMO (a pager-backed root's child)."""
    nid: int | None = obj
    while nid is not None and nid in st.nodes:
        parent = st.nodes[nid].parent
        if parent is not None and not _is_hidden(st, parent):
            return True
        nid = parent
    return False


def view(cx: Cx, st: State, obj: int) -> ByteMap:
    """What obj's bytes read: its own content, and its visible parent's view where it
    reads through (cow.read_through: a child sees the parent's later writes)."""
    content = _memory(st, obj).content
    if obj not in st.nodes or not reads_through(st, obj):
        return content
    _seen, through = sight(cx, st, obj)
    if through is None:
        return content
    pages, anc, shift = through
    return cx.v.bytes_overlay(content, pages, view(cx, st, anc), shift)


# ----------------------------------------------------------------------------------------
# Changes: SNAPSHOT, faults and forks, zeroing, resizing, closing
# ----------------------------------------------------------------------------------------


def snapshot(cx: Cx, st: State, owner: int, child: int, window: Word, limit: Word,
             shared: bool) -> State:
    """A child taken of `owner` (the VMO whose pages the handle sees) at byte `window`,
    seeing `limit` bytes of it. Shared (bidirectional, cow.hidden_node): the owner's pages and
    its place in the family go to a new hidden node, and owner and child hang from it.
    Otherwise (cow.unidirectional: unidirectional) the child reads through the owner."""
    v = cx.v
    nodes = dict(st.nodes)
    empty = v.pages_empty()
    if not shared:
        nodes[child] = Node(owner, window, limit, empty, empty, False, False)
        return st.with_nodes(nodes)
    hid = min([0, *nodes]) - 1  # hidden nodes are numbered apart from objects: -1, -2, ...
    mine = nodes.get(owner)
    mem = _memory(st, owner)
    if mine is None:
        mine = Node(None, 0, 0, empty, empty, False, False)
    nodes[hid] = Node(mine.parent, mine.window, mine.limit, mem.committed, mine.zeros,
                      True, False)
    nodes[owner] = Node(hid, 0, st.vmo(owner).size, empty, empty, False, True)
    nodes[child] = Node(hid, window, limit, empty, empty, False, True)
    st = st.with_nodes(nodes)
    return st.with_vmo_memory(owner, Memory(mem.content, empty))


def fetch(cx: Cx, st: State, obj: int, a: Word, b: Word, best_effort: bool = False
          ) -> tuple[State, int]:
    """A read of obj's pages [a, b): the pages it reads through a pager-backed root are
    requested there and land there (cow.read_through); the child holds nothing new.
    The first failed request ends it, or, `best_effort` (ALWAYS_NEED), is skipped."""
    from spec.paging import commit_pages, page_in_best_effort  # they call back into here

    v = cx.v
    want = v.pages_add(v.pages_empty(), a, b)
    while obj in st.nodes:
        _seen, through = sight(cx, st, obj)
        if through is None:
            return st, OK
        pages, anc, shift = through
        want = v.pages_up(v.pages_inter(want, pages), v.div_to(shift, cx.page))
        obj = anc
    root = st.vmo(obj)
    if root.marks is None:
        return st, OK
    if not root.marks.fails and not pager_detached(st, root):
        # Every request is answered: the pages not yet present land in the root at once
        # (what paging them in run by run gives; one set operation, so a z3 set works too).
        mem = _memory(st, obj)
        landed = v.pages_diff(want, root.marks.dirty)
        return st.with_vmo_memory(obj, Memory(mem.content, v.pages_union(mem.committed,
                                                                         landed))), OK
    t = target(cx, st, obj, 0)
    for lo, hi in v.pages_runs(want):
        if best_effort:
            st = page_in_best_effort(cx, st, t, lo, hi)
            continue
        st, status = commit_pages(cx, st, t, lo, hi, reading=True)
        if status != OK:
            return st, status
    return st, OK


def mark_through(cx: Cx, st: State, obj: int, a: Word, b: Word, which: str) -> State:
    """A hint through a child reading through (cow.read_through: hints act on the root's
    pages): the root pages that obj's pages [a, b) map onto, within each window, get
    the `which` mark (`always_need` or `dont_need`)."""
    if obj not in st.nodes or not reads_through(st, obj):
        return st
    v, p = cx.v, cx.page
    nid: int | None = obj
    while nid is not None and nid in st.nodes and st.nodes[nid].parent is not None:
        n = st.nodes[nid]
        b = v.umin(b, v.div_to(n.limit, p))
        step = v.div_to(n.window, p)
        a, b = v.add(a, step)[0], v.add(b, step)[0]
        nid = n.parent
    assert nid is not None
    root = st.vmo(nid)
    if root.marks is None:
        return st
    b = v.umin(b, v.div_to(root.size, p))
    marks = root.marks._replace(**{which: v.pages_add(getattr(root.marks, which), a, b)})
    return st.with_object(nid, root._replace(marks=marks))


def fork(cx: Cx, st: State, obj: int, a: Word, b: Word) -> tuple[State, int]:
    """obj is about to hold its own pages [a, b) (a write, a COMMIT, a partial ZERO):
    pages it reads through are fetched at the root and copied in (cow.through_fork); under
    legacy attribution a page taken from a hidden ancestor is first copied into every
    hidden node between (cow.copy_down.2023). The caller commits the pages."""
    if obj not in st.nodes:
        return st, OK
    v = cx.v
    if reads_through(st, obj):
        st, status = fetch(cx, st, obj, a, b)
        if status != OK:
            return st, status
        _seen, through = sight(cx, st, obj)
        if through is not None:
            pages, anc, shift = through
            want = v.pages_inter(pages, v.pages_add(v.pages_empty(), a, b))
            mem = _memory(st, obj)
            content = v.bytes_overlay(mem.content, want, view(cx, st, anc), shift)
            st = st.with_vmo_memory(obj, Memory(content, mem.committed))
    if cx.profile.attribution == "legacy":
        st = _push_down(cx, st, obj, a, b)
    return st, OK


def _push_down(cx: Cx, st: State, obj: int, a: Word, b: Word) -> State:
    """Legacy forks copy a page down the chain: every hidden node between the page's
    holder and obj gets a copy, which its other side keeps (cow.copy_down.2023)."""
    v, p = cx.v, cx.page
    nodes = dict(st.nodes)
    n = nodes[obj]
    want = v.pages_diff(v.pages_add(v.pages_empty(), a, b), _held(cx, st, obj))
    want = v.pages_inter(want, _window(cx, n))
    shift = v.div_to(n.window, p)
    path: list[tuple[int, Word]] = []
    nid = n.parent
    while _is_hidden(st, nid):
        assert nid is not None
        h = nodes[nid]
        got = v.pages_down(v.pages_inter(v.pages_up(want, shift), h.pages), shift)
        for below, bshift in path:
            bn = nodes[below]
            nodes[below] = bn._replace(pages=v.pages_union(bn.pages, v.pages_up(got, bshift)))
        held = v.pages_union(h.pages, h.zeros)
        want = v.pages_diff(want, v.pages_down(held, shift))
        want = v.pages_inter(want, v.pages_down(_window(cx, h), shift))
        path.append((nid, shift))
        shift = v.add(shift, v.div_to(h.window, p))[0]
        nid = h.parent
    return st.with_nodes(nodes)


def zeroed(cx: Cx, st: State, obj: int, a: Word, b: Word) -> State:
    """ZERO of obj's whole pages [a, b) (own pages already freed by the caller): a zero
    marker masks what lies above; a hidden page loses a sharer (cow.zero)."""
    if obj not in st.nodes:
        return st
    if cx.profile.attribution == "legacy":
        st = _push_down(cx, st, obj, a, b)
    n = st.nodes[obj]
    nodes = dict(st.nodes)
    nodes[obj] = n._replace(zeros=cx.v.pages_add(n.zeros, a, b))
    return normalize(cx, st.with_nodes(nodes))


def _clear_unseen(cx: Cx, st: State) -> State:
    """Each VMO reading through a visible parent keeps, in its own content, stale bytes
    only where something answers the lookup (its own pages, a hidden ancestor's, the
    parent's view). Where a clamped window now hides the parent (cow.resize: a shrink of
    the parent, a merge that narrows the limit) nothing answers and the page reads zero,
    and a fork there starts from zeros (pager CloneShrinkGrowParent)."""
    v, p = cx.v, cx.page
    for obj, n in st.nodes.items():
        if n.hidden or not reads_through(st, obj):
            continue
        _seen, through = sight(cx, st, obj)
        mem = _memory(st, obj)
        held = v.pages_union(v.pages_union(mem.committed, n.zeros), hidden_seen(cx, st, obj))
        if through is not None:
            held = v.pages_union(held, through[0])
        dead = v.pages_diff(v.pages_add(v.pages_empty(), 0, (U64_MAX + 1) // p), held)
        content = v.bytes_overlay(mem.content, dead, v.bytes_const(0), 0)
        st = st.with_vmo_memory(obj, Memory(content, mem.committed))
    return st


def resized(cx: Cx, st: State, obj: int, size: Word) -> State:
    """set_size of obj: its window on its parent and each direct child's window on it
    are clamped, never to grow again (cow.resize)."""
    v, p = cx.v, cx.page
    nodes = dict(st.nodes)
    changed = False
    if obj in nodes:
        n = nodes[obj]
        zeros = v.pages_remove(n.zeros, v.div_to(size, p), (U64_MAX + 1) // p)
        nodes[obj] = n._replace(limit=v.umin(n.limit, size), zeros=zeros)
        changed = True
    for cid, c in st.nodes.items():
        if c.parent == obj:
            room = v.ite(v.ult(c.window, size), v.sub(size, c.window), 0)
            nodes[cid] = c._replace(limit=v.umin(c.limit, room))
            changed = True
    return _clear_unseen(cx, normalize(cx, st.with_nodes(nodes))) if changed else st


def _alive(st: State) -> set[int]:
    """The visible VMOs something keeps: a handle, or a live child that holds its parent
    (a slice, a reference, a child reading through). A shared snapshot's link to the VMO
    it was taken of holds nothing: the hidden node holds the pages (cow.merge)."""
    alive: set[int] = set()
    todo = [h.obj for h in st.handles.values()]
    while todo:
        x = todo.pop()
        if x in alive or x not in st.objects:
            continue
        alive.add(x)
        o = st.objects[x]
        parent = getattr(o, "parent", None)
        n = st.nodes.get(x)
        if parent is not None and (n is None or not n.shared):
            todo.append(parent)
        if n is not None:
            y = n.parent
            while _is_hidden(st, y):
                assert y is not None
                y = st.nodes[y].parent
            if y is not None:
                todo.append(y)
    return alive


def closed(cx: Cx, st: State) -> State:
    """After handles close: the nodes of VMOs nothing keeps go, and the family is
    tidied (cow.merge: release, then merge a hidden node left with one child)."""
    if not st.nodes:
        return st
    alive = _alive(st)
    dead = [k for k, n in st.nodes.items() if not n.hidden and k not in alive]
    if not dead:
        return st
    nodes = {k: n for k, n in st.nodes.items() if k not in dead}
    return _clear_unseen(cx, normalize(cx, st.with_nodes(nodes)))


def normalize(cx: Cx, st: State) -> State:
    """Free hidden pages no VMO sees, drop hidden nodes without children, merge a hidden
    node left with one child into it, and forget nodes that are plain VMOs again."""
    while True:
        st = _prune(cx, st)
        kids: dict[int, list[int]] = {}
        for k, n in st.nodes.items():
            if n.parent is not None:
                kids.setdefault(n.parent, []).append(k)
        nodes = dict(st.nodes)
        for k, n in st.nodes.items():
            if n.hidden and len(kids.get(k, [])) < 2:
                if kids.get(k):
                    st = _merge(cx, st, k, kids[k][0])
                else:
                    st = st.with_nodes({x: m for x, m in nodes.items() if x != k})
                break
        else:
            top = [k for k, n in st.nodes.items() if not n.hidden and n.parent is None]
            if not top:
                return st
            return st.with_nodes({x: m for x, m in st.nodes.items() if x not in top})


def _merge(cx: Cx, st: State, hid: int, cid: int) -> State:
    """The hidden node's pages the child sees move into the child, the rest are freed,
    and the child takes its place (cow.merge)."""
    v, p = cx.v, cx.page
    h, c = st.nodes[hid], st.nodes[cid]
    shift = v.div_to(c.window, p)
    seen = v.pages_diff(v.pages_inter(v.pages_down(h.pages, shift), _window(cx, c)),
                        _held(cx, st, cid))
    masks = v.pages_diff(v.pages_inter(v.pages_down(h.zeros, shift), _window(cx, c)),
                         _held(cx, st, cid))
    room = v.ite(v.ult(c.window, h.limit), v.sub(h.limit, c.window), 0)
    limit = v.umin(c.limit, room) if h.parent is not None else c.limit
    nodes = {k: n for k, n in st.nodes.items() if k != hid}
    new = c._replace(parent=h.parent, window=v.add(h.window, c.window)[0], limit=limit,
                     zeros=v.pages_union(c.zeros, masks))
    if c.hidden:
        new = new._replace(pages=v.pages_union(c.pages, seen))
    else:
        mem = _memory(st, cid)
        st = st.with_vmo_memory(cid, Memory(mem.content, v.pages_union(mem.committed, seen)))
    nodes[cid] = new
    return st.with_nodes(nodes)


def _prune(cx: Cx, st: State) -> State:
    """Each hidden node keeps only the pages some VMO below it still sees."""
    v, p = cx.v, cx.page
    kids: dict[int, list[int]] = {}
    for k, n in st.nodes.items():
        if n.parent is not None and _is_hidden(st, n.parent):
            kids.setdefault(n.parent, []).append(k)
    memo: dict[int, PageSet] = {}

    def passes(nid: int) -> PageSet:
        """The pages (in the parent's offsets) lookups from nid's subtree reach above."""
        if nid in memo:
            return memo[nid]
        n = st.nodes[nid]
        mine = _window(cx, n)
        if n.hidden:
            below = v.pages_empty()
            for k in kids.get(nid, []):
                below = v.pages_union(below, passes(k))
            mine = v.pages_inter(mine, below)
        memo[nid] = v.pages_up(v.pages_diff(mine, _held(cx, st, nid)), v.div_to(n.window, p))
        return memo[nid]

    nodes = dict(st.nodes)
    for k, n in st.nodes.items():
        if n.hidden:
            below = v.pages_empty()
            for c in kids.get(k, []):
                below = v.pages_union(below, passes(c))
            nodes[k] = n._replace(pages=v.pages_inter(n.pages, below))
    return st.with_nodes(nodes)


# ----------------------------------------------------------------------------------------
# Attribution (info.attribution.2025, info.attribution.legacy)
# ----------------------------------------------------------------------------------------


def legacy_owner(who: list[int]) -> int:
    """Legacy attribution's one VMO for a shared page: the oldest living one that sees
    it (RFC-0254's words; decision.cow.legacy_owner); object ids grow with age."""
    return min(who)


def legacy_count(cx: Cx, per: dict[int, tuple[Flag, Flag, Any]], obj: int) -> Flag:
    """Legacy attribution of one page (`per` as `shares` gives it) for the VMO obj:
    whether the page counts for it, i.e. it is the one `legacy_owner` picks among the
    VMOs that see it. Both backends: concretely the pick itself; in z3 the pick for each
    set of VMOs that may be the ones seeing it (a family in a proof shape has at most
    three), so the proofs check the rule the counts use."""
    v = cx.v
    ids = sorted(per)
    if not v.symbolic:
        return bool(per[obj][0]) and legacy_owner([k for k in ids if per[k][0]]) == obj
    fs: list[Flag] = []
    for mask in range(1, 1 << len(ids)):
        group = [k for i, k in enumerate(ids) if mask >> i & 1]
        if legacy_owner(group) == obj:
            fs.append(v.and_(*[per[k][0] if k in group else v.not_(per[k][0])
                               for k in ids]))
    return v.or_(False, *fs)


def legacy_counts(cx: Cx, per: dict[int, tuple[Flag, Flag, Any]]) -> dict[int, Flag]:
    """`legacy_count` for each VMO that could see the page (the proofs sum them)."""
    return {k: legacy_count(cx, per, k) for k in sorted(per)}


def sights(cx: Cx, st: State) -> dict[int, dict[int, PageSet]]:
    """For each visible VMO of the families: the pages of each hidden ancestor it sees."""
    return {k: sight(cx, st, k)[0] for k, n in st.nodes.items() if not n.hidden}


def shares(cx: Cx, seen: dict[int, dict[int, PageSet]], hid: int, x: Word
           ) -> dict[int, tuple[Flag, Flag, Any]]:
    """Page x of hidden node hid, for each VMO that could see it: whether it does,
    whether it alone does, and its share of the page in fixed point: P << 63 split
    evenly among the VMOs that see it, truncated (info.attribution.2025,
    decision.cow.fraction). Both backends: the proofs sum it over a family."""
    v = cx.v
    ids = sorted(k for k, s in seen.items() if hid in s)
    sees = [v.page_in(seen[k][hid], x) for k in ids]
    parts = v.split(cx.page << FRACTION_BITS, sees)
    return {k: (f, alone, part) for k, f, (alone, part) in zip(ids, sees, parts, strict=True)}


def shift_to(cx: Cx, st: State, obj: int, hid: int) -> Word:
    """How many pages into hidden ancestor hid's offsets obj's page 0 lies."""
    v = cx.v
    n = st.nodes[obj]
    shift = v.div_to(n.window, cx.page)
    nid = n.parent
    while nid != hid:
        assert nid is not None
        shift = v.add(shift, v.div_to(st.nodes[nid].window, cx.page))[0]
        nid = st.nodes[nid].parent
    return shift


def hidden_seen(cx: Cx, st: State, obj: int) -> PageSet:
    """The pages of obj (its own page numbers) that a hidden ancestor backs."""
    v = cx.v
    out = v.pages_empty()
    if obj in st.nodes:
        for hid, pages in sight(cx, st, obj)[0].items():
            out = v.pages_union(out, v.pages_down(pages, shift_to(cx, st, obj, hid)))
    return out


def attribution(cx: Cx, st: State, obj: int) -> tuple[int, int, int, int]:
    """What ZX_INFO_VMO reports for a visible VMO of a family (Concrete values: a sum
    over pages of `shares`, which the proofs check page by page in z3).

    Share counts (2025): every page obj sees counts in committed; those it alone sees in
    private; each page seen by k VMOs adds P/k to scaled, the truncated 63-bit fraction
    of each page summed in the fraction. Legacy: each page counts for one VMO, the
    oldest living one that sees it (RFC-0254's words; decision.cow.legacy_owner)."""
    v, p = cx.v, cx.page
    vmo = st.vmo(obj)
    own = v.pages_count(_memory(st, obj).committed, 0, v.div_to(vmo.size, p))
    seen = sights(cx, st)
    rss = alone = legacy = 0
    legacy_mode = cx.profile.attribution == "legacy"
    scaled_fp = own * (p << FRACTION_BITS)
    for hid, mine in seen[obj].items():
        cuts = sorted({x for s in seen.values() if hid in s
                       for run in v.pages_runs(s[hid]) for x in run})
        for lo, hi in pairwise(cuts):
            if not v.pages_any(mine, lo, lo + 1):
                continue
            per = shares(cx, seen, hid, lo)
            n = hi - lo
            _sees, only, part = per[obj]
            rss += n
            alone += n if only else 0
            if legacy_mode and legacy_count(cx, per, obj):
                legacy += n
            scaled_fp += n * part
    if legacy_mode:
        return ((own + legacy) * p, 0, 0, U64_MAX)
    one = 1 << FRACTION_BITS
    return ((own + rss) * p, (own + alone) * p, scaled_fp // one, scaled_fp % one)
