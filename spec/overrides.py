"""A profile's overrides: the pieces of Zircon's code another implementation replaces.

spec/op_range.py is the 2025 kernel, with the era choices a profile names
(spec/profiles.py). Where another implementation checks or acts otherwise, its profile
carries a table of replacements instead of a branch in Zircon's code: the common prefix
of zx_vmo_op_range, an op's whole function, zx_vmo_create's accepted options. The
tables and the small functions they name are in spec/implementations/, one file each.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

from spec.explore import Cx
from spec.objects import Target
from spec.outcome import Outcome
from spec.state import Handle, State
from spec.values import Word

# An op of zx_vmo_op_range: (cx, state, target, offset, size, buffer size, buffer null).
OpFn = Callable[[Cx, State, Target, Word, Word, int, bool], Outcome]

# The common prefix: (cx, state, handle, its object, op, the op's function or None when
# the op is not dispatched, offset, size) -> (status or None to go on, the function).
PrefixFn = Callable[
    [Cx, State, Handle | None, object, int, OpFn | None, Word, Word],
    tuple[int | None, OpFn | None],
]


@dataclass(frozen=True, slots=True)
class Overrides:
    # Replaces the kernel's common prefix (prefix.order: handle, type, op decode).
    prefix: PrefixFn | None = None
    # The ops whose prefix must run even through a valid VMO handle: the replacement
    # decides something for them there (spec/op_range.py skips the prefix otherwise).
    prefix_ops: frozenset[int] = frozenset()
    # Op functions that replace Zircon's, by op number.
    ops: Mapping[int, OpFn] = field(default_factory=lambda: MappingProxyType({}), hash=False)
    # zx_vmo_create: the option bits accepted, and the source of the rung refusing others.
    create_options: tuple[int, str] | None = None


# Zircon's own code throughout.
NONE = Overrides()


def answers(status: int, why: str) -> OpFn:
    """An op that answers `status` whatever its arguments and changes nothing."""
    def run(
        cx: Cx, st: State, t: Target, offset: Word, size: Word, _bs: int, _bn: bool
    ) -> Outcome:
        cx.why = why
        return Outcome(status, st)

    return run
