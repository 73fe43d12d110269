"""Tests of the one stepper of possible states (refinement_tests/stepper.py) and of its
budget, as `check`, the lockstep and `fuzz` meet it (notes/state-budget.md)."""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest

from refinement_tests.backends import SpecBackend
from refinement_tests.checker import StateBudgetError, check_trace
from refinement_tests.fuzz import fuzz, lockstep
from refinement_tests.generate import GenStep, GenTrace
from refinement_tests.stepper import MAX_STATES, StateSet, observed_expect, work_budget
from refinement_tests.tests.cli_run import run_main
from refinement_tests.trace import Header, parse_trace_text, read_trace
from spec import abi
from spec.profiles import PROFILES

PAGE = 4096
HEADER = {"vmo_trace": 1, "page_size": PAGE}


def commits_then_sizes(commits: int, sizes: int) -> list[dict[str, Any]]:
    """A 16-page VMO, `commits` COMMITs of distinct pages with no status (under doc each
    may have run out of memory: the possible states double), then `sizes` get_size calls
    that record everything (the set neither grows nor shrinks)."""
    lines: list[dict[str, Any]] = [{"call": "vmo_create", "size": 16 * PAGE, "options": 0,
                                    "out": "a", "status": "ZX_OK"}]
    lines += [{"call": "vmo_op_range", "vmo": "a", "op": "ZX_VMO_OP_COMMIT",
               "offset": i * PAGE, "size": PAGE} for i in range(commits)]
    lines += [{"call": "vmo_get_size", "vmo": "a", "status": "ZX_OK", "size": 16 * PAGE}
              for _ in range(sizes)]
    return lines


def trace_text(lines: list[dict[str, Any]]) -> str:
    return "\n".join(json.dumps(x) for x in [HEADER, *lines]) + "\n"


def check(lines: list[dict[str, Any]], max_states: int = MAX_STATES) -> Any:
    trace = parse_trace_text(trace_text(lines), "t.jsonl")
    return check_trace(trace, PROFILES["doc"], max_states)


def test_unrecorded_statuses_multiply_the_states() -> None:
    r = check(commits_then_sizes(3, 2))
    assert r.conforms and r.max_states == 8
    r = check([{**x, "status": "ZX_OK"} for x in commits_then_sizes(3, 2)])
    assert r.conforms and r.max_states == 1


def test_more_states_at_once_than_the_budget_is_refused_at_that_step() -> None:
    with pytest.raises(StateBudgetError) as e:
        check(commits_then_sizes(9, 0))  # 2^9 states after the ninth COMMIT
    assert e.value.line == 11
    assert str(e.value).startswith("t.jsonl:11: 512 possible states after step 10")
    # a larger budget checks it; a smaller one refuses it earlier
    assert check(commits_then_sizes(9, 0), max_states=512).conforms
    with pytest.raises(StateBudgetError) as e:
        check(commits_then_sizes(9, 0), max_states=16)
    assert e.value.line == 7  # the fifth COMMIT: 32 states


def test_the_work_is_bounded_not_only_the_count() -> None:
    # 32 states are within a count of 256, but carried for ever they cost 32 runs a
    # step: past 256 x (64 + k/32) state-steps, the trace is refused.
    with pytest.raises(StateBudgetError) as e:
        check(commits_then_sizes(5, 1000))
    step = e.value.line - 1
    # the first step whose work goes over the budget (1 + 2 + ... states before it)
    work = sum(2 ** max(0, min(i - 2, 5)) for i in range(1, step + 1))
    assert work > work_budget(MAX_STATES, step)
    assert work - 32 <= work_budget(MAX_STATES, step - 1)
    # 8 states (N/32) may be carried for as long as the trace goes
    assert check(commits_then_sizes(3, 3000)).conforms


class _Unrecorded:
    """The spec as a backend that does not report vmo_op_range statuses."""

    def __init__(self) -> None:
        self.inner = SpecBackend("doc")

    @property
    def name(self) -> str:
        return "unrecorded"

    def start(self, header: Header) -> None:
        self.inner.start(header)

    def step(self, step_name: str, kind: str, args: Mapping[str, Any]) -> dict[str, Any]:
        out = self.inner.step(step_name, kind, args)
        if step_name == "vmo_op_range":
            out.pop("status", None)
        return out


def _gen_commits(n: int) -> GenTrace:
    steps = [GenStep("vmo_create", "call", {"size": 16 * PAGE, "options": 0, "out": "a"})]
    steps += [GenStep("vmo_op_range", "call",
                      {"vmo": "a", "op": abi.OP_COMMIT, "offset": i * PAGE, "size": PAGE,
                       "buffer_size": 0, "buffer_null": False}) for i in range(n)]
    return GenTrace(PAGE, {"debugging_syscalls": False, "page_loaning": False},
                    tuple(steps))


def test_the_lockstep_meets_the_budget_where_the_checker_does(tmp_path: Path) -> None:
    r = lockstep(_gen_commits(9), _Unrecorded(), PROFILES["doc"])
    assert r.divergence is None and r.steps_run == 10
    assert r.over_budget.startswith("512 possible states after step 10")
    r = lockstep(_gen_commits(8), _Unrecorded(), PROFILES["doc"])
    assert not r.over_budget and r.max_states == 256


def test_fuzz_ends_with_an_error_and_saves_the_trace(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    report = fuzz(_Unrecorded(), PROFILES["doc"], seconds=None, max_examples=200,
                  seed_value=10, out_dir=tmp_path, max_states=4)  # seed 10 goes over
    assert report.over_budget and report.divergence is None
    assert report.trace_path is not None
    saved = read_trace(report.trace_path)
    with pytest.raises(StateBudgetError):
        check_trace(saved, PROFILES["doc"], 4)
    assert check_trace(saved, PROFILES["doc"], 1 << 16).conforms
    code, out, err = run_main(capsys, "check", report.trace_path, "--profile", "doc",
                              "--max-states", "4")
    assert code == 2 and err.count("\n") == 1 and "raise --max-states" in err
    assert "1 over the state budget" in out


def test_check_command_exit_2_one_line(tmp_path: Path,
                                        capsys: pytest.CaptureFixture[str]) -> None:
    many = tmp_path / "many.jsonl"
    many.write_text(trace_text(commits_then_sizes(9, 0)))
    fine = tmp_path / "fine.jsonl"
    fine.write_text(trace_text(commits_then_sizes(2, 1)))
    code, out, err = run_main(capsys, "check", str(many), str(fine), "--profile", "doc")
    assert code == 2
    assert err.splitlines() == [err.strip()] and err.startswith(f"{many}:11: ")
    assert "1 of 1 traces conform under doc (4 steps); 1 over the state budget" in out
    code, out, err = run_main(capsys, "check", str(many), "--profile", "doc",
                              "--max-states", "512", "--json")
    assert code == 0 and json.loads(out)["conforming"] == 1
    for bad in ("0", "x", "99999999"):
        code, _out, err = run_main(capsys, "check", str(fine), "--max-states", bad)
        assert code == 2 and err.count("\n") == 1 and "--max-states" in err


def test_a_divergence_leaves_the_states_as_they_were() -> None:
    spec = StateSet(PROFILES["doc"], PAGE, {"debugging_syscalls": False,
                                            "page_loaning": False})
    create = {"size": PAGE, "options": 0, "out": "a"}
    assert spec.step("vmo_create", create, observed_expect({"status": abi.OK}))
    before = list(spec.states)
    assert not spec.step("vmo_get_size", {"vmo": "a"},
                         observed_expect({"status": abi.OK, "size": 2 * PAGE}))
    assert spec.states == before and spec.steps == 1
    assert {p.result.out["size"] for p in spec.paths("vmo_get_size", {"vmo": "a"})} == {PAGE}
