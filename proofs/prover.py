"""Obligations: one per invariant, profile, shape, handle and step; discharged by z3.

For an obligation, the step is run on the shape's symbolic state with the z3 backend
(the spec's own op functions), giving one path per way it can go. The claim is that on
every path, where the invariant applies, it holds. Each obligation reports:
- `proved`, `counterexample` (with the z3 model), or `unknown` (z3 ran out of its
  budget: never proved);
- whether its hypotheses can be met where the invariant applies (non-vacuity).

Budgets are counted in z3's own units of work (`rlimit`), not in seconds, so a busy or
slow machine gives the same verdicts, only later. Results are remembered
(proofs/cache.py) under everything they depend on.
"""

from __future__ import annotations

import multiprocessing
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from functools import cache
from typing import Any

import z3

from proofs.cache import ProofCache, tracking
from proofs.catalogue import CATALOGUE, FAMILY_INVARIANTS, Ctx, hypotheses
from proofs.engine import Verdict
from proofs.shapes import FAMILY_SHAPES, HUNT_SHAPES, SHAPES, Shape
from proofs.steps import FAMILY_STEPS, STEP_BY_LABEL, STEPS
from spec.explore import Path, explore
from spec.outcome import Outcome
from spec.profiles import PROFILES
from spec.symbolic import BV8, BV64, Symbolic

PAGE = 4096
# z3's budget for each solver call of an obligation (one makes at most five). The
# hardest obligation of the catalogue needs about a tenth of it (notes/proofs.md).
RLIMIT = 500_000_000
# The status domain is expected to fail for kernel profiles: the kernel returns statuses
# the page does not list. Each counterexample is a finding to keep and report.
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
    depends: tuple[str, ...] = ()  # the functions tracked one by one that it ran (cache.py)
    cached: bool = False  # remembered from an earlier run, not proved now

    def to_json(self) -> dict[str, Any]:
        return {"status": self.status, "seconds": self.seconds,
                "nonvacuous": self.nonvacuous, "model": self.model}

    @classmethod
    def from_json(cls, ob: Obligation, d: dict[str, Any]) -> Result:
        return cls(ob, d["status"], d["seconds"], d["nonvacuous"], d["model"], cached=True)

    @property
    def finding(self) -> bool:
        """A counterexample that is a result, not a failure: an expected finding, or any
        counterexample under a profile the catalogue does not specify."""
        ob = self.obligation
        return self.status == "counterexample" and (
            ob.invariant in EXPECTED_FINDINGS or not PROFILES[ob.profile].catalogue_holds)


@cache
def shape(name: str) -> Shape:
    return HUNT_SHAPES[name](PAGE)


@cache
def step_paths(profile: str, shape_name: str, handle: str, step: str
               ) -> tuple[list[Path[Outcome]], tuple[Any, ...]]:
    sh = shape(shape_name)
    run = STEP_BY_LABEL[step].run
    v = Symbolic(PAGE)
    found = explore(lambda cx: run(cx, sh.state, handle), v, PROFILES[profile], PAGE,
                    {"debugging_syscalls": False, "page_loaning": False})
    return found, tuple(v.side)


@cache
def _constructible(profile: str, shape_name: str) -> bool:
    from proofs.witness import constructible  # witness builds on this module

    return constructible(profile, shape_name)


def obligations(profiles: Iterable[str], only: str | None = None) -> Iterator[Obligation]:
    for inv in CATALOGUE.values():
        if only is not None and inv.name != only:
            continue
        for profile in profiles:
            if not inv.profiles(PROFILES[profile]):
                continue
            for shape_name in (*SHAPES, *FAMILY_SHAPES):
                if shape_name in FAMILY_SHAPES and inv.name not in FAMILY_INVARIANTS:
                    continue
                if not _constructible(profile, shape_name):
                    continue  # nothing to prove of a shape the profile cannot build
                sh = shape(shape_name)
                steps = [*STEPS, *FAMILY_STEPS] if shape_name in FAMILY_SHAPES else STEPS
                for handle in sh.targets:
                    for st in steps:
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
    # Copy-on-write families: the page sets of the family shapes, at the page and at the
    # byte's page (proofs/counterexample.py builds them).
    for name in FAMILY_SETS:
        a = z3.Array(name, BV64, z3.BoolSort())
        for key, at in (("page", k), ("byte_page", z3.UDiv(i, PAGE))):
            out[f"{name}_at_{key}"] = int(z3.is_true(m.eval(a[at], model_completion=True)))
    return out


FAMILY_SETS = ("pages_h", "pages_h2", "zeros_a", "zeros_c", "zeros_d", "committed_d")


ARRAYS = [(f"{kind}_{tag}", sort) for kind, tag, sort in (
    ("content", "a", BV8), ("content", "c", BV8), ("committed", "a", z3.BoolSort()),
    ("committed", "c", z3.BoolSort()), ("dirty", "a", z3.BoolSort()),
    ("always_need", "a", z3.BoolSort()), ("dont_need", "a", z3.BoolSort()))]


# Where the model is silent, arrays take the values of a well-formed state: bytes zero,
# pages not committed, pager pages dirty, no hint marks.
DEFAULTS = {"content": z3.BitVecVal(0, 8), "committed": z3.BoolVal(False),
            "dirty": z3.BoolVal(True), "always_need": z3.BoolVal(False),
            "dont_need": z3.BoolVal(False)}


def _completion(m: z3.ModelRef, i: z3.BitVecRef, k: z3.BitVecRef) -> list[tuple[Any, Any]]:
    """Each array as the model has it where the claim looks (contents at the byte; page
    sets at the page and at the byte's page), and as a well-formed state elsewhere."""
    byte = [m.eval(i, model_completion=True)]
    pages = [m.eval(x, model_completion=True) for x in (k, z3.UDiv(i, PAGE))]
    subst = []
    for name, sort in ARRAYS:
        a = z3.Array(name, BV64, sort)
        kind = name.rsplit("_", 1)[0]
        value: Any = z3.K(BV64, DEFAULTS[kind])
        for p in byte if kind == "content" else pages:
            value = z3.Store(value, p, m.eval(a[p], model_completion=True))
        subst.append((a, value))
    return subst


def _solver(rlimit: int, simplify: bool = False) -> z3.Solver:
    """A solver with a budget. `simplify`: z3's simplifier first, which does about a
    third less work on the quantifier-free claims (measured on the slowest)."""
    s = z3.Then("simplify", "smt").solver() if simplify else z3.Solver()
    s.set("rlimit", rlimit)
    return s


def _confirmed(m: z3.ModelRef, hyps: list[Any], claim: Any, i: z3.BitVecRef,
               k: z3.BitVecRef, rlimit: int) -> z3.ModelRef | None:
    """A quantifier-free model made whole: its arrays completed as a well-formed state,
    then checked against every hypothesis (quantifiers over fixed arrays are easy)."""
    subst = _completion(m, i, k)
    s = _solver(rlimit)
    s.add(*[a == v for a, v in subst], *hyps, claim)
    return s.model() if s.check() == z3.sat else None


SMALL = 1 << 20  # a witness within a 1 MiB VMO reads better than one at 2^63


def _small_model(s: z3.Solver, i: z3.BitVecRef, k: z3.BitVecRef) -> z3.ModelRef:
    """The solver's model, or a smaller one when the counterexample also exists with
    sizes, offsets and the offending byte below 1 MiB (minimal witnesses)."""
    found = s.model()
    small = [z3.ULT(x, SMALL) for x in (
        z3.BitVec("S_a", 64), z3.BitVec("S_c", 64), z3.BitVec("offset", 64),
        z3.BitVec("size", 64), i)] + [z3.ULT(k, SMALL // PAGE)]
    s.push()
    s.add(*small)
    if s.check() == z3.sat:
        found = s.model()
    s.pop()
    return found


def _first_confirmed(ground: z3.Solver, hyps: list[Any], claim: Any, i: z3.BitVecRef,
                     k: z3.BitVecRef, rlimit: int) -> z3.ModelRef | None:
    """The small model confirmed, else the solver's own: which of them completes as a
    well-formed state depends on z3's search, which shifts with what the process built
    before (a test suite run showed the small one failing where the other holds)."""
    first = ground.model()
    small = _small_model(ground, i, k)
    return (_confirmed(small, hyps, claim, i, k, rlimit)
            or _confirmed(first, hyps, claim, i, k, rlimit))


def _witness(sh: Shape) -> list[tuple[Any, Any]]:
    """A well-formed state to show non-vacuity with: every byte zero, no page committed,
    every pager page dirty (written). Substituting it removes the quantifiers from the
    hypotheses."""
    subst = []
    for name in ("content_a", "content_c"):
        subst.append((z3.Array(name, BV64, BV8), z3.K(BV64, z3.BitVecVal(0, 8))))
    subst.append((z3.Array("dirty_a", BV64, z3.BoolSort()), z3.K(BV64, z3.BoolVal(True))))
    for name in ("committed_a", "committed_c", "always_need_a", "dont_need_a"):
        subst.append((z3.Array(name, BV64, z3.BoolSort()), z3.K(BV64, z3.BoolVal(False))))
    return subst


def _nonvacuous(sh: Shape, hyps: list[Any], where: list[Any], rlimit: int) -> bool | None:
    """Can the hypotheses hold where the invariant applies? Tried first on a witness
    state (quantifier-free, fast), then on any state; None when z3 cannot tell."""
    for subst in (_witness(sh), []):
        s = _solver(rlimit // 20 if subst else rlimit)
        facts = [z3.substitute(f, *subst) if subst else f for f in [*hyps, z3.Or(*where)]]
        s.add(*[z3.simplify(f) for f in facts])
        r = s.check()
        if r == z3.sat:
            return True
        if r == z3.unsat and not subst:
            return False
    return None


def discharge(ob: Obligation, paths: tuple[list[Path[Outcome]], tuple[Any, ...]] | None = None,
              rlimit: int = RLIMIT) -> Result:
    """Prove one obligation (on `paths` of its step, if given: else explored here)."""
    start = time.perf_counter()
    inv = CATALOGUE[ob.invariant]
    sh = shape(ob.shape)
    found, side = paths or step_paths(ob.profile, ob.shape, ob.handle, ob.step)
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
    nonvacuous = _nonvacuous(sh, hyps, where, rlimit)
    if nonvacuous is False:
        return Result(ob, "vacuous", time.perf_counter() - start, False)
    claim = z3.Not(z3.And(*parts))
    # First with well-formedness only where the claim looks (quantifier-free): unsat
    # there is a proof. Otherwise ask again with all of it, for a proof or a real model.
    ground = _solver(rlimit, simplify=True)
    points = [i, k, z3.UDiv(i, PAGE)]  # the byte, the page, the byte's page
    ground.add(*hypotheses(sh, PAGE, at=points), *side, claim)
    r = ground.check()
    model: dict[str, Any] = {}
    if r == z3.unsat:
        verdict: Verdict = "proved"
    elif r == z3.sat and (confirmed := _first_confirmed(ground, hyps, claim, i, k, rlimit)):
        # The quantifier-free model, completed as a well-formed state, satisfies every
        # hypothesis (quantifiers included): a real counterexample.
        verdict = "counterexample"
        model = _model_values(confirmed, i, k)
    else:
        full = _solver(rlimit)
        full.add(*hyps, *hypotheses(sh, PAGE, at=points), claim)
        r = full.check()
        verdict = "proved" if r == z3.unsat else "counterexample" if r == z3.sat \
            else "unknown"
        if r == z3.sat:
            model = _model_values(_small_model(full, i, k), i, k)
    return Result(ob, verdict, time.perf_counter() - start, nonvacuous, model)


def _discharge_group(job: tuple[list[Obligation], int]) -> list[Result]:
    """Prove the obligations of one (profile, shape, handle, step), recording for each
    the functions it ran (cache.py): those of the step, explored afresh here so that
    nothing is served from a cache unseen, and those of its own claim."""
    batch, rlimit = job
    ob = batch[0]
    group: set[str] = set()
    with tracking(group):
        shape.__wrapped__(ob.shape)
        paths = step_paths.__wrapped__(ob.profile, ob.shape, ob.handle, ob.step)
    results = []
    for ob in batch:
        deps = set(group)
        with tracking(deps):
            r = discharge(ob, paths, rlimit)
        r.depends = tuple(sorted(deps))
        results.append(r)
    return results


def run(obs: list[Obligation], jobs: int = 2,
        progress: Callable[[Result], None] | None = None, rlimit: int = RLIMIT,
        cache: ProofCache | None = None) -> list[Result]:
    """Discharge obligations on `jobs` processes, taking what `cache` remembers and
    storing what is proved anew. Obligations are grouped by shape, step and profile so
    that each process explores a step once for all invariants."""
    results: list[Result] = []
    groups: dict[tuple[str, str, str, str], list[Obligation]] = {}
    for ob in obs:
        hit = cache.get(ob.name) if cache is not None else None
        if hit is not None:
            results.append(Result.from_json(ob, hit))
            if progress:
                progress(results[-1])
        else:
            groups.setdefault((ob.profile, ob.shape, ob.handle, ob.step), []).append(ob)
    jobs_ = [(batch, rlimit) for batch in groups.values()]

    def take(rs: list[Result]) -> None:
        results.extend(rs)
        if cache is not None:
            cache.put([(r.obligation.name, list(r.depends), r.to_json()) for r in rs])
        for r in rs:
            if progress:
                progress(r)

    if jobs <= 1 or len(jobs_) <= 1:
        for job in jobs_:
            take(_discharge_group(job))
        return results
    ctx = multiprocessing.get_context("fork")
    with ctx.Pool(min(jobs, len(jobs_))) as pool:
        for rs in pool.imap_unordered(_discharge_group, jobs_):
            take(rs)
    return results
