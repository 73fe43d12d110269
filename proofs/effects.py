"""Whole outcomes in context: where the page is silent about an effect (a *reading*,
spec/readings.py), two outcomes of one call that a later call tells apart.

For every reading, the doc profile allows each alternative. To see whether an
alternative is observable, and where, the search runs the same short trace twice, under
two profiles that differ in that reading only (the 2025 kernel with the reading set to
one alternative, then to the other; everything else pinned, so a difference is the
reading's): the setup of a shape, a *context* (up to three calls, smallest first: after
a write, a LOCK or two, a failed LOCK, LOCK/UNLOCK, a discard, a resize, a pager that
fails a range, ...), the call in question (each op of the reading, at a few ranges), and
then *observations* (a read, ZX_INFO_VMO, UNLOCK, TRY_LOCK, LOCK, a reclaim then
TRY_LOCK). The two runs differ when the call's recorded outcome differs, or an
observation allows an outcome under one alternative that the other does not. Both
traces must conform under `doc` (checked here step by step on every state doc allows).

A reading is one point; every (shape, context, call) where the difference shows is an
instance; the witness is the smallest (fewest steps, then shape order), recorded with
the first alternative's outcomes and the second's noted at its last step.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace
from functools import cache
from typing import Any

from proofs.prover import PAGE
from proofs.witness import CONFIG, SHAPE_ORDER, Recorded, key_outputs, setup
from spec import abi
from spec.explore import Path as SpecPath
from spec.explore import explore
from spec.outcome import Between, Outcome, status_name
from spec.profiles import PROFILES, Profile
from spec.readings import READINGS, Reading
from spec.state import EMPTY_STATE, State
from spec.transitions import transition
from spec.values import Concrete

SIZE = 2 * PAGE  # the VMO of every effect witness: two pages, so a part differs from all

Args = dict[str, Any]
Step = tuple[str, str, Args]  # (kind, call, args)


def _op(op: int, offset: int = 0, size: int = SIZE, vmo: str = "a", **extra: Any) -> Step:
    args: Args = {"vmo": vmo, "op": op, "offset": offset, "size": size,
                  "buffer_size": abi.LOCK_STATE_SIZE if op == abi.OP_LOCK else 0,
                  "buffer_null": False}
    args.update(extra)
    return ("call", "vmo_op_range", args)


LOCK = _op(abi.OP_LOCK)
UNLOCK = _op(abi.OP_UNLOCK)
TRY_LOCK = _op(abi.OP_TRY_LOCK)
BAD_LOCK = _op(abi.OP_LOCK, buffer_size=0, buffer_null=True)
WRITE: Step = ("call", "vmo_write", {"vmo": "a", "offset": 0, "data": ((0x5A, SIZE),)})
RECLAIM: Step = ("event", "reclaim", {"vmo": "a"})
COMMIT_ONE = _op(abi.OP_COMMIT, 0, PAGE)
INFO: Step = ("call", "vmo_info", {"vmo": "a"})
ALWAYS = _op(abi.OP_ALWAYS_NEED)
PAGER_FAIL: Step = ("call", "pager_fail", {"pager": "p", "vmo": "a", "offset": 0,
                                           "length": PAGE, "error": abi.ERR_IO})

# Contexts, smallest first: (name, calls before the call in question).
CONTEXTS: tuple[tuple[str, tuple[Step, ...]], ...] = (
    ("fresh", ()),
    ("after a write", (WRITE,)),
    ("after a LOCK", (LOCK,)),
    ("after a failed LOCK", (BAD_LOCK,)),
    ("after a commit", (COMMIT_ONE,)),
    ("after ALWAYS_NEED", (ALWAYS,)),
    ("with the pager failing a page", (PAGER_FAIL,)),
    ("after two LOCKs", (LOCK, LOCK)),
    ("after LOCK, UNLOCK", (LOCK, UNLOCK)),
    ("after a write and a LOCK", (WRITE, LOCK)),
    ("after a discard", (COMMIT_ONE, LOCK, UNLOCK, RECLAIM)),
)

Observation = tuple[str, tuple[Step, ...]]


def observations(vmo: str = "a", size: int = SIZE) -> tuple[Observation, ...]:
    """Observations through the handle `vmo` of a VMO of `size` bytes, each a few calls
    whose outcomes tell two states apart."""
    unlock, reclaim = _op(abi.OP_UNLOCK, 0, size, vmo), ("event", "reclaim", {"vmo": vmo})
    return (
        ("a read", (("call", "vmo_read", {"vmo": vmo, "offset": 0, "length": size}),)),
        ("ZX_INFO_VMO", (("call", "vmo_info", {"vmo": vmo}),)),
        ("an UNLOCK", (unlock,)),
        ("a LOCK", (_op(abi.OP_LOCK, 0, size, vmo),)),
        ("a reclaim", (reclaim,)),
        ("two UNLOCKs", (unlock, unlock)),
        ("an UNLOCK and a reclaim", (unlock, reclaim)),
    )


OBSERVATIONS = observations()

# The shapes effects are sought on, as the setup steps build them.
SHAPES = ("anonymous", "discardable", "pager", "snapshot")


_OP_NAMES = {code: name.removeprefix("ZX_VMO_OP_") for name, code in abi.OPS.items()}


def ops_of(r: Reading) -> tuple[int, ...]:
    """The zx_vmo_op_range ops whose code reads the reading."""
    return {
        "lock": (abi.OP_LOCK, abi.OP_TRY_LOCK, abi.OP_UNLOCK),
        "unlock": (abi.OP_UNLOCK,),
        "zero": (abi.OP_ZERO,),
        "commit": (abi.OP_COMMIT,),
        "dont_need": (abi.OP_DONT_NEED,),
        "always_need": (abi.OP_ALWAYS_NEED,),
    }.get(r.name.split("-")[0], ())


def op_name(op: int) -> str:
    return _OP_NAMES[op]


def calls_of(r: Reading) -> list[tuple[str, Step]]:
    """The calls in question for a reading: its ops at a few ranges."""
    out: list[tuple[str, Step]] = []
    for op in ops_of(r):
        name = _OP_NAMES[op]
        out += [(name, _op(op)), (name, _op(op, 0, PAGE)), (name, _op(op, PAGE - 1, 2))]
        if op == abi.OP_LOCK:
            out.append(("LOCK (bad buffer)", BAD_LOCK))
    if r.name.startswith("discard-"):
        out.append(("reclaim", RECLAIM))
    if r.name.startswith("info-"):
        out.append(("vmo_info", INFO))
    return out


# Where the 2025 kernel never reaches the code a reading is about, its variant takes the
# doc profile's choice there too (a failed LOCK that locked nothing; a LOCK of part).
_REACH: dict[str, dict[str, Any]] = {
    "lock-failed_leaves": {"lock_buffer_rule": "invalid_args"},
    "lock-discarded_range": {"lock_range_rule": "open"},
}


@cache
def variant(r: str, alt: str) -> Profile:
    """The 2025 kernel with one reading set to `alt`, allowed to run out of memory (where
    a reading is about NO_MEMORY, that is the outcome compared) and to discard a VMO that
    holds no page (as the doc profile does)."""
    base = PROFILES["zircon-2025"]
    return replace(base, name=f"zircon-2025+{r}={alt}", may_run_out_of_memory=True,
                   discard_needs_page=False, **_REACH.get(r, {}),
                   readings=(*((k, v) for k, v in base.readings if k != r), (r, alt)))


def outcomes(profile: Profile, st: State, kind: str, call: str, args: Args
             ) -> list[SpecPath[Outcome]]:
    return explore(lambda cx: transition(cx, st, call, args), Concrete(PAGE), profile,
                   PAGE, CONFIG)


def recorded(kind: str, o: Outcome) -> dict[str, Any]:
    out: dict[str, Any] = {} if kind == "event" else {"status": o.status}
    out.update(key_outputs(o))
    return out


@dataclass
class Run:
    """One trace run under one profile: each step's recorded outcome, and the states."""

    steps: list[Recorded] = field(default_factory=list)
    state: State = EMPTY_STATE
    # per observation step: every outcome the profile allows there (recorded form)
    allowed: list[list[dict[str, Any]]] = field(default_factory=list)


def _key(rec: dict[str, Any]) -> str:
    return repr(sorted(rec.items(), key=lambda kv: kv[0]))


def run_steps(profile: Profile, start: Run, steps: tuple[Step, ...], pick: int = 0
              ) -> Run | None:
    """Run steps from a run; each takes the `pick`-th OK outcome (else the first)."""
    run = Run(list(start.steps), start.state, list(start.allowed))
    for kind, call, args in steps:
        found = outcomes(profile, run.state, kind, call, args)
        if not found:
            return None
        ok = [p for p in found if p.result.status == abi.OK] or found
        o = ok[min(pick, len(ok) - 1)].result
        run.allowed.append([recorded(kind, p.result) for p in found])
        run.steps.append(Recorded(kind, call, dict(args), recorded(kind, o)))
        run.state = o.state
    return run


def _setup_run(profile: Profile, shape: str) -> Run | None:
    b = _Recorder(profile)
    setup(b, shape, SIZE, PAGE)
    if b.failed:
        return None
    return Run(b.steps, b.state, [])


class _Recorder:
    def __init__(self, profile: Profile) -> None:
        self.profile, self.state, self.failed = profile, EMPTY_STATE, False
        self.steps: list[Recorded] = []

    def add(self, name: str, note: str | None = None, kind: str = "call", **args: Any) -> int:
        found = outcomes(self.profile, self.state, kind, name, args)
        ok = [p for p in found if p.result.status == abi.OK]
        if not ok:
            self.failed = True
            return found[0].result.status if found else abi.ERR_INVALID_ARGS
        self.steps.append(Recorded(kind, name, dict(args), recorded(kind, ok[0].result), note))
        self.state = ok[0].result.state
        return abi.OK


# ----------------------------------------------------------------------------------------
# Conformance under doc: the trace's recorded outcomes on every state doc allows
# ----------------------------------------------------------------------------------------


def _matches(o: Outcome, kind: str, rec: dict[str, Any]) -> bool:
    if kind != "event" and o.status != rec.get("status"):
        return False
    for k, want in rec.items():
        if k == "status":
            continue
        got = o.out.get(k)
        if isinstance(got, Between):
            if not (isinstance(want, int) and got.lo <= want <= got.hi):
                return False
        elif k == "lock_state":
            if dict(got or {}) != dict(want):
                return False
        elif got != want:
            return False
    return True


def conforms(profile: Profile, steps: list[Recorded], limit: int = 64) -> bool:
    """Does every step's recorded outcome occur under `profile` on some state it allows?"""
    states = [EMPTY_STATE]
    for s in steps:
        nxt: list[State] = []
        for st in states:
            for p in outcomes(profile, st, s.kind, s.name, s.args):
                if _matches(p.result, s.kind, s.outcome) and p.result.state not in nxt:
                    nxt.append(p.result.state)
        if not nxt:
            return False
        states = nxt[:limit]
    return True


# ----------------------------------------------------------------------------------------
# The search
# ----------------------------------------------------------------------------------------


@dataclass
class EffectInstance:
    """One place where a reading's alternatives are told apart (a point's instance)."""

    reading: Reading
    shape: str
    context: str
    step: str
    observation: str
    steps_a: list[Recorded]  # the trace under the first alternative
    steps_b: list[Recorded]  # the same calls under the second
    differ_at: int  # the first step whose recorded outcomes differ
    call_at: int = 0  # the call in question
    rank: int = 0
    category: str = "reading"
    handle: str = "a"
    statuses: tuple[int, ...] = ()
    explanation: str = ""
    outcomes: dict[str, str] = field(default_factory=dict)
    found_by: str = "concrete"  # or "z3" (proofs/whole.py)

    @property
    def rules(self) -> tuple[str, ...]:
        return (", ".join(self.reading.page), ", ".join(self.reading.facts))

    @property
    def call_args(self) -> str:
        """The call's arguments and the observation, for its line under the point."""
        by = "; found by z3" if self.found_by == "z3" else ""
        return (f" ({_args_text(self.steps_a[self.call_at].args)}; seen by "
                f"{self.observation}{by})")

    def signature(self) -> tuple[Any, ...]:
        return tuple((s.name, _key(s.args)) for s in self.steps_a)

    def outcomes_text(self) -> dict[str, str]:
        return self.outcomes

    def trace_steps(self) -> list[Recorded]:
        last = self.steps_a[self.differ_at]
        other = self.steps_b[self.differ_at].outcome
        a, b = self.reading.alternatives[:2]
        note = (f"reading {self.reading.name}: recorded as '{a}' gives it; '{b}' would give "
                f"{_outcome_text(other, last.name)} here")
        steps = list(self.steps_a[:self.differ_at + 1])
        steps[-1] = Recorded(last.kind, last.name, last.args, last.outcome, note)
        return steps


# The outputs worth showing of each call (ZX_INFO_VMO: the committed bytes).
_SHOWN = {"vmo_info": ("status", "committed_bytes"), "reclaim": ("discarded", "evicted_bytes")}


def _outcome_text(rec: dict[str, Any], call: str = "") -> str:
    parts = []
    for k, v in rec.items():
        if call in _SHOWN and k not in _SHOWN[call]:
            continue
        if k == "status":
            parts.append(status_name(v, short=True))
        elif k == "data":
            parts.append(f"data {_data_text(v)}")
        elif k == "lock_state":
            parts.append("lock_state " + ", ".join(f"{x}={y}" for x, y in dict(v).items()))
        else:
            parts.append(f"{k}={v}")
    return "; ".join(parts) or "nothing"


def _data_text(data: Any) -> str:
    try:
        return " ".join(f"{n}x{b:#04x}" for b, n in data)
    except (TypeError, ValueError):
        return repr(data)


def _contexts(shape: str) -> Iterator[tuple[str, tuple[Step, ...]]]:
    for name, steps in CONTEXTS:
        calls = {c for _k, c, _a in steps}
        if shape != "discardable" and any(
                c == "vmo_op_range" and a["op"] in (abi.OP_LOCK, abi.OP_UNLOCK)
                for _k, c, a in steps):
            continue
        if ("pager_fail" in calls or ALWAYS in steps) and shape != "pager":
            continue
        if name == "after a discard" and shape != "discardable":
            continue
        yield name, steps


def search(r: Reading, progress: Callable[[], None] | None = None) -> list[EffectInstance]:
    """Every (shape, context, call) where the reading's first two alternatives are told
    apart, with the first observation that does it."""
    alt_a, alt_b = r.alternatives[:2]
    pa, pb = variant(r.name, alt_a), variant(r.name, alt_b)
    doc = PROFILES["doc"]
    found: list[EffectInstance] = []
    for shape in SHAPES:
        start_a, start_b = _setup_run(pa, shape), _setup_run(pb, shape)
        if start_a is None or start_b is None:
            continue
        for ctx, prefix in _contexts(shape):
            if progress:
                progress()
            ra, rb = run_steps(pa, start_a, prefix), run_steps(pb, start_b, prefix)
            if ra is None or rb is None or any(
                    s.outcome.get("status", abi.OK) != abi.OK for s in ra.steps[-len(prefix):]
                    if prefix):
                continue
            for label, call in calls_of(r):
                hit = _compare(r, pa, pb, ra, rb, call, doc)
                if hit is None:
                    continue
                obs, steps_a, steps_b, at = hit
                found.append(EffectInstance(r, shape, ctx, label, obs, steps_a, steps_b, at,
                                            call_at=len(ra.steps)))
    return rank(found)


def rank(found: list[EffectInstance]) -> list[EffectInstance]:
    """A reading's instances, the plainest first: a valid buffer, fewest steps, the
    simplest shape (proofs/witness.py SHAPE_ORDER), then the concrete search's first."""
    found.sort(key=lambda i: ("bad buffer" in i.step, len(i.steps_a),
                              SHAPE_ORDER.index(i.shape), i.found_by != "concrete"))
    for n, i in enumerate(found):
        i.rank = 100 + n
    return found


def _compare(r: Reading, pa: Profile, pb: Profile, ra: Run, rb: Run, call: Step,
             doc: Profile, seen: tuple[Observation, ...] = OBSERVATIONS
             ) -> tuple[str, list[Recorded], list[Recorded], int] | None:
    """The first way the call is told apart: an outcome of it under the first alternative
    that the second does not allow (its recorded outcome, or what an observation after
    it allows). Two outcomes within one alternative (NO_MEMORY or not, which page reclaim
    takes) are never compared with each other."""
    kind, name, args = call
    found_a = outcomes(pa, ra.state, kind, name, args)
    found_b = outcomes(pb, rb.state, kind, name, args)
    for xa in found_a:
        rec_a = recorded(kind, xa.result)
        same = [ib for ib, xb in enumerate(found_b) if recorded(kind, xb.result) == rec_a]
        if any(found_b[ib].result.state == xa.result.state for ib in same):
            continue  # the second alternative allows this outcome as it is
        ca = _then(ra, call, xa.result)
        if not same:
            ib = next((k for k, xb in enumerate(found_b)
                       if xb.result.status == xa.result.status), 0)
            if not found_b:
                continue
            cb = _then(rb, call, found_b[ib].result)
            if conforms(doc, ca.steps) and conforms(doc, cb.steps):
                return "the call's own outcome", ca.steps, cb.steps, len(ca.steps) - 1
            continue
        for ib in same:
            cb = _then(rb, call, found_b[ib].result)
            hit = _observe(pa, pb, ca, cb, doc, seen)
            if hit is not None:
                return hit
    return None


def _then(run: Run, call: Step, o: Outcome) -> Run:
    kind, name, args = call
    return Run([*run.steps, Recorded(kind, name, dict(args), recorded(kind, o))], o.state,
               list(run.allowed))


def _observe(pa: Profile, pb: Profile, ca: Run, cb: Run, doc: Profile,
             seen: tuple[Observation, ...]
             ) -> tuple[str, list[Recorded], list[Recorded], int] | None:
    """The first observation whose outcomes after the two states differ: a recorded
    outcome one allows and the other does not."""
    for obs, steps in seen:
        oa, ob = run_steps(pa, ca, steps), run_steps(pb, cb, steps)
        if oa is None or ob is None:
            continue
        base = len(ca.steps)
        for k in range(len(steps)):
            i = base + k
            set_a = {_key(x) for x in oa.allowed[len(ca.allowed) + k]}
            set_b = {_key(x) for x in ob.allowed[len(cb.allowed) + k]}
            if set_a == set_b:
                if oa.steps[i].outcome != ob.steps[i].outcome:
                    break  # the same outcomes, picked otherwise: no difference here
                continue
            only_a = [x for x in oa.allowed[len(ca.allowed) + k] if _key(x) not in set_b]
            only_b = [x for x in ob.allowed[len(cb.allowed) + k] if _key(x) not in set_a]
            sa, sb = list(oa.steps[:i + 1]), list(ob.steps[:i + 1])
            if only_a:
                sa[i] = Recorded(sa[i].kind, sa[i].name, sa[i].args, only_a[0])
            if only_b:
                sb[i] = Recorded(sb[i].kind, sb[i].name, sb[i].args, only_b[0])
            if sa[i].outcome != sb[i].outcome and conforms(doc, sa) and conforms(doc, sb):
                return obs, sa, sb, i
            break
    return None


def describe(i: EffectInstance) -> None:
    """Fill in the instance's outcomes (each profile's at the step that tells the
    alternatives apart) and its explanation."""
    r, at = i.reading, i.differ_at
    last = i.steps_a[at]
    a, b = r.alternatives[:2]
    text_a = _outcome_text(i.steps_a[at].outcome, last.name)
    text_b = _outcome_text(i.steps_b[at].outcome, last.name)
    i.outcomes = {"doc": f"{text_a} or {text_b}"}
    calls = [(s.kind, s.name, s.args) for s in i.steps_a]
    for name, p in PROFILES.items():
        if name == "doc":
            continue
        run = run_steps(p, Run(), tuple(calls[:at]))
        if run is None or any(s.outcome.get("status", abi.OK) != x.outcome.get("status", abi.OK)
                              for s, x in zip(run.steps[:i.call_at], i.steps_a, strict=False)):
            i.outcomes[name] = "cannot run the trace's earlier steps"
            continue
        found = outcomes(p, run.state, *calls[at])
        i.outcomes[name] = " or ".join(sorted({_outcome_text(recorded(last.kind, x.result),
                                                             last.name) for x in found}))
    i.explanation = (
        f"The page is silent: {r.question} (around {', '.join(r.page)}). The doc profile "
        f"allows each reading ({', '.join(repr(x) for x in r.alternatives)}); Zircon "
        f"takes {r.kernel!r} ({', '.join(r.facts)}). On the {i.shape} shape's VMO, {i.context}, "
        f"{i.step} ({_args_text(i.steps_a[i.call_at].args)}), then {i.observation}: "
        f"under {a!r} it gives {text_a}; under {b!r}, {text_b}.")


def _args_text(args: Args) -> str:
    shown = [f"{k} {v}" for k, v in args.items() if k in ("offset", "size", "length")]
    return ", ".join(shown) or "no range"


def all_instances(progress: Callable[[], None] | None = None) -> list[EffectInstance]:
    out: list[EffectInstance] = []
    for r in READINGS:
        out += search(r, progress)
    return out
