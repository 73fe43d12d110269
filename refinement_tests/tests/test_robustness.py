"""Regression tests of issue 15: every input and flag that once ended in a traceback, ran
without bound, lost output or let a trace hide outcomes, each now one line and a
non-zero status (or, for data, bounded work).

Most run `vmospec` in-process; what a user sees on a terminal or a pipe (stdout
errors, lone surrogates) runs it as a subprocess.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import tracemalloc
from pathlib import Path
from typing import IO

import jsonschema
import pytest

from refinement_tests.device.backend import BatchTrace, RunnerFailed, parse_results
from refinement_tests.tests.cli_run import run_main
from refinement_tests.trace import (
    MAX_RUNS,
    SCHEMA,
    Header,
    TraceError,
    data_from_bytes,
    data_shown,
    parse_trace_text,
    read_trace,
)
from vmospec.output import EXIT_OUTPUT

REPO = Path(__file__).resolve().parents[2]
EXAMPLE = REPO / "refinement_tests" / "traces" / "examples" / "zero.jsonl"
HEADER = '{"vmo_trace": 1, "page_size": 4096}'
CREATE = '{"call": "vmo_create", "size": 16384, "options": [], "out": "a", "status": "ZX_OK"}'


def run_cli(*argv: str,
            stdout: int | IO[str] = subprocess.PIPE) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(REPO), env.get("PYTHONPATH")) if p)
    return subprocess.run([sys.executable, "-m", "vmospec.cli", *argv], stdout=stdout,
                          stderr=subprocess.PIPE, text=True, env=env, cwd=REPO, timeout=120,
                          check=False)


def write(tmp_path: Path, name: str, *lines: str) -> Path:
    path = tmp_path / name
    path.write_text("".join(f"{ln}\n" for ln in lines), encoding="utf-8")
    return path


def one_line(err: str) -> str:
    assert "Traceback" not in err
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert len(lines[0]) < 400, lines[0]
    return lines[0]


def reader_error(text: str) -> str:
    with pytest.raises(TraceError) as e:
        parse_trace_text(text, "t.jsonl")
    return str(e.value)


# --- a trace cannot hide outcomes ---------------------------------------------------------------


def test_not_run_beside_an_outcome_is_malformed() -> None:
    line = ('{"call": "vmo_op_range", "vmo": "a", "op": "ZX_VMO_OP_COMMIT", "offset": 0, '
            '"size": 4096, "status": "ZX_ERR_OUT_OF_RANGE", "not_run": "skipped"}')
    message = reader_error(f"{HEADER}\n{CREATE}\n{line}\n")
    assert message.startswith("t.jsonl:3: vmo_op_range: not_run:") and "'status'" in message
    # a standard validator reads the shipped schema the same way
    validator = jsonschema.Draft7Validator(SCHEMA)
    assert list(validator.iter_errors(json.loads(line)))
    assert not list(validator.iter_errors({k: v for k, v in json.loads(line).items()
                                           if k != "status"}))


def test_not_run_alone_is_still_read() -> None:
    t = parse_trace_text(f'{HEADER}\n{{"event": "reclaim", "vmo": "$invalid", '
                         f'"not_run": "no pressure here"}}\n')
    assert t.steps[0].raw["not_run"] == "no pressure here"


# --- header metadata, numbers, messages ---------------------------------------------------------


def test_deeply_nested_metadata_is_one_line() -> None:
    deep = "[" * 600 + "]" * 600
    message = reader_error(f'{{"vmo_trace": 1, "page_size": 4096, "m": {deep}}}\n')
    assert "nests more than 64 deep" in message


def test_metadata_beyond_a_double_is_refused(tmp_path: Path,
                                             capsys: pytest.CaptureFixture[str]) -> None:
    message = reader_error('{"vmo_trace": 1, "page_size": 4096, "m": 1e400}\n')
    assert message.startswith("t.jsonl:1: header: 'm':") and "double" in message
    # finite floats are kept, and `run` writes them back as JSON
    path = write(tmp_path, "f.jsonl", '{"vmo_trace": 1, "page_size": 4096, "m": 1.5}', CREATE)
    code, out, _err = run_main(capsys, "run", str(path), "--backend", "spec")
    assert code == 0 and json.loads(out.splitlines()[0])["m"] == 1.5


def test_float_page_size_says_write_an_integer() -> None:
    message = reader_error('{"vmo_trace": 1, "page_size": 4096.0}\n')
    assert message == "t.jsonl:1: header: page_size: 4096.0 is not written as an integer " \
                      "(write 4096)"


def test_a_call_named_as_an_event_reads_well() -> None:
    message = reader_error(f'{HEADER}\n{{"event": "vmo_create", "size": 1, "options": [], '
                           f'"out": "a"}}\n')
    assert "vmo_create is a call" in message


def test_a_byte_order_mark_on_line_2_is_named(tmp_path: Path) -> None:
    path = tmp_path / "bom.jsonl"
    path.write_bytes(f"{HEADER}\n\ufeff{CREATE}\n".encode())
    with pytest.raises(TraceError) as e:
        read_trace(path)
    assert e.value.line == 2 and "byte-order mark" in e.value.message
    path.write_bytes(f"\ufeff{HEADER}\n{CREATE}\n".encode())  # at the start: allowed
    assert len(read_trace(path).steps) == 1


@pytest.mark.parametrize("value", ["9" * 4299, '"' + "x" * 5000 + '"'])
def test_long_values_are_not_echoed_in_full(value: str) -> None:
    message = reader_error(f'{HEADER}\n{{"call": "vmo_create", "size": {value}, '
                           f'"options": [], "out": "a"}}\n')
    assert len(message) < 200


def test_long_names_are_not_echoed_in_full() -> None:
    name = "q" * 5000
    for line in (f'{{"call": "{name}"}}', f'{{"call": "vmo_create", "size": 1, "options": '
                 f'["{name}"], "out": "a"}}', f'{{"call": "vmo_create", "{name}": 1}}'):
        assert len(reader_error(f"{HEADER}\n{line}\n")) < 200


def test_expected_data_is_abbreviated(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    size = 1 << 24
    path = write(
        tmp_path, "pager.jsonl", HEADER, '{"call": "pager_create", "out": "p"}',
        f'{{"call": "pager_create_vmo", "pager": "p", "options": [], "size": {size}, '
        '"out": "v"}',
        f'{{"call": "pager_supply_pages", "pager": "p", "vmo": "v", "offset": 0, '
        f'"length": {size}}}',
        f'{{"call": "vmo_read", "vmo": "v", "offset": 0, "length": {size}, '
        f'"data": [[0, {size}]]}}')
    code, out, _err = run_main(capsys, "check", str(path))
    assert code == 1
    assert max(len(line) for line in out.splitlines()) < 300
    assert "4,090 more runs, 16,752,640 bytes" in out  # 4096 pages: 3 shown at each end


def test_data_shown_keeps_both_ends() -> None:
    runs = tuple((i % 256, 1 + i) for i in range(100))
    shown = data_shown(runs)
    assert shown[:3] == [[0, 1], [1, 2], [2, 3]] and shown[-1] == [99, 100]
    assert isinstance(shown[3], str) and "94 more runs" in shown[3]
    assert data_shown(((1, 1), (2, 1))) == "0102"
    assert "more bytes" in str(data_shown("ab" * 1000))


# --- files ----------------------------------------------------------------------------------


def test_devices_and_fifos_are_refused_unread(tmp_path: Path,
                                              capsys: pytest.CaptureFixture[str]) -> None:
    fifo = tmp_path / "f.jsonl"
    os.mkfifo(fifo)
    for path, what in ((str(fifo), "FIFO"), ("/dev/zero", "character device")):
        code, _out, err = run_main(capsys, "check", path)
        assert code == 2 and what in one_line(err)


def test_a_too_long_file_name_is_one_line(capsys: pytest.CaptureFixture[str]) -> None:
    code, _out, err = run_main(capsys, "check", "a" * 300 + ".jsonl")
    assert code == 2 and "too long" in one_line(err)


# --- flags ----------------------------------------------------------------------------------


@pytest.mark.parametrize("argv", [
    ["fuzz", "--backend", "model", "--seconds", "nan"],
    ["fuzz", "--backend", "model", "--seconds", "0"],
    ["fuzz", "--backend", "model", "--seconds", "inf"],
    ["fuzz", "--backend", "model", "--seed", "1" + "0" * 300],
    ["fuzz", "--backend", "model", "--max-steps", "1e9"],
    ["run", str(EXAMPLE), "--backend", "device", "--runner-timeout", "nan"],
    ["run", str(EXAMPLE), "--backend", "device", "--runner-timeout", "inf"],
    ["prove", "--jobs", "1000"],
    ["diff", "zircon-2025", "model", "--seconds", "nan"],
])
def test_unbounded_numbers_are_usage_errors(argv: list[str],
                                            capsys: pytest.CaptureFixture[str]) -> None:
    code, _out, err = run_main(capsys, *argv)
    assert code == 2
    assert one_line(err).startswith(f"vmospec {argv[0]}: error: argument --")


# --- output ---------------------------------------------------------------------------------


def test_a_lone_surrogate_in_a_note_is_printed_escaped(tmp_path: Path) -> None:
    path = write(tmp_path, "s.jsonl", HEADER,
                 '{"event": "reclaim", "vmo": "$invalid", "not_run": "\\ud800 gone"}')
    other = write(tmp_path, "t.jsonl", HEADER, CREATE)
    r = run_cli("check", str(path), str(other))
    assert r.returncode == 0 and "Traceback" not in r.stderr
    assert "\\ud800 gone" in r.stdout and "2 of 2 traces conform" in r.stdout


def test_a_full_disk_on_stdout_is_one_line_and_not_success() -> None:
    with open("/dev/full", "w") as full:
        r = run_cli("check", str(EXAMPLE), stdout=full)
    assert r.returncode == EXIT_OUTPUT
    assert "No space left" in one_line(r.stderr)


def test_a_closed_pipe_is_one_line_and_not_success() -> None:
    env = dict(os.environ, PYTHONPATH=str(REPO))
    proc = subprocess.Popen([sys.executable, "-m", "vmospec.cli", "check", str(EXAMPLE)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env, cwd=REPO)
    assert proc.stdout is not None and proc.stderr is not None
    proc.stdout.close()  # the reader is gone before anything is written
    err = proc.stderr.read().decode()
    assert proc.wait(timeout=120) == EXIT_OUTPUT
    assert "closed" in one_line(err)


@pytest.mark.parametrize("kind", ["symlink", "fifo", "directory", "device"])
def test_out_refuses_anything_but_a_regular_file(kind: str, tmp_path: Path,
                                                 capsys: pytest.CaptureFixture[str]) -> None:
    target = tmp_path / "real.jsonl"
    target.write_text("keep me\n")
    out = tmp_path / "out.jsonl"
    if kind == "symlink":
        out.symlink_to(target)
    elif kind == "fifo":
        os.mkfifo(out)
    elif kind == "directory":
        out.mkdir()
    else:
        out = Path("/dev/null")
    code, _o, err = run_main(capsys, "run", str(EXAMPLE), "--backend", "spec", "--out", str(out))
    assert code == 2 and "only a regular file or a new name" in one_line(err)
    assert target.read_text() == "keep me\n"
    assert kind != "symlink" or out.is_symlink()


def test_out_replaces_a_regular_file_whole(tmp_path: Path,
                                           capsys: pytest.CaptureFixture[str]) -> None:
    out = write(tmp_path, "out.jsonl", "old")
    code, _o, _e = run_main(capsys, "run", str(EXAMPLE), "--backend", "spec", "--out", str(out))
    assert code == 0 and len(read_trace(out).steps) == len(read_trace(EXAMPLE).steps)


# --- the runner's answers are validated like trace input -------------------------------------


def _one_read(length: int) -> list[BatchTrace]:
    return [BatchTrace(Header(4096), [
        ("vmo_create", "call", {"size": 4096, "options": 0, "out": "a"}),
        ("vmo_read", "call", {"vmo": "a", "offset": 0, "length": length}),
        ("vmo_info", "call", {"vmo": "a"}),
        ("reclaim", "event", {"vmo": "a"})])]


@pytest.mark.parametrize("bad", [
    "0 1 256 4",  # a byte past 255
    "0 1 -1 4",  # a negative byte
    "0 1 0 99999999999999999999999",  # a count past u64
    "0 1 0 ٤",  # a digit int() would take
    "0 1 0 1_0",
    "99999999999 1 0 4",  # a status past i32
])
def test_out_of_range_runner_reads_are_garbage(bad: str) -> None:
    text = f"vmorun-result 1\ntrace 0\n0\n{bad}\n0 4096 0 0 1\nev 0 0\nend 0\ndone\n"
    with pytest.raises(RunnerFailed) as e:
        parse_results(text, _one_read(4))
    assert "garbage from the runner in trace 1, step 2" in str(e.value)


@pytest.mark.parametrize("bad", ["0 4096 0 0 4294967296", "0 -1 0 0 1"])
def test_out_of_range_runner_info_is_garbage(bad: str) -> None:
    text = f"vmorun-result 1\ntrace 0\n0\n0 1 0 4\n{bad}\nev 0 0\nend 0\ndone\n"
    with pytest.raises(RunnerFailed) as e:
        parse_results(text, _one_read(4))
    assert "step 3" in str(e.value)


def test_out_of_range_runner_events_are_garbage() -> None:
    text = "vmorun-result 1\ntrace 0\n0\n0 1 0 4\n0 4096 0 0 1\nev 0 -5\nend 0\ndone\n"
    with pytest.raises(RunnerFailed):
        parse_results(text, _one_read(4))


def test_the_runner_rejecting_its_input_names_the_line() -> None:
    with pytest.raises(RunnerFailed) as e:
        parse_results("error 3 expected a handle name index\n", _one_read(4))
    assert str(e.value) == ("the runner rejected its input: input line 3: expected a handle "
                            "name index")


# --- data: linear decoding, a budget of runs ------------------------------------------------


def test_data_from_bytes_of_long_runs_and_many_runs() -> None:
    assert data_from_bytes(b"\x07" * 5_000_000) == ((7, 5_000_000),)
    alternating = bytes(range(2)) * 100_000
    d = data_from_bytes(alternating)
    assert len(d) == 200_000 and d[:2] == ((0, 1), (1, 1))


def _write_line(data_json: str) -> str:
    return f'{{"call": "vmo_write", "vmo": "a", "offset": 0, "data": {data_json}}}'


def test_long_hex_data_reads_as_the_same_runs(tmp_path: Path) -> None:
    hex_data = "00" * 100 + "ab" * 1_000_000 + "cdef" * 10 + "ab"  # a line over 2 MB
    path = write(tmp_path, "long.jsonl", HEADER,
                 '{"call": "vmo_create", "size": 2000000, "options": [], "out": "a"}',
                 _write_line(json.dumps(hex_data)))
    step = read_trace(path).steps[1]
    assert step.args["data"] == ((0, 100), (0xab, 1_000_000)) + ((0xcd, 1), (0xef, 1)) * 10 \
        + ((0xab, 1),)
    assert isinstance(step.raw["data"], list)  # the compact form is what is kept


def test_long_data_that_is_not_hex_is_one_short_line(tmp_path: Path) -> None:
    path = write(tmp_path, "bad.jsonl", HEADER, CREATE,
                 _write_line(json.dumps("ab" * 1_000_000 + "G")))
    with pytest.raises(TraceError) as e:
        read_trace(path)
    assert e.value.line == 3 and "not lowercase hex" in str(e.value) and len(str(e.value)) < 200


def test_data_past_the_run_budget_is_refused(tmp_path: Path) -> None:
    many = "0001" * (MAX_RUNS // 2 + 1)  # alternating bytes: one run per byte
    path = write(tmp_path, "many.jsonl", HEADER, CREATE, _write_line(json.dumps(many)))
    with pytest.raises(TraceError) as e:
        read_trace(path)
    assert e.value.line == 3 and re.search(r"more than [\d,]+ runs", e.value.message)
    lists = json.dumps([[i % 2, 1] for i in range(MAX_RUNS + 2)])
    path = write(tmp_path, "lists.jsonl", HEADER, CREATE, _write_line(lists))
    with pytest.raises(TraceError) as e:
        read_trace(path)
    assert "runs" in e.value.message


# --- the host runner bounds bytes -------------------------------------------------------------


def _device_run(text: str, *extra: str) -> list[dict[str, object]]:
    from refinement_tests.device.backend import DeviceBackend

    trace = parse_trace_text(text)
    backend = DeviceBackend(sanitized=True, memory=int(extra[0]) if extra else None)
    got = backend.run_batch([BatchTrace(trace.header, [(s.name, s.kind, s.args)
                                                       for s in trace.steps])])
    return got[0]


def _commits(page: int, size: int, commits: list[int]) -> str:
    lines = [f'{{"vmo_trace": 1, "page_size": {page}}}',
             f'{{"call": "vmo_create", "size": {size}, "options": [], "out": "a"}}']
    for n in commits:
        lines.append(f'{{"call": "vmo_op_range", "vmo": "a", "op": "ZX_VMO_OP_COMMIT", '
                     f'"offset": 0, "size": {n}}}')
        lines.append('{"call": "vmo_info", "vmo": "a"}')
    return "\n".join(lines) + "\n"


def test_the_runner_budget_is_bytes_not_pages() -> None:
    """1 MiB pages: 4 GiB of commits fail against the default 1 GiB; 1 GiB fits."""
    got = _device_run(_commits(1 << 20, 1 << 32, [1 << 32, 1 << 30]))
    assert got[1]["status"] == -4  # ZX_ERR_NO_MEMORY
    assert got[2]["committed_bytes"] == 0
    assert got[3]["status"] == 0 and got[4]["committed_bytes"] == 1 << 30


def test_the_runner_budget_can_be_changed() -> None:
    got = _device_run(_commits(4096, 1 << 24, [(8 << 20) + 4096, 8 << 20]), str(8 << 20))
    assert got[1]["status"] == -4 and got[2]["committed_bytes"] == 0
    assert got[3]["status"] == 0 and got[4]["committed_bytes"] == 8 << 20


def test_a_page_size_the_host_cannot_serve_is_skipped_in_one_line() -> None:
    with pytest.raises(RunnerFailed) as e:
        _device_run(_commits(1 << 31, 1 << 32, [1 << 31]))
    assert "page size 2147483648 is not supported by the host build" in str(e.value)


def test_a_runner_error_line_mid_trace_keeps_what_came_before() -> None:
    text = ("vmorun-result 1\ntrace 0\n0\nerror 0 host: pwrite to a memfd: No space left on "
            "device\n")
    with pytest.raises(RunnerFailed) as e:
        parse_results(text, _one_read(4))
    assert "the runner failed in trace 1, step 2 (vmo_read): host: pwrite" in str(e.value)
    assert e.value.observed == [[{"status": 0}]]


def test_memory_is_a_device_option(capsys: pytest.CaptureFixture[str]) -> None:
    code, _o, err = run_main(capsys, "run", str(EXAMPLE), "--backend", "model", "--memory", "9")
    assert code == 2 and "--memory" in one_line(err)


# --- the model: frames hold what was written, not the page size --------------------------------


def test_model_pages_of_4_gib_hold_only_what_was_written() -> None:
    from refinement_tests.backends import BackendOptions, make_backend

    page = 1 << 32
    trace = parse_trace_text(
        f'{{"vmo_trace": 1, "page_size": {page}}}\n'
        f'{{"call": "vmo_create", "size": {2 * page}, "options": [], "out": "a"}}\n'
        '{"call": "vmo_write", "vmo": "a", "offset": 5, "data": "0102"}\n'
        f'{{"call": "vmo_write", "vmo": "a", "offset": {page - 1}, "data": "0304"}}\n'
        '{"call": "vmo_read", "vmo": "a", "offset": 0, "length": 8}\n'
        f'{{"call": "vmo_read", "vmo": "a", "offset": {page - 2}, "length": 4}}\n')
    backend = make_backend("model", BackendOptions())
    tracemalloc.start()
    try:
        backend.start(trace.header)
        got = [backend.step(s.name, s.kind, s.args) for s in trace.steps]
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert [g["status"] for g in got] == [0, 0, 0, 0, 0]
    assert got[3]["data"] == ((0, 5), (1, 1), (2, 1), (0, 1))
    assert got[4]["data"] == ((0, 1), (3, 1), (4, 1), (0, 1))
    assert peak < 16 << 20  # a page-sized bytearray would be 4 GiB


def test_a_read_of_more_runs_than_a_trace_holds_is_named_not_dumped() -> None:
    size = 4 << 20  # 2^21 runs of alternating bytes, written in 2^20-run halves
    half = json.dumps([[i % 2, 1] for i in range(MAX_RUNS)])
    text = (f'{HEADER}\n{{"call": "vmo_create", "size": {size}, "options": [], "out": "a"}}\n'
            f'{{"call": "vmo_write", "vmo": "a", "offset": 0, "data": {half}}}\n')
    trace = parse_trace_text(text)
    steps = [(s.name, s.kind, s.args) for s in trace.steps]
    steps.append(("vmo_write", "call", {"vmo": "a", "offset": MAX_RUNS,
                                        "data": trace.steps[1].args["data"]}))
    steps.append(("vmo_read", "call", {"vmo": "a", "offset": 0, "length": 2 * MAX_RUNS}))
    from refinement_tests.device.backend import DeviceBackend

    with pytest.raises(RunnerFailed) as e:
        DeviceBackend(sanitized=True).run_batch([BatchTrace(trace.header, steps)])
    assert "step 4 (vmo_read): the read returned 2,097,152 runs of bytes" in str(e.value)
    assert [o["status"] for o in e.value.observed[0]] == [0, 0, 0]


# --- a 2^40-byte read of a pager-backed VMO costs what one page does ---------------------------


def test_a_2_40_byte_pager_read_checks_in_bounded_memory(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    size = 1 << 40
    path = write(
        tmp_path, "huge.jsonl", HEADER, '{"call": "pager_create", "out": "p"}',
        f'{{"call": "pager_create_vmo", "pager": "p", "options": [], "size": {size}, '
        '"out": "v"}',
        f'{{"call": "vmo_read", "vmo": "v", "offset": 0, "length": {size}, "status": "ZX_OK"}}',
        f'{{"call": "vmo_read", "vmo": "v", "offset": 0, "length": {size}, '
        f'"data": [[1, 4096], [0, {size - 4096}]]}}')
    tracemalloc.start()
    try:
        code, out, _err = run_main(capsys, "check", str(path))
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert code == 1 and "diverges at step 4 (line 5), vmo_read" in out  # the page content
    assert max(len(line) for line in out.splitlines()) < 400
    assert peak < 64 << 20
