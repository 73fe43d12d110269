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
    INFO_VMO_IS_COW_CLONE,
    INFO_VMO_PAGER_BACKED,
    INFO_VMO_RESIZABLE,
    INFO_VMO_TYPE_PAGED,
    INFO_VMO_VIA_HANDLE,
)
from spec.explore import Cx
from spec.state import DISCARDED, REFERENCE, SNAPSHOT, Memory, Pager, State, Vmo
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


def has_live_snapshot_child(st: State, obj: int) -> bool:
    return any(
        isinstance(o, Vmo) and o.parent == obj and o.role == SNAPSHOT
        for o in st.objects.values()
    )


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
    return flags


def with_memory(st: State, t: Target, mem: Memory) -> State:
    return st.with_vmo_memory(t.owner, mem)
