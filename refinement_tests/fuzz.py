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
from refinement_tests.stepper import (
    MAX_STATES,
    Divergence,
    OverBudget,
    StateSet,
    allowed_json,
    observed_expect,
)
from refinement_tests.trace import step_to_json, write_trace
from spec import abi
from spec.abi import U64_MAX
from spec.profiles import Profile

__all__ = [
    "Divergence",
    "FuzzReport",
    "Lockstep",
    "LockstepResult",
    "RunReport",
    "fuzz",
    "lockstep",
    "no_local_constants",
    "trace_lines",
    "write_failing_trace",
]

ALL_KNOWN = frozenset(KNOWN)
# Traces per hypothesis example, each decoded from its own slot of the example's bytes:
# hypothesis spends about 0.3 ms on an example whatever it holds, more than a trace of
# 15 steps takes to run.
TRACES_PER_EXAMPLE = 8


# --- lockstep ------------------------------------------------------------------------------


@dataclass
class LockstepResult:
    steps_run: int
    observed: list[dict[str, Any]]  # per step run, the backend's outcome
    divergence: Divergence | None = None
    coverage: Coverage = field(default_factory=Coverage)
    max_states: int = 1
    known: str | None = None  # the known disagreement that ended the trace
    over_budget: str = ""  # why the spec's possible states outgrew their budget


class Lockstep:
    """A backend and the spec, advanced together one step at a time."""

    def __init__(self, backend: Backend, profile: Profile, page: int,
                 config: Mapping[str, bool], coverage: Coverage | None = None,
                 waive: frozenset[str] = frozenset(WAIVERS),
                 max_states: int = MAX_STATES) -> None:
        self.backend = backend
        self.profile = profile
        self.page = page
        self.config = dict(config)
        self.waivers = [(n, WAIVERS[n]) for n in sorted(waive) if n in WAIVERS]
        self.spec = StateSet(profile, page, config, max_states)
        self.result = LockstepResult(0, [], coverage=coverage if coverage is not None
                                     else Coverage())
        self.over = False  # a divergence, a known disagreement or over the state budget
        backend.start(GenTrace(page, self.config, ()).header())

    def run(self, gs: GenStep) -> bool:
        """Run one step on both; False once the trace can go no further (a divergence,
        a known disagreement, or the spec's possible states over their budget)."""
        if self.over:
            return False
        res = self.result
        i = res.steps_run + 1
        res.steps_run = i
        try:
            observed = self.backend.step(gs.name, gs.kind, gs.args)
        except BackendError as e:
            return self._stop(Divergence(i, i + 1, gs.name, {}, [],
                                         f"the backend failed: {e}"))
        except Exception as e:  # a crash of the implementation is a finding too
            return self._stop(Divergence(i, i + 1, gs.name, {}, [],
                                         f"the backend raised {type(e).__name__}: {e}"))
        res.observed.append(observed)
        if "not_run" in observed:
            return True  # the implementation did not run it: nothing happened, nothing to judge
        expect = observed_expect(observed)
        spec = self.spec
        try:
            agreed = spec.step(gs.name, gs.args, expect)
        except OverBudget as e:
            res.over_budget = e.message
            self.over = True
            return False
        except Exception as e:  # the spec itself failed on this step
            return self._stop(Divergence(i, i + 1, gs.name, observed, [],
                                         f"the spec raised {type(e).__name__}: {e}"))
        res.coverage.record(gs.name, gs.kind, gs.args, observed, gs.vmo_kind)
        res.max_states = spec.peak
        if agreed:
            return True
        paths = spec.paths(gs.name, gs.args)
        w = Seen(gs.name, gs.args, expect, observed, spec.states, [p.result for p in paths],
                 self.profile, self.page, self.config)
        for name, matches in self.waivers:
            if matches(w):
                res.known = name
                self.over = True
                return False
        return self._stop(Divergence(i, i + 1, gs.name, observed,
                                     allowed_json(paths, gs.kind == "event")))

    def run_source(self, source: TraceSource, max_steps: int) -> None:
        """Generate steps from `source` and run each, until the trace can go no further
        or has `max_steps` (hypothesis may end the example inside `source.next`)."""
        while len(source.steps) < max_steps:
            made = source.next()
            if not made:
                return
            for gs in made:
                if not self.run(gs):
                    return

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
        fields = {k: x for k, x in observed.items() if k not in ("not_run", "not_reported")}
        line = step_to_json(gs.name, gs.kind, dict(gs.args), fields)
        if "not_run" in observed:
            line["not_run"] = str(observed["not_run"])
        if "not_reported" in observed:
            line["not_reported"] = list(observed["not_reported"])
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
class RunReport:
    """What a run of generated traces counts (the fuzz, the backend diff)."""

    backend: str
    profile: str
    seed: int
    seconds: float = 0.0
    traces: int = 0
    steps: int = 0
    max_states: int = 1  # the most possible states the spec was in at once
    over_budget: str = ""  # set when a trace took the spec over its state budget: the run ends

    def tally(self, result: LockstepResult) -> bool:
        """Count a trace run; True when it is the first to go over the state budget."""
        self.steps += result.steps_run
        self.max_states = max(self.max_states, result.max_states)
        if result.over_budget and not self.over_budget:  # the first one ends the run
            self.over_budget = f"trace {self.traces}: {result.over_budget}"
            return True
        return False


@dataclass
class FuzzReport(RunReport):
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

    def meta(self) -> dict[str, Any]:
        """The header fields of a trace the run saves."""
        return {"origin": "vmospec fuzz: shrunk failing trace", "backend": self.backend,
                "profile": self.profile, "seed": self.seed}

    def coverage_report(self) -> dict[str, Any]:
        excluded = {"unbounded": "not generated: known disagreement max_size"} if (
            "max_size" in self.avoided) else {}
        out = self.coverage.report(spec_reachable(self.profile, self.page), excluded)
        out["behaviour"] = self.behaviour.report()
        return out


@contextlib.contextmanager
def no_local_constants() -> Iterator[None]:
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
    max_states: int = MAX_STATES,
    should_stop: Callable[[], bool] | None = None,
) -> FuzzReport:
    """Generate traces and run them in lockstep until `seconds` have passed or
    `max_examples` traces were generated (whichever comes first), or a divergence is
    found (then shrunk, and saved in `out_dir`). `known` names the known disagreements
    to keep from failing the run (all, by default; none finds each of them again).
    A failing trace is shrunk by hypothesis (unless `hypothesis_shrink` is off: the
    broken-variant tests turn it off for time), then single steps are removed while
    the trace still diverges. `should_stop` is asked before each batch (`--jobs`: another
    worker found a divergence)."""
    avoid = known & AVOIDABLE
    waive = known & frozenset(WAIVERS)
    if seed_value is None:
        seed_value = random.SystemRandom().randrange(1 << 32)
    if isinstance(backend, BatchBackend):
        return _fuzz_batched(backend, profile, seconds=seconds, max_examples=max_examples,
                             seed_value=seed_value, out_dir=out_dir, page=page,
                             max_steps=max_steps, batch=batch, known=known,
                             on_progress=on_progress, trace_name=trace_name,
                             max_states=max_states, should_stop=should_stop)
    report = FuzzReport(backend.name, profile.name, seed_value, avoided=avoid, page=page)
    started = time.perf_counter()
    path = _out_path(report, out_dir, trace_name)
    best: list[tuple[int, int]] = []  # (steps, size) of the smallest failing trace
    last_fail: list[tuple[GenTrace, LockstepResult, bytes]] = []  # and its bytes
    meta = report.meta

    def check(buf: bytes) -> None:
        source = TraceSource(buf, page, avoid)
        ls = Lockstep(backend, profile, page, source.config, report.coverage, waive,
                      max_states)
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
            first_over = _tally(report, ls.result)
        trace, result = source.trace(), ls.result
        if first_over:
            _save_over_budget(report, trace, result, path, meta())
        if report.over_budget:
            return  # the run ends with this batch (hypothesis wants the batch finished)
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

    pinned = contextlib.ExitStack()
    pinned.enter_context(no_local_constants())
    try:
        for n_batch, count in _batches(started, seconds, max_examples, batch):
            if should_stop is not None and should_stop():
                break
            bseed = _batch_seed(seed_value, n_batch)
            left = [count]  # traces this batch may still run
            # How many slots each example runs, fixed when it is first run: hypothesis
            # runs a failing example again to confirm it, and a count taken from `left`
            # then could stop short of the failing slot (a FlakyFailure, not a catch).
            cap: dict[bytes, int] = {}

            # Generation only: a failing slot is shrunk on its own below.
            @settings(max_examples=-(-count // TRACES_PER_EXAMPLE), database=None,
                      deadline=None, verbosity=Verbosity.quiet,
                      suppress_health_check=list(HealthCheck), phases=(Phase.generate,),
                      print_blob=False)
            @seed(bseed)
            @given(buf=choice_bytes(max_steps, TRACES_PER_EXAMPLE))
            def run_batch(buf: bytes) -> None:
                n = cap.get(buf)  # noqa: B023 (run at once)
                if n is None:
                    n = cap[buf] = min(left[0], TRACES_PER_EXAMPLE)  # noqa: B023
                    left[0] -= n  # noqa: B023
                for one in slots(buf, max_steps)[:n]:
                    check(one)

            try:
                run_batch()
                if report.over_budget:
                    break
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
            _progress(report, started, on_progress)
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
    on choices, and a step whose removal shifts later choices can survive it). Passes
    from the last step to the first are repeated until one removes nothing: a step
    that had to stay may go once a later one has gone."""
    assert result.divergence is not None
    steps = list(trace.steps[: result.divergence.step])
    removed = True
    while removed:
        removed = False
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
                    removed = True
                    break
            else:
                i -= 1
    return trace, result


def _without(steps: list[GenStep], i: int) -> list[list[GenStep]]:
    """The steps without step i; for a handle_duplicate, also with the later steps
    naming the duplicate naming its source instead (the same object); for a slice,
    also with the later steps naming the slice naming its parent, their offsets moved
    by the slice's (the same bytes: a window scenario folded into its parent)."""
    rest = steps[:i] + steps[i + 1:]
    gs = steps[i]
    if gs.name == "handle_duplicate":
        old, new, shift = gs.args["out"], gs.args["handle"], 0
    elif gs.name == "vmo_create_child" and gs.args["options"] == abi.CHILD_SLICE:
        old, new, shift = gs.args["out"], gs.args["vmo"], gs.args["offset"]
    else:
        return [rest]
    renamed = []
    for g in steps[i + 1:]:
        args = {k: new if v == old else v for k, v in g.args.items()}
        if shift and g.args.get("vmo") == old and "offset" in args:
            args["offset"] = (args["offset"] + shift) & U64_MAX
        renamed.append(GenStep(g.name, g.kind, args, g.vmo_kind))
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
                    waive: frozenset[str], max_states: int = MAX_STATES,
                    behaviour: Behaviour | None = None) -> LockstepResult:
    replay = _Replay(backend.name, observed, failure)
    ls = Lockstep(replay, profile, trace.page, trace.config, coverage, waive, max_states)
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
                  trace_name: str | None, max_states: int,
                  should_stop: Callable[[], bool] | None = None) -> FuzzReport:
    avoid = known & AVOIDABLE
    waive = known & frozenset(WAIVERS)
    report = FuzzReport(backend.name, profile.name, seed_value, avoided=avoid, page=page)
    started = time.perf_counter()
    path = _out_path(report, out_dir, trace_name)
    meta = report.meta
    try:
        with no_local_constants():
            for n_batch, count in _batches(started, seconds, max_examples, batch):
                if should_stop is not None and should_stop():
                    break
                made = _generate(count, _batch_seed(seed_value, n_batch), page, avoid,
                                 max_steps)
                traces = [t for t in made if _fits_u64(t)]
                report.not_u64 += len(made) - len(traces)
                observed, failure = _run_batch(backend, traces)  # one round trip
                failing: tuple[GenTrace, LockstepResult] | None = None
                for k, trace in enumerate(traces):
                    if k >= len(observed):
                        break
                    cut = failure if k == len(observed) - 1 else None
                    result = _check_observed(backend, trace, observed[k], cut, profile,
                                             report.coverage, waive, max_states,
                                             report.behaviour)
                    report.traces += 1
                    if _tally(report, result):
                        _save_over_budget(report, trace, result, path, meta())
                        break
                    if result.divergence is not None and failing is None:
                        failing = (trace, result)
                if report.over_budget:
                    break
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
                _progress(report, started, on_progress)
    except KeyboardInterrupt:
        report.interrupted = True
    report.seconds = time.perf_counter() - started
    return report


def _batches(started: float, seconds: float | None, max_examples: int | None,
             batch: int) -> Iterator[tuple[int, int]]:
    """(batch number, examples in it) until the time or the example budget is spent."""
    n = 0
    while seconds is None or time.perf_counter() - started < seconds:
        count = batch if max_examples is None else min(batch, max_examples - n * batch)
        if count <= 0:
            return
        yield n, count
        n += 1


def _progress(report: FuzzReport, started: float,
              on_progress: Callable[[FuzzReport], None] | None) -> None:
    if on_progress is not None:
        report.seconds = time.perf_counter() - started
        on_progress(report)


def _out_path(report: FuzzReport, out_dir: Path | None, trace_name: str | None) -> Path | None:
    """Where the run's failing trace goes (the directory is made now)."""
    if out_dir is None:
        return None
    out_dir.mkdir(parents=True, exist_ok=True)
    return out_dir / (trace_name or f"fuzz-{report.profile}-{_slug(report.backend)}"
                      f"-seed{report.seed}.jsonl")


def _tally(report: FuzzReport, result: LockstepResult) -> bool:
    if result.known is not None:
        report.known[result.known] = report.known.get(result.known, 0) + 1
    return report.tally(result)


def _save_over_budget(report: FuzzReport, trace: GenTrace, result: LockstepResult,
                 path: Path | None, meta: dict[str, Any]) -> None:
    """End the run: a generated trace left the spec more possible states than the budget
    (notes/state-budget.md). The trace is saved, for `vmospec check` to show the same."""
    if path is not None:
        write_failing_trace(path, trace, result, meta)
        report.trace_path = str(path)


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
