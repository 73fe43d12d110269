"""zx_vmo_op_range: one transition function per op, each a ladder of guards then its effect.

Each rung and effect cites the ids of the facts it encodes (spec/sources.py; the page's
sentences in docs/page-index.md, kernel facts in docs/kernel-facts.md). The code is the
2025 kernel's; the profile decides which rungs exist where eras differ, their order of
precedence, and what the page leaves open. Another implementation's departures are not
here: its profile's overrides (spec/overrides.py, spec/implementations/) replace the
common prefix or an op's function.
"""

from __future__ import annotations

from collections.abc import Callable
from types import MappingProxyType

from spec import abi, cow
from spec.abi import (
    ERR_ACCESS_DENIED,
    ERR_BAD_STATE,
    ERR_INVALID_ARGS,
    ERR_NO_MEMORY,
    ERR_NOT_SUPPORTED,
    ERR_OUT_OF_RANGE,
    ERR_UNAVAILABLE,
    OK,
    RIGHT_READ,
    RIGHT_WRITE,
)
from spec.explore import ANY_ERROR, Cx, Maybe, Rung
from spec.objects import (
    Target,
    is_discarded,
    memory,
    pager_detached,
    target,
    with_memory,
)
from spec.outcome import Outcome
from spec.overrides import OpFn
from spec.paging import (
    commit_pages,
    owner_pages,
    page_in_best_effort,
    release_bytes,
    zero_partial_page,
    zero_whole_pages,
)
from spec.rungs import (
    bad_handle,
    discarded,
    fail_or,
    lacks,
    out_of_memory,
    past_end,
    physical,
    requires,
    rounded_out,
    unchanged,
    wrong_type,
)
from spec.state import (
    DISCARDED,
    RECLAIMABLE,
    ROOT,
    SLICE,
    UNRECLAIMABLE,
    UNSET,
    Handle,
    Memory,
    Pager,
    State,
    Tracker,
)
from spec.values import Word


def op_range(
    cx: Cx, st: State, handle: str, op: int, offset: Word, size: Word,
    buffer_size: int, buffer_null: bool,
) -> Outcome:
    """The common prefix (prefix.order): handle, type, op decode; then the op's own chain."""
    h = st.handles.get(handle)
    obj = st.objects.get(h.obj) if h is not None else None
    over = cx.profile.overrides
    fn = over.ops.get(op) or _OPS.get(op)
    # The ladder only matters when one of its conditions holds: skipping it otherwise
    # changes nothing, and keeps the checker's most common step cheap. A profile names
    # the ops its prefix must always see (PREFETCH where it is not dispatched; the ops
    # an overriding prefix decides otherwise).
    if h is None or isinstance(obj, Pager) or fn is None or op in cx.profile.prefix_ops:
        status, fn = (over.prefix or _prefix)(cx, st, h, obj, op, fn, offset, size)
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
    undecoded = "page.errors.invalid_op, prefix.ops"
    if op == abi.OP_PREFETCH and not cx.profile.prefetch:
        fn, undecoded = None, "page.errors.invalid_op, prefetch.dispatched"
    if cx.profile.precedence == "any":
        undecoded = "page.errors.invalid_op"  # the page: no kernel's op table
    # the handle, its type, then the op (prefix.order): no right is checked first
    return cx.ladder(bad_handle(h), wrong_type(obj), (
        ERR_INVALID_ARGS, lambda: fn is None, undecoded)), fn


# ----------------------------------------------------------------------------------------
# COMMIT
# ----------------------------------------------------------------------------------------


def commit(
    cx: Cx, st: State, t: Target, offset: Word, size: Word, _bs: int, _bn: bool
) -> Outcome:
    v = cx.v
    lo, hi, outside = rounded_out(cx, t, offset, size)
    rungs: list[Rung] = [
        requires(cx, t, RIGHT_WRITE, "COMMIT"),
        # the page never mentions physical VMOs
        physical(cx, t, "commit.physical"),
        # the rounded-out range must lie within S, without overflow
        (ERR_OUT_OF_RANGE, lambda: outside, "page.errors.out_of_range, commit.bounds"),
    ]
    if cx.profile.empty_range_early_ok:
        # a rounded length of 0 succeeds before any work
        rungs.append((OK, lambda: v.eq(lo, hi), "commit.empty"))
    rungs.append(discarded(cx, t, "discard.commit.not_found"))
    status = cx.ladder(*rungs)
    return fail_or(cx, st, status,
                   lambda: commit_range(cx, st, t, lo, _commit_end(cx, lo, hi, size)))


def _commit_end(cx: Cx, lo: Word, hi: Word, size: Word) -> Word:
    """The end of the pages COMMIT commits: every page the range touches (the kernel),
    or size bytes worth of pages from offset's page: the reading commit-rounding."""
    v = cx.v
    worth, _ovf = v.ceil_to(size, cx.page)
    short = v.add(lo, worth)[0]
    differs = v.ult(short, hi)
    if (v.symbolic or differs) and cx.reading("commit-rounding") == "size_worth":
        return v.ite(differs, short, hi)
    return hi


def commit_range(cx: Cx, st: State, t: Target, lo: Word, hi: Word) -> Outcome:
    """commit.effect: COMMIT's effect on the page-rounded range [lo, hi)."""
    v, p = cx.v, cx.page
    if out_of_memory(cx):
        # what a COMMIT that runs out part-way keeps is the reading
        # commit.partial_no_memory: here, its first page
        if (v.symbolic or v.ult(lo, hi)) and \
                cx.reading("commit-partial_no_memory") == "prefix":
            a, b = owner_pages(cx, t, lo, v.add(lo, p)[0])
            st2, s = commit_pages(cx, st, t, a, b)
            st = st2 if s == OK else st
        cx.why = "page.errors.no_memory"
        return Outcome(ERR_NO_MEMORY, st)
    a, b = owner_pages(cx, t, lo, hi)
    st2, s = commit_pages(cx, st, t, a, b)
    cx.why = cx.why or "commit.effect"
    return Outcome(s, st2)


# ----------------------------------------------------------------------------------------
# DECOMMIT
# ----------------------------------------------------------------------------------------


def decommit(
    cx: Cx, st: State, t: Target, offset: Word, size: Word, _bs: int, _bn: bool
) -> Outcome:
    v, p, prof = cx.v, cx.page, cx.profile
    trim = prof.decommit_bounds == "trim"
    # 2023 trims an over-long range to S; a slice forwards the trimmed size
    # (decommit.bounds.2023).
    room = v.sub(t.size, offset)
    trimmed = v.ite(v.ult(room, size), room, size) if trim else size
    align_size = trimmed if (not trim or t.vmo.role == SLICE) else size
    end, ovf = v.add(offset, trimmed)
    rungs = [requires(cx, t, RIGHT_WRITE, "DECOMMIT")]
    if prof.decommit_support == "kernel":
        rungs += [
            *decommit_kind(cx, st, t),
            decommit_bounds(cx, t, offset, end, ovf),
            *decommit_support(cx, st, t, trimmed),
            (ERR_INVALID_ARGS,
             lambda: v.not_(v.and_(v.aligned(offset, p), v.aligned(align_size, p))),
             "decommit.aligned"),
        ]
    else:
        rungs += [
            # page: "only supported for vmos created from zx_vmo_create(), which do not
            # have non-slice children, and for slice children of such vmos"
            (ERR_NOT_SUPPORTED, lambda: _page_forbids_decommit(st, t),
             "page.decommit.supported_only"),
            # page ERRORS: "An invalid memory range specified by offset and size."
            (ERR_OUT_OF_RANGE, lambda: v.or_(ovf, v.ult(t.size, end)), "page.errors.out_of_range"),
            # page: "Provided range must be page aligned."
            (ERR_INVALID_ARGS,
             lambda: v.not_(v.and_(v.aligned(offset, p), v.aligned(size, p))),
             "page.decommit.aligned"),
        ]
    status = cx.ladder(*rungs)
    return fail_or(cx, st, status, lambda: decommit_range(cx, st, t, offset, end))


def decommit_kind(cx: Cx, st: State, t: Target) -> list[Rung]:
    """decommit.physical, decommit.contiguous: the kinds of VMO the kernel refuses, before
    any bounds."""
    loaning = cx.config.get("page_loaning", False)
    owner = st.vmo(t.owner)
    return [
        (ERR_NOT_SUPPORTED, lambda: t.vmo.kind.physical, "decommit.physical"),
        (ERR_NOT_SUPPORTED, lambda: owner.kind.contiguous and not loaning,
         "decommit.contiguous"),
    ]


def decommit_bounds(cx: Cx, t: Target, offset: Word, end: Word, ovf: Word) -> Rung:
    """decommit.bounds.2025: the range lies within S (2023: its offset does, and the
    rest is trimmed)."""
    v = cx.v
    if cx.profile.decommit_bounds == "trim":
        return (ERR_OUT_OF_RANGE, lambda: v.ult(t.size, offset),
                "decommit.bounds.2023")
    return (ERR_OUT_OF_RANGE, lambda: v.or_(ovf, v.ult(t.size, end)),
            "decommit.bounds.2025")


def decommit_support(cx: Cx, st: State, t: Target, size: Word) -> list[Rung]:
    """decommit.empty, decommit.cow_or_pager: an empty range succeeds, then the kernel's
    support rule."""
    return [
        (OK, lambda: cx.v.eq(size, 0), "decommit.empty"),
        (ERR_NOT_SUPPORTED, lambda: _decommit_unsupported(st, t),
         "decommit.cow_or_pager"),
    ]


def decommit_range(cx: Cx, st: State, t: Target, lo: Word, hi: Word) -> Outcome:
    """decommit.effect: the range [lo, hi) reads zero and its pages are freed."""
    cx.why = cx.why or "decommit.effect"
    return Outcome(OK, release_bytes(cx, st, t, lo, hi))


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
    v = cx.v
    end, ovf = v.add(offset, size)
    rungs = zero_rights_and_kind(cx, t)
    if cx.profile.zero_checks == "upfront":
                rungs.append((ERR_OUT_OF_RANGE, lambda: past_end(cx, t, offset, size),
                      "page.errors.out_of_range, zero.bounds.2023"))
    else:
        # notes/spec-design.md decision 10: a u64 overflow is refused before any piece.
        rungs.append((ERR_OUT_OF_RANGE, lambda: ovf, "zero.overflow.2025"))
    status = cx.ladder(*rungs)
    return fail_or(cx, st, status, lambda: zero_range(cx, st, t, offset, end))


def zero_rights_and_kind(cx: Cx, t: Target) -> list[Rung]:
    """ZERO's first rungs: the right, a physical VMO, and (checked up front: 2023) an
    uncached one."""
    rungs = [
        requires(cx, t, RIGHT_WRITE, "ZERO"),
        physical(cx, t, "zero.physical"),
    ]
    if cx.profile.zero_checks == "upfront" and cx.profile.precedence == "first":
        rungs.append((ERR_BAD_STATE, lambda: not t.vmo.kind.cached,
                      "zero.uncached.2023"))
    return rungs


def zero_range(cx: Cx, st: State, t: Target, offset: Word, end: Word) -> Outcome:
    """ZERO's effect (or NO_MEMORY where the profile allows). discard.zero.ok: ZERO of a
    discarded VMO succeeds, but each piece still checks its bounds first (VmObjectPaged::
    ZeroPartialPage, ZeroRangeInternal): its pieces find nothing to zero."""
    v = cx.v
    if out_of_memory(cx):
        # what a ZERO that runs out part-way keeps is the reading zero-partial_no_memory:
        # here, the piece up to the first page boundary after offset
        if (v.symbolic or v.ult(offset, end)) and \
                cx.reading("zero-partial_no_memory") == "prefix":
            nxt, ovf = v.add(v.floor_to(offset, cx.page), cx.page)
            stop = v.ite(v.or_(ovf, v.ult(end, nxt)), end, nxt)
            done = _zero_pieces(cx, st, t, offset, stop)
            st = done.state if done.status == OK else st
        cx.why = "page.errors.no_memory"
        return Outcome(ERR_NO_MEMORY, st)
    return _zero_pieces(cx, st, t, offset, end)


def _zero_pieces(cx: Cx, st: State, t: Target, offset: Word, end: Word) -> Outcome:
    """zero.pieces.2025: a partial head page, then whole pages, then a partial tail page; each piece
    is checked against S on its own (2025), and a finished piece is not undone."""
    v, p = cx.v, cx.page
    # offset <= end here (an overflowing range was refused). When both lie in one page
    # the range is one partial piece; otherwise the head runs to the page after offset's
    # (empty if offset is aligned) and the tail from end's page. Written with equalities
    # of page numbers rather than comparisons of 64-bit sums, which z3 finds far easier.
    first_page, last_page = v.floor_to(offset, p), v.floor_to(end, p)
    one_page = v.eq(first_page, last_page)
    after_first = v.add(first_page, p)[0]  # used only when end lies in a later page: no wrap
    head_end = v.ite(one_page, end, v.ite(v.aligned(offset, p), offset, after_first))
    whole_end = v.ite(one_page, end, last_page)
    pieces = (  # (lo, hi, the page a partial piece lies in)
        (offset, head_end, first_page),
        (head_end, whole_end, None),
        (whole_end, end, last_page),
    )
    cx.why = "zero.pieces.2025, zero.effect"
    discarded = is_discarded(cx, t.vmo)
    for lo, hi, page in pieces:
        partial = page is not None
        # An empty piece does nothing: it is not explored as a path of its own, but
        # folded into the conditions below (fewer, simpler paths for the proofs), and
        # whole pages of an empty piece are an empty range. A concrete run skips an
        # empty partial piece at once; it runs the whole pages' effect on an empty range
        # as a symbolic run does, so that both read the same code the same way.
        nonempty = v.ult(lo, hi)
        if nonempty is False and page is not None:
            continue
        # zero.uncached.2025: a contiguous VMO's whole pages take the slow path, whose
        # policy check comes before the bounds
        if not t.vmo.kind.cached and not partial and t.vmo.kind.contiguous:
            if cx.when(nonempty):
                cx.why = "zero.uncached.2025"
                return Outcome(ERR_BAD_STATE, st)
            continue
        if cx.when(v.and_(nonempty, v.ult(t.size, hi))):
            cx.why = "zero.piece_bounds.2025"
            return Outcome(ERR_OUT_OF_RANGE, st)
        if not t.vmo.kind.cached and partial:
            if cx.when(nonempty):
                cx.why = "zero.uncached.2025"
                return Outcome(ERR_BAD_STATE, st)
            continue
        if cx.when(v.and_(nonempty, discarded)):
            cx.why = "discard.zero.ok"
            continue
        if page is not None:
            st, status = zero_partial_page(cx, st, t, lo, hi, nonempty, page)
            if status != OK:
                return Outcome(status, st)
        else:
            st = zero_whole_pages(cx, st, t, lo, hi)
    return Outcome(OK, st)


# ----------------------------------------------------------------------------------------
# LOCK, TRY_LOCK, UNLOCK (lock.*, try_lock.*, unlock.*)
# ----------------------------------------------------------------------------------------


# The page's rights sentence of each op of the LOCK family.
_LOCK_RIGHTS = {"LOCK": "page.lock.rights", "TRY_LOCK": "page.try_lock.rights",
                "UNLOCK": "page.unlock.rights"}
# Each op's sentence saying the whole VMO should be (un)locked at once.
_WHOLE_VMO = {"LOCK": "page.lock.whole_vmo", "TRY_LOCK": "page.try_lock.whole_vmo",
              "UNLOCK": "page.unlock.whole_vmo"}


def _lock_rungs(cx: Cx, t: Target, offset: Word, size: Word, name: str) -> list[Rung]:
    v = cx.v
    rungs: list[Rung] = [
        # page: "Requires the ZX_RIGHT_READ or ZX_RIGHT_WRITE right."
        (ERR_ACCESS_DENIED,
         lambda: v.not_(v.or_(v.has_bits(t.rights, RIGHT_READ), v.has_bits(t.rights, RIGHT_WRITE))),
         _LOCK_RIGHTS[name]),
        # page ERRORS: "NOT_SUPPORTED op was LOCK, TRY_LOCK or UNLOCK and the VMO is not
        # discardable"
        (ERR_NOT_SUPPORTED, lambda: not t.vmo.kind.discardable,
         "page.errors.not_discardable, lock.not_discardable"),
        (ERR_OUT_OF_RANGE, lambda: past_end(cx, t, offset, size), "page.errors.out_of_range"),
    ]
    whole = lambda: v.or_(v.ne(offset, 0), v.ne(size, t.size))  # noqa: E731
    if cx.profile.lock_range_rule == "out_of_range":
        rungs.append((ERR_OUT_OF_RANGE, whole, "lock.whole_range"))
    else:
        # page: the entire VMO "should" be locked at once; what happens otherwise is open
        rungs.append((Maybe(ANY_ERROR), whole, _WHOLE_VMO[name]))
    return rungs


def _tracker(t: Target) -> Tracker:
    assert t.vmo.tracker is not None
    return t.vmo.tracker


def _with_tracker(st: State, t: Target, tracker: Tracker) -> State:
    return st.with_object(t.obj, st.vmo(t.obj).with_tracker(tracker))


def _locked(cx: Cx, tr: Tracker) -> Tracker:
    """LOCK or TRY_LOCK succeeded: one more lock, Unreclaimable (lock.effect). Whether a
    lock on a locked VMO counts is the reading lock-nesting (the page never says)."""
    v = cx.v
    held = v.eq(tr.state, UNRECLAIMABLE)
    if (v.symbolic or held) and cx.reading("lock-nesting") == "single":
        return Tracker(UNRECLAIMABLE, 1)
    return Tracker(UNRECLAIMABLE, v.ite(held, v.add(tr.count, 1)[0], 1))


def _unlocked(cx: Cx, tr: Tracker) -> Tracker:
    """UNLOCK of a held lock: one fewer; the last one makes the VMO Reclaimable."""
    v = cx.v
    last = v.eq(tr.count, 1)
    return Tracker(v.ite(last, RECLAIMABLE, UNRECLAIMABLE), v.sub(tr.count, 1))


def _unlock_refused(cx: Cx, t: Target) -> object:
    """UNLOCK's BAD_STATE: "the VMO was not previously locked". Whether a VMO locked
    once and unlocked since counts is the reading unlock-not_locked (the kernel: only a
    VMO locked now may be unlocked)."""
    v, tr = cx.v, t.vmo.tracker
    if tr is None:
        return False
    before = v.or_(v.eq(tr.state, RECLAIMABLE), v.eq(tr.state, DISCARDED))
    if (v.symbolic or before) and cx.reading("unlock-not_locked") == "ever":
        return v.eq(tr.state, UNSET)
    return v.ne(tr.state, UNRECLAIMABLE)


def lock(
    cx: Cx, st: State, t: Target, offset: Word, size: Word, bs: int, bn: bool
) -> Outcome:
    v = cx.v
    rungs = _lock_rungs(cx, t, offset, size, "LOCK")
    bad_buffer = bn or bs < abi.LOCK_STATE_SIZE
    if cx.profile.lock_buffer_rule == "invalid_args":
        # page ERRORS: "INVALID_ARGS buffer is an invalid pointer (if required by the op)"
        rungs.append((ERR_INVALID_ARGS if bn else Maybe(ERR_INVALID_ARGS),
                      lambda: bad_buffer, "page.errors.invalid_buffer"))
    status = cx.ladder(*rungs)
    if (status == ERR_INVALID_ARGS and cx.why == "page.errors.invalid_buffer"
            and t.vmo.tracker is not None
            and cx.reading("lock-failed_leaves") == "unlocked"):
        # what a failed LOCK leaves is the reading lock-failed_leaves: the kernel's
        # lock, then a real UNLOCK (lock.bad_buffer)
        tr = _unlocked(cx, _locked(cx, t.vmo.tracker))
        return Outcome(ERR_INVALID_ARGS, _with_tracker(st, t, tr))

    def effect() -> Outcome:
        tr = _tracker(t)
        was_discarded = v.eq(tr.state, DISCARDED)
        locked = _locked(cx, tr)
        if cx.profile.lock_buffer_rule == "after_lock" and bad_buffer:
            # lock.bad_buffer: the lock is taken, then a real UNLOCK runs before INVALID_ARGS
            cx.why = "lock.bad_buffer"
            return Outcome(ERR_INVALID_ARGS, _with_tracker(st, t, _unlocked(cx, locked)))
        # page: discarded_offset/size are the range holding discarded pages, else 0;
        # lock.effect: a discard covers the whole VMO
        # which range is reported for a lock of part of the VMO is the reading
        # lock-discarded_range ("the maximal range within the locked range")
        part = v.and_(was_discarded, v.or_(v.ne(offset, 0), v.ne(size, t.size)))
        whole = (not v.symbolic and not part) or \
            cx.reading("lock-discarded_range") == "whole_vmo"
        state_out = MappingProxyType({
            "offset": offset, "size": size,
            "discarded_offset": 0 if whole else v.ite(was_discarded, offset, 0),
            "discarded_size": v.ite(was_discarded, t.size if whole else size, 0),
        })
        cx.why = "lock.effect"
        outputs = MappingProxyType({"lock_state": state_out})
        return Outcome(OK, _with_tracker(st, t, locked), outputs)

    return fail_or(cx, st, status, effect)


def _count_op(cx: Cx, st: State, t: Target, offset: Word, size: Word, name: str,
              refusal: Rung, count: Callable[[Cx, Tracker], Tracker], why: str) -> Outcome:
    """TRY_LOCK and UNLOCK: the LOCK family's rungs, one refusal of their own, then the
    lock count moved by `count`."""
    status = cx.ladder(*_lock_rungs(cx, t, offset, size, name), refusal)

    def effect() -> Outcome:
        cx.why = why
        return Outcome(OK, _with_tracker(st, t, count(cx, _tracker(t))))

    return fail_or(cx, st, status, effect)


def try_lock(
    cx: Cx, st: State, t: Target, offset: Word, size: Word, _bs: int, _bn: bool
) -> Outcome:
    # page: "will fail with ZX_ERR_UNAVAILABLE" if the range has been discarded
    refusal: Rung = (ERR_UNAVAILABLE, lambda: is_discarded(cx, t.vmo),
                     "page.try_lock.unavailable")
    return _count_op(cx, st, t, offset, size, "TRY_LOCK", refusal, _locked,
                     "try_lock.effect")


def unlock(
    cx: Cx, st: State, t: Target, offset: Word, size: Word, _bs: int, _bn: bool
) -> Outcome:
    # page ERRORS: BAD_STATE when the VMO is discardable and was not previously locked
    refusal: Rung = (ERR_BAD_STATE, lambda: _unlock_refused(cx, t),
                     "page.errors.unlock_not_locked")
    return _count_op(cx, st, t, offset, size, "UNLOCK", refusal, _unlock_count,
                     "unlock.effect")


def _unlock_count(cx: Cx, tr: Tracker) -> Tracker:
    """UNLOCK's count: one lock fewer; a VMO locked before and not now (the reading
    unlock-not_locked lets it through) keeps its tracker: nothing to undo."""
    if cx.profile.reading("unlock-not_locked") != "now" and \
            not cx.when(cx.v.eq(tr.state, UNRECLAIMABLE)):
        return tr
    return _unlocked(cx, tr)


# ----------------------------------------------------------------------------------------
# Cache ops: no state changes (cache.effect)
# ----------------------------------------------------------------------------------------

# Each cache op: the right it needs, its name, and whether the debugging gate applies.
CACHE_OPS: dict[int, tuple[int, str, bool]] = {
    abi.OP_CACHE_SYNC: (RIGHT_READ, "CACHE_SYNC", False),
    abi.OP_CACHE_INVALIDATE: (RIGHT_WRITE, "CACHE_INVALIDATE", True),
    abi.OP_CACHE_CLEAN: (RIGHT_READ, "CACHE_CLEAN", False),
    abi.OP_CACHE_CLEAN_INVALIDATE: (RIGHT_READ, "CACHE_CLEAN_INVALIDATE", False),
}


def cache_size_zero(cx: Cx, size: Word) -> Rung:
    # page ERRORS: "size is zero and op is a cache operation"
    return (ERR_INVALID_ARGS, lambda: cx.v.eq(size, 0),
            "page.errors.cache_size_zero, cache.size_zero")


def cache_op(
    right: int, name: str, gated: bool,
    size_zero: Callable[[Cx, Word], Rung] = cache_size_zero,
) -> OpFn:
    """The cache op `name`; `size_zero` is its rung for a size of 0 (the page's, unless
    an implementation answers otherwise)."""
    def run(
        cx: Cx, st: State, t: Target, offset: Word, size: Word, _bs: int, _bn: bool
    ) -> Outcome:
        rungs: list[Rung] = []
        if gated and cx.profile.cache_invalidate_gate:
            rungs.append((ERR_NOT_SUPPORTED, lambda: not cx.config.get("debugging_syscalls"),
                          "cache.invalidate_gate"))
        rungs += [
            # page RIGHTS: the right each cache op needs
            requires(cx, t, right, name),
            physical(cx, t, "cache.physical.2025"),
            size_zero(cx, size),
            (ERR_OUT_OF_RANGE, lambda: past_end(cx, t, offset, size), "page.errors.out_of_range"),
        ]
        status = cx.ladder(*rungs)
        return fail_or(
            cx, st, status, lambda: unchanged(cx, st, "cache.effect"))

    run.__name__ = name.lower()
    return run

# ----------------------------------------------------------------------------------------
# DONT_NEED, ALWAYS_NEED (hints.*, dont_need.*, always_need.*)
# ----------------------------------------------------------------------------------------


# A hint on a VMO not backed by a pager: the page says it "trivially succeeds", and
# also that an invalid range is OUT_OF_RANGE.
_TRIVIAL = {"DONT_NEED": "page.dont_need.trivially_succeeds, page.errors.out_of_range",
            "ALWAYS_NEED": "page.always_need.trivially_succeeds, page.errors.out_of_range"}


def _hint_rungs(cx: Cx, t: Target, offset: Word, size: Word, name: str) -> list[Rung] | None:
    """The checks of a hint; None when the hint is an unconditional OK no-op."""
    v, prof = cx.v, cx.profile
    _end, ovf = v.add(offset, size)
    if not t.root.kind.pager_backed:
        if prof.hint_non_pager == "ok":
            return None  # no argument checks at all
        if prof.hint_non_pager == "overflow_checked":
            return [(ERR_OUT_OF_RANGE, lambda: ovf, "hints.non_pager.2023")]
        # page: "trivially succeeds for other VMOs", yet OUT_OF_RANGE for invalid ranges
        return [(Maybe(ERR_OUT_OF_RANGE), lambda: past_end(cx, t, offset, size),
                 _TRIVIAL[name])]
    return [(ERR_OUT_OF_RANGE, lambda: ovf, "hints.overflow")]


def dont_need(
    cx: Cx, st: State, t: Target, offset: Word, size: Word, _bs: int, _bn: bool
) -> Outcome:
    v, prof = cx.v, cx.profile
    rungs = _hint_rungs(cx, t, offset, size, "DONT_NEED")
    if rungs is None:
        cx.why = "hints.non_pager.2025"
        return Outcome(OK, st)
    if t.root.kind.pager_backed:
        empty: Rung = (OK, lambda: v.eq(size, 0), "dont_need.empty")
        bounds: Rung = (ERR_OUT_OF_RANGE, lambda: past_end(cx, t, offset, size),
                        "dont_need.bounds")
        if prof.precedence == "any":
            rungs.append(bounds)
        elif prof.dont_need_empty_any_offset:
            rungs += [empty, bounds]
        else:
            rungs += [bounds, empty]
    status = cx.ladder(*rungs)

    def effect() -> Outcome:
        cx.why = "dont_need.effect"
        if t.vmo.marks is None or t.vmo.memory is None:
            if t.owner in st.nodes:  # cow.read_through: a hint through a child marks the root
                a, b = owner_pages(cx, t, offset, v.add(offset, size)[0])
                return Outcome(OK, cow.mark_through(cx, st, t.owner, a, b, "dont_need"))
            return Outcome(OK, st)
        a, b = owner_pages(cx, t, offset, v.add(offset, size)[0])
        old = t.vmo.marks
        marks = old._replace(dont_need=v.pages_add(old.dont_need, a, b))
        # the readings dont_need-clears_always_need and dont_need-frees: the page says
        # neither whether the hint undoes ALWAYS_NEED nor whether it frees at once
        if (v.symbolic or v.pages_any(old.always_need, a, b)) and \
                cx.reading("dont_need-clears_always_need") == "clears":
            marks = marks._replace(always_need=v.pages_remove(old.always_need, a, b))
        mem = t.vmo.memory
        clean = v.pages_diff(v.pages_within(mem.committed, a, b), old.dirty)
        vmo = t.vmo._replace(marks=marks)
        if (v.symbolic or v.pages_any(clean, a, b)) and \
                cx.reading("dont_need-frees") == "frees":
            vmo = vmo._replace(memory=Memory(mem.content, v.pages_diff(mem.committed, clean)))
        return Outcome(OK, st.with_object(t.obj, vmo))

    return fail_or(cx, st, status, effect)


def always_need(
    cx: Cx, st: State, t: Target, offset: Word, size: Word, _bs: int, _bn: bool
) -> Outcome:
    v = cx.v
    rungs = _hint_rungs(cx, t, offset, size, "ALWAYS_NEED")
    if rungs is None:
        cx.why = "hints.non_pager.2025"
        return Outcome(OK, st)
    if t.root.kind.pager_backed:
        rungs.append((ERR_OUT_OF_RANGE, lambda: past_end(cx, t, offset, size),
                      "always_need.bounds"))
        if cx.profile.empty_range_early_ok:
            rungs.append((OK, lambda: v.eq(size, 0), "always_need.empty"))
    status = cx.ladder(*rungs)

    def effect() -> Outcome:
        cx.why = "always_need.effect"
        # cow.read_through: through a child reading a pager-backed root the pages land in
        # the root and the root's pages are marked
        through = st.vmo(t.owner).marks is None
        if through and not (t.owner in st.nodes and cow.reads_through(st, t.owner)):
            return Outcome(OK, st)
        a, b = owner_pages(cx, t, offset, v.add(offset, size)[0])
        st2, s = _hint_page_in(cx, st, t, a, b)
        if s != OK:
            return Outcome(s, st2)
        if through:
            return Outcome(OK, cow.mark_through(cx, st2, t.owner, a, b, "always_need"))
        owner = st2.vmo(t.owner)
        assert owner.marks is not None
        marks = owner.marks._replace(always_need=v.pages_add(owner.marks.always_need, a, b))
        return Outcome(OK, st2.with_object(t.owner, owner._replace(marks=marks)))

    return fail_or(cx, st, status, effect)


def _hint_page_in(cx: Cx, st: State, t: Target, a: Word, b: Word) -> tuple[State, int]:
    """ALWAYS_NEED's paging in of the owner's pages [a, b), at a pager-backed root or
    through a child reading it (one decision for both). The page says it "may commit
    pages": whether it does is the reading always_need-commits. always_need.effect: a
    failed request is ignored and the pages after it are still paged in; whether the
    first failure is reported instead is the reading always_need-pager_errors."""
    if cx.reading("always_need-commits") != "commits":
        return st, OK
    marks = t.root.marks
    may_fail = marks is not None and (bool(marks.fails) or pager_detached(st, t.root))
    if may_fail and cx.reading("always_need-pager_errors") == "reports":
        st2, s = commit_pages(cx, st, t, a, b, reading=True)
        if s != OK:
            return st2, s
    return page_in_best_effort(cx, st, t, a, b), OK


# ----------------------------------------------------------------------------------------
# PREFETCH (prefetch.*, 2024b on)
# ----------------------------------------------------------------------------------------


def prefetch(
    cx: Cx, st: State, t: Target, offset: Word, size: Word, _bs: int, _bn: bool
) -> Outcome:
    v = cx.v
    lo, hi, outside = rounded_out(cx, t, offset, size)
    rungs: list[Rung] = [
        (ERR_ACCESS_DENIED, lacks(cx, t, RIGHT_READ), "prefetch.rights"),
        (ERR_OUT_OF_RANGE, lambda: outside, "prefetch.bounds"),
        (OK, lambda: v.eq(lo, hi), "prefetch.empty"),
    ]
    status = cx.ladder(*rungs)

    def effect() -> Outcome:
        # cow.read_through: through a child reading a pager-backed root, the pages it
        # reads through are requested at the root, as a read's are
        through = t.owner in st.nodes and cow.reads_through(st, t.owner)
        if not t.root.kind.pager_backed or (st.vmo(t.owner).marks is None and not through):
            cx.why = "prefetch.non_pager"
            return Outcome(OK, st)
        cx.why = "prefetch.pager"
        a, b = owner_pages(cx, t, lo, hi)
        st2, s = commit_pages(cx, st, t, a, b, reading=True)  # zero intervals stay so
        return Outcome(s, st2)

    return fail_or(cx, st, status, effect)

_OPS: dict[int, OpFn] = {
    abi.OP_COMMIT: commit,
    abi.OP_DECOMMIT: decommit,
    abi.OP_LOCK: lock,
    abi.OP_UNLOCK: unlock,
    **{op: cache_op(*how) for op, how in CACHE_OPS.items()},
    abi.OP_ZERO: zero,
    abi.OP_TRY_LOCK: try_lock,
    abi.OP_DONT_NEED: dont_need,
    abi.OP_ALWAYS_NEED: always_need,
    abi.OP_PREFETCH: prefetch,
}


def discard(cx: Cx, st: State, obj: int) -> State:
    """The kernel discards a Reclaimable VMO: every page is freed; S is kept (discard.effect)."""
    vmo = st.vmo(obj)
    assert vmo.tracker is not None and vmo.memory is not None
    mem = Memory(cx.v.bytes_const(0), cx.v.pages_empty())
    return st.with_object(obj, vmo._replace(memory=mem, tracker=Tracker(DISCARDED, 0)))


__all__ = ["discard", "memory", "op_range", "with_memory"]
