"""The invariant catalogue of proofs/catalogue.py, evaluated on concrete states.

`vmospec prove` reads each predicate as a z3 formula over a symbolic shape; here the
same predicate functions run with `proofs.logic.Concrete` on a state the explorer
reached and a step it took. Where a predicate speaks of "every offset" (`c.i`, a byte,
and `c.k`, a page), it is evaluated at every offset where its truth can change: the
boundaries of every byte and page run in the states before and after, every page
boundary up to the largest size, the step's offset and end (each with its neighbours),
and the top of the 64-bit range. Between two such points every term a predicate can
build reads the same, so those points decide it.

A predicate's scope names proof shapes ("slice", "discardable", ...) and the shape's
handles ("a" for the VMO, "c" for its child); a concrete step is given the shape its
VMO has (`shape_of`) so the same scopes select the same invariants.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from itertools import zip_longest
from typing import Any

from proofs.catalogue import CATALOGUE, Ctx, Invariant
from proofs.logic import U64, Concrete
from proofs.prover import EXPECTED_FINDINGS
from proofs.shapes import Shape
from proofs.steps import STEP_BY_LABEL
from proofs.steps import Step as ProofStep
from proofs.wellformed import CLAUSES
from spec import abi
from spec.abi import U64_MAX
from spec.explore import Path
from spec.objects import has_live_snapshot_child, visible_size
from spec.outcome import Outcome
from spec.profiles import Profile
from spec.state import REFERENCE, ROOT, SLICE, SNAPSHOT, Memory, State, Vmo
from spec.values import Values


@dataclass(frozen=True)
class Broken:
    """An invariant that does not hold: which, and at which offsets."""

    name: str
    statement: str
    at: str


class _Indexed:
    """A byte map or page set read one offset at a time, as the predicates index z3
    arrays (`m[i]`), each offset read once."""

    __slots__ = ("memo", "read")

    def __init__(self, read: Callable[[int], Any]) -> None:
        self.read = read
        self.memo: dict[int, Any] = {}

    def __getitem__(self, i: int) -> Any:
        x = self.memo.get(i)
        if x is None:
            x = self.memo[i] = self.read(int(i))
        return x


def _bytes(v: Values, m: Any) -> _Indexed:
    return _Indexed(lambda i: int(next(iter(v.bytes_read(m, i, 1)))[0]))


def _pages(v: Values, s: Any) -> _Indexed:
    return _Indexed(lambda k: bool(v.pages_any(s, k, k + 1)))


def indexable(v: Values, st: State) -> State:
    """The state with its byte maps and page sets readable by index (`m[i]`)."""
    objects = {}
    for k, o in st.objects.items():
        if isinstance(o, Vmo):
            if o.memory is not None:
                o = o.with_memory(Memory(_bytes(v, o.memory.content),
                                         _pages(v, o.memory.committed)))
            if o.marks is not None:
                m = o.marks
                o = o._replace(marks=m._replace(dirty=_pages(v, m.dirty),
                                                always_need=_pages(v, m.always_need),
                                                dont_need=_pages(v, m.dont_need)))
        objects[k] = o
    return st._replace(objects=objects)


def _run_bounds(v: Values, st: State, limit: int) -> set[int]:
    out: set[int] = set()
    for o in st.objects.values():
        if isinstance(o, Vmo) and o.memory is not None:
            x = 0
            for _b, n in v.bytes_read(o.memory.content, 0, limit):
                x += n
                out.add(x)
    return out


def sample_points(v: Values, page: int, states: Iterable[State], args: Iterable[int]
                  ) -> tuple[list[int], list[int]]:
    """The byte offsets and pages at which a predicate is decided (see the module doc):
    every place where a run begins or a compared bound lies, so each interval between
    two of them is represented by its first offset."""
    states = list(states)
    sizes = [int(visible_size(st, k)) for st in states for k, o in st.objects.items()
             if isinstance(o, Vmo)]
    pages = max(sizes, default=0) // page + 2
    limit = pages * page
    shifts = {0} | {int(o.window) for st in states for o in st.objects.values()
                    if isinstance(o, Vmo)}
    cuts = {U64_MAX} | {m * page for m in range(pages + 1)}
    for st in states:
        cuts |= _run_bounds(v, st, limit)
    for a in args:
        for w in shifts:
            x = (a + w) & U64_MAX
            cuts |= {x, (x + page - 1) & ~(page - 1) & U64_MAX, x & ~(page - 1)}
    cuts |= set(range(pages + 1))  # some clauses index page sets by c.i
    return sorted(cuts), sorted({x // page for x in cuts} | set(range(pages + 1)))


def check_state(v: Values, page: int, st: State) -> list[Broken]:
    """Every well-formedness clause (the catalogue's `well-formed` and
    `uncommitted-zero`) at every deciding offset of the state."""
    view = indexable(v, st)
    bytes_, _ = sample_points(v, page, [st], [])
    out = []
    for name, clause in CLAUSES.items():
        bad = [i for i in bytes_ if not clause(view, page, U64(i))]
        if bad:
            out.append(Broken(name, clause.__doc__ or name, f"offset {bad[0]}"))
    return out


def shape_of(st: State, handle: str) -> tuple[str, str]:
    """The proof shape the handle's VMO has in this state, and its handle there."""
    o = st.vmo(st.handles[handle].obj)
    if o.role == SLICE:
        return "slice", "c"
    if o.role == REFERENCE:
        return "reference", "c"
    if o.role == SNAPSHOT:
        return "snapshot", "c"
    assert o.role == ROOT
    if o.kind.discardable:
        return "discardable", "a"
    if o.kind.pager_backed:
        return "pager", "a"
    if has_live_snapshot_child(st, st.handles[handle].obj):
        return "snapshot", "a"
    return ("resizable" if o.kind.resizable else "anonymous"), "a"


def proof_step(name: str, args: Mapping[str, Any]) -> ProofStep | None:
    """The catalogue's step for a trace step, or None where the catalogue has none."""
    if name == "vmo_op_range":
        op = args["op"]
        if op == abi.OP_LOCK and (args.get("buffer_null")
                                  or args.get("buffer_size", 0) < abi.LOCK_STATE_SIZE):
            return STEP_BY_LABEL["LOCK (bad buffer)"]
        label = abi.OP_NAMES.get(op, "").removeprefix("ZX_VMO_OP_") or f"invalid op {op}"
        return STEP_BY_LABEL.get(label)
    return STEP_BY_LABEL.get(name)


def _offset_length(name: str, args: Mapping[str, Any]) -> tuple[int, int]:
    if name == "vmo_op_range":
        return args["offset"], args["size"]
    if name == "vmo_write":
        return args["offset"], sum(n for _b, n in args["data"])
    if name == "vmo_read":
        return args["offset"], args["length"]
    if name == "vmo_set_size":
        return 0, args["size"]
    return 0, 0


# Their predicates are the well-formedness clauses of the state after the step, which
# `check_state` evaluates on every state reached: once per state, not once per edge.
ON_STATES = {"uncommitted-zero", "well-formed"}


def checked_invariants() -> list[Invariant]:
    """The catalogue's step invariants, less those whose counterexamples are expected
    findings (`status-domain`: the kernel returns statuses the page does not list)."""
    return [inv for name, inv in CATALOGUE.items()
            if name not in EXPECTED_FINDINGS and name not in ON_STATES]


def check_step(v: Values, page: int, profile: Profile, pre: State, name: str,
               args: Mapping[str, Any], path: Path[Outcome],
               invariants: list[Invariant]) -> list[Broken]:
    """Every catalogue invariant whose scope covers this step, on this path."""
    step = proof_step(name, args)
    handle = args.get("vmo")
    if step is None or not isinstance(handle, str) or handle not in pre.handles:
        return []
    if not isinstance(pre.objects.get(pre.handles[handle].obj), Vmo):
        return []
    shape_name, role = shape_of(pre, handle)
    shape = Shape(shape_name, pre, (role,), ())
    wanted = [inv for inv in invariants if inv.scope(step, shape, role)]
    if not wanted:
        return []
    off, length = _offset_length(name, args)
    before, after = indexable(v, pre), indexable(v, path.result.state)
    shown = Path(path.result._replace(state=after), path.condition, path.why)
    shape = Shape(shape_name, before, (role,), ())
    bytes_, pages = sample_points(v, page, [pre, path.result.state], [off, off + length])
    out = []
    # Each predicate is a conjunction of parts about c.i and parts about c.k, never a
    # part about both, and where its condition depends on c.i its conclusion does not
    # depend on c.k: so visiting every byte and every page, in pairs, decides it.
    for i, k in zip_longest(bytes_, pages, fillvalue=0):
        c = Ctx(shape, step, handle, page, profile, shown, U64(i), U64(k),
                Concrete, U64(off), U64(length))
        for inv in list(wanted):
            applies, holds = inv.predicate(c)
            if applies and not holds:
                out.append(Broken(inv.name, inv.statement, f"byte {i}, page {k}"))
                wanted.remove(inv)
    return out
