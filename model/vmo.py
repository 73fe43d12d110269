"""VMOs and the page nodes under them, built the way Zircon's VM layer is built.

Two layers, as in the kernel (VmObjectPaged over VmCowPages):

- `PageNode` (VmCowPages): a page list `pages` (page number -> Frame), zero intervals
  `zeroed` (page ranges that read as zero without looking further: the kernel's zero
  markers and dirty zero intervals), and an optional link to a parent node through a
  window (`parent_offset`, `parent_limit`, in pages). A page that a node does not hold is
  looked up in its parent inside the window; past the window, or with no parent, it reads
  as zero (the shared zero page), unless the node is a pager-backed root, whose absent
  pages are requested from the pager.
- `Vmo` (VmObjectPaged): what a handle names. A root or a snapshot child owns a node; a
  slice is a window onto its parent's node; a reference shares its parent's node whole.

Copy-on-write is the kernel's: a bidirectional snapshot (SNAPSHOT, and the other
snapshot types on anonymous memory) inserts a hidden node above the original, which
takes the original's pages; the original and the child both become children of it and
fork a page into their own list the first time they write it. A unidirectional snapshot
(AT_LEAST_ON_WRITE of a pager-backed root) is a plain child of the original. When a
hidden node is left with one child, it merges into that child.

Cost follows the work: no loop runs over all the pages of a VMO. Loops run over the keys
of page lists, over intervals, or over ranges whose every page needs a frame (and those
are bounded by the free frames first).
"""

from __future__ import annotations

import enum
from collections.abc import Iterator
from dataclasses import dataclass

from model.frames import ZERO_PAGE, Frame, FramePool
from model.handles import KernelObject
from model.pager import PageSource, page_content_byte
from model.ranges import IntervalSet, RunBuilder, RunCursor, Runs, keys_in_range
from spec import abi

__all__ = [
    "DiscardState",
    "DiscardableTracker",
    "Lookup",
    "PageNode",
    "Vm",
    "Vmo",
    "VmoKind",
]


class Hit(enum.Enum):
    FOUND = 1  # a frame holds the page
    ZERO = 2  # reads as zero (shared zero page)
    ABSENT = 3  # a pager-backed root does not have it: a page request is needed


@dataclass(slots=True)
class Lookup:
    hit: Hit
    node: PageNode  # where the lookup stopped
    index: int  # the page number in that node
    frame: Frame | None


class PageNode(KernelObject):
    """A page container (the kernel's VmCowPages). Held by the VMO that owns it and by
    its child nodes."""

    def __init__(
        self, vm: Vm, size_pages: int, *, hidden: bool = False, source: PageSource | None = None
    ) -> None:
        super().__init__()
        self.vm = vm
        self.size_pages = size_pages  # meaningless for hidden nodes
        self.hidden = hidden
        self.pages: dict[int, Frame] = {}
        self.zeroed = IntervalSet()
        self.parent: PageNode | None = None
        self.parent_offset = 0
        self.parent_limit = 0
        self.children: list[PageNode] = []
        # Hidden nodes: the child that was the original when this node was inserted.
        # Its lineage is attributed the shared pages it can see (see attributed).
        self.left: PageNode | None = None
        # Pager-backed roots only.
        self.source = source
        self.always_need = IntervalSet()
        self.dont_need = IntervalSet()

    # --- structure -----------------------------------------------------------------------

    def root(self) -> PageNode:
        n = self
        while n.parent is not None:
            n = n.parent
        return n

    def depth_offset(self) -> int:
        """Sum of the window offsets up to the root, in pages."""
        total, n = 0, self
        while n.parent is not None:
            total += n.parent_offset
            n = n.parent
        return total

    def on_zero(self) -> None:
        for f in self.pages.values():
            self.vm.pool.free(f)
        self.pages = {}
        self.zeroed.clear()
        parent = self.parent
        if parent is None:
            return
        self.parent = None
        parent.children.remove(self)
        if parent.left is self:
            parent.left = None
        parent.release()
        if parent.alive and parent.hidden and len(parent.children) == 1:
            parent.merge_into_child()

    def merge_into_child(self) -> None:
        """A hidden node with one child left: hand the child every page and zero interval
        it can see, free the rest, and splice the child into this node's place."""
        assert self.hidden and len(self.children) == 1
        c = self.children[0]
        off, lim = c.parent_offset, c.parent_limit
        pool = self.vm.pool
        for k, f in self.pages.items():
            p = k - off
            if 0 <= p < lim and p not in c.pages and not c.zeroed.contains(p):
                c.pages[p] = f
            else:
                pool.free(f)
        for a, b in self.zeroed.within(off, off + lim):
            c.zeroed.add(a - off, b - off)
        gp = self.parent
        c.parent = gp
        if gp is not None:
            c.parent_offset = off + self.parent_offset
            c.parent_limit = min(lim, max(0, self.parent_limit - off))
            gp.children[gp.children.index(self)] = c
            if gp.left is self:
                gp.left = c
        else:
            c.parent_offset = 0
            c.parent_limit = 0
        self.pages = {}
        self.zeroed.clear()
        self.children = []
        self.parent = None
        self.refs = 0
        self.alive = False

    def insert_hidden_parent(self) -> PageNode:
        """Bidirectional clone: a hidden node takes this node's pages and sits above it."""
        h = PageNode(self.vm, 0, hidden=True)
        h.pages, self.pages = self.pages, {}
        h.zeroed, self.zeroed = self.zeroed, IntervalSet()
        gp = self.parent
        h.parent, h.parent_offset, h.parent_limit = gp, self.parent_offset, self.parent_limit
        if gp is not None:
            gp.children[gp.children.index(self)] = h
            if gp.left is self:
                gp.left = h
        self.parent, self.parent_offset, self.parent_limit = h, 0, self.size_pages
        h.children = [self]
        h.left = self
        h.refs = 1
        return h

    def adopt(self, child: PageNode, offset: int, limit: int) -> None:
        child.parent = self
        child.parent_offset = offset
        child.parent_limit = max(0, limit)
        self.children.append(child)
        self.add_ref()

    def own_frames(self) -> int:
        return len(self.pages)


class DiscardState(enum.Enum):
    UNSET = "Unset"
    UNRECLAIMABLE = "Unreclaimable"
    RECLAIMABLE = "Reclaimable"
    DISCARDED = "Discarded"


class DiscardableTracker:
    """discardable.states: a state and a lock count (>= 1 exactly when Unreclaimable)."""

    def __init__(self, broken: frozenset[str]) -> None:
        self.state = DiscardState.UNSET
        self.count = 0
        self.broken = broken

    def lock(self) -> bool:
        """LOCK; returns whether the VMO had been discarded (discarded_size = S)."""
        was_discarded = self.state is DiscardState.DISCARDED
        self._take()
        return was_discarded

    def try_lock(self) -> int:
        if self.state is DiscardState.DISCARDED and "try_lock_ignores_discard" not in self.broken:
            return abi.ERR_UNAVAILABLE
        self._take()
        return abi.OK

    def _take(self) -> None:
        if self.state is DiscardState.UNRECLAIMABLE:
            if "lock_does_not_nest" not in self.broken:
                self.count += 1
        else:
            self.state = DiscardState.UNRECLAIMABLE
            self.count = 1

    def unlock(self) -> int:
        if self.state is not DiscardState.UNRECLAIMABLE:
            if "unlock_at_zero_ok" in self.broken:
                return abi.OK
            return abi.ERR_BAD_STATE
        self.count -= 1
        if self.count == 0:
            self.state = DiscardState.RECLAIMABLE
        return abi.OK

    def discarded(self) -> None:
        """Reclaim discarded the VMO."""
        self.state = DiscardState.DISCARDED
        self.count = 0

    def reclaimable(self) -> bool:
        if "reclaim_locked" in self.broken and self.state is DiscardState.UNRECLAIMABLE:
            return True
        return self.state is DiscardState.RECLAIMABLE


class VmoKind(enum.Enum):
    ROOT = "root"
    CLONE = "clone"  # a snapshot-family child (IS_COW_CLONE)
    SLICE = "slice"
    REFERENCE = "reference"


class Vmo(KernelObject):
    """What a VMO handle names (VmObjectPaged)."""

    def __init__(
        self,
        vm: Vm,
        node: PageNode,
        kind: VmoKind,
        *,
        resizable: bool = False,
        discardable: bool = False,
        window: int = 0,
        slice_pages: int = 0,
        parent: Vmo | None = None,
        immutable: bool = False,
        cache_policy: int = 0,
        contiguous: bool = False,
        physical: bool = False,
    ) -> None:
        super().__init__()
        self.vm = vm
        self.node = node
        self.kind = kind
        self.resizable = resizable
        self.tracker = DiscardableTracker(vm.broken) if discardable else None
        self.window = window  # slices: first page of the window in the node
        self.slice_pages = slice_pages
        self.parent = parent  # slices and references hold their parent VMO
        self.immutable = immutable
        self.cache_policy = cache_policy  # ZX_CACHE_POLICY_*; 0 is CACHED
        self.kids = 0  # live slices and references of this VMO
        self.contiguous = contiguous  # its pages exist from creation (zx_vmo_create_contiguous)
        self.physical = physical  # a window on device memory: no pages (zx_vmo_create_physical)
        if kind in (VmoKind.ROOT, VmoKind.CLONE):
            node.add_ref()
        else:
            assert parent is not None
            parent.add_ref()
            parent.kids += 1

    @property
    def size_pages(self) -> int:
        return self.slice_pages if self.kind is VmoKind.SLICE else self.node.size_pages

    @property
    def size(self) -> int:
        return self.size_pages * self.vm.page_size

    @property
    def pager_backed(self) -> bool:
        return self.node.root().source is not None

    @property
    def discarded(self) -> bool:
        return self.tracker is not None and self.tracker.state is DiscardState.DISCARDED

    def on_zero(self) -> None:
        if self.kind in (VmoKind.ROOT, VmoKind.CLONE):
            self.node.release()
        else:
            assert self.parent is not None
            self.parent.kids -= 1
            self.parent.release()


class Vm:
    """The page-level machinery shared by all VMOs of one kernel: the frame pool, the
    page size, and the broken variants switched on."""

    def __init__(self, page_size: int, pool: FramePool, broken: frozenset[str]) -> None:
        self.page_size = page_size
        self.pool = pool
        self.broken = broken

    # --- lookup and page-in -------------------------------------------------------------

    def resolve(self, node: PageNode, p: int) -> Lookup:
        n, i = node, p
        while True:
            f = n.pages.get(i)
            if f is not None:
                return Lookup(Hit.FOUND, n, i, f)
            if n.zeroed and n.zeroed.contains(i):
                return Lookup(Hit.ZERO, n, i, None)
            if n.parent is not None and i < n.parent_limit:
                i += n.parent_offset
                n = n.parent
                continue
            if n.source is not None and i < n.size_pages:
                return Lookup(Hit.ABSENT, n, i, None)
            return Lookup(Hit.ZERO, n, i, None)

    def page_in(self, root: PageNode, i: int) -> int:
        """A page request for page i of a pager-backed root, answered by the pager."""
        src = root.source
        assert src is not None
        if src.detached:
            return abi.ERR_BAD_STATE
        failed = src.take_failure(i)
        if failed is not None:
            return failed
        if self.pool.available < 1:
            return abi.ERR_NO_MEMORY
        root.pages[i] = self.pool.alloc(page_content_byte(i), clean=True)
        return abi.OK

    def walk(self, node: PageNode, lo: int, hi: int) -> tuple[set[int], list[tuple[int, int]]]:
        """Over pages [lo, hi) of `node`: the pages some node of the chain holds a frame
        for, and the intervals the pager-backed root would be asked for (not shadowed by a
        zero interval anywhere on the way). Both in `node`'s page numbers."""
        keys: set[int] = set()
        shadow = IntervalSet()
        n, a, b, shift = node, lo, hi, 0
        while True:
            for k in keys_in_range(n.pages, a, b):
                keys.add(k - shift)
            for s, e in n.zeroed.within(a, b):
                shadow.add(s, e)
            if n.parent is not None:
                b = min(b, n.parent_limit)
                if a >= b:
                    return keys, []
                off = n.parent_offset
                shadow = IntervalSet((s + off, e + off) for s, e in shadow)
                a, b, shift = a + off, b + off, shift + off
                n = n.parent
                continue
            if n.source is None:
                return keys, []
            b = min(b, n.size_pages)
            gaps: list[tuple[int, int]] = []
            pos = a
            for s, e in shadow.within(a, b):
                if pos < s:
                    gaps.append((pos - shift, s - shift))
                pos = max(pos, e)
            if pos < b:
                gaps.append((pos - shift, b - shift))
            return keys, gaps

    def fault_pages(self, node: PageNode, lo: int, hi: int) -> Iterator[int]:
        """Pages of [lo, hi) whose lookup ends at an absent page of a pager-backed root."""
        keys, gaps = self.walk(node, lo, hi)
        for a, b in gaps:
            for p in range(a, b):
                if p not in keys and self.resolve(node, p).hit is Hit.ABSENT:
                    yield p

    # --- frames needed --------------------------------------------------------------------

    def frames_to_own(self, node: PageNode, p: int) -> int:
        """Frames a write (or COMMIT) of page p of `node` takes from the pool."""
        if p in node.pages:
            return 0
        r = self.resolve(node, p)
        if r.hit is Hit.ABSENT:
            return 1 if r.node is node else 2
        return 1

    def frames_to_own_range(self, node: PageNode, lo: int, hi: int) -> int | None:
        """Frames to own every page of [lo, hi); None when plainly more than the pool has
        free (so the caller fails NO_MEMORY without walking a huge range)."""
        missing = (hi - lo) - len(keys_in_range(node.pages, lo, hi))
        if missing > self.pool.available:
            return None
        return sum(self.frames_to_own(node, p) for p in range(lo, hi) if p not in node.pages)

    # --- page operations ---------------------------------------------------------------

    def own_page(self, node: PageNode, p: int, *, dirty: bool) -> tuple[int, Frame | None]:
        """Make page p of `node` a frame that `node` holds: page it in from the pager, fork
        it from an ancestor, or give it a fresh zero frame. `dirty` marks it written."""
        f = node.pages.get(p)
        if f is not None:
            if dirty:
                f.clean = False
            return abi.OK, f
        r = self.resolve(node, p)
        if r.hit is Hit.ABSENT:
            status = self.page_in(r.node, r.index)
            if status != abi.OK:
                return status, None
            if r.node is node:
                f = node.pages[p]
                if dirty:
                    f.clean = False
                return abi.OK, f
            r = self.resolve(node, p)
        if r.hit is Hit.FOUND and r.node.hidden and dirty and "cow_lost" in self.broken:
            assert r.frame is not None
            return abi.OK, r.frame  # writes land in the shared frame: both sides see them
        src = r.frame if r.frame is not None else ZERO_PAGE
        f = self.pool.alloc_copy(src)
        node.pages[p] = f
        return abi.OK, f

    def commit(self, node: PageNode, lo: int, hi: int) -> int:
        need = self.frames_to_own_range(node, lo, hi)
        if need is None or need > self.pool.available:
            return abi.ERR_NO_MEMORY
        for p in range(lo, hi):
            if p in node.pages:
                continue
            if "commit_maps_zero_page" in self.broken and self.resolve(node, p).hit is Hit.ZERO:
                continue
            status, _ = self.own_page(node, p, dirty=False)
            if status != abi.OK:
                return status  # pages committed so far stay committed (commit.effect)
        return abi.OK

    def free_range(self, node: PageNode, lo: int, hi: int) -> None:
        for k in keys_in_range(node.pages, lo, hi):
            self.pool.free(node.pages.pop(k))

    def decommit(self, node: PageNode, lo: int, hi: int) -> None:
        if "decommit_keeps_pages" in self.broken:
            return
        self.free_range(node, lo, hi)

    def zero_whole_pages(self, node: PageNode, lo: int, hi: int, in_place: bool = False) -> None:
        """ZERO of whole pages (zero.effect): the node's own pages go; if something under the
        node could still show content (a parent, or the pager), a zero interval hides it.
        `in_place` (a contiguous VMO): the pages stay, zero-filled."""
        if in_place:
            for p in keys_in_range(node.pages, lo, hi):
                self.write_into(node.pages[p], 0, ((0, self.page_size),))
            return
        self.free_range(node, lo, hi)
        if node.parent is not None or node.source is not None:
            node.zeroed.add(lo, hi)

    def zero_partial_need(self, node: PageNode, p: int) -> int:
        if p in node.pages:
            return 0
        if self.resolve(node, p).hit is Hit.ZERO:
            return 0
        return self.frames_to_own(node, p)

    def zero_partial(self, node: PageNode, p: int, a: int, b: int) -> int:
        """ZERO of bytes [a, b) of page p: nothing if the page already reads as zero without
        a frame; else zeros are written in place (forking or paging in that page)."""
        if p not in node.pages and self.resolve(node, p).hit is Hit.ZERO:
            return abi.OK
        status, f = self.own_page(node, p, dirty=True)
        if status != abi.OK:
            return status
        assert f is not None
        self.write_into(f, a, ((0, b - a),))
        return abi.OK

    def write_into(self, f: Frame, a: int, pieces: Runs) -> None:
        ps = self.page_size
        total = sum(c for _, c in pieces)
        if a == 0 and total == ps and len(pieces) == 1:
            f.data = None
            f.fill = pieces[0][0]
            return
        if f.data is None and all(byte == f.fill for byte, _ in pieces):
            return
        old = RunCursor(f.runs(ps))
        new = RunBuilder()
        for byte, count in (*old.take(a), *pieces):
            new.add(byte, count)
        for _ in old.take(total):
            pass
        for byte, count in old.take(ps - a - total):
            new.add(byte, count)
        runs = new.result()
        f.data, f.fill = (None, runs[0][0]) if len(runs) == 1 else (runs, f.fill)

    def write(self, node: PageNode, offset: int, runs: Runs, length: int) -> int:
        """Write `runs` (length bytes) at byte `offset` of `node`; the frame need is
        checked first, so NO_MEMORY changes nothing."""
        ps = self.page_size
        lo, hi = offset // ps, (offset + length - 1) // ps + 1
        need = self.frames_to_own_range(node, lo, hi)
        if need is None or need > self.pool.available:
            return abi.ERR_NO_MEMORY
        cursor = RunCursor(runs)
        end = offset + length
        for p in range(lo, hi):
            a = max(offset, p * ps) - p * ps
            b = min(end, (p + 1) * ps) - p * ps
            pieces = tuple(cursor.take(b - a))
            status, f = self.own_page(node, p, dirty=True)
            if status != abi.OK:
                return status  # bytes already written stay written (syscall-facts 2)
            assert f is not None
            self.write_into(f, a, pieces)
        return abi.OK

    def read(self, node: PageNode, offset: int, length: int) -> tuple[int, Runs]:
        """Bytes [offset, offset + length) of `node` as runs; absent pager pages are paged
        in first (a page request that fails ends the read with its status)."""
        ps = self.page_size
        out = RunBuilder()
        if length == 0:
            return abi.OK, out.result()
        end = offset + length
        lo, hi = offset // ps, (end - 1) // ps + 1
        keys, gaps = self.walk(node, lo, hi)
        wanted = set(keys)
        for a, b in gaps:
            wanted.update(range(a, b))
        pos = offset
        for p in sorted(wanted):
            start = p * ps
            out.add(0, start - pos)
            pos = max(pos, start)
            r = self.resolve(node, p)
            if r.hit is Hit.ABSENT:
                status = self.page_in(r.node, r.index)
                if status != abi.OK:
                    return status, ()
                r = self.resolve(node, p)
            a = pos - start
            b = min(end, start + ps) - start
            f = r.frame
            if f is None or f.data is None:
                out.add(0 if f is None else f.fill, b - a)
            else:
                runs = RunCursor(f.data)
                for _ in runs.take(a):
                    pass
                for byte, count in runs.take(b - a):
                    out.add(byte, count)
            pos = start + b
        out.add(0, end - pos)
        return abi.OK, out.result()

    def supply(self, root: PageNode, lo: int, hi: int) -> int:
        """pager_supply_pages: absent slots of [lo, hi) get the pager's content; present
        pages and zero intervals are never overwritten."""
        gaps: list[tuple[int, int]] = []
        pos = lo
        for s, e in root.zeroed.within(lo, hi):
            if pos < s:
                gaps.append((pos, s))
            pos = max(pos, e)
        if pos < hi:
            gaps.append((pos, hi))
        missing = sum(b - a for a, b in gaps)
        missing -= sum(len(keys_in_range(root.pages, a, b)) for a, b in gaps)
        if missing > self.pool.available:
            return abi.ERR_NO_MEMORY
        for a, b in gaps:
            for p in range(a, b):
                if p not in root.pages:
                    root.pages[p] = self.pool.alloc(page_content_byte(p), clean=True)
        return abi.OK

    def evict_clean(self, root: PageNode) -> int:
        """Reclaim on a pager-backed root: every clean page not marked ALWAYS_NEED goes.
        Returns the number of pages evicted."""
        evicted = 0
        for k in sorted(root.pages):
            f = root.pages[k]
            if not f.clean:
                continue
            if root.always_need.contains(k) and "reclaim_evicts_always_need" not in self.broken:
                continue
            self.pool.free(root.pages.pop(k))
            evicted += 1
        return evicted

    def discard(self, node: PageNode) -> int:
        """A discard frees every page of the VMO (discard.effect); returns the frames freed."""
        n = len(node.pages)
        if "discard_keeps_pages" in self.broken:
            return n
        for f in node.pages.values():
            self.pool.free(f)
        node.pages = {}
        node.zeroed.clear()
        return n

    def resize(self, node: PageNode, new_pages: int) -> None:
        old = node.size_pages
        if new_pages < old:
            for k in keys_in_range(node.pages, new_pages, old):
                self.pool.free(node.pages.pop(k))
            node.zeroed.remove(new_pages, old)
            node.always_need.remove(new_pages, old)
            node.dont_need.remove(new_pages, old)
            if node.parent is not None:
                node.parent_limit = min(node.parent_limit, new_pages)
            for c in node.children:
                c.parent_limit = min(c.parent_limit, max(0, new_pages - c.parent_offset))
            if node.source is not None:
                node.source.drop_failures_from(new_pages)
        elif new_pages > old and node.source is not None:
            # Growing a pager-backed VMO exposes a dirty zero interval: no page requests.
            node.zeroed.add(old, new_pages)
        node.size_pages = new_pages

    # --- attribution ---------------------------------------------------------------------

    def attributed(self, node: PageNode) -> tuple[int, int, int]:
        """The 2025 share counts of a VMO's node (info.attribution.2025): frames it sees
        (its own and those of hidden ancestors it can reach), frames no other VMO sees,
        and the sum of P/n over its frames, n being how many VMOs see each one, in fixed
        point with 63 fraction bits (each page's share truncated on its own)."""
        one_page = self.page_size << 63
        seen = private = len(node.pages)
        scaled = seen * one_page
        path = [node]
        cur = node
        while cur.parent is not None and cur.parent.hidden:
            h = cur.parent
            for k in h.pages:
                if self._visible_down(path, k):
                    n = self._sharers(h, k)
                    seen += 1
                    private += n == 1
                    scaled += one_page // n
            path.append(h)
            cur = h
        return seen, private, scaled

    @classmethod
    def _sharers(cls, h: PageNode, k: int) -> int:
        """How many VMOs below the hidden node h see its page k."""
        total = 0
        for c in h.children:
            idx = k - c.parent_offset
            if not 0 <= idx < c.parent_limit or idx in c.pages or c.zeroed.contains(idx):
                continue
            total += cls._sharers(c, idx) if c.hidden else 1
        return total

    @staticmethod
    def _visible_down(path: list[PageNode], k: int) -> bool:
        idx = k
        for n in reversed(path):
            idx -= n.parent_offset
            if not 0 <= idx < n.parent_limit:
                return False
            if idx in n.pages or n.zeroed.contains(idx):
                return False
        return True
