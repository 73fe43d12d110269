"""Obligations: one per invariant, profile, shape, handle and step; discharged by z3.

For an obligation, the step is run on the shape's symbolic state with the z3 backend
(the spec's own op functions), giving one path per way it can go. The claim is that on
every path, where the invariant applies, it holds. Each obligation reports:
- `proved`, `counterexample` (with the z3 model), or `unknown` (a timeout: never proved);
- whether its hypotheses can be met where the invariant applies (non-vacuity).
"""

from __future__ import annotations

import multiprocessing
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from functools import cache
from typing import Any

import z3

from proofs.catalogue import CATALOGUE, Ctx, hypotheses
from proofs.engine import Verdict
from proofs.shapes import SHAPES, Shape
from proofs.steps import STEP_BY_LABEL, STEPS
from spec.explore import Path, explore
from spec.outcome import Outcome
from spec.profiles import PROFILES
from spec.symbolic import BV8, BV64, Symbolic

PAGE = 4096
TIMEOUT_MS = 30_000
# Which invariants are expected to fail under which profiles: a counterexample there is
# a finding to keep and report, not a failure of the catalogue (notes/proofs.md).
EXPECTED_FINDINGS = {"status-domain"}


@dataclass(frozen=True)
class Obligation:
    invariant: str
    profile: str
    shape: str
    handle: str
    step: str

    @property
    def name(self) -> str:
        return f"{self.invariant} | {self.profile} | {self.shape}:{self.handle} | {self.step}"


@dataclass
class Result:
    obligation: Obligation
    status: Verdict | str  # proved, counterexample, unknown, vacuous, not applicable
    seconds: float
    nonvacuous: bool | None  # None: z3 could not tell
    model: dict[str, Any] = field(default_factory=dict)

    @property
    def finding(self) -> bool:
        return self.status == "counterexample" and self.obligation.invariant in EXPECTED_FINDINGS


@cache
def shape(name: str) -> Shape:
    return SHAPES[name](PAGE)


@cache
def step_paths(profile: str, shape_name: str, handle: str, step: str
               ) -> tuple[list[Path[Outcome]], tuple[Any, ...]]:
    sh = shape(shape_name)
    run = STEP_BY_LABEL[step].run
    v = Symbolic(PAGE)
    found = explore(lambda cx: run(cx, sh.state, handle), v, PROFILES[profile], PAGE,
                    {"debugging_syscalls": False, "page_loaning": False})
    return found, tuple(v.side)


def obligations(profiles: Iterable[str], only: str | None = None) -> Iterator[Obligation]:
    for inv in CATALOGUE.values():
        if only is not None and inv.name != only:
            continue
        for profile in profiles:
            for shape_name in SHAPES:
                sh = shape(shape_name)
                for handle in sh.targets:
                    for st in STEPS:
                        if inv.scope(st, sh, handle):
                            yield Obligation(inv.name, profile, shape_name, handle, st.label)


def _model_values(m: z3.ModelRef, i: z3.BitVecRef, k: z3.BitVecRef) -> dict[str, Any]:
    """The model's words, and its memory at the byte and page where the claim fails."""
    out: dict[str, Any] = {}
    for d in m.decls():
        val = m[d]
        if z3.is_bv_value(val):
            out[d.name()] = val.as_long()
    for tag in ("a", "c"):
        content = m.eval(z3.Array(f"content_{tag}", BV64, BV8)[i], model_completion=True)
        committed = m.eval(z3.Array(f"committed_{tag}", BV64, z3.BoolSort())[k],
                           model_completion=True)
        if z3.is_bv_value(content):
            out[f"content_{tag}_at_byte"] = content.as_long()
        out[f"committed_{tag}_at_page"] = int(z3.is_true(committed))
    return out


def _witness(sh: Shape) -> list[tuple[Any, Any]]:
    """A well-formed state to show non-vacuity with: every byte zero, no page committed,
    every pager page dirty (written). Substituting it removes the quantifiers from the hypotheses."""
    subst = []
    for name in ("content_a", "content_c"):
        subst.append((z3.Array(name, BV64, BV8), z3.K(BV64, z3.BitVecVal(0, 8))))
    subst.append((z3.Array("dirty_a", BV64, z3.BoolSort()), z3.K(BV64, z3.BoolVal(True))))
    for name in ("committed_a", "committed_c", "always_need_a", "dont_need_a"):
        subst.append((z3.Array(name, BV64, z3.BoolSort()), z3.K(BV64, z3.BoolVal(False))))
    return subst


def _nonvacuous(sh: Shape, hyps: list[Any], where: list[Any]) -> bool | None:
    """Can the hypotheses hold where the invariant applies? Tried first on a witness
    state (quantifier-free, fast), then on any state; None when z3 cannot tell."""
    for subst in (_witness(sh), []):
        s = z3.Solver()
        s.set("timeout", 5_000 if subst else TIMEOUT_MS)
        facts = [z3.substitute(f, *subst) if subst else f for f in [*hyps, z3.Or(*where)]]
        s.add(*[z3.simplify(f) for f in facts])
        r = s.check()
        if r == z3.sat:
            return True
        if r == z3.unsat and not subst:
            return False
    return None


def discharge(ob: Obligation) -> Result:
    start = time.perf_counter()
    inv = CATALOGUE[ob.invariant]
    sh = shape(ob.shape)
    found, side = step_paths(ob.profile, ob.shape, ob.handle, ob.step)
    i, k = z3.BitVecs("at_byte at_page", 64)
    parts, where = [], []
    for p in found:
        c = Ctx(sh, STEP_BY_LABEL[ob.step], ob.handle, PAGE, PROFILES[ob.profile], p, i, k)
        applies, holds = inv.predicate(c)
        if applies is False:
            continue
        here = z3.And(*p.condition, applies)
        parts.append(z3.Implies(here, holds))
        where.append(here)
    if not parts:
        return Result(ob, "not applicable", time.perf_counter() - start, False)
    hyps = [*hypotheses(sh, PAGE), *side]
    nonvacuous = _nonvacuous(sh, hyps, where)
    if nonvacuous is False:
        return Result(ob, "vacuous", time.perf_counter() - start, False)
    claim = z3.Not(z3.And(*parts))
    # First with well-formedness only where the claim looks (quantifier-free): unsat
    # there is a proof. Otherwise ask again with all of it, for a proof or a real model.
    ground = z3.Solver()
    ground.set("timeout", TIMEOUT_MS)
    ground.add(*hypotheses(sh, PAGE, at=[i, k]), *side, claim)
    r = ground.check()
    model: dict[str, Any] = {}
    if r == z3.unsat:
        verdict: Verdict = "proved"
    else:
        full = z3.Solver()
        full.set("timeout", TIMEOUT_MS)
        full.add(*hyps, *hypotheses(sh, PAGE, at=[i, k]), claim)
        r = full.check()
        verdict = "proved" if r == z3.unsat else "counterexample" if r == z3.sat \
            else "unknown"
        if r == z3.sat:
            model = _model_values(full.model(), i, k)
    return Result(ob, verdict, time.perf_counter() - start, nonvacuous, model)


def _discharge_many(batch: list[Obligation]) -> list[Result]:
    return [discharge(ob) for ob in batch]


def run(obs: list[Obligation], jobs: int = 2,
        progress: Callable[[Result], None] | None = None) -> list[Result]:
    """Discharge obligations on `jobs` processes. Obligations are grouped by shape, step
    and profile so that each process explores a step once for all invariants."""
    groups: dict[tuple[str, str, str, str], list[Obligation]] = {}
    for ob in obs:
        groups.setdefault((ob.profile, ob.shape, ob.handle, ob.step), []).append(ob)
    batches = list(groups.values())
    results: list[Result] = []
    if jobs <= 1:
        for batch in batches:
            for r in _discharge_many(batch):
                results.append(r)
                if progress:
                    progress(r)
        return results
    ctx = multiprocessing.get_context("fork")
    with ctx.Pool(jobs) as pool:
        for rs in pool.imap_unordered(_discharge_many, batches):
            for r in rs:
                results.append(r)
                if progress:
                    progress(r)
    return results
