"""Fields a recorder could not observe (`not_reported`, docs/trace-format.md): the reader
holds the list to the call's outcome fields, the checker leaves those fields unjudged and
judges the rest, and the host runner marks the attribution counts it cannot know."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from refinement_tests.checker import check_trace
from refinement_tests.device.backend import (
    ATTRIBUTION,
    BatchTrace,
    DeviceBackend,
    build_host_runner,
    observed_json,
)
from refinement_tests.trace import TraceError, header_to_json, parse_trace_text, read_trace
from spec.profiles import PROFILES

P = 4096
HEAD = '{"vmo_trace": 1, "page_size": 4096}'
SETUP = [
    {"call": "vmo_create", "size": 2 * P, "options": [], "out": "a", "status": "ZX_OK"},
    {"call": "vmo_write", "vmo": "a", "offset": 0, "data": [[7, 2 * P]], "status": "ZX_OK"},
    {"call": "vmo_create_child", "vmo": "a", "options": ["ZX_VMO_CHILD_SNAPSHOT"],
     "offset": 0, "size": 2 * P, "out": "c", "status": "ZX_OK"},
]


def _trace(info: dict[str, object]) -> str:
    step = {"call": "vmo_info", "vmo": "c", "status": "ZX_OK", **info}
    return "\n".join([HEAD, *(json.dumps(s) for s in [*SETUP, step])]) + "\n"


def _conforms(info: dict[str, object]) -> bool:
    return check_trace(parse_trace_text(_trace(info)), PROFILES["zircon-2025"]).conforms


def test_listed_fields_are_not_judged_and_the_others_are() -> None:
    unknown = list(ATTRIBUTION)
    # The snapshot sees both shared pages: committed 2P (info.attribution.2025).
    assert _conforms({"committed_bytes": 2 * P, "not_reported": unknown})
    assert not _conforms({"committed_bytes": P, "not_reported": unknown})
    assert not _conforms({"size": P, "not_reported": unknown})
    # A field left off the list is judged: scaled is half of each shared page.
    assert _conforms({"committed_scaled_bytes": P, "not_reported": unknown[:2]})
    assert not _conforms({"committed_scaled_bytes": 2 * P, "not_reported": unknown[:2]})


@pytest.mark.parametrize(("listed", "recorded", "message"), [
    (["committed_bytes"], {"committed_bytes": 2 * P}, "'committed_bytes' is recorded as well"),
    (["status"], {}, "'status' is not an outcome field"),
    (["vmo"], {}, "'vmo' is not an outcome field"),
    (["committed_byte"], {}, "'committed_byte' is not an outcome field"),
])
def test_a_bad_list_is_one_line_naming_the_step(
    listed: list[str], recorded: dict[str, object], message: str
) -> None:
    with pytest.raises(TraceError) as e:
        parse_trace_text(_trace({"not_reported": listed, **recorded}))
    text = str(e.value)
    assert "\n" not in text and ":5:" in text and message in text


@pytest.mark.skipif(shutil.which("make") is None or shutil.which("cc") is None,
                    reason="no C toolchain")
def test_the_host_runner_reports_committed_and_marks_the_attribution_counts(
    tmp_path: Path
) -> None:
    runner = build_host_runner(sanitized=False, build_dir=tmp_path)
    path = tmp_path / "t.jsonl"
    path.write_text(_trace({}))
    trace = read_trace(path)
    got = DeviceBackend(str(runner)).run_batch(
        [BatchTrace(trace.header, [(s.name, s.kind, s.args) for s in trace.steps])])[0]
    info = got[-1]
    assert info["not_reported"] == list(ATTRIBUTION)
    assert info["committed_bytes"] == 2 * P and not set(ATTRIBUTION) & set(info)
    lines = [json.dumps(header_to_json(trace.header))]
    lines += [json.dumps(observed_json(s.name, s.kind, s.args, o))
              for s, o in zip(trace.steps, got, strict=True)]
    observed = parse_trace_text("\n".join(lines) + "\n")
    assert check_trace(observed, PROFILES["zircon-2025"]).conforms
