"""Profiles: named choices the one spec reads, one set per kernel era or per document.

A profile is data, never a fork of the op code (design.md, principle 4). Each field is
a choice where the reference page is open, where kernel eras differ, or where another
implementation departs from Zircon; the comment says which. `doc` allows every outcome
the reference page allows; `zircon-2023` and `zircon-2025` pin each choice as that kernel
makes it (kernel-facts.md 1.2). The implementation profiles (`zcore`, `eclipse`,
`sel4zircon`) are built from their stated behaviours (kernel-facts.md 7); where
kernel-facts states nothing, they take zircon-2025's choice (notes/implementations.md).
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Literal

from spec.abi import OP_ALWAYS_NEED, OP_DONT_NEED, OP_PREFETCH, OP_TRY_LOCK, OPS


@dataclass(frozen=True, slots=True)
class Profile:
    name: str
    summary: str
    # What the profile describes: the reference page, a Zircon era, or another
    # implementation. `vmospec prove` without --profile proves the first two kinds only.
    kind: Literal["doc", "era", "implementation"]
    # Which error wins when several apply: the kernel's fixed order, or any of them.
    precedence: Literal["first", "any"]
    # Is op 14 (PREFETCH) dispatched? 2024b on; the page does not list it.
    prefetch: bool
    # CACHE_INVALIDATE needs kernel.enable-debugging-syscalls (2022 on); the page omits it.
    cache_invalidate_gate: bool
    # The kernel's early-outs: COMMIT/DECOMMIT/hints of an empty range succeed before
    # later checks; the page has no such rule.
    empty_range_early_ok: bool
    # DECOMMIT bounds: "strict" (2024 on) or "trim" to S (2023 and before).
    decommit_bounds: Literal["strict", "trim"]
    # DECOMMIT's support rule: the kernel's (no COW parent or live snapshot child, not
    # pager-backed) or the page's ("created by zx_vmo_create without non-slice children").
    decommit_support: Literal["kernel", "page"]
    # ZERO: "pieces" (2025: head, whole pages, tail, each checked on its own, partial
    # progress kept) or "upfront" (2023: uncached and bounds checked first).
    zero_checks: Literal["pieces", "upfront"]
    # COMMIT and ZERO may fail with NO_MEMORY at any time (the page's ERRORS allow it).
    may_run_out_of_memory: bool
    # LOCK family range other than (0, S): the kernel says OUT_OF_RANGE; the page only
    # says the whole VMO "should" be locked, so any outcome is open.
    lock_range_rule: Literal["out_of_range", "open"]
    # LOCK's buffer: the kernel locks first, then a bad buffer undoes it with an UNLOCK
    # (kernel-facts 5.3); the page says an invalid pointer is INVALID_ARGS.
    lock_buffer_rule: Literal["after_lock", "invalid_args"]
    # Hints on a VMO not backed by a pager: "ok" for any arguments (2024 on), or OK with
    # a u64 overflow check (2023), or open (the page: "trivially succeeds", but an invalid
    # range is OUT_OF_RANGE).
    hint_non_pager: Literal["ok", "overflow_checked", "open"]
    # DONT_NEED of an empty range: OK at any offset (2025) or only when offset <= S (2023).
    dont_need_empty_any_offset: bool
    # ZX_INFO_VMO committed bytes: "kernel" accounting for VMOs outside copy-on-write, or
    # only bounds (the page describes no accounting).
    commit_accounting: Literal["kernel", "bounds"]
    # Is the invariant catalogue (proofs/catalogue.py) a specification of this profile?
    # Where it is not, a counterexample is a result to report, not a failure.
    catalogue_holds: bool
    # The rest are the departures of other implementations (kernel-facts.md 7); each
    # default is Zircon's behaviour. Rungs that encode them cite "kf 7.N (item)".
    # The common prefix: the kernel's (kf 3.1: handle, type, op decode), zCore's (kf 7.1
    # (1): op decode first, and ops 11-14 are not decoded at all), or sel4zircon's (kf
    # 7.4: overflow, handle with WRITE for every op, bounds, then the op decode).
    prefix: Literal["kernel", "decode_first", "checks_first"] = "kernel"
    # COMMIT and DECOMMIT: the kernel's checks; zCore's: page alignment right after the
    # rights check and no bounds check on a paged VMO (kf 7.1 (6)-(7)); or sel4zircon's
    # DECOMMIT, which rounds the range out instead of requiring alignment (kf 7.4 (9)).
    range_checks: Literal["kernel", "aligned_unbounded", "rounded"] = "kernel"
    # ZERO's up-front bounds check on a u64 sum that wraps instead of failing (zCore's
    # release build, kf 7.1 (14)), and a slice's check that is off by one (kf 7.1 (12)).
    zero_wraps: bool = False
    zero_slice_off_by_one: bool = False
    # LOCK and UNLOCK: the kernel's, a panic (zCore's unimplemented!(), kf 7.1 (5)), or
    # NOT_SUPPORTED before any rights check (eclipse, kf 7.2 (4)).
    lock_unlock: Literal["kernel", "panic", "not_supported"] = "kernel"
    # Cache ops: the kernel's; a panic (kf 7.1 (5)); rights and an overflow-safe bounds
    # check, then nothing, with no gate and no size-0 rule (kf 7.2 (1)-(3)); or the
    # kernel's with size 0 a no-op OK (kf 7.4 (7)).
    cache_ops: Literal["kernel", "panic", "checked_noop", "size0_ok"] = "kernel"
    # zx_vmo_create's options: the kernel's, or RESIZABLE only (kf 7.1 (15)).
    create_options: Literal["kernel", "resizable_only"] = "kernel"
    # Zircon rungs this implementation does not have, each with the stated item that
    # says so: a divergence where the other profile took such a rung is explained by
    # that item (proofs/diff.py). Data for the diff only; the spec never reads it.
    lacks: tuple[tuple[str, str], ...] = ()
    # Derived: the ops whose common prefix must run even through a valid VMO handle
    # (spec/op_range.py reads this on every op_range step instead of the fields above).
    prefix_ops: frozenset[int] = field(init=False, compare=False)

    def __post_init__(self) -> None:
        if self.prefix == "kernel":
            ops = frozenset() if self.prefetch else frozenset({OP_PREFETCH})
        elif self.prefix == "decode_first":
            ops = frozenset({OP_TRY_LOCK, OP_DONT_NEED, OP_ALWAYS_NEED, OP_PREFETCH})
        else:
            ops = frozenset(OPS.values())
        object.__setattr__(self, "prefix_ops", ops)
    # Reclaim of a Reclaimable discardable VMO: discarded only when reclaim reaches one
    # of its committed pages (2024 on, kf 5.2), or whatever it holds (2023's minimum-time
    # rule is not modelled; the page describes no reclaim).
    discard_needs_page: bool = False
    # ZX_INFO_VMO of a VMO in a copy-on-write family: share counts (info.attribution.2025,
    # RFC-0254, late 2024 on), legacy unique attribution (info.attribution.legacy; a
    # transition kernel's values in the six newer fields), or only bounds (the page says
    # nothing about attribution).
    attribution: Literal["share_count", "legacy", "loose"] = "share_count"


DOC = Profile(
    name="doc",
    summary="exactly what the reference page allows (seeds/vmo_op_range.md)",
    kind="doc",
    precedence="any",
    prefetch=False,
    cache_invalidate_gate=False,
    empty_range_early_ok=False,
    decommit_bounds="strict",
    decommit_support="page",
    zero_checks="upfront",
    may_run_out_of_memory=True,
    lock_range_rule="open",
    lock_buffer_rule="invalid_args",
    hint_non_pager="open",
    dont_need_empty_any_offset=False,
    commit_accounting="bounds",
    catalogue_holds=False,
    attribution="loose",
)

ZIRCON_2023 = Profile(
    name="zircon-2023",
    summary="the 2023 kernel (gnoliyil/fuchsia): trimming DECOMMIT, up-front ZERO checks",
    kind="era",
    precedence="first",
    prefetch=False,
    cache_invalidate_gate=True,
    empty_range_early_ok=True,
    decommit_bounds="trim",
    decommit_support="kernel",
    zero_checks="upfront",
    may_run_out_of_memory=False,
    lock_range_rule="out_of_range",
    lock_buffer_rule="after_lock",
    hint_non_pager="overflow_checked",
    dont_need_empty_any_offset=False,
    commit_accounting="kernel",
    catalogue_holds=False,
    attribution="legacy",
)

ZIRCON_2025 = Profile(
    name="zircon-2025",
    summary="the 2025 kernel (misttech/fuchsia): strict bounds, ZERO in pieces, PREFETCH",
    kind="era",
    precedence="first",
    prefetch=True,
    cache_invalidate_gate=True,
    empty_range_early_ok=True,
    decommit_bounds="strict",
    decommit_support="kernel",
    zero_checks="pieces",
    may_run_out_of_memory=False,
    lock_range_rule="out_of_range",
    lock_buffer_rule="after_lock",
    hint_non_pager="ok",
    dont_need_empty_any_offset=True,
    commit_accounting="kernel",
    catalogue_holds=True,
    discard_needs_page=True,
)

# The 2024a kernel (kf 1.1, artem/fuchsia-mirror): 2025's strict DECOMMIT and discard
# trigger, 2023's up-front ZERO checks, no PREFETCH, legacy attribution
# (info.attribution.legacy: share counts came with RFC-0254, after it). Where kf 1.2
# says nothing of 2024 it takes 2025's.
ZIRCON_2024 = replace(
    ZIRCON_2025,
    name="zircon-2024",
    summary="the 2024a kernel (artem/fuchsia-mirror): strict DECOMMIT, up-front ZERO "
    "checks, no PREFETCH, legacy attribution",
    prefetch=False,
    zero_checks="upfront",
    catalogue_holds=False,
    attribution="legacy",
)

# The Zircon rungs zCore does not have (kf 7.1): its COMMIT and DECOMMIT check no bounds.
_ZCORE_LACKS = (
    ("page: OUT_OF_RANGE, invalid range; kf 3.3 COMMIT (3)-(4)", "kf 7.1 (7)"),
    ("kf 3.3 DECOMMIT (4)-(5): range not within S", "kf 7.1 (7)"),
)

ZCORE = replace(
    ZIRCON_2025,
    name="zcore",
    summary="rcore-os/zCore (kf 7.1): decodes the op first, no TRY_LOCK or hints, "
    "unbounded COMMIT, panics on LOCK and cache ops",
    kind="implementation",
    prefetch=False,  # kf 7.1 (4): op 14 is not decoded
    zero_checks="upfront",  # kf 7.1 (10)-(11): one bounds check before anything is zeroed
    catalogue_holds=False,
    prefix="decode_first",
    range_checks="aligned_unbounded",
    zero_wraps=True,
    zero_slice_off_by_one=True,
    lock_unlock="panic",
    cache_ops="panic",
    create_options="resizable_only",
    lacks=_ZCORE_LACKS,
)

# Pryancito/eclipse: zCore, but cache ops and LOCK/UNLOCK answer instead of panicking.
ECLIPSE = replace(
    ZCORE,
    name="eclipse",
    summary="Pryancito/eclipse (kf 7.2): zCore, but cache ops are checked no-ops and "
    "LOCK is NOT_SUPPORTED",
    lock_unlock="not_supported",
    cache_ops="checked_noop",
    lacks=(
        *_ZCORE_LACKS,
        # kf 7.2 (1)-(3): no debugging gate and no size-0 rule on cache ops
        ("kf 3.3 CACHE_INVALIDATE (1): debugging syscalls are off", "kf 7.2 (2)"),
        ("page: INVALID_ARGS, size 0 cache op", "kf 7.2 (1)"),
    ),
)

# jsuann/sel4zircon: a Zircon server on seL4 with the 2018 ABI; only op_range departs.
SEL4ZIRCON = replace(
    ZIRCON_2025,
    name="sel4zircon",
    summary="jsuann/sel4zircon (kf 7.4): WRITE for every op, bounds before the op, "
    "no ZERO, LOCK or hints",
    kind="implementation",
    prefetch=False,  # kf 7.4 (10)
    catalogue_holds=False,
    prefix="checks_first",
    range_checks="rounded",
    cache_ops="size0_ok",
    lacks=(
        # kf 7.4 (9): DECOMMIT rounds out; (7): a size-0 cache op is a no-op
        ("kf 3.3 DECOMMIT (8): offset and size must be page-aligned", "kf 7.4 (9)"),
    ),
)

PROFILES: dict[str, Profile] = {
    p.name: p for p in (DOC, ZIRCON_2023, ZIRCON_2024, ZIRCON_2025, ZCORE, ECLIPSE, SEL4ZIRCON)}
