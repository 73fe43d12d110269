"""The two halves of "examples have teeth", shared by every example folder: each example
is caught by some broken rule, and each broken rule by some example."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from pathlib import Path

import pytest

Test = Callable[..., None]


def teeth_tests(examples: list[Path], mutants: Iterable[str],
                caught_by: Callable[[str], frozenset[str]]) -> tuple[Test, Test]:
    """Two parametrized tests; `caught_by(m)` is the set of example names m breaks."""
    names = sorted(mutants)

    @pytest.mark.parametrize("path", examples, ids=lambda p: p.name)
    def example_is_caught(path: Path) -> None:
        assert any(path.name in caught_by(m) for m in names), f"{path.name} catches none"

    @pytest.mark.parametrize("mutant", names)
    def mutant_is_caught(mutant: str) -> None:
        assert caught_by(mutant), f"no example catches {mutant}"

    return example_is_caught, mutant_is_caught
