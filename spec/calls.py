"""The VMO syscalls a trace needs around zx_vmo_op_range, and the `reclaim` event.

Sources: the ids of docs/kernel-facts.md (spec/sources.py), backed by
notes/syscall-facts.md, which records what the 2025 kernel and its tests do for these
calls. Every profile uses the
kernel's behaviour here: the reference page covers zx_vmo_op_range only.
"""

from __future__ import annotations

from dataclasses import replace
from types import MappingProxyType

from spec import abi, cow
from spec.abi import (
    ERR_ACCESS_DENIED,
    ERR_BAD_HANDLE,
    ERR_BAD_STATE,
    ERR_INVALID_ARGS,
    ERR_NOT_FOUND,
    ERR_NOT_SUPPORTED,
    ERR_OUT_OF_RANGE,
    ERR_UNAVAILABLE,
    ERR_WRONG_TYPE,
    OK,
    RIGHT_DUPLICATE,
    RIGHT_READ,
    RIGHT_WRITE,
)
from spec.explore import Cx, Rung
from spec.objects import (
    Target,
    info_flags,
    is_discarded,
    memory,
    merged_to_root,
    pager_detached,
    root_offset,
    target,
)
from spec.op_range import discard, with_memory
from spec.outcome import Between, Outcome
from spec.paging import commit_pages, mark_dirty, owner_pages, write_bytes, zero_partial_page
from spec.state import (
    RECLAIMABLE,
    REFERENCE,
    ROOT,
    SLICE,
    SNAPSHOT,
    UNRECLAIMABLE,
    UNSET,
    Handle,
    Kind,
    Memory,
    Pager,
    PagerMarks,
    State,
    Tracker,
    Vmo,
)
from spec.values import Word


def _vmo_handle(st: State, name: str) -> tuple[int | None, Handle | None]:
    """BAD_HANDLE / WRONG_TYPE for a name that is not a VMO handle, else the handle."""
    h = st.handles.get(name)
    if h is None:
        return ERR_BAD_HANDLE, None
    if not isinstance(st.objects.get(h.obj), Vmo):
        return ERR_WRONG_TYPE, None
    return None, h


def _pager_handle(st: State, name: str) -> tuple[int | None, Handle | None]:
    h = st.handles.get(name)
    if h is None:
        return ERR_BAD_HANDLE, None
    if not isinstance(st.objects.get(h.obj), Pager):
        return ERR_WRONG_TYPE, None
    return None, h


def _new_object(st: State, obj: Vmo | Pager, out: str, rights: Word) -> State:
    oid = st.next_obj
    st = st._replace(next_obj=oid + 1).with_object(oid, obj)
    return st.with_handle(out, Handle(oid, rights))


def _fresh_memory(cx: Cx, pager: bool) -> Memory:
    v = cx.v
    return Memory(v.bytes_pager(cx.page) if pager else v.bytes_const(0), v.pages_empty())


# ----------------------------------------------------------------------------------------
# zx_vmo_create, zx_pager_create, zx_pager_create_vmo
# ----------------------------------------------------------------------------------------


def max_size(page: int) -> int:
    """The largest VMO, VmObjectPaged::MAX_SIZE = VmPageList::MAX_SIZE: the u64 range
    rounded down to a whole pair of page-list nodes (2 * 16 pages). create.size,
    child.size, set_size.max_size and pager.create_vmo.size name the limit; the value is the page
    list's (unconfirmed, and the same in model/)."""
    granule = 32 * page
    return (abi.U64_MAX // granule) * granule


def _create_size(cx: Cx, size: Word, options: int) -> tuple[Word, Word]:
    """The page-rounded size (UNBOUNDED: MAX_SIZE), and whether rounding overflowed."""
    if options & abi.VMO_UNBOUNDED:
        return max_size(cx.page), False
    return cx.v.ceil_to(size, cx.page)


def _too_big(cx: Cx, rounded: Word) -> Word:
    return cx.v.ult(max_size(cx.page), rounded)


def vmo_create(cx: Cx, st: State, size: Word, options: int, out: str) -> Outcome:
    allowed, unknown = cx.profile.overrides.create_options or (
        abi.VMO_RESIZABLE | abi.VMO_DISCARDABLE | abi.VMO_UNBOUNDED, "create.options")
    rounded, ovf = _create_size(cx, size, options)
    status = cx.first(
        # create.options: any other bit (TRAP_DIRTY included) is INVALID_ARGS
        (ERR_INVALID_ARGS, lambda: options & ~allowed != 0, unknown),
        (ERR_INVALID_ARGS,
         lambda: options & abi.VMO_UNBOUNDED != 0 and options & abi.VMO_RESIZABLE != 0,
         "create.unbounded_resizable"),
        (ERR_OUT_OF_RANGE, lambda: cx.v.or_(ovf, _too_big(cx, rounded)),
         "create.size"),
    )
    if status is not None:
        return Outcome(status, st)
    resizable = options & abi.VMO_RESIZABLE != 0
    discardable = options & abi.VMO_DISCARDABLE != 0
    vmo = Vmo(
        kind=Kind(resizable=resizable, discardable=discardable),
        role=ROOT, size=rounded, parent=None, window=0,
        memory=_fresh_memory(cx, False),
        tracker=Tracker(UNSET, 0) if discardable else None,
        marks=None, cow=False,
    )
    rights = abi.DEFAULT_VMO_RIGHTS | (abi.RIGHT_RESIZE if resizable else 0)
    cx.why = "create.effect"
    return Outcome(OK, _new_object(st, vmo, out, rights))


def _kind_size(cx: Cx, size: Word) -> Rung:
    """contiguous.size, physical.size: a size of 0, or not whole pages, is INVALID_ARGS."""
    v = cx.v
    return (ERR_INVALID_ARGS, lambda: v.or_(v.eq(size, 0), v.not_(v.aligned(size, cx.page))),
            "contiguous.size, physical.size")


def vmo_create_contiguous(cx: Cx, st: State, size: Word, alignment_log2: int,
                          out: str) -> Outcome:
    """zx_vmo_create_contiguous through the recorder's BTI (a trace names none)."""
    shift = cx.page.bit_length() - 1
    align = alignment_log2 or shift  # contiguous.alignment: 0 means a page
    status = cx.first(
        _kind_size(cx, size),
        (ERR_INVALID_ARGS, lambda: not shift <= align < 64, "contiguous.alignment"),
        (ERR_OUT_OF_RANGE, lambda: _too_big(cx, size), "contiguous.size"),
    )
    if status is not None:
        return Outcome(status, st)
    v = cx.v
    # contiguous.effect: every page is committed from creation, reading zero
    memory = Memory(v.bytes_const(0), v.pages_add(v.pages_empty(), 0, v.div_to(size, cx.page)))
    vmo = Vmo(Kind(contiguous=True), ROOT, size, None, 0, memory, None, None, False)
    cx.why = "contiguous.effect"
    return Outcome(OK, _new_object(st, vmo, out, abi.DEFAULT_VMO_RIGHTS))


def vmo_create_physical(cx: Cx, st: State, paddr: Word, size: Word, out: str) -> Outcome:
    """zx_vmo_create_physical through the recorder's MMIO resource (a trace names none)."""
    v = cx.v
    _end, ovf = v.add(paddr, v.sub(size, 1))
    status = cx.first(
        _kind_size(cx, size),
        (ERR_INVALID_ARGS, lambda: v.or_(v.not_(v.aligned(paddr, cx.page)), ovf),
         "physical.range"),
    )
    if status is not None:
        return Outcome(status, st)
    # physical.effect: uncached from creation; no page of RAM is attributed to it
    memory = Memory(v.bytes_const(0), v.pages_empty())
    kind = Kind(physical=True, cache_policy=abi.CACHE_POLICY_UNCACHED)
    vmo = Vmo(kind, ROOT, size, None, 0, memory, None, None, False)
    cx.why = "physical.effect"
    return Outcome(OK, _new_object(st, vmo, out, abi.DEFAULT_VMO_RIGHTS))


def pager_create(cx: Cx, st: State, out: str) -> Outcome:
    cx.why = "pager.create"
    return Outcome(OK, _new_object(st, Pager(), out, abi.DEFAULT_PAGER_RIGHTS))


def pager_create_vmo(cx: Cx, st: State, pager: str, options: int, size: Word, out: str) -> Outcome:
    # pager.create_vmo.options: TRAP_DIRTY is split off, then zx_vmo_create's flag parser runs
    # (create.unbounded_resizable there too); then pager.create_vmo.discardable.
    allowed = abi.VMO_RESIZABLE | abi.VMO_TRAP_DIRTY | abi.VMO_UNBOUNDED | abi.VMO_DISCARDABLE
    bad, h = _pager_handle(st, pager)
    rounded, ovf = _create_size(cx, size, options)
    status = cx.first(
        (bad or 0, lambda: bad is not None, "pager.handle"),
        (ERR_ACCESS_DENIED,
         lambda: h is not None and cx.v.not_(cx.v.has_bits(h.rights, abi.RIGHT_ATTACH_VMO)),
         "pager.create_vmo.rights"),
        (ERR_INVALID_ARGS, lambda: options & ~allowed != 0, "pager.create_vmo.options"),
        (ERR_INVALID_ARGS,
         lambda: options & abi.VMO_UNBOUNDED != 0 and options & abi.VMO_RESIZABLE != 0,
         "pager.create_vmo.options, create.unbounded_resizable"),
        (ERR_OUT_OF_RANGE, lambda: ovf, "pager.create_vmo.size"),
        (ERR_INVALID_ARGS, lambda: options & abi.VMO_DISCARDABLE != 0,
         "pager.create_vmo.discardable"),
        (ERR_OUT_OF_RANGE, lambda: _too_big(cx, rounded), "pager.create_vmo.size"),
    )
    if status is not None:
        return Outcome(status, st)
    assert h is not None
    v = cx.v
    resizable = options & abi.VMO_RESIZABLE != 0
    marks = PagerMarks(h.obj, v.pages_empty(), v.pages_empty(), v.pages_empty(), ())
    vmo = Vmo(
        kind=Kind(resizable=resizable, pager_backed=True),
        role=ROOT, size=rounded, parent=None, window=0,
        memory=_fresh_memory(cx, True), tracker=None, marks=marks, cow=False,
    )
    rights = abi.DEFAULT_VMO_RIGHTS | (abi.RIGHT_RESIZE if resizable else 0)
    cx.why = "pager.create_vmo.effect"
    return Outcome(OK, _new_object(st, vmo, out, rights))


# ----------------------------------------------------------------------------------------
# zx_vmo_create_child (child.*)
# ----------------------------------------------------------------------------------------

_SNAPSHOTS = abi.CHILD_SNAPSHOT | abi.CHILD_SNAPSHOT_AT_LEAST_ON_WRITE | abi.CHILD_SNAPSHOT_MODIFIED
_KNOWN_CHILD = (
    _SNAPSHOTS | abi.CHILD_SLICE | abi.CHILD_REFERENCE | abi.CHILD_RESIZABLE | abi.CHILD_NO_WRITE
)


def _child_type(options: int) -> int | None:
    """The one child type the options name, or None for an invalid combination."""
    if options & ~_KNOWN_CHILD:
        return None
    types = options & (_SNAPSHOTS | abi.CHILD_SLICE | abi.CHILD_REFERENCE)
    if types == 0 or types & (types - 1):
        return None  # no type, or two of them
    if types == abi.CHILD_SLICE and options != abi.CHILD_SLICE:
        return None  # child.options: SLICE takes no other bit
    if types == abi.CHILD_REFERENCE and options & ~(abi.CHILD_REFERENCE | abi.CHILD_RESIZABLE):
        return None
    return types


def vmo_create_child(
    cx: Cx, st: State, vmo: str, options: int, offset: Word, size: Word, out: str
) -> Outcome:
    v, p = cx.v, cx.page
    rounded, ovf = v.ceil_to(size, p)
    bad, h = _vmo_handle(st, vmo)
    parent = st.vmo(h.obj) if h is not None else None
    t = target(cx, st, h.obj, h.rights) if h is not None else None
    # child.options: NO_WRITE is taken out of the options before the type is decided.
    kind = _child_type(options & ~abi.CHILD_NO_WRITE)
    end, end_ovf = v.add(offset, rounded)
    no_write_resizable = options & abi.CHILD_NO_WRITE and options & abi.CHILD_RESIZABLE
    is_slice = kind == abi.CHILD_SLICE
    is_reference = kind == abi.CHILD_REFERENCE
    snap = kind is not None and kind & _SNAPSHOTS != 0
    of_slice = parent is not None and parent.role == SLICE
    uncached = parent is not None and not parent.kind.cached

    def unidirectional() -> bool:
        """child.snapshot.slice_unidirectional: only under a pager-backed root:
        AT_LEAST_ON_WRITE always, MODIFIED of the root's own pages (through a slice or
        reference of it too)."""
        assert t is not None
        return t.root.kind.pager_backed and (
            kind == abi.CHILD_SNAPSHOT_AT_LEAST_ON_WRITE
            or (kind == abi.CHILD_SNAPSHOT_MODIFIED and st.vmo(t.owner).parent is None))

    def projected_overflow() -> object:
        assert h is not None
        base, o1 = v.add(root_offset(cx, st, h.obj), offset)
        _end, o2 = v.add(base, rounded)
        return v.or_(o1, o2)

    rungs: list[Rung] = [
        (ERR_OUT_OF_RANGE, lambda: v.or_(ovf, _too_big(cx, rounded)),
         "child.size"),
        (ERR_INVALID_ARGS, lambda: bool(no_write_resizable), "child.no_write_resizable"),
        (bad or 0, lambda: bad is not None, "prefix.handle_lookup"),
        (ERR_ACCESS_DENIED,
         lambda: v.not_(v.has_bits(h.rights if h else 0, RIGHT_DUPLICATE | RIGHT_READ)),
         "child.rights"),
        (ERR_NOT_SUPPORTED, lambda: parent is not None and parent.kind.discardable,
         "discardable.no_children"),
        (ERR_INVALID_ARGS, lambda: kind is None, "child.options"),
        # child.slice.*
        (ERR_INVALID_ARGS, lambda: is_slice and v.not_(v.aligned(offset, p)),
         "child.slice.aligned"),
        (ERR_INVALID_ARGS,
         lambda: is_slice and v.or_(end_ovf, v.ult(t.size if t else 0, end)),
         "child.slice.bounds"),
        (ERR_NOT_SUPPORTED, lambda: is_slice and parent is not None and parent.kind.resizable,
         "child.slice.resizable"),
        (ERR_BAD_STATE,
         lambda: is_slice and parent is not None and uncached
         and not (parent.kind.contiguous or parent.kind.physical),
         "child.uncached"),
        # child.physical: a physical VMO has slices only
        (ERR_NOT_SUPPORTED, lambda: (is_reference or snap) and parent is not None
         and parent.kind.physical, "child.physical"),
        # child.reference.*
        (ERR_INVALID_ARGS, lambda: is_reference and v.or_(v.ne(offset, 0), v.ne(size, 0)),
         "child.reference.range"),
        (ERR_NOT_SUPPORTED, lambda: is_reference and parent is not None
         and (of_slice or parent.kind.contiguous),
         "child.reference.parent_kind"),
        (ERR_NOT_SUPPORTED, lambda: is_reference and options & abi.CHILD_RESIZABLE != 0
         and parent is not None and not parent.kind.resizable,
         "child.reference.resizable"),
        (ERR_BAD_STATE, lambda: is_reference and uncached, "child.uncached"),
        # child.snapshot.*, in the kernel's order
        (ERR_INVALID_ARGS, lambda: snap and parent is not None and parent.kind.contiguous,
         "child.snapshot.contiguous"),
        (ERR_INVALID_ARGS, lambda: snap and v.not_(v.aligned(offset, p)),
         "child.snapshot.aligned"),
        (ERR_OUT_OF_RANGE, lambda: snap and of_slice and v.ult(t.size if t else 0, end),
         "child.snapshot.slice_bounds"),
        (ERR_OUT_OF_RANGE, lambda: snap and end_ovf, "child.snapshot.overflow"),
        (ERR_BAD_STATE, lambda: snap and uncached, "child.uncached"),
        (ERR_NOT_SUPPORTED, lambda: kind == abi.CHILD_SNAPSHOT and t is not None
         and t.root.kind.pager_backed, "child.snapshot.pager"),
        (ERR_INVALID_ARGS, lambda: snap and projected_overflow(),
         "child.snapshot.root_overflow"),
        (ERR_NOT_SUPPORTED, lambda: snap and of_slice and not unidirectional(),
         "child.snapshot.slice_unidirectional"),
    ]
    status = cx.first(*rungs)
    if status is not None:
        return Outcome(status, st)
    assert h is not None and parent is not None and t is not None and kind is not None
    rights = v.bit_and(h.rights, ~abi.RIGHT_RESIZE & abi.U32_MAX)
    rights = v.bit_or(rights, abi.RIGHT_GET_PROPERTY | abi.RIGHT_SET_PROPERTY)
    resizable = options & abi.CHILD_RESIZABLE != 0
    if resizable:
        rights = v.bit_or(rights, abi.RIGHT_RESIZE)
    if options & abi.CHILD_NO_WRITE:
        rights = v.bit_and(rights, ~RIGHT_WRITE & abi.U32_MAX)
    elif kind & _SNAPSHOTS:
        rights = v.bit_or(v.bit_and(rights, ~abi.RIGHT_EXECUTE & abi.U32_MAX), RIGHT_WRITE)
    if kind == abi.CHILD_SLICE:
        # child.uncached: a slice of an uncached contiguous VMO takes its policy
        child = Vmo(Kind(contiguous=parent.kind.contiguous, physical=parent.kind.physical,
                         cache_policy=parent.kind.cache_policy),
                    SLICE, rounded, h.obj, offset, None, None, None, False)
    elif kind == abi.CHILD_REFERENCE:
        child = Vmo(Kind(resizable=parent.kind.resizable), REFERENCE, 0, h.obj, 0,
                    None, None, None, False)
    else:
        # A snapshot reads as the parent did when it was taken; past the parent's end,
        # zero (child.effect). Copy-on-write sharing is how the kernel gets there.
        src = memory(st, t)
        visible = v.umin(v.sub(t.size, v.umin(offset, t.size)), rounded)
        content = v.bytes_splice(v.bytes_const(0), 0, visible, src.content,
                                 v.add(offset, t.shift)[0])
        immutable = kind == abi.CHILD_SNAPSHOT and options & abi.CHILD_NO_WRITE != 0
        child = Vmo(Kind(resizable=resizable, immutable=immutable), SNAPSHOT, rounded, h.obj,
                    offset, Memory(content, v.pages_empty()), None, None, True)
        st = st.with_object(t.owner, st.vmo(t.owner)._replace(cow=True))
        # cow.unidirectional: under a pager-backed root, AT_LEAST_ON_WRITE (but of a VMO that
        # already shares a hidden node: it acts as a snapshot) and MODIFIED of the root's
        # own pages read through; everything else is upgraded to a shared snapshot.
        owner_node = st.nodes.get(t.owner)
        through = unidirectional() and not (
            kind == abi.CHILD_SNAPSHOT_AT_LEAST_ON_WRITE and owner_node is not None
            and owner_node.shared)
        oid = st.next_obj
        st = _new_object(st, child, out, rights)
        cx.why = "child.effect"
        return Outcome(OK, cow.snapshot(cx, st, t.owner, oid, v.add(offset, t.shift)[0],
                                        visible, not through))
    cx.why = "child.effect"
    return Outcome(OK, _new_object(st, child, out, rights))


# ----------------------------------------------------------------------------------------
# Handles (handle.lookup, dup.*, close.*)
# ----------------------------------------------------------------------------------------


def handle_duplicate(cx: Cx, st: State, handle: str, rights: Word, out: str) -> Outcome:
    v = cx.v
    h = st.handles.get(handle)
    same = not v.symbolic and rights == abi.RIGHT_SAME_RIGHTS
    status = cx.first(
        (ERR_BAD_HANDLE, lambda: h is None, "handle.lookup"),
        (ERR_ACCESS_DENIED, lambda: v.not_(v.has_bits(h.rights if h else 0, RIGHT_DUPLICATE)),
         "dup.rights"),
        (ERR_INVALID_ARGS,
         lambda: not same and v.ne(v.bit_and(rights, h.rights if h else 0), rights),
         "dup.subset"),
    )
    if status is not None:
        return Outcome(status, st)
    assert h is not None
    cx.why = "dup.effect"
    return Outcome(OK, st.with_handle(out, Handle(h.obj, h.rights if same else rights)))


def handle_close(cx: Cx, st: State, handle: str) -> Outcome:
    if handle == "$invalid":
        cx.why = "close.invalid"
        return Outcome(OK, st)
    if handle not in st.handles:
        cx.why = "close.unknown"
        return Outcome(ERR_BAD_HANDLE, st)
    cx.why = "close.effect"
    return Outcome(OK, cow.closed(cx, st.with_handle(handle, None).collected()))


# ----------------------------------------------------------------------------------------
# zx_vmo_read, zx_vmo_write, size (rw.*, read.*, write.*, size.*, set_size.*)
# ----------------------------------------------------------------------------------------


def _rw_target(
    cx: Cx, st: State, vmo: str, offset: Word, length: Word, right: int, name: str
) -> tuple[int | None, Target | None, Word]:
    v = cx.v
    bad, h = _vmo_handle(st, vmo)
    end, ovf = v.add(offset, length)
    t = target(cx, st, h.obj, h.rights) if h is not None else None
    status = cx.first(
        (bad or 0, lambda: bad is not None, "prefix.handle_lookup"),
        (ERR_ACCESS_DENIED, lambda: v.not_(v.has_bits(t.rights if t else 0, right)),
         "rw.rights"),
        (ERR_NOT_SUPPORTED, lambda: t is not None and t.vmo.kind.physical, "rw.physical"),
        (ERR_OUT_OF_RANGE, lambda: ovf, "rw.bounds"),
        # rw.uncached: after the overflow, before the bounds, whatever the length
        (ERR_BAD_STATE, lambda: t is not None and not t.vmo.kind.cached, "rw.uncached"),
        (ERR_OUT_OF_RANGE, lambda: v.ult(t.size if t else 0, end), "rw.bounds"),
        # rw.bounds: a zero-length access returns OK before any page is looked up, which
        # is where a discarded VMO answers NOT_FOUND (discard.read_write.not_found)
        (ERR_NOT_FOUND,
         lambda: t is not None and t.vmo.tracker is not None
         and v.and_(is_discarded(cx, t.vmo), v.ne(length, 0)),
         "discard.read_write.not_found"),
    )
    return status, t, end


def vmo_read(cx: Cx, st: State, vmo: str, offset: Word, length: Word) -> Outcome:
    status, t, end = _rw_target(cx, st, vmo, offset, length, RIGHT_READ, "read")
    if status is not None:
        return Outcome(status, st)
    assert t is not None
    if _paged_in(st, t) and cx.when(cx.v.ult(offset, end)):  # read.effect: nothing to fetch for 0
        a, b = owner_pages(cx, t, offset, end)
        st, status = commit_pages(cx, st, t, a, b, reading=True)
        if status != OK:
            return Outcome(status, st)
    content = memory(st, t).content
    if t.owner in st.nodes:
        content = cow.view(cx, st, t.owner)
    data = cx.v.bytes_read(content, cx.v.add(offset, t.shift)[0], length)
    cx.why = "read.effect"
    return Outcome(OK, st, MappingProxyType({"data": data}))


def _paged_in(st: State, t: Target) -> bool:
    """Reads and writes of a pager-backed VMO fault absent pages in from the pager, and
    so do those of a child reading through one (cow.read_through)."""
    return st.vmo(t.owner).marks is not None or (
        t.owner in st.nodes and cow.reads_through(st, t.owner))


def vmo_write(cx: Cx, st: State, vmo: str, offset: Word, data: object, length: Word) -> Outcome:
    status, t, end = _rw_target(cx, st, vmo, offset, length, RIGHT_WRITE, "write")
    if status is not None:
        return Outcome(status, st)
    assert t is not None
    if not cx.when(cx.v.ult(offset, end)):
        return Outcome(OK, st)
    if t.owner in st.nodes:  # cow.fork, cow.through_fork: the written pages fork into the writer
        a, b = owner_pages(cx, t, offset, end)
        st, status = cow.fork(cx, st, t.owner, a, b)
        if status != OK:
            return Outcome(status, st)
    if st.vmo(t.owner).marks is not None:
        v, p = cx.v, cx.page
        a, b = owner_pages(cx, t, offset, end)
        st, status = commit_pages(cx, st, t, a, b)
        if status != OK:
            # write.effect: the pages before the one that failed are written; nothing is undone
            stop = v.pages_first_out(memory(st, t).committed, a, b)
            cut = v.umin(end, v.sub(v.mul_to(stop, p), t.shift))
            if cx.when(v.ult(offset, cut)):
                st = write_bytes(cx, st, t, offset, data, end, cut)
            return Outcome(status, st)
    cx.why = "write.effect"
    st = write_bytes(cx, st, t, offset, data, end)
    return Outcome(OK, cow.normalize(cx, st) if t.owner in st.nodes else st)


def vmo_get_size(cx: Cx, st: State, vmo: str) -> Outcome:
    bad, h = _vmo_handle(st, vmo)
    if bad is not None:
        return Outcome(bad, st)
    assert h is not None
    cx.why = "size.get"
    return Outcome(OK, st, MappingProxyType({"size": target(cx, st, h.obj, h.rights).size}))


def vmo_set_size(cx: Cx, st: State, vmo: str, size: Word) -> Outcome:
    v, p = cx.v, cx.page
    bad, h = _vmo_handle(st, vmo)
    t = target(cx, st, h.obj, h.rights) if h is not None else None
    rounded, ovf = v.ceil_to(size, p)
    resizable = t is not None and t.vmo.kind.resizable
    # A reference resizes the VMO it refers to.
    obj = t.obj if t is not None else 0
    while t is not None and st.vmo(obj).role == REFERENCE:
        parent = st.vmo(obj).parent
        assert parent is not None
        obj = parent

    def projected_overflow() -> object:
        _end, o = v.add(root_offset(cx, st, obj), rounded)
        return v.and_(v.ult(t.size if t else 0, rounded), o)

    status = cx.first(
        (bad or 0, lambda: bad is not None, "prefix.handle_lookup"),
        (ERR_ACCESS_DENIED, lambda: v.not_(v.has_bits(t.rights if t else 0, RIGHT_WRITE)),
         "set_size.rights"),
        (ERR_ACCESS_DENIED,
         lambda: resizable and v.not_(v.has_bits(t.rights if t else 0, abi.RIGHT_RESIZE)),
         "set_size.resize_right"),
        (ERR_OUT_OF_RANGE, lambda: ovf, "set_size.overflow"),
        (ERR_NOT_SUPPORTED, lambda: t is not None and t.vmo.kind.physical,
         "set_size.physical"),
        (ERR_UNAVAILABLE, lambda: not resizable, "set_size.not_resizable"),
        (ERR_OUT_OF_RANGE, lambda: _too_big(cx, rounded), "set_size.max_size"),
        (ERR_INVALID_ARGS, projected_overflow,
         "set_size.root_overflow"),
    )
    if status is not None:
        return Outcome(status, st)
    assert t is not None
    mem = memory(st, t)
    # set_size.effect: the pages between the old and the new size are freed (shrinking) or appear
    # as zero (growing: for a pager VMO too, without asking the pager); shrinking frees
    # the tail, so growing again reads zero there.
    old_end, new_end = v.add(t.size, t.shift)[0], v.add(rounded, t.shift)[0]
    lo, hi = v.umin(old_end, new_end), v.ite(v.ult(old_end, new_end), new_end, old_end)
    content = v.bytes_fill(mem.content, lo, hi, 0)
    committed = v.pages_remove(mem.committed, v.div_to(lo, p), v.div_to(hi, p))
    st = with_memory(st, t, Memory(content, committed))
    st = mark_dirty(cx, st, t.owner, v.div_to(lo, p), v.div_to(hi, p))  # not the pager's
    st = st.with_object(obj, st.vmo(obj)._replace(size=rounded))
    st = cow.resized(cx, st, t.owner, rounded)
    cx.why = "set_size.effect"
    if cx.when(v.not_(v.aligned(size, p))):
        # set_size.effect: the bytes from the unrounded size to the page end are zeroed as ZERO
        # zeroes part of a page: in place, a pager page paged in first (and dirty after)
        st, status = zero_partial_page(cx, st, t, size, rounded)
        return Outcome(status, st)
    return Outcome(OK, st)


# ----------------------------------------------------------------------------------------
# ZX_INFO_VMO
# ----------------------------------------------------------------------------------------


_ATTRIBUTION = ("committed_private_bytes", "populated_private_bytes",
                "committed_scaled_bytes", "populated_scaled_bytes",
                "committed_fractional_scaled_bytes", "populated_fractional_scaled_bytes")


def vmo_info(cx: Cx, st: State, vmo: str) -> Outcome:
    bad, h = _vmo_handle(st, vmo)
    if bad is not None:
        return Outcome(bad, st)
    assert h is not None
    cx.why = "info.committed_bytes"
    t = target(cx, st, h.obj, h.rights)
    # info.cache_policy
    out = {"size": t.size, "flags": info_flags(st, t.obj), "cache_policy": t.vmo.kind.cache_policy}
    out.update(zip(("committed_bytes", "populated_bytes", *_ATTRIBUTION),
                   _memory_fields(cx, st, t), strict=True))
    return Outcome(OK, st, MappingProxyType(out))


def _memory_fields(cx: Cx, st: State, t: Target) -> tuple[object, ...]:
    """committed, populated, then the six attribution fields (info.attribution.2025,
    info.attribution.legacy). Nothing is compressed: populated equals committed."""
    v, p = cx.v, cx.page
    legacy = cx.profile.attribution == "legacy"
    if cx.profile.attribution == "loose":
        # The page describes no accounting: bounds only.
        if v.symbolic:
            return (None,) * 8
        return (Between(0, t.size),) * 2 + (Between(0, abi.U64_MAX),) * 6
    if t.vmo.role in (SLICE, REFERENCE):
        # info.slices: a slice or reference reports nothing of its own (both eras).
        committed, private, scaled, frac = 0, 0, 0, abi.U64_MAX if legacy else 0
    elif t.owner in st.nodes:
        if v.symbolic:
            return (None,) * 8
        committed, private, scaled, frac = cow.attribution(cx, st, t.owner)
    else:
        committed = v.mul_to(v.pages_count(memory(st, t).committed, 0, v.div_to(t.size, p)), p)
        # "Unlocked pages that have not been discarded yet will be counted as committed
        # pages": whether locked ones are is the reading info-locked_pages
        tr = st.vmo(t.owner).tracker
        if tr is not None and (v.symbolic or v.eq(tr.state, UNRECLAIMABLE)) and \
                cx.reading("info-locked_pages") == "not_counted":
            committed = v.ite(v.eq(tr.state, UNRECLAIMABLE), 0, committed)
        # info.attribution.2025: a VMO in no family owns all it holds; a transition kernel (legacy
        # numbers) reads 0 in the private and scaled fields and UINT64_MAX in the fractions
        private, scaled, frac = (0, 0, abi.U64_MAX) if legacy else (committed, committed, 0)
    return (committed, committed, private, private, scaled, scaled, frac, frac)


# ----------------------------------------------------------------------------------------
# zx_vmo_set_cache_policy (cache_policy.*)
# ----------------------------------------------------------------------------------------


def _has_parent(st: State, obj: int) -> bool:
    """The kernel's VMO has a parent: a slice, reference or snapshot, unless it is a
    snapshot whose original is gone (the hidden node merged into it; notes/cache-policy.md)."""
    return st.vmo(obj).parent is not None and not merged_to_root(st, obj)


def _has_child(st: State, obj: int) -> bool:
    return any(isinstance(o, Vmo) and o.parent == obj for o in st.objects.values())


def vmo_set_cache_policy(cx: Cx, st: State, vmo: str, policy: int) -> Outcome:
    v, p = cx.v, cx.page
    bad, h = _vmo_handle(st, vmo)
    t = target(cx, st, h.obj, h.rights) if h is not None else None
    era_2023 = cx.profile.cache_policy_rules == "2023"
    locked_kind = t is not None and (t.root.kind.pager_backed or t.vmo.kind.discardable)

    def holds_pages() -> object:
        assert t is not None
        return v.pages_any(memory(st, t).committed, 0, v.div_to(t.size, p))

    rungs: list[Rung] = [
        # cache_policy.prefix: the policy is checked before the handle is looked up
        (ERR_INVALID_ARGS, lambda: policy & ~abi.CACHE_POLICY_MASK != 0, "cache_policy.prefix"),
        (bad or 0, lambda: bad is not None, "prefix.handle_lookup"),
        (ERR_ACCESS_DENIED, lambda: v.not_(v.has_bits(h.rights if h else 0, abi.RIGHT_MAP)),
         "cache_policy.prefix"),
    ]
    # cache_policy.physical: a physical VMO asked for the policy it has changes nothing
    rungs.append((OK, lambda: t is not None and t.vmo.kind.physical
                  and t.vmo.kind.cache_policy == policy, "cache_policy.physical"))
    if era_2023:
        rungs.append((ERR_BAD_STATE,
                      lambda: t is not None and not t.vmo.kind.cached and holds_pages(),
                      "cache_policy.committed.2023"))
    rungs.append((ERR_BAD_STATE,
                  lambda: h is not None and (_has_child(st, h.obj) or _has_parent(st, h.obj)),
                  "cache_policy.family"))
    if not era_2023:
        rungs += [
            (ERR_BAD_STATE, lambda: t is not None and t.vmo.role in (SLICE, REFERENCE),
             "cache_policy.reference.2025"),
            (OK, lambda: locked_kind and policy == abi.CACHE_POLICY_CACHED,
             "cache_policy.cached_only.2025"),
            (ERR_BAD_STATE, lambda: locked_kind, "cache_policy.cached_only.2025"),
        ]
    status = cx.first(*rungs)
    if status is not None:
        return Outcome(status, st)
    assert t is not None
    cx.why = "cache_policy.effect"
    kind = replace(t.vmo.kind, cache_policy=policy)
    return Outcome(OK, st.with_object(t.obj, t.vmo._replace(kind=kind)))


# ----------------------------------------------------------------------------------------
# Pager supply and fail (pager.op.*, pager.supply.*, pager.fail.*)
# ----------------------------------------------------------------------------------------


def _pager_range(
    cx: Cx, st: State, pager: str, vmo: str, offset: Word, length: Word, extra: list[Rung]
) -> tuple[int | None, Target | None]:
    v, p = cx.v, cx.page
    pbad, ph = _pager_handle(st, pager)
    vbad, vh = _vmo_handle(st, vmo)
    t = target(cx, st, vh.obj, vh.rights) if vh is not None else None
    end, ovf = v.add(offset, length)
    status = cx.first(
        (ERR_INVALID_ARGS, lambda: v.not_(v.and_(v.aligned(offset, p), v.aligned(length, p))),
         "pager.op.aligned"),
        (pbad or 0, lambda: pbad is not None, "pager.handle"),
        (ERR_ACCESS_DENIED,
         lambda: v.not_(v.has_bits(ph.rights if ph else 0, abi.RIGHT_MANAGE_VMO)),
         "pager.op.rights"),
        (vbad or 0, lambda: vbad is not None, "pager.op.vmo_handle"),
        (ERR_ACCESS_DENIED, lambda: v.not_(v.has_bits(vh.rights if vh else 0, RIGHT_WRITE)),
         "pager.op.vmo_rights"),
        (ERR_INVALID_ARGS,
         lambda: t is None or t.vmo.marks is None or ph is None or t.vmo.marks.pager != ph.obj,
         "pager.op.foreign_vmo"),
        *extra,
        (ERR_OUT_OF_RANGE, lambda: v.or_(ovf, v.ult(t.size if t else 0, end)),
         "pager.op.bounds"),
        (ERR_BAD_STATE, lambda: t is not None and pager_detached(st, t.vmo),
         "pager.op.detached"),
    )
    return status, t


def pager_supply_pages(
    cx: Cx, st: State, pager: str, vmo: str, offset: Word, length: Word
) -> Outcome:
    empty: list[Rung] = [(OK, lambda: cx.v.eq(length, 0), "pager.supply.empty")]
    status, t = _pager_range(cx, st, pager, vmo, offset, length, empty)
    if status is not None:
        return Outcome(status, st)
    assert t is not None
    v = cx.v
    a, b = owner_pages(cx, t, offset, v.add(offset, length)[0])
    mem = memory(st, t)
    # pager.supply.effect: supply never overwrites what the VMO holds; a dirty page
    # (written, or a zero interval) keeps its content and stays without a page if it had none
    supplied = v.pages_add(v.pages_empty(), a, b)
    if t.vmo.marks is not None:
        supplied = v.pages_diff(supplied, t.vmo.marks.dirty)
    cx.why = "pager.supply.effect"
    return Outcome(OK, with_memory(st, t, Memory(mem.content,
                                                 v.pages_union(mem.committed, supplied))))


def pager_fail(
    cx: Cx, st: State, pager: str, vmo: str, offset: Word, length: Word, error: int
) -> Outcome:
    extra: list[Rung] = [(ERR_INVALID_ARGS, lambda: error not in abi.PAGER_FAIL_STATUSES,
                          "pager.fail.codes")]
    status, t = _pager_range(cx, st, pager, vmo, offset, length, extra)
    if status is not None:
        return Outcome(status, st)
    assert t is not None and t.vmo.marks is not None
    p = cx.page
    if cx.v.symbolic:
        raise TypeError("pager_fail takes concrete offsets")
    fail = (offset // p, (offset + length) // p, error)
    marks = t.vmo.marks._replace(fails=(*t.vmo.marks.fails, fail))
    cx.why = "pager.fail.effect"
    return Outcome(OK, st.with_object(t.obj, t.vmo._replace(marks=marks)))


# ----------------------------------------------------------------------------------------
# The reclaim event (docs/trace-format.md; reclaim.*)
# ----------------------------------------------------------------------------------------


def reclaim(cx: Cx, st: State, vmo: str) -> Outcome:
    v, p = cx.v, cx.page
    _bad, h = _vmo_handle(st, vmo)
    if h is None:
        return Outcome(OK, st, MappingProxyType({"discarded": False, "evicted_bytes": 0}))
    t = target(cx, st, h.obj, h.rights)
    owner = st.vmo(t.owner)
    mem = memory(st, t)
    if owner.tracker is not None:
        # reclaim.discards, reclaim.not_eligible: only a Reclaimable VMO is discarded; a
        # locked one never is
        # zircon-2025 (reclaim.first_page): the discard happens when reclaim reaches the
        # VMO's first committed page, so a VMO holding none is not discarded.
        reclaimable = v.eq(owner.tracker.state, RECLAIMABLE)
        # whether a VMO never locked may be discarded is the reading
        # discard-unlocked_at_creation (the kernel: it may not)
        never = v.eq(owner.tracker.state, UNSET)
        if (v.symbolic or never) and \
                cx.reading("discard-unlocked_at_creation") == "discardable":
            reclaimable = v.or_(reclaimable, never)
        if cx.profile.discard_needs_page:
            reclaimable = v.and_(reclaimable,
                                 v.pages_any(mem.committed, 0, v.div_to(owner.size, p)))
        if cx.when(reclaimable):
            freed = v.mul_to(v.pages_count(mem.committed, 0, v.div_to(owner.size, p)), p)
            cx.why = "reclaim.discards, discard.effect"
            return Outcome(OK, discard(cx, st, t.owner),
                           MappingProxyType({"discarded": True, "evicted_bytes": freed}))
        cx.why = ("reclaim.not_eligible, reclaim.first_page" if cx.profile.discard_needs_page
                  else "reclaim.not_eligible")
        return Outcome(OK, st, MappingProxyType({"discarded": False, "evicted_bytes": 0}))
    if owner.marks is None:
        cx.why = "decision.reclaim.anonymous"
        return Outcome(OK, st, MappingProxyType({"discarded": False, "evicted_bytes": 0}))
    # reclaim.evicts: clean, unpinned pages may be evicted, DONT_NEED pages first, ALWAYS_NEED kept.
    marks = owner.marks
    clean = v.pages_diff(v.pages_diff(mem.committed, marks.dirty), marks.always_need)
    dont_need = v.pages_diff(clean, v.pages_diff(clean, marks.dont_need))
    evicted = cx.choose((v.pages_empty(), dont_need, clean))
    count = v.mul_to(v.pages_count(evicted, 0, v.div_to(owner.size, p)), p)
    committed = v.pages_diff(mem.committed, evicted)
    cx.why = "reclaim.evicts"
    return Outcome(OK, with_memory(st, t, Memory(mem.content, committed)),
                   MappingProxyType({"discarded": False, "evicted_bytes": count}))
