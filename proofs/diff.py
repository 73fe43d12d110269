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

Beyond the shapes' handles, each op is also tried through an invalid handle and through
a handle to a pager (where an implementation decodes the op first), and zx_vmo_create is
tried with each option bit: where the two profiles set a shape up differently, that is a
class of its own, and the shape's other steps are not compared (the state it needs is one
profile cannot reach). A panic (spec.op_range.PANIC: no status comes back) is one class
per step and rule, whatever the other profile returns there. Each class names the stated
facts of an implementation profile that explain it (`items`): the ids its rule cites
(`zcore.*`, ...), and those the profile's `lacks` gives for the rung the other profile took.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import z3

from proofs.combos import build_any, combos, paths
from proofs.prover import PAGE, shape
from proofs.shapes import SHAPES
from proofs.witness import (
    Builder,
    Fresh,
    Recorded,
    Witness,
    Writer,
    allows,
    key_outputs,
    outcome_text,
    recorded_step,
    setup,
    status_set,
    write,
)
from spec import abi
from spec.abi import OK
from spec.explore import ANY_ERROR
from spec.explore import Path as SpecPath
from spec.outcome import PANIC, Between, Outcome, status_name
from spec.profiles import PROFILES
from spec.sources import explain, ids

Key = tuple[str, int, int, str, str]

# In the key of a panic class, the other profile's status and rule: any of them.
OTHER = -(1 << 41)
OTHER_RULE = "*"


@dataclass
class DiffClass:
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
    rules: tuple[str, str] = ("", "")  # the witness's rules (a panic key has "*")

    @property
    def step(self) -> str:
        return self.key[0]

    @property
    def rule_a(self) -> str:
        return self.rules[0] or self.key[3]

    @property
    def rule_b(self) -> str:
        return self.rules[1] or self.key[4]

    @property
    def id(self) -> str:
        return (f"D-{_slug(self.step)}-{_slug(_label(self.key[1]))}"
                f"-vs-{_slug(_label(self.key[2]))}")

    @property
    def items(self) -> list[str]:
        """The stated items of implementation profiles that explain this class."""
        return explained_by(self.a, self.rule_a, self.b, self.rule_b)

    def summary(self) -> str:
        shown = {*ids(self.rule_a), *ids(self.rule_b)}
        items = [i if i in shown else explain(i) for i in self.items]
        why = f" [explained by {'; '.join(items)}]" if items else ""
        return (f"{self.step}: {self.a} {_outcome_text(self.outcomes_a)} "
                f"({explain(self.rule_a)}) / {self.b} {_outcome_text(self.outcomes_b)} "
                f"({explain(self.rule_b)}){why}")

    def trace_steps(self) -> list[Recorded]:
        note = (f"{self.a} gives {_outcome_text(self.outcomes_a)}; {self.b} gives "
                f"{_outcome_text(self.outcomes_b)} ({self.rule_b})")
        last = recorded_step(self.witness, self.outcomes_a, note)
        if status_set(self.outcomes_a) == {PANIC}:
            # A trace cannot record a crash: the step keeps no status, only the note.
            last.outcome.pop("status", None)
            last.note = f"{self.a} panics here: no status comes back ({self.rule_a}); " \
                f"{self.b} gives {_outcome_text(self.outcomes_b)} ({self.rule_b})"
        return [*self.witness.setup, last]


@dataclass
class DiffResult:
    a: str
    b: str
    classes: list[DiffClass] = field(default_factory=list)
    pairs_checked: int = 0
    unconfirmed: list[Key] = field(default_factory=list)
    seconds: float = 0.0


def _slug(s: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", s.lower()).strip("-")


def _label(s: int) -> str:
    return "any" if s == OTHER else status_name(s, short=True)


def _outcome_text(paths: list[SpecPath[Outcome]]) -> str:
    if PANIC not in status_set(paths):
        return outcome_text(paths)
    return " or ".join(sorted({_label(p.result.status) for p in paths}))


def _allows(statuses: set[int], s: int) -> bool:
    """allows(), where a panic is no failure status: "any error" does not cover it."""
    return PANIC in statuses if s == PANIC else allows(statuses, s)


# Facts of an implementation profile have ids that start with its name (spec/sources.py).
_IMPLEMENTATIONS = frozenset(p.name for p in PROFILES.values() if p.kind == "implementation")


def citations(rule: str) -> list[str]:
    """The implementation facts a rule cites (ids such as "zcore.range.unbounded")."""
    return [i for i in ids(rule) if i.split(".")[0] in _IMPLEMENTATIONS]


def explained_by(a: str, rule_a: str, b: str, rule_b: str) -> list[str]:
    """The facts of implementation profiles a class is attributable to: those an
    implementation's own rule cites, and those its `lacks` gives for a rung the other
    profile took (matched by id)."""
    items: list[str] = []
    for me, mine, theirs in ((a, rule_a, rule_b), (b, rule_b, rule_a)):
        prof = PROFILES[me]
        if prof.kind != "implementation":
            continue
        items += citations(mine)
        taken = set(ids(theirs))
        items += [item for rung, item in prof.lacks if rung in taken]
    return sorted(set(items))


def compatible(s: int, t: int) -> bool:
    """Can one outcome with status s and one with t be the same observation?"""
    return s == t or (ANY_ERROR in (s, t) and OK not in (s, t) and PANIC not in (s, t))


def _allowed(paths: list[SpecPath[Outcome]], conds: list[Any], s: int) -> Any:
    """Where a profile with these paths (and fresh conditions) allows status s."""
    return z3.Or(False, *[c for p, c in zip(paths, conds, strict=True)
                          if _allows({p.result.status}, s)])


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


def _confirm(w: Witness, a: str, b: str, sa: int, sb: int, kind: str
             ) -> tuple[list[SpecPath[Outcome]], list[SpecPath[Outcome]]] | None:
    if not (_setup_replays(w, a) and _setup_replays(w, b)):
        return None  # a state one profile cannot reach: not a divergence at this step
    oa, ob = w.outcomes(a), w.outcomes(b)
    set_a, set_b = status_set(oa), status_set(ob)
    if kind == "panic":  # exactly one side panics, whatever the other returns
        return (oa, ob) if (PANIC in set_a) != (PANIC in set_b) else None
    if kind == "status":
        if not (_allows(set_a, sa) and _allows(set_b, sb)):
            return None
        if _allows(set_b, sa) and _allows(set_a, sb) and set_a == set_b:
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
    found: dict[Key, DiffClass] = {}
    tried: set[Key] = set()
    unreachable: set[str] = set()
    if steps is None or "vmo_create" in steps:
        for created in _create_classes(a, b):
            found.setdefault(created.key, created)
    for name in SHAPES:
        split = _setup_class(a, b, name)
        if split is not None:
            unreachable.add(name)
            if steps is None or split.step in steps:
                found.setdefault(split.key, split)
    for shape_name, handle, step in combos(SHAPES):  # the kinds every profile can make
        if (steps is not None and step not in steps) or shape_name in unreachable:
            continue
        if progress:
            progress()
        pa, side_a = paths(a, shape_name, handle, step)
        pb, side_b = paths(b, shape_name, handle, step)
        fresh: Fresh | None = None
        conds_a: list[Any] = []
        conds_b: list[Any] = []
        allowed: dict[tuple[str, int], Any] = {}
        for ix, x in enumerate(pa):
            for iy, y in enumerate(pb):
                sx, sy = x.result.status, y.result.status
                key: Key = _key(step, sx, sy, x.why, y.why)
                if key in found or (sx == sy and not (x.result.out and y.result.out)):
                    continue
                if compatible(sx, sy) and sx != sy:
                    continue
                if fresh is None:
                    fresh = Fresh(shape_name, [*shape(shape_name).facts, *side_a, *side_b])
                    conds_a = [fresh.sub(z3.And(True, *p.condition)) for p in pa]
                    conds_b = [fresh.sub(z3.And(True, *p.condition)) for p in pb]
                cx, cy = conds_a[ix], conds_b[iy]
                if key[1] == OTHER or key[2] == OTHER:
                    # a panic class: wherever one side panics and the other does not
                    kind = "panic"
                    if key[1] == OTHER:
                        cx, where = z3.BoolVal(True), z3.Not(_allowed(pa, conds_a, PANIC))
                    else:
                        cy, where = z3.BoolVal(True), z3.Not(_allowed(pb, conds_b, PANIC))
                elif not compatible(sx, sy):
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
                w = build_any(shape_name, handle, step, m)
                confirmed = _confirm(w, a, b, sx, sy, kind)
                if confirmed is None:
                    continue
                oa, ob = confirmed
                rules = (oa[0].why, ob[0].why) if kind == "panic" else (x.why, y.why)
                found[key] = DiffClass(key, a, b, shape_name, handle,
                                        "status" if kind == "panic" else kind, w, oa, ob,
                                        rules=rules)
    res.unconfirmed = sorted(tried - set(found))
    res.classes = sorted(found.values(), key=lambda d: (d.step, d.id, d.rule_a, d.rule_b))
    _unique_ids(res.classes)
    res.seconds = time.perf_counter() - start
    return res


def _key(step: str, sx: int, sy: int, why_x: str, why_y: str) -> Key:
    """A class's key; a panic on one side is one class whatever the other side does."""
    if sy == PANIC and sx != PANIC:
        return (step, OTHER, sy, OTHER_RULE, why_y)
    if sx == PANIC and sy != PANIC:
        return (step, sx, OTHER, why_x, OTHER_RULE)
    return (step, sx, sy, why_x, why_y)


# ----------------------------------------------------------------------------------------
# Setup: the calls that build a shape, and zx_vmo_create's options
# ----------------------------------------------------------------------------------------


def _setup_replays(w: Witness, profile: str) -> bool:
    """Does the witness's setup (recorded under zircon-2025) go the same way here?"""
    r = Builder(profile)
    for s in w.setup:
        r.add(s.name, s.note, s.kind, **s.args)
        want = s.outcome.get("status")
        if want is not None and want not in status_set(r.seen[-1][1]):
            return False
    return True


def _first_split(ra: Builder, rb: Builder, shape_name: str, handle: str
                 ) -> DiffClass | None:
    """The first step the two replays answer differently, as a class of its own."""
    steps = zip(ra.steps, ra.seen, rb.seen, strict=True)
    for i, (rec, (before, pa), (_b, pb)) in enumerate(steps):
        if rec.kind == "event" or status_set(pa) == status_set(pb):
            continue
        x, y = pa[0], pb[0]
        w = Witness(shape_name, handle, rec.name, {}, ra.steps[:i], before,
                    rec.name, rec.kind, dict(rec.args))
        key = _key(rec.name, x.result.status, y.result.status, x.why, y.why)
        return DiffClass(key, ra.profile, rb.profile, shape_name, handle, "status", w, pa, pb,
                          rules=(x.why, y.why))
    return None


def _setup_class(a: str, b: str, shape_name: str) -> DiffClass | None:
    """Where a and b set the shape up differently (zCore has no discardable VMOs)."""
    ra, rb = Builder(a), Builder(b)
    setup(ra, shape_name, PAGE, PAGE)
    setup(rb, shape_name, PAGE, PAGE)
    return _first_split(ra, rb, shape_name, "a")


def _create_options() -> list[int]:
    """Each option bit of zx_vmo_create alone, and each pair of the known ones."""
    known = [abi.VMO_RESIZABLE, abi.VMO_DISCARDABLE, abi.VMO_TRAP_DIRTY, abi.VMO_UNBOUNDED]
    pairs = [x | y for i, x in enumerate(known) for y in known[i + 1:]]
    return [0, *(1 << i for i in range(32)), *pairs]


def _create_classes(a: str, b: str) -> list[DiffClass]:
    out: dict[Key, DiffClass] = {}
    for options in _create_options():
        ra, rb = Builder(a), Builder(b)
        ra.add("vmo_create", size=PAGE, options=options, out="a")
        rb.add("vmo_create", size=PAGE, options=options, out="a")
        d = _first_split(ra, rb, "anonymous", "a")
        if d is not None:
            out.setdefault(d.key, d)
    return list(out.values())


def _unique_ids(classes: list[DiffClass]) -> None:
    seen: dict[str, int] = {}
    for d in classes:
        n = seen.get(d.id, 0) + 1
        seen[d.id] = n
        if n > 1:
            d.suffix = n


def class_id(d: DiffClass) -> str:
    return d.id if d.suffix == 1 else f"{d.id}-{d.suffix}"


def write_traces(res: DiffResult, out: Path, writer: Writer) -> None:
    for d in res.classes:
        name = f"{_slug(res.a)}--{_slug(res.b)}--{class_id(d)}.jsonl"
        d.trace = write(out / name, d.trace_steps(), {
            "origin": "vmospec diff: witness", "kernel": res.a, "versus": res.b,
            "class": class_id(d), "step": d.step, "shape": f"{d.shape}:{d.handle}",
            "rule": d.rule_a, "rule_versus": d.rule_b,
            "outcome_versus": _outcome_text(d.outcomes_b)}, writer)
