"""Where two profiles disagree: divergence classes found by z3, one minimal witness each.

For every shape, handle and step, each path of profile A is paired with each path of
profile B. A pair is a divergence where both paths can be taken on one input and the
outcomes differ there: A's status is one B does not allow on that input, or B's one A
does not allow (for profiles that allow several outcomes, `doc`, this is exact: the
other profile's allowed set is the disjunction of its paths' conditions), or, for the
same status, a key output (LOCK's lock_state, ...) differs. The class of a divergence
is (step, status A, status B, rule A, rule B): found once, on the simplest shape
(proofs/witness.py SHAPE_ORDER), with a minimal witness that is replayed on the
concrete spec under both profiles before it is reported.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import z3

from proofs.prover import shape, step_paths
from proofs.shapes import SHAPES
from proofs.steps import STEPS
from proofs.witness import (
    Fresh,
    Recorded,
    Witness,
    Writer,
    allows,
    build,
    key_outputs,
    outcome_text,
    recorded_step,
    shape_rank,
    status_label,
    status_set,
    write,
)
from spec.abi import OK
from spec.explore import ANY_ERROR
from spec.explore import Path as SpecPath
from spec.outcome import Between, Outcome

Key = tuple[str, int, int, str, str]


@dataclass
class Divergence:
    """One class of inputs on which A and B disagree, with its witness."""

    key: Key
    a: str
    b: str
    shape: str
    handle: str
    kind: str  # "status" or "output"
    witness: Witness
    outcomes_a: list[SpecPath[Outcome]]
    outcomes_b: list[SpecPath[Outcome]]
    trace: str | None = None
    suffix: int = 1  # the n-th class with the same id gets "-n"

    @property
    def step(self) -> str:
        return self.key[0]

    @property
    def rule_a(self) -> str:
        return self.key[3]

    @property
    def rule_b(self) -> str:
        return self.key[4]

    @property
    def id(self) -> str:
        return (f"D-{_slug(self.step)}-{_slug(status_label(self.key[1]))}"
                f"-vs-{_slug(status_label(self.key[2]))}")

    def summary(self) -> str:
        return (f"{self.step}: {self.a} {outcome_text(self.outcomes_a)} "
                f"({self.rule_a}) / {self.b} {outcome_text(self.outcomes_b)} ({self.rule_b})")

    def trace_steps(self) -> list[Recorded]:
        note = (f"{self.a} gives {outcome_text(self.outcomes_a)}; {self.b} gives "
                f"{outcome_text(self.outcomes_b)} ({self.rule_b})")
        return [*self.witness.setup, recorded_step(self.witness, self.outcomes_a, note)]


@dataclass
class DiffResult:
    a: str
    b: str
    classes: list[Divergence] = field(default_factory=list)
    pairs_checked: int = 0
    unconfirmed: list[Key] = field(default_factory=list)
    seconds: float = 0.0


def _slug(s: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", s.lower()).strip("-")


def compatible(s: int, t: int) -> bool:
    """Can one outcome with status s and one with t be the same observation?"""
    return s == t or (ANY_ERROR in (s, t) and OK not in (s, t))


def _allowed(paths: list[SpecPath[Outcome]], conds: list[Any], s: int) -> Any:
    """Where a profile with these paths (and fresh conditions) allows status s."""
    return z3.Or(False, *[c for p, c in zip(paths, conds, strict=True)
                          if allows({p.result.status}, s)])


def _words(x: Any) -> list[Any]:
    if isinstance(x, Between):
        return []
    if isinstance(x, int) or z3.is_bv(x):
        return [x]
    if hasattr(x, "items"):
        return [w for _k, val in sorted(x.items()) for w in _words(val)]
    return []


def _outputs_differ(a: Outcome, b: Outcome) -> Any:
    diffs = []
    for k in sorted(set(a.out) & set(b.out)):
        wa, wb = _words(a.out[k]), _words(b.out[k])
        if len(wa) == len(wb):
            diffs += [x != y for x, y in zip(wa, wb, strict=True)]
    return z3.simplify(z3.Or(False, *diffs))


def combos() -> Iterator[tuple[str, str, str]]:
    combos = [(s, h) for s in SHAPES for h in shape(s).targets]
    combos.sort(key=lambda c: shape_rank(*c))
    for s, h in combos:
        for st in STEPS:
            yield s, h, st.label


def _confirm(w: Witness, a: str, b: str, sa: int, sb: int, kind: str
             ) -> tuple[list[SpecPath[Outcome]], list[SpecPath[Outcome]]] | None:
    oa, ob = w.outcomes(a), w.outcomes(b)
    set_a, set_b = status_set(oa), status_set(ob)
    if kind == "status":
        if not (allows(set_a, sa) and allows(set_b, sb)):
            return None
        if allows(set_b, sa) and allows(set_a, sb) and set_a == set_b:
            return None
        return oa, ob
    outs_a = [key_outputs(p.result) for p in oa if p.result.status == sa]
    outs_b = [key_outputs(p.result) for p in ob if p.result.status == sb]
    if outs_a and outs_b and any(x not in outs_b for x in outs_a):
        return oa, ob
    return None


def diff(a: str, b: str, steps: set[str] | None = None,
         progress: Callable[[], None] | None = None) -> DiffResult:
    """Every divergence class of profiles a and b (restricted to `steps` if given)."""
    start = time.perf_counter()
    res = DiffResult(a, b)
    found: dict[Key, Divergence] = {}
    tried: set[Key] = set()
    for shape_name, handle, step in combos():
        if steps is not None and step not in steps:
            continue
        if progress:
            progress()
        pa, side_a = step_paths(a, shape_name, handle, step)
        pb, side_b = step_paths(b, shape_name, handle, step)
        fresh: Fresh | None = None
        conds_a: list[Any] = []
        conds_b: list[Any] = []
        allowed: dict[tuple[str, int], Any] = {}
        for ix, x in enumerate(pa):
            for iy, y in enumerate(pb):
                sx, sy = x.result.status, y.result.status
                key: Key = (step, sx, sy, x.why, y.why)
                if key in found or (sx == sy and not (x.result.out and y.result.out)):
                    continue
                if compatible(sx, sy) and sx != sy:
                    continue
                if fresh is None:
                    fresh = Fresh(shape_name, [*shape(shape_name).facts, *side_a, *side_b])
                    conds_a = [fresh.sub(z3.And(True, *p.condition)) for p in pa]
                    conds_b = [fresh.sub(z3.And(True, *p.condition)) for p in pb]
                cx, cy = conds_a[ix], conds_b[iy]
                if not compatible(sx, sy):
                    kind = "status"
                    if ("b", sx) not in allowed:
                        allowed["b", sx] = z3.Not(_allowed(pb, conds_b, sx))
                    if ("a", sy) not in allowed:
                        allowed["a", sy] = z3.Not(_allowed(pa, conds_a, sy))
                    where = z3.Or(allowed["b", sx], allowed["a", sy])
                else:
                    kind = "output"
                    where = fresh.sub(_outputs_differ(x.result, y.result))
                    if z3.is_false(where):
                        continue
                res.pairs_checked += 1
                if not fresh.sat(cx, cy, where):
                    continue
                m = fresh.minimal(handle, cx, cy, where)
                if m is None:
                    continue
                tried.add(key)
                w = build(shape_name, handle, step, m)
                confirmed = _confirm(w, a, b, sx, sy, kind)
                if confirmed is None:
                    continue
                found[key] = Divergence(key, a, b, shape_name, handle, kind, w, *confirmed)
    res.unconfirmed = sorted(tried - set(found))
    res.classes = sorted(found.values(), key=lambda d: (d.step, d.id, d.rule_a, d.rule_b))
    _unique_ids(res.classes)
    res.seconds = time.perf_counter() - start
    return res


def _unique_ids(classes: list[Divergence]) -> None:
    seen: dict[str, int] = {}
    for d in classes:
        n = seen.get(d.id, 0) + 1
        seen[d.id] = n
        if n > 1:
            d.suffix = n


def class_id(d: Divergence) -> str:
    return d.id if d.suffix == 1 else f"{d.id}-{d.suffix}"


def write_traces(res: DiffResult, out: Path, writer: Writer) -> None:
    for d in res.classes:
        name = f"{_slug(res.a)}--{_slug(res.b)}--{class_id(d)}.jsonl"
        d.trace = write(out / name, d.trace_steps(), {
            "origin": "vmospec diff: witness", "kernel": res.a, "versus": res.b,
            "class": class_id(d), "step": d.step, "shape": f"{d.shape}:{d.handle}",
            "rule": d.rule_a, "rule_versus": d.rule_b,
            "outcome_versus": outcome_text(d.outcomes_b)}, writer)
