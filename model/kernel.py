"""The syscall layer: `Kernel.step` runs one trace call or event on the model.

Each syscall is written the way the kernel's syscall and dispatcher code runs: handle
lookup, then the checks in the order the kernel makes them, then the work on the VM
layer (model/vmo.py). The orders are docs/kernel-facts.md's (2025) for zx_vmo_op_range and
notes/syscall-facts.md for the calls around it; comments name the fact ids.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from model.frames import FramePool
from model.handles import INVALID_HANDLE_NAME, Handle, HandleTable
from model.pager import Pager
from model.ranges import Runs, runs_length
from model.variants import VARIANTS
from model.vmo import Hit, PageNode, Vm, Vmo, VmoKind
from spec import abi

__all__ = ["Kernel"]


Outcome = dict[str, Any]

_CACHE_OPS = frozenset(
    {abi.OP_CACHE_SYNC, abi.OP_CACHE_INVALIDATE, abi.OP_CACHE_CLEAN, abi.OP_CACHE_CLEAN_INVALIDATE}
)
_SNAPSHOT_TYPES = (
    abi.CHILD_SNAPSHOT,
    abi.CHILD_SNAPSHOT_AT_LEAST_ON_WRITE,
    abi.CHILD_SNAPSHOT_MODIFIED,
)
_CREATE_OPTIONS = abi.VMO_RESIZABLE | abi.VMO_DISCARDABLE | abi.VMO_UNBOUNDED


def _st(status: int) -> Outcome:
    return {"status": status}


class Kernel:
    """A concrete kernel: a handle table, a frame pool, VMOs, pagers.

    `broken` switches on deliberately wrong behaviours from model.variants.VARIANTS.
    """

    def __init__(
        self,
        page_size: int = 4096,
        frames: int = 1 << 20,
        config: Mapping[str, bool] | None = None,
        broken: frozenset[str] = frozenset(),
    ) -> None:
        if page_size <= 0 or page_size & (page_size - 1):
            raise ValueError(f"page size {page_size} is not a power of two")
        cfg = dict.fromkeys(abi.CONFIG_KEYS, False)
        for key, value in (config or {}).items():
            if key not in cfg:
                raise ValueError(f"unknown config key {key!r}")
            cfg[key] = bool(value)
        unknown = set(broken) - set(VARIANTS)
        if unknown:
            raise ValueError(f"unknown broken variant(s) {sorted(unknown)}")
        self.page_size = page_size
        self.config = cfg
        self.broken = frozenset(broken)
        self.pool = FramePool(frames)
        self.vm = Vm(page_size, self.pool, self.broken)
        self.handles = HandleTable()
        # The largest VMO: VmPageList's MAX_SIZE, the u64 range rounded down to a whole
        # page-list node pair (2 * 16 pages).
        granule = 32 * page_size
        self.max_size = (abi.U64_MAX // granule) * granule
        self._calls: dict[str, Callable[[Mapping[str, Any]], Outcome]] = {
            "vmo_create": self.vmo_create,
            "vmo_create_child": self.vmo_create_child,
            "vmo_create_contiguous": self.vmo_create_contiguous,
            "vmo_create_physical": self.vmo_create_physical,
            "handle_duplicate": self.handle_duplicate,
            "handle_close": self.handle_close,
            "vmo_op_range": self.vmo_op_range,
            "vmo_read": self.vmo_read,
            "vmo_write": self.vmo_write,
            "vmo_get_size": self.vmo_get_size,
            "vmo_set_size": self.vmo_set_size,
            "vmo_info": self.vmo_info,
            "vmo_set_cache_policy": self.vmo_set_cache_policy,
            "pager_create": self.pager_create,
            "pager_create_vmo": self.pager_create_vmo,
            "pager_supply_pages": self.pager_supply_pages,
            "pager_fail": self.pager_fail,
            "reclaim": self.reclaim,
        }

    # --- the entry point ----------------------------------------------------------------------

    def step(self, name: str, args: Mapping[str, Any]) -> dict[str, Any]:
        """Runs one call or event; returns the observed outcome fields."""
        fn = self._calls.get(name)
        if fn is None:
            raise ValueError(f"unknown call or event {name!r}")
        return fn(args)

    # --- helpers ------------------------------------------------------------------------------

    def _round_up(self, x: int) -> int | None:
        """x rounded up to a page, or None when that passes 2^64 - 1."""
        r = -(-x // self.page_size) * self.page_size
        return r if r <= abi.U64_MAX else None

    def _round_down(self, x: int) -> int:
        return x - x % self.page_size

    def _rounded_end(self, offset: int, size: int) -> tuple[int, int] | None:
        """offset + size and its round-up to a page; None when either passes 2^64 - 1."""
        end = offset + size
        rend = self._round_up(end) if end <= abi.U64_MAX else None
        return None if rend is None else (end, rend)

    def _right_and_ends(self, rights: int, right: int, unchecked: str, offset: int,
                        size: int) -> tuple[int, int] | int:
        """COMMIT and PREFETCH (rights.per_op, commit.bounds, prefetch.bounds): the right
        (unless the broken variant `unchecked` is on), then the end and its round-up; a
        status if either fails."""
        if not rights & right and unchecked not in self.broken:
            return abi.ERR_ACCESS_DENIED
        ends = self._rounded_end(offset, size)
        return abi.ERR_OUT_OF_RANGE if ends is None else ends

    def _created_size(self, opts: int, size: int) -> tuple[int, int]:
        """create.options: RESIZABLE, DISCARDABLE and UNBOUNDED are the options; any other bit, and
        UNBOUNDED with RESIZABLE, give INVALID_ARGS. The size rounded up to a page
        (OUT_OF_RANGE past 2^64 - 1), or the largest for UNBOUNDED; with the status."""
        if opts & ~_CREATE_OPTIONS or (opts & abi.VMO_UNBOUNDED and opts & abi.VMO_RESIZABLE):
            return abi.ERR_INVALID_ARGS, 0
        if opts & abi.VMO_UNBOUNDED:
            return abi.OK, self.max_size
        rounded = self._round_up(size)
        return (abi.OK, rounded) if rounded is not None else (abi.ERR_OUT_OF_RANGE, 0)

    def _lookup(self, name: str) -> Handle | None:
        if name == INVALID_HANDLE_NAME:
            return None
        return self.handles.get(name)

    def _vmo(self, name: str, right: int = 0) -> tuple[int, Handle | None, Vmo | None]:
        """Handle lookup (BAD_HANDLE), then type (WRONG_TYPE): prefix.order; then the
        right the call needs, if it names one (ACCESS_DENIED)."""
        h = self._lookup(name)
        if h is None:
            return abi.ERR_BAD_HANDLE, None, None
        if not isinstance(h.obj, Vmo):
            return abi.ERR_WRONG_TYPE, h, None
        if right and not h.rights & right:
            return abi.ERR_ACCESS_DENIED, h, None
        return abi.OK, h, h.obj

    def _pager(self, name: str, right: int) -> tuple[int, Pager | None]:
        h = self._lookup(name)
        if h is None:
            return abi.ERR_BAD_HANDLE, None
        if not isinstance(h.obj, Pager):
            return abi.ERR_WRONG_TYPE, None
        if not h.rights & right:
            return abi.ERR_ACCESS_DENIED, None
        return abi.OK, h.obj

    def _bind(self, out: str, obj: Vmo | Pager, rights: int) -> None:
        self.handles.bind(out, obj, rights)

    def _node_page(self, vmo: Vmo, offset: int) -> int:
        """The page of vmo's node that holds byte `offset` of the VMO."""
        return vmo.window + offset // self.page_size

    # --- zx_vmo_create ------------------------------------------------------------------------

    def vmo_create(self, a: Mapping[str, Any]) -> Outcome:
        opts = a["options"]
        status, size = self._created_size(opts, a["size"])
        if status == abi.OK and size > self.max_size:
            status = abi.ERR_OUT_OF_RANGE
        if status != abi.OK:
            return _st(status)
        resizable = bool(opts & abi.VMO_RESIZABLE)
        node = PageNode(self.vm, size // self.page_size)
        vmo = Vmo(
            self.vm,
            node,
            VmoKind.ROOT,
            resizable=resizable,
            discardable=bool(opts & abi.VMO_DISCARDABLE),
        )
        rights = abi.DEFAULT_VMO_RIGHTS | (abi.RIGHT_RESIZE if resizable else 0)
        self._bind(a["out"], vmo, rights)
        return _st(abi.OK)

    # --- zx_vmo_create_contiguous, zx_vmo_create_physical (contiguous.*, physical.*) ---------
    # The BTI or the MMIO resource is the recorder's own: a trace names neither.

    def _kind_size(self, size: int) -> int:
        """Both calls: size 0 or not whole pages is INVALID_ARGS; past the largest VMO,
        OUT_OF_RANGE."""
        if size == 0 or size % self.page_size:
            return abi.ERR_INVALID_ARGS
        return abi.ERR_OUT_OF_RANGE if size > self.max_size else abi.OK

    def vmo_create_contiguous(self, a: Mapping[str, Any]) -> Outcome:
        size: int = a["size"]
        # contiguous.create: alignment 0 means a page; below a page or past 63 is refused
        shift = self.page_size.bit_length() - 1
        align: int = a["alignment_log2"] or shift
        status = self._kind_size(size)
        if status == abi.ERR_OUT_OF_RANGE or (status == abi.OK and not shift <= align < 64):
            status = abi.ERR_INVALID_ARGS if not shift <= align < 64 else status
        if status != abi.OK:
            return _st(status)
        node = PageNode(self.vm, size // self.page_size)
        if self.vm.commit(node, 0, node.size_pages) != abi.OK:
            node.on_zero()  # the frames taken so far go back
            return _st(abi.ERR_NO_MEMORY)
        vmo = Vmo(self.vm, node, VmoKind.ROOT, contiguous=True)
        self._bind(a["out"], vmo, abi.DEFAULT_VMO_RIGHTS)
        return _st(abi.OK)

    def vmo_create_physical(self, a: Mapping[str, Any]) -> Outcome:
        paddr: int = a["paddr"]
        size: int = a["size"]
        status = self._kind_size(size)
        if status == abi.OK and (paddr % self.page_size or paddr + size - 1 > abi.U64_MAX):
            status = abi.ERR_INVALID_ARGS
        if status != abi.OK:
            return _st(status)
        node = PageNode(self.vm, size // self.page_size)
        vmo = Vmo(self.vm, node, VmoKind.ROOT, physical=True,
                  cache_policy=abi.CACHE_POLICY_UNCACHED)
        self._bind(a["out"], vmo, abi.DEFAULT_VMO_RIGHTS)
        return _st(abi.OK)

    # --- zx_vmo_create_child (child.*) --------------------------------------------------------

    def vmo_create_child(self, a: Mapping[str, Any]) -> Outcome:
        opts: int = a["options"]
        offset: int = a["offset"]
        # child.size: the size is rounded before the handle is looked up.
        size = self._round_up(a["size"])
        if size is None or size > self.max_size:
            return _st(abi.ERR_OUT_OF_RANGE)
        # child.no_write_resizable
        if opts & abi.CHILD_NO_WRITE and opts & abi.CHILD_RESIZABLE:
            return _st(abi.ERR_INVALID_ARGS)
        no_write = bool(opts & abi.CHILD_NO_WRITE)
        opts &= ~abi.CHILD_NO_WRITE
        # child.rights: a VMO handle with DUPLICATE and READ.
        status, h, parent = self._vmo(a["vmo"])
        if status != abi.OK:
            return _st(status)
        assert h is not None and parent is not None
        need = abi.RIGHT_DUPLICATE | abi.RIGHT_READ
        if h.rights & need != need:
            return _st(abi.ERR_ACCESS_DENIED)
        # Dispatcher: a discardable parent has no children of any type (discardable.no_children).
        if parent.tracker is not None:
            return _st(abi.ERR_NOT_SUPPORTED)
        ps = self.page_size
        snapshot_type = 0
        if opts & abi.CHILD_SLICE:
            if opts & ~abi.CHILD_SLICE:
                return _st(abi.ERR_INVALID_ARGS)
            if offset % ps:
                return _st(abi.ERR_INVALID_ARGS)
            if offset + size > parent.size:
                return _st(abi.ERR_INVALID_ARGS)
            if parent.resizable:
                return _st(abi.ERR_NOT_SUPPORTED)
            uncached = parent.cache_policy != abi.CACHE_POLICY_CACHED
            if uncached and not (parent.contiguous or parent.physical):  # child.uncached
                return _st(abi.ERR_BAD_STATE)
            child = Vmo(
                self.vm,
                parent.node,
                VmoKind.SLICE,
                window=parent.window + offset // ps,
                slice_pages=size // ps,
                parent=parent,
                cache_policy=parent.cache_policy,
                contiguous=parent.contiguous,
                physical=parent.physical,
            )
        elif opts & abi.CHILD_REFERENCE:
            if opts & ~(abi.CHILD_REFERENCE | abi.CHILD_RESIZABLE):
                return _st(abi.ERR_INVALID_ARGS)
            if parent.physical:
                return _st(abi.ERR_NOT_SUPPORTED)  # child.physical
            if offset != 0 or size != 0:
                return _st(abi.ERR_INVALID_ARGS)
            if parent.kind is VmoKind.SLICE or parent.contiguous:
                return _st(abi.ERR_NOT_SUPPORTED)
            if opts & abi.CHILD_RESIZABLE and not parent.resizable:
                return _st(abi.ERR_NOT_SUPPORTED)
            if parent.cache_policy != abi.CACHE_POLICY_CACHED:  # child.uncached
                return _st(abi.ERR_BAD_STATE)
            # A reference shares its parent's node and size, and so its resizability.
            child = Vmo(
                self.vm, parent.node, VmoKind.REFERENCE, resizable=parent.resizable, parent=parent
            )
        else:
            snapshot_type = next((t for t in _SNAPSHOT_TYPES if opts & t), 0)
            if snapshot_type == 0:
                return _st(abi.ERR_INVALID_ARGS)
            if opts & ~(snapshot_type | abi.CHILD_RESIZABLE):
                return _st(abi.ERR_INVALID_ARGS)
            if parent.physical:
                return _st(abi.ERR_NOT_SUPPORTED)  # child.physical
            if parent.contiguous:
                return _st(abi.ERR_INVALID_ARGS)  # child.snapshot.contiguous
            made = self._snapshot(parent, snapshot_type, offset, size, opts, no_write)
            if isinstance(made, int):
                return _st(made)
            child = made
        rights = (h.rights & ~abi.RIGHT_RESIZE) | abi.RIGHT_GET_PROPERTY | abi.RIGHT_SET_PROPERTY
        if opts & abi.CHILD_RESIZABLE:
            rights |= abi.RIGHT_RESIZE
        if no_write:
            rights &= ~abi.RIGHT_WRITE
        elif snapshot_type:
            rights = (rights & ~abi.RIGHT_EXECUTE) | abi.RIGHT_WRITE
        self._bind(a["out"], child, rights)
        return _st(abi.OK)

    def _snapshot(
        self, parent: Vmo, snapshot_type: int, offset: int, size: int, opts: int, no_write: bool
    ) -> Vmo | int:
        ps = self.page_size
        if offset % ps:
            return abi.ERR_INVALID_ARGS
        if parent.kind is VmoKind.SLICE:
            if offset + size > parent.size:
                return abi.ERR_OUT_OF_RANGE
        elif offset + size > abi.U64_MAX:
            return abi.ERR_OUT_OF_RANGE
        if parent.cache_policy != abi.CACHE_POLICY_CACHED:  # child.uncached
            return abi.ERR_BAD_STATE
        pager_root = parent.pager_backed
        if pager_root and snapshot_type == abi.CHILD_SNAPSHOT:
            return abi.ERR_NOT_SUPPORTED
        projected = (parent.node.depth_offset() + parent.window) * ps + offset + size
        if projected > abi.U64_MAX:
            return abi.ERR_INVALID_ARGS
        # A unidirectional clone is possible only under a pager-backed root: always for
        # AT_LEAST_ON_WRITE, and for MODIFIED of the root itself. Everything else needs
        # a bidirectional clone (a hidden node), which a slice cannot have.
        unidirectional = pager_root and (
            snapshot_type == abi.CHILD_SNAPSHOT_AT_LEAST_ON_WRITE
            or (snapshot_type == abi.CHILD_SNAPSHOT_MODIFIED and parent.node.parent is None)
        )
        if parent.kind is VmoKind.SLICE and not unidirectional:
            return abi.ERR_NOT_SUPPORTED
        node = PageNode(self.vm, size // ps)
        visible = min(size // ps, parent.size_pages - offset // ps)
        if unidirectional:
            parent.node.adopt(node, parent.window + offset // ps, visible)
        else:
            hidden = parent.node.insert_hidden_parent()
            hidden.adopt(node, offset // ps, visible)
        return Vmo(
            self.vm,
            node,
            VmoKind.CLONE,
            resizable=bool(opts & abi.CHILD_RESIZABLE),
            immutable=no_write and snapshot_type == abi.CHILD_SNAPSHOT,
        )

    # --- handles (dup.*, close.*) -------------------------------------------------------------

    def handle_duplicate(self, a: Mapping[str, Any]) -> Outcome:
        h = self._lookup(a["handle"])
        if h is None:
            return _st(abi.ERR_BAD_HANDLE)
        if not h.rights & abi.RIGHT_DUPLICATE:
            return _st(abi.ERR_ACCESS_DENIED)
        rights: int = a["rights"]
        if rights == abi.RIGHT_SAME_RIGHTS:
            rights = h.rights
        elif rights & ~h.rights and "duplicate_rights_escalate" not in self.broken:
            return _st(abi.ERR_INVALID_ARGS)
        self.handles.bind(a["out"], h.obj, rights)
        return _st(abi.OK)

    def handle_close(self, a: Mapping[str, Any]) -> Outcome:
        name: str = a["handle"]
        if name == INVALID_HANDLE_NAME:
            return _st(abi.OK)  # closing ZX_HANDLE_INVALID is OK
        if self.handles.get(name) is None:
            return _st(abi.ERR_BAD_HANDLE)
        if "handle_close_noop" not in self.broken:
            self.handles.close(name)
        return _st(abi.OK)

    # --- zx_vmo_op_range (prefix.*, commit.* ... prefetch.*) ----------------------------------

    def vmo_op_range(self, a: Mapping[str, Any]) -> Outcome:
        status, h, vmo = self._vmo(a["vmo"])
        if status != abi.OK:
            return _st(status)
        assert h is not None and vmo is not None
        op: int = a["op"]
        offset: int = a["offset"]
        size: int = a["size"]
        rights = h.rights
        if op == abi.OP_COMMIT:
            return _st(self._op_commit(vmo, rights, offset, size))
        if op == abi.OP_DECOMMIT:
            return _st(self._op_decommit(vmo, rights, offset, size))
        if op == abi.OP_ZERO:
            return _st(self._op_zero(vmo, rights, offset, size))
        if op in (abi.OP_LOCK, abi.OP_TRY_LOCK, abi.OP_UNLOCK):
            return self._op_lock_family(vmo, rights, op, offset, size, a)
        if op in _CACHE_OPS:
            return _st(self._op_cache(vmo, rights, op, offset, size))
        if op in (abi.OP_DONT_NEED, abi.OP_ALWAYS_NEED):
            return _st(self._op_hint(vmo, op, offset, size))
        if op == abi.OP_PREFETCH:
            return _st(self._op_prefetch(vmo, rights, offset, size))
        # prefix.ops: an unknown op (0, 5, >= 15) is INVALID_ARGS, no right checked.
        return _st(abi.ERR_INVALID_ARGS)

    def _op_commit(self, vmo: Vmo, rights: int, offset: int, size: int) -> int:
        if vmo.physical and rights & abi.RIGHT_WRITE:
            return abi.ERR_NOT_SUPPORTED  # commit.physical: after the right
        # rights.per_op (COMMIT: WRITE); commit.bounds: offset + size, or its round-up, overflows
        ends = self._right_and_ends(rights, abi.RIGHT_WRITE, "commit_no_rights", offset, size)
        if isinstance(ends, int):
            return ends
        end, rend = ends
        if "commit_round_off_by_one" in self.broken:
            rend = self._round_down(end)
        start = self._round_down(offset)
        # (4) the rounded range must be in bounds
        if rend > vmo.size:
            return abi.ERR_OUT_OF_RANGE
        # (5) rounded length 0
        if rend <= start:
            return abi.OK
        # (6) execution: a discarded VMO has nothing to commit into (discard.commit.not_found)
        if vmo.discarded:
            return abi.ERR_NOT_FOUND
        return self.vm.commit(vmo.node, self._node_page(vmo, start), self._node_page(vmo, rend))

    def _op_decommit(self, vmo: Vmo, rights: int, offset: int, size: int) -> int:
        # rights.per_op (DECOMMIT)
        if not rights & abi.RIGHT_WRITE:
            return abi.ERR_ACCESS_DENIED
        # decommit.physical, decommit.contiguous: before any bounds
        loaning = self.config["page_loaning"] or "contiguous_decommits" in self.broken
        if vmo.physical or (vmo.contiguous and not loaning):
            return abi.ERR_NOT_SUPPORTED
        # (4)/(5) overflow, past the window or past S (a slice's S is its window)
        end = offset + size
        if end > abi.U64_MAX or end > vmo.size:
            return abi.ERR_OUT_OF_RANGE
        # (6)
        if size == 0:
            return abi.OK
        # (7) a clone, a VMO with a live snapshot child (a hidden parent), pager-backed
        node = vmo.node
        blocked = node.parent is not None or vmo.pager_backed
        if "decommit_with_snapshot_child" in self.broken and vmo.kind is not VmoKind.CLONE:
            blocked = vmo.pager_backed
        if blocked:
            return abi.ERR_NOT_SUPPORTED
        # (8) alignment, checked late
        ps = self.page_size
        if (offset % ps or size % ps) and "decommit_unaligned_ok" not in self.broken:
            return abi.ERR_INVALID_ARGS
        start, rend = self._round_down(offset), self._round_up(end)
        assert rend is not None
        self.vm.decommit(node, self._node_page(vmo, start), self._node_page(vmo, rend))
        return abi.OK

    def _op_zero(self, vmo: Vmo, rights: int, offset: int, size: int) -> int:
        # zero.pieces.2025: WRITE; no up-front range check.
        if not rights & abi.RIGHT_WRITE:
            return abi.ERR_ACCESS_DENIED
        if vmo.physical:
            return abi.ERR_NOT_SUPPORTED  # zero.physical
        if size == 0:
            return abi.OK
        end = offset + size
        if end > abi.U64_MAX:
            return abi.ERR_OUT_OF_RANGE
        if "zero_misses_last_byte" in self.broken:
            end -= 1
        ps = self.page_size
        s = vmo.size
        if "zero_upfront_range_check" in self.broken and end > s:
            return abi.ERR_OUT_OF_RANGE
        # The pieces: a partial head page, one chunk of whole pages, a partial tail page.
        up = self._round_up(offset)
        head_end = end if up is None else min(end, up)
        pieces: list[tuple[bool, int, int]] = []  # (whole pages?, start, end)
        if offset % ps:
            pieces.append((False, offset, head_end))
        if up is not None:
            chunk_end = self._round_down(end)
            if up < chunk_end:
                pieces.append((True, up, chunk_end))
            if end % ps and chunk_end >= up:
                pieces.append((False, chunk_end, end))
        # The pieces that will run are those before the first one past S; the frames
        # their partial pages need are checked up front (NO_MEMORY changes nothing).
        runnable = []
        for piece in pieces:
            if piece[2] > s:
                break
            runnable.append(piece)
        need = sum(
            self.vm.zero_partial_need(vmo.node, self._node_page(vmo, lo))
            for whole, lo, _ in runnable
            if not whole
        )
        if need > self.pool.available:
            return abi.ERR_NO_MEMORY
        uncached = vmo.cache_policy != abi.CACHE_POLICY_CACHED
        for whole, lo, hi in pieces:
            # zero.uncached.2025: a contiguous VMO's whole pages take the slow path, which
            # checks the policy before the bounds
            if whole and uncached and vmo.contiguous:
                return abi.ERR_BAD_STATE
            if hi > s:
                return abi.ERR_OUT_OF_RANGE  # zero.piece_bounds.2025: kept pieces
            if whole:
                first, last = self._node_page(vmo, lo), self._node_page(vmo, hi)
                if "zero_slice_forgets_window" in self.broken:
                    first, last = lo // ps, hi // ps  # the slice's window left out
                self.vm.zero_whole_pages(vmo.node, first, last, in_place=vmo.contiguous)
            else:
                # zero.uncached.2025: bytes of an uncached VMO are never written in place
                if vmo.cache_policy != abi.CACHE_POLICY_CACHED:
                    return abi.ERR_BAD_STATE
                page_start = self._round_down(lo)
                status = self.vm.zero_partial(
                    vmo.node, self._node_page(vmo, lo), lo - page_start, hi - page_start
                )
                if status != abi.OK:
                    return status
        return abi.OK

    def _op_lock_family(
        self, vmo: Vmo, rights: int, op: int, offset: int, size: int, a: Mapping[str, Any]
    ) -> Outcome:
        # rights.per_op (LOCK family): READ or WRITE
        if not rights & (abi.RIGHT_READ | abi.RIGHT_WRITE):
            return _st(abi.ERR_ACCESS_DENIED)
        # (2) not discardable
        tracker = vmo.tracker
        if tracker is None:
            return _st(abi.ERR_NOT_SUPPORTED)
        # (3) overflow, (4) exactly (0, S)
        if offset + size > abi.U64_MAX:
            return _st(abi.ERR_OUT_OF_RANGE)
        if (offset != 0 or size != vmo.size) and "lock_range_unchecked" not in self.broken:
            return _st(abi.ERR_OUT_OF_RANGE)
        # the state transition (lock.effect, try_lock.effect, unlock.effect)
        if op == abi.OP_TRY_LOCK:
            return _st(tracker.try_lock())
        if op == abi.OP_UNLOCK:
            return _st(tracker.unlock())
        was_discarded = tracker.lock()
        # (6) the buffer is checked only after the lock is taken; failing, it is dropped
        # again by a real UNLOCK (lock.bad_buffer).
        if a.get("buffer_size", abi.LOCK_STATE_SIZE) < abi.LOCK_STATE_SIZE or a.get(
            "buffer_null", False
        ):
            if "lock_buffer_keeps_lock" not in self.broken:
                tracker.unlock()
            return _st(abi.ERR_INVALID_ARGS)
        s = vmo.size
        return {
            "status": abi.OK,
            "lock_state": {
                "offset": 0,
                "size": s,
                "discarded_offset": 0,
                "discarded_size": s if was_discarded else 0,
            },
        }

    def _op_cache(self, vmo: Vmo, rights: int, op: int, offset: int, size: int) -> int:
        # cache.invalidate_gate: the CACHE_INVALIDATE gate, before rights
        if (
            op == abi.OP_CACHE_INVALIDATE
            and not self.config["debugging_syscalls"]
            and "cache_invalidate_ungated" not in self.broken
        ):
            return abi.ERR_NOT_SUPPORTED
        # (2) rights
        need = abi.RIGHT_WRITE if op == abi.OP_CACHE_INVALIDATE else abi.RIGHT_READ
        if not rights & need:
            return abi.ERR_ACCESS_DENIED
        if vmo.physical:
            return abi.ERR_NOT_SUPPORTED  # cache.physical.2025
        # (4) size 0, before bounds
        if size == 0 and "cache_size_zero_ok" not in self.broken:
            return abi.ERR_INVALID_ARGS
        # (5) byte-exact bounds
        end = offset + size
        if end > abi.U64_MAX or end > vmo.size:
            return abi.ERR_OUT_OF_RANGE
        # (6) no VMO state changes
        return abi.OK

    def _op_hint(self, vmo: Vmo, op: int, offset: int, size: int) -> int:
        # hints.non_pager.2025: no rights; a root that is not pager-backed: OK, no checks
        if not vmo.pager_backed:
            return abi.OK
        # (3) u64 overflow
        end = offset + size
        if end > abi.U64_MAX:
            return abi.ERR_OUT_OF_RANGE
        if op == abi.OP_DONT_NEED:
            if size == 0:
                return abi.OK
            if end > vmo.size:
                return abi.ERR_OUT_OF_RANGE
        else:
            if end > vmo.size:
                return abi.ERR_OUT_OF_RANGE
            if size == 0:
                return abi.OK
        rend = self._round_up(end)
        assert rend is not None
        lo = self._node_page(vmo, self._round_down(offset))
        hi = self._node_page(vmo, rend)
        node = vmo.node
        root = node.root()
        if op == abi.OP_DONT_NEED:
            self._mark_root(node, lo, hi, root.dont_need)
            return abi.OK
        # ALWAYS_NEED: fault the visible pages into the root, mark them; per-page errors
        # are ignored (always_need.effect).
        for p in self.vm.fault_pages(node, lo, hi):
            if self.pool.available == 0:
                break  # every later page-in would fail too; ignored either way
            r = self.vm.resolve(node, p)
            if r.hit is Hit.ABSENT:
                self.vm.page_in(r.node, r.index)
        self._mark_root(node, lo, hi, root.always_need)
        return abi.OK

    @staticmethod
    def _mark_root(node: PageNode, lo: int, hi: int, marks: Any) -> None:
        """Mark the root pages that pages [lo, hi) of `node` map onto."""
        n = node
        while n.parent is not None:
            hi = min(hi, n.parent_limit)
            if lo >= hi:
                return
            lo, hi = lo + n.parent_offset, hi + n.parent_offset
            n = n.parent
        marks.add(lo, min(hi, n.size_pages))

    def _op_prefetch(self, vmo: Vmo, rights: int, offset: int, size: int) -> int:
        # prefetch.rights (READ); prefetch.bounds: overflow, including the rounded end
        ends = self._right_and_ends(rights, abi.RIGHT_READ, "prefetch_no_read_check", offset,
                                    size)
        if isinstance(ends, int):
            return ends
        _end, rend = ends
        start = self._round_down(offset)
        # (4)/(5) the rounded range in bounds (a slice's S is its window)
        if rend > vmo.size:
            return abi.ERR_OUT_OF_RANGE
        # (6) empty
        if rend <= start:
            return abi.OK
        # (7) a pager-backed root faults the pages in, and pager errors propagate; other
        # roots only decompress (nothing to do here).
        if not vmo.pager_backed:
            return abi.OK
        node = vmo.node
        for p in self.vm.fault_pages(node, self._node_page(vmo, start), self._node_page(vmo, rend)):
            r = self.vm.resolve(node, p)
            if r.hit is Hit.ABSENT:
                status = self.vm.page_in(r.node, r.index)
                if status != abi.OK:
                    return status
        return abi.OK

    # --- zx_vmo_read / zx_vmo_write (rw.*) ----------------------------------------------------

    def _rw_checks(self, a: Mapping[str, Any], right: int, length: int) -> tuple[int, Vmo | None]:
        status, h, vmo = self._vmo(a["vmo"], right)
        if status != abi.OK:
            return status, None
        assert h is not None and vmo is not None
        if vmo.physical:
            return abi.ERR_NOT_SUPPORTED, None  # rw.physical
        end = a["offset"] + length
        if end > abi.U64_MAX:
            return abi.ERR_OUT_OF_RANGE, None
        # rw.uncached: before the bounds, at any length
        if vmo.cache_policy != abi.CACHE_POLICY_CACHED and "uncached_rw_allowed" not in self.broken:
            return abi.ERR_BAD_STATE, None
        if end > vmo.size:
            return abi.ERR_OUT_OF_RANGE, None
        return abi.OK, vmo

    def vmo_read(self, a: Mapping[str, Any]) -> Outcome:
        length: int = a["length"]
        status, vmo = self._rw_checks(a, abi.RIGHT_READ, length)
        if status != abi.OK:
            return _st(status)
        assert vmo is not None
        if length == 0:
            return {"status": abi.OK, "data": ()}
        if vmo.discarded and "read_discarded_allowed" not in self.broken:
            return _st(abi.ERR_NOT_FOUND)
        status, runs = self.vm.read(vmo.node, vmo.window * self.page_size + a["offset"], length)
        if status != abi.OK:
            return _st(status)
        return {"status": abi.OK, "data": runs}

    def vmo_write(self, a: Mapping[str, Any]) -> Outcome:
        data: Runs = tuple(a["data"])
        length = runs_length(data)
        status, vmo = self._rw_checks(a, abi.RIGHT_WRITE, length)
        if status != abi.OK:
            return _st(status)
        assert vmo is not None
        if length == 0:
            return _st(abi.OK)
        if vmo.discarded:
            return _st(abi.ERR_NOT_FOUND)
        return _st(self.vm.write(vmo.node, vmo.window * self.page_size + a["offset"], data, length))

    # --- sizes (size.get, set_size.*) ---------------------------------------------------------

    def vmo_get_size(self, a: Mapping[str, Any]) -> Outcome:
        status, _, vmo = self._vmo(a["vmo"])
        if status != abi.OK:
            return _st(status)
        assert vmo is not None
        return {"status": abi.OK, "size": vmo.size}

    def vmo_set_size(self, a: Mapping[str, Any]) -> Outcome:
        status, h, vmo = self._vmo(a["vmo"], abi.RIGHT_WRITE)
        if status != abi.OK:
            return _st(status)
        assert h is not None and vmo is not None
        # set_size.resize_right (set_size.rights: WRITE, checked by _vmo)
        if vmo.resizable and not h.rights & abi.RIGHT_RESIZE:
            return _st(abi.ERR_ACCESS_DENIED)
        # step 4
        requested: int = a["size"]
        size = self._round_up(requested)
        if size is None:
            return _st(abi.ERR_OUT_OF_RANGE)
        # steps 5, 6 (set_size.physical: a physical VMO cannot be resized at all)
        if vmo.physical:
            return _st(abi.ERR_NOT_SUPPORTED)
        if not vmo.resizable:
            return _st(abi.ERR_UNAVAILABLE)
        if size > self.max_size:
            return _st(abi.ERR_OUT_OF_RANGE)
        node = vmo.node
        ps = self.page_size
        # step 8: growing, the end projected onto the root must not overflow
        if size > vmo.size and node.depth_offset() * ps + size > abi.U64_MAX:
            return _st(abi.ERR_INVALID_ARGS)
        # step 9 zeroes [requested, size): a partial page, whose frame need comes first
        tail = requested % ps != 0
        tail_page = requested // ps
        if (
            tail
            and tail_page < vmo.size_pages
            and self.vm.zero_partial_need(node, tail_page) > self.pool.available
        ):
            return _st(abi.ERR_NO_MEMORY)
        grows = size > vmo.size
        self.vm.resize(node, size // ps)
        if tail and not grows and "set_size_tail_kept" in self.broken:
            tail = False  # only a growing resize zeroes the tail (the other case forgotten)
        if tail:
            status = self.vm.zero_partial(node, tail_page, requested % ps, ps)
            if status != abi.OK:
                return _st(status)
        return _st(abi.OK)

    # --- ZX_INFO_VMO (info.committed_bytes) ---------------------------------------------------

    def vmo_info(self, a: Mapping[str, Any]) -> Outcome:
        status, _, vmo = self._vmo(a["vmo"])
        if status != abi.OK:
            return _st(status)
        assert vmo is not None
        flags = abi.INFO_VMO_VIA_HANDLE | (0 if vmo.physical else abi.INFO_VMO_TYPE_PAGED)
        if vmo.contiguous:
            flags |= abi.INFO_VMO_CONTIGUOUS
        if vmo.resizable:
            flags |= abi.INFO_VMO_RESIZABLE
        if vmo.kind is VmoKind.CLONE:
            flags |= abi.INFO_VMO_IS_COW_CLONE
        if vmo.pager_backed:
            flags |= abi.INFO_VMO_PAGER_BACKED
        if vmo.tracker is not None:
            flags |= abi.INFO_VMO_DISCARDABLE
        if vmo.immutable:
            flags |= abi.INFO_VMO_IMMUTABLE
        seen, private, scaled = self.attribution(vmo)
        committed, private, whole = seen * self.page_size, private * self.page_size, scaled >> 63
        frac = scaled & ((1 << 63) - 1)
        return {
            "status": abi.OK,
            "size": vmo.size,
            # no compression in the model: each populated field is its committed one
            "committed_bytes": committed,
            "populated_bytes": committed,
            "committed_private_bytes": private,
            "populated_private_bytes": private,
            "committed_scaled_bytes": whole,
            "populated_scaled_bytes": whole,
            "committed_fractional_scaled_bytes": frac,
            "populated_fractional_scaled_bytes": frac,
            "flags": flags,
            "cache_policy": vmo.cache_policy,  # info.cache_policy
        }

    # --- zx_vmo_set_cache_policy (cache_policy.*) ---------------------------------------------

    def vmo_set_cache_policy(self, a: Mapping[str, Any]) -> Outcome:
        policy: int = a["cache_policy"]
        # The syscall checks the policy before it looks the handle up.
        if policy & ~abi.CACHE_POLICY_MASK:
            return _st(abi.ERR_INVALID_ARGS)
        status, h, vmo = self._vmo(a["vmo"], abi.RIGHT_MAP)
        if status != abi.OK:
            return _st(status)
        assert h is not None and vmo is not None
        if vmo.physical and policy == vmo.cache_policy:
            return _st(abi.OK)  # cache_policy.physical: the same policy is a no-op
        # No child and no parent: a slice or reference of it, a live snapshot (its node
        # then hangs under a hidden node), a clone, a child reading through its node.
        node = vmo.node
        related = vmo.kids > 0 or node.parent is not None or bool(node.children)
        if related or vmo.kind in (VmoKind.SLICE, VmoKind.REFERENCE):
            return _st(abi.ERR_BAD_STATE)
        # A pager-backed or discardable VMO stays cached.
        if vmo.pager_backed or vmo.tracker is not None:
            return _st(abi.OK if policy == abi.CACHE_POLICY_CACHED else abi.ERR_BAD_STATE)
        vmo.cache_policy = policy
        return _st(abi.OK)

    def attribution(self, vmo: Vmo) -> tuple[int, int, int]:
        """Slices and references are attributed nothing (info.attribution.2025); their pages count
        against the VMO that owns the node."""
        if vmo.kind in (VmoKind.SLICE, VmoKind.REFERENCE):
            return 0, 0, 0
        return self.vm.attributed(vmo.node)

    # --- pager (pager.*) ----------------------------------------------------------------------

    def pager_create(self, a: Mapping[str, Any]) -> Outcome:
        self._bind(a["out"], Pager(), abi.DEFAULT_PAGER_RIGHTS)
        return _st(abi.OK)

    def pager_create_vmo(self, a: Mapping[str, Any]) -> Outcome:
        status, pager = self._pager(a["pager"], abi.RIGHT_ATTACH_VMO)
        if status != abi.OK:
            return _st(status)
        assert pager is not None
        opts: int = a["options"] & ~abi.VMO_TRAP_DIRTY
        status, size = self._created_size(opts, a["size"])
        if status != abi.OK:
            return _st(status)
        if opts & abi.VMO_DISCARDABLE:
            return _st(abi.ERR_INVALID_ARGS)
        if size > self.max_size:
            return _st(abi.ERR_OUT_OF_RANGE)
        resizable = bool(opts & abi.VMO_RESIZABLE)
        node = PageNode(self.vm, size // self.page_size, source=pager.new_source())
        if "pager_failure_ignored" in self.broken:
            assert node.source is not None
            node.source.ignore_failures = True
        vmo = Vmo(self.vm, node, VmoKind.ROOT, resizable=resizable)
        rights = abi.DEFAULT_VMO_RIGHTS | (abi.RIGHT_RESIZE if resizable else 0)
        self._bind(a["out"], vmo, rights)
        return _st(abi.OK)

    def _pager_vmo_checks(self, a: Mapping[str, Any]) -> tuple[int, Vmo | None, PageNode | None]:
        """The prefix shared by supply and FAIL: alignment, the pager, the VMO, ownership."""
        ps = self.page_size
        if a["offset"] % ps or a["length"] % ps:
            return abi.ERR_INVALID_ARGS, None, None
        status, pager = self._pager(a["pager"], abi.RIGHT_MANAGE_VMO)
        if status != abi.OK:
            return status, None, None
        status, h, vmo = self._vmo(a["vmo"], abi.RIGHT_WRITE)
        if status != abi.OK:
            return status, None, None
        assert h is not None and vmo is not None
        # Only the VMO that pager_create_vmo made is "created by this pager"
        # (pager.op.foreign_vmo): not its children, not even references or slices sharing its pages.
        root = vmo.node
        if vmo.kind is not VmoKind.ROOT or root.source is None or root.source.pager is not pager:
            return abi.ERR_INVALID_ARGS, None, None
        return abi.OK, vmo, root

    def pager_supply_pages(self, a: Mapping[str, Any]) -> Outcome:
        status, vmo, root = self._pager_vmo_checks(a)
        if status != abi.OK:
            return _st(status)
        assert vmo is not None and root is not None and root.source is not None
        offset, length = a["offset"], a["length"]
        if length == 0:
            return _st(abi.OK)
        if offset + length > abi.U64_MAX or offset + length > vmo.size:
            return _st(abi.ERR_OUT_OF_RANGE)
        if root.source.detached:
            return _st(abi.ERR_BAD_STATE)
        lo = self._node_page(vmo, offset)
        return _st(self.vm.supply(root, lo, lo + length // self.page_size))

    def pager_fail(self, a: Mapping[str, Any]) -> Outcome:
        status, vmo, root = self._pager_vmo_checks(a)
        if status != abi.OK:
            return _st(status)
        assert vmo is not None and root is not None and root.source is not None
        error: int = a["error"]
        if error not in abi.PAGER_FAIL_STATUSES:
            return _st(abi.ERR_INVALID_ARGS)
        offset, length = a["offset"], a["length"]
        if offset + length > abi.U64_MAX or offset + length > vmo.size:
            return _st(abi.ERR_OUT_OF_RANGE)
        if root.source.detached:
            return _st(abi.ERR_BAD_STATE)
        if length:
            lo = self._node_page(vmo, offset)
            root.source.add_failure(lo, lo + length // self.page_size, error)
        return _st(abi.OK)

    # --- the reclaim event --------------------------------------------------------------------

    def reclaim(self, a: Mapping[str, Any]) -> Outcome:
        _, _, vmo = self._vmo(a["vmo"])
        nothing: Outcome = {"discarded": False, "evicted_bytes": 0}
        if vmo is None:
            return nothing
        ps = self.page_size
        if vmo.tracker is not None:
            # reclaim.discards, reclaim.first_page: only a Reclaimable VMO is discarded,
            # and (2024 on) only when reclaim reaches a committed page of it.
            if vmo.tracker.reclaimable() and vmo.node.pages:
                freed = self.vm.discard(vmo.node)
                vmo.tracker.discarded()
                return {"discarded": True, "evicted_bytes": freed * ps}
            return nothing
        node = vmo.node
        if node.source is not None:
            return {"discarded": False, "evicted_bytes": self.vm.evict_clean(node) * ps}
        return nothing
