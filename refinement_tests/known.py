"""Where the spec and the model are known to disagree.

Each entry was found by `vmospec fuzz` and has a minimal witness trace (the model's
observed outcomes, which `vmospec check` rejects) in
refinement_tests/traces/disagreements/NAME.jsonl; notes/fuzz-coverage.md says what each
side does and which one the facts support. An entry stays here only while fixing it
needs more than a local change (the reason is in that note); the harness keeps it from
hiding the next, unknown disagreement.

Two ways of doing that, by what the generator can know:

- **avoid**: the generator does not produce the arguments that lead there (it can tell
  from what it asked for: an option combination, a size, a kind of VMO);
- **waive**: the divergence is recognized where it shows (it depends on state the
  generator cannot see, such as whether a VMO holds pages), by a narrow matcher on the
  step, the observed outcome and the spec's possible states. The trace ends there,
  counted as "known": after it the spec and the backend are in different states.

`vmospec fuzz --known` switches all of them off, so each is found again.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Literal

from spec.explore import Cx, explore
from spec.outcome import Outcome
from spec.profiles import Profile
from spec.state import State
from spec.transitions import transition
from spec.values import Concrete

__all__ = ["KNOWN", "WAIVERS", "Known", "Seen"]


@dataclass(frozen=True)
class Known:
    how: Literal["avoid", "waive"]
    summary: str


KNOWN: dict[str, Known] = {}
"""Empty: twenty were found by the fuzzer and resolved; their witnesses are regression
examples now (refinement_tests/traces/examples/regression_*.jsonl, notes/fuzz-coverage.md).
The last, pager_snapshot_is_a_copy, went with issue 11 (spec/cow.py: children of
pager-backed VMOs read through)."""


@dataclass(frozen=True)
class Seen:
    """What a waiver may look at: the step, what was observed, the states the spec may
    have been in, and every outcome it allowed from them."""

    name: str
    args: Mapping[str, Any]
    expect: Any  # a checker Step whose expectations are the observed outcome
    observed: Mapping[str, Any]
    states: list[State]
    allowed: list[Outcome]
    profile: Profile
    page: int
    config: dict[str, bool]

    def agrees_from(self, states: list[State]) -> bool:
        """Would the observed outcome be allowed from one of these states?"""
        from refinement_tests.checker import agrees

        v = Concrete(self.page)
        for s in states:

            def run(cx: Cx, s: State = s) -> Outcome:
                return transition(cx, s, self.name, self.args)

            for path in explore(run, v, self.profile, self.page, self.config):
                if agrees(self.expect, path.result):
                    return True
        return False


Waiver = Callable[[Seen], bool]


WAIVERS: dict[str, Waiver] = {}
assert set(WAIVERS) == {n for n, k in KNOWN.items() if k.how == "waive"}
