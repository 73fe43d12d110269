"""Uncached VMOs (issue 12, item 3): zx_vmo_set_cache_policy in the format, the spec's
era differences, the model, and bad input."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from model import Kernel
from refinement_tests.checker import check_trace
from refinement_tests.spec_mutants import MUTANTS
from refinement_tests.tests.cli_run import run_main
from refinement_tests.trace import read_trace
from spec import abi
from spec.profiles import PROFILES

TRACES = Path(__file__).parent.parent / "traces"
ERA_2023 = TRACES / "eras" / "uncached.2023.jsonl"
EXAMPLE = TRACES / "examples" / "uncached.jsonl"


def test_the_2023_trace_conforms_only_under_2023() -> None:
    trace = read_trace(ERA_2023)
    assert check_trace(trace, PROFILES["zircon-2023"]).conforms
    assert not check_trace(trace, PROFILES["zircon-2025"]).conforms


def test_the_2023_trace_has_teeth() -> None:
    trace = read_trace(ERA_2023)
    with MUTANTS["cache-policy-unguarded"]():
        assert not check_trace(trace, PROFILES["zircon-2023"]).conforms


def test_the_2025_example_does_not_hold_in_2023() -> None:
    assert not check_trace(read_trace(EXAMPLE), PROFILES["zircon-2023"]).conforms


def test_the_model_keeps_a_vmo_with_a_child_cached() -> None:
    k = Kernel(4096)
    assert k.step("vmo_create", {"size": 4096, "options": 0, "out": "a"})["status"] == abi.OK
    child = {"vmo": "a", "options": abi.CHILD_SNAPSHOT, "offset": 0, "size": 4096, "out": "c"}
    assert k.step("vmo_create_child", child)["status"] == abi.OK
    for name in ("a", "c"):
        out = k.step("vmo_set_cache_policy", {"vmo": name, "cache_policy": 1})
        assert out["status"] == abi.ERR_BAD_STATE
    k.step("handle_close", {"handle": "c"})
    assert k.step("vmo_set_cache_policy", {"vmo": "a", "cache_policy": 1})["status"] == abi.OK
    assert k.step("vmo_info", {"vmo": "a"})["cache_policy"] == 1


def _write(tmp_path: Path, policy: object) -> Path:
    lines = [{"vmo_trace": 1, "page_size": 4096},
             {"call": "vmo_create", "size": 4096, "options": [], "out": "a"},
             {"call": "vmo_set_cache_policy", "vmo": "a", "cache_policy": policy}]
    path = tmp_path / "t.jsonl"
    path.write_text("".join(json.dumps(x) + "\n" for x in lines))
    return path


@pytest.mark.parametrize(("policy", "what"), [
    ("ZX_CACHE_POLICY_UNCACHD", "unknown cache policy name"),
    ("ZX_OK", "it is a status name"),
    (1 << 32, "cache_policy"),
    (-1, "cache_policy"),
    (1.0, "cache_policy"),
])
def test_a_bad_policy_is_one_line_and_exit_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], policy: object, what: str
) -> None:
    code, _out, err = run_main(capsys, "check", str(_write(tmp_path, policy)))
    assert code == 2
    lines = err.strip().splitlines()
    assert len(lines) == 1 and "t.jsonl:3:" in lines[0] and what in lines[0], err


def test_a_raw_policy_value_is_traced(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """An integer outside the mask is well-formed: the kernel answers INVALID_ARGS."""
    code, out, _err = run_main(capsys, "run", str(_write(tmp_path, 7)), "--backend", "model")
    assert code == 0 and '"cache_policy": 7, "status": "ZX_ERR_INVALID_ARGS"' in out


# --- contiguous and physical VMOs (issue 12, item 3) ---------------------------------------


def test_the_device_runner_marks_the_kind_calls_not_run(tmp_path: Path) -> None:
    """The runner has no BTI and no MMIO resource: both creations are not run, and the
    checker then sees the name unbound, as the runner does."""
    from refinement_tests.device.backend import DeviceBackend, build_host_runner

    runner = build_host_runner(sanitized=True, build_dir=tmp_path / "build")
    backend = DeviceBackend(runner=str(runner))
    header = read_trace(TRACES / "examples" / "physical.jsonl").header
    backend.start(header)
    made = backend.step("vmo_create_physical", "call", {"paddr": 0, "size": 4096, "out": "m"})
    assert "not_run" in made and "MMIO" in made["not_run"]
    made = backend.step("vmo_create_contiguous", "call",
                        {"size": 4096, "alignment_log2": 0, "out": "g"})
    assert "not_run" in made and "BTI" in made["not_run"]
