"""Test-wide settings."""

from __future__ import annotations

import pytest

from refinement_tests import backends


def pytest_configure(config: pytest.Config) -> None:
    # The model's representation invariant, every frame visited, after every model step.
    backends.MODEL_CHECK = "deep"
