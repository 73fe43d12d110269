"""The invariant catalogue: proofs that hold are non-vacuous, and every invariant fails,
with a counterexample trace that replays, on a deliberately broken spec."""

from __future__ import annotations

from contextlib import AbstractContextManager
from pathlib import Path
from typing import Any
from unittest import mock

import pytest

from proofs.catalogue import CATALOGUE
from proofs.counterexample import trace_for
from proofs.prover import Obligation, discharge, obligations, step_paths
from refinement_tests.checker import check_trace
from refinement_tests.cow_mutants import COW_MUTANTS
from refinement_tests.spec_mutants import MUTANTS, Mutant
from refinement_tests.trace import Header, read_trace, step_to_json, write_trace
from spec import cow
from spec.explore import Cx
from spec.profiles import PROFILES
from spec.state import State

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
    "read-through": ("through-ignores-window", Obligation(
        "read-through", "zircon-2025", "pager-child", "a", "COMMIT")),
    "snapshot-isolation": ("copy-on-write-lost", Obligation(
        "snapshot-isolation", "zircon-2025", "snapshot", "c", "vmo_write")),
    "status-domain": ("invalid-op-misreported", Obligation(
        "status-domain", "zircon-2025", "anonymous", "a", "invalid op 15")),
    "well-formed": ("discard-keeps-pages", Obligation(
        "well-formed", "zircon-2025", "discardable", "a", "reclaim")),
}


_SIGHT = cow.sight


def _sight_without_window(cx: Cx, st: State, obj: int) -> Any:
    """A child reads its parent at its own offsets, as if its window were 0."""
    seen, through = _SIGHT(cx, st, obj)
    return seen, None if through is None else (through[0], through[1], 0)


# A broken rule only the proof needs (every cow example's read-through child sits at 0).
def _through_ignores_window() -> AbstractContextManager[Any]:
    return mock.patch.object(cow, "sight", _sight_without_window)


BROKEN: dict[str, Mutant] = {**MUTANTS, **COW_MUTANTS,
                             "through-ignores-window": _through_ignores_window}


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


@pytest.mark.parametrize("name", sorted(BREAKS))
def test_invariant_fails_on_a_broken_spec_with_a_replaying_trace(
    name: str, tmp_path: Path
) -> None:
    mutant, ob = BREAKS[name]
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
