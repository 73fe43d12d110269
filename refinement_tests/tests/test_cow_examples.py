"""The copy-on-write examples (refinement_tests/traces/cow/, one per scenario of kernel
facts 8.2.4, 8.3.3, 8.4 and 8.5 and era) conform under the profile their header names,
each is caught by a broken copy-on-write rule and each broken rule by some example, and
a count off by one page on any vmo_info step is rejected."""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path

import pytest

from refinement_tests.checker import check_trace
from refinement_tests.cow_mutants import COW_MUTANTS
from refinement_tests.tests.teeth import teeth_tests
from refinement_tests.trace import Trace, parse_trace_text, read_trace
from spec.profiles import PROFILES

COW = sorted((Path(__file__).parent.parent / "traces" / "cow").glob("*.jsonl"))
COUNTS = ("committed_bytes", "populated_bytes", "committed_private_bytes",
          "populated_private_bytes", "committed_scaled_bytes", "populated_scaled_bytes")


@cache
def _trace(path: Path) -> Trace:
    return read_trace(path)


def _profiles(path: Path) -> list[str]:
    """The header's era; a legacy trace holds for the 2023 kernel as well."""
    kernel = _trace(path).header.meta["kernel"]
    return [kernel, "zircon-2023"] if kernel == "zircon-2024" else [kernel]


@cache
def _caught_by(mutant: str) -> frozenset[str]:
    with COW_MUTANTS[mutant]():
        return frozenset(p.name for p in COW for prof in _profiles(p)
                         if not check_trace(_trace(p), PROFILES[prof]).conforms)


def test_both_eras_of_every_scenario() -> None:
    names = {p.name.split(".")[0] for p in COW}
    assert len(names) >= 10
    for name in names:
        assert {p.name.split(".")[1] for p in COW if p.name.startswith(name + ".")} == \
            {"2024", "2025"}


@pytest.mark.parametrize("path", COW, ids=lambda p: p.name)
def test_conforms_under_its_era(path: Path) -> None:
    for prof in _profiles(path):
        result = check_trace(_trace(path), PROFILES[prof])
        assert result.conforms, (prof, result.divergence)


test_caught_by_a_broken_rule, test_broken_rule_is_caught = \
    teeth_tests(COW, COW_MUTANTS, _caught_by)


@pytest.mark.parametrize("path", COW, ids=lambda p: p.name)
def test_every_count_off_by_a_page_is_caught(path: Path) -> None:
    """Each count on each vmo_info step, one page more and (where it can) one page less:
    the checker rejects every such trace at that step."""
    lines = path.read_text().splitlines()
    mutated = 0
    for i, line in enumerate(lines):
        step = json.loads(line)
        if step.get("call") != "vmo_info":
            continue
        for key in COUNTS:
            if key not in step:
                continue
            for delta in (4096, -4096):
                if step[key] + delta < 0:
                    continue
                bad = dict(step, **{key: step[key] + delta})
                text = "\n".join([*lines[:i], json.dumps(bad), *lines[i + 1:]]) + "\n"
                trace = parse_trace_text(text, str(path))
                for prof in _profiles(path):
                    result = check_trace(trace, PROFILES[prof])
                    assert not result.conforms and result.divergence is not None
                    assert result.divergence.step == i, (key, delta, prof)
                mutated += 1
    assert mutated > 0
