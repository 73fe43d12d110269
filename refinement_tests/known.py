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
from spec.state import SNAPSHOT, State

__all__ = ["KNOWN", "WAIVERS", "Known", "Seen"]


@dataclass(frozen=True)
class Known:
    how: Literal["avoid", "waive"]
    summary: str


KNOWN: dict[str, Known] = {
    "pager_snapshot_is_a_copy": Known(
        "waive", "AT_LEAST_ON_WRITE and MODIFIED children of a pager-backed VMO: the spec "
        "models them as copies (its decision 11, a known gap), the model as the kernel "
        "does, unidirectional: they see later parent writes, and their page-ins land in "
        "the parent, where reclaim can evict them"),
}
"""Nineteen more were found by the fuzzer and resolved; their witnesses are regression
examples now (refinement_tests/traces/examples/regression_*.jsonl, notes/fuzz-coverage.md)."""


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


def _root_of(s: State, oid: int) -> int:
    o = s.objects.get(oid)
    while o is not None:
        parent: int | None = getattr(o, "parent", None)
        if parent is None:
            break
        oid = parent
        o = s.objects.get(oid)
    return oid


def _pager_snapshot_tree(w: Seen) -> bool:
    """Any divergence on a VMO whose tree (same root) is pager-backed and holds a
    snapshot child."""
    name = w.args.get("vmo")
    if not isinstance(name, str):
        return False
    for s in w.states:
        h = s.handles.get(name)
        if h is None:
            continue
        root = _root_of(s, h.obj)
        kind = getattr(s.objects.get(root), "kind", None)
        if kind is None or not kind.pager_backed:
            continue
        for oid, o in s.objects.items():
            if getattr(o, "role", None) == SNAPSHOT and _root_of(s, oid) == root:
                return True
    return False


WAIVERS: dict[str, Waiver] = {
    "pager_snapshot_is_a_copy": _pager_snapshot_tree,
}
assert set(WAIVERS) == {n for n, k in KNOWN.items() if k.how == "waive"}
