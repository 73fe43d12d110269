"""Turning a z3 counterexample into a trace that replays it.

The trace builds the obligation's shape with the model's sizes, gives the state the
model's values where the violation shows (the byte `at_byte`, the page `at_page`, the
tracker, the handle's rights), runs the step with the model's arguments, then reads
back what the invariant is about. Each step's outcome is recorded by running the spec
(as it is when this runs: under a broken variant, the broken one), so `vmospec check`
replays the trace and points at the step where it disagrees.
"""

from __future__ import annotations

from collections.abc import Callable

from proofs.prover import PAGE, Obligation, Result
from proofs.steps import STEP_BY_LABEL
from proofs.witness import Builder, Recorded, decode_args, setup, tracker
from spec import abi


def _contents(b: Builder, shape: str, m: Callable[[str, int], int]) -> None:
    """Give each VMO that owns pages the model's byte at `at_byte` (in its own offsets)
    and commit its page `at_page` if the model commits it."""
    at_byte, at_page = m("at_byte", 0), m("at_page", 0)
    owners = (["a", "c"] if shape in ("snapshot", "two-sharer", "three-sharer")
              else [] if shape in ("pager", "pager-child") else ["a"])
    for tag in owners:
        byte = m(f"content_{tag}_at_byte", 0)
        if byte:
            b.add("vmo_write", vmo=tag, offset=at_byte, data=((byte, 1),),
                  note="the model's content at the offset where the claim fails")
        if m(f"committed_{tag}_at_page", 0):
            b.add("vmo_op_range", vmo=tag, op=abi.OP_COMMIT, offset=at_page * PAGE, size=PAGE,
                  note="the model's commit state at the page where the claim fails")


SHARERS = ("two-sharer", "three-sharer")


def _family(b: Builder, shape: str, m: Callable[[str, int], int]) -> None:
    """A copy-on-write family with the model's page sets at the page and the byte's
    page: the hidden nodes' pages (written into the original before each snapshot),
    each VMO's own pages (COMMIT, a fork) and its zero markers (ZERO)."""
    size_a = m("S_a", PAGE)
    pages = sorted({m("at_page", 0), m("at_byte", 0) // PAGE})

    def where(name: str, kk: int) -> bool:
        key = "page" if kk == m("at_page", 0) else "byte_page"
        return bool(m(f"{name}_at_{key}", 0))

    def put(hidden: str) -> None:
        for kk in pages:
            if where(hidden, kk) and kk * PAGE < size_a:
                b.add("vmo_write", vmo="a", offset=kk * PAGE, data=((0x11, 1),),
                      note=f"a page the hidden node ({hidden}) holds in the model")

    b.add("vmo_create", size=size_a, options=0, out="a")
    put("pages_h")
    b.add("vmo_create_child", vmo="a", options=abi.CHILD_SNAPSHOT, offset=PAGE,
          size=m("S_c", PAGE), out="c")
    tags = ["a", "c"]
    if shape == "three-sharer":
        put("pages_h2")
        b.add("vmo_create_child", vmo="a", options=abi.CHILD_SNAPSHOT, offset=0,
              size=m("S_d", size_a), out="d")
        tags.append("d")
    for tag in tags:
        for kk in pages:
            if where(f"committed_{tag}", kk):
                b.add("vmo_op_range", vmo=tag, op=abi.OP_COMMIT, offset=kk * PAGE, size=PAGE,
                      note="the model's own page")
            if where(f"zeros_{tag}", kk):
                b.add("vmo_op_range", vmo=tag, op=abi.OP_ZERO, offset=kk * PAGE, size=PAGE,
                      note="the model's zero marker")


def trace_for(result: Result) -> list[Recorded]:
    """A trace that sets up the counterexample of `result` and runs its step."""
    ob: Obligation = result.obligation
    values = result.model

    def m(name: str, default: int) -> int:
        return int(values.get(name, default))

    b = Builder(ob.profile, outputs=True)
    handle = ob.handle
    if ob.shape in SHARERS:
        _family(b, ob.shape, m)
    else:
        setup(b, ob.shape, m("S_a", PAGE), m("S_c", PAGE))
        if ob.shape == "discardable":
            tracker(b, values)
        _contents(b, ob.shape, m)
    step = STEP_BY_LABEL[ob.step]
    through = m("at_byte", 0) + PAGE  # where the child's byte lies in the root
    if ob.shape == "pager-child" and through < m("S_a", PAGE):
        b.add("vmo_write", vmo="a", offset=through, data=((0x77, 1),),
              note="the root changes after the child was made: the child reads it through")
    if step.call == "reclaim" and ob.shape == "discardable" and m("S_a", PAGE):
        # reclaim discards only a VMO that holds a page (reclaim.first_page); where in the
        # VMO the model has it is not part of the claim
        page = m("at_page", 0) if m("at_page", 0) < m("S_a", PAGE) // PAGE else 0
        b.add("vmo_op_range", vmo="a", op=abi.OP_COMMIT, offset=page * PAGE, size=PAGE,
              note="a page for reclaim to find")
    rights = m(f"rights_{handle}", abi.DEFAULT_VMO_RIGHTS)
    if rights != abi.DEFAULT_VMO_RIGHTS and step.call != "handle_close":
        b.add("handle_duplicate", handle=handle, rights=rights, out="h",
              note="the model's rights for the handle")
        handle = "h"
    seen = {m("content_a_at_byte", 0), m("content_c_at_byte", 0)}
    data_byte = next(x for x in (0x5A, 0xA5, 0x3C) if x not in seen)  # a write that shows
    args = decode_args(step.trace_args(handle, {"offset": m("offset", 0), "size": m("size", 0),
                                            "data_byte": data_byte}))
    b.add(step.call, kind="event" if step.call == "reclaim" else "call",
          note=f"the step of obligation {ob.name}", **args)
    at_byte = m("at_byte", 0)
    written = m("offset", 0) - PAGE
    if (ob.shape == "pager-child" and step.call == "vmo_write" and m("size", 0)
            and 0 <= written < min(m("S_c", PAGE), m("S_a", PAGE) - PAGE)):
        b.add("vmo_read", vmo="c", offset=written, length=1,
              note="what the child reads where the root was written (cow.read_through)")
    if ob.shape == "discardable":  # a discarded VMO reads nothing until it is locked
        b.add("vmo_op_range", vmo="a", op=abi.OP_LOCK, offset=0, size=m("S_a", PAGE),
              note="lock, so that what was discarded can be read")
    tags = ("a", "c", "d") if ob.shape == "three-sharer" else ("a", "c") if ob.shape in (
        "slice", "reference", "snapshot", "two-sharer", "pager-child") else ("a",)
    for tag in tags:
        b.add("vmo_read", vmo=tag, offset=at_byte, length=1,
              note="what the byte the claim is about reads now")
        b.add("vmo_info", vmo=tag, note="size and commit state now")
    return b.steps
