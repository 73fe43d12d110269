"""Whole outcomes by z3 (proofs/whole.py): the symbolic search finds where a reading's
alternatives are told apart, its witnesses replay, and it finds nothing where the two
alternatives behave alike."""

from __future__ import annotations

import multiprocessing
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from proofs import effects, whole
from refinement_tests.checker import check_trace
from refinement_tests.trace import read_trace
from spec.profiles import PROFILES
from spec.readings import READING_BY_NAME
from vmospec.hunt_cmd import write_trace_file


def _one(reading: str, shape: str, context: str, label: str
         ) -> effects.EffectInstance | None:
    r = READING_BY_NAME[reading]
    pa, pb = whole.variants(r)
    prefix = dict(whole.contexts(shape, "a"))[context]
    call = dict(whole.calls(r, "a"))[label]
    return whole._search_one(r, pa, pb, shape, whole._state(shape), "a", context, prefix,
                             label, call)


def _in_fresh_process(check: Callable[..., None], *args: Any) -> None:
    """Run `check` in a new process: z3's search, bounded by its count of work, then
    starts from the same state whatever earlier tests (some bounded by seconds, so by
    the machine's load) did in this one. An assertion failing there fails here."""
    with multiprocessing.get_context("spawn").Pool(1) as pool:
        pool.apply(check, args)


@pytest.mark.parametrize(("reading", "shape", "context", "label"), [
    ("lock-nesting", "discardable", "fresh", "LOCK"),
    ("zero-decommits", "anonymous", "after a COMMIT", "ZERO"),
    ("commit-rounding", "anonymous", "fresh", "COMMIT"),
    ("discard-unlocked_at_creation", "discardable", "fresh", "reclaim"),
])
def test_z3_finds_known_differences_whose_witnesses_replay(
        tmp_path: Path, reading: str, shape: str, context: str, label: str) -> None:
    """Each known difference is found from the symbolic state; both records conform
    under doc (the trace checker replays them), each under its own alternative only,
    and they differ at the step that tells them apart."""
    _in_fresh_process(_known_difference, tmp_path, reading, shape, context, label)


def _known_difference(tmp_path: Path, reading: str, shape: str, context: str, label: str
                      ) -> None:
    i = _one(reading, shape, context, label)
    assert i is not None
    assert i.found_by == "z3"
    assert i.steps_a[i.differ_at].outcome != i.steps_b[i.differ_at].outcome
    pa, pb = whole.variants(i.reading)
    for steps, mine, other in ((i.steps_a, pa, pb), (i.steps_b, pb, pa)):
        assert effects.conforms(mine, steps) and not effects.conforms(other, steps)
        path = tmp_path / f"{reading}.jsonl"
        write_trace_file(path, steps, {})
        r = check_trace(read_trace(str(path)), PROFILES["doc"])
        assert r.conforms, r.divergence


def test_the_witness_is_minimal() -> None:
    """z3's model is made small: a one-page VMO, and the least offset and size."""
    _in_fresh_process(_minimal_witness)


def _minimal_witness() -> None:
    i = _one("zero-decommits", "anonymous", "after a COMMIT", "ZERO")
    assert i is not None
    create, commit, zero = i.steps_a[:3]
    assert create.args["size"] == 4096
    assert (commit.args["offset"], commit.args["size"]) == (0, 1)
    assert (zero.args["offset"], zero.args["size"]) == (0, 4096)


def test_alternatives_that_behave_alike_give_nothing() -> None:
    """A broken reading whose second alternative is the first: z3 finds no input
    that tells them apart, so the search reports no instance (the check is not
    vacuous: the same search with the real alternatives finds one)."""
    _in_fresh_process(_alike_alternatives)


def _alike_alternatives() -> None:
    # a process of its own, so the patches need no undoing
    r = READING_BY_NAME["lock-nesting"]
    pa, _pb = whole.variants(r)
    assert _one("lock-nesting", "discardable", "fresh", "LOCK") is not None
    whole.variants = lambda _r: (pa, pa)  # type: ignore[assignment]
    assert _one("lock-nesting", "discardable", "fresh", "LOCK") is None
    whole.SHAPES = ("discardable",)
    assert whole.search(r) == []
