"""`vmospec diff` and `vmospec hunt`: classes and findings derived by z3, each with a
minimal witness trace that replays under the profile it is recorded for."""

from __future__ import annotations

from functools import cache
from pathlib import Path

import pytest

from proofs.diff import DiffResult, diff
from proofs.diff import write_traces as write_diff
from proofs.hunt import HuntResult, hunt, render
from proofs.hunt import write_traces as write_hunt
from refinement_tests.checker import check_trace
from refinement_tests.trace import read_trace
from spec.abi import ERR_ACCESS_DENIED, ERR_BAD_HANDLE, ERR_INVALID_ARGS, ERR_OUT_OF_RANGE, OK
from spec.profiles import PROFILES
from spec.sources import ids
from vmospec.hunt_cmd import register, write_trace_file


@cache
def _eras() -> DiffResult:
    return diff("zircon-2023", "zircon-2025")


@cache
def _hunt() -> HuntResult:
    return hunt(eras=False)


def test_diff_of_a_profile_with_itself_is_empty() -> None:
    for name in ("zircon-2025", "doc"):
        assert diff(name, name).classes == [], name


def test_diff_finds_prefetch_and_decommit_trimming() -> None:
    res = _eras()
    keys = {(d.step, d.key[1], d.key[2]) for d in res.classes}
    assert ("PREFETCH", ERR_INVALID_ARGS, OK) in keys
    trims = [d for d in res.classes
             if d.step == "DECOMMIT" and d.key[1] == OK and d.key[2] == ERR_OUT_OF_RANGE]
    assert trims, "no DECOMMIT trimming class"
    # zircon-2023 trims and frees the range; zircon-2025 refuses it
    assert any("decommit.effect" in ids(d.rule_a) and "decommit.bounds.2025" in ids(d.rule_b)
               for d in trims)
    # one class per key: no duplicates
    assert len(keys) <= len(res.classes) == len({d.key for d in res.classes})


def test_diff_witnesses_are_minimal_and_replay(tmp_path: Path) -> None:
    res = _eras()
    write_diff(res, tmp_path, write_trace_file)
    for d in res.classes:
        assert d.witness.values.get("S_a", 4096) <= 4096, d.summary()  # a 1-page VMO
        assert d.trace is not None
        trace = read_trace(d.trace)
        under_a = check_trace(trace, PROFILES["zircon-2023"])
        assert under_a.conforms, (d.summary(), under_a.divergence)
        under_b = check_trace(trace, PROFILES["zircon-2025"])
        assert under_b.divergence is not None, d.summary()
        assert under_b.divergence.step == trace.steps[-1].index, d.summary()


def test_hunt_finds_precedence_and_silent(tmp_path: Path) -> None:
    res = _hunt()
    cats = {f.category for f in res.findings}
    assert {"precedence", "silent", "page-vs-page"} <= cats
    # the page against itself: a right its op paragraph requires and RIGHTS does not list
    page = {f.claims for f in res.findings if f.category == "page-vs-page"}
    assert ("zero-requires-write", "rights-sufficient") in page
    prec = [f for f in res.findings if f.category == "precedence"
            and set(f.statuses) == {ERR_ACCESS_DENIED, ERR_OUT_OF_RANGE}]
    assert prec, "no ACCESS_DENIED vs OUT_OF_RANGE finding"
    # one finding per pair of competing rules, whichever steps share it
    pairs = [(f.category, f.statuses, f.rules) for f in res.findings]
    assert len(pairs) == len(set(pairs))
    # the prefix: an invalid op through an invalid handle, BAD_HANDLE or INVALID_ARGS
    assert any(f.handle == "$invalid" and set(f.statuses) == {ERR_BAD_HANDLE, ERR_INVALID_ARGS}
               for f in res.findings)
    for f in prec:
        assert f.witness.values.get("S_a") == 4096
        statuses = {p.result.status for p in f.doc}
        assert {ERR_ACCESS_DENIED, ERR_OUT_OF_RANGE} <= statuses


def test_points_not_findings(tmp_path: Path) -> None:
    """Every finding is an instance of exactly one point; precedence is one point per
    pair of errors with its ops as instances; no two points share a witness; every
    witness replays under doc with the outcome set the point states."""
    res = _hunt()
    assert sorted(id(i) for p in res.points for i in p.instances) == \
        sorted(id(f) for f in res.instances)
    assert {id(f) for f in res.findings} <= {id(i) for i in res.instances}
    ids_ = [p.id for p in res.points]
    assert len(ids_) == len(set(ids_))
    witnesses = [p.witness.signature() for p in res.points]
    assert len(witnesses) == len(set(witnesses)), "two points share a witness"
    prec = [p for p in res.points if p.key == ("precedence", "ACCESS_DENIED", "OUT_OF_RANGE")]
    assert len(prec) == 1 and {"COMMIT", "ZERO", "CACHE_SYNC"} <= set(prec[0].ops)
    pairs = [p.key for p in res.points if p.category == "precedence"]
    assert len(pairs) == len(set(pairs))
    # the eight page-against-page contradictions stay eight points
    assert sum(1 for p in res.points if p.category == "page-vs-page") == 8
    write_hunt(res, tmp_path / "w", write_trace_file)
    for p in res.points:
        assert p.id.startswith("P-") and p.trace and p.witness.explanation
        r = check_trace(read_trace(p.trace), PROFILES["doc"])
        assert r.conforms, (p.id, r.divergence)
        assert all(s["id"] in ids_of_page() for s in p.sentences()), p.id
    text = render(res, str(tmp_path / "w"))
    assert all(f"## {p.id}" in text for p in res.points)
    assert text.count("\n| [P-") == len(res.points)


def ids_of_page() -> set[str]:
    from spec.sources import FACTS

    return {i for i in FACTS if i.startswith("page.")}


def test_points_are_not_merged_into_one() -> None:
    """The grouping can fail: a floor on the points the hunt finds without the era diff
    (the whole hunt adds the era points: 47 when this was written)."""
    res = _hunt()
    assert len(res.points) >= 40
    assert len(res.points) < len(res.instances)


def test_command_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    import argparse
    import json

    from vmospec.cli import _Parser

    parser = _Parser(prog="vmospec")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)
    register(sub)
    args = parser.parse_args(["diff", "zircon-2023", "zircon-2025", "--json",
                              "--out", str(tmp_path)])
    assert args.run(args) == 1  # they differ
    out = json.loads(capsys.readouterr().out)
    assert out["findings"] and all({"id", "category", "witness"} <= set(f)
                                   for f in out["findings"])
    bad = parser.parse_args(["diff", "nope", "zircon-2025"])
    assert bad.run(bad) == 2
    with pytest.raises(SystemExit) as e:
        parser.parse_args(["diff", "zircon-2023"])
    assert e.value.code == 2
    assert isinstance(args, argparse.Namespace)


def test_hunt_command_writes_the_register_and_drops_stale_witnesses(
        tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    import json

    import proofs.hunt
    from vmospec.cli import main

    res = _hunt()
    # the hunt itself is tested above
    monkeypatch.setattr(proofs.hunt, "hunt", lambda **_: res)
    stale = tmp_path / "ambiguities" / "A-a-finding-that-is-gone.jsonl"
    stale.parent.mkdir()
    stale.write_text("{}\n")
    assert main(["hunt", "--out", str(tmp_path), "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert not stale.exists()
    written = sorted(p.name for p in (tmp_path / "ambiguities").iterdir())
    assert written == sorted(f"{p['id']}.jsonl" for p in out["points"])
    register = (tmp_path / "ambiguities.md").read_text()
    assert all(f"## {p['id']}" in register for p in out["points"])
    # the shape of a point in --json
    for p in out["points"]:
        assert {"id", "category", "witness", "instances", "sentences", "outcomes"} <= set(p)
        assert set(p["outcomes"]) == set(PROFILES)
        assert p["instances"] and all({"step", "shape", "context", "category"} <= set(i)
                                      for i in p["instances"])
        assert all({"id", "section", "phrase"} <= set(s) for s in p["sentences"])


def test_readings_are_points_whose_witnesses_replay_and_differ(tmp_path: Path) -> None:
    """Every reading of a silence (spec/readings.py) is one point. Its witness, recorded
    under each of the two alternatives, conforms under doc both ways; the two records
    differ at the last step (the call or the later observation). With the doc profile
    pinned to the kernel's readings (and its accounting exact), the other alternative's
    record is rejected: the doc allows it only because it takes no side."""
    from dataclasses import replace

    from spec.readings import READINGS

    res = _hunt()
    points = {p.key[1]: p for p in res.points if p.category == "reading"}
    assert set(points) == {r.name for r in READINGS}
    exact = replace(PROFILES["doc"], attribution="share_count", commit_accounting="kernel")
    pinned = replace(exact, readings=())
    for name, p in points.items():
        w = p.witness
        assert w.steps_a[w.differ_at].outcome != w.steps_b[w.differ_at].outcome, name
        records = {}
        for alt, steps in zip(w.reading.alternatives, (w.steps_a, w.steps_b), strict=False):
            path = tmp_path / f"{p.id}-{alt}.jsonl"
            write_trace_file(path, steps, {})
            records[alt] = read_trace(str(path))
            for prof in (PROFILES["doc"], exact):
                r = check_trace(records[alt], prof)
                assert r.conforms, (name, alt, prof.name, r.divergence)
        other = next(a for a in w.reading.alternatives[:2] if a != w.reading.kernel)
        r = check_trace(records[other], pinned)
        assert not r.conforms, (name, other)
        assert r.divergence is not None and r.divergence.step >= w.call_at, name


def test_z3_instances_fold_into_the_readings_points() -> None:
    """The whole outcomes z3 finds (proofs/whole.py) add instances to the readings'
    points, never points of their own: each lies under its own reading's point."""
    res = _hunt()
    by_z3 = [(p, i) for p in res.points for i in p.instances
             if getattr(i, "found_by", "") == "z3"]
    assert by_z3
    assert all(p.key == ("reading", i.reading.name) for p, i in by_z3)
    assert len({p.witness.signature() for p in res.points}) == len(res.points)
