"""The bundled example traces conform under zircon-2025, and they have teeth: each one
diverges under some deliberately broken spec, and each broken spec is caught by some
example."""

from __future__ import annotations

import re
from functools import cache
from pathlib import Path

import pytest

from refinement_tests.checker import check_trace
from refinement_tests.spec_mutants import MUTANTS
from refinement_tests.stepper import StateSet, agrees
from refinement_tests.tests.teeth import teeth_tests
from refinement_tests.trace import Trace, read_trace
from spec.profiles import PROFILES

EXAMPLES = sorted((Path(__file__).parent.parent / "traces" / "examples").glob("*.jsonl"))


@cache
def _trace(path: Path) -> Trace:
    return read_trace(path)


@cache
def _caught_by(mutant: str) -> frozenset[str]:
    """The examples that diverge under this mutant."""
    with MUTANTS[mutant]():
        return frozenset(
            p.name for p in EXAMPLES if not check_trace(_trace(p), PROFILES["zircon-2025"]).conforms
        )


def test_there_are_examples() -> None:
    assert len(EXAMPLES) >= 10


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.name)
def test_example_conforms_under_zircon_2025(path: Path) -> None:
    result = check_trace(_trace(path), PROFILES["zircon-2025"])
    assert result.conforms, result.divergence


test_example_diverges_under_some_mutant, test_mutant_is_caught_by_some_example = \
    teeth_tests(EXAMPLES, MUTANTS, _caught_by)


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.name)
def test_every_judged_step_has_a_note(path: Path) -> None:
    """Examples name the kernel fact behind each call they check (issue 2, item 5)."""
    trace = _trace(path)
    checked = [s for s in trace.steps if s.kind == "call" and "status" in s.expect]
    noted = [s for s in checked if s.note]
    assert len(noted) >= len(checked) // 2, f"{path.name}: most checked calls lack a note"


NOTE_IDS = re.compile(r"([a-z][a-z0-9_]*(?:\.[a-z0-9_]+)+(?:, [a-z][a-z0-9_]*(?:\.[a-z0-9_]+)+)*)"
                      r"(?: \([^)]*\))?: ")


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.name)
def test_notes_cite_the_rule_the_spec_takes(path: Path) -> None:
    """A note that opens with ids names exactly the rule the spec takes for that step, so
    the prose beside a step cannot drift from the rule that judges it."""
    trace = _trace(path)
    states = StateSet(PROFILES["zircon-2025"], trace.header.page_size, trace.header.config)
    cited = 0
    for step in trace.steps:
        if step.raw.get("not_run") is not None:
            continue
        m = NOTE_IDS.match(step.note or "")
        if m:
            taken = {p.why for p in states.paths(step.name, step.args)
                     if agrees(step.expect, p.result)}
            assert taken == {m.group(1)}, f"{path.name} line {step.line}: note cites " \
                f"{m.group(1)}, the spec takes {sorted(taken)}"
            cited += 1
        assert states.step(step.name, step.args, step.expect)
    if not path.name.startswith("regression_"):  # those cite their rules in the header
        assert cited >= len(trace.steps) // 2, f"{path.name}: most notes cite no rule"
