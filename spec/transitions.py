"""The one entry point: apply a call or event, named as in docs/trace-format.md, to a state.

`args` holds the decoded argument fields of the step (numbers as ints, constants
resolved, byte data as normalized runs), keyed by the format's field names.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from spec import calls
from spec.explore import Cx
from spec.op_range import op_range
from spec.outcome import Outcome
from spec.state import State

Transition = Callable[[Cx, State, Mapping[str, Any]], Outcome]


def _data_length(data: Any) -> int:
    return sum(n for _b, n in data)


TRANSITIONS: dict[str, Transition] = {
    "vmo_create": lambda cx, st, a: calls.vmo_create(cx, st, a["size"], a["options"], a["out"]),
    "vmo_create_contiguous": lambda cx, st, a: calls.vmo_create_contiguous(
        cx, st, a["size"], a["alignment_log2"], a["out"]),
    "vmo_create_physical": lambda cx, st, a: calls.vmo_create_physical(
        cx, st, a["paddr"], a["size"], a["out"]),
    "vmo_create_child": lambda cx, st, a: calls.vmo_create_child(
        cx, st, a["vmo"], a["options"], a["offset"], a["size"], a["out"]),
    "handle_duplicate": lambda cx, st, a: calls.handle_duplicate(
        cx, st, a["handle"], a["rights"], a["out"]),
    "handle_close": lambda cx, st, a: calls.handle_close(cx, st, a["handle"]),
    "vmo_op_range": lambda cx, st, a: op_range(
        cx, st, a["vmo"], a["op"], a["offset"], a["size"], a["buffer_size"], a["buffer_null"]),
    "vmo_read": lambda cx, st, a: calls.vmo_read(cx, st, a["vmo"], a["offset"], a["length"]),
    "vmo_write": lambda cx, st, a: calls.vmo_write(
        cx, st, a["vmo"], a["offset"], a["data"], _data_length(a["data"])),
    "vmo_get_size": lambda cx, st, a: calls.vmo_get_size(cx, st, a["vmo"]),
    "vmo_set_size": lambda cx, st, a: calls.vmo_set_size(cx, st, a["vmo"], a["size"]),
    "vmo_info": lambda cx, st, a: calls.vmo_info(cx, st, a["vmo"]),
    "vmo_set_cache_policy": lambda cx, st, a: calls.vmo_set_cache_policy(
        cx, st, a["vmo"], a["cache_policy"]),
    "pager_create": lambda cx, st, a: calls.pager_create(cx, st, a["out"]),
    "pager_create_vmo": lambda cx, st, a: calls.pager_create_vmo(
        cx, st, a["pager"], a["options"], a["size"], a["out"]),
    "pager_supply_pages": lambda cx, st, a: calls.pager_supply_pages(
        cx, st, a["pager"], a["vmo"], a["offset"], a["length"]),
    "pager_fail": lambda cx, st, a: calls.pager_fail(
        cx, st, a["pager"], a["vmo"], a["offset"], a["length"], a["error"]),
    "reclaim": lambda cx, st, a: calls.reclaim(cx, st, a["vmo"]),
}


def transition(cx: Cx, st: State, name: str, args: Mapping[str, Any]) -> Outcome:
    if name == "vmo_op_range":  # most steps of a trace: one call fewer on the hot path
        return op_range(cx, st, args["vmo"], args["op"], args["offset"], args["size"],
                        args["buffer_size"], args["buffer_null"])
    return TRANSITIONS[name](cx, st, args)
