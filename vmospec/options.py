"""Numbers on the command line: argparse types that accept only finite, bounded values.

A bad value is argparse's one-line usage error (exit 2), naming the option and the
bounds, never a traceback, a run that cannot stop (`--seconds nan`) or one that tests
nothing (`--seconds 0`).
"""

from __future__ import annotations

import argparse
import math
from collections.abc import Callable

__all__ = ["MAX_SECONDS", "MAX_SEED", "bounded_int", "duration"]

MAX_SECONDS = 7 * 24 * 3600.0  # a week: longer runs are split, and resumed by seed
MAX_SEED = (1 << 64) - 1


def duration(most: float = MAX_SECONDS) -> Callable[[str], float]:
    """Seconds: a finite number above 0, at most `most`."""

    def parse(text: str) -> float:
        try:
            value = float(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected seconds, got {text[:40]!r}"
                                             ) from None
        if not math.isfinite(value) or not 0 < value <= most:
            raise argparse.ArgumentTypeError(
                f"expected seconds above 0 and at most {most:g}, got {text[:40]}")
        return value

    return parse


def bounded_int(least: int, most: int) -> Callable[[str], int]:
    """An integer in [least, most], written in decimal digits."""

    def parse(text: str) -> int:
        digits = text.removeprefix("-")
        if not digits.isascii() or not digits.isdigit() or len(digits) > 24:
            raise argparse.ArgumentTypeError(
                f"expected an integer from {least} to {most}, got {text[:40]!r}")
        value = int(text)
        if not least <= value <= most:
            raise argparse.ArgumentTypeError(
                f"expected an integer from {least} to {most}, got {text[:40]}")
        return value

    return parse
