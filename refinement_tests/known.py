"""Where the spec and the model are known to disagree.

Each entry was found by `vmospec fuzz` and has a minimal witness trace (the model's
observed outcomes, which `vmospec check` rejects) in
refinement_tests/traces/disagreements/NAME.jsonl; notes/fuzz-coverage.md says what each
side does and which one the facts support. Neither side is fixed here: the harness
only keeps a known disagreement from hiding the next, unknown one.

Two ways of doing that, by what the generator can know:

- **avoid**: the generator does not produce the arguments that lead there (it can tell
  from what it asked for: an option combination, a size, a kind of VMO);
- **waive**: the divergence is recognized where it shows (it depends on state the
  generator cannot see, such as whether a VMO holds pages), by a narrow matcher on the
  step, the observed outcome and the spec's possible states. The trace ends there,
  counted as "known": after it the spec and the backend are in different states.

`vmospec fuzz --known` switches all of them off, so each is found again.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Literal

from spec import abi
from spec.explore import Cx, explore
from spec.outcome import Outcome
from spec.profiles import Profile
from spec.state import DISCARDED, REFERENCE, ROOT, SNAPSHOT, State, Vmo
from spec.transitions import transition
from spec.values import Concrete

__all__ = ["KNOWN", "WAIVERS", "Known", "Seen"]


@dataclass(frozen=True)
class Known:
    how: Literal["avoid", "waive"]
    summary: str


KNOWN: dict[str, Known] = {
    "max_size": Known(
        "avoid", "sizes above the model's MAX_SIZE (2^64 - 32 pages), and UNBOUNDED: the spec "
        "has no MAX_SIZE, only the u64 round-up (sf 1, 3, 6 name MAX_SIZE without a value); "
        "the model refuses them with OUT_OF_RANGE and makes UNBOUNDED 31 pages smaller"),
    "slice_no_write": Known(
        "avoid", "vmo_create_child SLICE|NO_WRITE: the spec says INVALID_ARGS (SLICE takes no "
        "other bit), the model creates the slice (sf 1 step 2: NO_WRITE is removed first)"),
    "pager_unbounded_resizable": Known(
        "avoid", "pager_create_vmo with UNBOUNDED|RESIZABLE: the spec creates it, the model "
        "says INVALID_ARGS, as zx_vmo_create does (the same flag parser, kf 6)"),
    "pager_discardable_order": Known(
        "avoid", "pager_create_vmo with DISCARDABLE and a size whose round-up overflows: the "
        "spec says INVALID_ARGS, the model OUT_OF_RANGE (sf 6: the size is parsed in step "
        "5, DISCARDABLE refused in step 6)"),
    "set_size_order": Known(
        "avoid", "vmo_set_size of a non-resizable VMO to a size whose round-up overflows: "
        "the spec says UNAVAILABLE, the model OUT_OF_RANGE (sf 3: step 4 before step 5)"),
    "set_size_tail": Known(
        "avoid", "vmo_set_size of a pager-backed VMO to a size that is not page-aligned: both "
        "zero the rest of the last page (sf 3 step 9), but only the model makes that page "
        "dirty; the spec leaves it clean, so reclaim may evict it (and a later read would "
        "page the pager's content back in over the zeroed bytes)"),
    "immutable_flag": Known(
        "avoid", "ZX_INFO_VMO of a SNAPSHOT|NO_WRITE child: the model sets "
        "ZX_INFO_VMO_IMMUTABLE (sf 1), the spec never does"),
    "snapshot_overflow_order": Known(
        "avoid", "a SNAPSHOT of a pager-backed VMO whose offset + size overflows: the spec "
        "says NOT_SUPPORTED, the model OUT_OF_RANGE (sf 1 snapshot family: step 4 before "
        "step 6)"),
    "slice_window_order": Known(
        "avoid", "a snapshot of a slice whose range does not fit the slice: the spec says "
        "NOT_SUPPORTED, the model OUT_OF_RANGE (sf 1 snapshot family: step 4 before step 8)"),
    "projected_overflow": Known(
        "avoid", "a snapshot, or a set_size that grows, whose range overflows u64 only when "
        "projected onto the root: the model says INVALID_ARGS (sf 1 snapshot step 7, sf 3 "
        "step 8), the spec has no such check"),
    "partial_write": Known(
        "avoid", "a vmo_write across pages of a pager-backed VMO whose later page cannot be "
        "paged in (a scripted failure, a detached pager): the model has already written "
        "the earlier pages, which stay written and dirty (nothing is rolled back, kf 4.1); "
        "the spec fails the write as a whole and changes nothing"),
    "always_need_failure": Known(
        "avoid", "ALWAYS_NEED over a range with a scripted pager failure: the spec stops "
        "paging in at the failing page, the model (which ignores per-page errors, kf 3.3) "
        "pages in the pages after it"),
    "zero_reads_pager_content": Known(
        "avoid", "ZERO of part of an absent pager page whose content is all zero (page n "
        "with (n + 1) % 256 == 0): the spec knows it reads zero and does nothing (its "
        "decision 16), the model, as a kernel that cannot know, pages it in first"),
    "reclaim_without_pages": Known(
        "waive", "reclaim of a Reclaimable discardable VMO that holds no page: the spec "
        "discards it (its decision 13), the model does not (kf 5.2, 2024 on: a discard "
        "happens when reclaim reaches a committed page)"),
    "dirty_zero_page_request": Known(
        "waive", "pager pages that were zeroed (a dirty zero interval, from a whole-page ZERO "
        "or a set_size that grew): the spec requests them from the pager on COMMIT, "
        "PREFETCH and ALWAYS_NEED (so a scripted failure or a detached pager fails the "
        "call) and then counts them as committed; the model knows they read zero (kf 4.3), "
        "requests nothing and holds no frame for them"),
    "pager_snapshot_is_a_copy": Known(
        "waive", "AT_LEAST_ON_WRITE and MODIFIED children of a pager-backed VMO: the spec "
        "models them as copies (its decision 11, a known gap), the model as the kernel "
        "does, unidirectional: they see later parent writes, and their page-ins land in "
        "the parent, where reclaim can evict them"),
    "decommit_orphan_snapshot": Known(
        "waive", "DECOMMIT of a snapshot child (or of a slice of it) after the last handle "
        "to its parent was closed: the model has merged the hidden node into the child, "
        "which then has no parent, and decommits (model/DECISIONS.md); the spec keeps the "
        "parent alive behind the child and says NOT_SUPPORTED (a COW clone)"),
    "snapshot_via_reference": Known(
        "waive", "DECOMMIT of a VMO whose snapshot child was taken through a reference to "
        "it: the model says NOT_SUPPORTED (the VMO has a live snapshot child, kf 3.3 "
        "DECOMMIT (7)); the spec looks for snapshot children of the VMO itself only and "
        "decommits"),
    "zero_discarded_bounds": Known(
        "waive", "ZERO of a discarded VMO over a range past its end: the spec says OK (kf "
        "5.4: ZERO of a discarded VMO returns OK), the model OUT_OF_RANGE (kf 4.3: each "
        "piece checks its bounds first)"),
    "empty_rw_discarded": Known(
        "waive", "a zero-length vmo_read or vmo_write of a discarded VMO: the spec says "
        "NOT_FOUND (kf 5.4), the model OK (sf 2 step 5: length 0 returns before the page "
        "lookup)"),
}


@dataclass(frozen=True)
class Seen:
    """What a waiver may look at: the step, what was observed, the states the spec may
    have been in, and every outcome it allowed from them."""

    name: str
    args: Mapping[str, Any]
    expect: Any  # a checker Step whose expectations are the observed outcome
    observed: Mapping[str, Any]
    states: list[State]
    allowed: list[Outcome]
    profile: Profile
    page: int
    config: dict[str, bool]

    def agrees_from(self, states: list[State]) -> bool:
        """Would the observed outcome be allowed from one of these states?"""
        from refinement_tests.checker import agrees

        v = Concrete(self.page)
        for s in states:

            def run(cx: Cx, s: State = s) -> Outcome:
                return transition(cx, s, self.name, self.args)

            for path in explore(run, v, self.profile, self.page, self.config):
                if agrees(self.expect, path.result):
                    return True
        return False


Waiver = Callable[[Seen], bool]


def _reclaim_without_pages(w: Seen) -> bool:
    return (w.name == "reclaim"
            and dict(w.observed) == {"discarded": False, "evicted_bytes": 0}
            and bool(w.allowed)
            and all(dict(o.out) == {"discarded": True, "evicted_bytes": 0} for o in w.allowed))


def _dirty_zero(w: Seen) -> bool:
    """Taking the dirty pages of pager-backed VMOs as present, or not counting the
    committed ones that read zero, the spec would allow what was observed."""
    v = Concrete(w.page)
    present: list[State] = []
    uncounted: list[State] = []
    for s in w.states:
        more = dict(s.objects)
        fewer = dict(s.objects)
        for oid, o in s.objects.items():
            marks = getattr(o, "marks", None)
            mem = getattr(o, "memory", None)
            if marks is None or mem is None or not marks.dirty.bounds:
                continue
            more[oid] = o._replace(memory=mem._replace(  # type: ignore[union-attr]
                committed=v.pages_union(mem.committed, marks.dirty)))
            both = v.pages_diff(mem.committed, v.pages_diff(mem.committed, marks.dirty))
            zero = v.pages_empty()
            for lo, hi in both.overlap(0, 1 << 64):  # committed pages: few
                for page in range(lo, hi):
                    if v.bytes_zero_in(mem.content, page * w.page, (page + 1) * w.page):
                        zero = v.pages_add(zero, page, page + 1)
            if zero.bounds:
                fewer[oid] = o._replace(memory=mem._replace(  # type: ignore[union-attr]
                    committed=v.pages_diff(mem.committed, zero)))
        if more != dict(s.objects):
            present.append(s._replace(objects=more))
        if fewer != dict(s.objects):
            uncounted.append(s._replace(objects=fewer))
    return (bool(present) and w.agrees_from(present)) or (
        bool(uncounted) and w.agrees_from(uncounted)) or _dirty_zero_info(w)


def _dirty_zero_info(w: Seen) -> bool:
    """ZX_INFO_VMO of a pager-backed VMO: the committed bytes the model reports lie
    between the spec's count without the committed pages that are dirty and read zero
    (an explicit COMMIT gives some of them frames in the model too) and the spec's
    count; everything else agrees."""
    got = w.observed.get("committed_bytes")
    if w.name != "vmo_info" or not isinstance(got, int):
        return False
    v = Concrete(w.page)
    rest = {k: x for k, x in w.observed.items() if k not in ("committed_bytes",
                                                             "populated_bytes")}
    for s in w.states:
        h = s.handles.get(w.args["vmo"])
        o = s.objects.get(h.obj) if h is not None else None
        marks = getattr(o, "marks", None)
        mem = getattr(o, "memory", None)
        if marks is None or mem is None:
            continue
        both = v.pages_diff(mem.committed, v.pages_diff(mem.committed, marks.dirty))
        zero = sum(1 for lo, hi in both.overlap(0, 1 << 64) for page in range(lo, hi)
                   if v.bytes_zero_in(mem.content, page * w.page, (page + 1) * w.page))
        for out in w.allowed:
            want = out.out.get("committed_bytes")
            if (isinstance(want, int) and want - zero * w.page <= got <= want
                    and out.status == w.observed.get("status")
                    and all(out.out.get(k) == x or k == "status" or k == "flags"
                            for k, x in rest.items())):
                return True
    return False


def _root_of(s: State, oid: int) -> int:
    o = s.objects.get(oid)
    while o is not None:
        parent: int | None = getattr(o, "parent", None)
        if parent is None:
            break
        oid = parent
        o = s.objects.get(oid)
    return oid


def _pager_snapshot_tree(w: Seen) -> bool:
    """Any divergence on a VMO whose tree (same root) is pager-backed and holds a
    snapshot child."""
    name = w.args.get("vmo")
    if not isinstance(name, str):
        return False
    for s in w.states:
        h = s.handles.get(name)
        if h is None:
            continue
        root = _root_of(s, h.obj)
        kind = getattr(s.objects.get(root), "kind", None)
        if kind is None or not kind.pager_backed:
            continue
        for oid, o in s.objects.items():
            if getattr(o, "role", None) == SNAPSHOT and _root_of(s, oid) == root:
                return True
    return False


def _zero_discarded_bounds(w: Seen) -> bool:
    a = w.args
    if (w.name != "vmo_op_range" or a.get("op") != abi.OP_ZERO
            or w.observed.get("status") != abi.ERR_OUT_OF_RANGE
            or not w.allowed or any(o.status != abi.OK for o in w.allowed)):
        return False
    for s in w.states:
        h = s.handles.get(a["vmo"])
        vmo = s.objects.get(h.obj) if h is not None else None
        tracker = getattr(vmo, "tracker", None)
        if vmo is None or tracker is None or tracker.state != DISCARDED:
            return False
        if a["offset"] + a["size"] <= getattr(vmo, "size", 0):
            return False
    return True


def _empty_rw_discarded(w: Seen) -> bool:
    a = w.args
    empty = (w.name == "vmo_read" and a["length"] == 0) or (
        w.name == "vmo_write" and not a["data"])
    return (empty and w.observed.get("status") == abi.OK and bool(w.allowed)
            and all(o.status == abi.ERR_NOT_FOUND for o in w.allowed))


def _owner(s: State, oid: int) -> int:
    """The VMO whose pages `oid` sees (slices and references own none)."""
    o = s.objects.get(oid)
    while isinstance(o, Vmo) and o.memory is None and o.parent is not None:
        oid = o.parent
        o = s.objects.get(oid)
    return oid


def _orphan_snapshot(w: Seen) -> bool:
    """DECOMMIT of a snapshot child whose parent has no handle left: the model has
    merged the hidden node into the child (it has no parent any more) and lets it
    DECOMMIT; the spec keeps the parent and says NOT_SUPPORTED. Precisely: with the
    child made a root, the spec would allow what was observed."""
    a = w.args
    if w.name != "vmo_op_range" or a.get("op") != abi.OP_DECOMMIT:
        return False
    roots: list[State] = []
    for s in w.states:
        h = s.handles.get(a["vmo"])
        if h is None:
            return False
        owner = _owner(s, h.obj)  # through a slice or reference of the child too
        o = s.objects.get(owner)
        if not isinstance(o, Vmo) or o.role != SNAPSHOT or o.parent is None:
            return False
        if any(x.obj == o.parent for x in s.handles.values()):
            return False
        roots.append(s.with_object(owner, o._replace(role=ROOT, parent=None, window=0,
                                                       cow=False)))
    return bool(roots) and w.agrees_from(roots)


def _snapshot_via_reference(w: Seen) -> bool:
    """DECOMMIT of a VMO with a live snapshot child taken through a reference: the
    model says NOT_SUPPORTED (the VMO has a hidden parent: kf 3.3 DECOMMIT (7)); the
    spec looks for snapshot children of the VMO itself only, misses this one, and
    decommits."""
    a = w.args
    if (w.name != "vmo_op_range" or a.get("op") != abi.OP_DECOMMIT
            or w.observed.get("status") != abi.ERR_NOT_SUPPORTED):
        return False
    for s in w.states:
        h = s.handles.get(a["vmo"])
        if h is None:
            return False
        owner = _owner(s, h.obj)
        if not any(isinstance(o, Vmo) and o.role == SNAPSHOT and o.parent is not None
                   and getattr(s.objects.get(o.parent), "role", None) == REFERENCE
                   and _owner(s, o.parent) == owner for o in s.objects.values()):
            return False
    return bool(w.states)


WAIVERS: dict[str, Waiver] = {
    "snapshot_via_reference": _snapshot_via_reference,
    "decommit_orphan_snapshot": _orphan_snapshot,
    "reclaim_without_pages": _reclaim_without_pages,
    "dirty_zero_page_request": _dirty_zero,
    "pager_snapshot_is_a_copy": _pager_snapshot_tree,
    "zero_discarded_bounds": _zero_discarded_bounds,
    "empty_rw_discarded": _empty_rw_discarded,
}
assert set(WAIVERS) == {n for n, k in KNOWN.items() if k.how == "waive"}
