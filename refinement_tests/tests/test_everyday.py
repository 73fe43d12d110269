"""Everyday use of the command line (issue 10, item 6): Ctrl-C, progress on a terminal,
where `hunt` writes, `check` of a folder tree, missing files, `--broken` names, and the
trace header's `kernel` choosing the profile."""

from __future__ import annotations

import io
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

import proofs.hunt
from model.variants import VARIANTS
from proofs.hunt import HuntResult, hunt
from refinement_tests.tests.cli_run import run_main
from refinement_tests.tests.test_cli import CREATE, EXAMPLE_FILES, REPO, error_line, write
from spec.profiles import PROFILES

PREFETCH_INVALID = ('{"call": "vmo_op_range", "vmo": "a", "op": "ZX_VMO_OP_PREFETCH", '
                    '"offset": 0, "size": 4096, "status": "ZX_ERR_INVALID_ARGS"}')


def _header(kernel: object) -> str:
    return json.dumps({"vmo_trace": 1, "page_size": 4096, "kernel": kernel})


# --- check: folders, missing files, the header's kernel --------------------------------------


def test_check_descends_into_subfolders(tmp_path: Path, capsys: pytest.CaptureFixture[str]
                                        ) -> None:
    deep = tmp_path / "a" / "b"
    deep.mkdir(parents=True)
    shutil.copy(EXAMPLE_FILES[0], tmp_path / "top.jsonl")
    shutil.copy(EXAMPLE_FILES[1], deep / "deep.jsonl")
    code, out, _ = run_main(capsys, "check", str(tmp_path))
    assert code == 0
    assert f"{deep / 'deep.jsonl'}: conforms" in out
    assert "2 of 2 traces conform" in out


def test_a_missing_file_is_missing_not_malformed(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    missing = tmp_path / "gone.jsonl"
    code, out, err = run_main(capsys, "check", str(EXAMPLE_FILES[0]), str(missing))
    assert code == 2
    assert error_line(err) == f"{missing}: no such file"
    assert out.splitlines()[-1].endswith("; 1 missing")
    assert "malformed" not in out
    code, out, _ = run_main(capsys, "check", str(missing), "--json")
    assert [e["missing"] for e in json.loads(out)["errors"]] == [True]


def test_the_header_kernel_picks_the_profile(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # PREFETCH is not dispatched before 2024: INVALID_ARGS under zircon-2023 only
    era23 = write(tmp_path, "era23.jsonl", _header("zircon-2023"), CREATE, PREFETCH_INVALID)
    code, out, _ = run_main(capsys, "check", str(era23))
    assert code == 0 and "1 of 1 traces conform under zircon-2023" in out
    # --profile wins over the header
    code, out, _ = run_main(capsys, "check", str(era23), "--profile", "zircon-2025")
    assert code == 1 and f"replay: vmospec check {era23} --profile zircon-2025" in out
    # no kernel: zircon-2025; traces of several kernels each under its own
    plain = write(tmp_path, "plain.jsonl", '{"vmo_trace": 1, "page_size": 4096}', CREATE,
                  PREFETCH_INVALID)
    code, out, _ = run_main(capsys, "check", str(era23), str(plain), "--json")
    report = json.loads(out)
    assert code == 1 and report["profile"] is None
    assert [(d["trace"], d["profile"]) for d in report["divergences"]] == [
        (str(plain), "zircon-2025")]


@pytest.mark.parametrize("kernel", ["zircon", 7])
def test_an_unknown_header_kernel_is_bad_input(
        kernel: object, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = write(tmp_path, "k.jsonl", _header(kernel), CREATE)
    code, _, err = run_main(capsys, "check", str(path))
    assert code == 2
    line = error_line(err)
    assert line.startswith(f"{path}:1: header: kernel {kernel!r} is not a profile (")
    assert all(name in line for name in PROFILES)
    # naming the profile checks it anyway
    assert run_main(capsys, "check", str(path), "--profile", "zircon-2025")[0] == 0


# --- --broken ----------------------------------------------------------------------------------


@pytest.mark.parametrize("command", ["run", "fuzz", "explore"])
def test_broken_lists_its_names(command: str, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run_main(capsys, command, "--help")
    assert code == 0
    flat = " ".join(out.split())
    assert all(name in flat for name in VARIANTS)
    argv = [command, "--backend", "model", "--broken", "no_such_variant"]
    code, out, err = run_main(capsys, *(argv if command != "run" else [*argv[:1], "x.jsonl",
                                                                         *argv[1:]]))
    assert code == 2 and out == ""
    line = error_line(err)
    assert "invalid choice: 'no_such_variant'" in line and "commit_no_rights" in line


# --- hunt: where it writes, progress -----------------------------------------------------------


@pytest.fixture(scope="module")
def hunted() -> HuntResult:
    return hunt(steps={"DECOMMIT"}, eras=False)


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def _fake_hunt(res: HuntResult, calls: list[int]) -> object:
    def run(progress: object = None, **_kw: object) -> HuntResult:
        for _ in range(3):
            assert callable(progress)
            progress()
            calls.append(1)
        return res
    return run


def test_hunt_writes_a_fresh_folder_and_notes_only_when_asked(
        hunted: HuntResult, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(proofs.hunt, "hunt", _fake_hunt(hunted, []))
    (tmp_path / "notes").mkdir()
    (tmp_path / "notes" / "ambiguities.md").write_text("an old register\n")
    code, out, err = run_main(capsys, "hunt", "--json")
    assert code == 0
    register = Path(json.loads(out)["register"])
    assert register.parent.parent == Path("out") and register.parent.name.startswith("hunt-")
    assert register.is_file() and (register.parent / "ambiguities").is_dir()
    assert (tmp_path / "notes" / "ambiguities.md").read_text() == "an old register\n"
    assert error_line(err) == ("vmospec hunt: notes/ambiguities.md differs from this run "
                               "(vmospec hunt --update-notes rewrites it)")
    # a second run: another fresh folder
    assert run_main(capsys, "hunt")[0] == 0
    assert len(list(Path("out").iterdir())) == 2
    # asked: the project's register is rewritten, and then it is current
    code, out, err = run_main(capsys, "hunt", "--update-notes")
    assert code == 0 and err == ""
    assert "## " in (tmp_path / "notes" / "ambiguities.md").read_text()
    assert run_main(capsys, "hunt")[2] == ""
    code, _, err = run_main(capsys, "hunt", "--update-notes", "--out", "elsewhere")
    assert code == 2 and "give one" in error_line(err)


def test_hunt_shows_progress_on_a_terminal_only(
        hunted: HuntResult, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.chdir(tmp_path)  # no notes/ here to compare with
    calls: list[int] = []
    monkeypatch.setattr(proofs.hunt, "hunt", _fake_hunt(hunted, calls))
    assert run_main(capsys, "hunt", "--out", "plain")[2] == ""
    terminal = _Terminal()
    monkeypatch.setattr(sys, "stderr", terminal)
    assert run_main(capsys, "hunt", "--out", "tty")[0] == 0
    assert "hunt:" in terminal.getvalue() and "3/" in terminal.getvalue()
    assert len(calls) == 6


def test_backend_diff_shows_progress_on_a_terminal(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    terminal = _Terminal()
    monkeypatch.setattr(sys, "stderr", terminal)
    code, _, _ = run_main(capsys, "diff", "zircon-2025", "spec", "--seconds", "1",
                          "--out", str(tmp_path))
    assert code == 0
    assert "diff:" in terminal.getvalue() and "traces" in terminal.getvalue()


# --- Ctrl-C --------------------------------------------------------------------------------


def _children(pid: int) -> list[int]:
    """The process's forked workers: its children running its own command line (not,
    say, multiprocessing's resource tracker, which leaves on its own when it sees EOF)."""
    path = Path(f"/proc/{pid}/task/{pid}/children")
    if not path.exists():
        return []
    own = Path(f"/proc/{pid}/cmdline").read_bytes()
    found = []
    for child in path.read_text().split():
        try:
            if Path(f"/proc/{child}/cmdline").read_bytes() == own:
                found.append(int(child))
        except OSError:  # gone meanwhile
            pass
    return found


def _watching(pid: int) -> bool:
    """Has the command set up its Ctrl-C watch (a pipe beyond stdin, stdout, stderr)?"""
    fds = Path(f"/proc/{pid}/fd")
    try:
        return any(int(fd.name) > 2 and os.readlink(fd).startswith("pipe:")
                   for fd in fds.iterdir())
    except OSError:  # it is gone, or a descriptor closed meanwhile
        return False


@pytest.mark.skipif(not Path("/proc/self/fd").exists(), reason="needs Linux /proc")
@pytest.mark.parametrize("argv", [
    ["prove", "--jobs", "2"],
    ["hunt"],
    ["diff", "doc", "sel4zircon"],
    ["diff", "zircon-2025", "model", "--seconds", "600"],
], ids=["prove", "hunt", "diff", "backend-diff"])
def test_ctrl_c_stops_at_once(argv: list[str], tmp_path: Path) -> None:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(REPO), env.get("PYTHONPATH")) if p)
    proc = subprocess.Popen(
        [sys.executable, "-m", "vmospec.cli", *argv, "--out", str(tmp_path / "out")],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env, cwd=tmp_path)
    try:
        deadline = time.monotonic() + 120
        while not _watching(proc.pid) or (argv[0] == "prove" and not _children(proc.pid)):
            assert proc.poll() is None, proc.communicate()
            assert time.monotonic() < deadline, "the command never started its work"
            time.sleep(0.05)
        workers = _children(proc.pid)
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=60)
    finally:
        proc.kill()
    assert (proc.returncode, out, err) == (130, "", "vmospec: interrupted\n")
    # the prover's workers were killed with it: they go away (a loaded machine may take
    # a moment to run a killed process's exit)
    deadline = time.monotonic() + 60
    while any(Path(f"/proc/{pid}").exists() for pid in workers):
        assert time.monotonic() < deadline, "a worker outlived the command"
        time.sleep(0.1)
