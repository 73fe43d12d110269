"""The trace runner's host build and the `device` backend (notes/device.md).

The runner is built here with warnings as errors, and the tests that run traces use the
AddressSanitizer + UndefinedBehaviorSanitizer build, so a memory error in the runner or
the host implementation fails them.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from refinement_tests.backends import BackendError, BatchBackend, make_backend
from refinement_tests.checker import check_trace
from refinement_tests.device.backend import (
    BatchTrace,
    DeviceBackend,
    RunnerFailed,
    build_host_runner,
    observed_json,
)
from refinement_tests.fuzz import fuzz
from refinement_tests.trace import header_to_json, parse_trace_text, read_trace
from spec.profiles import PROFILES
from vmospec.cli import main

EXAMPLES = sorted((Path(__file__).parent.parent / "traces" / "examples").glob("*.jsonl"))
pytestmark = pytest.mark.skipif(shutil.which("make") is None or shutil.which("cc") is None,
                                reason="no C toolchain")


@pytest.fixture(scope="module")
def asan_runner(tmp_path_factory: pytest.TempPathFactory) -> Path:
    build = tmp_path_factory.mktemp("device-build")
    build_host_runner(sanitized=False, build_dir=build)  # -Werror build must pass too
    return build_host_runner(sanitized=True, build_dir=build)


def _observed_trace(path: Path, backend: DeviceBackend) -> str:
    trace = read_trace(path)
    got = backend.run_batch([BatchTrace(trace.header,
                                        [(s.name, s.kind, s.args) for s in trace.steps])])[0]
    lines = [json.dumps(header_to_json(trace.header))]
    lines += [json.dumps(observed_json(s.name, s.kind, s.args, o))
              for s, o in zip(trace.steps, got, strict=True)]
    return "\n".join(lines) + "\n"


def test_every_example_conforms_through_the_host_runner(asan_runner: Path) -> None:
    """All examples in one batch (one round trip); each observed trace conforms under
    zircon-2025. The host build knowingly deviates nowhere the examples reach."""
    backend = DeviceBackend(str(asan_runner))
    traces = [read_trace(p) for p in EXAMPLES]
    got = backend.run_batch([BatchTrace(t.header, [(s.name, s.kind, s.args) for s in t.steps])
                             for t in traces])
    assert len(got) == len(traces)
    failures: list[Any] = []
    for t, obs in zip(traces, got, strict=True):
        assert len(obs) == len(t.steps)
        lines = [json.dumps(header_to_json(t.header))]
        lines += [json.dumps(observed_json(s.name, s.kind, s.args, o))
                  for s, o in zip(t.steps, obs, strict=True)]
        r = check_trace(parse_trace_text("\n".join(lines), t.path), PROFILES["zircon-2025"])
        if not r.conforms:
            failures.append((t.path, r.divergence))
        # and what the example itself records agrees with what the runner observed (the
        # checker cannot see a flag missing from an observation: listed flags must be set)
        # up to a step the runner could not run (a contiguous or physical VMO: it has no
        # BTI and no resource), after which the example's handles are not the runner's
        for s, o in zip(t.steps, obs, strict=True):
            if "not_run" in o:
                assert s.name in ("vmo_create_contiguous", "vmo_create_physical"), (s, o)
                break
            for key, want in s.expect.items():
                seen: Any = o.get(key)
                ok = (want.accepts(seen) if key == "status"
                      else want & ~seen == 0 if key == "flags"
                      else all(seen.get(k) == x for k, x in want.items()) if key == "lock_state"
                      else want == seen)
                if not ok:
                    failures.append((t.path, s.line, key, want, seen))
    assert failures == []


def test_the_host_runner_reports_real_memory(asan_runner: Path) -> None:
    """committed_bytes comes from the memfd's allocated blocks: a write commits, DECOMMIT
    (a hole punched) gives it back."""
    text = (
        '{"vmo_trace": 1, "page_size": 4096}\n'
        '{"call": "vmo_create", "size": 16384, "options": [], "out": "a"}\n'
        '{"call": "vmo_write", "vmo": "a", "offset": 4096, "data": [[7, 8192]]}\n'
        '{"call": "vmo_info", "vmo": "a"}\n'
        '{"call": "vmo_op_range", "vmo": "a", "op": "ZX_VMO_OP_DECOMMIT", "offset": 4096,'
        ' "size": 4096}\n'
        '{"call": "vmo_info", "vmo": "a"}\n'
    )
    t = parse_trace_text(text)
    got = DeviceBackend(str(asan_runner)).run_batch(
        [BatchTrace(t.header, [(s.name, s.kind, s.args) for s in t.steps])])[0]
    assert got[2]["committed_bytes"] == 8192
    assert got[3]["status"] == 0
    assert got[4]["committed_bytes"] == 4096


def test_a_bounded_generated_fuzz_runs_through_the_host_runner(asan_runner: Path) -> None:
    report = fuzz(DeviceBackend(str(asan_runner)), PROFILES["zircon-2025"], seconds=None,
                  max_examples=6, seed_value=7, max_steps=12, batch=6,
                  hypothesis_shrink=False)
    assert report.traces == 6
    assert report.steps > 0
    assert report.divergence is None, report.divergence.summary() if report.divergence else ""


def test_the_device_backend_is_registered_and_batches() -> None:
    backend = make_backend("device")
    assert isinstance(backend, BatchBackend)
    assert backend.name == "device:host"


def test_huge_ranges_cost_what_their_pages_cost(asan_runner: Path) -> None:
    """ZERO, PREFETCH, COMMIT and ALWAYS_NEED over 2^63 bytes of an UNBOUNDED pager VMO
    answer at once: the host walks frames and intervals, never the range."""
    half = 1 << 63
    data = ("vmorun 1\ntrace 4096 0 0 2 6\npager 0\npagervmo 0 16 0 1\n"
            + "".join(f"op 1 {op} 0 {half} 0 0\n" for op in (10, 14, 1, 13))
            + "end\ndone\n").encode()
    r = subprocess.run([str(asan_runner)], input=data, capture_output=True, timeout=20)
    assert r.returncode == 0, r.stderr[-500:]
    # ZERO OK; PREFETCH OK (dirty zero pages need nothing); COMMIT of 2^51 pages
    # NO_MEMORY (deviation 4 of notes/device.md); ALWAYS_NEED OK
    assert r.stdout.decode().split("\n")[2:8] == ["0", "0", "0", "0", "-4", "0"]


# --- the runner's input reader: reject, never crash -----------------------------------------

def _run_raw(runner: Path, data: bytes) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run([str(runner)], input=data, capture_output=True, timeout=20)


def _assert_rejects_or_runs(r: subprocess.CompletedProcess[bytes]) -> None:
    assert b"Sanitizer" not in r.stderr, r.stderr.decode(errors="replace")[-2000:]
    assert r.returncode in (0, 2), (r.returncode, r.stderr[-500:])
    if r.returncode == 2:
        assert r.stdout.startswith(b"error "), r.stdout[:200]


@pytest.mark.parametrize("data", [
    b"",
    b"vmorun 1\n",
    b"vmorun 2\ndone\n",
    b"vmorun 1\ntrace 4096 0 0 1 1\ncreate 4096 0 0\n",  # truncated: no end
    b"vmorun 1\ntrace 4096 0 0 1 1\ncreate 99999999999999999999999 0 0\nend\ndone\n",
    b"vmorun 1\ntrace 4096 0 0 1 1\ncreate 18446744073709551616 0 0\nend\ndone\n",
    b"vmorun 1\ntrace 4096 0 0 1 1\ncreate 4096 0 5\nend\ndone\n",  # name out of range
    b"vmorun 1\ntrace 4096 0 0 99999999999 1\nclose 0\nend\ndone\n",
    b"vmorun 1\ntrace 4096 0 0 1 18446744073709551615\nclose 0\nend\ndone\n",
    b"vmorun 1\ntrace 4096 0 0 1 1\nwrite 0 0 3 1 1\nend\ndone\n",
    b"vmorun 1\ntrace 4096 0 0 1 1\nwrite 0 0 1 256 1\nend\ndone\n",
    b"vmorun 1\ntrace 4096 0 0 1 1\nfail 0 0 0 0 -\nend\ndone\n",
    b"vmorun 1\ntrace 4096 0 0 1 1\nclose 0\x00\nend\ndone\n",
    b"vmorun 1\ntrace 3000 0 0 1 1\nclose 0\nend\ndone\n",  # not a page size: skipped
    b"vmorun 1\ntrace 4096 0 0 1 1\nread 0 0 18446744073709551615\nend\ndone\n",
])
def test_the_reader_rejects_malformed_input(asan_runner: Path, data: bytes) -> None:
    _assert_rejects_or_runs(_run_raw(asan_runner, data))


_TOKENS = st.sampled_from([
    "vmorun", "1", "trace", "end", "done", "4096", "0", "-", "create", "child", "dup", "close",
    "op", "read", "write", "getsize", "setsize", "info", "pager", "pagervmo", "supply", "fail",
    "reclaim", "cachepolicy", "contig", "phys", "3", "18446744073709551615",
    "18446744073709551616", "-42", "\n", " ", "x",
])


@settings(max_examples=40, deadline=None, suppress_health_check=list(HealthCheck),
          database=None)
@given(body=st.lists(_TOKENS, max_size=40), junk=st.binary(max_size=16))
def test_the_reader_survives_generated_input(asan_runner: Path, body: list[str],
                                             junk: bytes) -> None:
    data = b"vmorun 1\n" + " ".join(body).encode() + junk
    _assert_rejects_or_runs(_run_raw(asan_runner, data))


# --- a runner that is missing, dies or prints garbage -------------------------------------------

def _cli(args: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    code = main(args)
    out, err = capsys.readouterr()
    return code, out, err


def test_a_missing_runner_is_one_line(capsys: pytest.CaptureFixture[str]) -> None:
    code, _out, err = _cli(["run", str(EXAMPLES[0]), "--backend", "device", "--runner",
                            "/nonexistent/vmospec-runner"], capsys)
    assert code != 0
    assert err.strip().count("\n") == 0 and "runner command not found" in err


def test_garbage_from_the_runner_is_one_line(capsys: pytest.CaptureFixture[str]) -> None:
    code, _out, err = _cli(["run", str(EXAMPLES[0]), "--backend", "device", "--runner",
                            "printf 'vmorun-result 1\\ntrace 0\\nbanana\\n'"], capsys)
    assert code != 0
    assert err.strip().count("\n") == 0 and "garbage from the runner" in err


def test_a_runner_that_stops_mid_batch_keeps_what_it_observed(
        asan_runner: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "observed.jsonl"
    out.write_text("what was there before\n")
    cmd = f"sh -c '{asan_runner} | head -n 8'"  # the header, 'trace 0' and 6 steps
    code, _o, err = _cli(["run", str(EXAMPLES[0]), "--backend", "device", "--runner", cmd,
                          "--out", str(out)], capsys)
    assert code != 0
    assert "stopped in trace 1, step 7" in err and err.strip().count("\n") == 0
    # --out keeps what it held; the partial trace is in a new file the message names
    assert out.read_text() == "what was there before\n"
    partial = re.search(r"observed are in (\S+)", err)
    assert partial is not None and Path(partial.group(1)).parent == tmp_path
    kept = read_trace(partial.group(1))
    assert len(kept.steps) == 6


def test_runner_failed_carries_the_partial_batch(asan_runner: Path) -> None:
    t = read_trace(EXAMPLES[0])
    bt = BatchTrace(t.header, [(s.name, s.kind, s.args) for s in t.steps])
    backend = DeviceBackend(f"sh -c '{asan_runner} | head -n {len(t.steps) + 5}'")
    with pytest.raises(RunnerFailed) as e:
        backend.run_batch([bt, bt])
    assert e.value.complete == 1
    assert len(e.value.observed[0]) == len(t.steps)
    assert isinstance(e.value, BackendError)


# --- steps the runner could not run ------------------------------------------------------------

def test_a_step_not_run_is_reported_not_judged() -> None:
    text = (
        '{"vmo_trace": 1, "page_size": 4096}\n'
        '{"call": "vmo_create", "size": 4096, "options": ["ZX_VMO_DISCARDABLE"], "out": "d",'
        ' "status": "ZX_OK"}\n'
        '{"call": "vmo_write", "vmo": "d", "offset": 0, "data": "01", "status": "ZX_OK"}\n'
        '{"event": "reclaim", "vmo": "d", "not_run": "no per-VMO memory pressure"}\n'
        '{"call": "vmo_read", "vmo": "d", "offset": 0, "length": 1, "status": "ZX_OK",'
        ' "data": "01"}\n'
    )
    r = check_trace(parse_trace_text(text, "t.jsonl"), PROFILES["zircon-2025"])
    assert r.conforms
    assert any("not run: no per-VMO memory pressure" in n for n in r.notes)


# --- batched fuzzing: divergences are found, shrunk in batches, and saved ---------------------

_CORRUPTING = '''
import subprocess, sys
data = sys.stdin.read()
kinds = [[]]
for line in data.splitlines():
    w = line.split()
    if w and w[0] == "trace":
        kinds.append([])
    elif w and w[0] not in ("vmorun", "end", "done"):
        kinds[-1].append(w[0])
kinds = kinds[1:]
out = subprocess.run([sys.argv[1]], input=data, capture_output=True, text=True).stdout
t, k = -1, 0
for line in out.splitlines():
    w = line.split()
    if w[0] == "trace":
        t, k = int(w[1]), 0
    elif w[0] not in ("vmorun-result", "end", "done"):
        if kinds[t][k] == "read" and w[0] == "0" and w[1] != "0" and w[2] != "0":
            w[2] = str(int(w[2]) ^ 0x80)  # a read returns a wrong byte
            line = " ".join(w)
        k += 1
    print(line)
'''


def test_batched_fuzz_finds_shrinks_and_saves_a_divergence(
        asan_runner: Path, tmp_path: Path) -> None:
    wrapper = tmp_path / "corrupting_runner.py"
    wrapper.write_text(_CORRUPTING)
    backend = DeviceBackend(f"python3 {wrapper} {asan_runner}")
    report = fuzz(backend, PROFILES["zircon-2025"], seconds=None, max_examples=60,
                  seed_value=3, out_dir=tmp_path, max_steps=12, batch=30)
    d = report.divergence
    assert d is not None and d.call == "vmo_read" and not d.reason
    assert report.trace_path is not None
    saved = read_trace(report.trace_path)
    assert len(saved.steps) == report.shrunk_steps <= 4  # create (or pager), write, read
    r = check_trace(saved, PROFILES["zircon-2025"])
    assert not r.conforms and r.divergence is not None and r.divergence.call == "vmo_read"


def test_fuzz_through_the_cli(asan_runner: Path, tmp_path: Path,
                              capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _err = _cli(["fuzz", "--backend", "device", "--runner", str(asan_runner),
                            "--max-examples", "20", "--seed", "5", "--out", str(tmp_path),
                            "--json"], capsys)
    assert code == 0
    report = json.loads(out)
    assert report["traces"] == 20 and report["divergences"] == []
    assert report["backend"] == "device:vmospec-runner-asan"


def test_a_runner_lost_mid_fuzz_is_reported_and_its_trace_kept(
        asan_runner: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    cmd = f"sh -c '{asan_runner} | head -n 20'"  # mid-trace for seed 5's traces
    code, out, _err = _cli(["fuzz", "--backend", "device", "--runner", cmd,
                            "--max-examples", "20", "--seed", "5", "--out", str(tmp_path)],
                           capsys)
    assert code == 1
    assert "the runner stopped in trace" in out
    saved = list(tmp_path.glob("*.jsonl"))
    assert len(saved) == 1
    assert read_trace(saved[0]).steps  # the observed prefix, and the step it was lost at


def test_a_missing_runner_in_fuzz_is_one_line(tmp_path: Path,
                                              capsys: pytest.CaptureFixture[str]) -> None:
    code, _out, err = _cli(["fuzz", "--backend", "device", "--runner", "/no/such/runner",
                            "--max-examples", "3", "--out", str(tmp_path)], capsys)
    assert code == 2
    assert err.strip().count("\n") == 0 and "runner command not found" in err


def test_found_by_the_fuzzer_always_need_gives_zero_intervals_no_page(
        asan_runner: Path, tmp_path: Path) -> None:
    """Seed 13 found the host committing a zeroed (dirty) pager page on ALWAYS_NEED; the
    spec (and zero.effect) give a zero interval no page unless COMMIT asks."""
    trace = tmp_path / "t.jsonl"
    trace.write_text(
        '{"vmo_trace": 1, "page_size": 4096}\n'
        '{"call": "pager_create", "out": "p"}\n'
        '{"call": "pager_create_vmo", "pager": "p", "options": [], "size": 16384, "out": "v"}\n'
        '{"call": "vmo_op_range", "vmo": "v", "op": "ZX_VMO_OP_ZERO", "offset": 12288,'
        ' "size": 4096}\n'
        '{"call": "vmo_op_range", "vmo": "v", "op": "ZX_VMO_OP_ALWAYS_NEED", "offset": 0,'
        ' "size": 16384}\n'
        '{"call": "vmo_info", "vmo": "v"}\n')
    observed = _observed_trace(trace, DeviceBackend(str(asan_runner)))
    assert '"committed_bytes": 12288' in observed
    assert check_trace(parse_trace_text(observed), PROFILES["zircon-2025"]).conforms


def test_numbers_outside_u64_are_refused_before_the_runner() -> None:
    t = parse_trace_text('{"vmo_trace": 1, "page_size": 4096}\n')
    bad = BatchTrace(t.header, [("vmo_read", "call", {"vmo": "a", "offset": 0,
                                                      "length": 1 << 64})])
    with pytest.raises(BackendError, match="length 18446744073709551616 is not a u64"):
        DeviceBackend("/bin/false").run_batch([bad])


def test_batched_fuzz_leaves_out_traces_no_vmo_trace_can_carry() -> None:
    from refinement_tests.fuzz import _fits_u64
    from refinement_tests.generate import GenStep, GenTrace

    ok = GenTrace(4096, {}, (GenStep("vmo_read", "call", {"vmo": "a", "offset": 0,
                                                           "length": (1 << 64) - 1}),))
    bad = GenTrace(4096, {}, (GenStep("vmo_read", "call", {"vmo": "a", "offset": 0,
                                                            "length": 1 << 64}),))
    assert _fits_u64(ok) and not _fits_u64(bad)


def test_a_runner_that_stops_answering_is_stopped_and_reported(
        asan_runner: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """The runner answers the first 12 lines, then hangs (a lost device): after
    --runner-timeout its whole process group is killed, and what came back is kept."""
    out = tmp_path / "observed.jsonl"
    cmd = f"sh -c '{asan_runner} | head -n 12; sleep 60'"
    code, _o, err = _cli(["run", str(EXAMPLES[0]), "--backend", "device", "--runner", cmd,
                          "--runner-timeout", "2", "--out", str(out)], capsys)
    assert code == 1
    assert "did not answer within 2 s" in err and err.strip().count("\n") == 0
    assert not out.exists()  # a partial trace never takes the name of a whole one
    partial = re.search(r"observed are in (\S+)", err)
    assert partial is not None
    assert len(read_trace(partial.group(1)).steps) == 10


def test_runner_is_for_the_device_backend_only(capsys: pytest.CaptureFixture[str]) -> None:
    code, _out, err = _cli(["run", str(EXAMPLES[0]), "--backend", "model", "--runner", "x"],
                           capsys)
    assert code == 2 and "--runner" in err and err.strip().count("\n") == 0


def test_check_lists_steps_not_run(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    trace = tmp_path / "nr.jsonl"
    trace.write_text(
        '{"vmo_trace": 1, "page_size": 4096}\n'
        '{"call": "vmo_create", "size": 4096, "options": [], "out": "a", "status": "ZX_OK"}\n'
        '{"event": "reclaim", "vmo": "a", "not_run": "no memory pressure here"}\n')
    code, out, _err = _cli(["check", str(trace)], capsys)
    assert code == 0 and "step 2 (line 3), reclaim: not run: no memory pressure here" in out
    code, out, _err = _cli(["check", str(trace), "--json"], capsys)
    assert code == 0 and len(json.loads(out)["not_run"]) == 1


def test_a_missing_compiler_is_one_line(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                        capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("CC", "/no/such/cc")
    monkeypatch.setenv("VMOSPEC_BUILD_DIR", str(tmp_path))
    code, _out, err = _cli(["run", str(EXAMPLES[0]), "--backend", "device"], capsys)
    assert code != 0
    assert "cannot build the host runner: no C compiler" in err
    assert err.strip().count("\n") == 0
