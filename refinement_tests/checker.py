"""The checker: replay a trace against the spec under a profile.

A step conforms when some possible state before it has an allowed outcome that agrees
with every outcome field the step records. The states such outcomes lead to are all
kept: an unrecorded field or a choice the environment made (which pages reclaim
evicted, whether COMMIT ran out of memory) can leave several, and a divergence is
reported only when none of them explains what was observed.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from refinement_tests.trace import StatusExpect, Step, Trace, data_shown
from spec.abi import OK, STATUS_NAMES
from spec.explore import ANY_ERROR, Path, explore
from spec.outcome import PANIC, Between, Outcome
from spec.profiles import Profile
from spec.state import EMPTY_STATE, State
from spec.transitions import transition
from spec.values import Concrete

MAX_STATES = 256  # beyond this many possible states the trace is under-observed


@dataclass(frozen=True, slots=True)
class Allowed:
    """One outcome the profile allows at a step, and the rule that produced it."""

    status: int
    out: Mapping[str, Any]
    why: str

    def render(self, event: bool = False) -> dict[str, Any]:
        d: dict[str, Any] = {} if event else {"status": status_name(self.status)}
        for k, val in self.out.items():
            d[k] = render_value(val)
        d["rule"] = self.why
        return d


@dataclass(slots=True)
class Divergence:
    trace: str
    step: int
    line: int
    call: str
    observed: dict[str, Any]
    expected: dict[str, Any]
    allowed: list[dict[str, Any]]
    reason: str = ""


@dataclass(slots=True)
class TraceResult:
    path: str
    steps: int
    divergence: Divergence | None = None
    max_states: int = 1
    notes: list[str] = field(default_factory=list)

    @property
    def conforms(self) -> bool:
        return self.divergence is None


def status_name(s: int) -> str:
    if s == ANY_ERROR:
        return "any error (the page is silent here)"
    if s == PANIC:
        return "a crash (no status comes back)"
    return STATUS_NAMES.get(s, str(s))


def render_value(val: Any) -> Any:
    if isinstance(val, Between):
        return f"{val.lo}..{val.hi}"
    if isinstance(val, tuple):
        return data_shown(val)
    if isinstance(val, Mapping):
        return {k: render_value(x) for k, x in val.items()}
    return val


def _status_ok(expect: StatusExpect, status: int) -> bool:
    if status != ANY_ERROR:
        return expect.accepts(status)
    if expect.negate:
        return True  # some failure status is always outside a finite exclusion list
    return any(s != OK for s in expect.statuses)


def _field_ok(key: str, want: Any, got: Any) -> bool:
    if isinstance(got, Between):
        return want in got
    if key == "flags":
        return isinstance(got, int) and want & ~got == 0  # listed flags must be set
    if key == "lock_state":
        return isinstance(got, Mapping) and all(got.get(k) == x for k, x in want.items())
    return bool(want == got)


def agrees(step: Step, o: Outcome) -> bool:
    """Does the outcome agree with every outcome field the step recorded?"""
    for key, want in step.expect.items():
        if key == "status":
            status = o.status
            if not (want.accepts(status) if status != ANY_ERROR else _status_ok(want, status)):
                return False
            continue
        got = o.out.get(key)
        if got is None or not _field_ok(key, want, got):
            return False
    return True


def _state_key(st: State) -> tuple[Any, ...]:
    return (tuple(sorted(st.handles.items())), tuple(sorted(st.objects.items())), st.next_obj)


def _dedup(states: list[State]) -> list[State]:
    if len(states) < 2:
        return states
    seen: dict[tuple[Any, ...], State] = {}
    for st in states:
        seen.setdefault(_state_key(st), st)
    return list(seen.values())


def _observed(step: Step) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for k, val in step.raw.items():
        if k in step.expect:
            out[k] = data_shown(val) if k == "data" else val
    return out


def _paths(step: Step, st: State, v: Concrete, profile: Profile, page: int,
           config: dict[str, bool]) -> list[Path[Outcome]]:
    """Every outcome the profile allows for this step from this state."""
    name, args = step.name, step.args
    return explore(lambda cx: transition(cx, st, name, args), v, profile, page, config)


def check_trace(trace: Trace, profile: Profile) -> TraceResult:
    page = trace.header.page_size
    config = trace.header.config
    v = Concrete(page)
    states: list[State] = [EMPTY_STATE]
    result = TraceResult(trace.path, len(trace.steps))
    for step in trace.steps:
        not_run = step.raw.get("not_run")
        if not_run is not None:
            # The recorder did not run it, so it did not happen: the state is unchanged,
            # and the step is reported as not run rather than judged.
            result.notes.append(f"step {step.index} (line {step.line}), {step.name}: "
                                f"not run: {not_run}")
            continue
        next_states = [
            path.result.state
            for st in states
            for path in _paths(step, st, v, profile, page, config)
            if agrees(step, path.result)
        ]
        if not next_states:
            # Explored again only here, to say what would have been allowed.
            allowed = [Allowed(p.result.status, p.result.out, p.why)
                       for st in states for p in _paths(step, st, v, profile, page, config)]
            result.divergence = _divergence(trace, step, allowed)
            return result
        if len(next_states) > 1:
            states = _dedup(next_states)
            result.max_states = max(result.max_states, len(states))
            if len(states) > MAX_STATES:
                result.divergence = Divergence(
                    trace.path, step.index, step.line, step.name, _observed(step), {}, [],
                    f"more than {MAX_STATES} possible states: record more outcome fields",
                )
                return result
        else:
            states = next_states
    return result


def _divergence(trace: Trace, step: Step, allowed: list[Allowed]) -> Divergence:
    rendered: list[dict[str, Any]] = []
    for a in allowed:
        r = a.render(event=step.kind == "event")
        if r not in rendered:
            rendered.append(r)
    return Divergence(
        trace.path, step.index, step.line, step.name, _observed(step),
        rendered[0] if rendered else {}, rendered,
    )
