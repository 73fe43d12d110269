"""Profiles: named choices the one spec reads, one set per kernel era or per document.

A profile is data, never a fork of the op code (design.md, principle 4). Each field is
a choice where the reference page is open or where kernel eras differ; the comment says
which. `doc` allows every outcome the reference page allows; `zircon-2023` and
`zircon-2025` pin each choice as that kernel makes it (kernel-facts.md 1.2).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal


@dataclass(frozen=True, slots=True)
class Profile:
    name: str
    summary: str
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


DOC = Profile(
    name="doc",
    summary="exactly what the reference page allows (seeds/vmo_op_range.md)",
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
)

ZIRCON_2023 = Profile(
    name="zircon-2023",
    summary="the 2023 kernel (gnoliyil/fuchsia): trimming DECOMMIT, up-front ZERO checks",
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
)

ZIRCON_2025 = Profile(
    name="zircon-2025",
    summary="the 2025 kernel (misttech/fuchsia): strict bounds, ZERO in pieces, PREFETCH",
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
)

PROFILES: dict[str, Profile] = {p.name: p for p in (DOC, ZIRCON_2023, ZIRCON_2025)}
