"""The refinement fuzzer: generated traces, run in lockstep on a backend and the spec.

`lockstep()` runs a trace (refinement_tests/generate.py makes them) step by step on a
backend and, in step with it, on the spec: each observed outcome must be one the spec
allows, under the profile, from one of the states it may be in (`explore` + `agrees`,
as the checker does). The possible states are then narrowed to those whose outcome
agreed. A step that no state explains is a divergence; a divergence that is a known
disagreement (refinement_tests/known.py) ends the trace as "known" instead.

`fuzz()` drives hypothesis over `traces()`: a divergence fails the example and
hypothesis shrinks it. Every smaller failing trace found on the way is written at once
(atomically) into the output directory, before anything else happens, so an
interrupted run loses nothing. The final file holds the shrunk trace with the backend's
observed outcomes, for `vmospec check` to replay.

A run is a sequence of hypothesis runs ("batches") of a few dozen examples, each with a
seed derived from the run's seed, until the time or example budget is spent: so a run
is reproducible from its seed and can stop on time.

A backend with `run_batch` (a device, where every round trip costs) is fuzzed by
batches instead: hypothesis generates a batch of whole traces, the backend runs them all
in one round trip, and each observed trace is then checked against the spec in lockstep.
A failing trace is shrunk by removing steps, each round of candidates one round trip.
"""

from __future__ import annotations

import contextlib
import hashlib
import random
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, Phase, Verbosity, given, seed, settings
from hypothesis import strategies as st
from hypothesis.database import InMemoryExampleDatabase, choices_to_bytes
from hypothesis.internal.reflection import function_digest

from refinement_tests.backends import Backend, BackendError, BatchBackend
from refinement_tests.checker import Allowed, agrees, render_value, status_name
from refinement_tests.coverage import Behaviour, Coverage, spec_reachable
from refinement_tests.generate import (
    AVOIDABLE,
    GenStep,
    GenTrace,
    TraceSource,
    choice_bytes,
    decode,
    slot_size,
    slots,
)
from refinement_tests.known import KNOWN, WAIVERS, Seen
from refinement_tests.trace import StatusExpect, Step, step_to_json, write_trace
from spec.abi import U64_MAX
from spec.explore import Cx, explore
from spec.outcome import Outcome
from spec.profiles import Profile
from spec.state import EMPTY_STATE, State
from spec.transitions import transition
from spec.values import Concrete

__all__ = [
    "Divergence",
    "FuzzReport",
    "Lockstep",
    "LockstepResult",
    "fuzz",
    "lockstep",
    "trace_lines",
    "write_failing_trace",
]

MAX_STATES = 256  # as the checker: past this many possible states, stop the trace
# Traces per hypothesis example, each decoded from its own slot of the example's bytes:
# hypothesis spends about 0.3 ms on an example whatever it holds, more than a trace of
# 15 steps takes to run.
TRACES_PER_EXAMPLE = 8
ALL_KNOWN = frozenset(KNOWN)


# --- lockstep ------------------------------------------------------------------------------


@dataclass
class Divergence:
    """The first step whose observed outcome the spec does not allow (or that failed)."""

    step: int  # 1-based
    name: str
    observed: dict[str, Any]
    allowed: list[dict[str, Any]]
    reason: str = ""  # set when a backend or the spec raised instead

    def summary(self) -> str:
        if self.reason:
            return f"step {self.step} ({self.name}): {self.reason}"
        return f"step {self.step} ({self.name}): observed {_show(self.observed)}, " \
               f"allowed {'; '.join(_show(a) for a in self.allowed) or 'nothing'}"


def _show(d: Mapping[str, Any]) -> str:
    parts = []
    for k, x in d.items():
        if k == "rule":
            continue
        val = status_name(x) if k == "status" and isinstance(x, int) else render_value(x)
        parts.append(f"{k}={val}")
    return ", ".join(parts)


@dataclass
class LockstepResult:
    steps_run: int
    observed: list[dict[str, Any]]  # per step run, the backend's outcome
    divergence: Divergence | None = None
    coverage: Coverage = field(default_factory=Coverage)
    max_states: int = 1
    known: str | None = None  # the known disagreement that ended the trace


def _state_key(s: State) -> tuple[Any, ...]:
    return (tuple(sorted(s.handles.items())), tuple(sorted(s.objects.items())), s.next_obj)


class Lockstep:
    """A backend and the spec, advanced together one step at a time."""

    def __init__(self, backend: Backend, profile: Profile, page: int,
                 config: Mapping[str, bool], coverage: Coverage | None = None,
                 waive: frozenset[str] = frozenset(WAIVERS)) -> None:
        self.backend = backend
        self.profile = profile
        self.page = page
        self.config = dict(config)
        self.v = Concrete(page)
        self.waivers = [(n, WAIVERS[n]) for n in sorted(waive) if n in WAIVERS]
        self.states: list[State] = [EMPTY_STATE]
        self.result = LockstepResult(0, [], coverage=coverage if coverage is not None
                                     else Coverage())
        self.over = False  # a divergence, a known disagreement or too many states
        backend.start(GenTrace(page, self.config, ()).header())

    def run(self, gs: GenStep) -> bool:
        """Run one step on both; False once the trace can go no further."""
        if self.over:
            return False
        res = self.result
        i = res.steps_run + 1
        res.steps_run = i
        try:
            observed = self.backend.step(gs.name, gs.kind, gs.args)
        except BackendError as e:
            return self._stop(Divergence(i, gs.name, {}, [], f"the backend failed: {e}"))
        except Exception as e:  # a crash of the implementation is a finding too
            return self._stop(Divergence(i, gs.name, {}, [],
                                         f"the backend raised {type(e).__name__}: {e}"))
        res.observed.append(observed)
        if "not_run" in observed:
            return True  # the implementation did not run it: nothing happened, nothing to judge
        expect: dict[str, Any] = dict(observed)
        if "status" in expect:
            expect["status"] = StatusExpect(frozenset((observed["status"],)))
        step = Step(i, i + 1, gs.kind, gs.name, gs.args, expect, None, {})
        nxt: list[State] = []
        seen: list[Any] = []
        try:
            for s in self.states:

                def run(cx: Cx, s: State = s) -> Outcome:
                    return transition(cx, s, gs.name, gs.args)

                for path in explore(run, self.v, self.profile, self.page, self.config):
                    seen.append(path)
                    if agrees(step, path.result):
                        nxt.append(path.result.state)
        except Exception as e:  # the spec itself failed on this step
            return self._stop(Divergence(i, gs.name, observed, [],
                                         f"the spec raised {type(e).__name__}: {e}"))
        res.coverage.record(gs.name, gs.kind, gs.args, observed, gs.vmo_kind)
        if not nxt:
            w = Seen(gs.name, gs.args, step, observed, self.states,
                     [p.result for p in seen], self.profile, self.page, self.config)
            for name, matches in self.waivers:
                if matches(w):
                    res.known = name
                    self.over = True
                    return False
            allowed: list[dict[str, Any]] = []
            for p in seen:
                a = Allowed(p.result.status, p.result.out, p.why).render(gs.kind == "event")
                if a not in allowed:
                    allowed.append(a)
            return self._stop(Divergence(i, gs.name, observed, allowed))
        if len(nxt) > 1:
            uniq: dict[tuple[Any, ...], State] = {}
            for s in nxt:
                uniq.setdefault(_state_key(s), s)
            nxt = list(uniq.values())
        self.states = nxt
        res.max_states = max(res.max_states, len(nxt))
        if len(nxt) > MAX_STATES:
            self.over = True  # under-observed: nothing more this trace can judge
            return False
        return True

    def _stop(self, d: Divergence) -> bool:
        self.result.divergence = d
        self.over = True
        return False


def lockstep(trace: GenTrace, backend: Backend, profile: Profile,
             coverage: Coverage | None = None,
             waive: frozenset[str] = frozenset(WAIVERS)) -> LockstepResult:
    """Run the trace on the backend and the spec together; stop at the first step the
    spec does not allow (or, for a known disagreement named in `waive`, end there)."""
    ls = Lockstep(backend, profile, trace.page, trace.config, coverage, waive)
    for gs in trace.steps:
        if not ls.run(gs):
            break
    return ls.result


def trace_lines(trace: GenTrace, result: LockstepResult) -> list[dict[str, Any]]:
    """The steps run, each with the outcome the backend observed (vmo-trace JSON)."""
    lines = []
    for gs, observed in zip(trace.steps, result.observed, strict=False):
        fields = {k: x for k, x in observed.items() if k != "not_run"}
        line = step_to_json(gs.name, gs.kind, dict(gs.args), fields)
        if "not_run" in observed:
            line["not_run"] = str(observed["not_run"])
        lines.append(line)
    d = result.divergence
    if d is not None and d.reason and len(result.observed) < d.step:
        # The step that crashed: written without an outcome, with what happened.
        gs = trace.steps[d.step - 1]
        lines.append(step_to_json(gs.name, gs.kind, dict(gs.args), {}, d.reason))
    elif d is not None and lines:
        lines[d.step - 1]["note"] = "diverges: " + d.summary()
    return lines


def write_failing_trace(path: Path, trace: GenTrace, result: LockstepResult,
                        meta: dict[str, Any]) -> None:
    """The failing prefix, with observed outcomes, atomically."""
    write_trace(path, trace.header(**meta), trace_lines(trace, result))


# --- the fuzz driver -------------------------------------------------------------------------


class _Diverged(Exception):
    pass


@dataclass
class FuzzReport:
    backend: str
    profile: str
    seed: int
    seconds: float = 0.0
    traces: int = 0
    steps: int = 0
    coverage: Coverage = field(default_factory=Coverage)
    behaviour: Behaviour = field(default_factory=Behaviour)
    divergence: Divergence | None = None
    trace_path: str | None = None
    shrunk_steps: int = 0
    interrupted: bool = False
    failing: tuple[GenTrace, LockstepResult] | None = None
    known: dict[str, int] = field(default_factory=dict)  # traces ended by a known disagreement
    caught_after: float | None = None  # seconds until the first divergence (before shrinking)
    traces_to_catch: int | None = None  # traces run until then
    avoided: frozenset[str] = frozenset()  # the known disagreements steered clear of
    page: int = 4096
    # batch backends: generated traces with a number outside u64, which no vmo-trace (and
    # so no device) can carry; they are left out, and counted
    not_u64: int = 0

    def coverage_report(self) -> dict[str, Any]:
        excluded = {"unbounded": "not generated: known disagreement max_size"} if (
            "max_size" in self.avoided) else {}
        out = self.coverage.report(spec_reachable(self.profile, self.page), excluded)
        out["behaviour"] = self.behaviour.report()
        return out


@contextlib.contextmanager
def _no_local_constants() -> Iterator[None]:
    """Hypothesis (6.13x on) sometimes draws a constant found in the source of the
    modules the process has imported, so what it generates for a seed depends on what
    else was imported (a test module, a benchmark script). The generator draws the
    values that matter itself; during a run that pool is emptied, so a run depends on
    its seed only. A no-op where hypothesis has no such pool."""
    try:
        from hypothesis.internal.conjecture import providers
    except ImportError:  # pragma: no cover
        yield
        return
    get = getattr(providers, "_get_local_constants", None)
    make = getattr(providers, "Constants", None)
    cache = getattr(providers, "CONSTANTS_CACHE", None)
    if get is None or make is None or cache is None:  # pragma: no cover
        yield
        return
    empty = make()
    cache.cache.clear()
    providers._get_local_constants = lambda: empty
    try:
        yield
    finally:
        providers._get_local_constants = get
        cache.cache.clear()


def _batch_seed(base: int, batch: int) -> int:
    digest = hashlib.sha256(f"{base}:{batch}".encode()).digest()
    return int.from_bytes(digest[:8], "big")


def fuzz(
    backend: Backend,
    profile: Profile,
    *,
    seconds: float | None = 60.0,
    max_examples: int | None = None,
    seed_value: int | None = None,
    out_dir: Path | None = None,
    page: int = 4096,
    max_steps: int = 30,
    batch: int = 100,
    known: frozenset[str] = ALL_KNOWN,
    hypothesis_shrink: bool = True,
    on_progress: Callable[[FuzzReport], None] | None = None,
    trace_name: str | None = None,
    should_stop: Callable[[], bool] | None = None,
) -> FuzzReport:
    """Generate traces and run them in lockstep until `seconds` have passed or
    `max_examples` traces were generated (whichever comes first), or a divergence is
    found (then shrunk, and saved in `out_dir`). `known` names the known disagreements
    to keep from failing the run (all, by default; none finds each of them again).
    A failing trace is shrunk by hypothesis (unless `hypothesis_shrink` is off: the
    broken-variant tests turn it off for time), then single steps are removed while
    the trace still diverges."""
    avoid = known & AVOIDABLE
    waive = known & frozenset(WAIVERS)
    if seed_value is None:
        seed_value = random.SystemRandom().randrange(1 << 32)
    if isinstance(backend, BatchBackend):
        return _fuzz_batched(backend, profile, seconds=seconds, max_examples=max_examples,
                             seed_value=seed_value, out_dir=out_dir, page=page,
                             max_steps=max_steps, batch=batch, known=known,
                             on_progress=on_progress, trace_name=trace_name,
                             should_stop=should_stop)
    report = FuzzReport(backend.name, profile.name, seed_value, avoided=avoid, page=page)
    started = time.perf_counter()
    name = trace_name or f"fuzz-{profile.name}-{_slug(backend.name)}-seed{seed_value}.jsonl"
    path = (out_dir / name) if out_dir is not None else None
    if out_dir is not None:
        out_dir.mkdir(parents=True, exist_ok=True)
    best: list[tuple[int, int]] = []  # (steps, size) of the smallest failing trace
    last_fail: list[tuple[GenTrace, LockstepResult, bytes]] = []  # and its bytes

    def meta() -> dict[str, Any]:
        return {"origin": "vmospec fuzz: shrunk failing trace", "backend": backend.name,
                "profile": profile.name, "seed": seed_value}

    def check(buf: bytes) -> None:
        source = TraceSource(buf, page, avoid)
        ls = Lockstep(backend, profile, page, source.config, report.coverage, waive)
        res = ls.result
        report.behaviour.start()
        try:
            going = True
            while going and len(source.steps) < max_steps:
                made = source.next()
                if not made:
                    break
                for gs in made:
                    going = ls.run(gs)
                    if len(res.observed) == res.steps_run:
                        report.behaviour.record(gs, res.observed[-1])
                    if not going:
                        break
        finally:
            report.traces += 1
            report.steps += ls.result.steps_run
        trace, result = source.trace(), ls.result
        if result.known is not None:
            report.known[result.known] = report.known.get(result.known, 0) + 1
        if result.divergence is None:
            return
        last_fail[:] = [(trace, result, buf)]
        if report.caught_after is None:
            report.caught_after = time.perf_counter() - started
            report.traces_to_catch = report.traces
        key = (result.divergence.step, len(repr(trace.steps[: result.divergence.step])))
        if not best or key < best[0]:
            if path is not None:
                write_failing_trace(path, trace, result, meta())  # before anything else
            best[:] = [key]
        raise _Diverged(result.divergence.summary())

    n_batch = 0
    pinned = contextlib.ExitStack()
    pinned.enter_context(_no_local_constants())
    try:
        while True:
            elapsed = time.perf_counter() - started
            if seconds is not None and elapsed >= seconds:
                break
            if max_examples is not None and n_batch * batch >= max_examples:
                break
            if should_stop is not None and should_stop():
                break  # another worker of `--jobs` found a divergence
            count = batch if max_examples is None else min(batch, max_examples - n_batch * batch)
            bseed = _batch_seed(seed_value, n_batch)
            n_batch += 1
            left = [count]  # traces this batch may still run

            # Generation only: a failing slot is shrunk on its own below.
            @settings(max_examples=-(-count // TRACES_PER_EXAMPLE), database=None,
                      deadline=None, verbosity=Verbosity.quiet,
                      suppress_health_check=list(HealthCheck), phases=(Phase.generate,),
                      print_blob=False)
            @seed(bseed)
            @given(buf=choice_bytes(max_steps, TRACES_PER_EXAMPLE))
            def run_batch(buf: bytes) -> None:
                for one in slots(buf, max_steps)[:left[0]]:  # noqa: B023 (run at once)
                    left[0] -= 1  # noqa: B023
                    check(one)

            try:
                run_batch()
            except _Diverged:
                # hypothesis shrinks the failing trace's bytes; then whole steps it could
                # not remove are removed one at a time
                if hypothesis_shrink:
                    _shrink_choices(last_fail[0][2], check, max_steps, bseed)
                trace, result, _ = last_fail[0]
                if path is not None:
                    write_failing_trace(path, trace, result, meta())
                trace, result = _drop_steps(trace, result, backend, profile, path, meta(),
                                            waive)
                _report_failure(report, trace, result, path)
                break
            if on_progress is not None:
                report.seconds = time.perf_counter() - started
                on_progress(report)
    except KeyboardInterrupt:
        report.interrupted = True
        if last_fail and path is not None and path.exists():
            report.trace_path = str(path)
            report.divergence = last_fail[0][1].divergence
    finally:
        pinned.close()
    report.seconds = time.perf_counter() - started
    return report


def _shrink_choices(buf: bytes, check: Callable[[bytes], None], max_steps: int,
                    seed_value: int) -> None:
    """Let hypothesis shrink the bytes of one failing trace: it is handed them as a
    stored failure (the secondary corpus of an in-memory database, which hypothesis
    replays and then shrinks; its primary corpus counts as shrunk already). `check`
    raises _Diverged on every failing candidate and keeps the last, the smallest."""
    db = InMemoryExampleDatabase()

    @settings(max_examples=1, database=db, deadline=None, verbosity=Verbosity.quiet,
              suppress_health_check=list(HealthCheck), phases=(Phase.reuse, Phase.shrink),
              report_multiple_bugs=False, print_blob=False)
    @seed(seed_value)
    @given(buf=st.binary(max_size=slot_size(max_steps)))  # shorter strings allowed here
    def one(buf: bytes) -> None:
        check(buf)

    inner: Any = one
    db.save(function_digest(inner.hypothesis.inner_test) + b".secondary",
            choices_to_bytes((buf,)))
    with contextlib.suppress(_Diverged):
        one()


def _drop_steps(trace: GenTrace, result: LockstepResult, backend: Backend, profile: Profile,
                path: Path | None, meta: dict[str, Any], waive: frozenset[str]
                ) -> tuple[GenTrace, LockstepResult]:
    """Remove single steps while the trace still diverges (hypothesis's shrinker works
    on choices, and a step whose removal shifts later choices can survive it)."""
    assert result.divergence is not None
    steps = list(trace.steps[: result.divergence.step])
    i = len(steps) - 2
    while i >= 0:
        for rest in _without(steps, i):
            cand = GenTrace(trace.page, trace.config, tuple(rest))
            r = lockstep(cand, backend, profile, waive=waive)
            if r.divergence is not None:
                steps = list(cand.steps[: r.divergence.step])
                trace, result = GenTrace(trace.page, trace.config, tuple(steps)), r
                if path is not None:
                    write_failing_trace(path, trace, result, meta)
                i = min(i, len(steps) - 1) - 1
                break
        else:
            i -= 1
    return trace, result


def _without(steps: list[GenStep], i: int) -> list[list[GenStep]]:
    """The steps without step i; for a handle_duplicate, also with the later steps
    naming the duplicate naming its source instead (the same object)."""
    rest = steps[:i] + steps[i + 1:]
    gs = steps[i]
    if gs.name != "handle_duplicate":
        return [rest]
    dup, src = gs.args["out"], gs.args["handle"]
    renamed = [GenStep(g.name, g.kind, {k: src if v == dup else v for k, v in g.args.items()},
                       g.vmo_kind) for g in steps[i + 1:]]
    return [rest, steps[:i] + renamed]


def _slug(text: str) -> str:
    return "".join(ch if ch.isalnum() or ch in "-_" else "-" for ch in text)



# --- batched fuzzing (a backend with run_batch) --------------------------------------------------


class _Replay:
    """A backend that answers with outcomes observed earlier (by a batch run), in order;
    past the end, the failure that cut the batch short."""

    def __init__(self, name: str, observed: list[dict[str, Any]], failure: str | None) -> None:
        self._name = name
        self._observed = observed
        self._failure = failure
        self._next = 0

    @property
    def name(self) -> str:
        return self._name

    def start(self, header: Any) -> None:
        self._next = 0

    def step(self, step_name: str, kind: str, args: Mapping[str, Any]) -> dict[str, Any]:
        if self._next >= len(self._observed):
            raise BackendError(self._failure or "no outcome observed for this step")
        self._next += 1
        return self._observed[self._next - 1]


def _generate(count: int, bseed: int, page: int, avoid: frozenset[str],
              max_steps: int) -> list[GenTrace]:
    """`count` whole traces from hypothesis, reproducible from the seed."""
    made: list[GenTrace] = []

    @settings(max_examples=count, database=None, deadline=None, verbosity=Verbosity.quiet,
              suppress_health_check=list(HealthCheck), phases=(Phase.generate,),
              print_blob=False)
    @seed(bseed)
    @given(buf=choice_bytes(max_steps))
    def gen(buf: bytes) -> None:
        made.append(decode(buf, page, max_steps, avoid))

    gen()
    return made[:count]


def _fits_u64(trace: GenTrace) -> bool:
    return all(0 <= x <= U64_MAX for g in trace.steps for k, x in g.args.items()
               if isinstance(x, int) and not isinstance(x, bool) and k != "error")


def _run_batch(backend: BatchBackend, traces: list[GenTrace]
               ) -> tuple[list[list[dict[str, Any]]], str | None]:
    """Observed outcomes per trace, and why the batch stopped early (None if it did not).
    A backend that fails before observing anything raises BackendError."""
    from refinement_tests.device.backend import BatchTrace, RunnerFailed

    batch = [BatchTrace(t.header(), [(g.name, g.kind, g.args) for g in t.steps]) for t in traces]
    try:
        return backend.run_batch(batch), None
    except RunnerFailed as e:
        if not e.observed:
            raise BackendError(e.message) from None
        return e.observed, e.message


def _check_observed(backend: BatchBackend, trace: GenTrace, observed: list[dict[str, Any]],
                    failure: str | None, profile: Profile, coverage: Coverage | None,
                    waive: frozenset[str], behaviour: Behaviour | None = None
                    ) -> LockstepResult:
    replay = _Replay(backend.name, observed, failure)
    ls = Lockstep(replay, profile, trace.page, trace.config, coverage, waive)
    res = ls.result
    if behaviour is not None:
        behaviour.start()
    for gs in trace.steps:
        going = ls.run(gs)
        if behaviour is not None and len(res.observed) == res.steps_run:
            behaviour.record(gs, res.observed[-1])
        if not going:
            break
    return ls.result


def _fuzz_batched(backend: BatchBackend, profile: Profile, *, seconds: float | None,
                  max_examples: int | None, seed_value: int, out_dir: Path | None, page: int,
                  max_steps: int, batch: int, known: frozenset[str],
                  on_progress: Callable[[FuzzReport], None] | None,
                  trace_name: str | None,
                  should_stop: Callable[[], bool] | None = None) -> FuzzReport:
    avoid = known & AVOIDABLE
    waive = known & frozenset(WAIVERS)
    report = FuzzReport(backend.name, profile.name, seed_value, avoided=avoid, page=page)
    started = time.perf_counter()
    name = trace_name or f"fuzz-{profile.name}-{_slug(backend.name)}-seed{seed_value}.jsonl"
    path = (out_dir / name) if out_dir is not None else None
    if out_dir is not None:
        out_dir.mkdir(parents=True, exist_ok=True)

    def meta() -> dict[str, Any]:
        return {"origin": "vmospec fuzz: shrunk failing trace", "backend": backend.name,
                "profile": profile.name, "seed": seed_value}

    n_batch = 0
    try:
        with _no_local_constants():
            while True:
                elapsed = time.perf_counter() - started
                if seconds is not None and elapsed >= seconds:
                    break
                if should_stop is not None and should_stop():
                    break
                if max_examples is not None and n_batch * batch >= max_examples:
                    break
                count = batch if max_examples is None else min(batch,
                                                               max_examples - n_batch * batch)
                made = _generate(count, _batch_seed(seed_value, n_batch), page, avoid,
                                 max_steps)
                traces = [t for t in made if _fits_u64(t)]
                report.not_u64 += len(made) - len(traces)
                n_batch += 1
                observed, failure = _run_batch(backend, traces)  # one round trip
                failing: tuple[GenTrace, LockstepResult] | None = None
                for k, trace in enumerate(traces):
                    if k >= len(observed):
                        break
                    cut = failure if k == len(observed) - 1 else None
                    result = _check_observed(backend, trace, observed[k], cut, profile,
                                             report.coverage, waive, report.behaviour)
                    report.traces += 1
                    report.steps += result.steps_run
                    if result.known is not None:
                        report.known[result.known] = report.known.get(result.known, 0) + 1
                    if result.divergence is not None and failing is None:
                        failing = (trace, result)
                if failing is not None:
                    report.caught_after = time.perf_counter() - started
                    report.traces_to_catch = report.traces
                    trace, result = failing
                    if path is not None:
                        write_failing_trace(path, trace, result, meta())  # before shrinking
                    if not (result.divergence and result.divergence.reason):
                        trace, result = _shrink_batched(backend, trace, result, profile,
                                                        path, meta(), waive)
                    _report_failure(report, trace, result, path)
                    break
                if on_progress is not None:
                    report.seconds = time.perf_counter() - started
                    on_progress(report)
    except KeyboardInterrupt:
        report.interrupted = True
    report.seconds = time.perf_counter() - started
    return report


def _report_failure(report: FuzzReport, trace: GenTrace, result: LockstepResult,
                    path: Path | None) -> None:
    """Put the shrunk failing trace, where it was saved, into the report."""
    report.divergence = result.divergence
    report.shrunk_steps = result.divergence.step if result.divergence else 0
    report.trace_path = str(path) if path is not None else None
    report.failing = (trace, result)


def _shrink_batched(backend: BatchBackend, trace: GenTrace, result: LockstepResult,
                    profile: Profile, path: Path | None, meta: dict[str, Any],
                    waive: frozenset[str]) -> tuple[GenTrace, LockstepResult]:
    """Remove steps while the trace still diverges: every one-step-shorter candidate of a
    round goes to the backend in one batch, and the shortest that still diverges wins."""
    assert result.divergence is not None
    steps = list(trace.steps[: result.divergence.step])
    while len(steps) > 1:
        cands = [GenTrace(trace.page, trace.config, tuple(steps[:i] + steps[i + 1:]))
                 for i in range(len(steps) - 1)]
        try:
            observed, failure = _run_batch(backend, cands)
        except BackendError:
            break  # the shrink stops; what was found so far is already on disk
        best: tuple[GenTrace, LockstepResult] | None = None
        for k, cand in enumerate(cands[: len(observed)]):
            cut = failure if k == len(observed) - 1 else None
            r = _check_observed(backend, cand, observed[k], cut, profile, None, waive)
            d = r.divergence
            if d is None or d.reason:
                continue
            if best is None or d.step < (best[1].divergence.step if best[1].divergence else 0):
                best = (GenTrace(trace.page, trace.config, cand.steps[: d.step]), r)
        if best is None:
            break
        trace, result = best
        steps = list(trace.steps)
        if path is not None:
            write_failing_trace(path, trace, result, meta)
    return trace, result
