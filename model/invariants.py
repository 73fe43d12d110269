"""The model's representation invariant: what must hold of a Kernel between any two steps.

`check(kernel)` walks every object a handle reaches (VMOs, the VMOs they are built on,
their page nodes and every node above and below those) and raises `Broken`, naming the
first clause that fails:

- every handle names a live object; every object reached is live;
- reference counts are exact: a node is held by its child nodes and the VMOs that own it,
  a VMO by its handles and the slices and references built on it, a pager by its handles;
- the node tree is linked both ways (a child's parent lists it, once), a node's `left`
  is one of its children, and what a child sees of a non-hidden parent lies inside it;
- no live hidden node has fewer than two children (one left merges into it);
- the frames in use are exactly the frames live nodes hold: each held frame is live, is
  not the shared zero page, is held by one node only, and their number is the pool's
  count; the pool never holds more than its capacity;
- a non-hidden node holds pages only below its size; a materialized frame is one page;
- a discardable tracker's lock count is >= 1 exactly when it is Unreclaimable, and 0
  otherwise.

The walk costs one visit per object and per held frame, so the harness leaves it on
after every model step (refinement_tests/backends.py `ModelBackend`).
"""

from __future__ import annotations

from model.frames import ZERO_PAGE
from model.handles import KernelObject
from model.kernel import Kernel
from model.pager import Pager
from model.vmo import DiscardState, PageNode, Vmo, VmoKind

__all__ = ["Broken", "check"]


class Broken(AssertionError):
    """The model's state breaks its representation invariant."""


def _require(cond: bool, what: str) -> None:
    if not cond:
        raise Broken(what)


def _reached(k: Kernel) -> tuple[list[Vmo], list[PageNode], list[Pager], dict[int, int]]:
    """The VMOs, nodes and pagers reachable from the handles; handles per object id."""
    handle_refs: dict[int, int] = {}
    vmos: dict[int, Vmo] = {}
    pagers: dict[int, Pager] = {}
    todo: list[KernelObject] = []
    for name, h in k.handles.items():
        o = h.obj
        if not o.alive:
            raise Broken(f"handle {name!r} names a dead {type(o).__name__}")
        handle_refs[id(o)] = handle_refs.get(id(o), 0) + 1
        todo.append(o)
    while todo:
        o = todo.pop()
        if id(o) in vmos or id(o) in pagers:
            continue
        if isinstance(o, Vmo):
            vmos[id(o)] = o
            if o.parent is not None:
                todo.append(o.parent)
        elif isinstance(o, Pager):
            pagers[id(o)] = o
    nodes: dict[int, PageNode] = {}
    stack = [v.node for v in vmos.values()]
    while stack:
        n = stack.pop()
        if id(n) in nodes:
            continue
        nodes[id(n)] = n
        stack.extend(n.children)
        if n.parent is not None:
            stack.append(n.parent)
    return list(vmos.values()), list(nodes.values()), list(pagers.values()), handle_refs


def _check_frames(n: PageNode, page: int, seen: set[int]) -> None:
    """Every frame the node holds: live, not the zero page, held once, a page long, at
    a page number the node has."""
    held_frames = n.pages.values()
    ids = set(map(id, held_frames))
    _require(id(ZERO_PAGE) not in ids, "the shared zero page is held as owned")
    _require(all(f.live for f in held_frames), "a node holds a freed frame")
    _require(len(ids) == len(n.pages) and ids.isdisjoint(seen), "a frame is held twice")
    seen |= ids
    _require(all(f.data is None or sum(c for _b, c in f.data) == page for f in held_frames),
             "a frame is not a page long")
    if not (n.hidden or (min(n.pages) >= 0 and max(n.pages) < n.size_pages)):
        raise Broken(f"a page held past the node's {n.size_pages} pages")


# Each clause is tested before its message is built: the check runs after every step
# of a fuzz run, and formatting the messages of clauses that hold cost a fifth of it.
def check(k: Kernel, deep: bool = True) -> None:
    """Raise Broken if the kernel's state breaks the representation invariant. Without
    `deep` the frames are counted, not visited: the cost is per object, not per page."""
    vmos, nodes, pagers, handle_refs = _reached(k)
    held = dict(handle_refs)  # expected reference count per object
    owning = (VmoKind.ROOT, VmoKind.CLONE)
    unreclaimable = DiscardState.UNRECLAIMABLE
    for v in vmos:
        if not v.alive:
            raise Broken(f"a dead {v.kind.value} VMO is still reachable")
        if v.kind in owning:
            held[id(v.node)] = held.get(id(v.node), 0) + 1
        else:
            if v.parent is None:
                raise Broken(f"a {v.kind.value} VMO has no parent VMO")
            held[id(v.parent)] = held.get(id(v.parent), 0) + 1
        t = v.tracker
        if t is not None:
            locked = t.state is unreclaimable
            if not (t.count >= 1 if locked else t.count == 0):
                raise Broken(f"lock count {t.count} in tracker state {t.state.value}")
    page = k.page_size
    frames = 0
    seen_frames: set[int] = set()
    for n in nodes:
        if not n.alive:
            raise Broken("a dead page node is still reachable")
        children = n.children
        for c in children:
            if c.parent is not n:
                raise Broken("a child node does not name its parent")
            held[id(n)] = held.get(id(n), 0) + 1
            if (not n.hidden and c.parent_limit
                    and c.parent_offset + c.parent_limit > n.size_pages):
                raise Broken("a child sees past its parent's size")
        if len(children) > 1 and len(set(map(id, children))) != len(children):
            raise Broken("a child listed twice")
        if n.parent is not None and not any(c is n for c in n.parent.children):
            raise Broken("a node is missing from its parent's children")
        if n.left is not None and not any(c is n.left for c in children):
            raise Broken("a hidden node's original (left) is not one of its children")
        if n.hidden and len(children) < 2:
            raise Broken(f"a hidden node with {len(children)} children (it should have "
                         "merged)")
        if deep and n.pages:
            _check_frames(n, page, seen_frames)
        frames += len(n.pages)
    pool = k.pool
    if not 0 <= pool.used <= pool.capacity:
        raise Broken(f"{pool.used} frames used of {pool.capacity}")
    if frames != pool.used:
        raise Broken(f"{pool.used} frames in use, but live nodes hold {frames}")
    for o in [*vmos, *nodes, *pagers]:
        if o.refs != held.get(id(o), 0):
            raise Broken(f"a {type(o).__name__} has {o.refs} references, "
                         f"{held.get(id(o), 0)} hold it")
