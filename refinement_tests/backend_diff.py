"""`vmospec diff PROFILE BACKEND`: every class of inputs on which a backend's outcome is
outside the profile's allowed set, one shrunk witness trace per class.

Traces come from the fuzzer's generator (refinement_tests/generate.py, nothing steered
clear of) and run in lockstep on the backend and the spec (refinement_tests/fuzz.py
`Lockstep`, with no waiver: a known disagreement is found and labelled, not hidden).
A trace ends at its first divergence, which is put in a class:

    (call, op, the statuses the profile allows, the backend's status, the rules behind
     the allowed outcomes, the fields that differ when the status is allowed)

so a divergence met a thousand times shows once, with a count. The first trace of a
class is shrunk (whole steps dropped, then offsets and sizes made smaller) for as long
as it still diverges in the same class, and written with the backend's observed
outcomes: `vmospec check WITNESS --profile P` rejects it at its last step. A class is
labelled known when the witness of a known disagreement (refinement_tests/known.py,
known_witnesses.py) lands in the same class on this backend; a fuzz waiver that matches
the class's witness is named too (the fuzz would stop there, counted as known), but a
waiver is broad (a whole kind of VMO tree), so it is not taken as the class's label.

Bounded by time and seeded: the same seed and budget give the same traces.
"""

from __future__ import annotations

import hashlib
import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, Phase, Verbosity, given, seed, settings

from refinement_tests.backends import Backend
from refinement_tests.fuzz import (
    TRACES_PER_EXAMPLE,
    Lockstep,
    LockstepResult,
    RunReport,
    lockstep,
    no_local_constants,
    write_failing_trace,
)
from refinement_tests.generate import GenTrace, TraceSource, choice_bytes, slots
from refinement_tests.known import KNOWN, WAIVERS
from refinement_tests.stepper import render_value
from spec import abi
from spec.outcome import status_name
from spec.profiles import Profile
from spec.sources import explain

__all__ = ["BackendDiff", "DivergenceClass", "backend_diff", "classify", "known_classes",
           "to_json", "write_witnesses"]

ClassKey = tuple[str, str, tuple[str, ...], str, tuple[str, ...], tuple[str, ...]]
SHRINK_RUNS = 150  # lockstep runs spent shrinking one class, at most
_NUMERIC = ("offset", "size", "length")


@dataclass
class DivergenceClass:
    key: ClassKey
    trace: GenTrace  # the shrunk witness, up to and including the diverging step
    result: LockstepResult
    count: int = 1  # generated traces that ended in this class
    known: str | None = None  # a known disagreement whose witness falls in this class
    waiver: str | None = None  # a fuzz waiver that matches the witness (it would hide it)
    id: str = ""
    path: str | None = None

    @property
    def call(self) -> str:
        return self.key[0]

    @property
    def op(self) -> str:
        return self.key[1]

    @property
    def allowed(self) -> tuple[str, ...]:
        return self.key[2]

    @property
    def observed(self) -> str:
        return self.key[3]

    @property
    def rules(self) -> tuple[str, ...]:
        return self.key[4]

    @property
    def fields(self) -> tuple[str, ...]:
        return self.key[5]

    @property
    def category(self) -> str:
        if self.observed.startswith("raised"):
            return "crash"
        return "output" if self.fields else "status"

    def summary(self, profile: str, backend: str) -> str:
        what = f"{self.call}" + (f" {self.op}" if self.op else "")
        allowed = " or ".join(self.allowed) or "nothing"
        if self.category == "output":
            d = self.result.divergence
            assert d is not None
            seen = ", ".join(f"{k}={render_value(d.observed[k])}" for k in self.fields)
            want = "; ".join(", ".join(f"{k}={a.get(k)}" for k in self.fields)
                             for a in d.allowed) or "nothing"
            body = f"{profile} allows {want}; {backend} gives {seen}"
        else:
            body = f"{profile} allows {allowed}; {backend} returns {self.observed}"
        rules = "; ".join(explain(r) for r in self.rules) or "no rule"
        return f"{what}: {body} ({rules})"


@dataclass
class BackendDiff(RunReport):
    classes: list[DivergenceClass] = field(default_factory=list)


def _label(s: Any) -> str:
    if isinstance(s, int):
        return status_name(s, short=True)
    return str(s).removeprefix("ZX_").removeprefix("ERR_")


def classify(trace: GenTrace, r: LockstepResult) -> ClassKey | None:
    """The class of a trace's divergence; None if it has none."""
    d = r.divergence
    if d is None:
        return None
    gs = trace.steps[d.step - 1]
    op = ""
    if gs.name == "vmo_op_range":
        code = gs.args.get("op")
        op = abi.OP_NAMES.get(code, "invalid op").removeprefix("ZX_VMO_OP_") \
            if isinstance(code, int) else "invalid op"
    if d.reason:
        kind = d.reason.split(":")[0]
        return (gs.name, op, (), "raised: " + re.sub(r"\d+", "N", kind), (), ())
    allowed = tuple(sorted({_label(a["status"]) for a in d.allowed if "status" in a}))
    rules = tuple(sorted({str(a.get("rule", "")) for a in d.allowed} - {""}))
    observed = _label(d.observed["status"]) if "status" in d.observed else "-"
    fields: set[str] = set()
    same = [a for a in d.allowed if _label(a.get("status", "-")) == observed]
    if same or observed == "-":
        for k, val in d.observed.items():
            if k == "status":
                continue
            shown = render_value(val)
            if all(a.get(k, shown) != shown for a in (same or d.allowed)):
                fields.add(k)
    return (gs.name, op, allowed, observed, rules, tuple(sorted(fields)))


def _run(trace: GenTrace, backend: Backend, profile: Profile) -> LockstepResult:
    return lockstep(trace, backend, profile, waive=frozenset())


def _shrink(trace: GenTrace, r: LockstepResult, key: ClassKey, backend: Backend,
            profile: Profile, deadline: float) -> tuple[GenTrace, LockstepResult]:
    """Drop whole steps, then make offsets and sizes smaller, while the trace still
    ends in the same class."""
    assert r.divergence is not None
    budget = [SHRINK_RUNS]

    def same(cand: GenTrace) -> LockstepResult | None:
        if budget[0] <= 0 or time.perf_counter() > deadline:
            return None
        budget[0] -= 1
        res = _run(cand, backend, profile)
        return res if classify(cand, res) == key else None

    steps = list(trace.steps[: r.divergence.step])
    i = len(steps) - 2
    while i >= 0:
        cand = GenTrace(trace.page, trace.config, tuple(steps[:i] + steps[i + 1:]))
        res = same(cand)
        if res is not None and res.divergence is not None:
            steps = list(cand.steps[: res.divergence.step])
            trace, r = GenTrace(trace.page, trace.config, tuple(steps)), res
            i = min(i, len(steps) - 1)
        i -= 1
    for i, gs in enumerate(steps):
        for name in _NUMERIC:
            val = gs.args.get(name)
            if not isinstance(val, int) or val == 0:
                continue
            for smaller in sorted({0, 1, trace.page, val // 2, val - 1} - {val}):
                if not 0 <= smaller < val:
                    continue
                args = {**gs.args, name: smaller}
                cand_steps = [*steps[:i], replace(gs, args=args), *steps[i + 1:]]
                cand = GenTrace(trace.page, trace.config, tuple(cand_steps))
                res = same(cand)
                if res is not None and res.divergence is not None \
                        and res.divergence.step == len(steps):
                    steps, gs, trace, r = cand_steps, cand_steps[i], cand, res
                    break
    return trace, r


def known_classes(backend: Backend, profile: Profile) -> dict[ClassKey, str]:
    """The class each known disagreement's witness trace falls in, on this backend."""
    try:
        from refinement_tests.known_witnesses import witness_trace
    except Exception:  # the record being rewritten: only the waivers label then
        return {}
    out: dict[ClassKey, str] = {}
    for name in KNOWN:
        try:
            trace = witness_trace(name)
        except KeyError:
            continue
        key = classify(trace, _run(trace, backend, profile))
        if key is not None:
            out.setdefault(key, name)
    return out


def _known_by_waiver(trace: GenTrace, backend: Backend, profile: Profile) -> str | None:
    """The known disagreement whose waiver matches the trace's last step, if any."""
    ls = Lockstep(backend, profile, trace.page, trace.config, None, frozenset(WAIVERS))
    for gs in trace.steps:
        if not ls.run(gs):
            break
    last = ls.result.steps_run == len(trace.steps)
    return ls.result.known if last else None


def _batch_seed(base: int, batch: int) -> int:
    digest = hashlib.sha256(f"backend-diff:{base}:{batch}".encode()).digest()
    return int.from_bytes(digest[:8], "big")


def backend_diff(profile: Profile, backend: Backend, *, seconds: float = 20.0,
                 seed_value: int = 0, max_steps: int = 30, page: int = 4096,
                 batch: int = 50, max_examples: int | None = None,
                 on_progress: Callable[[BackendDiff], None] | None = None) -> BackendDiff:
    """Generate traces for `seconds` (or `max_examples` traces), class every
    divergence, then shrink one witness per class (within a fifth more time)."""
    res = BackendDiff(backend.name, profile.name, seed_value)
    started = time.perf_counter()
    first: dict[ClassKey, tuple[GenTrace, LockstepResult]] = {}
    counts: dict[ClassKey, int] = {}

    def check(buf: bytes) -> None:
        source = TraceSource(buf, page, frozenset())
        ls = Lockstep(backend, profile, page, source.config, None, frozenset())
        ls.run_source(source, max_steps)
        res.traces += 1
        if res.tally(ls.result) or res.over_budget:
            return  # the run ends with this batch
        trace = source.trace()
        key = classify(trace, ls.result)
        if key is not None:
            counts[key] = counts.get(key, 0) + 1
            first.setdefault(key, (trace, ls.result))

    n = 0
    while time.perf_counter() - started < seconds:
        if max_examples is not None and res.traces >= max_examples:
            break

        @settings(max_examples=-(-batch // TRACES_PER_EXAMPLE), database=None, deadline=None,
                  verbosity=Verbosity.quiet, suppress_health_check=list(HealthCheck),
                  phases=(Phase.generate,), print_blob=False)
        @seed(_batch_seed(seed_value, n))
        @given(buf=choice_bytes(max_steps, TRACES_PER_EXAMPLE))
        def run_batch(buf: bytes) -> None:
            for one in slots(buf, max_steps):
                check(one)

        with no_local_constants():  # the same seed, the same traces, whatever is imported
            run_batch()
        if res.over_budget:
            break
        n += 1
        if on_progress is not None:
            res.seconds = time.perf_counter() - started
            on_progress(res)
    shrink_deadline = time.perf_counter() + max(2.0, seconds / 5)
    known = known_classes(backend, profile) if first else {}
    for key, (trace, r) in sorted(first.items(), key=lambda kv: kv[0]):
        trace, r = _shrink(trace, r, key, backend, profile, shrink_deadline)
        cls = DivergenceClass(key, trace, r, counts[key])
        cls.known = known.get(key)
        cls.waiver = _known_by_waiver(trace, backend, profile)
        res.classes.append(cls)
    _ids(res.classes)
    res.seconds = time.perf_counter() - started
    return res


def _slug(s: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", s.lower()).strip("-")


def _ids(classes: list[DivergenceClass]) -> None:
    seen: dict[str, int] = {}
    for c in classes:
        what = c.op or c.call
        base = (f"B-{_slug(what)}-{_slug('-or-'.join(c.allowed) or 'nothing')}"
                f"-vs-{_slug(c.observed)}" + (f"-{_slug('-'.join(c.fields))}" if c.fields
                                              else ""))
        k = seen.get(base, 0) + 1
        seen[base] = k
        c.id = base if k == 1 else f"{base}-{k}"


def write_witnesses(res: BackendDiff, out: Path) -> None:
    """One trace per class, with the backend's observed outcomes, atomically each."""
    for c in res.classes:
        path = out / f"{_slug(res.profile)}--{_slug(res.backend)}--{c.id}.jsonl"
        path.parent.mkdir(parents=True, exist_ok=True)
        write_failing_trace(path, c.trace, c.result, {
            "origin": "vmospec diff: backend divergence witness", "profile": res.profile,
            "backend": res.backend, "class": c.id, "known": c.known, "waiver": c.waiver,
            "seed": res.seed,
            "summary": c.summary(res.profile, res.backend)})
        c.path = str(path)


def to_json(res: BackendDiff) -> dict[str, Any]:
    return {
        "a": res.profile, "b": res.backend, "seed": res.seed,
        "seconds": round(res.seconds, 2), "traces": res.traces, "steps": res.steps,
        "findings": [
            {"id": c.id, "category": c.category, "witness": c.path, "call": c.call,
             "op": c.op or None, "allowed": list(c.allowed), "observed": c.observed,
             "fields": list(c.fields), "rules": list(c.rules), "count": c.count,
             "known": c.known, "waiver": c.waiver, "steps": len(c.trace.steps),
             "summary": c.summary(res.profile, res.backend)}
            for c in res.classes],
    }
