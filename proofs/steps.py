"""The steps the proofs apply to a shape: every op of zx_vmo_op_range (and an invalid
one), and the calls and event that change VMO state, with symbolic arguments; on the
copy-on-write family shapes also closing a handle."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import z3

from spec import abi, calls
from spec.explore import Cx
from spec.op_range import op_range
from spec.outcome import Outcome
from spec.state import State
from spec.symbolic import BV8, BV64

OFFSET = z3.BitVec("offset", 64)
SIZE = z3.BitVec("size", 64)
DATA = z3.Array("data", BV64, BV8)

Run = Callable[[Cx, State, str], Outcome]


@dataclass(frozen=True)
class Step:
    """One kind of step: its label, the op code (for op_range), and how to run it."""

    label: str
    call: str  # the trace call or event name
    op: int | None
    run: Run
    trace_args: Callable[[str, dict[str, int]], dict[str, Any]]  # for counterexample traces


def _op(label: str, op: int, buffer_size: int = 0, buffer_null: bool = False) -> Step:
    def run(cx: Cx, st: State, h: str) -> Outcome:
        return op_range(cx, st, h, op, OFFSET, SIZE, buffer_size, buffer_null)

    def args(h: str, m: dict[str, int]) -> dict[str, Any]:
        out: dict[str, Any] = {"vmo": h, "op": op, "offset": m["offset"], "size": m["size"]}
        if op == abi.OP_LOCK:
            out["buffer_size"] = buffer_size
            if buffer_null:
                out["buffer"] = None
        return out

    return Step(label, "vmo_op_range", op, run, args)


STEPS: list[Step] = [
    *(_op(name.removeprefix("ZX_VMO_OP_"), code, 32 if code == abi.OP_LOCK else 0)
      for name, code in abi.OPS.items() if code != abi.OP_LOOKUP_HISTORIC),
    _op("LOCK (bad buffer)", abi.OP_LOCK, 0, True),
    _op("invalid op 15", 15),
    Step("vmo_write", "vmo_write", None,
         lambda cx, st, h: calls.vmo_write(cx, st, h, OFFSET, (DATA, SIZE), SIZE),
         lambda h, m: {"vmo": h, "offset": m["offset"],
                       "data": [[m.get("data_byte", 1), m["size"]]]}),
    Step("vmo_read", "vmo_read", None,
         lambda cx, st, h: calls.vmo_read(cx, st, h, OFFSET, SIZE),
         lambda h, m: {"vmo": h, "offset": m["offset"], "length": m["size"]}),
    Step("vmo_set_size", "vmo_set_size", None,
         lambda cx, st, h: calls.vmo_set_size(cx, st, h, SIZE),
         lambda h, m: {"vmo": h, "size": m["size"]}),
    Step("reclaim", "reclaim", None,
         lambda cx, st, h: calls.reclaim(cx, st, h),
         lambda h, m: {"vmo": h}),
]
# Steps proved only on the copy-on-write family shapes (shapes.FAMILY_SHAPES): closing a
# handle, which releases a VMO and merges the hidden node it leaves with one child.
FAMILY_STEPS: list[Step] = [
    Step("handle_close", "handle_close", None,
         lambda cx, st, h: calls.handle_close(cx, st, h),
         lambda h, m: {"handle": h}),
]
STEP_BY_LABEL = {s.label: s for s in [*STEPS, *FAMILY_STEPS]}
