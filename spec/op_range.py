"""zx_vmo_op_range: one transition function per op, each a ladder of guards then its effect.

Above each rung is its source: "page" quotes the reference page (seeds/vmo_op_range.md),
"kf" names a section of kernel-facts.md. The profile decides which rungs exist, their
order of precedence, and what the page leaves open.
"""

from __future__ import annotations

from collections.abc import Callable
from types import MappingProxyType

from spec import abi
from spec.abi import (
    ERR_ACCESS_DENIED,
    ERR_BAD_HANDLE,
    ERR_BAD_STATE,
    ERR_INVALID_ARGS,
    ERR_NO_MEMORY,
    ERR_NOT_FOUND,
    ERR_NOT_SUPPORTED,
    ERR_OUT_OF_RANGE,
    ERR_UNAVAILABLE,
    ERR_WRONG_TYPE,
    OK,
    RIGHT_READ,
    RIGHT_WRITE,
)
from spec.explore import ANY_ERROR, Cx, Maybe, Rung
from spec.objects import (
    Target,
    is_discarded,
    memory,
    target,
    with_memory,
)
from spec.outcome import PANIC, Outcome
from spec.paging import (
    commit_pages,
    owner_pages,
    page_in_best_effort,
    release_bytes,
    zero_partial_page,
    zero_whole_pages,
)
from spec.state import (
    DISCARDED,
    RECLAIMABLE,
    ROOT,
    SLICE,
    UNRECLAIMABLE,
    Handle,
    Memory,
    Pager,
    State,
    Tracker,
)
from spec.values import Word

OpFn = Callable[[Cx, State, Target, Word, Word, int, bool], Outcome]


def op_range(
    cx: Cx, st: State, handle: str, op: int, offset: Word, size: Word,
    buffer_size: int, buffer_null: bool,
) -> Outcome:
    """The common prefix (kf 3.1): handle, type, op decode; then the op's own chain."""
    h = st.handles.get(handle)
    obj = st.objects.get(h.obj) if h is not None else None
    fn = _OPS.get(op)
    # The ladder only matters when one of its conditions holds: skipping it otherwise
    # changes nothing, and keeps the checker's most common step cheap. A profile names
    # the ops its prefix must always see (PREFETCH where it is not dispatched; every op
    # of an implementation that checks in another order).
    if h is None or isinstance(obj, Pager) or fn is None or op in cx.profile.prefix_ops:
        status, fn = _prefix(cx, st, h, obj, op, fn, offset, size)
        if status is not None:
            return Outcome(status, st)
    assert h is not None and fn is not None
    t = target(cx, st, h.obj, h.rights)
    return fn(cx, st, t, offset, size, buffer_size, buffer_null)


def _prefix(
    cx: Cx, st: State, h: Handle | None, obj: object, op: int, fn: OpFn | None,
    offset: Word, size: Word,
) -> tuple[int | None, OpFn | None]:
    """The common prefix's ladder: its status (None: go on) and the op's function."""
    prof = cx.profile
    if op == abi.OP_PREFETCH and not prof.prefetch:
        fn = None
    bad_handle: Rung = (ERR_BAD_HANDLE, lambda: h is None,
                        "page: BAD_HANDLE, handle is not a valid handle")
    wrong_type: Rung = (ERR_WRONG_TYPE, lambda: isinstance(obj, Pager),
                        "page: WRONG_TYPE, not a VMO handle")
    if prof.prefix == "kernel":
        # page ERRORS: the handle, then "op is not a valid operation"; kf 3.1 (3): no
        # right is checked first
        return cx.ladder(bad_handle, wrong_type, (
            ERR_INVALID_ARGS, lambda: fn is None,
            "page: INVALID_ARGS, op is not a valid operation")), fn
    if prof.prefix == "decode_first":
        # kf 7.1 (1): zCore decodes the op before it looks the handle up, and its op type
        # has no 11-14 (items 2-4 are what that does to a valid handle)
        why = _ZCORE_UNDECODED.get(op)
        if why is not None:
            fn = None
        return cx.ladder(
            (ERR_INVALID_ARGS, lambda: fn is None,
             why or "kf 7.1 (1): op decoded before the handle lookup"),
            bad_handle, wrong_type), fn
    # kf 7.4: sel4zircon checks the range's overflow, the handle with WRITE for every op,
    # the range's bounds, and only then decodes the op
    v = cx.v
    _end, ovf = v.add(offset, size)
    decoded = _SEL4_DECODE.get(op)
    if decoded is None and (fn is None or op in _ZCORE_UNDECODED):
        decoded = (ERR_INVALID_ARGS, "kf 7.4 (10): sel4zircon does not decode this op")
    rungs: list[Rung] = [
        (ERR_OUT_OF_RANGE, lambda: ovf,
         "kf 7.4 (3): sel4zircon refuses an overflowing offset+size before the handle"),
        bad_handle, wrong_type,
        (ERR_ACCESS_DENIED, lambda: h is not None and v.not_(v.has_bits(h.rights, RIGHT_WRITE)),
         "kf 7.4 (1): sel4zircon needs ZX_RIGHT_WRITE for every op"),
        (ERR_OUT_OF_RANGE,
         lambda: h is not None and _past_end(cx, target(cx, st, h.obj, h.rights), offset, size),
         "kf 7.4 (2): sel4zircon checks offset+size <= S before the op decode"),
    ]
    if decoded is not None:
        fn = None
        rungs.append((decoded[0], lambda: True, decoded[1]))
    return cx.ladder(*rungs), fn


# zCore's op type (kf 7.1 (1)) has no ops 11-14: each is INVALID_ARGS, before the handle.
_ZCORE_UNDECODED = {
    abi.OP_TRY_LOCK: "kf 7.1 (1), (3): zCore does not decode TRY_LOCK -> INVALID_ARGS",
    abi.OP_DONT_NEED: "kf 7.1 (1), (2): zCore does not decode DONT_NEED -> INVALID_ARGS",
    abi.OP_ALWAYS_NEED: "kf 7.1 (1), (2): zCore does not decode ALWAYS_NEED -> INVALID_ARGS",
    abi.OP_PREFETCH: "kf 7.1 (1), (4): zCore does not decode PREFETCH -> INVALID_ARGS",
}

# sel4zircon's op switch (kf 7.4), where it answers other than Zircon's op would.
_SEL4_DECODE = {
    abi.OP_LOOKUP_HISTORIC: (ERR_NOT_SUPPORTED, "kf 7.4 (5): op 5 -> NOT_SUPPORTED"),
    abi.OP_ZERO: (ERR_INVALID_ARGS, "kf 7.4 (4): sel4zircon has no ZERO -> INVALID_ARGS"),
    abi.OP_LOCK: (ERR_NOT_SUPPORTED, "kf 7.4 (6): sel4zircon LOCK -> NOT_SUPPORTED"),
    abi.OP_UNLOCK: (ERR_NOT_SUPPORTED, "kf 7.4 (6): sel4zircon UNLOCK -> NOT_SUPPORTED"),
}


def _fail_or(cx: Cx, st: State, status: int | None, then: Callable[[], Outcome]) -> Outcome:
    if status is None:
        return then()
    if status == ANY_ERROR:
        return Outcome(ANY_ERROR, st)
    return Outcome(status, st)


def _unchanged(cx: Cx, st: State, why: str) -> Outcome:
    cx.why = why
    return Outcome(OK, st)


def _lacks(cx: Cx, t: Target, right: int) -> Callable[[], object]:
    return lambda: cx.v.not_(cx.v.has_bits(t.rights, right))


def _past_end(cx: Cx, t: Target, offset: Word, size: Word) -> Word:
    """offset + size overflows u64 or ends past the VMO's size (kf: "in bounds")."""
    end, ovf = cx.v.add(offset, size)
    return cx.v.or_(ovf, cx.v.ult(t.size, end))


# ----------------------------------------------------------------------------------------
# COMMIT
# ----------------------------------------------------------------------------------------


def commit(
    cx: Cx, st: State, t: Target, offset: Word, size: Word, _bs: int, _bn: bool
) -> Outcome:
    v, p, prof = cx.v, cx.page, cx.profile
    end, ovf = v.add(offset, size)
    lo = v.floor_to(offset, p)
    hi, ovf_round = v.ceil_to(end, p)
    rungs: list[Rung] = [
        # page: "Requires the ZX_RIGHT_WRITE right."
        (ERR_ACCESS_DENIED, _lacks(cx, t, RIGHT_WRITE), "page COMMIT: requires ZX_RIGHT_WRITE"),
    ]
    unbounded = prof.range_checks == "aligned_unbounded"
    if unbounded:
        rungs.append(_zcore_aligned(cx, offset, size, "COMMIT"))
    # kf 3.3 COMMIT (2); the page never mentions physical VMOs
    rungs.append(_physical(cx, t, "kf 3.3 COMMIT (2): physical VMO"))
    if not unbounded:
        # kf 3.3 COMMIT (3)-(4): the rounded-out range must lie within S, without overflow
        rungs.append((ERR_OUT_OF_RANGE, lambda: v.or_(ovf, ovf_round, v.ult(t.size, hi)),
                      "page: OUT_OF_RANGE, invalid range; kf 3.3 COMMIT (3)-(4)"))
    if prof.empty_range_early_ok and not unbounded:
        # kf 3.3 COMMIT (5): a rounded length of 0 succeeds before any work
        rungs.append((OK, lambda: v.eq(lo, hi), "kf 3.3 COMMIT (5): empty rounded range"))
    rungs.append(_discarded_rung(cx, t, "kf 5.4: COMMIT of a discarded VMO -> NOT_FOUND"))
    status = cx.ladder(*rungs)

    def effect() -> Outcome:
        if _out_of_memory(cx):
            return Outcome(ERR_NO_MEMORY, st)
        lo_, hi_ = lo, hi
        if unbounded and cx.when(v.or_(ovf, v.ult(t.size, end))):
            # kf 7.1 (7): no bounds check; the pages past S are not in the spec's state
            # (notes/implementations.md), so only the part within S is committed
            lo_, hi_ = v.umin(lo, t.size), v.ite(ovf, t.size, v.umin(hi, t.size))
            cx.why = "kf 7.1 (7): zCore COMMIT past S succeeds (no bounds check)"
        a, b = owner_pages(cx, t, lo_, hi_)
        st2, s = commit_pages(cx, st, t, a, b)
        cx.why = cx.why or "kf 4.1: COMMIT"
        return Outcome(s, st2)

    return _fail_or(cx, st, status, effect)


def _zcore_aligned(cx: Cx, offset: Word, size: Word, name: str) -> Rung:
    """kf 7.1 (6): zCore's COMMIT and DECOMMIT need a page-aligned offset and size,
    checked right after the rights."""
    v, p = cx.v, cx.page
    return (ERR_INVALID_ARGS, lambda: v.not_(v.and_(v.aligned(offset, p), v.aligned(size, p))),
            f"kf 7.1 (6): zCore {name} needs a page-aligned offset and size")


def _out_of_memory(cx: Cx) -> bool:
    """page ERRORS: "Allocations to commit pages for COMMIT or ZERO failed." Where the
    profile allows it, a call whose arguments are valid may fail so, changing nothing."""
    if cx.profile.may_run_out_of_memory and cx.choose((False, True)):
        cx.why = "page: NO_MEMORY, allocation failed"
        return True
    return False


def _physical(cx: Cx, t: Target, why: str) -> Rung:
    if cx.profile.precedence == "any":
        return (Maybe(ANY_ERROR), lambda: t.vmo.kind.physical, "page silent on physical VMOs")
    return (ERR_NOT_SUPPORTED, lambda: t.vmo.kind.physical, why)


def _discarded_rung(cx: Cx, t: Target, why: str) -> Rung:
    if cx.profile.precedence == "any":
        return (Maybe(ANY_ERROR), lambda: is_discarded(cx, t.vmo), "page silent on discarded VMOs")
    return (ERR_NOT_FOUND, lambda: is_discarded(cx, t.vmo), why)


# ----------------------------------------------------------------------------------------
# DECOMMIT
# ----------------------------------------------------------------------------------------


def decommit(
    cx: Cx, st: State, t: Target, offset: Word, size: Word, _bs: int, _bn: bool
) -> Outcome:
    v, p, prof = cx.v, cx.page, cx.profile
    loaning = cx.config.get("page_loaning", False)
    owner = st.vmo(t.owner)
    trim = prof.decommit_bounds == "trim"
    # 2023 trims an over-long range to S; a slice forwards the trimmed size (kf 4.2).
    room = v.sub(t.size, offset)
    trimmed = v.ite(v.ult(room, size), room, size) if trim else size
    align_size = trimmed if (not trim or t.vmo.role == SLICE) else size
    end, ovf = v.add(offset, trimmed)
    rungs: list[Rung] = [
        # page: "Requires the ZX_RIGHT_WRITE right."
        (ERR_ACCESS_DENIED, _lacks(cx, t, RIGHT_WRITE), "page DECOMMIT: requires ZX_RIGHT_WRITE"),
    ]
    checks = prof.range_checks
    unbounded, rounded = checks == "aligned_unbounded", checks == "rounded"
    if unbounded:
        # kf 7.1 (6)-(7): alignment first, then the kernel's rungs but for the bounds
        rungs += [
            _zcore_aligned(cx, offset, size, "DECOMMIT"),
            (ERR_NOT_SUPPORTED, lambda: t.vmo.kind.physical, "kf 3.3 DECOMMIT (2): physical"),
            (ERR_NOT_SUPPORTED, lambda: owner.kind.contiguous and not loaning,
             "kf 3.3 DECOMMIT (3): contiguous without page loaning"),
            (OK, lambda: v.eq(size, 0), "kf 3.3 DECOMMIT (6): size 0 succeeds early"),
            (ERR_NOT_SUPPORTED, lambda: _decommit_unsupported(st, t),
             "kf 3.3 DECOMMIT (7): a COW clone, a VMO with a live snapshot child, or pager-backed"),
        ]
    elif prof.decommit_support == "kernel":
        rungs += [
            (ERR_NOT_SUPPORTED, lambda: t.vmo.kind.physical, "kf 3.3 DECOMMIT (2): physical"),
            (ERR_NOT_SUPPORTED, lambda: owner.kind.contiguous and not loaning,
             "kf 3.3 DECOMMIT (3): contiguous without page loaning"),
            (ERR_OUT_OF_RANGE,
             lambda: v.ult(t.size, offset) if trim else v.or_(ovf, v.ult(t.size, end)),
             "kf 3.3 DECOMMIT (4)-(5): range not within S" + (" (2023 trims)" if trim else "")),
            (OK, lambda: v.eq(trimmed, 0), "kf 3.3 DECOMMIT (6): size 0 succeeds early"),
            (ERR_NOT_SUPPORTED, lambda: _decommit_unsupported(st, t),
             "kf 3.3 DECOMMIT (7): a COW clone, a VMO with a live snapshot child, or pager-backed"),
        ]
        if not rounded:
            rungs.append((ERR_INVALID_ARGS,
                          lambda: v.not_(v.and_(v.aligned(offset, p), v.aligned(align_size, p))),
                          "kf 3.3 DECOMMIT (8): offset and size must be page-aligned"))
    else:
        rungs += [
            # page: "only supported for vmos created from zx_vmo_create(), which do not
            # have non-slice children, and for slice children of such vmos"
            (ERR_NOT_SUPPORTED, lambda: _page_forbids_decommit(st, t),
             "page DECOMMIT: only zx_vmo_create VMOs without non-slice children, and their slices"),
            # page ERRORS: "An invalid memory range specified by offset and size."
            (ERR_OUT_OF_RANGE, lambda: v.or_(ovf, v.ult(t.size, end)), "page: OUT_OF_RANGE"),
            # page: "Provided range must be page aligned."
            (ERR_INVALID_ARGS,
             lambda: v.not_(v.and_(v.aligned(offset, p), v.aligned(size, p))),
             "page DECOMMIT: range must be page aligned"),
        ]
    status = cx.ladder(*rungs)

    def effect() -> Outcome:
        # kf 4.2: the range reads zero and its pages are freed
        cx.why = cx.why or "kf 4.2: DECOMMIT frees the range"
        lo, hi = offset, end
        if unbounded and cx.when(v.or_(ovf, v.ult(t.size, end))):
            # kf 7.1 (7): no bounds check; what lies past S is not in the spec's state
            cx.why = "kf 7.1 (7): zCore DECOMMIT past S succeeds (no bounds check)"
            lo, hi = v.umin(offset, t.size), t.size
        elif rounded:
            # kf 7.4 (9): the range is rounded out to whole pages (its end is within S,
            # which is page-aligned, so rounding up cannot overflow)
            cx.why = "kf 7.4 (9): sel4zircon DECOMMIT rounds the range out"
            lo, hi = v.floor_to(offset, p), v.ceil_to(end, p)[0]
        return Outcome(OK, release_bytes(cx, st, t, lo, hi))

    return _fail_or(cx, st, status, effect)


def _decommit_unsupported(st: State, t: Target) -> bool:
    """decommit.after_merge: every node with a parent refuses (a COW child, an original
    under the hidden node of a live snapshot) until the merge; so does a pager root."""
    node = st.nodes.get(t.owner)
    return (node is not None and node.parent is not None) or t.root.kind.pager_backed


def _page_forbids_decommit(st: State, t: Target) -> bool:
    base = t.vmo if t.vmo.role != SLICE else st.vmo(t.owner)
    if base.role != ROOT or base.kind.pager_backed or base.kind.physical or base.kind.contiguous:
        return True
    return any(
        getattr(o, "parent", None) == t.owner and getattr(o, "role", SLICE) != SLICE
        for o in st.objects.values()
    )


# ----------------------------------------------------------------------------------------
# ZERO
# ----------------------------------------------------------------------------------------


def zero(
    cx: Cx, st: State, t: Target, offset: Word, size: Word, _bs: int, _bn: bool
) -> Outcome:
    v, prof = cx.v, cx.profile
    end, ovf = v.add(offset, size)
    uncached = not t.vmo.kind.cached
    rungs: list[Rung] = [
        # page: "Requires the ZX_RIGHT_WRITE right."
        (ERR_ACCESS_DENIED, _lacks(cx, t, RIGHT_WRITE), "page ZERO: requires ZX_RIGHT_WRITE"),
        _physical(cx, t, "kf 3.3 ZERO (2): physical VMO"),
    ]
    if prof.zero_checks == "upfront":
        if prof.precedence == "first":
            rungs.append((ERR_BAD_STATE, lambda: uncached, "kf 3.3 ZERO 2023 (3): uncached VMO"))
        if prof.zero_wraps:
            rungs.append(_zcore_zero_bounds(cx, t, end))
        else:
            # page: OUT_OF_RANGE for an invalid range; kf 3.3 ZERO 2023 (4)
            rungs.append((ERR_OUT_OF_RANGE, lambda: _past_end(cx, t, offset, size),
                          "page: OUT_OF_RANGE; kf 3.3 ZERO 2023 (4): range not within S"))
    else:
        # notes/spec-design.md decision 10: a u64 overflow is refused before any piece.
        rungs.append((ERR_OUT_OF_RANGE, lambda: ovf, "kf 7.1 (14): ZERO overflow -> OUT_OF_RANGE"))
    status = cx.ladder(*rungs)

    def effect() -> Outcome:
        if _out_of_memory(cx):
            return Outcome(ERR_NO_MEMORY, st)
        if ovf is not False and prof.zero_wraps and cx.when(ovf):
            cx.why = ("kf 7.1 (14): zCore's release build wraps offset+size under S: "
                      "nothing is zeroed, OK")
            return Outcome(OK, st)
        # kf 5.4: ZERO of a discarded VMO succeeds, but each piece still checks its
        # bounds first (VmObjectPaged::ZeroPartialPage, ZeroRangeInternal): its pieces
        # find nothing to zero.
        return _zero_pieces(cx, st, t, offset, end)

    return _fail_or(cx, st, status, effect)


def _zcore_zero_bounds(cx: Cx, t: Target, end: Word) -> Rung:
    """zCore checks ZERO's end against the size once, before zeroing anything (kf 7.1
    (10)-(11)); the end is the u64 sum, which wraps in a release build (kf 7.1 (14)),
    and a slice refuses an end equal to its size (kf 7.1 (12))."""
    v = cx.v
    if cx.profile.zero_slice_off_by_one and t.vmo.role == SLICE:
        return (ERR_OUT_OF_RANGE, lambda: v.ule(t.size, end),
                "kf 7.1 (12): a zCore slice refuses ZERO with offset+size >= its size")
    return (ERR_OUT_OF_RANGE, lambda: v.ult(t.size, end),
            "kf 7.1 (10): zCore checks ZERO's offset+size <= S before zeroing anything")


def _zero_pieces(cx: Cx, st: State, t: Target, offset: Word, end: Word) -> Outcome:
    """kf 4.3: a partial head page, then whole pages, then a partial tail page; each piece
    is checked against S on its own (2025), and a finished piece is not undone."""
    v, p = cx.v, cx.page
    up, up_ovf = v.ceil_to(offset, p)
    head_end = v.ite(up_ovf, end, v.umin(up, end))  # offset in the last page of 2^64
    floor_end = v.floor_to(end, p)
    whole_end = v.ite(v.ult(head_end, floor_end), floor_end, head_end)
    pieces = (
        (offset, head_end, True),
        (head_end, whole_end, False),
        (whole_end, end, True),
    )
    cx.why = "kf 4.3: ZERO"
    discarded = is_discarded(cx, t.vmo)
    for lo, hi, partial in pieces:
        if not cx.when(v.ult(lo, hi)):
            continue
        if cx.when(v.ult(t.size, hi)):
            cx.why = "kf 4.3: a ZERO piece past S -> OUT_OF_RANGE; earlier pieces stay done"
            return Outcome(ERR_OUT_OF_RANGE, st)
        if not t.vmo.kind.cached and partial:
            cx.why = "kf 4.3: bytes of an uncached VMO cannot be written -> BAD_STATE"
            return Outcome(ERR_BAD_STATE, st)
        if cx.when(discarded):
            cx.why = "kf 5.4: a discarded VMO holds nothing to zero"
            continue
        if partial:
            st, status = zero_partial_page(cx, st, t, lo, hi)
            if status != OK:
                return Outcome(status, st)
        else:
            st = zero_whole_pages(cx, st, t, lo, hi)
    return Outcome(OK, st)


# ----------------------------------------------------------------------------------------
# LOCK, TRY_LOCK, UNLOCK (kf 3.3 and 5)
# ----------------------------------------------------------------------------------------


def _lock_rungs(cx: Cx, t: Target, offset: Word, size: Word, name: str) -> list[Rung]:
    v = cx.v
    rungs: list[Rung] = [
        # page: "Requires the ZX_RIGHT_READ or ZX_RIGHT_WRITE right."
        (ERR_ACCESS_DENIED,
         lambda: v.not_(v.or_(v.has_bits(t.rights, RIGHT_READ), v.has_bits(t.rights, RIGHT_WRITE))),
         f"page {name}: requires ZX_RIGHT_READ or ZX_RIGHT_WRITE"),
        # page ERRORS: "NOT_SUPPORTED op was LOCK, TRY_LOCK or UNLOCK and the VMO is not
        # discardable"
        (ERR_NOT_SUPPORTED, lambda: not t.vmo.kind.discardable,
         f"page: NOT_SUPPORTED, {name} on a VMO that is not discardable"),
        # page: OUT_OF_RANGE for an invalid range; kf 3.3 LOCK (3)
        (ERR_OUT_OF_RANGE, lambda: _past_end(cx, t, offset, size), "page: OUT_OF_RANGE"),
    ]
    whole = lambda: v.or_(v.ne(offset, 0), v.ne(size, t.size))  # noqa: E731
    if cx.profile.lock_range_rule == "out_of_range":
        rungs.append((ERR_OUT_OF_RANGE, whole, "kf 3.3 LOCK (4): range other than (0, S)"))
    else:
        # page: the entire VMO "should" be locked at once; what happens otherwise is open
        rungs.append((Maybe(ANY_ERROR), whole, "page: the whole VMO should be locked (open)"))
    return rungs


def _tracker(t: Target) -> Tracker:
    assert t.vmo.tracker is not None
    return t.vmo.tracker


def _with_tracker(st: State, t: Target, tracker: Tracker) -> State:
    return st.with_object(t.obj, st.vmo(t.obj).with_tracker(tracker))


def _locked(cx: Cx, tr: Tracker) -> Tracker:
    """LOCK or TRY_LOCK succeeded: one more lock, Unreclaimable (kf 5.2)."""
    v = cx.v
    return Tracker(UNRECLAIMABLE, v.ite(v.eq(tr.state, UNRECLAIMABLE), v.add(tr.count, 1)[0], 1))


def _unlocked(cx: Cx, tr: Tracker) -> Tracker:
    """UNLOCK of a held lock: one fewer; the last one makes the VMO Reclaimable."""
    v = cx.v
    last = v.eq(tr.count, 1)
    return Tracker(v.ite(last, RECLAIMABLE, UNRECLAIMABLE), v.sub(tr.count, 1))


def _lock_unlock_departure(cx: Cx, st: State, name: str) -> Outcome:
    """LOCK and UNLOCK where an implementation does not have them (kf 7.1 (5), 7.2 (4))."""
    if cx.profile.lock_unlock == "panic":
        cx.why = f"kf 7.1 (5): zCore {name} panics (unimplemented!()): no status comes back"
        return Outcome(PANIC, st)
    cx.why = f"kf 7.2 (4): eclipse {name} is NOT_SUPPORTED before any rights check"
    return Outcome(ERR_NOT_SUPPORTED, st)


def lock(
    cx: Cx, st: State, t: Target, offset: Word, size: Word, bs: int, bn: bool
) -> Outcome:
    if cx.profile.lock_unlock != "kernel":
        return _lock_unlock_departure(cx, st, "LOCK")
    v = cx.v
    rungs = _lock_rungs(cx, t, offset, size, "LOCK")
    bad_buffer = bn or bs < abi.LOCK_STATE_SIZE
    if cx.profile.lock_buffer_rule == "invalid_args":
        # page ERRORS: "INVALID_ARGS buffer is an invalid pointer (if required by the op)"
        rungs.append((ERR_INVALID_ARGS if bn else Maybe(ERR_INVALID_ARGS),
                      lambda: bad_buffer, "page: INVALID_ARGS, buffer is an invalid pointer"))
    status = cx.ladder(*rungs)

    def effect() -> Outcome:
        tr = _tracker(t)
        was_discarded = v.eq(tr.state, DISCARDED)
        locked = _locked(cx, tr)
        if cx.profile.lock_buffer_rule == "after_lock" and bad_buffer:
            # kf 5.3: the lock is taken, then a real UNLOCK runs before INVALID_ARGS
            cx.why = "kf 5.3: LOCK with a bad buffer unlocks again -> INVALID_ARGS"
            return Outcome(ERR_INVALID_ARGS, _with_tracker(st, t, _unlocked(cx, locked)))
        # page: discarded_offset/size are the range holding discarded pages, else 0;
        # kf 5.2: a discard covers the whole VMO
        state_out = MappingProxyType({
            "offset": offset, "size": size, "discarded_offset": 0,
            "discarded_size": v.ite(was_discarded, t.size, 0),
        })
        cx.why = "kf 5.2: LOCK"
        outputs = MappingProxyType({"lock_state": state_out})
        return Outcome(OK, _with_tracker(st, t, locked), outputs)

    return _fail_or(cx, st, status, effect)


def try_lock(
    cx: Cx, st: State, t: Target, offset: Word, size: Word, _bs: int, _bn: bool
) -> Outcome:
    rungs = _lock_rungs(cx, t, offset, size, "TRY_LOCK")
    # page: "will fail with ZX_ERR_UNAVAILABLE" if the range has been discarded
    rungs.append((ERR_UNAVAILABLE, lambda: is_discarded(cx, t.vmo),
                  "page TRY_LOCK: UNAVAILABLE once discarded"))
    status = cx.ladder(*rungs)

    def effect() -> Outcome:
        cx.why = "kf 5.2: TRY_LOCK"
        return Outcome(OK, _with_tracker(st, t, _locked(cx, _tracker(t))))

    return _fail_or(cx, st, status, effect)


def unlock(
    cx: Cx, st: State, t: Target, offset: Word, size: Word, _bs: int, _bn: bool
) -> Outcome:
    if cx.profile.lock_unlock != "kernel":
        return _lock_unlock_departure(cx, st, "UNLOCK")
    v = cx.v
    rungs = _lock_rungs(cx, t, offset, size, "UNLOCK")
    # page ERRORS: "BAD_STATE op was UNLOCK, the VMO is discardable and the VMO was not
    # previously locked"
    rungs.append((ERR_BAD_STATE,
                  lambda: t.vmo.tracker is not None and v.ne(t.vmo.tracker.state, UNRECLAIMABLE),
                  "page: BAD_STATE, UNLOCK of a VMO not locked"))
    status = cx.ladder(*rungs)

    def effect() -> Outcome:
        cx.why = "kf 5.2: UNLOCK"
        return Outcome(OK, _with_tracker(st, t, _unlocked(cx, _tracker(t))))

    return _fail_or(cx, st, status, effect)


# ----------------------------------------------------------------------------------------
# Cache ops: no state changes (kf 4.4)
# ----------------------------------------------------------------------------------------


def _cache_op(right: int, name: str, gated: bool) -> OpFn:
    def cache_op(
        cx: Cx, st: State, t: Target, offset: Word, size: Word, _bs: int, _bn: bool
    ) -> Outcome:
        v = cx.v
        mode = cx.profile.cache_ops
        if mode == "panic" or mode == "checked_noop":
            return _cache_op_departure(cx, st, t, offset, size, right, name, gated)
        rungs: list[Rung] = []
        if gated and cx.profile.cache_invalidate_gate:
            # kf 3.3 cache ops (1): kernel.enable-debugging-syscalls, checked before rights
            rungs.append((ERR_NOT_SUPPORTED, lambda: not cx.config.get("debugging_syscalls"),
                          "kf 3.3 CACHE_INVALIDATE (1): debugging syscalls are off"))
        right_name = "ZX_RIGHT_READ" if right == RIGHT_READ else "ZX_RIGHT_WRITE"
        rungs += [
            # page RIGHTS: the right each cache op needs
            (ERR_ACCESS_DENIED, _lacks(cx, t, right), f"page {name}: requires {right_name}"),
            _physical(cx, t, "kf 4.5: cache ops on a physical VMO (2025)"),
            # page ERRORS: "size is zero and op is a cache operation"
            (ERR_INVALID_ARGS, lambda: v.eq(size, 0), "page: INVALID_ARGS, size 0 cache op")
            if mode == "kernel" else
            (OK, lambda: v.eq(size, 0), "kf 7.4 (7): a sel4zircon cache op of size 0 is a no-op"),
            (ERR_OUT_OF_RANGE, lambda: _past_end(cx, t, offset, size), "page: OUT_OF_RANGE"),
        ]
        status = cx.ladder(*rungs)
        return _fail_or(
            cx, st, status, lambda: _unchanged(cx, st, "kf 4.4: cache ops change no state"))

    cache_op.__name__ = name.lower()
    return cache_op


def _cache_op_departure(
    cx: Cx, st: State, t: Target, offset: Word, size: Word, right: int, name: str, gated: bool
) -> Outcome:
    """Cache ops where an implementation departs: zCore panics (kf 7.1 (5)); eclipse
    checks the right and an overflow-safe range, then does nothing: no debugging gate,
    no size-0 rule (kf 7.2 (1)-(3))."""
    if cx.profile.cache_ops == "panic":
        cx.why = f"kf 7.1 (5): zCore {name} panics (unimplemented!()): no status comes back"
        return Outcome(PANIC, st)
    right_name = "ZX_RIGHT_READ" if right == RIGHT_READ else "ZX_RIGHT_WRITE"
    item = "(3)" if gated else "(1)"
    status = cx.ladder(
        (ERR_ACCESS_DENIED, _lacks(cx, t, right),
         f"kf 7.2 {item}: eclipse {name} needs {right_name}, with no debugging gate"),
        (ERR_OUT_OF_RANGE, lambda: _past_end(cx, t, offset, size),
         "kf 7.2 (1): eclipse checks a cache op's range (overflow-safe)"),
    )
    why = f"kf 7.2 {'(2)' if gated else '(1)'}: eclipse {name} does nothing, OK"
    return _fail_or(cx, st, status, lambda: _unchanged(cx, st, why))


# ----------------------------------------------------------------------------------------
# DONT_NEED, ALWAYS_NEED (kf 3.3 hints, 4.4)
# ----------------------------------------------------------------------------------------


def _hint_rungs(cx: Cx, t: Target, offset: Word, size: Word, name: str) -> list[Rung] | None:
    """The checks of a hint; None when the hint is an unconditional OK no-op."""
    v, prof = cx.v, cx.profile
    _end, ovf = v.add(offset, size)
    if not t.root.kind.pager_backed:
        if prof.hint_non_pager == "ok":
            return None  # kf 3.3 hints (2): no argument checks at all
        if prof.hint_non_pager == "overflow_checked":
            return [(ERR_OUT_OF_RANGE, lambda: ovf, "kf 1.2 (2023): hint overflow")]
        # page: "trivially succeeds for other VMOs", yet OUT_OF_RANGE for invalid ranges
        return [(Maybe(ERR_OUT_OF_RANGE), lambda: _past_end(cx, t, offset, size),
                 f"page {name}: trivially succeeds / OUT_OF_RANGE (open)")]
    return [(ERR_OUT_OF_RANGE, lambda: ovf, f"kf 3.3 {name} (3): u64 overflow")]


def dont_need(
    cx: Cx, st: State, t: Target, offset: Word, size: Word, _bs: int, _bn: bool
) -> Outcome:
    v, prof = cx.v, cx.profile
    rungs = _hint_rungs(cx, t, offset, size, "DONT_NEED")
    if rungs is None:
        cx.why = "kf 3.3 hints: not pager-backed, OK"
        return Outcome(OK, st)
    if t.root.kind.pager_backed:
        empty: Rung = (OK, lambda: v.eq(size, 0), "kf 3.3 DONT_NEED: size 0 -> OK")
        bounds: Rung = (ERR_OUT_OF_RANGE, lambda: _past_end(cx, t, offset, size),
                        "kf 3.3 DONT_NEED: not in bounds")
        if prof.precedence == "any":
            rungs.append(bounds)
        elif prof.dont_need_empty_any_offset:
            rungs += [empty, bounds]
        else:
            rungs += [bounds, empty]
    status = cx.ladder(*rungs)

    def effect() -> Outcome:
        cx.why = "kf 4.4: DONT_NEED marks committed root pages"
        if t.vmo.marks is None or t.vmo.memory is None:
            return Outcome(OK, st)
        a, b = owner_pages(cx, t, offset, v.add(offset, size)[0])
        marks = t.vmo.marks._replace(dont_need=v.pages_add(t.vmo.marks.dont_need, a, b))
        return Outcome(OK, st.with_object(t.obj, t.vmo._replace(marks=marks)))

    return _fail_or(cx, st, status, effect)


def always_need(
    cx: Cx, st: State, t: Target, offset: Word, size: Word, _bs: int, _bn: bool
) -> Outcome:
    v = cx.v
    rungs = _hint_rungs(cx, t, offset, size, "ALWAYS_NEED")
    if rungs is None:
        cx.why = "kf 3.3 hints: not pager-backed, OK"
        return Outcome(OK, st)
    if t.root.kind.pager_backed:
        rungs.append((ERR_OUT_OF_RANGE, lambda: _past_end(cx, t, offset, size),
                      "kf 3.3 ALWAYS_NEED: not in bounds"))
        if cx.profile.empty_range_early_ok:
            rungs.append((OK, lambda: v.eq(size, 0), "kf 3.3 ALWAYS_NEED: size 0 -> OK"))
    status = cx.ladder(*rungs)

    def effect() -> Outcome:
        cx.why = "kf 4.4: ALWAYS_NEED pages in and marks the range"
        owner = st.vmo(t.owner)
        if owner.marks is None:
            return Outcome(OK, st)
        a, b = owner_pages(cx, t, offset, v.add(offset, size)[0])
        # kf 3.3: per-page paging errors are ignored; the call still succeeds and the
        # pages after a failing one are still paged in
        st2 = page_in_best_effort(cx, st, t, a, b)
        owner = st2.vmo(t.owner)
        assert owner.marks is not None
        marks = owner.marks._replace(always_need=v.pages_add(owner.marks.always_need, a, b))
        return Outcome(OK, st2.with_object(t.owner, owner._replace(marks=marks)))

    return _fail_or(cx, st, status, effect)


# ----------------------------------------------------------------------------------------
# PREFETCH (kf 3.3, 2024b on)
# ----------------------------------------------------------------------------------------


def prefetch(
    cx: Cx, st: State, t: Target, offset: Word, size: Word, _bs: int, _bn: bool
) -> Outcome:
    v, p = cx.v, cx.page
    end, ovf = v.add(offset, size)
    lo = v.floor_to(offset, p)
    hi, ovf_round = v.ceil_to(end, p)
    rungs: list[Rung] = [
        (ERR_ACCESS_DENIED, _lacks(cx, t, RIGHT_READ), "kf 3.2: PREFETCH needs ZX_RIGHT_READ"),
        (ERR_OUT_OF_RANGE, lambda: v.or_(ovf, ovf_round, v.ult(t.size, hi)),
         "kf 3.3 PREFETCH (3)-(5): rounded range not within S"),
        (OK, lambda: v.eq(lo, hi), "kf 3.3 PREFETCH (6): empty range"),
    ]
    status = cx.ladder(*rungs)

    def effect() -> Outcome:
        if not t.root.kind.pager_backed or st.vmo(t.owner).marks is None:
            cx.why = "kf 4.4: PREFETCH only decompresses outside pager-backed VMOs"
            return Outcome(OK, st)
        cx.why = "kf 4.4: PREFETCH pages in; pager errors propagate"
        a, b = owner_pages(cx, t, lo, hi)
        st2, s = commit_pages(cx, st, t, a, b, reading=True)  # zero intervals stay so
        return Outcome(s, st2)

    return _fail_or(cx, st, status, effect)


_OPS: dict[int, OpFn] = {
    abi.OP_COMMIT: commit,
    abi.OP_DECOMMIT: decommit,
    abi.OP_LOCK: lock,
    abi.OP_UNLOCK: unlock,
    abi.OP_CACHE_SYNC: _cache_op(RIGHT_READ, "CACHE_SYNC", False),
    abi.OP_CACHE_INVALIDATE: _cache_op(RIGHT_WRITE, "CACHE_INVALIDATE", True),
    abi.OP_CACHE_CLEAN: _cache_op(RIGHT_READ, "CACHE_CLEAN", False),
    abi.OP_CACHE_CLEAN_INVALIDATE: _cache_op(RIGHT_READ, "CACHE_CLEAN_INVALIDATE", False),
    abi.OP_ZERO: zero,
    abi.OP_TRY_LOCK: try_lock,
    abi.OP_DONT_NEED: dont_need,
    abi.OP_ALWAYS_NEED: always_need,
    abi.OP_PREFETCH: prefetch,
}


def discard(cx: Cx, st: State, obj: int) -> State:
    """The kernel discards a Reclaimable VMO: every page is freed; S is kept (kf 5.4)."""
    vmo = st.vmo(obj)
    assert vmo.tracker is not None and vmo.memory is not None
    mem = Memory(cx.v.bytes_const(0), cx.v.pages_empty())
    return st.with_object(obj, vmo._replace(memory=mem, tracker=Tracker(DISCARDED, 0)))


__all__ = ["discard", "memory", "op_range", "with_memory"]
