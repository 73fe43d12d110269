"""Tests of the `vmospec` command line (vmospec/cli.py): `check` and `profiles`.

Most tests call vmospec.cli.main in-process; a few run `python -m vmospec.cli` in a
real subprocess, to see exactly what a user sees on stderr (no stack trace).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from refinement_tests.tests.cli_run import run_main
from spec.profiles import PROFILES

REPO = Path(__file__).resolve().parents[2]
EXAMPLES = REPO / "refinement_tests" / "traces" / "examples"
EXAMPLE_FILES = sorted(EXAMPLES.glob("*.jsonl"))

HEADER = '{"vmo_trace": 1, "page_size": 4096}'
CREATE = '{"call": "vmo_create", "size": 16384, "options": [], "out": "a", "status": "ZX_OK"}'
COMMIT_PAST_END_OK = (
    '{"call": "vmo_op_range", "vmo": "a", "op": "ZX_VMO_OP_COMMIT", "offset": 16384,'
    ' "size": 4096, "status": "ZX_OK"}'
)



def run_cli(*argv: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(REPO), env.get("PYTHONPATH")) if p)
    return subprocess.run(
        [sys.executable, "-m", "vmospec.cli", *argv],
        capture_output=True, text=True, env=env, cwd=cwd or REPO, timeout=120, check=False,
    )


def write(tmp_path: Path, name: str, *lines: str) -> Path:
    path = tmp_path / name
    path.write_text("".join(f"{ln}\n" for ln in lines), encoding="utf-8")
    return path


def error_line(err: str) -> str:
    """stderr holds exactly one line; return it."""
    lines = err.splitlines()
    assert len(lines) == 1, f"expected one line on stderr, got {err!r}"
    assert "Traceback" not in err
    return lines[0]


# --- conforming traces ----------------------------------------------------------------------


def test_examples_are_bundled() -> None:
    # The tests below would pass vacuously on an empty examples directory.
    assert len(EXAMPLE_FILES) >= 10


def test_examples_flag_all_conform(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run_main(capsys, "check", "--examples")
    assert code == 0
    assert err == ""
    lines = out.splitlines()
    n = len(EXAMPLE_FILES)
    assert lines[-1].startswith(f"{n} of {n} traces conform under zircon-2025 (")
    conforming = [ln for ln in lines if ": conforms (" in ln]
    assert sorted(Path(ln.split(": conforms")[0]).name for ln in conforming) == sorted(
        p.name for p in EXAMPLE_FILES
    )


def test_examples_directory_all_conform(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _err = run_main(capsys, "check", str(EXAMPLES), "--profile", "zircon-2025")
    assert code == 0
    n = len(EXAMPLE_FILES)
    assert f"{n} of {n} traces conform under zircon-2025" in out
    for p in EXAMPLE_FILES:
        assert f"{p}: conforms (" in out


def test_examples_flag_and_directory_agree_on_steps(capsys: pytest.CaptureFixture[str]) -> None:
    _, out_flag, _ = run_main(capsys, "check", "--examples", "--json")
    _, out_dir, _ = run_main(capsys, "check", str(EXAMPLES), "--json")
    flag, directory = json.loads(out_flag), json.loads(out_dir)
    assert flag["traces"] == directory["traces"] == len(EXAMPLE_FILES)
    assert flag["steps"] == directory["steps"] > 0


def test_single_file_conforms(capsys: pytest.CaptureFixture[str]) -> None:
    path = EXAMPLE_FILES[0]
    code, out, err = run_main(capsys, "check", str(path))
    assert code == 0
    assert err == ""
    assert out.splitlines()[0].startswith(f"{path}: conforms (")
    assert out.splitlines()[-1].startswith("1 of 1 traces conform under zircon-2025")


def test_json_report_shape(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run_main(capsys, "check", "--examples", "--json")
    assert code == 0
    assert err == ""
    report: dict[str, Any] = json.loads(out)  # the whole of stdout is one JSON document
    assert {"traces", "steps", "conforming", "divergences"} <= set(report)
    assert report["traces"] == len(EXAMPLE_FILES)
    assert report["conforming"] == report["traces"]
    total = sum(
        sum(1 for ln in p.read_text(encoding="utf-8").splitlines()[1:] if ln.strip())
        for p in EXAMPLE_FILES
    )
    assert report["steps"] == total
    assert report["divergences"] == []
    assert report["profile"] == "zircon-2025"


def test_json_profile_is_reported(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run_main(capsys, "check", str(EXAMPLE_FILES[0]), "--profile", "doc",
                            "--json")
    assert code in (0, 1)
    assert json.loads(out)["profile"] == "doc"


# --- a divergent trace ----------------------------------------------------------------------


def test_divergent_trace_names_step_and_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # A blank line makes the line number differ from step + 1.
    path = write(tmp_path, "bad.jsonl", HEADER, CREATE, "", COMMIT_PAST_END_OK)
    code, out, err = run_main(capsys, "check", str(path))
    assert code == 1
    assert err == ""
    assert f"{path}: diverges at step 2 (line 4), vmo_op_range" in out
    assert 'observed: {"status": "ZX_OK"}' in out
    assert re.search(r'expected: \{"status": "ZX_ERR_OUT_OF_RANGE"\}', out)
    assert f"replay: vmospec check {path} --profile zircon-2025" in out
    assert out.splitlines()[-1].startswith("0 of 1 traces conform")


def test_divergent_trace_json(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = write(tmp_path, "bad.jsonl", HEADER, CREATE, "", COMMIT_PAST_END_OK)
    code, out, _ = run_main(capsys, "check", str(path), "--json")
    assert code == 1
    report = json.loads(out)
    assert (report["traces"], report["conforming"], report["steps"]) == (1, 0, 2)
    [d] = report["divergences"]
    assert {"trace", "step", "expected", "allowed"} <= set(d)
    assert d["trace"] == str(path)
    assert d["step"] == 2
    assert d["line"] == 4
    assert d["call"] == "vmo_op_range"
    assert d["observed"] == {"status": "ZX_OK"}
    assert d["expected"]["status"] == "ZX_ERR_OUT_OF_RANGE"
    assert isinstance(d["allowed"], list)
    assert d["expected"] in d["allowed"]
    assert all("status" in a for a in d["allowed"])


def test_divergent_among_conforming(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bad = write(tmp_path, "bad.jsonl", HEADER, CREATE, COMMIT_PAST_END_OK)
    code, out, _ = run_main(capsys, "check", str(bad), "--examples", "--json")
    assert code == 1
    report = json.loads(out)
    assert report["traces"] == len(EXAMPLE_FILES) + 1
    assert report["conforming"] == len(EXAMPLE_FILES)
    assert [d["trace"] for d in report["divergences"]] == [str(bad)]


def test_profile_changes_the_verdict(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    prefetch = write(
        tmp_path, "prefetch.jsonl", HEADER, CREATE,
        '{"call": "vmo_op_range", "vmo": "a", "op": "ZX_VMO_OP_PREFETCH", "offset": 0,'
        ' "size": 4096, "status": "ZX_OK"}',
    )
    assert run_main(capsys, "check", str(prefetch))[0] == 0
    code, out, _ = run_main(capsys, "check", str(prefetch), "--profile", "zircon-2023")
    assert code == 1
    assert "diverges at step 2 (line 3)" in out
    assert "--profile zircon-2023" in out
    assert "under zircon-2023" in out


def test_doc_divergence_lists_allowed(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = write(
        tmp_path, "ro.jsonl", HEADER, CREATE,
        '{"call": "handle_duplicate", "handle": "a", "rights": ["ZX_RIGHT_READ"], "out": "ro",'
        ' "status": "ZX_OK"}',
        '{"call": "vmo_op_range", "vmo": "ro", "op": "ZX_VMO_OP_DECOMMIT", "offset": 65536,'
        ' "size": 4096, "status": "ZX_OK"}',
    )
    code, out, _ = run_main(capsys, "check", str(path), "--profile", "doc")
    assert code == 1
    assert "  allowed:" in out
    assert "ZX_ERR_ACCESS_DENIED" in out and "ZX_ERR_OUT_OF_RANGE" in out
    _, out, _ = run_main(capsys, "check", str(path), "--profile", "doc", "--json")
    [d] = json.loads(out)["divergences"]
    assert {a["status"] for a in d["allowed"]} == {"ZX_ERR_ACCESS_DENIED", "ZX_ERR_OUT_OF_RANGE"}


# --- malformed input ------------------------------------------------------------------------

VALUE_STEP = '{{"call": "vmo_create", "size": {}, "options": [], "out": "a"}}'

# name -> (lines of the file, the line the error names, a fragment of the message)
MALFORMED: dict[str, tuple[list[str], int | None, str]] = {
    "invalid_json": ([HEADER, '{"call": "vmo_create", '], 2, "invalid JSON"),
    "missing_version": (['{"page_size": 4096}', CREATE], 1, "vmo_trace"),
    "unknown_version": (['{"vmo_trace": 2, "page_size": 4096}', CREATE], 1, "version 2"),
    "unknown_call": ([HEADER, '{"call": "vmo_frobnicate", "vmo": "a"}'], 2, "vmo_frobnicate"),
    "unknown_event": ([HEADER, '{"event": "earthquake", "vmo": "a"}'], 2, "earthquake"),
    "missing_argument": ([HEADER, '{"call": "vmo_create", "options": [], "out": "a"}'], 2,
                         "missing argument 'size'"),
    "wrong_type": ([HEADER, VALUE_STEP.format('"big"')], 2, "size"),
    "float": ([HEADER, VALUE_STEP.format("4096.0")], 2, "4096.0"),
    "bool": ([HEADER, VALUE_STEP.format("true")], 2, "true"),
    "above_u64": ([HEADER, VALUE_STEP.format(str(1 << 64))], 2, str(1 << 64)),
    "negative": ([HEADER, VALUE_STEP.format("-1")], 2, "-1"),
    "unknown_constant": ([HEADER, CREATE,
                          '{"call": "vmo_op_range", "vmo": "a", "op": "ZX_VMO_OP_FROB",'
                          ' "offset": 0, "size": 0}'], 3, "ZX_VMO_OP_FROB"),
    "unknown_status": ([HEADER, CREATE.replace('"ZX_OK"', '"ZX_ERR_NOPE"')], 2, "ZX_ERR_NOPE"),
    "out_rebound": ([HEADER, CREATE, "", CREATE], 4, "already bound"),
    "empty": ([], None, "empty"),
    "blank_only": (["", "   "], None, "empty"),
    "unknown_config": (['{"vmo_trace": 1, "page_size": 4096, "config": {"turbo": true}}',
                        CREATE], 1, "turbo"),
}


def check_error_line(line: str, path: Path, lineno: int | None, fragment: str) -> None:
    if lineno is None:
        # No line to name (the file as a whole): "file: what".
        assert line.startswith(f"{path}: "), line
    else:
        assert line.startswith(f"{path}:{lineno}: "), line
    assert re.fullmatch(r".+?(:\d+)?: \S.*", line)
    assert fragment in line, line


@pytest.mark.parametrize("kind", sorted(MALFORMED))
def test_malformed_trace(kind: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    lines, lineno, fragment = MALFORMED[kind]
    path = write(tmp_path, f"{kind}.jsonl", *lines)
    code, out, err = run_main(capsys, "check", str(path))
    assert code == 2
    check_error_line(error_line(err), path, lineno, fragment)
    assert "Traceback" not in out
    assert "1 rejected as malformed" in out


@pytest.mark.parametrize("kind", ["invalid_json", "float", "out_rebound", "empty"])
def test_malformed_trace_json(
    kind: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    lines, lineno, fragment = MALFORMED[kind]
    path = write(tmp_path, f"{kind}.jsonl", *lines)
    code, out, _err = run_main(capsys, "check", str(path), "--json")
    assert code == 2
    report = json.loads(out)
    assert report["traces"] == 0
    [e] = report["errors"]
    assert e["trace"] == str(path)
    assert e["line"] == (lineno or 0)
    assert fragment in e["message"]


def test_missing_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "nowhere.jsonl"
    code, _out, err = run_main(capsys, "check", str(path))
    assert code == 2
    assert error_line(err) == f"{path}: no such file"


def test_malformed_among_good(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    good = tmp_path / "good.jsonl"
    shutil.copy(EXAMPLE_FILES[0], good)
    bad = write(tmp_path, "bad.jsonl", HEADER, '{"call": "vmo_create", ')
    code, out, err = run_main(capsys, "check", str(tmp_path))
    assert code == 2  # non-zero although every trace that was read conforms
    assert f"{good}: conforms (" in out
    assert "1 of 1 traces conform" in out
    assert "1 rejected as malformed" in out
    assert error_line(err).startswith(f"{bad}:2: invalid JSON")
    # The same in JSON.
    code, out, _ = run_main(capsys, "check", str(tmp_path), "--json")
    assert code == 2
    report = json.loads(out)
    assert (report["traces"], report["conforming"]) == (1, 1)
    assert [e["trace"] for e in report["errors"]] == [str(bad)]


def test_malformed_and_missing_each_reported(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bad = write(tmp_path, "bad.jsonl", HEADER, VALUE_STEP.format("true"))
    missing = tmp_path / "missing.jsonl"
    code, out, err = run_main(capsys, "check", str(bad), str(missing), "--examples")
    assert code == 2
    lines = err.splitlines()
    assert len(lines) == 2
    assert lines[0].startswith(f"{bad}:2: ")
    assert lines[1] == f"{missing}: no such file"
    n = len(EXAMPLE_FILES)
    assert f"{n} of {n} traces conform" in out
    assert "; 1 rejected as malformed; 1 missing" in out


def test_malformed_and_divergent_is_bad_input(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    diverges = write(tmp_path, "diverges.jsonl", HEADER, CREATE, COMMIT_PAST_END_OK)
    bad = write(tmp_path, "bad.jsonl", HEADER, VALUE_STEP.format("1.5"))
    code, out, err = run_main(capsys, "check", str(diverges), str(bad))
    assert code == 2
    assert "diverges at step 2" in out
    assert error_line(err).startswith(f"{bad}:2: ")


# --- usage errors ---------------------------------------------------------------------------

USAGE_ERROR = re.compile(r"vmospec( \w+)?: error: .+")


@pytest.mark.parametrize(
    ("argv", "fragment"),
    [
        (["check", "--profile", "zircon-1999", "--examples"], "zircon-1999"),
        (["check", "--bogus", "--examples"], "--bogus"),
        (["check"], "no traces"),
        (["frobnicate"], "frobnicate"),
        ([], "command"),
    ],
)
def test_usage_errors(argv: list[str], fragment: str, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run_main(capsys, *argv)
    assert code == 2
    line = error_line(err)
    assert USAGE_ERROR.fullmatch(line), line
    assert fragment in line
    assert out == ""


def test_check_help(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run_main(capsys, "check", "--help")
    assert code == 0
    assert err == ""
    assert out.startswith("usage: vmospec check")
    for flag in ("--profile", "--examples", "--json"):
        assert flag in out


# --- profiles -------------------------------------------------------------------------------


def test_profiles_lists_all(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run_main(capsys, "profiles")
    assert code == 0
    assert err == ""
    names = [ln.split()[0] for ln in out.splitlines()]
    assert sorted(names) == sorted(PROFILES)
    assert {"doc", "zircon-2023", "zircon-2025", "zcore"} <= set(names)
    # each line: name, kind, summary
    assert all(len(ln.split(maxsplit=2)) == 3 for ln in out.splitlines())


def test_profiles_json(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run_main(capsys, "profiles", "--json")
    assert code == 0
    profiles = json.loads(out)
    assert sorted(p["name"] for p in profiles) == sorted(PROFILES)
    assert all(p["summary"] for p in profiles)


# --- a real subprocess ----------------------------------------------------------------------


def test_subprocess_examples_conform() -> None:
    proc = run_cli("check", "--examples")
    assert proc.returncode == 0, proc.stderr
    n = len(EXAMPLE_FILES)
    assert f"{n} of {n} traces conform under zircon-2025" in proc.stdout
    assert "Traceback" not in proc.stderr


def test_subprocess_directory_json() -> None:
    proc = run_cli("check", str(EXAMPLES), "--json")
    assert proc.returncode == 0, proc.stderr
    report = json.loads(proc.stdout)
    assert report["conforming"] == report["traces"] == len(EXAMPLE_FILES)


def test_subprocess_divergence(tmp_path: Path) -> None:
    path = write(tmp_path, "bad.jsonl", HEADER, CREATE, COMMIT_PAST_END_OK)
    proc = run_cli("check", str(path))
    assert proc.returncode == 1
    assert "diverges at step 2 (line 3)" in proc.stdout
    assert proc.stderr == ""


@pytest.mark.parametrize(
    "kind", ["invalid_json", "missing_version", "float", "above_u64", "out_rebound", "empty",
             "unknown_config"],
)
def test_subprocess_malformed(kind: str, tmp_path: Path) -> None:
    lines, lineno, fragment = MALFORMED[kind]
    path = write(tmp_path, f"{kind}.jsonl", *lines)
    proc = run_cli("check", str(path))
    assert proc.returncode == 2
    assert "Traceback" not in proc.stderr and "Traceback" not in proc.stdout
    check_error_line(error_line(proc.stderr), path, lineno, fragment)


def test_subprocess_missing_file(tmp_path: Path) -> None:
    path = tmp_path / "nowhere.jsonl"
    proc = run_cli("check", str(path))
    assert proc.returncode == 2
    assert error_line(proc.stderr) == f"{path}: no such file"


def test_subprocess_not_utf8(tmp_path: Path) -> None:
    path = tmp_path / "latin1.jsonl"
    path.write_bytes(HEADER.encode() + b"\n" + b'{"call": "vmo_create", "note": "\xe9"}\n')
    proc = run_cli("check", str(path))
    assert proc.returncode == 2
    line = error_line(proc.stderr)
    assert line.startswith(f"{path}:2: not UTF-8")


@pytest.mark.parametrize(
    ("argv", "fragment"),
    [
        (["check", "--profile", "zircon-1999", "--examples"], "invalid choice"),
        (["check", "--bogus", "--examples"], "unrecognized arguments"),
    ],
)
def test_subprocess_usage_errors(argv: list[str], fragment: str) -> None:
    proc = run_cli(*argv)
    assert proc.returncode == 2
    line = error_line(proc.stderr)
    assert USAGE_ERROR.fullmatch(line), line
    assert fragment in line
    assert proc.stdout == ""


def test_subprocess_help_and_profiles() -> None:
    proc = run_cli("check", "--help")
    assert proc.returncode == 0
    assert proc.stdout.startswith("usage: vmospec check")
    assert proc.stderr == ""
    proc = run_cli("profiles")
    assert proc.returncode == 0
    assert sorted(ln.split()[0] for ln in proc.stdout.splitlines()) == sorted(PROFILES)


def test_subprocess_from_another_directory(tmp_path: Path) -> None:
    # --examples finds the bundled traces through the package, not the working directory.
    proc = run_cli("check", "--examples", "--json", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["traces"] == len(EXAMPLE_FILES)
