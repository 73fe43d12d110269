"""What the fuzzer reaches: the byte decoder, behavioural coverage, swarm testing, the
two bugs (op, status) coverage could not see, and `--jobs`."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from refinement_tests.backends import ModelBackend
from refinement_tests.checker import check_trace
from refinement_tests.coverage import Behaviour, behaviour_cells
from refinement_tests.fuzz import fuzz
from refinement_tests.generate import Choices, GenStep, decode, range_class, set_size_class
from refinement_tests.trace import read_trace
from spec import abi
from spec.profiles import PROFILES
from vmospec.cli import main

PROFILE = PROFILES["zircon-2025"]
P = 4096


def test_choices_read_monotonically_and_zeros_past_the_end() -> None:
    c = Choices(bytes([0, 255, 128]))
    assert c.num(0, 9) == 0 and c.num(0, 9) == 9 and c.num(0, 1) == 1
    assert c.exhausted and c.num(5, 1000) == 5  # past the end: the first option
    assert [Choices(bytes([b])).num(0, 3) for b in (0, 63, 64, 255)] == [0, 0, 1, 3]
    # the same bytes always decode to the same trace; no bytes give a one-step trace
    buf = bytes(range(256)) * 2
    assert decode(buf) == decode(buf)
    assert len(decode(b"").steps) == 1


def test_range_and_size_classes() -> None:
    s = 4 * P
    assert range_class(0, 0, s, P) == "size-0"
    assert range_class(P, 2 * P, s, P) == "whole-pages"
    assert range_class(P + 1, 10, s, P) == "in-one-page"
    assert range_class(P - 1, 2, s, P) == "head-tail"
    assert range_class(3 * P, 2 * P, s, P) == "past-end"
    assert range_class(2**64 - P, 2 * P, s, P) == "overflow"
    assert set_size_class(s - 5, s, P) == "unaligned-no-grow"
    assert set_size_class(s + 1, s, P) == "grow"
    assert set_size_class(s, s, P) == "same" and set_size_class(P, s, P) == "shrink"
    assert set_size_class(2**64 - 1, s, P) == "too-big"


def _step(name: str, target: str, rng: str, span: tuple[int, int] | None,
          **args: object) -> GenStep:
    return GenStep(name, "call", dict(args), None, target, rng, 1, span)


def test_an_effect_counts_as_observed_only_when_a_later_read_overlaps_it() -> None:
    b = Behaviour()
    b.start()
    zero = _step("vmo_op_range", "slice-at-page", "whole-pages", (P, 2 * P), op=abi.OP_ZERO)
    b.record(zero, {"status": 0})
    b.record(_step("vmo_read", "root", "in-one-page", (3 * P, 3 * P + 1)), {"status": 0})
    assert b.effects[("ZERO", "slice-at-page", "whole-pages")] == 1 and not b.observed
    b.record(_step("vmo_read", "root", "whole-pages", (0, 2 * P)), {"status": 0})
    assert b.observed[("ZERO", "slice-at-page", "whole-pages")] == 1
    b.start()  # a new trace: a read there observes nothing of the last one
    b.record(zero, {"status": 0})
    b.start()
    b.record(_step("vmo_read", "root", "whole-pages", (0, 2 * P)), {"status": 0})
    assert b.observed[("ZERO", "slice-at-page", "whole-pages")] == 1
    assert ("ZERO", "slice-at-page", "whole-pages") in behaviour_cells()


def test_a_short_run_reaches_most_cells_and_names_the_rest() -> None:
    report = fuzz(ModelBackend(), PROFILE, seconds=None, max_examples=1500, seed_value=0)
    assert report.divergence is None
    b = report.coverage_report()["behaviour"]
    assert b["reached"] >= 0.6 * b["cells"]
    assert len(b["missing"]) == b["cells"] - b["reached"]
    assert b["effects_observed"] >= 0.5 * b["effects"]
    # the cells the two planted bugs need were reached, and observed
    reached = {tuple(c) for c in b["missing"]}
    assert ("ZERO", "slice-at-page", "whole-pages") not in reached
    assert ("vmo_set_size", "root", "unaligned-no-grow") not in reached
    assert report.behaviour.observed[("ZERO", "slice-at-page", "whole-pages")]


@pytest.mark.parametrize("variant", ["zero_slice_forgets_window", "set_size_tail_kept"])
def test_the_bugs_op_status_coverage_missed_are_caught(variant: str, tmp_path: Path) -> None:
    report = fuzz(ModelBackend(broken={variant}), PROFILE, seconds=None, max_examples=1000,
                  seed_value=1, out_dir=tmp_path)
    assert report.divergence is not None and report.trace_path is not None
    trace = read_trace(report.trace_path)
    assert len(trace.steps) <= 6
    assert not check_trace(trace, PROFILE).conforms


def test_jobs_merge_into_one_report(tmp_path: Path, capsys: pytest.CaptureFixture[str]
                                    ) -> None:
    argv = ["fuzz", "--backend", "model", "--max-examples", "200", "--seed", "4",
            "--out", str(tmp_path), "--json"]
    assert main([*argv, "--jobs", "1"]) == 0
    one = json.loads(capsys.readouterr().out)
    assert main([*argv, "--jobs", "2"]) == 0
    both = json.loads(capsys.readouterr().out)
    assert len(both["seeds"]) == 2 and both["seeds"][0] == 4
    assert both["traces"] >= one["traces"]  # each worker ran its share of 200 traces
    assert both["coverage"]["behaviour"]["reached"] >= one["coverage"]["behaviour"]["reached"]


def test_jobs_find_shrink_and_save_a_divergence(tmp_path: Path,
                                                capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["fuzz", "--backend", "model", "--broken", "lock_range_unchecked", "--jobs",
                 "2", "--max-examples", "400", "--seed", "0", "--out", str(tmp_path)])
    out = capsys.readouterr().out
    assert code == 1 and "DIVERGENCE" in out
    saved = sorted(tmp_path.glob("*.jsonl"))
    assert saved and any(f"replay: vmospec check {p}" in out for p in saved)
    assert main(["check", str(saved[0])]) == 1


def test_jobs_bad_input(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as e:
        main(["fuzz", "--backend", "model", "--jobs", "0"])
    assert e.value.code == 2
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1 and "--jobs" in err


def test_the_spec_reachable_pairs_are_remembered_by_what_they_are_computed_from(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from refinement_tests import coverage

    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    coverage.spec_reachable.cache_clear()
    computed = coverage.spec_reachable("zircon-2025", P)
    files = list((tmp_path / "vmospec").glob("reachable-*.json"))
    assert len(files) == 1 and computed and ("ZERO", "OK") in computed
    # read back, not computed: a planted answer under the same name is what comes back
    files[0].write_text(json.dumps([["COMMIT", "OK"]]))
    coverage.spec_reachable.cache_clear()
    assert coverage.spec_reachable("zircon-2025", P) == {("COMMIT", "OK")}
    # another page size is another name; an unreadable file is computed afresh
    assert coverage._sweep_digest("zircon-2025", P) != coverage._sweep_digest("zircon-2025", 2 * P)
    files[0].write_text("not json")
    coverage.spec_reachable.cache_clear()
    assert coverage.spec_reachable("zircon-2025", P) == computed
    coverage.spec_reachable.cache_clear()
