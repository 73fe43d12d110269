"""What a transition produces: a status, the next state, and the call's outputs."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any, NamedTuple

from spec.state import State

NO_OUTPUTS: Mapping[str, Any] = MappingProxyType({})

# A pseudo-status: the implementation panics and no status comes back
# (zcore.unimplemented.panic). It lies outside int32, so no trace can record it as a status
# (docs/trace-format.md: statuses fit in int32); proofs/diff.py reports it as a crash.
PANIC = 1 << 41


@dataclass(frozen=True, slots=True)
class Between:
    """An output the profile pins only to bounds (inclusive): e.g. committed bytes of a
    copy-on-write clone, which depend on how the kernel attributes shared pages."""

    lo: int
    hi: int

    def __contains__(self, x: object) -> bool:
        return isinstance(x, int) and self.lo <= x <= self.hi


class Outcome(NamedTuple):
    status: int
    state: State
    out: Mapping[str, Any] = NO_OUTPUTS
