"""The minimal witness of each known spec/model disagreement (refinement_tests/known.py).

`python -m refinement_tests.known_witnesses` runs each witness on the model and writes
it, with the model's observed outcomes, to refinement_tests/traces/disagreements/NAME.jsonl.
`vmospec check` rejects each of those files at its last step for as long as the
disagreement stands; the tests check that, so a fix on either side shows up.
"""

from __future__ import annotations

import sys
from pathlib import Path

from refinement_tests.backends import ModelBackend
from refinement_tests.fuzz import lockstep, write_failing_trace
from refinement_tests.generate import GenStep, GenTrace
from refinement_tests.known import KNOWN
from spec import abi as A
from spec.profiles import PROFILES

__all__ = ["DIRECTORY", "WITNESSES", "witness_trace"]

DIRECTORY = Path(__file__).parent / "traces" / "disagreements"
P = 4096
U = A.U64_MAX


def _c(name: str, **a: object) -> GenStep:
    return GenStep(name, "call", dict(a))


def _op(v: str, o: int, off: int, size: int) -> GenStep:
    return _c("vmo_op_range", vmo=v, op=o, offset=off, size=size,
              buffer_size=A.LOCK_STATE_SIZE if o == A.OP_LOCK else 0, buffer_null=False)


def _create(out: str, size: int = P, opts: int = 0) -> GenStep:
    return _c("vmo_create", size=size, options=opts, out=out)


def _child(parent: str, opts: int, off: int, size: int, out: str) -> GenStep:
    return _c("vmo_create_child", vmo=parent, options=opts, offset=off, size=size, out=out)


def _pager_vmo(size: int = P, opts: int = 0) -> list[GenStep]:
    return [_c("pager_create", out="p"),
            _c("pager_create_vmo", pager="p", options=opts, size=size, out="pv")]


def _fail(off: int, length: int, error: int) -> GenStep:
    return _c("pager_fail", pager="p", vmo="pv", offset=off, length=length, error=error)


def _reclaim(v: str) -> GenStep:
    return GenStep("reclaim", "event", {"vmo": v})


_DISCARDED = [_create("d", P, A.VMO_DISCARDABLE), _op("d", A.OP_LOCK, 0, P),
              _c("vmo_write", vmo="d", offset=0, data=((7, 16),)),
              _op("d", A.OP_UNLOCK, 0, P), _reclaim("d")]

WITNESSES: dict[str, list[GenStep]] = {
    "max_size": [_create("a", U - P + 1)],
    "slice_no_write": [_create("a"), _child("a", A.CHILD_SLICE | A.CHILD_NO_WRITE, 0, P, "s")],
    "pager_unbounded_resizable": _pager_vmo(P, A.VMO_UNBOUNDED | A.VMO_RESIZABLE),
    "pager_discardable_order": _pager_vmo(U, A.VMO_DISCARDABLE),
    "set_size_order": [_create("a"), _c("vmo_set_size", vmo="a", size=U)],
    "set_size_tail": [*_pager_vmo(3 * P, A.VMO_RESIZABLE), _op("pv", A.OP_COMMIT, 0, 3 * P),
                      _c("vmo_set_size", vmo="pv", size=2 * P + 5), _reclaim("pv")],
    "immutable_flag": [_create("a"), _child("a", A.CHILD_SNAPSHOT | A.CHILD_NO_WRITE, 0, P, "c"),
                       _c("vmo_info", vmo="c")],
    "snapshot_overflow_order": [*_pager_vmo(), _child("pv", A.CHILD_SNAPSHOT, U - P + 1, P, "c")],
    "slice_window_order": [_create("a"), _child("a", A.CHILD_SLICE, 0, P, "s"),
                           _child("s", A.CHILD_SNAPSHOT, P, P, "c")],
    "projected_overflow": [_create("a", 2 * P), _child("a", A.CHILD_SNAPSHOT, U - P + 1, 0, "c"),
                           _child("c", A.CHILD_SNAPSHOT, 0, P, "g")],
    "partial_write": [*_pager_vmo(4 * P), _c("vmo_read", vmo="pv", offset=P + 1, length=P),
                      _c("handle_close", handle="p"),
                      _c("vmo_write", vmo="pv", offset=2 * P + 3, data=((0, P),)),
                      _reclaim("pv")],
    "always_need_failure": [*_pager_vmo(2 * P), _fail(0, 2 * P, A.ERR_NO_SPACE),
                            _op("pv", A.OP_ALWAYS_NEED, 0, 2 * P), _c("vmo_info", vmo="pv")],
    "zero_reads_pager_content": [*_pager_vmo(256 * P), _fail(255 * P, P, A.ERR_IO),
                                 _op("pv", A.OP_ZERO, 255 * P, 1)],
    "reclaim_without_pages": [_create("d", P, A.VMO_DISCARDABLE), _op("d", A.OP_LOCK, 0, P),
                              _op("d", A.OP_UNLOCK, 0, P), _reclaim("d")],
    "dirty_zero_page_request": [*_pager_vmo(), _fail(0, P, A.ERR_IO), _op("pv", A.OP_ZERO, 0, P),
                                _op("pv", A.OP_COMMIT, 0, P)],
    "pager_snapshot_is_a_copy": [
        *_pager_vmo(), _child("pv", A.CHILD_SNAPSHOT_AT_LEAST_ON_WRITE, 0, P, "c"),
        _c("vmo_write", vmo="pv", offset=0, data=((0xFF, 1),)),
        _c("vmo_read", vmo="c", offset=0, length=1)],
    "decommit_orphan_snapshot": [_create("a"), _child("a", A.CHILD_SNAPSHOT, 0, P, "c"),
                                 _c("handle_close", handle="a"), _op("c", A.OP_DECOMMIT, 0, P)],
    "snapshot_via_reference": [_create("a"), _child("a", A.CHILD_REFERENCE, 0, 0, "r"),
                               _child("r", A.CHILD_SNAPSHOT, 0, P, "c"),
                               _op("a", A.OP_DECOMMIT, 0, P)],
    "zero_discarded_bounds": [*_DISCARDED, _op("d", A.OP_ZERO, P, P)],
    "empty_rw_discarded": [*_DISCARDED, _c("vmo_read", vmo="d", offset=0, length=0)],
}
assert set(WITNESSES) == set(KNOWN)


def witness_trace(name: str) -> GenTrace:
    return GenTrace(P, {"debugging_syscalls": False, "page_loaning": False},
                    tuple(WITNESSES[name]))


def main() -> int:
    DIRECTORY.mkdir(parents=True, exist_ok=True)
    profile = PROFILES["zircon-2025"]
    status = 0
    for name in WITNESSES:
        trace = witness_trace(name)
        r = lockstep(trace, ModelBackend(), profile, waive=frozenset())
        if r.divergence is None or r.divergence.step != len(trace.steps):
            print(f"{name}: no longer diverges at its last step: {r.divergence}")
            status = 1
            continue
        write_failing_trace(DIRECTORY / f"{name}.jsonl", trace, r, {
            "origin": "witness of a known spec/model disagreement (refinement_tests/known.py)",
            "known": name, "backend": "model", "profile": profile.name})
        print(f"{name}: {r.divergence.summary()}")
    return status


if __name__ == "__main__":
    sys.exit(main())
