"""The refinement harness: backends, `vmospec run`, the fuzzer in lockstep with the spec,
the broken variants of the model it must catch, and the known disagreements.

Every fuzz run here is bounded by a number of examples and a fixed seed, never by time.
The broken-variant runs go through a process pool (they are independent), so the whole
file stays well under a minute on two cores.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any

import pytest

from model.variants import VARIANTS
from refinement_tests.backends import (
    Backend,
    BackendError,
    BackendOptions,
    ModelBackend,
    SpecBackend,
    backend_names,
    make_backend,
    register_backend,
)
from refinement_tests.checker import check_trace
from refinement_tests.fuzz import fuzz, lockstep
from refinement_tests.generate import GenStep, GenTrace
from refinement_tests.known import KNOWN, WAIVERS, Known
from refinement_tests.known_witnesses import DIRECTORY, WITNESSES
from refinement_tests.tests.cli_run import run_main
from refinement_tests.trace import Header, Trace, parse_trace_text, read_trace
from spec import abi
from spec.profiles import PROFILES
from vmospec.cli import main

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = sorted((ROOT / "refinement_tests" / "traces" / "examples").glob("*.jsonl"))
PROFILE = PROFILES["zircon-2025"]

VARIANT_EXAMPLES = 1000  # the bound of each broken-variant run (it stops at the catch)



def one_line(err: str) -> str:
    lines = err.splitlines()
    assert len(lines) == 1, f"expected one line on stderr, got {err!r}"
    assert "Traceback" not in err
    return lines[0]


def observe(trace: Trace, backend: Backend) -> list[dict[str, Any]]:
    backend.start(trace.header)
    return [backend.step(s.name, s.kind, s.args) for s in trace.steps]


# --- backends -------------------------------------------------------------------------------


def test_there_are_examples() -> None:
    assert len(EXAMPLES) >= 10


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.name)
def test_backends_agree_on_the_examples(path: Path, tmp_path: Path) -> None:
    """Both backends' observed traces conform, and they agree on every call's status
    (the spec backend takes the first allowed outcome; where the profile leaves a choice,
    here only how much reclaim evicts, the two may differ in that output alone)."""
    trace = read_trace(path)
    seen = {}
    for backend in (SpecBackend(PROFILE), ModelBackend()):
        observed = observe(trace, backend)
        assert all(isinstance(o.get("status"), int) for s, o in zip(trace.steps, observed,
                                                                    strict=True)
                   if s.kind == "call")
        out = tmp_path / f"{backend.name.split(':')[0]}.jsonl"
        assert main(["run", str(path), "--backend", backend.name.split(":")[0], "--out",
                     str(out)]) == 0
        result = check_trace(read_trace(out), PROFILE)
        assert result.conforms, result.divergence
        seen[backend.name.split(":")[0]] = observed
    for step, a, b in zip(trace.steps, seen["spec"], seen["model"], strict=True):
        if step.kind == "call":
            assert a["status"] == b["status"], (step.line, a, b)


def test_backend_protocol_and_registry() -> None:
    assert isinstance(SpecBackend(), Backend) and isinstance(ModelBackend(), Backend)
    assert {"spec", "model"} <= set(backend_names())
    with pytest.raises(BackendError, match="unknown backend 'no-such-backend'"):
        make_backend("no-such-backend")
    with pytest.raises(BackendError, match="unknown broken variant"):
        ModelBackend(broken={"no_such_variant"})


def test_a_third_backend_plugs_in_without_touching_the_harness(tmp_path: Path) -> None:
    """A stand-in for an on-device runner: it forwards to the model and records the
    calls. Registered by name, it runs traces (`vmospec run`) and fuzzes (lockstep)."""

    class Recording:
        name = "recording"

        def __init__(self) -> None:
            self.inner = ModelBackend()
            self.calls = 0

        def start(self, header: Header) -> None:
            self.inner.start(header)

        def step(self, step_name: str, kind: str, args: Mapping[str, Any]) -> dict[str, Any]:
            self.calls += 1
            return self.inner.step(step_name, kind, args)

    made: list[Recording] = []

    def factory(options: BackendOptions) -> Backend:
        made.append(Recording())
        return made[-1]

    register_backend("recording", factory)
    out = tmp_path / "observed.jsonl"
    assert main(["run", str(EXAMPLES[0]), "--backend", "recording", "--out", str(out)]) == 0
    assert read_trace(out).header.meta["backend"] == "recording"
    assert made[-1].calls == len(read_trace(EXAMPLES[0]).steps)
    report = fuzz(made[-1], PROFILE, seconds=None, max_examples=20, seed_value=1)
    assert report.divergence is None and report.steps == made[-1].calls - len(
        read_trace(EXAMPLES[0]).steps)


def test_spec_backend_leaves_out_what_the_profile_only_bounds() -> None:
    trace = parse_trace_text("\n".join([
        '{"vmo_trace": 1, "page_size": 4096}',
        '{"call": "vmo_create", "size": 4096, "options": [], "out": "a"}',
        '{"call": "vmo_create_child", "vmo": "a", "options": ["ZX_VMO_CHILD_SNAPSHOT"],'
        ' "offset": 0, "size": 4096, "out": "c"}',
        '{"call": "vmo_info", "vmo": "c"}',
    ]))
    info = observe(trace, SpecBackend(PROFILES["doc"]))[-1]
    assert info["status"] == abi.OK and info["size"] == 4096
    assert "committed_bytes" not in info  # the page says nothing: doc pins it to 0..S
    # zircon-2025 knows it exactly (info.attribution.2025): a clone of an empty VMO sees no page
    info = observe(trace, SpecBackend(PROFILE))[-1]
    assert info["committed_bytes"] == 0 and info["committed_fractional_scaled_bytes"] == 0


# --- vmospec run ----------------------------------------------------------------------------


def test_run_does_not_carry_a_machine_path(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    src = tmp_path / "t.jsonl"
    src.write_text('{"vmo_trace": 1, "page_size": 4096, "origin": "hand-written from '
                   '/home/someone/build/facts.md (2025 era)", "notes": "see docs/x.md"}\n'
                   '{"call": "vmo_create", "size": 4096, "options": [], "out": "a"}\n')
    out = tmp_path / "observed.jsonl"
    code, _, err = run_main(capsys, "run", str(src), "--backend", "spec", "--out", str(out))
    assert code == 0, err
    meta = read_trace(out).header.meta
    assert meta["origin"] == "hand-written from facts.md (2025 era)"
    assert meta["notes"] == "see docs/x.md"  # a relative path is kept


def test_run_round_trip(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    src = ROOT / "refinement_tests" / "traces" / "examples" / "pager.jsonl"
    out = tmp_path / "observed.jsonl"
    code, stdout, err = run_main(capsys, "run", str(src), "--backend", "model", "--out", str(out))
    assert code == 0 and err == "" and str(out) in stdout
    original, observed = read_trace(src), read_trace(out)
    assert observed.header.meta == {**original.header.meta, "backend": "model"}
    assert observed.header.page_size == original.header.page_size
    assert [(s.kind, s.name, s.args, s.note) for s in observed.steps] == [
        (s.kind, s.name, s.args, s.note) for s in original.steps]
    assert all("status" in s.expect for s in observed.steps if s.kind == "call")
    assert check_trace(observed, PROFILE).conforms
    # Without --out the same trace goes to stdout; running the observed trace again
    # observes the same outcomes.
    code, stdout, _ = run_main(capsys, "run", str(src), "--backend", "model")
    assert code == 0
    assert stdout.splitlines() == out.read_text(encoding="utf-8").splitlines()
    again = tmp_path / "again.jsonl"
    assert main(["run", str(out), "--backend", "model", "--out", str(again)]) == 0
    assert again.read_text(encoding="utf-8") == out.read_text(encoding="utf-8")


def test_run_json_summary(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "o.jsonl"
    code, stdout, _ = run_main(capsys, "run", str(EXAMPLES[0]), "--backend", "spec",
                               "--profile", "zircon-2023", "--out", str(out), "--json")
    assert code == 0
    summary = json.loads(stdout)
    assert summary["backend"] == "spec:zircon-2023" and summary["out"] == str(out)


@pytest.mark.parametrize("argv, message", [
    (["--backend", "no-such-backend"], "unknown backend 'no-such-backend'"),
    (["--backend", "spec", "--broken", "cow_lost"], "--broken"),
    (["--backend", "model", "--broken", "nope"], "invalid choice: 'nope'"),
    (["--backend", "model", "--out", "/proc/no/such/dir/o.jsonl"], "cannot write"),
], ids=["backend", "broken-spec", "broken-name", "out"])
def test_run_bad_input(argv: list[str], message: str,
                       capsys: pytest.CaptureFixture[str]) -> None:
    code, stdout, err = run_main(capsys, "run", str(EXAMPLES[0]), *argv)
    assert code == 2 and stdout == ""
    assert message in one_line(err)


def test_run_malformed_trace(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"vmo_trace": 1, "page_size": 4096}\n{"call": "vmo_explode"}\n')
    code, _, err = run_main(capsys, "run", str(bad), "--backend", "model")
    assert code == 2 and one_line(err).startswith(f"{bad}:2: unknown call")
    code, _, err = run_main(capsys, "run", str(tmp_path / "none.jsonl"), "--backend", "model")
    assert code == 2 and "no such file" in one_line(err)


# --- the fuzzer against the correct model -------------------------------------------------


def test_short_fuzz_of_the_model_finds_no_divergence(tmp_path: Path) -> None:
    report = fuzz(ModelBackend(), PROFILE, seconds=None, max_examples=300, seed_value=0,
                  out_dir=tmp_path)
    assert report.divergence is None, report.divergence
    assert report.traces >= 300 and report.steps > 1000
    assert not list(tmp_path.iterdir())  # nothing failed, nothing written
    cov = report.coverage_report()
    assert cov["calls"]["missing"] == []
    assert cov["op_status"]["reached_of_target"] >= cov["op_status"]["target_pairs"] // 2
    assert len(cov["vmo_kinds"]["missing"]) <= 2


def test_fuzz_is_reproducible_from_its_seed() -> None:
    a = fuzz(ModelBackend(), PROFILE, seconds=None, max_examples=40, seed_value=7)
    b = fuzz(ModelBackend(), PROFILE, seconds=None, max_examples=40, seed_value=7)
    assert (a.traces, a.steps, a.coverage.op_status) == (b.traces, b.steps, b.coverage.op_status)


def test_fuzz_cli_json(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run_main(capsys, "fuzz", "--backend", "model", "--max-examples", "30",
                            "--seed", "3", "--out", str(tmp_path), "--json")
    assert code == 0
    report = json.loads(out)
    assert {"steps", "traces", "divergences", "coverage"} <= set(report)
    assert report["divergences"] == [] and report["traces"] >= 30
    assert report["coverage"]["op_status"]["target_pairs"] > 50


@pytest.mark.parametrize("argv, message", [
    (["--backend", "model", "--seconds", "-1"], "argument --seconds: expected seconds above 0"),
    (["--backend", "nope"], "unknown backend 'nope'"),
    (["--backend", "model", "--out", "/proc/no/such"], "cannot write"),
    (["--backend", "model", "--max-examples", "0"], "--max-examples"),
    (["--backend", "model", "--broken", "nope"], "invalid choice: 'nope'"),
], ids=["seconds", "backend", "out", "examples", "broken"])
def test_fuzz_bad_input(argv: list[str], message: str,
                        capsys: pytest.CaptureFixture[str]) -> None:
    code, stdout, err = run_main(capsys, "fuzz", *argv)
    assert code == 2 and stdout == ""
    assert message in one_line(err)


def test_fuzz_cli_reports_a_divergence(tmp_path: Path, capsys: pytest.CaptureFixture[str]
                                       ) -> None:
    code, out, _ = run_main(capsys, "fuzz", "--backend", "model", "--broken",
                            "lock_range_unchecked", "--max-examples", "200", "--seed", "0",
                            "--out", str(tmp_path))
    assert code == 1
    saved = list(tmp_path.glob("*.jsonl"))
    assert len(saved) == 1
    assert f"replay: vmospec check {saved[0]} --profile zircon-2025" in out
    assert main(["check", str(saved[0])]) == 1


# --- the broken variants --------------------------------------------------------------------


def _catch(variant: str, out_dir: str) -> dict[str, Any]:
    # Shrinking by removing steps only: hypothesis's own shrinker costs seconds per
    # variant; test_hypothesis_shrinks_a_failure covers it.
    report = fuzz(ModelBackend(broken={variant}), PROFILE, seconds=None,
                  max_examples=VARIANT_EXAMPLES, seed_value=0, out_dir=Path(out_dir),
                  trace_name=f"{variant}.jsonl", hypothesis_shrink=False)
    return {"caught": report.divergence is not None, "path": report.trace_path,
            "steps": report.shrunk_steps, "traces": report.traces_to_catch,
            "seconds": report.caught_after}


@pytest.fixture(scope="module")
def caught(tmp_path_factory: pytest.TempPathFactory) -> dict[str, dict[str, Any]]:
    out = str(tmp_path_factory.mktemp("variants"))
    names = sorted(VARIANTS)
    with ProcessPoolExecutor(max_workers=min(4, os.cpu_count() or 1)) as pool:
        results = list(pool.map(_catch, names, [out] * len(names)))
    return dict(zip(names, results, strict=True))


def test_variant_catalogue_is_covered() -> None:
    assert len(VARIANTS) >= 15


@pytest.mark.parametrize("variant", sorted(VARIANTS))
def test_fuzz_catches_variant(variant: str, caught: dict[str, dict[str, Any]]) -> None:
    """A bounded run (fixed seed, at most VARIANT_EXAMPLES traces) finds the broken
    behaviour; the shrunk trace it saved is one `check` rejects, at its last step."""
    result = caught[variant]
    assert result["caught"], f"{variant}: not caught in {VARIANT_EXAMPLES} traces"
    trace = read_trace(result["path"])
    assert len(trace.steps) == result["steps"] <= 10
    verdict = check_trace(trace, PROFILE)
    assert not verdict.conforms
    assert verdict.divergence is not None and verdict.divergence.step == len(trace.steps)
    assert trace.header.meta["backend"] == f"model+broken:{variant}"
    # The catch is the variant's doing: the same steps on the correct model conform.
    steps = tuple(GenStep(s.name, s.kind, s.args) for s in trace.steps)
    clean = lockstep(GenTrace(trace.header.page_size, trace.header.config, steps),
                     ModelBackend(), PROFILE)
    assert clean.divergence is None, clean.divergence


def test_hypothesis_shrinks_a_failure(tmp_path: Path) -> None:
    """With hypothesis's shrinker (the default), a failure found late in a long trace
    comes back as the few steps that show it, and every smaller failing trace was
    written on the way (the file is there whatever happens after)."""
    report = fuzz(ModelBackend(broken={"unlock_at_zero_ok"}), PROFILE, seconds=None,
                  max_examples=300, seed_value=2, out_dir=tmp_path, max_steps=40)
    assert report.divergence is not None and report.trace_path is not None
    trace = read_trace(report.trace_path)
    assert len(trace.steps) == report.shrunk_steps <= 3
    verdict = check_trace(trace, PROFILE)
    assert verdict.divergence is not None and verdict.divergence.step == len(trace.steps)
    assert [p.name for p in tmp_path.iterdir()] == [Path(report.trace_path).name]


# --- known disagreements --------------------------------------------------------------------


def test_every_known_disagreement_has_a_witness() -> None:
    assert set(WITNESSES) == set(KNOWN)
    assert {p.stem for p in DIRECTORY.glob("*.jsonl")} == set(KNOWN)
    assert set(WAIVERS) == {n for n, k in KNOWN.items() if k.how == "waive"}


def test_no_disagreement_is_left() -> None:
    """Issue 11 resolved the last one (children of pager-backed VMOs read through)."""
    assert KNOWN == {} and WAIVERS == {} and WITNESSES == {}
    assert not list(DIRECTORY.glob("*.jsonl"))


REGRESSIONS = [p for p in EXAMPLES if p.name.startswith("regression_")]


def test_resolved_disagreements_are_regression_examples() -> None:
    """Twenty-three disagreements were resolved (notes/fuzz-coverage.md); each witness is
    an example now, and none is still listed as known."""
    assert len(REGRESSIONS) == 23
    assert not {p.stem.removeprefix("regression_") for p in REGRESSIONS} & set(KNOWN)


@pytest.mark.parametrize("path", REGRESSIONS, ids=lambda p: p.name)
def test_regression_example_is_what_the_model_does(path: Path) -> None:
    """The model still observes exactly what the example records, and the spec allows
    it (test_examples checks that part, and that a mutant of the spec is caught)."""
    trace = read_trace(path)
    observed = observe(trace, ModelBackend())
    for step, got in zip(trace.steps, observed, strict=True):
        want = {k: (v if k != "status" else next(iter(v.statuses)))
                for k, v in step.expect.items()}
        assert {k: got[k] for k in want} == want, step.line
    assert check_trace(trace, PROFILE).conforms


def test_known_disagreements_do_not_fail_a_run_but_are_counted(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """A waived kind ends its trace as known; with --known it is a divergence. No real
    disagreement is left, so a stand-in is waived: the model with copy-on-write lost."""
    monkeypatch.setitem(KNOWN, "stand-in", Known("waive", "a snapshot sees later writes"))
    monkeypatch.setitem(WAIVERS, "stand-in", lambda seen: seen.name == "vmo_read")
    trace = GenTrace(4096, {"debugging_syscalls": False, "page_loaning": False}, (
        GenStep("vmo_create", "call", {"size": 4096, "options": 0, "out": "a"}),
        GenStep("vmo_write", "call", {"vmo": "a", "offset": 0, "data": ((0x11, 1),)}),
        GenStep("vmo_create_child", "call", {"vmo": "a", "options": abi.CHILD_SNAPSHOT,
                                             "offset": 0, "size": 4096, "out": "c"}),
        GenStep("vmo_write", "call", {"vmo": "a", "offset": 0, "data": ((0xFF, 1),)}),
        GenStep("vmo_read", "call", {"vmo": "c", "offset": 0, "length": 1})))
    broken = ModelBackend(broken={"cow_lost"})
    quiet = lockstep(trace, broken, PROFILE, waive=frozenset({"stand-in"}))
    assert quiet.divergence is None and quiet.known == "stand-in"
    loud = lockstep(trace, ModelBackend(broken={"cow_lost"}), PROFILE, waive=frozenset())
    assert loud.divergence is not None and loud.divergence.step == 5


def test_lockstep_reports_a_crash_of_the_backend() -> None:
    class Crashing(ModelBackend):
        def step(self, step_name: str, kind: str, args: Mapping[str, Any]) -> dict[str, Any]:
            raise RuntimeError("device went away")

    trace = GenTrace(4096, {"debugging_syscalls": False, "page_loaning": False},
                     (GenStep("pager_create", "call", {"out": "p"}),))
    result = lockstep(trace, Crashing(), PROFILE)
    assert result.divergence is not None and "device went away" in result.divergence.reason


def test_step_removal_folds_a_slice_into_its_parent() -> None:
    """The window scenario (a slice, ZERO through it) of zero_misses_last_byte shrinks
    to ZERO on the parent at the slice's offset: one step fewer."""
    from refinement_tests.fuzz import _drop_steps

    p = 4096
    steps = (
        GenStep("vmo_create", "call", {"size": 4 * p, "options": 0, "out": "v"}),
        GenStep("vmo_write", "call", {"vmo": "v", "offset": 0, "data": ((1, 4 * p),)}),
        GenStep("vmo_create_child", "call", {"vmo": "v", "options": abi.CHILD_SLICE,
                                              "offset": p, "size": 3 * p, "out": "s"}),
        GenStep("vmo_op_range", "call", {"vmo": "s", "op": abi.OP_ZERO, "offset": 0,
                                          "size": p, "buffer_size": 0,
                                          "buffer_null": False}),
        GenStep("vmo_read", "call", {"vmo": "v", "offset": 0, "length": 4 * p}),
    )
    backend = ModelBackend(broken={"zero_misses_last_byte"})
    trace = GenTrace(p, {"debugging_syscalls": False, "page_loaning": False}, steps)
    result = lockstep(trace, backend, PROFILE)
    assert result.divergence is not None and result.divergence.step == 5
    shrunk, r = _drop_steps(trace, result, backend, PROFILE, None, {}, frozenset())
    assert r.divergence is not None
    assert [g.name for g in shrunk.steps] == ["vmo_create", "vmo_write", "vmo_op_range",
                                              "vmo_read"]
    assert shrunk.steps[2].args["vmo"] == "v" and shrunk.steps[2].args["offset"] == p


@pytest.mark.parametrize("seed_value", [0, 1, 2])
def test_a_divergence_in_an_examples_last_slots_is_a_catch_not_a_flaky_failure(
        seed_value: int) -> None:
    """Hypothesis runs a failing example again to confirm it; the slots that example
    runs must not depend on how many traces the batch has left by then."""
    r = fuzz(ModelBackend(broken={"commit_maps_zero_page"}), PROFILE, seconds=None,
             max_examples=1000, seed_value=seed_value, out_dir=None,
             hypothesis_shrink=False)
    assert r.divergence is not None


def test_step_removal_repeats_until_nothing_goes() -> None:
    """Seed 1 of lock_buffer_keeps_lock: hypothesis leaves 20 steps; one pass of
    removal from the end keeps an UNLOCK that can go once a later step has gone (4
    steps); repeated passes reach create, LOCK with a null buffer, UNLOCK."""
    r = fuzz(ModelBackend(broken={"lock_buffer_keeps_lock"}), PROFILE, seconds=None,
             max_examples=1000, seed_value=1, out_dir=None)
    assert r.divergence is not None and r.shrunk_steps == 3
