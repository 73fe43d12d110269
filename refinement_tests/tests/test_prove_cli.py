"""`vmospec prove` from the command line: table, JSON, exit status, bad input."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from vmospec.cli import main


def test_prove_one_invariant_json(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    # zircon-2025: under doc locks need not nest (the reading lock-nesting)
    code = main(["prove", "--only", "lock-counting", "--profile", "zircon-2025", "--json",
                 "--jobs", "1",
                 "--out", str(tmp_path)])
    report = json.loads(capsys.readouterr().out)
    assert code == 0
    names = {o["name"] for o in report["obligations"]}
    assert {"lock-counting | zircon-2025 | discardable:a | UNLOCK"} <= names
    for o in report["obligations"]:
        assert o["status"] == "proved" and o["nonvacuous"] is True
        assert isinstance(o["seconds"], float)


def test_prove_reports_findings_with_replayable_traces(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    code = main(["prove", "--only", "status-domain", "--profile", "zircon-2025", "--jobs", "1",
                 "--brief", "--out", str(tmp_path)])
    out = capsys.readouterr().out
    assert code == 0  # status-domain counterexamples are findings, not failures
    assert "FINDING" in out and "CACHE_INVALIDATE" in out
    traces = sorted(tmp_path.glob("*.jsonl"))
    assert traces
    assert main(["check", "--profile", "zircon-2025", *map(str, traces)]) == 0


@pytest.mark.parametrize("argv", [
    ["prove", "--only", "no-such-invariant"],
    ["prove", "--profile", "zircon-1999"],
    ["prove", "--jobs", "0"],
])
def test_prove_bad_input(argv: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    code = main(argv) if argv[1] == "--only" else _exit_code(argv)  # usage errors exit
    err = capsys.readouterr().err
    assert code == 2
    assert len(err.strip().splitlines()) == 1 and "Traceback" not in err


def _exit_code(argv: list[str]) -> int:
    with pytest.raises(SystemExit) as e:
        main(argv)
    return int(e.value.code or 0)
