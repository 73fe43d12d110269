"""One real proof over the spec itself: after a successful DECOMMIT the range reads zero
and holds no committed page, for every 64-bit offset, size, VMO size, rights mask and
content. The proof runs the very op function `check` runs, on z3 terms.

It is shown non-vacuous (a successful, non-empty DECOMMIT exists under its hypotheses)
and able to fail (a spec whose DECOMMIT forgets to zero yields a counterexample)."""

from __future__ import annotations

from typing import Any

import z3

from proofs.engine import in_range, paths, prove, satisfiable, symbolic_root
from refinement_tests.spec_mutants import MUTANTS
from spec import abi
from spec.op_range import op_range
from spec.profiles import PROFILES
from spec.state import Kind, Vmo

P = 4096


def _decommit_obligations(profile: str) -> list[tuple[str, Any, list[Any]]]:
    """(rule, claim, hypotheses) for every successful path of DECOMMIT."""
    root = symbolic_root(P, Kind())
    offset, size = z3.BitVecs("offset size", 64)
    found, side = paths(
        lambda cx: op_range(cx, root.state, "a", abi.OP_DECOMMIT, offset, size, 0, False),
        PROFILES[profile], P,
    )
    i = z3.BitVec("i", 64)
    out = []
    for p in found:
        if p.result.status != abi.OK:
            continue
        vmo = p.result.state.objects[1]
        assert isinstance(vmo, Vmo) and vmo.memory is not None
        mem = vmo.memory
        claim = z3.ForAll([i], z3.Implies(
            in_range(i, offset, offset + size),
            z3.And(mem.content[i] == 0, z3.Not(mem.committed[z3.UDiv(i, P)]))))
        out.append((p.why, claim, [root.well_formed, *p.condition, *side,
                                   z3.UGT(size, 0)]))
    return out


def test_decommit_zeroes_its_range_for_all_inputs() -> None:
    obligations = _decommit_obligations("zircon-2025")
    assert obligations, "DECOMMIT has no successful path"
    for why, claim, hyps in obligations:
        # Non-vacuity: a non-empty successful DECOMMIT exists on this path.
        if not satisfiable(*hyps):
            continue
        verdict, _ = prove(hyps, claim)
        assert verdict == "proved", why
    assert any(satisfiable(*h) for _, _, h in obligations), "every path is vacuous"


def test_decommit_proof_fails_for_a_broken_decommit() -> None:
    with MUTANTS["decommit-keeps-bytes"]():
        obligations = _decommit_obligations("zircon-2025")
    verdicts = [prove(h, c)[0] for _, c, h in obligations if satisfiable(*h)]
    assert "counterexample" in verdicts


def test_decommit_proof_finds_the_2023_trim() -> None:
    """Under zircon-2023 an over-long DECOMMIT is trimmed to S (decommit.bounds.2023), so the
    requested range beyond S is not zeroed: the same claim has a counterexample."""
    verdicts = [prove(h, c)[0] for _, c, h in _decommit_obligations("zircon-2023")
                if satisfiable(*h)]
    assert "counterexample" in verdicts
