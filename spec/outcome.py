"""What a transition produces: a status, the next state, and the call's outputs; the two
pseudo-statuses a profile may give, and how every part of vmospec names a status."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any, NamedTuple

from spec import abi
from spec.state import State

NO_OUTPUTS: Mapping[str, Any] = MappingProxyType({})

# A status the page leaves open: any failure status is allowed there.
ANY_ERROR = 1 << 40
# The implementation panics and no status comes back (zcore.unimplemented.panic). Outside
# int32, so no trace can record it as a status (docs/trace-format.md: statuses fit in int32).
PANIC = 1 << 41


def status_name(s: int, short: bool = False) -> str:
    """ZX_ERR_NO_MEMORY, or with `short` NO_MEMORY (and OK); the pseudo-statuses in words."""
    if s == ANY_ERROR:
        return "any error" if short else "any error (the page is silent here)"
    if s == PANIC:
        return "panic" if short else "a crash (no status comes back)"
    name = abi.STATUS_NAMES.get(s, str(s))
    return name.removeprefix("ZX_").removeprefix("ERR_") if short else name


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
