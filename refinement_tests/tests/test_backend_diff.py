"""`vmospec diff PROFILE BACKEND` (refinement_tests/backend_diff.py): every class of
divergence once, with a shrunk witness that the checker rejects at its last step;
known disagreements listed and labelled, not hidden."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from refinement_tests import known_witnesses
from refinement_tests.backend_diff import (
    backend_diff,
    classify,
    known_classes,
    write_witnesses,
)
from refinement_tests.backends import ModelBackend, SpecBackend
from refinement_tests.checker import check_trace
from refinement_tests.fuzz import lockstep
from refinement_tests.generate import GenStep, GenTrace
from refinement_tests.known import KNOWN, Known
from refinement_tests.trace import read_trace
from spec import abi
from spec.profiles import PROFILES

Z25 = PROFILES["zircon-2025"]
P = 4096


def _no_write_commit(size: int) -> GenTrace:
    """COMMIT through a handle without WRITE: ACCESS_DENIED under every kernel."""
    steps = (
        GenStep("vmo_create", "call", {"size": 2 * P, "options": 0, "out": "a"}),
        GenStep("handle_duplicate", "call",
                {"handle": "a", "rights": abi.RIGHT_READ, "out": "r"}),
        GenStep("vmo_op_range", "call", {"vmo": "r", "op": abi.OP_COMMIT, "offset": 0,
                                         "size": size, "buffer_size": 0,
                                         "buffer_null": False}),
    )
    return GenTrace(P, {"debugging_syscalls": False, "page_loaning": False}, steps)


def test_a_broken_backend_is_found_once_per_class(tmp_path: Path) -> None:
    backend = ModelBackend(broken={"commit_no_rights"})
    res = backend_diff(Z25, backend, seconds=60, max_examples=400, seed_value=1)
    assert res.traces > 0 and res.classes
    keys = [c.key for c in res.classes]
    assert len(keys) == len(set(keys))  # each class once
    assert sum(c.count for c in res.classes) <= res.traces
    # the missing right shows as OK or, past the end, as OUT_OF_RANGE: either is the class
    denied = [c for c in res.classes
              if c.op == "COMMIT" and c.allowed == ("ACCESS_DENIED",)
              and c.observed in ("OK", "OUT_OF_RANGE")]
    assert denied, [c.summary(res.profile, res.backend) for c in res.classes]
    write_witnesses(res, tmp_path)
    for c in res.classes:
        assert c.path is not None and c.id
        trace = read_trace(c.path)
        r = check_trace(trace, Z25)
        # the witness replays: the checker rejects it at its last step
        assert r.divergence is not None and r.divergence.step == len(trace.steps), c.id
    # shrunk: create, a handle without WRITE, COMMIT (at most a step more)
    assert len(denied[0].trace.steps) <= 4


def test_an_implementation_that_is_the_spec_has_no_class() -> None:
    res = backend_diff(Z25, SpecBackend(Z25), seconds=60, max_examples=200, seed_value=3)
    assert res.traces > 0 and res.classes == []


def test_classes_ignore_sizes_but_not_statuses() -> None:
    broken = ModelBackend(broken={"commit_no_rights"})
    k1 = classify(_no_write_commit(P), lockstep(_no_write_commit(P), broken, Z25))
    k2 = classify(_no_write_commit(2 * P), lockstep(_no_write_commit(2 * P), broken, Z25))
    assert k1 is not None and k1 == k2
    past_end = _no_write_commit(3 * P)  # broken: OUT_OF_RANGE, not OK
    k3 = classify(past_end, lockstep(past_end, broken, Z25))
    assert k3 is not None and k3 != k1
    fine = _no_write_commit(P)
    assert classify(fine, lockstep(fine, ModelBackend(), Z25)) is None


def test_known_disagreements_are_listed_and_labelled(monkeypatch: pytest.MonkeyPatch) -> None:
    # a planted known disagreement, with its witness: the class it falls in is listed
    # (not hidden) and labelled with its name
    import refinement_tests.backend_diff as bd

    monkeypatch.setattr(bd, "KNOWN", {"planted": Known("avoid", "COMMIT without WRITE")})
    monkeypatch.setattr(known_witnesses, "witness_trace",
                        lambda name: _no_write_commit(P))
    res = backend_diff(Z25, ModelBackend(broken={"commit_no_rights"}), seconds=60,
                       max_examples=400, seed_value=1)
    labelled = [c for c in res.classes if c.known == "planted"]
    assert labelled and all(c.op == "COMMIT" and c.observed == "OK" for c in labelled)


def test_each_known_witness_that_still_diverges_labels_its_class() -> None:
    # the real record: a known disagreement's witness on the model falls in a class
    # that the diff labels with its name (a fixed one no longer diverges: nothing to label)
    labels = known_classes(ModelBackend(), Z25)
    for name in KNOWN:
        trace = known_witnesses.witness_trace(name)
        key = classify(trace, lockstep(trace, ModelBackend(), Z25, waive=frozenset()))
        if key is not None:
            assert labels.get(key) == name, (name, key)


def test_command_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from vmospec.cli import _Parser
    from vmospec.hunt_cmd import register

    parser = _Parser(prog="vmospec")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)
    register(sub)
    args = parser.parse_args(["diff", "zircon-2023", "model", "--seconds", "2",
                              "--seed", "1", "--json", "--out", str(tmp_path)])
    assert args.run(args) == 1  # the model is the 2025 kernel: it differs from 2023
    out = json.loads(capsys.readouterr().out)
    assert out["a"] == "zircon-2023" and out["b"] == "model" and out["findings"]
    for f in out["findings"]:
        assert {"id", "category", "witness", "known", "count"} <= set(f)
        assert Path(f["witness"]).exists()
    # either order: the profile is A in the report
    swapped = parser.parse_args(["diff", "model", "zircon-2025", "--seconds", "1", "--json",
                                 "--out", str(tmp_path)])
    assert swapped.run(swapped) in (0, 1)
    assert json.loads(capsys.readouterr().out)["a"] == "zircon-2025"
    bad = parser.parse_args(["diff", "zircon-2025", "nope"])
    assert bad.run(bad) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "zircon-2025" in err[0] and "model" in err[0]
