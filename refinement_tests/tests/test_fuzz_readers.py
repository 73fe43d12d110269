"""Fuzz targets for everything that reads input from outside: the trace reader, the
runner-output decoder and the runner's own input parser (under ASan and UBSan).

Each runs hypothesis-generated and mutated inputs for a fixed budget (derandomized, so
CI sees the same inputs every run). The property is the issue-15 one: no traceback (only
the reader's own error, one short line), an exit status of 0, 1 or 2 (the runner: 0, 2
or 3), and bounded memory.
"""

from __future__ import annotations

import json
import os
import subprocess
import threading
import tracemalloc
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from refinement_tests.checker import check_trace
from refinement_tests.device.backend import (
    BatchTrace,
    RunnerFailed,
    build_host_runner,
    compile_batch,
    observed_json,
    parse_results,
)
from refinement_tests.trace import TraceError, parse_trace_text, read_trace, trace_lines
from spec.profiles import PROFILES
from vmospec.cli import main

EXAMPLES = sorted((Path(__file__).resolve().parents[1] / "traces" / "examples").glob("*.jsonl"))
SEEDS = [p.read_text(encoding="utf-8") for p in EXAMPLES[:6]]
BUDGET = settings(max_examples=150, deadline=None, derandomize=True,
                  suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                                         HealthCheck.function_scoped_fixture])
MEMORY = 64 << 20  # bytes the reader may allocate on one input of at most a few KiB

FIELDS = ["call", "event", "vmo", "op", "offset", "size", "length", "data", "status", "out",
          "options", "rights", "note", "not_run", "handle", "buffer", "buffer_size",
          "vmo_trace", "page_size", "config", "lock_state", "flags", "discarded", "pager"]
NAMES = ["vmo_create", "vmo_read", "vmo_write", "vmo_op_range", "reclaim", "vmo_info",
         "ZX_OK", "ZX_VMO_OP_COMMIT", "ZX_ERR_NO_MEMORY", "a", "$invalid", "ab\u2028",
         "\ud800", "0f0f", ""]
SCALARS = st.one_of(
    st.none(), st.booleans(), st.sampled_from(NAMES),
    st.integers(min_value=-(1 << 70), max_value=1 << 70),
    st.sampled_from([0, 1, 4096, (1 << 64) - 1, 1 << 64, -1]),
    st.floats(allow_nan=False, allow_infinity=False), st.text(max_size=20))
VALUES = st.recursive(SCALARS, lambda inner: st.one_of(
    st.lists(inner, max_size=4),
    st.dictionaries(st.sampled_from(FIELDS), inner, max_size=5)), max_leaves=12)
STEP = st.dictionaries(st.sampled_from(FIELDS), VALUES, max_size=7)
RAW_NUMBERS = st.sampled_from(["1e400", "-0", "4096.0", "NaN", "Infinity", "9" * 400, "1e-400"])


def _mutate(text: str, data: st.DataObject) -> str:
    """A seed trace, changed the ways a hand edit or a broken recorder would change it."""
    lines = text.split("\n")
    for _ in range(data.draw(st.integers(1, 4))):
        i = data.draw(st.integers(0, max(0, len(lines) - 1)))
        how = data.draw(st.sampled_from(["cut", "dup", "drop", "byte", "swap", "number",
                                         "nest", "step"]))
        line = lines[i]
        if how == "cut" and line:
            lines[i] = line[: data.draw(st.integers(0, len(line)))]
        elif how == "dup":
            lines.insert(i, line)
        elif how == "drop":
            del lines[i]
        elif how == "byte" and line:
            k = data.draw(st.integers(0, len(line) - 1))
            lines[i] = line[:k] + data.draw(st.characters()) + line[k + 1:]
        elif how == "swap" and len(lines) > 1:
            j = data.draw(st.integers(0, len(lines) - 1))
            lines[i], lines[j] = lines[j], lines[i]
        elif how == "number":
            lines[i] = line.replace("4096", data.draw(RAW_NUMBERS), 1)
        elif how == "nest":
            depth = data.draw(st.integers(1, 2000))
            lines[i] = line.replace("[]", "[" * depth + "]" * depth, 1)
        elif how == "step":
            lines.insert(i, json.dumps(data.draw(STEP)))
        if not lines:
            lines = [""]
    return "\n".join(lines)


def _read_and_check(text: str) -> None:
    """The property, in-process: a trace or one short TraceError, then a checked result."""
    tracemalloc.start()
    try:
        try:
            trace = parse_trace_text(text, "f.jsonl")
        except TraceError as e:
            message = str(e)
            assert "\n" not in message and len(message) < 400, message
            return
        check_trace(trace, PROFILES["zircon-2025"])
        _, peak = tracemalloc.get_traced_memory()
        assert peak < MEMORY, peak
    finally:
        tracemalloc.stop()


@BUDGET
@given(st.data())
def test_the_reader_on_mutated_traces(data: st.DataObject) -> None:
    _read_and_check(_mutate(data.draw(st.sampled_from(SEEDS)), data))


@BUDGET
@given(st.lists(STEP, max_size=6), st.dictionaries(st.text(max_size=8), VALUES, max_size=3))
def test_the_reader_on_generated_steps(steps: list[dict[str, object]],
                                       meta: dict[str, object]) -> None:
    header = {"vmo_trace": 1, "page_size": 4096, **meta}
    _read_and_check("\n".join(json.dumps(x) for x in [header, *steps]))


@BUDGET
@given(st.binary(max_size=2000))
def test_the_reader_on_bytes(raw: bytes) -> None:
    _read_and_check(raw.decode("utf-8", "surrogateescape"))


@settings(max_examples=40, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.data())
def test_the_command_on_mutated_files(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                      data: st.DataObject) -> None:
    path = tmp_path / "t.jsonl"
    path.write_bytes(_mutate(data.draw(st.sampled_from(SEEDS)), data)
                     .encode("utf-8", "surrogatepass"))
    try:
        code = main(["check", str(path)])
    except SystemExit as e:  # pragma: no cover - check has no usage error here
        code = e.code if isinstance(e.code, int) else 99
    _out, err = capsys.readouterr()
    assert code in (0, 1, 2)
    assert "Traceback" not in err and len(err.strip().splitlines()) <= 1


# --- the runner: its output decoder, and its input parser under the sanitizers ----------------


@pytest.fixture(scope="module")
def runner() -> Path:
    return build_host_runner(sanitized=True)


@pytest.fixture(scope="module")
def batch() -> list[BatchTrace]:
    traces = [read_trace(p) for p in EXAMPLES[:4]]
    return [BatchTrace(t.header, [(s.name, s.kind, s.args) for s in t.steps]) for t in traces]


@pytest.fixture(scope="module")
def answer(runner: Path, batch: list[BatchTrace]) -> str:
    r = subprocess.run([str(runner)], input=compile_batch(batch), capture_output=True,
                       text=True, timeout=120, check=True)
    return r.stdout


def _mutate_lines(text: str, data: st.DataObject) -> str:
    lines = text.split("\n")
    for _ in range(data.draw(st.integers(1, 3))):
        i = data.draw(st.integers(0, len(lines) - 1))
        tokens = lines[i].split(" ")
        k = data.draw(st.integers(0, len(tokens) - 1))
        tokens[k] = data.draw(st.one_of(
            st.sampled_from(["-1", "256", "18446744073709551616", "99999999999", "1_0",
                             "\u0663", "", "x", "notrun", "error", "ev", "end", "done"]),
            st.integers(-(1 << 70), 1 << 70).map(str)))
        lines[i] = " ".join(tokens)
        if data.draw(st.booleans()):
            del lines[data.draw(st.integers(0, len(lines) - 1))]
    return "\n".join(lines)


@BUDGET
@given(st.data())
def test_the_runner_output_decoder_on_mutated_answers(answer: str, batch: list[BatchTrace],
                                                      data: st.DataObject) -> None:
    text = _mutate_lines(answer, data)
    try:
        observed = parse_results(text, batch)
    except RunnerFailed as e:
        assert "\n" not in str(e) and len(str(e)) < 400
        observed = e.observed
    # whatever came back is held to what a trace may hold, as `vmospec run` writes it
    for t, got in zip(batch, observed, strict=False):
        steps = [observed_json(name, kind, args, o)
                 for (name, kind, args), o in zip(t.steps, got, strict=False)]
        list(trace_lines("observed", t.header, steps))


def _run_measured(cmd: list[str], stdin: bytes, tmp: Path) -> tuple[int, bytes, str, int]:
    """Exit status, stdout, stderr and peak resident megabytes of one run (wait4)."""
    (tmp / "in").write_bytes(stdin)
    with (tmp / "in").open("rb") as i, (tmp / "out").open("wb") as o, \
            (tmp / "err").open("wb") as e:
        proc = subprocess.Popen(cmd, stdin=i, stdout=o, stderr=e)
        watchdog = threading.Timer(60, proc.kill)
        watchdog.start()
        _pid, status, usage = os.wait4(proc.pid, 0)
        watchdog.cancel()
    proc.returncode = os.waitstatus_to_exitcode(status)  # reaped here, not by Popen
    return (proc.returncode, (tmp / "out").read_bytes(),
            (tmp / "err").read_text("utf-8", "replace"), usage.ru_maxrss >> 10)


@settings(max_examples=30, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.data())
def test_the_runner_input_parser_under_the_sanitizers(runner: Path, batch: list[BatchTrace],
                                                      tmp_path: Path,
                                                      data: st.DataObject) -> None:
    text = _mutate_lines(compile_batch(batch[:2]), data)
    code, out, err, peak_mb = _run_measured([str(runner)], text.encode("utf-8", "surrogatepass"),
                                            tmp_path)
    assert code in (0, 2, 3), err
    assert "Sanitizer" not in err and "runtime error" not in err, err
    first = out.split(b"\n", 1)[0]
    assert first == b"vmorun-result 1" or first.startswith(b"error "), first
    assert peak_mb < 512, peak_mb  # ASan's own overhead included; frames live in memfds
