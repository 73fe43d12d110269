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

from spec.outcome import Outcome
from spec.profiles import Profile
from spec.state import State

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
    expect: Mapping[str, Any]  # the observed outcome as expectations (stepper.agrees)
    observed: Mapping[str, Any]
    states: list[State]
    allowed: list[Outcome]
    profile: Profile
    page: int
    config: dict[str, bool]


Waiver = Callable[[Seen], bool]


WAIVERS: dict[str, Waiver] = {}
assert set(WAIVERS) == {n for n, k in KNOWN.items() if k.how == "waive"}
