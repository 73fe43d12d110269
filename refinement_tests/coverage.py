"""Coverage of a fuzz run, and the set of (op, status) pairs the spec can produce.

A fuzz run records which (op, status) pairs of zx_vmo_op_range it observed, which calls
and events (with their statuses) it ran, and which kinds of VMO it created. The target
for the (op, status) pairs is computed, not written down: `spec_reachable` runs the spec
(every path `explore` returns) for every op value on a grid of arguments (the offsets
and sizes where the semantics change), through handles with reduced rights, on a
catalogue of states each built by a short v1 trace prefix (every VMO kind a trace can
create, discardable VMOs in each tracker state, pager VMOs with each scripted failure
and detached, VMOs with snapshot children). What it collects is what the spec can
produce through a v1 trace; a pair in the spec's ladders that no v1 trace can reach
(a physical or contiguous VMO, an uncached one) is listed in notes/fuzz-coverage.md.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import json
import os
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from spec import abi
from spec.explore import ANY_ERROR, Cx, explore
from spec.outcome import Outcome
from spec.profiles import PROFILES, Profile
from spec.state import EMPTY_STATE, State
from spec.transitions import transition
from spec.values import Concrete

__all__ = [
    "CALLS",
    "VMO_KINDS",
    "Behaviour",
    "Coverage",
    "op_label",
    "spec_reachable",
    "status_label",
]

# Every call and event of docs/trace-format.md.
CALLS: tuple[str, ...] = (
    "vmo_create", "vmo_create_child", "handle_duplicate", "handle_close", "vmo_op_range",
    "vmo_read", "vmo_write", "vmo_get_size", "vmo_set_size", "vmo_info", "pager_create",
    "pager_create_vmo", "pager_supply_pages", "pager_fail", "reclaim", "vmo_set_cache_policy",
    "vmo_create_contiguous", "vmo_create_physical",
)

# Every kind of VMO a v1 trace can create.
VMO_KINDS: tuple[str, ...] = (
    "plain", "resizable", "discardable", "unbounded", "pager", "pager-resizable",
    "slice", "reference", "snapshot", "snapshot-at-least-on-write", "snapshot-modified",
    "contiguous", "physical",
)

INVALID_OP = "invalid op"


def op_label(op: int) -> str:
    """COMMIT, ..., PREFETCH; every op value without a dispatch is one label."""
    name = abi.OP_NAMES.get(op)
    if name is None or op == abi.OP_LOOKUP_HISTORIC:
        return INVALID_OP
    return name.removeprefix("ZX_VMO_OP_")


def status_label(status: int) -> str:
    return abi.STATUS_NAMES.get(status, str(status)).removeprefix("ZX_")


def _ops_in_order() -> list[str]:
    return [op_label(v) for v in sorted(abi.OP_NAMES) if op_label(v) != INVALID_OP] + [
        INVALID_OP]


@dataclass
class Coverage:
    """What a run reached. Counters, so runs can be merged and reported with counts."""

    op_status: Counter[tuple[str, str]] = field(default_factory=Counter)
    calls: Counter[tuple[str, str]] = field(default_factory=Counter)
    kinds: Counter[str] = field(default_factory=Counter)

    def record(self, name: str, kind: str, args: Mapping[str, Any],
               observed: Mapping[str, Any], vmo_kind: str | None) -> None:
        status = observed.get("status")
        label = status_label(status) if isinstance(status, int) else "-"
        self.calls[name, label] += 1
        if name == "vmo_op_range" and isinstance(status, int):
            self.op_status[op_label(args["op"]), label] += 1
        if vmo_kind is not None and status == abi.OK:
            self.kinds[vmo_kind] += 1

    def merge(self, other: Coverage) -> None:
        self.op_status.update(other.op_status)
        self.calls.update(other.calls)
        self.kinds.update(other.kinds)

    def report(self, target: Iterable[tuple[str, str]],
               excluded_kinds: Mapping[str, str] | None = None) -> dict[str, Any]:
        """The coverage section of a fuzz report, against the spec-reachable pairs.
        `excluded_kinds`: kinds the run did not generate on purpose, with the reason."""
        excluded = dict(excluded_kinds or {})
        want = sorted(set(target), key=_pair_key)
        reached = sorted(self.op_status, key=_pair_key)
        calls_reached = sorted({c for c, _ in self.calls})
        return {
            "op_status": {
                "target": "spec-reachable pairs: a sweep of the spec over states built by "
                          "v1 trace prefixes (refinement_tests/coverage.py)",
                "reached": [[o, s, self.op_status[o, s]] for o, s in reached],
                "target_pairs": len(want),
                "reached_of_target": sum(1 for p in want if p in self.op_status),
                "missing": [list(p) for p in want if p not in self.op_status],
                "beyond_target": [list(p) for p in reached if p not in set(want)],
            },
            "calls": {
                "reached": calls_reached,
                "missing": [c for c in CALLS if c not in calls_reached],
                "statuses": {c: sorted({s for cc, s in self.calls if cc == c})
                             for c in calls_reached},
            },
            "vmo_kinds": {
                "reached": {k: self.kinds[k] for k in VMO_KINDS if self.kinds[k]},
                "missing": [k for k in VMO_KINDS if not self.kinds[k] and k not in excluded],
                "excluded": {k: why for k, why in excluded.items() if not self.kinds[k]},
            },
        }


# --- behavioural coverage ---------------------------------------------------------------------
#
# A cell is (what, target, range): an op of zx_vmo_op_range or a call, the kind of VMO it
# acts on, and the class of its range (refinement_tests/generate.py says how each is
# told, from what the generator believes). Every cell is reachable: any call can name
# any kind of target with any range (the status differs). An effect (a successful
# COMMIT, DECOMMIT, ZERO, write or set_size) counts as observed when a later read of
# the same tree of VMOs overlaps its bytes, or (COMMIT, DECOMMIT, set_size) a later
# ZX_INFO_VMO or get_size looks at it: only then could a wrong effect show. A range of
# size 0 has no effect to observe.

_RANGED = (*[op_label(v) for v in sorted(abi.OP_NAMES) if op_label(v) != INVALID_OP],
           INVALID_OP, "vmo_read", "vmo_write")
_TARGETED = ("vmo_info", "vmo_get_size", "vmo_create_child", "handle_duplicate",
             "handle_close", "reclaim", "pager_supply_pages", "pager_fail")
_EFFECTS = {"COMMIT", "DECOMMIT", "ZERO", "vmo_write", "vmo_set_size"}
_LOOKS_AT_COUNTS = {"COMMIT", "DECOMMIT", "vmo_set_size"}


def behaviour_cells() -> list[tuple[str, str, str]]:
    from refinement_tests.generate import RANGES, SET_SIZES, TARGETS

    cells = [(w, t, r) for w in _RANGED for t in TARGETS for r in RANGES]
    cells += [("vmo_set_size", t, r) for t in TARGETS for r in SET_SIZES]
    cells += [(w, t, "-") for w in _TARGETED for t in TARGETS]
    return cells


@dataclass
class Behaviour:
    """Which behaviour cells a run reached, which effects it made, and which of those
    a later observation could have revealed. Counters, so runs merge."""

    cells: Counter[tuple[str, str, str]] = field(default_factory=Counter)
    effects: Counter[tuple[str, str, str]] = field(default_factory=Counter)
    observed: Counter[tuple[str, str, str]] = field(default_factory=Counter)
    _pending: list[tuple[tuple[str, str, str], int, tuple[int, int] | None]] = field(
        default_factory=list)

    def start(self) -> None:
        """A new trace: nothing of the last one can be observed any more."""
        self._pending.clear()

    def record(self, gs: Any, observed: Mapping[str, Any]) -> None:
        """One step run (a GenStep) and what the backend observed."""
        if gs.target is None:
            return
        name = gs.name
        what = op_label(gs.args["op"]) if name == "vmo_op_range" else name
        cell = (what, gs.target, "-" if what in _TARGETED else gs.range_class or "-")
        self.cells[cell] += 1
        ok = observed.get("status") == abi.OK
        if name in ("vmo_read", "vmo_info", "vmo_get_size") and ok and self._pending:
            keep = []
            for eff, family, span in self._pending:
                if family == gs.family and (
                        (name != "vmo_read" and eff[0] in _LOOKS_AT_COUNTS)
                        or (name == "vmo_read" and span is not None and gs.span is not None
                            and span[0] < gs.span[1] and gs.span[0] < span[1])):
                    self.observed[eff] += 1
                else:
                    keep.append((eff, family, span))
            self._pending[:] = keep
        if what in _EFFECTS and ok and gs.family is not None and cell[2] != "size-0":
            self.effects[cell] += 1
            self._pending.append((cell, gs.family, gs.span))

    def merge(self, other: Behaviour) -> None:
        self.cells.update(other.cells)
        self.effects.update(other.effects)
        self.observed.update(other.observed)

    def report(self) -> dict[str, Any]:
        cells = behaviour_cells()
        missing = [c for c in cells if not self.cells[c]]
        effects = sorted(self.effects)
        unobserved = [c for c in effects if not self.observed[c]]
        return {
            "cells": len(cells),
            "reached": len(cells) - len(missing),
            "missing": [list(c) for c in missing],
            "effects": len(effects),
            "effects_observed": len(effects) - len(unobserved),
            "effects_never_observed": [list(c) for c in unobserved],
        }


def _pair_key(p: tuple[str, str]) -> tuple[int, str]:
    order = _ops_in_order()
    return (order.index(p[0]) if p[0] in order else len(order), p[1])


# --- the spec-reachable (op, status) pairs ----------------------------------------------------

_P = 4096  # the sweep's page size; statuses do not depend on it


def _setups(p: int) -> dict[str, list[tuple[str, dict[str, Any]]]]:
    """Short v1 prefixes, each leaving the handle "t" on the VMO to sweep (and a pager
    handle "pg", where there is one). Each is a trace a user could write."""
    s = 4 * p

    def create(out: str, options: int = 0, size: int = s) -> tuple[str, dict[str, Any]]:
        return ("vmo_create", {"size": size, "options": options, "out": out})

    def op(vmo: str, o: int, offset: int = 0, size: int = s) -> tuple[str, dict[str, Any]]:
        return ("vmo_op_range", {"vmo": vmo, "op": o, "offset": offset, "size": size,
                                 "buffer_size": abi.LOCK_STATE_SIZE if o == abi.OP_LOCK else 0,
                                 "buffer_null": False})

    def child(parent: str, options: int, out: str, size: int = s
              ) -> tuple[str, dict[str, Any]]:
        if options & abi.CHILD_REFERENCE:
            size = 0
        return ("vmo_create_child", {"vmo": parent, "options": options, "offset": 0,
                                     "size": size, "out": out})

    Steps = list[tuple[str, dict[str, Any]]]
    write: tuple[str, dict[str, Any]] = ("vmo_write",
                                         {"vmo": "t", "offset": 0, "data": ((7, 2 * p),)})
    pager: Steps = [("pager_create", {"out": "pg"}),
             ("pager_create_vmo", {"pager": "pg", "options": 0, "size": s, "out": "t"})]

    def fail(code: int) -> tuple[str, dict[str, Any]]:
        return ("pager_fail", {"pager": "pg", "vmo": "t", "offset": 0, "length": s,
                               "error": code})

    d = abi.VMO_DISCARDABLE
    out: dict[str, Steps] = {
        "plain": [create("t")],
        "plain written": [create("t"), write],
        "resizable": [create("t", abi.VMO_RESIZABLE), write],
        "unbounded": [create("t", abi.VMO_UNBOUNDED)],
        "discardable unset": [create("t", d)],
        "discardable locked": [create("t", d), op("t", abi.OP_LOCK)],
        "discardable unlocked": [create("t", d), op("t", abi.OP_LOCK), op("t", abi.OP_UNLOCK)],
        "discardable discarded": [create("t", d), op("t", abi.OP_LOCK), write,
                                  op("t", abi.OP_UNLOCK), ("reclaim", {"vmo": "t"})],
        "pager": [*pager],
        "pager resizable": [("pager_create", {"out": "pg"}),
                            ("pager_create_vmo", {"pager": "pg", "options": abi.VMO_RESIZABLE,
                                                  "size": s, "out": "t"})],
        "pager detached": [*pager, ("handle_close", {"handle": "pg"})],
        "pager supplied": [*pager, ("pager_supply_pages", {"pager": "pg", "vmo": "t",
                                                           "offset": 0, "length": s})],
        "slice": [create("r"), child("r", abi.CHILD_SLICE, "t", 2 * p)],
        "reference": [create("r"), child("r", abi.CHILD_REFERENCE, "t")],
        "snapshot": [create("r"), child("r", abi.CHILD_SNAPSHOT, "t")],
        "with snapshot child": [create("t"), child("t", abi.CHILD_SNAPSHOT, "c")],
        "pager slice": [*pager[:1], ("pager_create_vmo", {"pager": "pg", "options": 0,
                                                          "size": s, "out": "r"}),
                        child("r", abi.CHILD_SLICE, "t", 2 * p)],
        "pager at-least-on-write": [
            *pager[:1], ("pager_create_vmo", {"pager": "pg", "options": 0, "size": s,
                                              "out": "r"}),
            child("r", abi.CHILD_SNAPSHOT_AT_LEAST_ON_WRITE, "t")],
    }
    for code in sorted(abi.PAGER_FAIL_STATUSES):
        out[f"pager failing {status_label(code)}"] = [*pager, fail(code)]
        out[f"pager reference failing {status_label(code)}"] = [
            *pager[:1], ("pager_create_vmo", {"pager": "pg", "options": 0, "size": s,
                                              "out": "r"}),
            child("r", abi.CHILD_REFERENCE, "t"),
            ("pager_fail", {"pager": "pg", "vmo": "r", "offset": 0, "length": s,
                            "error": code})]
    return out


def _run_prefix(profile: Profile, p: int, config: dict[str, bool],
                steps: list[tuple[str, dict[str, Any]]]) -> State:
    v = Concrete(p)
    st = EMPTY_STATE
    for name, args in steps:

        def run(cx: Cx, st: State = st, name: str = name, args: Any = args) -> Outcome:
            return transition(cx, st, name, args)

        paths = explore(run, v, profile, p, config)
        st = paths[-1].result.state  # the last choice: reclaim discards, COMMIT succeeds
    return st


def _sweep_values(p: int, s: int) -> list[int]:
    u = abi.U64_MAX
    return sorted({0, 1, p - 1, p, p + 1, s - p, s - 1, s, s + 1, s + p, 1 << 63, u, u - p + 1})


@functools.cache
def spec_reachable(profile_name: str = "zircon-2025", page: int = _P) -> frozenset[
        tuple[str, str]]:
    """Every (op label, status label) the spec produces on the sweep (see module doc).

    The sweep explores some 300,000 steps (over a second); its result is remembered in
    a file under the user's cache directory, named by a digest of everything it is
    computed from (the spec's code, this module, the profile and the page size), so a
    change to any of them computes it afresh."""
    path = _cache_dir() / f"reachable-{_sweep_digest(profile_name, page)}.json"
    try:
        return frozenset((op, status) for op, status in json.loads(path.read_text()))
    except (OSError, ValueError, TypeError):
        pass
    found = _sweep(profile_name, page)
    with contextlib.suppress(OSError):  # an unwritable cache only costs the next run
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
        tmp.write_text(json.dumps(sorted(found)))
        os.replace(tmp, path)
    return found


_ROOT = Path(__file__).resolve().parent.parent


def _cache_dir() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "vmospec"


def _sweep_digest(profile_name: str, page: int) -> str:
    h = hashlib.sha256(f"{profile_name} {page}\n".encode())
    for path in sorted([*(_ROOT / "spec").rglob("*.py"), Path(__file__).resolve()]):
        h.update(f"{path.relative_to(_ROOT)}\n".encode())
        h.update(path.read_bytes())
    return h.hexdigest()[:32]


def _sweep(profile_name: str, page: int) -> frozenset[tuple[str, str]]:
    profile = PROFILES[profile_name]
    p = page
    s = 4 * p
    found: set[tuple[str, str]] = set()
    ops = [*sorted(abi.OP_NAMES), 0, 15, 0xFFFFFFFF]
    values = _sweep_values(p, s)
    small = [0, 1, p, s, s + 1, abi.U64_MAX]
    rights_cut = (0, abi.RIGHT_WRITE, abi.RIGHT_READ, abi.RIGHT_READ | abi.RIGHT_WRITE)
    for config in ({"debugging_syscalls": False, "page_loaning": False},
                   {"debugging_syscalls": True, "page_loaning": False}):
        v = Concrete(p)
        for steps in _setups(p).values():
            base = _run_prefix(profile, p, config, steps)
            for cut in rights_cut:
                st = base
                handle = "t"
                if cut:
                    h = st.handles["t"]
                    rights = h.rights & ~cut if isinstance(h.rights, int) else h.rights
                    st = st.with_handle("t-", type(h)(h.obj, rights))
                    handle = "t-"
                grid = values if not cut else small
                for name in (handle, "pg", "nobody") if not cut else (handle,):
                    for op in ops:
                        if name != handle and op != abi.OP_COMMIT:
                            continue  # BAD_HANDLE/WRONG_TYPE: one op shows the rung
                        for off in grid:
                            for size in grid:
                                for bs, bn in _buffers(op):
                                    args = {"vmo": name, "op": op, "offset": off,
                                            "size": size, "buffer_size": bs, "buffer_null": bn}

                                    def run(cx: Cx, st: State = st,
                                            args: dict[str, Any] = args) -> Outcome:
                                        return transition(cx, st, "vmo_op_range", args)

                                    for path in explore(run, v, profile, p, config):
                                        status = path.result.status
                                        if status != ANY_ERROR:
                                            found.add((op_label(op), status_label(status)))
    # BAD_HANDLE and WRONG_TYPE come before any op-specific rung: every op has them.
    for op in ops:
        for status in (abi.ERR_BAD_HANDLE, abi.ERR_WRONG_TYPE):
            found.add((op_label(op), status_label(status)))
    return frozenset(found)


def _buffers(op: int) -> list[tuple[int, bool]]:
    if op == abi.OP_LOCK:
        return [(abi.LOCK_STATE_SIZE, False), (abi.LOCK_STATE_SIZE, True), (8, False)]
    return [(0, False)]
