"""The checker: replay a trace against the spec under a profile.

A step conforms when some possible state before it has an allowed outcome that agrees
with every outcome field the step records. The states such outcomes lead to are all
kept (refinement_tests/stepper.py): an unrecorded field or a choice the environment
made (which pages reclaim evicted, whether COMMIT ran out of memory) can leave several,
and a divergence is reported only when none of them explains what was observed. Past
the state budget (`max_states`) the trace is refused with `OverBudget`: not judged.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from itertools import islice
from typing import Any

from refinement_tests.stepper import MAX_STATES, Divergence, OverBudget, StateSet, allowed_json
from refinement_tests.trace import Header, Step, Trace, data_shown
from spec.profiles import Profile

__all__ = ["StateBudgetError", "TraceResult", "check_steps", "check_trace"]

BATCH = 64  # steps read ahead of the check (check_steps)


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


class StateBudgetError(Exception):
    """A trace whose possible states outgrew the budget: one line, `path:line: what`."""

    def __init__(self, path: str, line: int, message: str) -> None:
        super().__init__(f"{path}:{line}: {message}; record more outcome fields, "
                         "or raise --max-states")
        self.path = path
        self.line = line
        self.message = message


def _observed(step: Step) -> dict[str, Any]:
    return {k: data_shown(val) if k == "data" else val
            for k, val in step.raw.items() if k in step.expect}


def check_trace(trace: Trace, profile: Profile, max_states: int = MAX_STATES) -> TraceResult:
    """Replay the trace's steps from the empty state; StateBudgetError past the budget."""
    return check_steps(trace.path, trace.header, trace.steps, profile, max_states)


def check_steps(path: str, header: Header, steps: Iterable[Step], profile: Profile,
                max_states: int = MAX_STATES) -> TraceResult:
    """Replay steps as they come (a TraceStream: read as they are checked). Past a
    divergence or the state budget the rest is still read, unjudged, so that a malformed
    line anywhere makes the whole trace malformed (TraceError), as reading it whole
    would, and the step count is the trace's."""
    states = StateSet(profile, header.page_size, header.config, max_states)
    result = TraceResult(path, 0)
    it = iter(steps)
    step_once = states.step
    notes = result.notes
    # Steps are read BATCH at a time, then checked: reading and stepping in turns, each
    # for a while, keeps each one's data in the processor's caches (measured: about a
    # tenth less CPU on a trace whose lines never repeat). Memory stays flat.
    while batch := list(islice(it, BATCH)):
        for step in batch:
            not_run = step.raw.get("not_run")
            if not_run is not None:
                # The recorder did not run it, so it did not happen: the state is
                # unchanged, and the step is reported as not run rather than judged.
                notes.append(f"step {step.index} (line {step.line}), {step.name}: "
                             f"not run: {not_run}")
                continue
            try:
                agreed = step_once(step.name, step.args, step.expect)
            except OverBudget as e:
                _drain(it)
                raise StateBudgetError(path, step.line, e.message) from None
            if not agreed:
                allowed = allowed_json(states.paths(step.name, step.args),
                                       step.kind == "event")
                result.divergence = Divergence(step.index, step.line, step.name,
                                               _observed(step), allowed, trace=path)
                result.steps += len(batch) + _drain(it)
                result.max_states = states.peak
                return result
        result.steps += len(batch)
    result.max_states = states.peak
    return result


def _drain(steps: Iterator[Step]) -> int:
    """Read the steps left (checking each line), unjudged; how many there were."""
    return sum(1 for _ in steps)
