"""What `vmospec prove` remembers (proofs/cache.py): a hit, a re-proof of exactly what a
changed function touches, --no-cache, and that nothing outside the hashed code runs."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from proofs.cache import CODE, ROOT, ProofCache, code_state
from proofs.prover import RLIMIT, Obligation, obligations, run
from vmospec.cli import main

# A few cheap obligations over several steps: rights on the plain VMO.
OBS = [ob for ob in obligations(["zircon-2025"], "rights") if ob.shape == "anonymous"]
ZERO = "spec/op_range.py:zero"


def test_a_second_run_remembers_every_result(tmp_path: Path) -> None:
    assert {ob.step for ob in OBS} >= {"ZERO", "COMMIT", "vmo_read"}
    cache = ProofCache(tmp_path, RLIMIT)
    first = run(OBS, jobs=1, cache=cache)
    assert not any(r.cached for r in first)
    again = run(OBS, jobs=1, cache=cache)
    assert all(r.cached for r in again) and len(again) == len(first)
    verdicts = {r.obligation.name: (r.status, r.nonvacuous) for r in first}
    assert {r.obligation.name: (r.status, r.nonvacuous) for r in again} == verdicts
    # another budget or another z3 is another key
    assert run(OBS[:1], jobs=1, cache=ProofCache(tmp_path, RLIMIT + 1))[0].cached is False


def test_a_changed_op_reproves_only_what_ran_it(tmp_path: Path) -> None:
    cache = ProofCache(tmp_path, RLIMIT)
    first = {r.obligation.step: r for r in run(OBS, jobs=1, cache=cache)}
    assert ZERO in first["ZERO"].depends
    assert ZERO not in first["COMMIT"].depends and ZERO not in first["vmo_read"].depends
    assert "proofs/catalogue.py:rights" in first["COMMIT"].depends
    changed = ProofCache(tmp_path, RLIMIT)
    changed.funcs = {**changed.funcs, ZERO: "another body"}
    again = run(OBS, jobs=1, cache=changed)
    reproved = {r.obligation.step for r in again if not r.cached}
    assert reproved == {"ZERO"}


def test_edits_move_the_right_digests(tmp_path: Path) -> None:
    """A real edit of the code, on a copy: a comment changes nothing, a statement in
    one op changes that op's digest only, module-level data changes everything."""
    for path in CODE:
        (tmp_path / path.relative_to(ROOT)).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(path, tmp_path / path.relative_to(ROOT))
    base, funcs = code_state(tmp_path)
    assert (base, funcs) == code_state(ROOT)
    op_range = tmp_path / "spec/op_range.py"
    text = op_range.read_text()
    op_range.write_text(text.replace("\ndef zero(", "\n# a comment\ndef zero(", 1))
    assert code_state.__wrapped__(tmp_path) == (base, funcs)
    head, rest = text.split("\ndef zero(", 1)
    signature, tail = rest.split(":\n", 1)
    op_range.write_text(f"{head}\ndef zero({signature}:\n    _unused = 1\n{tail}")
    base2, funcs2 = code_state.__wrapped__(tmp_path)
    assert base2 == base
    assert {f for f in funcs if funcs[f] != funcs2[f]} == {ZERO}
    op_range.write_text(text + "\nANSWER = 42\n")
    assert code_state.__wrapped__(tmp_path)[0] != base


def test_no_cache_proves_again_and_stores_nothing(
        capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    argv = ["prove", "--only", "lock-counting", "--profile", "zircon-2025", "--json",
            "--jobs", "1", "--out", str(tmp_path / "cex"), "--cache", str(tmp_path / "c")]
    cached = []
    for extra in ([], [], ["--no-cache"]):
        assert main([*argv, *extra]) == 0
        cached.append([o["cached"] for o in json.loads(capsys.readouterr().out)["obligations"]])
    assert cached[0] == [False] and cached[1] == [True] and cached[2] == [False]


def test_bad_budget_is_one_line(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as e:
        main(["prove", "--rlimit", "0"])
    assert e.value.code == 2
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1 and "--rlimit" in err


def test_a_tiny_budget_is_unknown_never_proved(tmp_path: Path) -> None:
    ob = Obligation("zero-zeroes", "zircon-2025", "anonymous", "a", "ZERO")
    (r,) = run([ob], jobs=1, rlimit=1000)
    assert r.status == "unknown"


def test_proofs_run_no_code_of_ours_outside_the_hashed_files() -> None:
    """The cache's premise: a verdict depends on CODE and nothing else of this project.
    A fresh process proves obligations of every step under a tracer of files run."""
    script = """
import sys
from proofs.prover import obligations, run
obs = [ob for ob in obligations(["zircon-2025", "doc"])
       if ob.invariant in ("errors-atomic", "status-domain", "lock-prevents-discard",
                           "discard-visible", "snapshot-isolation")
       and ob.shape in ("slice", "pager", "discardable", "snapshot")]
ran = set()
def tracer(frame, event, arg):
    ran.add(frame.f_code.co_filename)
sys.setprofile(tracer)
run(obs, jobs=1)
sys.setprofile(None)
assert len({ob.step for ob in obs}) == 19, len({ob.step for ob in obs})
print("\\n".join(sorted(ran)))
"""
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                         cwd=ROOT, check=True).stdout
    ours = {Path(f) for f in out.splitlines() if f.startswith(str(ROOT))
            and "/.venv/" not in f}
    assert ours and ours <= set(CODE), sorted(str(p) for p in ours - set(CODE))
