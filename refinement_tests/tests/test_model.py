"""The concrete model (model/) against the example traces, and its own machinery: frame
accounting, copy-on-write isolation, the shared zero page, the pager, the cost of huge
VMOs, and the broken variants."""

from __future__ import annotations

import ast
import itertools
import json
import random
import time
from collections.abc import Iterable, Mapping
from functools import cache
from pathlib import Path
from typing import Any

import pytest

from model import VARIANTS, Kernel
from refinement_tests.trace import Trace, parse_trace_text, read_trace
from spec import abi

ROOT = Path(__file__).parent.parent.parent
EXAMPLES = sorted((ROOT / "refinement_tests" / "traces" / "examples").glob("*.jsonl"))
P = 4096


# --- replaying traces --------------------------------------------------------------------------


@cache
def _trace(path: Path) -> Trace:
    return read_trace(path)


def _mismatches(expect: Mapping[str, Any], out: Mapping[str, Any]) -> list[str]:
    """Every recorded outcome field the model's outcome does not match."""
    bad: list[str] = []
    for key, want in expect.items():
        got = out.get(key)
        if key == "status":
            ok = isinstance(got, int) and want.accepts(got)
        elif key == "flags":  # the listed flags must be set
            ok = isinstance(got, int) and got & want == want
        elif key == "lock_state":  # the listed keys must be equal
            ok = isinstance(got, dict) and all(got.get(k) == v for k, v in want.items())
        else:
            ok = got == want
        if not ok:
            bad.append(f"{key}: model {got!r}, trace {want!r}")
    return bad


def replay(trace: Trace, broken: Iterable[str] = ()) -> list[str]:
    """Runs the trace on a fresh model; the divergences, as 'line N name: what'."""
    kernel = Kernel(trace.header.page_size, config=trace.header.config, broken=frozenset(broken))
    found: list[str] = []
    for step in trace.steps:
        out = kernel.step(step.name, step.args)
        if step.kind == "call":
            assert isinstance(out.get("status"), int), f"line {step.line}: no status"
        for m in _mismatches(step.expect, out):
            found.append(f"line {step.line} {step.name}: {m}")
    return found


def test_there_are_examples() -> None:
    assert len(EXAMPLES) >= 10


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.name)
def test_example_replays_on_the_model(path: Path) -> None:
    assert replay(_trace(path)) == []


# Small traces for behaviour the examples leave unasserted (each is a model decision or a
# check a variant must fail). Built as trace lines so the same replay judges them.
HEADER: dict[str, Any] = {"vmo_trace": 1, "page_size": P}


def _call(name: str, status: str = "ZX_OK", **fields: Any) -> dict[str, Any]:
    return {"call": name, **fields, "status": status}


def _op(vmo: str, op: str, offset: int, size: int) -> dict[str, Any]:
    return _call("vmo_op_range", vmo=vmo, op=op, offset=offset, size=size)


def _info(vmo: str, committed: int) -> dict[str, Any]:
    return _call("vmo_info", vmo=vmo, committed_bytes=committed)


SCENARIOS: dict[str, list[dict[str, Any]]] = {
    "always_need_protects_from_reclaim": [
        _call("pager_create", out="p"),
        _call("pager_create_vmo", pager="p", options=[], size=3 * P, out="v"),
        _op("v", "ZX_VMO_OP_ALWAYS_NEED", 0, P),
        _call("vmo_read", vmo="v", offset=P, length=2 * P, data=[[2, P], [3, P]]),
        _call("vmo_write", vmo="v", offset=2 * P, data="ff"),
        _info("v", 3 * P),
        # Page 0 is ALWAYS_NEED, page 2 is dirty: only page 1 is evicted.
        {"event": "reclaim", "vmo": "v", "discarded": False, "evicted_bytes": P},
        _info("v", 2 * P),
        _call(
            "vmo_read",
            vmo="v",
            offset=0,
            length=3 * P,
            data=[[1, P], [2, P], [255, 1], [3, P - 1]],
        ),
    ],
    # info.attribution.2025: committed_bytes counts every page a VMO sees, shared or not
    "snapshot_child_sees_shared_pages": [
        _call("vmo_create", size=2 * P, options=[], out="a"),
        _call("vmo_write", vmo="a", offset=0, data=[[1, 2 * P]]),
        _call(
            "vmo_create_child",
            vmo="a",
            options=["ZX_VMO_CHILD_SNAPSHOT"],
            offset=0,
            size=2 * P,
            out="c",
        ),
        _info("c", 2 * P),
        _info("a", 2 * P),
        _call("vmo_write", vmo="c", offset=0, data="02"),
        _info("c", 2 * P),
        _info("a", 2 * P),
        _op("c", "ZX_VMO_OP_ZERO", P, P),
        _info("c", P),
        _info("a", 2 * P),
        _call("vmo_read", vmo="a", offset=P, length=1, data="01"),
    ],
    "zero_through_a_slice_at_a_page_offset": [
        _call("vmo_create", size=3 * P, options=[], out="a"),
        _call("vmo_write", vmo="a", offset=0, data=[[1, 3 * P]]),
        _call("vmo_create_child", vmo="a", options=["ZX_VMO_CHILD_SLICE"], offset=P,
              size=2 * P, out="s"),
        _op("s", "ZX_VMO_OP_ZERO", 0, P),  # the parent's page 1, not its page 0
        _call("vmo_read", vmo="a", offset=0, length=3 * P, data=[[1, P], [0, P], [1, P]]),
    ],
}


@cache
def _scenario(name: str) -> Trace:
    lines = [HEADER, *SCENARIOS[name]]
    return parse_trace_text("\n".join(json.dumps(line) for line in lines), name)


@pytest.mark.parametrize("name", sorted(SCENARIOS))
def test_scenario_replays_on_the_model(name: str) -> None:
    assert replay(_scenario(name)) == []


# --- broken variants -------------------------------------------------------------------------


def test_variant_catalogue() -> None:
    assert len(VARIANTS) >= 15
    assert all(isinstance(v, str) and v for v in VARIANTS.values())
    with pytest.raises(ValueError, match="unknown broken variant"):
        Kernel(broken=frozenset({"no_such_variant"}))


@pytest.mark.parametrize("variant", sorted(VARIANTS))
def test_variant_is_caught(variant: str) -> None:
    """Each broken behaviour makes some example or scenario diverge."""
    traces = [_trace(p) for p in EXAMPLES] + [_scenario(n) for n in sorted(SCENARIOS)]
    assert any(replay(t, {variant}) for t in traces), f"nothing catches {variant}"


# --- the machinery -----------------------------------------------------------------------------


class K:
    """A kernel with short call syntax for the unit tests."""

    def __init__(self, frames: int = 1 << 20, **config: bool) -> None:
        self.k = Kernel(P, frames=frames, config=config)

    def __call__(self, name: str, **args: Any) -> dict[str, Any]:
        if name == "vmo_op_range":
            args.setdefault("buffer_size", abi.LOCK_STATE_SIZE if args["op"] == abi.OP_LOCK else 0)
            args.setdefault("buffer_null", False)
        return self.k.step(name, args)

    def ok(self, name: str, **args: Any) -> dict[str, Any]:
        out = self(name, **args)
        assert out["status"] == abi.OK, (name, args, out)
        return out

    def op(self, vmo: str, op: int, offset: int, size: int) -> int:
        status: int = self("vmo_op_range", vmo=vmo, op=op, offset=offset, size=size)["status"]
        return status

    def read(self, vmo: str, offset: int, length: int) -> tuple[tuple[int, int], ...]:
        data: tuple[tuple[int, int], ...] = self.ok(
            "vmo_read", vmo=vmo, offset=offset, length=length
        )["data"]
        return data

    def committed(self, vmo: str) -> int:
        value: int = self.ok("vmo_info", vmo=vmo)["committed_bytes"]
        return value

    @property
    def used(self) -> int:
        return self.k.pool.used


def test_frame_accounting() -> None:
    k = K()
    k.ok("vmo_create", size=4 * P, options=0, out="a")
    assert k.used == 0
    k.ok("vmo_write", vmo="a", offset=P - 1, data=((7, 2),))  # touches pages 0 and 1
    assert k.used == 2 and k.committed("a") == 2 * P
    assert k.op("a", abi.OP_COMMIT, 0, 4 * P) == abi.OK
    assert k.used == 4 and k.committed("a") == 4 * P
    assert k.op("a", abi.OP_DECOMMIT, 0, 2 * P) == abi.OK
    assert k.used == 2 and k.committed("a") == 2 * P
    k.ok("handle_duplicate", handle="a", rights=abi.RIGHT_SAME_RIGHTS, out="b")
    k.ok("handle_close", handle="a")
    assert k.used == 2  # still held by b
    k.ok("handle_close", handle="b")
    assert k.used == 0  # the VMO died with its last handle and returned its frames


def test_no_memory_changes_nothing() -> None:
    k = K(frames=2)
    k.ok("vmo_create", size=4 * P, options=0, out="a")
    assert k.op("a", abi.OP_COMMIT, 0, 3 * P) == abi.ERR_NO_MEMORY
    assert k.used == 0 and k.committed("a") == 0
    assert k("vmo_write", vmo="a", offset=0, data=((1, 3 * P),))["status"] == abi.ERR_NO_MEMORY
    assert k.used == 0 and k.read("a", 0, 4 * P) == ((0, 4 * P),)
    k.ok("vmo_write", vmo="a", offset=0, data=((1, 2 * P),))
    assert k.used == 2
    # A snapshot child must fork a page to zero part of it: no frame left.
    k.ok("vmo_create_child", vmo="a", options=abi.CHILD_SNAPSHOT, offset=0, size=4 * P, out="c")
    assert k.op("c", abi.OP_ZERO, 10, 10) == abi.ERR_NO_MEMORY
    assert k.read("c", 0, P) == ((1, P),)
    # Whole pages of a clone are zeroed with no frame at all.
    assert k.op("c", abi.OP_ZERO, 0, P) == abi.OK
    assert k.read("c", 0, 2 * P) == ((0, P), (1, P)) and k.used == 2
    k.ok("handle_close", handle="c")
    k.ok("handle_close", handle="a")
    assert k.used == 0


def test_cow_isolation() -> None:
    k = K()
    k.ok("vmo_create", size=4 * P, options=0, out="a")
    k.ok("vmo_write", vmo="a", offset=0, data=((1, 4 * P),))
    k.ok("vmo_create_child", vmo="a", options=abi.CHILD_SNAPSHOT, offset=0, size=4 * P, out="c")
    assert k.used == 4  # the snapshot shares every frame
    k.ok("vmo_write", vmo="a", offset=P, data=((2, 10),))
    k.ok("vmo_write", vmo="c", offset=2 * P, data=((3, 10),))
    assert k.used == 6  # each side forked the one page it wrote
    assert k.read("c", P, 10) == ((1, 10),)  # the parent's write is not seen
    assert k.read("a", 2 * P, 10) == ((1, 10),)  # the child's write is not seen
    # A snapshot of the snapshot, then the middle generation goes away.
    k.ok("vmo_create_child", vmo="c", options=abi.CHILD_SNAPSHOT, offset=P, size=2 * P, out="g")
    k.ok("vmo_write", vmo="c", offset=2 * P, data=((4, 1),))
    assert k.read("g", P, 2) == ((3, 2),)
    k.ok("handle_close", handle="c")
    k.ok("handle_close", handle="a")
    assert k.read("g", 0, 2 * P) == ((1, P), (3, 10), (1, P - 10))
    assert k.used == 2 and k.committed("g") == 2 * P  # merged down into the survivor
    assert k.op("g", abi.OP_DECOMMIT, 0, P) == abi.OK  # no parent any more
    k.ok("handle_close", handle="g")
    assert k.used == 0


def test_zero_page_sharing() -> None:
    k = K()
    k.ok("vmo_create", size=64 * P, options=0, out="a")
    assert k.read("a", 0, 64 * P) == ((0, 64 * P),)
    assert k.op("a", abi.OP_ZERO, 0, 64 * P) == abi.OK
    assert k.op("a", abi.OP_ZERO, 100, 5) == abi.OK  # already zero: nothing to write
    assert k.used == 0 and k.committed("a") == 0
    k.ok("vmo_create_child", vmo="a", options=abi.CHILD_SNAPSHOT, offset=0, size=64 * P, out="c")
    assert k.read("c", 0, 64 * P) == ((0, 64 * P),) and k.used == 0
    k.ok("vmo_write", vmo="a", offset=0, data=((0, P),))  # written zeros take a real frame
    assert k.used == 1 and k.committed("a") == P
    assert k.op("a", abi.OP_COMMIT, P, P) == abi.OK  # COMMIT never uses the zero page
    assert k.used == 2


def test_pager_content_failures_and_detach() -> None:
    k = K()
    k.ok("pager_create", out="p")
    k.ok("pager_create_vmo", pager="p", options=0, size=300 * P, out="v")
    assert k.read("v", 255 * P, 2 * P) == ((0, P), (1, P))  # page n holds (n + 1) % 256
    k.ok("pager_fail", pager="p", vmo="v", offset=0, length=2 * P, error=abi.ERR_IO)
    assert k("vmo_read", vmo="v", offset=P, length=1)["status"] == abi.ERR_IO
    assert k.read("v", 0, 2 * P) == ((1, P), (2, P))  # failed once, then supplied
    k.ok("handle_close", handle="p")
    assert k.op("v", abi.OP_COMMIT, 2 * P, P) == abi.ERR_BAD_STATE  # detached source


def test_discard_frees_frames() -> None:
    k = K()
    k.ok("vmo_create", size=2 * P, options=abi.VMO_DISCARDABLE, out="d")
    k.ok("vmo_write", vmo="d", offset=0, data=((5, 2 * P),))
    assert k.op("d", abi.OP_TRY_LOCK, 0, 2 * P) == abi.OK
    assert k.op("d", abi.OP_UNLOCK, 0, 2 * P) == abi.OK
    assert k("reclaim", vmo="d") == {"discarded": True, "evicted_bytes": 2 * P}
    assert k.used == 0 and k("vmo_read", vmo="d", offset=0, length=1)["status"] == abi.ERR_NOT_FOUND


def test_huge_vmo_is_cheap() -> None:
    """Cost follows the work: the same calls on a 2^40-byte VMO and a 16-page one."""

    def run(size: int) -> float:
        k = K()
        start = time.perf_counter()
        k.ok("vmo_create", size=size, options=abi.VMO_RESIZABLE, out="h")
        k.ok("vmo_write", vmo="h", offset=size - 3, data=((9, 3),))
        k.ok("vmo_write", vmo="h", offset=0, data=((8, 5),))
        assert k.read("h", 0, size) == ((8, 5), (0, size - 8), (9, 3))
        committed = abi.OK if size <= 16 * P else abi.ERR_NO_MEMORY
        assert k.op("h", abi.OP_COMMIT, 0, size) == committed
        for op in (abi.OP_CACHE_CLEAN, abi.OP_PREFETCH, abi.OP_DONT_NEED, abi.OP_ALWAYS_NEED):
            assert k.op("h", op, 0, size) == abi.OK
        k.ok("vmo_create_child", vmo="h", options=abi.CHILD_SNAPSHOT, offset=0, size=size, out="c")
        assert k.read("c", size - P, P) == ((0, P - 3), (9, 3))
        assert k.op("c", abi.OP_ZERO, 1, size - 2) == abi.OK
        assert k.read("c", 0, size) == ((8, 1), (0, size - 2), (9, 1))
        k.ok("handle_close", handle="c")
        assert k.op("h", abi.OP_ZERO, 0, size) == abi.OK
        assert k.op("h", abi.OP_DECOMMIT, 0, size) == abi.OK
        k.ok("vmo_set_size", vmo="h", size=size // 2)
        k.ok("vmo_set_size", vmo="h", size=size * 2)
        assert k.committed("h") == 0 and k.used == 0
        return time.perf_counter() - start

    small = run(16 * P)
    huge = run(1 << 40)
    assert huge < 0.5 and huge < 20 * small + 0.05


def test_model_imports_only_spec_abi() -> None:
    """docs/architecture.md: model/ may import spec.abi (numbers) and nothing else of ours."""
    ours = {"spec", "refinement_tests", "proofs", "vmospec"}
    for path in sorted((ROOT / "model").glob("*.py")):
        tree = ast.parse(path.read_text(), str(path))
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom):
                base = node.module or ""
                names = [f"{base}.{a.name}" for a in node.names]
            else:
                continue
            for name in names:
                top = name.split(".")[0]
                if top in ours:
                    assert name == "spec.abi", f"{path.name} imports {name}"


def test_interval_set_matches_a_plain_set() -> None:
    from model.ranges import IntervalSet

    rng = random.Random(7)
    iv, plain = IntervalSet(), set[int]()
    for _ in range(3000):
        a = rng.randrange(0, 60)
        b = a + rng.randrange(0, 12)
        if rng.random() < 0.6:
            iv.add(a, b)
            plain.update(range(a, b))
        else:
            iv.remove(a, b)
            plain.difference_update(range(a, b))
        assert all(iv.contains(x) == (x in plain) for x in range(-1, 75))
        parts = list(iv)
        assert all(s < e for s, e in parts)
        assert all(e1 < s2 for (_, e1), (s2, _) in itertools.pairwise(parts))
        lo, hi = sorted((rng.randrange(0, 75), rng.randrange(0, 75)))
        inside = {x for s, e in iv.within(lo, hi) for x in range(s, e)}
        assert inside == {x for x in plain if lo <= x < hi}
