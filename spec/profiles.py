"""Profiles: named choices the one spec reads, one set per kernel era or per document.

A profile is data, never a fork of the op code (docs/architecture.md, rule 4). Each field is
a choice where the reference page is open, where kernel eras differ, or where another
implementation departs from Zircon; the comment says which. `doc` allows every outcome
the reference page allows; `zircon-2023` and `zircon-2025` pin each choice as that kernel
makes it (docs/kernel-facts.md: the facts with no era suffix or theirs). The
implementation profiles (`zcore`, `eclipse`, `sel4zircon`) are built from their facts
(the ids starting with their name) in spec/implementations/: where those state nothing,
they take zircon-2025's choice, and where they depart from Zircon's code, their overrides replace it
(notes/implementations.md).
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from types import ModuleType
from typing import Literal

from spec.abi import OP_PREFETCH
from spec.implementations import eclipse, sel4zircon, zcore
from spec.overrides import NONE as NO_OVERRIDES
from spec.overrides import Overrides
from spec.readings import ANY, READINGS


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
    # (lock.bad_buffer); the page says an invalid pointer is INVALID_ARGS.
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
    # Reclaim of a Reclaimable discardable VMO: discarded only when reclaim reaches one
    # of its committed pages (reclaim.first_page), or whatever it holds (2023's minimum-time
    # rule is not modelled; the page describes no reclaim).
    discard_needs_page: bool = False
    # ZX_INFO_VMO of a VMO in a copy-on-write family: share counts (info.attribution.2025,
    # RFC-0254, late 2024 on), legacy unique attribution (info.attribution.legacy; a
    # transition kernel's values in the six newer fields), or only bounds (the page says
    # nothing about attribution).
    attribution: Literal["share_count", "legacy", "loose"] = "share_count"
    # zx_vmo_set_cache_policy: 2023 refuses to leave an uncached policy while pages are
    # committed and lets pager-backed and discardable VMOs go uncached; 2025 drops the first
    # rule and keeps those VMOs cached (cache_policy.*). The page covers op_range only.
    cache_policy_rules: Literal["2023", "2025"] = "2025"
    # Where another implementation departs from Zircon's code: its own prefix and op
    # functions (spec/overrides.py; the tables are in spec/implementations/). The eras
    # and the doc have none.
    overrides: Overrides = NO_OVERRIDES
    # Zircon rungs this implementation does not have, each with the stated item that
    # says so: a divergence where the other profile took such a rung is explained by
    # that item (proofs/diff.py). Data for the diff only; the spec never reads it.
    lacks: tuple[tuple[str, str], ...] = ()
    # Readings of the page's silences (spec/readings.py) this profile sets otherwise than
    # the kernel's alternative: (name, alternative or ANY). The doc profile sets every
    # one to ANY: it allows each alternative.
    readings: tuple[tuple[str, str], ...] = ()
    # Derived: the ops whose common prefix must run even through a valid VMO handle
    # (spec/op_range.py reads this on every op_range step):
    # PREFETCH where it is not dispatched, and those the overriding prefix names.
    prefix_ops: frozenset[int] = field(init=False, compare=False)

    # Derived: each reading's alternative under this profile (read on the checker's path)
    alternative: dict[str, str] = field(init=False, compare=False, repr=False)

    def reading(self, name: str) -> str:
        """This profile's alternative for a reading (ANY: every one)."""
        return self.alternative[name]

    def __post_init__(self) -> None:
        ops = self.overrides.prefix_ops
        if not self.prefetch:
            ops |= {OP_PREFETCH}
        object.__setattr__(self, "prefix_ops", ops)
        # a name listed twice: its first alternative counts (reversed, so it is set last)
        object.__setattr__(self, "alternative",
                           {r.name: r.kernel for r in READINGS} | dict(reversed(self.readings)))


DOC = Profile(
    name="doc",
    summary="exactly what the reference page allows (docs/page-index.md)",
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
    # where the page is silent, every reading's alternatives (spec/readings.py)
    readings=tuple((r.name, ANY) for r in READINGS),
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
    cache_policy_rules="2023",
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

# The 2024a kernel (artem/fuchsia-mirror): 2025's strict DECOMMIT and discard
# trigger, 2023's up-front ZERO checks, no PREFETCH, legacy attribution
# (info.attribution.legacy: share counts came with RFC-0254, after it). Where the facts
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



def implementation(base: Profile, impl: ModuleType) -> Profile:
    """Another implementation's profile: its base's choices, then the ones its file
    (spec/implementations/) names, its overrides and the Zircon rungs it lacks."""
    return replace(
        base, name=impl.NAME, summary=impl.SUMMARY, kind="implementation",
        catalogue_holds=False, overrides=impl.OVERRIDES, lacks=impl.LACKS, **impl.CHOICES)


# Other implementations (kernel-facts.md 7), each from its own file.
ZCORE = implementation(ZIRCON_2025, zcore)
ECLIPSE = implementation(ZCORE, eclipse)
SEL4ZIRCON = implementation(ZIRCON_2025, sel4zircon)

PROFILES: dict[str, Profile] = {
    p.name: p for p in (DOC, ZIRCON_2023, ZIRCON_2024, ZIRCON_2025, ZCORE, ECLIPSE, SEL4ZIRCON)}
