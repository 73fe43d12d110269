"""The invariant catalogue: proofs that hold are non-vacuous, and every invariant fails,
with a counterexample trace that replays, on a deliberately broken spec."""

from __future__ import annotations

from pathlib import Path

import pytest

from proofs.catalogue import CATALOGUE
from proofs.counterexample import trace_for
from proofs.prover import Obligation, discharge, obligations, step_paths
from refinement_tests.checker import check_trace
from refinement_tests.cow_mutants import COW_MUTANTS
from refinement_tests.spec_mutants import MUTANTS, Mutant
from refinement_tests.trace import Header, read_trace, step_to_json, write_trace
from spec.profiles import PROFILES

# For each invariant: a broken spec it must catch, and one obligation that catches it.
BREAKS: dict[str, tuple[str, Obligation]] = {
    "decommit-zeroes": ("decommit-keeps-bytes", Obligation(
        "decommit-zeroes", "zircon-2025", "anonymous", "a", "DECOMMIT")),
    "zero-zeroes": ("zero-whole-pages-off-by-one", Obligation(
        "zero-zeroes", "zircon-2025", "anonymous", "a", "ZERO")),
    "frame": ("commit-one-page-too-many", Obligation(
        "frame", "zircon-2025", "anonymous", "a", "COMMIT")),
    "content-preserved": ("commit-clears-bytes", Obligation(
        "content-preserved", "zircon-2025", "anonymous", "a", "COMMIT")),
    "uncommitted-zero": ("decommit-keeps-bytes", Obligation(
        "uncommitted-zero", "zircon-2025", "anonymous", "a", "DECOMMIT")),
    "errors-atomic": ("errors-apply-effect", Obligation(
        "errors-atomic", "zircon-2025", "anonymous", "a", "DECOMMIT")),
    "rights": ("no-rights-checks", Obligation(
        "rights", "zircon-2025", "anonymous", "a", "DECOMMIT")),
    "lock-prevents-discard": ("reclaim-ignores-lock", Obligation(
        "lock-prevents-discard", "zircon-2025", "discardable", "a", "reclaim")),
    "discard-visible": ("try-lock-ignores-discard", Obligation(
        "discard-visible", "zircon-2025", "discardable", "a", "TRY_LOCK")),
    "lock-counting": ("unlock-unbalanced-ok", Obligation(
        "lock-counting", "zircon-2025", "discardable", "a", "UNLOCK")),
    "no-wrap-around": ("commit-unbounded", Obligation(
        "no-wrap-around", "zircon-2025", "anonymous", "a", "COMMIT")),
    "window": ("slice-ignores-window", Obligation(
        "window", "zircon-2025", "slice", "c", "DECOMMIT")),
    "family-isolation": ("copy-on-write-lost", Obligation(
        "family-isolation", "zircon-2025", "three-sharer", "c", "vmo_write")),
    "read-through": ("child-is-a-copy", Obligation(
        "read-through", "zircon-2025", "pager-child", "c", "vmo_read")),
    "snapshot-isolation": ("copy-on-write-lost", Obligation(
        "snapshot-isolation", "zircon-2025", "snapshot", "c", "vmo_write")),
    "zero-through-merge": ("merge-drops-markers", Obligation(
        "zero-through-merge", "zircon-2025", "three-sharer", "d", "handle_close")),
    "isolation-through-merge": ("merge-frees-everything", Obligation(
        "isolation-through-merge", "zircon-2025", "two-sharer", "c", "handle_close")),
    "share-counts": ("shared-pages-unsplit", Obligation(
        "share-counts", "zircon-2025", "two-sharer", "c", "vmo_write")),
    "legacy-one-owner": ("legacy-shared-page-unowned", Obligation(
        "legacy-one-owner", "zircon-2024", "two-sharer", "c", "vmo_write")),
    "status-domain": ("invalid-op-misreported", Obligation(
        "status-domain", "zircon-2025", "anonymous", "a", "invalid op 15")),
    "well-formed": ("discard-keeps-pages", Obligation(
        "well-formed", "zircon-2025", "discardable", "a", "reclaim")),
}


BROKEN: dict[str, Mutant] = {**MUTANTS, **COW_MUTANTS}


def test_catalogue_is_complete() -> None:
    assert set(BREAKS) == set(CATALOGUE)
    assert len(CATALOGUE) >= 15
    for inv in CATALOGUE.values():
        assert inv.statement and inv.source


def test_there_are_enough_obligations() -> None:
    assert len(list(obligations(["zircon-2025"]))) >= 300


@pytest.mark.parametrize("name", sorted(BREAKS))
def test_invariant_holds_non_vacuously_on_the_real_spec(name: str) -> None:
    r = discharge(BREAKS[name][1])
    if name == "status-domain":  # invalid ops are INVALID_ARGS: a listed status
        assert r.status == "proved"
    else:
        assert r.status == "proved", r
    assert r.nonvacuous is True


# More broken specs the copy-on-write invariants catch: a step through the pager root,
# and the private count of the share-count law.
MORE_BREAKS: list[tuple[str, Obligation]] = [
    ("child-is-a-copy", Obligation("read-through", "zircon-2025", "pager-child", "a",
                                   "COMMIT")),
    ("private-counts-shared", Obligation("share-counts", "zircon-2025", "three-sharer", "d",
                                         "COMMIT")),
]


@pytest.mark.parametrize(("mutant", "ob"), [*(BREAKS[n] for n in sorted(BREAKS)), *MORE_BREAKS],
                         ids=lambda x: x.name if isinstance(x, Obligation) else x)
def test_invariant_fails_on_a_broken_spec_with_a_replaying_trace(
    mutant: str, ob: Obligation, tmp_path: Path
) -> None:
    name = ob.invariant
    step_paths.cache_clear()  # paths explored on the real spec must not be reused
    try:
        with BROKEN[mutant]():
            r = discharge(ob)
            assert r.status == "counterexample", (mutant, r)
            steps = trace_for(r)
    finally:
        step_paths.cache_clear()
    path = tmp_path / "cex.jsonl"
    write_trace(path, Header(4096), [step_to_json(s.name, s.kind, s.args, s.outcome, s.note)
                                     for s in steps])
    trace = read_trace(path)
    profile = PROFILES[ob.profile]
    with BROKEN[mutant]():
        assert check_trace(trace, profile).conforms  # it replays what the broken spec did
    result = check_trace(trace, profile)
    assert not result.conforms, f"{name}: the real spec agrees: {path.read_text()}"
