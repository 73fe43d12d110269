"""The reference page as separate claims, and where two of them cannot both hold.

Each claim encodes one statement of the reference page (docs/page-index.md), on its own: the ops it
speaks of, the condition under which it applies (over one zx_vmo_op_range call on a
proof shape's symbolic state: rights, sizes, offset, size, buffer, VMO kind, lock
state) and what it requires of the outcome there:

- `Fails(E)`: the call fails with E, or with another error the page lists whose own
  condition holds here (the page orders none of its errors);
- `Returns(s)`: the page promises s (for OK, the failures the page allows in place of
  success, NO_MEMORY and the pager's, are allowed too: `MayInstead` claims);
- `Never(S)`: none of the statuses S;
- `NeedsRight(R)`: lacking every right of R, the call fails as `Fails(ACCESS_DENIED)`;
- `NoCommit`: a success commits no page;
- `MayInstead(S)`: a permission, not a constraint (it never conflicts).

"Another error the page lists whose condition holds" is read off the claims
themselves (the union of the conditions of every `Fails`/`NeedsRight` claim of that
error), so no third table can drift from them.

`contradictions()` asks z3, for every shape, handle and op step and every pair of
claims about that op, whether there is an input where both apply and no outcome
(status, whether pages get committed) meets both requirements. Each such pair is found
once, on the simplest shape, with a minimal witness (proofs/witness.py) replayed on
the concrete spec under `doc`. A claim's `cites` names the page-index ids of the
sentences it encodes.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from functools import cache
from typing import Any

import z3

from proofs.prover import shape, step_paths
from proofs.shapes import SHAPES
from proofs.steps import OFFSET, SIZE, STEP_BY_LABEL, STEPS
from proofs.witness import SHAPE_ORDER, Fresh, Witness, build, shape_rank
from spec import abi
from spec.abi import (
    ERR_ACCESS_DENIED,
    ERR_BAD_HANDLE,
    ERR_BAD_STATE,
    ERR_INVALID_ARGS,
    ERR_IO,
    ERR_IO_DATA_INTEGRITY,
    ERR_NO_MEMORY,
    ERR_NOT_SUPPORTED,
    ERR_OUT_OF_RANGE,
    ERR_UNAVAILABLE,
    ERR_WRONG_TYPE,
    OK,
    RIGHT_READ,
    RIGHT_WRITE,
)
from spec.explore import ANY_ERROR
from spec.explore import Path as SpecPath
from spec.objects import visible_size
from spec.outcome import Outcome, status_name
from spec.state import DISCARDED, ROOT, SLICE, UNRECLAIMABLE, State, Vmo

PAGE = 4096
# Any status the page does not name: one value stands for all of them.
OTHER = -(1 << 20)
# The outcome's statuses z3 ranges over: those the page names, and the rest as one.
DOMAIN = (OK, ERR_BAD_HANDLE, ERR_OUT_OF_RANGE, ERR_NO_MEMORY, ERR_WRONG_TYPE,
          ERR_ACCESS_DENIED, ERR_INVALID_ARGS, ERR_NOT_SUPPORTED, ERR_UNAVAILABLE,
          ERR_BAD_STATE, ERR_IO, ERR_IO_DATA_INTEGRITY, OTHER)

COMMIT, DECOMMIT, ZERO = abi.OP_COMMIT, abi.OP_DECOMMIT, abi.OP_ZERO
LOCK, TRY_LOCK, UNLOCK = abi.OP_LOCK, abi.OP_TRY_LOCK, abi.OP_UNLOCK
SYNC, INVALIDATE = abi.OP_CACHE_SYNC, abi.OP_CACHE_INVALIDATE
CLEAN, CLEAN_INVALIDATE = abi.OP_CACHE_CLEAN, abi.OP_CACHE_CLEAN_INVALIDATE
DONT_NEED, ALWAYS_NEED = abi.OP_DONT_NEED, abi.OP_ALWAYS_NEED
CACHE_OPS = frozenset({SYNC, INVALIDATE, CLEAN, CLEAN_INVALIDATE})
LOCK_OPS = frozenset({LOCK, TRY_LOCK, UNLOCK})
# The ops the page describes; any other op code is "not a valid operation".
PAGE_OPS = frozenset({COMMIT, DECOMMIT, ZERO, *LOCK_OPS, *CACHE_OPS, DONT_NEED, ALWAYS_NEED})


# ----------------------------------------------------------------------------------------
# The call a claim speaks of
# ----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Call:
    """One zx_vmo_op_range call on a shape: z3 terms for what the shape leaves open,
    Python values for what it fixes (the op, the buffer, the kind of VMO)."""

    op: int
    rights: Any
    vmo_size: Any  # the size the caller sees
    offset: Any
    size: Any
    buffer_ok: bool  # non-null and large enough for a zx_vmo_lock_state_t
    discardable: bool
    pager_backed: bool
    discarded: Any
    locked: Any
    decommit_supported: bool  # the page's DECOMMIT rule, from the object graph

    def lacks(self, rights: int) -> Any:
        """The handle has none of `rights`."""
        return self.rights & rights == 0

    def range_invalid(self) -> Any:
        return z3.Or(z3.Not(z3.BVAddNoOverflow(self.offset, self.size, False)),
                     z3.ULT(self.vmo_size, self.offset + self.size))

    def aligned(self) -> Any:
        return z3.And(self.offset & (PAGE - 1) == 0, self.size & (PAGE - 1) == 0)


def _root(st: State, vmo: Vmo) -> Vmo:
    while vmo.parent is not None:
        vmo = st.vmo(vmo.parent)
    return vmo


def _decommit_supported(st: State, obj: int) -> bool:
    """page.decommit.supported_only: zx_vmo_create VMOs without non-slice children, and
    their slices."""
    vmo = st.vmo(obj)
    base_id = vmo.parent if vmo.role == SLICE and vmo.parent is not None else obj
    base = st.vmo(base_id)
    if base.role != ROOT or base.kind.pager_backed or base.kind.physical:
        return False
    return not any(isinstance(o, Vmo) and o.parent == base_id and o.role != SLICE
                   for o in st.objects.values())


@cache
def call_view(shape_name: str, handle: str, step: str) -> Call | None:
    """The call a zx_vmo_op_range step makes on a shape; None for other steps."""
    s = STEP_BY_LABEL[step]
    if s.call != "vmo_op_range" or s.op is None:
        return None
    st = shape(shape_name).state
    h = st.handles[handle]
    vmo = st.vmo(h.obj)
    args = s.trace_args(handle, {"offset": 0, "size": 0})
    buffer_ok = "buffer" not in args and args.get("buffer_size", 0) >= abi.LOCK_STATE_SIZE
    tracker = vmo.tracker
    return Call(
        op=s.op, rights=h.rights, vmo_size=visible_size(st, h.obj), offset=OFFSET,
        size=SIZE, buffer_ok=buffer_ok, discardable=vmo.kind.discardable,
        pager_backed=_root(st, vmo).kind.pager_backed,
        discarded=tracker.state == DISCARDED if tracker is not None else z3.BoolVal(False),
        locked=tracker.state == UNRECLAIMABLE if tracker is not None else z3.BoolVal(False),
        decommit_supported=_decommit_supported(st, h.obj))


# ----------------------------------------------------------------------------------------
# What a claim requires of the outcome
# ----------------------------------------------------------------------------------------


Flag = Any  # a z3 boolean, or a Python bool


class Context:
    """What requirements read beyond their own claim: the errors whose conditions hold
    (from the `Fails`/`NeedsRight` claims) and the failures allowed in place of OK."""

    def __init__(self, claims: Sequence[Claim], c: Call) -> None:
        self.call = c
        applies: dict[int, list[Any]] = {}
        instead: list[tuple[Any, frozenset[int]]] = []
        for cl in claims:
            if c.op not in cl.ops:
                continue
            r = cl.requires
            if isinstance(r, Fails):
                applies.setdefault(r.status, []).append(cl.when(c))
            elif isinstance(r, NeedsRight):
                applies.setdefault(ERR_ACCESS_DENIED, []).append(
                    z3.And(cl.when(c), c.lacks(r.rights)))
            elif isinstance(r, MayInstead):
                instead.append((cl.when(c), r.statuses))
        self._applies = {s: z3.simplify(z3.Or(*fs)) for s, fs in applies.items()}
        self._instead = instead

    def applies(self, status: int) -> Flag:
        """Does some claim name `status` as the error for this input?"""
        return self._applies.get(status, False)

    def instead_of_ok(self, status: int) -> Flag:
        return z3.Or(False, *[w for w, ss in self._instead if status in ss])


@dataclass(frozen=True)
class Fails:
    status: int

    def allows(self, cx: Context, s: int, commits: Any) -> Flag:
        if s == self.status:
            return True
        if s in (OK, OTHER):
            return False
        return cx.applies(s)

    def text(self) -> str:
        return (f"fails with {status_name(self.status, short=True)} (or another listed "
                "error that applies)")


@dataclass(frozen=True)
class Returns:
    status: int

    def allows(self, cx: Context, s: int, commits: Any) -> Flag:
        if s == self.status:
            return True
        return cx.instead_of_ok(s) if self.status == OK else False

    def text(self) -> str:
        return f"returns {status_name(self.status, short=True)}"


@dataclass(frozen=True)
class Never:
    statuses: frozenset[int]

    def allows(self, cx: Context, s: int, commits: Any) -> Flag:
        return s not in self.statuses

    def text(self) -> str:
        return "never " + " or ".join(status_name(s, short=True)
                                      for s in sorted(self.statuses))


@dataclass(frozen=True)
class NeedsRight:
    rights: int  # lacking all of these is refused (READ|WRITE: "READ or WRITE")

    def allows(self, cx: Context, s: int, commits: Any) -> Flag:
        return z3.Or(z3.Not(cx.call.lacks(self.rights)),
                     Fails(ERR_ACCESS_DENIED).allows(cx, s, commits))

    def text(self) -> str:
        names = " or ".join(n for r, n in ((RIGHT_READ, "READ"), (RIGHT_WRITE, "WRITE"))
                            if self.rights & r)
        return f"requires the {names} right (ACCESS_DENIED without it)"


@dataclass(frozen=True)
class NoCommit:
    def allows(self, cx: Context, s: int, commits: Any) -> Flag:
        return z3.Or(s != OK, z3.Not(commits))

    def text(self) -> str:
        return "commits no page"


@dataclass(frozen=True)
class MayInstead:
    statuses: frozenset[int]

    def allows(self, cx: Context, s: int, commits: Any) -> Flag:
        return True

    def text(self) -> str:
        return "may fail with " + " or ".join(status_name(s, short=True)
                                              for s in sorted(self.statuses))


Requirement = Fails | Returns | Never | NeedsRight | NoCommit | MayInstead


@dataclass(frozen=True)
class Claim:
    """One statement of the page: where it applies, and what it requires there."""

    id: str
    cites: str  # the page sentences it encodes: ids of docs/page-index.md
    ops: frozenset[int]
    when: Callable[[Call], Flag]
    requires: Requirement

    def allowed(self, cx: Context, s: int, commits: Any) -> Any:
        return z3.BoolVal(True) if (a := self.requires.allows(cx, s, commits)) is True \
            else z3.BoolVal(False) if a is False else a


def _always(c: Call) -> Flag:
    return True


def _ops(*ops: int) -> frozenset[int]:
    return frozenset(ops)


def _lock_args_valid(c: Call) -> Flag:
    # "offset should be 0 and size should be the current size", the buffer "should point
    # to a zx_vmo_lock_state_t", and the right the LOCK paragraph requires.
    return z3.And(c.offset == 0, c.size == c.vmo_size, c.buffer_ok,
                  z3.Not(c.lacks(RIGHT_READ | RIGHT_WRITE)))


# The rights the RIGHTS section lists, per op (an op it does not name: none).
RIGHTS_SECTION = {COMMIT: RIGHT_WRITE, DECOMMIT: RIGHT_WRITE, SYNC: RIGHT_READ,
                  INVALIDATE: RIGHT_WRITE, CLEAN: RIGHT_READ, CLEAN_INVALIDATE: RIGHT_READ}
_OP_TEXT_RIGHTS = {COMMIT: RIGHT_WRITE, DECOMMIT: RIGHT_WRITE, ZERO: RIGHT_WRITE,
                   LOCK: RIGHT_READ | RIGHT_WRITE, TRY_LOCK: RIGHT_READ | RIGHT_WRITE,
                   UNLOCK: RIGHT_READ | RIGHT_WRITE, SYNC: RIGHT_READ,
                   INVALIDATE: RIGHT_WRITE, CLEAN: RIGHT_READ, CLEAN_INVALIDATE: RIGHT_READ}
# The page-index ids of the DESCRIPTION's and the RIGHTS section's rights sentences.
_OP_TEXT_CITES = {COMMIT: "page.commit.rights", DECOMMIT: "page.decommit.rights",
                  ZERO: "page.zero.rights", LOCK: "page.lock.rights",
                  TRY_LOCK: "page.try_lock.rights", UNLOCK: "page.unlock.rights",
                  SYNC: "page.cache_sync.rights", INVALIDATE: "page.cache_invalidate.rights",
                  CLEAN: "page.cache_clean.rights",
                  CLEAN_INVALIDATE: "page.cache_clean_invalidate.rights"}
_RIGHTS_CITES = {COMMIT: "page.rights.commit", DECOMMIT: "page.rights.decommit",
                 SYNC: "page.rights.cache_sync", INVALIDATE: "page.rights.cache_invalidate",
                 CLEAN: "page.rights.cache_clean",
                 CLEAN_INVALIDATE: "page.rights.cache_clean_invalidate"}


def _name(op: int) -> str:
    return abi.OP_NAMES[op].removeprefix("ZX_VMO_OP_")


def _slug(op: int) -> str:
    return _name(op).lower().replace("_", "-")


def _rights_claims() -> list[Claim]:
    out = []
    for op, r in _OP_TEXT_RIGHTS.items():
        slug = "read" if r == RIGHT_READ else "write" if r == RIGHT_WRITE else "read-or-write"
        out.append(Claim(f"{_slug(op)}-requires-{slug}", _OP_TEXT_CITES[op], _ops(op),
                         _always, NeedsRight(r)))
    for op, r in RIGHTS_SECTION.items():
        out.append(Claim(f"rights-{_slug(op)}", _RIGHTS_CITES[op], _ops(op), _always,
                         NeedsRight(r)))
    out.append(Claim(
        "rights-sufficient", "page.rights.sufficient",
        PAGE_OPS, lambda c: z3.Not(c.lacks(RIGHTS_SECTION[c.op]))
        if c.op in RIGHTS_SECTION else True, Never(frozenset({ERR_ACCESS_DENIED}))))
    return out


def _description_claims() -> list[Claim]:
    return [
        Claim("decommit-supported-only",
              "page.decommit.supported_only",
              _ops(DECOMMIT), lambda c: not c.decommit_supported, Fails(ERR_NOT_SUPPORTED)),
        Claim("decommit-page-aligned",
              "page.decommit.aligned",
              _ops(DECOMMIT), lambda c: z3.Not(c.aligned()), Fails(ERR_INVALID_ARGS)),
        Claim("lock-guaranteed-ok",
              "page.lock.guaranteed_ok",
              _ops(LOCK), _lock_args_valid, Returns(OK)),
        Claim("lock-commits-nothing",
              "page.lock.commits_nothing",
              _ops(LOCK), _always, NoCommit()),
        Claim("try-lock-commits-nothing",
              "page.try_lock.commits_nothing",
              _ops(TRY_LOCK), _always, NoCommit()),
        Claim("try-lock-unavailable",
              "page.try_lock.unavailable",
              _ops(TRY_LOCK), lambda c: z3.And(c.discardable, c.discarded),
              Fails(ERR_UNAVAILABLE)),
        Claim("try-lock-succeeds-only-undiscarded",
              "page.try_lock.only_undiscarded", _ops(TRY_LOCK), lambda c: c.discarded,
              Never(frozenset({OK}))),
        Claim("dont-need-trivially-succeeds",
              "page.dont_need.trivially_succeeds",
              _ops(DONT_NEED), lambda c: not c.pager_backed, Returns(OK)),
        Claim("dont-need-commits-nothing",
              "page.dont_need.commits_nothing", _ops(DONT_NEED), _always, NoCommit()),
        Claim("always-need-trivially-succeeds",
              "page.always_need.trivially_succeeds",
              _ops(ALWAYS_NEED), lambda c: not c.pager_backed, Returns(OK)),
        Claim("buffer-unused",
              "page.description.buffer_unused",
              PAGE_OPS, _buffer_alone_invalid, Never(frozenset({ERR_INVALID_ARGS}))),
    ]


def _buffer_alone_invalid(c: Call) -> Flag:
    """The buffer is invalid and nothing else the ERRORS list makes INVALID_ARGS holds:
    an unused argument cannot be the reason for an error."""
    if c.buffer_ok:
        return False
    others: list[Any] = []
    if c.op in CACHE_OPS:
        others.append(c.size == 0)
    if c.op == DECOMMIT:
        others.append(z3.Not(c.aligned()))
    return z3.Not(z3.Or(False, *others))


def _errors_claims() -> list[Claim]:
    return [
        Claim("errors-out-of-range",
              "page.errors.out_of_range", PAGE_OPS, lambda c: c.range_invalid(),
              Fails(ERR_OUT_OF_RANGE)),
        Claim("errors-invalid-op",
              "page.errors.invalid_op",
              frozenset(s.op for s in STEPS if s.op is not None) - PAGE_OPS, _always,
              Fails(ERR_INVALID_ARGS)),
        Claim("errors-cache-size-zero",
              "page.errors.cache_size_zero", CACHE_OPS, lambda c: c.size == 0,
              Fails(ERR_INVALID_ARGS)),
        Claim("errors-decommit-unaligned",
              "page.errors.decommit_unaligned", _ops(DECOMMIT), lambda c: z3.Not(c.aligned()),
              Fails(ERR_INVALID_ARGS)),
        Claim("errors-invalid-buffer",
              "page.errors.invalid_buffer, page.lock.buffer",
              _ops(LOCK), lambda c: not c.buffer_ok, Fails(ERR_INVALID_ARGS)),
        Claim("errors-not-discardable",
              "page.errors.not_discardable", LOCK_OPS, lambda c: not c.discardable,
              Fails(ERR_NOT_SUPPORTED)),
        Claim("errors-decommit-not-allowed",
              "page.errors.decommit_not_allowed", _ops(DECOMMIT),
              lambda c: not c.decommit_supported, Fails(ERR_NOT_SUPPORTED)),
        Claim("errors-unavailable",
              "page.errors.unavailable", _ops(TRY_LOCK),
              lambda c: z3.And(c.discardable, c.discarded), Fails(ERR_UNAVAILABLE)),
        Claim("errors-unlock-not-locked",
              "page.errors.unlock_not_locked", _ops(UNLOCK),
              lambda c: z3.And(c.discardable, z3.Not(c.locked)), Fails(ERR_BAD_STATE)),
        Claim("errors-no-memory",
              "page.errors.no_memory", _ops(COMMIT, ZERO),
              _always, MayInstead(frozenset({ERR_NO_MEMORY}))),
        Claim("errors-pager-commit",
              "page.errors.pager_commit, page.errors.pager_io, page.errors.pager_data",
              _ops(COMMIT), lambda c: c.pager_backed,
              MayInstead(frozenset({ERR_BAD_STATE, ERR_IO, ERR_IO_DATA_INTEGRITY}))),
    ]


CLAIMS: tuple[Claim, ...] = (*_rights_claims(), *_description_claims(), *_errors_claims())
assert len({c.id for c in CLAIMS}) == len(CLAIMS), "claim ids must be unique"


# ----------------------------------------------------------------------------------------
# Pairs of claims that cannot both hold
# ----------------------------------------------------------------------------------------


COMMITS = z3.Bool("commits")  # does the call commit pages (one outcome's effect)


def outcomes() -> list[tuple[int, Any]]:
    """Every outcome z3 ranges over: a status, and whether pages get committed."""
    return [(s, k) for s in DOMAIN for k in (z3.BoolVal(False), z3.BoolVal(True))]


def conflict(cx: Context, a: Claim, b: Claim) -> Any:
    """Both claims apply and no outcome meets both requirements."""
    c = cx.call
    none_both = [z3.Not(z3.And(a.allowed(cx, s, k), b.allowed(cx, s, k)))
                 for s, k in outcomes()]
    return z3.And(_bool(a.when(c)), _bool(b.when(c)), *none_both)


def _bool(f: Flag) -> Any:
    return z3.BoolVal(f) if isinstance(f, bool) else f


def _passive(cl: Claim) -> bool:
    return isinstance(cl.requires, MayInstead)


@dataclass
class Conflict:
    """Two claims that cannot both hold, and the smallest input that shows it."""

    a: Claim
    b: Claim
    shape: str
    handle: str
    step: str
    witness: Witness
    allowed_a: set[int]  # the statuses each claim allows at the witness
    allowed_b: set[int]

    @property
    def key(self) -> tuple[str, str]:
        return (self.a.id, self.b.id)

    def doc(self) -> list[SpecPath[Outcome]]:
        return self.witness.outcomes("doc")


def op_combos() -> list[tuple[str, str, str]]:
    """(shape, handle, step) for every zx_vmo_op_range step, simplest shape first."""
    out = []
    for name in (n for n in SHAPE_ORDER if n in SHAPES):  # the proof shapes
        for h in shape(name).targets:
            for st in STEPS:
                if st.call == "vmo_op_range":
                    out.append((name, h, st.label))
    out.sort(key=lambda x: shape_rank(x[0], x[1]))
    return out


class _At:
    """Formulas over the shape's words, evaluated at a witness's values."""

    def __init__(self, m: dict[str, int]) -> None:
        s = z3.Solver()
        s.add(*[z3.BitVec(n, 64) == v for n, v in m.items()])
        assert s.check() == z3.sat
        self.model = s.model()

    def __call__(self, f: Any) -> bool:
        if isinstance(f, bool):
            return f
        return bool(z3.is_true(self.model.eval(f, model_completion=True)))


def _value(m: dict[str, int], f: Any) -> bool:
    return _At(m)(f)


def allowed_text(allowed: set[int]) -> str:
    """A status set, short: "ACCESS_DENIED", or "anything but ACCESS_DENIED"."""
    def label(s: int) -> str:
        return "another status" if s == OTHER else status_name(s, short=True)

    if len(allowed) > len(DOMAIN) // 2:
        missing = [label(s) for s in DOMAIN if s not in allowed]
        return "anything but " + " or ".join(missing) if missing else "anything"
    return " or ".join(label(s) for s in DOMAIN if s in allowed) or "nothing"


def requires_success(cl: Claim) -> bool:
    """The claim promises success (a caller may rely on OK)."""
    return isinstance(cl.requires, Returns) and cl.requires.status == OK


def allowed_at(cx: Context, cl: Claim, m: dict[str, int]) -> set[int]:
    """The statuses a claim allows at a witness (with or without commits)."""
    at = _At(m)
    return {s for s, k in outcomes() if at(cl.allowed(cx, s, k))}


def contradictions(claims: Sequence[Claim] = CLAIMS,
                   combos: Iterable[tuple[str, str, str]] | None = None,
                   progress: Callable[[], None] | None = None) -> tuple[list[Conflict], int]:
    """Every pair of claims that cannot both hold on some input, once per pair, on the
    simplest shape; and how many (pair, shape, step) queries were asked."""
    found: dict[tuple[str, str], Conflict] = {}
    asked = 0
    for shape_name, handle, step in combos if combos is not None else op_combos():
        c = call_view(shape_name, handle, step)
        if c is None:
            continue
        if progress:
            progress()
        here = [cl for cl in claims if c.op in cl.ops and not _passive(cl)]
        cx = Context(claims, c)
        fresh: Fresh | None = None
        for i, a in enumerate(here):
            for b in here[i + 1:]:
                if (a.id, b.id) in found:
                    continue
                f = z3.simplify(conflict(cx, a, b))
                if z3.is_false(f):
                    continue
                asked += 1
                if fresh is None:
                    fresh = Fresh(shape_name, list(shape(shape_name).facts))
                if not fresh.sat(f):
                    continue
                # Where the doc profile is not silent the witness shows more: try there.
                silent = fresh.sub(_doc_silent(shape_name, handle, step))
                m = fresh.minimal(handle, f, z3.Not(silent)) or fresh.minimal(handle, f)
                if m is None:
                    continue
                w = build(shape_name, handle, step, m)
                found[(a.id, b.id)] = Conflict(a, b, shape_name, handle, step, w,
                                               allowed_at(cx, a, m), allowed_at(cx, b, m))
    return list(found.values()), asked


# ----------------------------------------------------------------------------------------
# Claims against the doc profile
# ----------------------------------------------------------------------------------------


@dataclass
class Agreement:
    claim: Claim
    witness: Witness
    claim_allows: set[int]
    doc_allows: set[int]
    commits: bool  # does some doc success at the witness commit a page
    agrees: bool


def _committed(st: State) -> dict[int, Any]:
    return {oid: o.memory.committed for oid, o in st.objects.items()
            if isinstance(o, Vmo) and o.memory is not None}


def _doc_silent(shape_name: str, handle: str, step: str) -> Any:
    """Where the doc profile allows any error (the page silent)."""
    paths, _side = step_paths("doc", shape_name, handle, step)
    return z3.Or(False, *[z3.And(True, *p.condition) for p in paths
                          if p.result.status == ANY_ERROR])


def constrains(cx: Context, cl: Claim) -> Any:
    """Where the claim rules out some outcome (elsewhere it says nothing to check)."""
    return z3.Or(*[z3.Not(cl.allowed(cx, s, k)) for s, k in outcomes()])


def agreement(cl: Claim, claims: Sequence[Claim] = CLAIMS) -> list[Agreement]:
    """For each shape and step the claim speaks of, whether every outcome the doc
    profile allows meets the claim. z3 is asked, for each doc path, for an input where
    the claim applies, the path is taken and its status is one the claim rules out (for
    the doc's "any error", where the claim allows no error); the first such input is
    the witness of a disagreement. Where there is none, the witness is the claim's
    minimal input (where it rules something out, when it can), and the effect
    requirement is checked there on the concrete spec."""
    out: list[Agreement] = []
    for shape_name, handle, step in op_combos():
        c = call_view(shape_name, handle, step)
        if c is None or c.op not in cl.ops:
            continue
        when = _bool(cl.when(c))
        paths, fresh = _doc_fresh(shape_name, handle, step)
        if not fresh.sat(when):
            continue
        cx = Context(claims, c)
        m: dict[str, int] | None = None
        bad_paths = []
        for p in paths:
            s = p.result.status
            if s == ANY_ERROR:
                bad = z3.Not(z3.Or(*[cl.allowed(cx, e, z3.BoolVal(False))
                                     for e in DOMAIN if e != OK]))
            else:
                bad = z3.Not(cl.allowed(cx, s if s in DOMAIN else OTHER, z3.BoolVal(False)))
            bad_paths.append(z3.And(fresh.sub(z3.And(True, *p.condition)), bad))
        any_bad = z3.Or(False, *bad_paths)
        if fresh.sat(when, any_bad):  # one query for all paths; most claims agree
            m = fresh.minimal(handle, when, any_bad)
        disagrees = m is not None
        if m is None:  # any input shows where the claim was compared: no need to minimise
            m = _example(fresh, when, constrains(cx, cl)) or _example(fresh, when)
        if m is None:
            continue
        w = build(shape_name, handle, step, m)
        out.append(_judge(cl, cx, w, m, disagrees))
    return out


SMALL = 1 << 20


def _example(fresh: Fresh, *facts: Any) -> dict[str, int] | None:
    """Some input where the facts hold on the fresh state, with small words if it can."""
    small = [z3.ULT(z3.BitVec(n, 64), SMALL) for n in ("S_a", "S_c", "offset", "size")]
    for extra in (small, []):
        fresh.solver.push()
        fresh.solver.add(*facts, *extra)
        found = fresh.solver.check() == z3.sat
        model = fresh.solver.model() if found else None
        fresh.solver.pop()
        if model is not None:
            return {d.name(): model[d].as_long() for d in model.decls()
                    if z3.is_bv_value(model[d])}
    return None


@cache
def _doc_fresh(shape_name: str, handle: str, step: str
               ) -> tuple[list[SpecPath[Outcome]], Fresh]:
    """The doc profile's paths for a step, and the fresh state to ask z3 about them
    (its solver is used with push/pop only, so it is shared by every claim)."""
    paths, side = step_paths("doc", shape_name, handle, step)
    return paths, Fresh(shape_name, [*shape(shape_name).facts, *side])


def _judge(cl: Claim, cx: Context, w: Witness, m: dict[str, int], disagrees: bool
           ) -> Agreement:
    """The doc profile's outcomes at a witness, against the claim (with effects)."""
    before = _committed(w.state)
    doc = w.outcomes("doc")
    allows = allowed_at(cx, cl, m)
    ok = not disagrees
    commits = False
    for p in doc:
        s = p.result.status
        k = s == OK and _committed(p.result.state) != before
        commits = commits or k
        if s == ANY_ERROR:
            ok = ok and any(x not in (OK, OTHER) for x in allows)
        else:
            ok = ok and _value(m, cl.allowed(cx, s if s in DOMAIN else OTHER, z3.BoolVal(k)))
    return Agreement(cl, w, allows, {p.result.status for p in doc}, commits, ok)
