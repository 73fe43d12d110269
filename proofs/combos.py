"""What the hunt and the diff look at: every (shape, handle, step), and the paths and
witnesses of those that are no proof obligation.

Beyond the shapes' own handles, each op is also tried through an invalid handle and
through a pager's handle (where the handle and the op are checked matters: which error
wins, or an implementation that decodes the op first, zcore.op_range.decode_first), and
op 5, the historic LOOKUP, which proofs/steps.py leaves out.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from functools import cache
from typing import Any

from proofs.prover import PAGE, shape, step_paths
from proofs.shapes import HUNT_SHAPES
from proofs.steps import OFFSET, SIZE, STEP_BY_LABEL, STEPS
from proofs.witness import CONFIG, Witness, build, shape_rank
from spec import abi
from spec.explore import Path as SpecPath
from spec.explore import explore
from spec.op_range import op_range
from spec.outcome import Outcome
from spec.profiles import PROFILES
from spec.symbolic import Symbolic

INVALID = "$invalid"  # the trace format's always-invalid handle
PAGER = "p"  # the pager shape's handle to the pager itself
EXTRA_HANDLES = (INVALID, PAGER)

# Ops the proof steps leave out, which an implementation may answer differently: op 5,
# the historic LOOKUP (sel4zircon: NOT_SUPPORTED, sel4zircon.op5.not_supported).
EXTRA_OPS = {"historic op 5": abi.OP_LOOKUP_HISTORIC}


def combos(shapes: Iterable[str] = HUNT_SHAPES) -> Iterator[tuple[str, str, str]]:
    """Every shape (the hunt's, unless given), handle and step, simplest shape first."""
    pairs = [(s, h) for s in shapes for h in shape(s).targets]
    pairs += [("anonymous", INVALID), ("pager", PAGER)]
    pairs.sort(key=lambda c: shape_rank(*c))
    for s, h in pairs:
        for st in STEPS:
            if h in EXTRA_HANDLES and STEP_BY_LABEL[st.label].call != "vmo_op_range":
                continue
            yield s, h, st.label
        yield from ((s, h, label) for label in EXTRA_OPS)


def paths(profile: str, shape_name: str, handle: str, step: str
          ) -> tuple[list[SpecPath[Outcome]], tuple[Any, ...]]:
    """step_paths, also for the ops that are no proof step."""
    if step not in EXTRA_OPS:
        return step_paths(profile, shape_name, handle, step)
    return _extra_paths(profile, shape_name, handle, EXTRA_OPS[step])


@cache
def _extra_paths(profile: str, shape_name: str, handle: str, op: int
                 ) -> tuple[list[SpecPath[Outcome]], tuple[Any, ...]]:
    st = shape(shape_name).state
    v = Symbolic(PAGE)
    found = explore(lambda cx: op_range(cx, st, handle, op, OFFSET, SIZE, 0, False), v,
                    PROFILES[profile], PAGE, CONFIG)
    return found, tuple(v.side)


def build_any(shape_name: str, handle: str, step: str, m: dict[str, int]) -> Witness:
    """build(), also for the handles that are no target of the shape and the ops that
    are no proof step."""
    extra = EXTRA_OPS.get(step)
    as_step = "invalid op 15" if extra is not None else step
    if handle not in EXTRA_HANDLES and extra is None:
        return build(shape_name, handle, step, m)
    w = build(shape_name, "a" if handle in EXTRA_HANDLES else handle, as_step, m)
    w.handle, w.step = handle, step
    w.args["vmo"] = handle if handle in EXTRA_HANDLES else w.args["vmo"]
    if extra is not None:
        w.args["op"] = extra
    return w
