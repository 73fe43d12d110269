"""Laws of ZX_INFO_VMO attribution in copy-on-write families, checked on every state the
spec reaches over generated traces (a property test over the Concrete backend; the z3
backend does not compute the scaled sums, notes/cow.md choice 11):

- share counts (info.attribution.2025): private <= committed <= size and scaled <=
  committed for every VMO; summed over all VMOs, scaled plus fraction is the pages the
  family holds, short of at most one fixed-point unit per (page, sharer) truncation;
  every page a hidden node holds is seen by some VMO (nothing leaks);
- legacy (info.attribution.legacy): summed over all VMOs, committed is exactly the pages
  held: each counts for one VMO.
"""

from __future__ import annotations

from contextlib import AbstractContextManager
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings

from refinement_tests.cow_mutants import COW_MUTANTS
from refinement_tests.generate import GenStep, GenTrace, traces
from spec import cow
from spec.explore import Cx, explore
from spec.outcome import Outcome
from spec.profiles import PROFILES, Profile
from spec.state import EMPTY_STATE, State
from spec.transitions import transition
from spec.values import Concrete

P = 4096
ONE = 1 << cow.FRACTION_BITS


def _states(trace: GenTrace, profile: Profile) -> list[State]:
    """Every state the spec can be in after each step (all paths, a few kept)."""
    v = Concrete(P)
    states, out = [EMPTY_STATE], []
    for gs in trace.steps:
        nxt: list[State] = []
        for s in states:

            def run(cx: Cx, s: State = s, name: str = gs.name,
                    args: dict[str, object] = gs.args) -> Outcome:
                return transition(cx, s, name, args)

            nxt += [p.result.state for p in explore(run, v, profile, P, trace.config)]
        states = nxt[:4]
        out += states
    return out


def _held(cx: Cx, st: State) -> int:
    """Pages the families hold: each visible member's own pages within its size, and
    every hidden node's pages."""
    total = 0
    for k, n in st.nodes.items():
        if n.hidden:
            total += cx.v.pages_count(n.pages, 0, (1 << 64) // P)
        else:
            vmo = st.vmo(k)
            assert vmo.memory is not None
            total += cx.v.pages_count(vmo.memory.committed, 0, vmo.size // P)
    return total


def _laws(st: State, profile: Profile) -> None:
    cx = Cx(Concrete(P), profile, P, {}, [])
    members = [k for k, n in st.nodes.items() if not n.hidden]
    if not members:
        return
    counts = {k: cow.attribution(cx, st, k) for k in members}
    held = _held(cx, st)
    if profile.attribution == "legacy":
        assert sum(c for c, _p, _s, _f in counts.values()) == held * P
        return
    sharers = 0
    for k, (committed, private, scaled, _frac) in counts.items():
        assert private <= committed <= st.vmo(k).size and scaled <= committed
        sharers += committed // P
    total = sum(s * ONE + f for _c, _p, s, f in counts.values())
    assert held * P * ONE - sharers <= total <= held * P * ONE
    for hid, n in st.nodes.items():
        if n.hidden:
            seen = cx.v.pages_empty()
            for k in members:
                seen = cx.v.pages_union(seen, cow.sight(cx, st, k)[0].get(hid, seen))
            assert seen == n.pages, f"hidden node {hid} holds pages no VMO sees"


@pytest.mark.parametrize("name", ["zircon-2025", "zircon-2024"])
@settings(max_examples=50, deadline=None, suppress_health_check=list(HealthCheck))
@given(trace=traces(max_steps=25))
def test_the_laws_hold_on_generated_traces(name: str, trace: GenTrace) -> None:
    for st in _states(trace, PROFILES[name]):
        _laws(st, PROFILES[name])


def _family_trace() -> GenTrace:
    """A 2-page VMO written, a full snapshot, one fork on each side, a second snapshot."""
    def call(name: str, **a: object) -> GenStep:
        return GenStep(name, "call", dict(a))
    return GenTrace(P, {"debugging_syscalls": False, "page_loaning": False}, (
        call("vmo_create", size=2 * P, options=0, out="a"),
        call("vmo_write", vmo="a", offset=0, data=((7, 2 * P),)),
        call("vmo_create_child", vmo="a", options=0x1, offset=0, size=2 * P, out="c"),
        call("vmo_write", vmo="a", offset=0, data=((8, 1),)),
        call("vmo_create_child", vmo="c", options=0x1, offset=P, size=P, out="d")))


def test_the_laws_hold_on_a_family_and_catch_broken_counts() -> None:
    """Non-vacuous: the hand-made family has hidden pages; unsplit share counts and a
    legacy rule that gives a shared page to no VMO break the laws."""
    for name in ("zircon-2025", "zircon-2024"):
        states = _states(_family_trace(), PROFILES[name])
        assert any(n.hidden for n in states[-1].nodes.values())
        for st in states:
            _laws(st, PROFILES[name])
    broken: dict[str, AbstractContextManager[Any]] = {
        "zircon-2025": COW_MUTANTS["shared-pages-unsplit"](),
        "zircon-2024": COW_MUTANTS["legacy-shared-page-unowned"]()}
    for name, patch in broken.items():
        with patch, pytest.raises(AssertionError):
            for st in _states(_family_trace(), PROFILES[name]):
                _laws(st, PROFILES[name])
