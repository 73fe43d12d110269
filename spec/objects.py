"""Reading the object graph: which VMO a handle names, whose pages it sees, its size.

Slices and references own no pages: they see their parent's through a window. A
snapshot owns a copy of its parent's pages as they were when it was taken (the kernel
shares them copy-on-write, which reads the same). `Target` gathers, once per call,
what every transition needs to know about the VMO it acts on.
"""

from __future__ import annotations

from typing import NamedTuple

from spec.abi import (
    INFO_VMO_CONTIGUOUS,
    INFO_VMO_DISCARDABLE,
    INFO_VMO_IMMUTABLE,
    INFO_VMO_IS_COW_CLONE,
    INFO_VMO_PAGER_BACKED,
    INFO_VMO_RESIZABLE,
    INFO_VMO_TYPE_PAGED,
    INFO_VMO_VIA_HANDLE,
)
from spec.explore import Cx
from spec.state import DISCARDED, REFERENCE, ROOT, SNAPSHOT, Memory, Pager, State, Vmo
from spec.values import Flag, Word


class Target(NamedTuple):
    """The VMO a call acts on, through the handle it was given."""

    obj: int
    vmo: Vmo
    rights: Word
    size: Word  # the size the caller sees (a reference follows its parent)
    owner: int  # the VMO whose pages this one sees
    shift: Word  # this VMO's offset 0 in the owner's offsets
    root: Vmo  # the top of the parent chain (decides pager-backed behaviour)


def visible_size(st: State, obj: int) -> Word:
    vmo = st.vmo(obj)
    while vmo.role == REFERENCE and vmo.parent is not None:
        vmo = st.vmo(vmo.parent)
    return vmo.size


def target(cx: Cx, st: State, obj: int, rights: Word) -> Target:
    vmo = st.vmo(obj)
    if vmo.parent is None:  # a root: the common case, and the checker's hot path
        return Target(obj, vmo, rights, vmo.size, obj, 0, vmo)
    owner, shift = obj, 0
    o = vmo
    while o.memory is None:
        assert o.parent is not None
        shift = cx.v.add(shift, o.window)[0]
        owner = o.parent
        o = st.vmo(owner)
    root = vmo
    while root.parent is not None:
        root = st.vmo(root.parent)
    return Target(obj, vmo, rights, visible_size(st, obj), owner, shift, root)


def memory(st: State, t: Target) -> Memory:
    mem = st.vmo(t.owner).memory
    assert mem is not None
    return mem


def is_discarded(cx: Cx, vmo: Vmo) -> Flag:
    if vmo.tracker is None:
        return False
    return cx.v.eq(vmo.tracker.state, DISCARDED)


def pager_detached(st: State, vmo: Vmo) -> bool:
    return vmo.marks is not None and not isinstance(st.objects.get(vmo.marks.pager), Pager)


def owner_of(st: State, obj: int) -> int:
    """The VMO whose pages `obj` sees: itself, or the one its slices and references
    lead to."""
    o = st.vmo(obj)
    while o.memory is None and o.parent is not None:
        obj = o.parent
        o = st.vmo(obj)
    return obj


def has_live_snapshot_child(st: State, obj: int) -> bool:
    """A snapshot was taken of `obj`, directly or through a reference or slice sharing
    its pages, and lives: the kernel has put a hidden node above obj's pages
    (decommit.cow_or_pager)."""
    return any(
        isinstance(o, Vmo) and o.role == SNAPSHOT and o.parent is not None
        and owner_of(st, o.parent) == obj
        for o in st.objects.values()
    )


def merged_to_root(st: State, obj: int) -> bool:
    """A snapshot whose original is gone: no handle names the root it was taken of (or
    the references it was taken through), and nothing else hangs from them. The kernel's
    hidden node, left with this one child, has merged into it, and with no node above it
    the child is a root now (decommit.cow_or_pager: the merge; model/DECISIONS.md)."""
    o = st.vmo(obj)
    if o.role != SNAPSHOT or o.parent is None:
        return False
    chain = {obj}
    cur = o.parent
    while True:
        chain.add(cur)
        p = st.vmo(cur)
        if p.memory is not None or p.parent is None:
            break
        cur = p.parent
    if p.role != ROOT or p.marks is not None:
        return False
    chain.discard(obj)
    if any(h.obj in chain for h in st.handles.values()):
        return False
    return not any(
        isinstance(x, Vmo) and x.parent in chain and k != obj and k not in chain
        for k, x in st.objects.items()
    )


def root_offset(cx: Cx, st: State, obj: int) -> Word:
    """Where byte 0 of `obj` lies in the root of its tree: the sum of the windows up the
    chain (child.snapshot.root_overflow and set_size.root_overflow project ranges onto
    the root). A snapshot
    merged into the root's place starts at 0."""
    total: Word = 0
    while True:
        o = st.vmo(obj)
        if o.parent is None or merged_to_root(st, obj):
            return total
        total = cx.v.add(total, o.window)[0]
        obj = o.parent


def info_flags(st: State, obj: int) -> int:
    """The ZX_INFO_VMO flags the kernel reports for this VMO, read through a handle."""
    vmo = st.vmo(obj)
    root = vmo
    while root.parent is not None:
        root = st.vmo(root.parent)
    flags = INFO_VMO_VIA_HANDLE
    if not vmo.kind.physical:
        flags |= INFO_VMO_TYPE_PAGED
    if vmo.kind.resizable:
        flags |= INFO_VMO_RESIZABLE
    if vmo.role == SNAPSHOT:
        flags |= INFO_VMO_IS_COW_CLONE
    if root.kind.pager_backed:
        flags |= INFO_VMO_PAGER_BACKED
    if vmo.kind.contiguous:
        flags |= INFO_VMO_CONTIGUOUS
    if vmo.kind.discardable:
        flags |= INFO_VMO_DISCARDABLE
    if vmo.kind.immutable:
        flags |= INFO_VMO_IMMUTABLE
    return flags


def with_memory(st: State, t: Target, mem: Memory) -> State:
    return st.with_vmo_memory(t.owner, mem)
