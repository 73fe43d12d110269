"""One step of a set of possible states: what the checker, the fuzzer, the backend diff
and the device backend all run to judge an observed outcome.

The spec may be in several states at once: an outcome field a trace leaves out, or a
choice the kernel makes on its own (which pages reclaim evicts, whether COMMIT ran out
of memory), can leave more than one. `StateSet.step` runs a step from every possible
state, keeps the states after each allowed outcome that agrees with every field the
step observed (the same state reached twice is kept once), and reports a divergence
when none agrees.

The set has a budget (notes/state-budget.md): with `max_states` N it holds at most N
states at once, and over a trace it steps at most N × (64 + steps / 32) states in all
(its work: a step costs one unit per state it starts from), so N states may be carried
for about 64 steps and N / 32 for ever. Past either bound the step raises
`OverBudget`, before doing the work: the caller reports it as an error (`check` and
`fuzz` exit 2). It is never a divergence nor a conforming trace, since what the trace
did was not judged.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from itertools import islice
from typing import Any

from refinement_tests.trace import SHOWN_RUNS, StatusExpect, data_shown, runs_shown
from spec.abi import OK
from spec.explore import Cx, Infeasible, Path, explore
from spec.outcome import ANY_ERROR, Between, Outcome, status_name
from spec.profiles import Profile
from spec.state import EMPTY_STATE, State
from spec.transitions import transition
from spec.values import Concrete, Runs

__all__ = ["MAX_STATES", "Divergence", "OverBudget", "StateSet", "agrees", "allowed_json",
           "observed_expect", "render_value", "state_key", "work_budget"]

MAX_STATES = 256  # the default budget N (--max-states)
BURST_STEPS = 64  # N states may be carried this many steps...
SHARE = 32  # ...and N / SHARE states for ever


def work_budget(max_states: int, steps: int) -> int:
    """How many states, in all, the first `steps` steps may start from."""
    return max_states * (BURST_STEPS + steps // SHARE)


class OverBudget(Exception):
    """The possible states outgrew their budget at a step (1-based)."""

    def __init__(self, step: int, message: str) -> None:
        super().__init__(message)
        self.step = step
        self.message = message


def state_key(s: State) -> tuple[Any, ...]:
    """Equal for two states exactly when they are the same state."""
    return (tuple(sorted(s.handles.items())), tuple(sorted(s.objects.items())), s.next_obj,
            tuple(sorted(s.nodes.items())))


def _status_ok(want: StatusExpect, status: int) -> bool:
    if status != ANY_ERROR:
        return want.accepts(status)
    if want.negate:
        return True  # some failure status is always outside a finite exclusion list
    return any(s != OK for s in want.statuses)


def _field_ok(key: str, want: Any, got: Any) -> bool:
    if isinstance(got, Between):
        return want in got
    if key == "flags":
        return isinstance(got, int) and want & ~got == 0  # listed flags must be set
    if key == "lock_state":
        return isinstance(got, Mapping) and all(got.get(k) == x for k, x in want.items())
    return bool(want == got)


def agrees(expect: Mapping[str, Any], o: Outcome) -> bool:
    """Does the outcome agree with every field observed (`status` a StatusExpect)?"""
    for key, want in expect.items():
        if key == "status":
            status = o.status
            if status != ANY_ERROR:
                if (status in want.statuses) == want.negate:
                    return False
            elif not _status_ok(want, status):
                return False
            continue
        got = o.out.get(key)
        if got is None:
            return False
        # an equal value agrees under every rule of _field_ok: checked first, cheaply
        if want != got and not _field_ok(key, want, got):
            return False
    return True


def observed_expect(observed: Mapping[str, Any]) -> dict[str, Any]:
    """A backend's observed outcome as expectations: exactly its status, its fields."""
    expect = {k: x for k, x in observed.items() if k != "not_reported"}  # not judged
    if "status" in expect:
        expect["status"] = StatusExpect(frozenset((observed["status"],)))
    return expect


def render_value(val: Any) -> Any:
    """An output as JSON: bounds as "lo..hi", byte data in its trace form."""
    if isinstance(val, Between):
        return f"{val.lo}..{val.hi}"
    if isinstance(val, Runs):
        return _runs_json(val)
    if isinstance(val, tuple):
        return data_shown(val)
    if isinstance(val, Mapping):
        return {k: render_value(x) for k, x in val.items()}
    return val


def _runs_json(val: Runs) -> Any:
    """A spec's read as `data_shown` shows data, without building the runs it stands
    for: a read of 2^40 bytes of the pager's content prints in one line."""
    count = len(val)
    if count <= 3 * SHOWN_RUNS:
        return data_shown(tuple(val))
    head = list(islice(val, SHOWN_RUNS))
    tail = val.tail_runs(SHOWN_RUNS)
    left = val.length - sum(c for _, c in head) - sum(c for _, c in tail)
    return runs_shown(head, tail, count - 2 * SHOWN_RUNS, left)


def allowed_json(paths: list[Path[Outcome]], event: bool) -> list[dict[str, Any]]:
    """Each distinct allowed outcome as JSON, with the rule that gave it (`rule`)."""
    out: list[dict[str, Any]] = []
    for p in paths:
        d: dict[str, Any] = {} if event else {"status": status_name(p.result.status)}
        for k, val in p.result.out.items():
            d[k] = render_value(val)
        d["rule"] = p.why
        if d not in out:
            out.append(d)
    return out


@dataclass(slots=True)
class Divergence:
    """The first step whose observed outcome the spec does not allow, or that failed."""

    step: int  # 1-based
    line: int  # in the trace file (the header is line 1)
    call: str
    observed: dict[str, Any]  # as the caller had it: trace JSON, or a backend's outcome
    allowed: list[dict[str, Any]]  # allowed_json
    reason: str = ""  # set when a backend or the spec failed instead
    trace: str = ""  # the trace file, if there is one

    @property
    def expected(self) -> dict[str, Any]:
        return self.allowed[0] if self.allowed else {}

    def summary(self) -> str:
        if self.reason:
            return f"step {self.step} ({self.call}): {self.reason}"
        return f"step {self.step} ({self.call}): observed {_show(self.observed)}, " \
               f"allowed {'; '.join(_show(a) for a in self.allowed) or 'nothing'}"


def _show(d: Mapping[str, Any]) -> str:
    parts = []
    for k, x in d.items():
        if k == "rule":
            continue
        val = status_name(x) if k == "status" and isinstance(x, int) else render_value(x)
        parts.append(f"{k}={val}")
    return ", ".join(parts)


class StateSet:
    """The states the spec may be in, stepped one observed outcome at a time."""

    __slots__ = ("config", "max_states", "page", "peak", "profile", "states", "steps", "v",
                 "work")

    def __init__(self, profile: Profile, page: int, config: Mapping[str, bool],
                 max_states: int = MAX_STATES) -> None:
        self.profile = profile
        self.page = page
        self.config = dict(config)
        self.v = Concrete(page)
        self.max_states = max_states
        self.states: list[State] = [EMPTY_STATE]
        self.steps = 0  # steps taken (a step not run is not one)
        self.work = 0  # states stepped from, in all
        self.peak = 1  # the most states held at once

    def _explore(self, s: State, name: str, args: Mapping[str, Any]) -> list[Path[Outcome]]:
        def run(cx: Cx) -> Outcome:
            return transition(cx, s, name, args)

        return explore(run, self.v, self.profile, self.page, self.config)

    def paths(self, name: str, args: Mapping[str, Any]) -> list[Path[Outcome]]:
        """Every outcome the profile allows for the step, from every possible state."""
        return [p for s in self.states for p in self._explore(s, name, args)]

    def step(self, name: str, args: Mapping[str, Any], expect: Mapping[str, Any]) -> bool:
        """Step every state; keep those after an outcome that agrees with `expect`.
        False, with the states unchanged, when none agrees (a divergence)."""
        states = self.states
        n = self.steps + 1
        if len(states) == 1:
            # The usual case, a profile that pins every choice from one state: run the
            # step once, without exploring (it makes no choice) or keeping paths.
            cx = Cx(self.v, self.profile, self.page, self.config, [])
            try:
                o = transition(cx, states[0], name, args)
            except Infeasible:
                o = None
            if not cx._arity:
                self.work += 1
                if o is None or not agrees(expect, o):
                    return False
                self.steps = n
                self.states = [o.state]
                return True
        self.work += len(states)
        if len(states) > 1 and self.work > work_budget(self.max_states, n):
            raise OverBudget(n, f"stepping {len(states)} possible states here makes "
                             f"{self.work:,} state-steps in all, over the budget of "
                             f"{work_budget(self.max_states, n):,} by step {n} "
                             f"({self.max_states} x ({BURST_STEPS} + {n}/{SHARE}))")
        nxt = [p.result.state for s in states for p in self._explore(s, name, args)
               if agrees(expect, p.result)]
        if not nxt:
            return False
        self.steps = n
        if len(nxt) > 1:
            unique: dict[tuple[Any, ...], State] = {}
            for s in nxt:
                unique.setdefault(state_key(s), s)
            nxt = list(unique.values())
            if len(nxt) > self.max_states:
                raise OverBudget(n, f"{len(nxt)} possible states after step {n}: more "
                                 f"than the budget of {self.max_states} at once")
            self.peak = max(self.peak, len(nxt))
        self.states = nxt
        return True
