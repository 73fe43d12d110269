"""Persistent maps from disjoint half-open integer intervals to values.

The concrete value layer keeps a VMO's content and its page sets here. The checker
keeps several states side by side (as dictionary keys), so a map is never changed in
place: an update returns a new map that shares all but O(log n) of its nodes with the
old one, and the old one stays valid.

The structure is a B+ tree: a leaf holds up to MAX intervals as a sorted tuple, an
inner node up to MAX children, and every node but the root at least MIN. A map of at
most MAX intervals is one leaf, so small maps cost what a sorted tuple costs; a large
one is a few levels deep (four for 30,000 intervals) and an update copies one short
path of tuples. Adjacent intervals with equal values are always merged, so each content
has one interval list; the tree's shape may still depend on history, so equality and
hashing go by content (a hash that sums the intervals' hashes, cached per node, and a
comparison that skips shared subtrees).
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from collections.abc import Iterable, Iterator
from itertools import accumulate
from operator import attrgetter, itemgetter, sub
from typing import Any

Item = tuple[int, int, Any]  # (lo, hi, value): the interval [lo, hi); values hashable

MAX = 32  # intervals per leaf, children per inner node
MIN = MAX // 4  # fewer, and a node (not the root) is merged with a neighbour
_MASK = (1 << 64) - 1
_start = itemgetter(0)
_end = itemgetter(1)
_lo = attrgetter("lo")


class Node:
    """A leaf (height 0: `items` are intervals) or an inner node (`items` are nodes).
    `keys` are the items' first starts, for bisecting. Sums are computed when first
    asked for and kept: a new node's are found from its children's in O(MAX)."""

    __slots__ = ("_count", "_hash", "_span", "_spans", "height", "items", "keys", "lo")

    def __init__(self, height: int, items: tuple[Any, ...],
                 keys: tuple[int, ...] | None = None) -> None:
        self.height = height
        self.items = items
        if keys is None:
            keys = tuple(map(_start if height == 0 else _lo, items))
        self.keys = keys
        self.lo = keys[0] if keys else 0
        self._count = self._span = self._hash = -1
        self._spans: tuple[int, ...] | None = None

    def leaf_items(self) -> tuple[Item, ...]:
        return self.items

    def children(self) -> tuple[Node, ...]:
        return self.items

    def count(self) -> int:
        """How many intervals the subtree holds."""
        if self._count < 0:
            self._count = (len(self.items) if self.height == 0
                           else sum(c.count() for c in self.children()))
        return self._count

    def span(self) -> int:
        """How many integers the subtree's intervals cover."""
        if self._span < 0:  # (C-level maps: this runs once per new node, on a hot path)
            self._span = (sum(map(sub, map(_end, self.items), self.keys)) if self.height == 0
                          else sum(map(Node.span, self.children())))
        return self._span

    def spans_before(self) -> tuple[int, ...]:
        """For an inner node: what the children before each one cover, summed."""
        if self._spans is None:
            self._spans = (0, *accumulate(map(Node.span, self.children())))
        return self._spans

    def content_hash(self) -> int:
        """A hash of the intervals alone, whatever the shape: the sum of theirs."""
        if self._hash < 0:
            if self.height == 0:
                self._hash = sum(map(hash, self.leaf_items())) & _MASK
            else:
                self._hash = sum(c.content_hash() for c in self.children()) & _MASK
        return self._hash


_EMPTY = Node(0, ())


def _pack(items: tuple[Any, ...], height: int) -> list[Node]:
    """Nodes of the given height holding `items`, each between MAX / 2 and MAX."""
    n = len(items)
    if n <= MAX:
        return [Node(height, items)] if n else []
    parts = -(-n // MAX)
    size = -(-n // parts)
    return [Node(height, items[k:k + size]) for k in range(0, n, size)]


def _root(nodes: list[Node], height: int) -> Node:
    while len(nodes) > 1:
        height += 1
        nodes = _pack(tuple(nodes), height)
    root = nodes[0] if nodes else _EMPTY
    while root.height > 0 and len(root.items) == 1:
        root = root.children()[0]
    return root


def _edit(node: Node, lo: int, hi: int, new: tuple[Item, ...]) -> tuple[Any, ...]:
    """The items of `node` once the intervals starting in [lo, hi) are replaced by `new`
    (sorted, inside [lo, hi)); the caller packs them."""
    keys = node.keys
    if node.height == 0:
        items = node.leaf_items()
        return items[:bisect_left(keys, lo)] + new + items[bisect_left(keys, hi):]
    kids = node.children()
    i = max(bisect_right(keys, lo) - 1, 0)  # the child where lo falls
    j = max(bisect_left(keys, hi) - 1, i)  # the last child starting before hi
    fresh: list[Node] = []
    for k in range(i, j + 1):
        fresh += _pack(_edit(kids[k], lo, hi, new if k == i else ()), node.height - 1)
    out = list(kids[:i])
    for n in fresh:  # a node under MIN is merged with its neighbour (and repacked)
        if out and (len(n.items) < MIN or len(out[-1].items) < MIN):
            out += _pack(out.pop().items + n.items, n.height)
        else:
            out.append(n)
    rest = kids[j + 1:]
    if out and rest and len(out[-1].items) < MIN:
        out += _pack(out.pop().items + rest[0].items, node.height - 1)
        rest = rest[1:]
    return (*out, *rest)


def _find(node: Node, x: int) -> Item | None:
    """The interval with the greatest start at or before x."""
    while node.height > 0:
        k = bisect_right(node.keys, x) - 1
        if k < 0:
            return None
        node = node.children()[k]
    k = bisect_right(node.keys, x) - 1
    return node.leaf_items()[k] if k >= 0 else None


def _after(node: Node, x: int) -> Item | None:
    """The interval with the least start greater than x."""
    if node.height == 0:
        k = bisect_right(node.keys, x)
        return node.leaf_items()[k] if k < len(node.items) else None
    kids = node.children()
    k = max(bisect_right(node.keys, x) - 1, 0)
    found = _after(kids[k], x)
    if found is None and k + 1 < len(kids):
        return _first(kids[k + 1])
    return found


def _first(node: Node) -> Item | None:
    while node.height > 0:
        node = node.children()[0]
    return node.leaf_items()[0] if node.items else None


def _last(node: Node) -> Item | None:
    while node.height > 0:
        node = node.children()[-1]
    return node.leaf_items()[-1] if node.items else None


def _collect(node: Node, lo: int, hi: int, out: list[Item]) -> None:
    keys = node.keys
    i = max(bisect_right(keys, lo) - 1, 0)
    j = bisect_left(keys, hi)
    if node.height == 0:
        items = node.leaf_items()
        if i < j and items[i][1] <= lo:
            i += 1
        out += items[i:j]
        return
    for child in node.children()[i:j]:
        _collect(child, lo, hi, out)


def _covered_below(node: Node, x: int) -> int:
    total = 0
    while node.height > 0:
        k = bisect_right(node.keys, x) - 1
        if k < 0:
            return total
        total += node.spans_before()[k]
        node = node.children()[k]
    for lo, hi, _ in node.leaf_items():
        if lo >= x:
            break
        total += min(hi, x) - lo
    return total


def _walk(node: Node) -> Iterator[Item]:
    if node.height == 0:
        yield from node.leaf_items()
    else:
        for child in node.children():
            yield from _walk(child)


def _same(a: Node, b: Node) -> bool:
    """Same intervals, skipping shared subtrees (shapes usually match)."""
    if a is b:
        return True
    if a.height != b.height or a.keys != b.keys:
        return list(_walk(a)) == list(_walk(b))
    if a.height == 0:
        return a.items == b.items
    return all(_same(x, y) for x, y in zip(a.children(), b.children(), strict=True))


def _coalesce(pieces: list[Item]) -> tuple[Item, ...]:
    out: list[Item] = []
    for lo, hi, val in pieces:
        if hi <= lo:
            continue
        if out and out[-1][1] == lo and out[-1][2] == val:
            out[-1] = (out[-1][0], hi, val)
        else:
            out.append((lo, hi, val))
    return tuple(out)


def _splice_flat(leaf: Node, lo: int, hi: int, new: list[Item]) -> tuple[Item, ...]:
    """IntervalMap.splice on one leaf's tuple (the common, small case), by index."""
    flat, keys = leaf.items, leaf.keys
    i = bisect_right(keys, lo) - 1
    if i < 0 or flat[i][1] <= lo:
        i += 1  # flat[i:j] meet [lo, hi)
    j = bisect_left(keys, hi, i)
    pieces: list[Item] = []
    if i < j and flat[i][0] < lo:
        pieces.append((flat[i][0], lo, flat[i][2]))
    pieces += new
    if i < j and flat[j - 1][1] > hi:
        pieces.append((hi, flat[j - 1][1], flat[j - 1][2]))
    if pieces:
        if i > 0 and flat[i - 1][1] == pieces[0][0] and flat[i - 1][2] == pieces[0][2]:
            i -= 1
            pieces.insert(0, flat[i])
        if j < len(flat) and pieces[-1][1] == flat[j][0] and pieces[-1][2] == flat[j][2]:
            pieces.append(flat[j])
            j += 1
    return flat[:i] + _coalesce(pieces) + flat[j:]


def _splice_in_leaf(root: Node, lo: int, hi: int, new: list[Item]) -> Node | None:
    """The new root when the splice stays inside one leaf: the intervals it cuts and
    both neighbours it may merge with are there, and the leaf stays within MIN..MAX.
    Then only the path to that leaf is copied, and no key above it changes."""
    path: list[tuple[Node, int]] = []
    node = root
    while node.height > 0:
        k = max(bisect_right(node.keys, lo) - 1, 0)
        path.append((node, k))
        node = node.children()[k]
    flat, keys = node.leaf_items(), node.keys
    i = bisect_right(keys, lo) - 1
    if i < 0 or flat[i][1] <= lo:
        i += 1
    if i < 1 or bisect_left(keys, hi, i) >= len(flat):
        return None  # a neighbour may be in the next leaf or the one before
    items = _splice_flat(node, lo, hi, new)
    if not MIN <= len(items) <= MAX:
        return None
    child = Node(0, items)
    for parent, k in reversed(path):
        kids = parent.children()
        child = Node(parent.height, (*kids[:k], child, *kids[k + 1:]), parent.keys)
    return child


class IntervalMap:
    """A persistent map of disjoint intervals to values; touching intervals with equal
    values are always one."""

    __slots__ = ("root",)

    def __init__(self, root: Node) -> None:
        self.root = root

    @staticmethod
    def of(items: Iterable[Item]) -> IntervalMap:
        """The map of these sorted, disjoint, already merged intervals."""
        return IntervalMap(_root(_pack(tuple(items), 0), 0))

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, IntervalMap):
            return NotImplemented
        a, b = self.root, other.root
        if a is b:
            return True
        if a.height == 0 and b.height == 0:
            return a.items == b.items
        return a.content_hash() == b.content_hash() and _same(a, b)

    def __hash__(self) -> int:
        return self.root.content_hash()

    def __len__(self) -> int:
        return self.root.count()

    def items(self) -> list[Item]:
        return list(_walk(self.root))

    def first(self) -> Item | None:
        return _first(self.root)

    def last(self) -> Item | None:
        return _last(self.root)

    def find(self, x: int) -> Item | None:
        """The interval holding x, if any."""
        found = _find(self.root, x)
        return found if found is not None and x < found[1] else None

    def after(self, x: int) -> Item | None:
        """The interval with the least start greater than x."""
        return _after(self.root, x)

    def overlapping(self, lo: int, hi: int) -> list[Item]:
        """The intervals that meet [lo, hi), in order (not clipped)."""
        out: list[Item] = []
        if lo < hi:
            _collect(self.root, lo, hi, out)
        return out

    def covered(self, lo: int, hi: int) -> int:
        """How many integers of [lo, hi) the intervals cover."""
        if hi <= lo:
            return 0
        return _covered_below(self.root, hi) - _covered_below(self.root, lo)

    def restrict(self, lo: int, hi: int) -> IntervalMap:
        """The parts of the intervals inside [lo, hi) (costs what that range holds)."""
        return IntervalMap.of((max(a, lo), min(b, hi), v) for a, b, v in self.overlapping(lo, hi))

    def splice(self, lo: int, hi: int, new: list[Item]) -> IntervalMap:
        """This map with [lo, hi) replaced by the sorted, disjoint intervals `new`
        (inside it): intervals straddling lo or hi are cut, and touching equal
        neighbours merged."""
        if hi <= lo:
            return self
        root = self.root
        if root.height == 0:
            items = _splice_flat(root, lo, hi, new)
            return IntervalMap(Node(0, items) if len(items) <= MAX else _root(_pack(items, 0), 0))
        local = _splice_in_leaf(root, lo, hi, new)
        if local is not None:
            return IntervalMap(local)
        pieces = list(new)
        start, end = lo, hi  # every interval starting in [start, end) is replaced
        p = self.find(lo)
        if p is not None and p[0] < lo:
            pieces.insert(0, (p[0], lo, p[2]))
            start = p[0]
        q = self.find(hi - 1)
        if q is not None and q[1] > hi:
            pieces.append((hi, q[1], q[2]))
            end = q[1]
        if pieces:
            a = self.find(pieces[0][0] - 1) if pieces[0][0] > 0 else None
            if a is not None and a[0] < start and a[1] == pieces[0][0] and a[2] == pieces[0][2]:
                pieces[0] = (a[0], pieces[0][1], a[2])
                start = a[0]
            e = pieces[-1][1]
            b = self.find(e) if e >= end else None
            if b is not None and b[0] == e and b[2] == pieces[-1][2]:
                pieces[-1] = (pieces[-1][0], b[1], b[2])
                end = b[1]
        items = _edit(root, start, end, _coalesce(pieces))
        return IntervalMap(_root(_pack(items, root.height), root.height))
