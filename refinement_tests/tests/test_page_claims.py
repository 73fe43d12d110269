"""The page against itself (proofs/page_claims.py): contradictions z3 derives from the
page's claims are real (their witnesses replay under `doc`), the search can fail (a
planted contradiction is found, a consistent pair is not), and claims outside any
contradiction agree with the doc profile, so they are not a second, drifting spec."""

from __future__ import annotations

from functools import cache
from pathlib import Path

import z3

from proofs.page_claims import (
    CLAIMS,
    DOMAIN,
    Claim,
    Conflict,
    Context,
    Fails,
    NeedsRight,
    Never,
    Returns,
    agreement,
    call_view,
    conflict,
    contradictions,
)
from proofs.witness import allows, recorded_step, status_set
from refinement_tests.checker import check_trace
from refinement_tests.trace import read_trace
from spec.abi import ERR_ACCESS_DENIED, ERR_OUT_OF_RANGE, OK, OP_ZERO, RIGHT_READ, RIGHT_WRITE
from spec.profiles import PROFILES
from vmospec.hunt_cmd import write_trace_file


@cache
def _found() -> tuple[Conflict, ...]:
    return tuple(contradictions()[0])


def _holds(m: dict[str, int], f: object) -> bool:
    if isinstance(f, bool):
        return f
    subst = [(z3.BitVec(n, 64), z3.BitVecVal(v, 64)) for n, v in m.items()]
    return bool(z3.is_true(z3.simplify(z3.substitute(f, *subst))))


def test_the_page_contradicts_itself_where_expected() -> None:
    keys = {c.key for c in _found()}
    # the example: a right the op's paragraph requires and RIGHTS does not list
    assert ("zero-requires-write", "rights-sufficient") in keys
    assert ("dont-need-trivially-succeeds", "errors-out-of-range") in keys
    assert ("buffer-unused", "errors-invalid-buffer") in keys
    # the ops RIGHTS lists agree with their paragraphs: no contradiction there
    assert not any("commit" in k[0] and k[1] == "rights-sufficient" for k in keys)
    assert len(keys) == len(_found())  # one finding per pair of claims


def test_each_contradiction_replays_under_doc(tmp_path: Path) -> None:
    for c in _found():
        m = c.witness.values
        view = call_view(c.shape, c.handle, c.step)
        assert view is not None
        cx = Context(CLAIMS, view)
        # both claims apply at the witness, and no outcome meets both there
        assert _holds(m, c.a.when(view)) and _holds(m, c.b.when(view)), c.key
        assert _holds(m, conflict(cx, a=c.a, b=c.b)), c.key
        assert not (c.allowed_a & c.allowed_b), c.key
        assert m.get("S_a", 4096) <= 4096, c.key  # a one-page VMO
        doc = c.doc()
        assert doc, c.key
        path = tmp_path / f"{c.a.id}--{c.b.id}.jsonl"
        write_trace_file(path, [*c.witness.setup, recorded_step(c.witness, doc, "w")], {})
        trace = read_trace(path)
        r = check_trace(trace, PROFILES["doc"])
        assert r.conforms, (c.key, r.divergence)
        # the outcome the finding claims for doc is what the trace records
        expect = trace.steps[-1].expect["status"]
        doc_set = status_set(doc)
        assert {s for s in DOMAIN if expect.accepts(s)} == \
            {s for s in DOMAIN if allows(doc_set, s)}, c.key


def _zero(claims: list[Claim]) -> list[Conflict]:
    return contradictions(claims, [("anonymous", "a", "ZERO")])[0]


def test_a_planted_contradiction_is_found_and_a_consistent_pair_is_not() -> None:
    ops = frozenset({OP_ZERO})
    empty_ok = Claim("empty-ok", "test", ops, lambda c: c.size == 0, Returns(OK))
    bounds = Claim("bounds", "test", ops, lambda c: c.range_invalid(), Fails(ERR_OUT_OF_RANGE))
    found = _zero([empty_ok, bounds])
    assert [c.key for c in found] == [("empty-ok", "bounds")]
    w = found[0].witness.values
    assert w["size"] == 0 and w["offset"] > w["S_a"]  # an empty range past the end

    # disjoint conditions, or the same requirement twice: nothing to find
    in_bounds_ok = Claim("in-bounds-ok", "test", ops,
                         lambda c: z3.And(z3.Not(c.range_invalid()),
                                          z3.Not(c.lacks(RIGHT_WRITE))), Returns(OK))
    write = Claim("write", "test", ops, lambda c: True, NeedsRight(RIGHT_WRITE))
    write2 = Claim("write2", "test", ops, lambda c: True, NeedsRight(RIGHT_WRITE))
    assert _zero([in_bounds_ok, bounds, write, write2]) == []

    # a right one claim requires and another rules out
    no_denial = Claim("no-denial", "test", ops, lambda c: True,
                      Never(frozenset({ERR_ACCESS_DENIED})))
    assert [c.key for c in _zero([write, no_denial])] == [("write", "no-denial")]


def test_claims_outside_contradictions_agree_with_doc() -> None:
    # a claim in a contradiction disagrees with doc on that op by necessity (doc takes
    # one side); everywhere else every claim must agree with doc
    exempt = {(cl.id, op) for c in _found() for cl in (c.a, c.b)
              for op in c.a.ops & c.b.ops}
    # so does a claim of the very sentence a reading of the doc profile leaves open
    # (spec/readings.py): doc allows each of its alternatives
    from spec.readings import READINGS
    from spec.sources import ids

    open_ = [cl for cl in CLAIMS for r in READINGS if set(ids(cl.cites)) == set(r.page)]
    assert "errors-unlock-not-locked" in {cl.id for cl in open_}
    exempt |= {(cl.id, op) for cl in open_ for op in cl.ops}
    for cl in CLAIMS:
        checks = agreement(cl)
        assert checks, f"{cl.id} applies nowhere"
        for a in checks:
            view = call_view(a.witness.shape, a.witness.handle, a.witness.step)
            assert view is not None
            if (cl.id, view.op) in exempt:
                continue
            assert a.agrees, (cl.id, a.witness.shape, a.witness.step, a.doc_allows,
                              a.claim_allows)


def test_a_drifting_claim_is_caught() -> None:
    # ZERO needs WRITE; a claim that it needs READ disagrees with doc where the
    # handle has WRITE but not READ
    drift = Claim("zero-requires-read", "test", frozenset({OP_ZERO}), lambda c: True,
                  NeedsRight(RIGHT_READ))
    checks = agreement(drift, [*CLAIMS, drift])
    assert checks and not all(a.agrees for a in checks)
