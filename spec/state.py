"""The state the transitions act on: handles, objects, memory, trackers, pager marks.

Structure is concrete: which handles and objects exist and which object is a slice,
reference or snapshot of which (the object graph) is fixed by the trace. Data is
symbolic-capable: sizes, rights, lock counts, tracker states, content and commit sets
are values of the value layer, so the proofs can quantify over them.

Every record is immutable; a transition returns a new State sharing what it did not
change, so the checker can keep several possible states side by side.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import TYPE_CHECKING, NamedTuple, cast

from spec.values import ByteMap, PageSet, Word

if TYPE_CHECKING:  # imported where used: it takes a tenth of a second, and a check never
    import networkx as nx  # draws the graph

# Discardable tracker states (discardable.states).
UNSET = 0
UNRECLAIMABLE = 1
RECLAIMABLE = 2
DISCARDED = 3
TRACKER_STATE_NAMES = {UNSET: "Unset", UNRECLAIMABLE: "Unreclaimable",
                       RECLAIMABLE: "Reclaimable", DISCARDED: "Discarded"}

# How a VMO relates to its parent.
ROOT = "root"
SLICE = "slice"
REFERENCE = "reference"
SNAPSHOT = "snapshot"


@dataclass(frozen=True, slots=True)
class Kind:
    """What a VMO is; fixed at creation (create.options, child.effect, pager.create_vmo.effect)."""

    resizable: bool = False
    discardable: bool = False
    pager_backed: bool = False
    contiguous: bool = False  # not creatable by a v1 trace; its error paths are in the ops
    physical: bool = False  # likewise
    # ZX_CACHE_POLICY_*: set by zx_vmo_set_cache_policy (cache_policy.*), which replaces
    # the Kind; an uncached VMO takes ZERO's, reads' and writes' BAD_STATE paths.
    cache_policy: int = 0
    immutable: bool = False  # a SNAPSHOT|NO_WRITE child: ZX_INFO_VMO_IMMUTABLE (child.effect)

    @property
    def cached(self) -> bool:
        return self.cache_policy == 0  # ZX_CACHE_POLICY_CACHED


class Memory(NamedTuple):
    """The pages a content-owning VMO holds: what each byte reads and which pages are
    committed (for a pager-backed VMO: present, i.e. supplied and not evicted)."""

    content: ByteMap
    committed: PageSet


class Tracker(NamedTuple):
    """The discardable tracker: one of the four states and the lock count (>= 1 exactly
    in Unreclaimable)."""

    state: Word
    count: Word


class PagerMarks(NamedTuple):
    """Per pager-backed VMO: which pages were written (dirty: never evicted), the
    ALWAYS_NEED and DONT_NEED marks, and the failures the trace scripted."""

    pager: int  # the pager object; once it is gone the VMO is detached
    dirty: PageSet
    always_need: PageSet
    dont_need: PageSet
    fails: tuple[tuple[int, int, int], ...]  # (first page, end page, status), answered once


class Vmo(NamedTuple):
    kind: Kind
    role: str  # ROOT, SLICE, REFERENCE or SNAPSHOT
    size: Word  # bytes, page-aligned; a reference follows its parent's size instead
    parent: int | None
    window: Word  # where this VMO starts in its parent (slices and snapshots)
    memory: Memory | None  # None for slices and references: they see their parent's
    tracker: Tracker | None  # discardable VMOs only
    marks: PagerMarks | None  # pager-backed VMOs only
    cow: bool  # shares pages copy-on-write (a snapshot child, or the VMO it was taken of)

    # Direct copies: dataclasses.replace costs several times more on the checker's path.
    def with_memory(self, memory: Memory) -> Vmo:
        return Vmo(self.kind, self.role, self.size, self.parent, self.window, memory,
                   self.tracker, self.marks, self.cow)

    def with_tracker(self, tracker: Tracker) -> Vmo:
        return Vmo(self.kind, self.role, self.size, self.parent, self.window, self.memory,
                   tracker, self.marks, self.cow)


@dataclass(frozen=True, slots=True)
class Pager:
    """A pager object. Its VMOs hold its id; they are detached once it is destroyed."""


class Node(NamedTuple):
    """A node of a copy-on-write family (notes/cow.md): a visible VMO in one, or a hidden
    node the kernel made on SNAPSHOT. A visible VMO's own pages are its Memory.committed;
    a hidden node's are `pages`. The chain (`parent`) is structure; the rest is data."""

    parent: int | None  # the node above: hidden, or a visible VMO read through; None on top
    window: Word  # where this node's byte 0 lies in the parent's offsets (page-aligned)
    limit: Word  # how many bytes from `window` it may see of the parent (shrinks clamp it)
    pages: PageSet  # a hidden node's pages; unused (empty) for a visible VMO
    zeros: PageSet  # zero markers: pages that read zero here whatever lies above
    hidden: bool
    shared: bool  # a visible VMO under a hidden node since a SNAPSHOT (its link up keeps no
    # VMO alive); False for a child that reads through a visible parent


class Handle(NamedTuple):
    obj: int
    rights: Word


Object = Vmo | Pager


class State(NamedTuple):
    handles: Mapping[str, Handle]
    objects: Mapping[int, Object]
    next_obj: int
    # Copy-on-write families (spec/cow.py): the visible VMOs in a family (by object id)
    # and hidden nodes (negative ids: they are not objects).
    nodes: Mapping[int, Node] = MappingProxyType({})

    def vmo(self, obj: int) -> Vmo:
        """The VMO `obj` (callers have checked the handle's type)."""
        return cast(Vmo, self.objects[obj])

    def with_object(self, obj: int, value: Object) -> State:
        objects = dict(self.objects)
        objects[obj] = value
        return State(self.handles, MappingProxyType(objects), self.next_obj, self.nodes)

    def with_vmo_memory(self, obj: int, memory: Memory) -> State:
        return self.with_object(obj, self.vmo(obj).with_memory(memory))

    def with_handle(self, name: str, handle: Handle | None) -> State:
        handles = dict(self.handles)
        if handle is None:
            del handles[name]
        else:
            handles[name] = handle
        return State(MappingProxyType(handles), self.objects, self.next_obj, self.nodes)

    def with_nodes(self, nodes: Mapping[int, Node]) -> State:
        return self._replace(nodes=MappingProxyType(dict(nodes)))

    def graph(self) -> nx.DiGraph:
        """The object graph: an edge from each child to its parent, labelled by role."""
        import networkx as nx

        g = nx.DiGraph()
        for oid, o in self.objects.items():
            g.add_node(oid, kind="pager" if isinstance(o, Pager) else "vmo")
            if isinstance(o, Vmo) and o.parent is not None:
                g.add_edge(oid, o.parent, role=o.role)
        return g

    def collected(self) -> State:
        """This state without the objects no handle keeps alive, directly or as the
        parent of a live child (the kernel frees an object with its last reference)."""
        import networkx as nx

        g = self.graph()
        live: set[int] = set()
        for h in self.handles.values():
            if h.obj in g and h.obj not in live:
                live.add(h.obj)
                live |= nx.descendants(g, h.obj)
        if len(live) == len(self.objects):
            return self
        return self._replace(objects=MappingProxyType(
            {k: o for k, o in self.objects.items() if k in live}))


EMPTY_STATE = State(MappingProxyType({}), MappingProxyType({}), 1)
