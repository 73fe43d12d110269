"""Other implementations as profiles (docs/kernel-facts.md, the `zcore.`, `eclipse.` and
`sel4zircon.` facts): each profile's facts against what `vmospec diff zircon-2025
<profile>` finds, in both directions, and the stated examples replayed as traces under
both profiles.
"""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path

import pytest

from proofs.diff import DiffResult, citations, diff
from proofs.diff import write_traces as write_diff
from proofs.prover import Obligation
from refinement_tests.checker import check_trace
from refinement_tests.trace import parse_trace_text, read_trace
from spec import op_range, overrides
from spec.outcome import PANIC, status_name
from spec.profiles import PROFILES, ZIRCON_2023, ZIRCON_2025
from spec.sources import FACTS
from vmospec.cli import main
from vmospec.hunt_cmd import write_trace_file


def _facts(name: str) -> set[str]:
    return {i for i in FACTS if i.startswith(name + ".")}


# The facts each implementation profile rests on, read from the registry (not from the
# diff): eclipse is zCore but for its own facts and zCore's panics. Background facts are
# those no vmo-trace v1 step status can show (no call creates a physical or contiguous
# VMO; the same outcome as zircon-2025); notes/implementations.md says why.
NOT_IN_A_STEP_STATUS = {i for i, f in FACTS.items() if f.background}
STATED = {
    "zcore": _facts("zcore"),
    "eclipse": (_facts("zcore") - {"zcore.unimplemented.panic"}) | _facts("eclipse"),
    "sel4zircon": _facts("sel4zircon"),
}
IMPLEMENTATIONS = sorted(STATED)


@cache
def _diff(name: str) -> DiffResult:
    return diff("zircon-2025", name)


@pytest.mark.parametrize("name", IMPLEMENTATIONS)
def test_every_stated_item_is_found(name: str) -> None:
    found = {item for d in _diff(name).classes for item in d.items}
    expected = STATED[name] - set(NOT_IN_A_STEP_STATUS)
    assert expected - found == set(), f"{name}: stated items the diff did not find"
    # and the ones a step's status cannot show are not claimed either
    assert found & set(NOT_IN_A_STEP_STATUS) == set()


@pytest.mark.parametrize("name", IMPLEMENTATIONS)
def test_every_class_is_a_stated_item(name: str) -> None:
    res = _diff(name)
    assert res.classes
    for d in res.classes:
        assert d.items, f"{name}: nothing stated explains {d.summary()}"
        assert set(d.items) <= STATED[name], d.summary()
    # one class per key
    assert len({d.key for d in res.classes}) == len(res.classes)


@pytest.mark.parametrize("name", IMPLEMENTATIONS)
def test_witnesses_replay(name: str, tmp_path: Path) -> None:
    """Each witness is recorded under zircon-2025: it conforms there and diverges under
    the implementation at its last step, with the implementation's own outcome."""
    res = _diff(name)
    write_diff(res, tmp_path, write_trace_file)
    for d in res.classes:
        assert d.trace is not None
        trace = read_trace(d.trace)
        assert check_trace(trace, ZIRCON_2025).conforms, d.summary()
        r = check_trace(trace, PROFILES[name])
        assert r.divergence is not None, d.summary()
        assert r.divergence.step == trace.steps[-1].index, d.summary()
        impl = {status_name(p.result.status) for p in d.outcomes_b}
        assert {a["status"] for a in r.divergence.allowed} == impl, d.summary()


def test_a_panic_witness_recorded_under_zcore_has_no_status(tmp_path: Path) -> None:
    res = diff("zcore", "zircon-2025", steps={"LOCK", "CACHE_SYNC"})
    panics = [d for d in res.classes if d.id.endswith("-panic-vs-any")]
    assert {d.step for d in panics} == {"LOCK", "CACHE_SYNC"}
    write_diff(res, tmp_path, write_trace_file)
    for d in panics:
        assert {p.result.status for p in d.witness.outcomes("zcore")} == {PANIC}
        assert PANIC not in {p.result.status for p in d.witness.outcomes("zircon-2025")}
        assert d.trace is not None
        last = json.loads(Path(d.trace).read_text().splitlines()[-1])
        assert "status" not in last and "panics here" in last["note"]
        assert check_trace(read_trace(d.trace), PROFILES["zcore"]).conforms


def test_citations_are_the_implementation_ids_a_rule_cites() -> None:
    assert citations("zcore.op_range.decode_first, zcore.try_lock.undecoded") == [
        "zcore.op_range.decode_first", "zcore.try_lock.undecoded"]
    assert citations("page.errors.out_of_range, commit.bounds") == []
    assert citations("eclipse.cache.rights, sel4zircon.cache.size0_ok") == [
        "eclipse.cache.rights", "sel4zircon.cache.size0_ok"]


# ----------------------------------------------------------------------------------------
# The stated examples of the implementation facts, as traces: (setup, step, status
# under the implementation, status under zircon-2025).
# ----------------------------------------------------------------------------------------

P = 4096
ANON = [{"call": "vmo_create", "size": P, "options": [], "out": "a"}]
SLICE = [{"call": "vmo_create", "size": 2 * P, "options": [], "out": "a"},
         {"call": "vmo_create_child", "vmo": "a", "options": ["ZX_VMO_CHILD_SLICE"],
          "offset": P, "size": P, "out": "a_slice"}]
NO_RW = [*ANON, {"call": "handle_duplicate", "handle": "a", "rights": ["ZX_RIGHT_MAP"],
                 "out": "a_none"}]
READ_ONLY = [*ANON, {"call": "handle_duplicate", "handle": "a", "rights": ["ZX_RIGHT_READ"],
                     "out": "a_ro"}]


def _op(op: str | int, offset: int, size: int, vmo: str = "a") -> dict[str, object]:
    return {"call": "vmo_op_range", "vmo": vmo, "op": op, "offset": offset, "size": size}


ZCORE_EXAMPLES = [
    ("zcore.op_range.decode_first",
     [], _op(15, 0, 0, "$invalid"), "ZX_ERR_INVALID_ARGS", "ZX_ERR_BAD_HANDLE"),
    ("zcore.hints.undecoded",
     ANON, _op("ZX_VMO_OP_DONT_NEED", 0, P), "ZX_ERR_INVALID_ARGS", "ZX_OK"),
    ("zcore.try_lock.undecoded", ANON, _op("ZX_VMO_OP_TRY_LOCK", 0, P), "ZX_ERR_INVALID_ARGS",
     "ZX_ERR_NOT_SUPPORTED"),
    ("zcore.prefetch.undecoded",
     ANON, _op("ZX_VMO_OP_PREFETCH", 0, P), "ZX_ERR_INVALID_ARGS", "ZX_OK"),
    ("zcore.range.aligned", ANON, _op("ZX_VMO_OP_COMMIT", 0, 1), "ZX_ERR_INVALID_ARGS", "ZX_OK"),
    ("zcore.range.unbounded",
     ANON, _op("ZX_VMO_OP_COMMIT", 0x2000, 0x1000), "ZX_OK", "ZX_ERR_OUT_OF_RANGE"),
    ("zcore.range.unbounded",
     ANON, _op("ZX_VMO_OP_COMMIT", 0x10000, 0), "ZX_OK", "ZX_ERR_OUT_OF_RANGE"),
    ("zcore.range.unbounded", ANON, _op("ZX_VMO_OP_DECOMMIT", 0x10000, 0x1000), "ZX_OK",
     "ZX_ERR_OUT_OF_RANGE"),
    ("zcore.zero.upfront_bounds",
     ANON, _op("ZX_VMO_OP_ZERO", P + 0x1000, 0), "ZX_ERR_OUT_OF_RANGE", "ZX_OK"),
    ("zcore.zero.slice_off_by_one",
     SLICE, _op("ZX_VMO_OP_ZERO", 0, P, "a_slice"), "ZX_ERR_OUT_OF_RANGE",
     "ZX_OK"),
    ("zcore.zero.wraps", ANON, _op("ZX_VMO_OP_ZERO", 2**64 - 1, 2), "ZX_OK", "ZX_ERR_OUT_OF_RANGE"),
    ("zcore.create.resizable_only",
     [], {"call": "vmo_create", "size": P, "options": ["ZX_VMO_DISCARDABLE"],
                      "out": "d"}, "ZX_ERR_INVALID_ARGS", "ZX_OK"),
]
ECLIPSE_EXAMPLES = [
    ("eclipse.cache.checked_noop",
     ANON, _op("ZX_VMO_OP_CACHE_SYNC", 0, 0), "ZX_OK", "ZX_ERR_INVALID_ARGS"),
    ("eclipse.cache.no_gate",
     ANON, _op("ZX_VMO_OP_CACHE_INVALIDATE", 0, P), "ZX_OK", "ZX_ERR_NOT_SUPPORTED"),
    ("eclipse.cache.rights", READ_ONLY, _op("ZX_VMO_OP_CACHE_INVALIDATE", 0, P, "a_ro"),
     "ZX_ERR_ACCESS_DENIED", "ZX_ERR_NOT_SUPPORTED"),
    ("eclipse.lock.not_supported",
     NO_RW, _op("ZX_VMO_OP_LOCK", 0, P, "a_none"), "ZX_ERR_NOT_SUPPORTED",
     "ZX_ERR_ACCESS_DENIED"),
    # zCore's items hold for eclipse too
    *(e for e in ZCORE_EXAMPLES if e[0] != "zcore.unimplemented.panic"),
]


SEL4_EXAMPLES = [
    ("sel4zircon.rights.write_all",
     READ_ONLY, _op("ZX_VMO_OP_CACHE_SYNC", 0, P, "a_ro"), "ZX_ERR_ACCESS_DENIED",
     "ZX_OK"),
    ("sel4zircon.rights.write_all",
     READ_ONLY, _op("ZX_VMO_OP_DONT_NEED", 0, P, "a_ro"), "ZX_ERR_ACCESS_DENIED",
     "ZX_OK"),
    ("sel4zircon.op_range.bounds_first",
     ANON, _op(99, 0, 2 * P), "ZX_ERR_OUT_OF_RANGE", "ZX_ERR_INVALID_ARGS"),
    ("sel4zircon.op_range.overflow_first",
     [], _op("ZX_VMO_OP_COMMIT", 2**64 - 1, 2, "$invalid"), "ZX_ERR_OUT_OF_RANGE",
     "ZX_ERR_BAD_HANDLE"),
    ("sel4zircon.zero.invalid_args",
     ANON, _op("ZX_VMO_OP_ZERO", 0, P), "ZX_ERR_INVALID_ARGS", "ZX_OK"),
    ("sel4zircon.op5.not_supported",
     ANON, _op(5, 0, P), "ZX_ERR_NOT_SUPPORTED", "ZX_ERR_INVALID_ARGS"),
    ("sel4zircon.lock.not_supported",
     [{"call": "vmo_create", "size": P, "options": ["ZX_VMO_DISCARDABLE"],
                  "out": "a"}], _op("ZX_VMO_OP_LOCK", 0, P), "ZX_ERR_NOT_SUPPORTED", "ZX_OK"),
    ("sel4zircon.cache.size0_ok",
     ANON, _op("ZX_VMO_OP_CACHE_CLEAN", 0, 0), "ZX_OK", "ZX_ERR_INVALID_ARGS"),
    ("sel4zircon.decommit.rounds_out",
     ANON, _op("ZX_VMO_OP_DECOMMIT", 0x800, 0x100), "ZX_OK", "ZX_ERR_INVALID_ARGS"),
    ("sel4zircon.op_range.undecoded",
     ANON, _op("ZX_VMO_OP_ALWAYS_NEED", 0, P), "ZX_ERR_INVALID_ARGS", "ZX_OK"),
]


def _trace(steps: list[dict[str, object]]) -> str:
    head = {"vmo_trace": 1, "page_size": P}
    return "\n".join(json.dumps(s) for s in [head, *steps]) + "\n"


@pytest.mark.parametrize(("name", "example"), [
    *(("zcore", e) for e in ZCORE_EXAMPLES), *(("eclipse", e) for e in ECLIPSE_EXAMPLES),
    *(("sel4zircon", e) for e in SEL4_EXAMPLES)],
    ids=lambda x: x if isinstance(x, str) else x[0])
def test_stated_example(name: str, example: tuple[str, list[dict[str, object]],
                                                  dict[str, object], str, str]) -> None:
    item, setup, step, status_impl, status_zircon = example
    impl = _trace([*setup, {**step, "status": status_impl}])
    zircon = _trace([*setup, {**step, "status": status_zircon}])
    assert check_trace(parse_trace_text(impl, item), PROFILES[name]).conforms, item
    assert check_trace(parse_trace_text(zircon, item), ZIRCON_2025).conforms, item
    assert not check_trace(parse_trace_text(zircon, item), PROFILES[name]).conforms, item


@pytest.mark.parametrize("op", ["ZX_VMO_OP_LOCK", "ZX_VMO_OP_UNLOCK", "ZX_VMO_OP_CACHE_SYNC",
                                "ZX_VMO_OP_CACHE_CLEAN_INVALIDATE"])
def test_zcore_panics_whatever_the_rights(op: str) -> None:
    """zcore.unimplemented.panic: no status comes back, so no recorded status conforms
    under zcore."""
    for setup, h in ((ANON, "a"), (NO_RW, "a_none")):
        for status in ("ZX_OK", "ZX_ERR_NOT_SUPPORTED", "ZX_ERR_ACCESS_DENIED",
                       "ZX_ERR_INVALID_ARGS"):
            t = _trace([*setup, {**_op(op, 0, P, h), "status": status}])
            assert not check_trace(parse_trace_text(t, op), PROFILES["zcore"]).conforms
        # unchecked (as a runner would record a crash): it conforms
        t = _trace([*setup, _op(op, 0, P, h)])
        assert check_trace(parse_trace_text(t, op), PROFILES["zcore"]).conforms


def test_zcore_zero_checks_before_zeroing() -> None:
    """zcore.zero.upfront_bounds: ZERO(S-0x800, 0x1000) fails with nothing changed under
    zCore, where
    zircon-2025 zeroes [S-0x800, S) first. Same status: a trace shows it by a read."""
    def trace(tail_byte: int) -> str:
        return _trace([
            *ANON,
            {"call": "vmo_write", "vmo": "a", "offset": 0, "data": [[7, P]], "status": "ZX_OK"},
            {**_op("ZX_VMO_OP_ZERO", P - 0x800, 0x1000), "status": "ZX_ERR_OUT_OF_RANGE"},
            {"call": "vmo_read", "vmo": "a", "offset": P - 1, "length": 1, "status": "ZX_OK",
             "data": [[tail_byte, 1]]},
        ])
    assert check_trace(parse_trace_text(trace(7), "zcore"), PROFILES["zcore"]).conforms
    assert not check_trace(parse_trace_text(trace(7), "zcore"), ZIRCON_2025).conforms
    assert check_trace(parse_trace_text(trace(0), "2025"), ZIRCON_2025).conforms


def test_kinds_and_default_prove_set(capsys: pytest.CaptureFixture[str],
                                     monkeypatch: pytest.MonkeyPatch) -> None:
    kinds = {p.name: p.kind for p in PROFILES.values()}
    assert kinds == {"doc": "doc", "zircon-2023": "era", "zircon-2024": "era",
                     "zircon-2025": "era",
                     "zcore": "implementation", "eclipse": "implementation",
                     "sel4zircon": "implementation"}
    # the eras and the doc run Zircon's own code: no overrides
    for era in (ZIRCON_2023, PROFILES["zircon-2024"], ZIRCON_2025, PROFILES["doc"]):
        assert (era.overrides, era.lacks) == (overrides.NONE, ())
    for name in IMPLEMENTATIONS:
        assert PROFILES[name].overrides != overrides.NONE
    assert main(["profiles", "--json"]) == 0
    listed = json.loads(capsys.readouterr().out)
    assert {p["name"]: p["kind"] for p in listed} == kinds
    # `vmospec prove` without --profile asks for the doc's and the eras' obligations only;
    # with --profile zcore, for zcore's
    asked: list[set[str]] = []

    def run(obs: list[Obligation], **_kw: object) -> list[object]:
        asked.append({ob.profile for ob in obs})
        return []

    monkeypatch.setattr("proofs.prover.run", run)
    main(["prove", "--only", "rights", "--json"])
    main(["prove", "--only", "rights", "--json", "--profile", "zcore"])
    capsys.readouterr()
    assert asked == [{"doc", "zircon-2023", "zircon-2024", "zircon-2025"}, {"zcore"}]


def test_zircon_ops_name_no_other_implementation() -> None:
    """Zircon's op code is Zircon's: another implementation's departures live in its
    profile's overrides (spec/implementations/), never in a branch of spec/op_range.py."""
    source = Path(op_range.__file__).read_text().lower()
    for word in ("zcore", "eclipse", "sel4"):
        assert word not in source, word
