"""The kinds of VMO issue 12 (item 3) asks for: the fuzzer's generator makes each one,
the spec accepts each creation, and the hunt searches a shape of each."""

from __future__ import annotations

import random
from collections import Counter
from pathlib import Path

from proofs.shapes import HUNT_SHAPES
from proofs.witness import constructible
from refinement_tests.backends import SpecBackend
from refinement_tests.generate import decode
from spec import abi
from spec.state import SNAPSHOT, Vmo
from vmospec.cli import main

KINDS = ("uncached", "contiguous", "physical", "discardable-resizable", "pager-clone",
         "two-sharers", "three-sharers")


def _kinds_made(traces: int, seed: int) -> Counter[str]:
    """Which kinds the generated traces make, judged by the spec's state after each
    successful step (not by what the generator meant to make)."""
    rng = random.Random(seed)
    seen: Counter[str] = Counter()
    for _ in range(traces):
        trace = decode(rng.randbytes(400))
        spec = SpecBackend()
        spec.start(trace.header())
        for step in trace.steps:
            if spec.step(step.name, step.kind, step.args).get("status", abi.OK) != abi.OK:
                continue
            vmos = {k: o for k, o in spec.state.objects.items() if isinstance(o, Vmo)}
            for o in vmos.values():
                kind = o.kind
                seen["uncached"] += not kind.cached and not kind.physical
                seen["contiguous"] += kind.contiguous
                seen["physical"] += kind.physical
                seen["discardable-resizable"] += kind.discardable and kind.resizable
                if o.role == SNAPSHOT and o.parent is not None:
                    seen["pager-clone"] += vmos[o.parent].kind.pager_backed
            snaps = Counter(o.parent for o in vmos.values() if o.role == SNAPSHOT)
            seen["two-sharers"] += any(n >= 1 for n in snaps.values())
            seen["three-sharers"] += any(n >= 2 for n in snaps.values()) or any(
                o.parent is not None and o.role == SNAPSHOT and o.parent in snaps
                and vmos[o.parent].role == SNAPSHOT for o in vmos.values())
    return seen


def test_the_generator_makes_every_kind() -> None:
    seen = _kinds_made(400, 12)
    assert all(seen[k] for k in KINDS), {k: seen[k] for k in KINDS}


def test_the_hunt_searches_every_kind() -> None:
    for name in ("uncached", "contiguous", "physical", "discardable-resizable",
                 "pager-child", "two-sharer", "three-sharer"):
        assert name in HUNT_SHAPES
        assert constructible("zircon-2025", name), name


def test_the_explorer_walks_every_kind(tmp_path: Path) -> None:
    """The kinds configuration (uncached, contiguous, physical, discardable resizable):
    every state satisfies the catalogue and the model agrees on every step."""
    config = Path(__file__).parent.parent / "explore_configs" / "kinds.json"
    code = main(["explore", "--config", str(config), "--depth", "3", "--backend", "model",
                 "--out", str(tmp_path)])
    assert code == 0
