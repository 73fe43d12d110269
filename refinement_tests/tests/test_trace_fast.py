"""The reader's one-pass path (orjson, then each field against its kind) reads a line
exactly as the exact path (json, the JSON Schema, then the decoder) does, or leaves it
to that path; and `vmospec check` reads a trace as it checks it, so a malformed line
after a divergence still makes the trace malformed."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from refinement_tests.trace import Step, TraceError, _Reader, open_trace, read_trace
from vmospec.cli import main

EXAMPLES = sorted((Path(__file__).resolve().parents[1] / "traces" / "examples").glob("*.jsonl"))
HEADER = '{"vmo_trace": 1, "page_size": 4096}'
BUDGET = settings(max_examples=400, deadline=None, derandomize=True,
                  suppress_health_check=[HealthCheck.too_slow])


def _exact(text: str) -> Step | TraceError:
    reader = _Reader("t")
    reader.feed(1, HEADER)
    try:
        step = reader.feed(2, text)
    except TraceError as e:
        return e
    assert step is not None
    return step


def _fast(text: str) -> Step | None:
    reader = _Reader("t")
    reader.feed(1, HEADER)
    return reader.fast_step(2, text.encode("utf-8", "surrogatepass"))


def _example_lines() -> list[str]:
    lines = []
    for path in EXAMPLES:
        lines += [x for x in path.read_text(encoding="utf-8").splitlines()[1:] if x.strip()]
    return lines


LINES = _example_lines()


def test_every_ordinary_example_line_takes_the_fast_path_and_agrees() -> None:
    taken = 0
    for text in LINES:
        fast = _fast(text)
        exact = _exact(text)
        if fast is not None:
            taken += 1
            assert fast == exact, text
    # not vacuous: most lines of the bundled examples are in the usual shape
    assert taken > 0.8 * len(LINES)


# Ways a line can differ from the usual shape that the exact path reads otherwise, or
# refuses: each must be left to it, or read the same.
TWEAKS: list[tuple[str, str]] = [
    ('"offset": 0', '"offset": 0.0'),
    ('"offset": 0', '"offset": 0, "offset": 1'),
    ('"offset": 0', '"offset": -1'),
    ('"offset": 0', '"offset": 18446744073709551616'),
    ('"offset": 0', '"offset": true'),
    ('"vmo": "a"', '"vmo": ""'),
    ('"vmo": "a"', '"vmo": "\\u0061"'),
    ('"vmo": "a"', '"vmo": "a", "vmo": "a"'),
    ('"vmo": "a"', '"vmo": "a", "extra": 1'),
    ('"vmo": "a"', '"vmo": "a", "not_run": "why"'),
    ('"vmo": "a"', '"vmo": "a", "note": 3'),
    ('"vmo": "a"', '"vmo": "a", "note": "a note"'),
    ('"vmo": "a"', '"vmo": "a", "event": "reclaim"'),
    ('"status": "ZX_OK"', '"status": ["ZX_OK", "ZX_ERR_NO_MEMORY"]'),
    ('"status": "ZX_OK"', '"status": {"not": ["ZX_ERR_NO_MEMORY"]}'),
    ('"status": "ZX_OK"', '"status": "ZX_OKAY"'),
    ('"status": "ZX_OK"', '"status": 0'),
    ('"status": "ZX_OK"', '"status": 2147483648'),
    ('"status": "ZX_OK"', '"status": "ZX_OK", "status": "ZX_OK"'),
    ('"op": "ZX_VMO_OP_COMMIT"', '"op": "ZX_VMO_OP_COMMIT|ZX_VMO_OP_LOCK"'),
    ('"op": "ZX_VMO_OP_COMMIT"', '"op": "ZX_ERR_NO_MEMORY"'),
    ('"op": "ZX_VMO_OP_COMMIT"', '"op": 4294967296'),
    ('"op": "ZX_VMO_OP_COMMIT"', '"op": 99'),
    ('"data": "', '"data": "0'),
    ('"data": "', '"data": "AB'),
    ('"data": [[', '"data": [[256, 1], ['),
    ('"data": [[', '"data": [[1, -1], ['),
    ('"data": [[', '"data": [[1, 2, 3], ['),
    ('"data": [[', '"data": [[1, 18446744073709551615], [2, 18446744073709551615], ['),
    ('"options": [', '"options": ["ZX_VMO_RESIZABLE", 7, '),
    ('"options": [', '"options": ["ZX_RIGHT_READ", '),
    ('"rights": [', '"rights": [4294967296, '),
    ('"lock_state": {', '"lock_state": {"other": 1, '),
    ('"lock_state": {', '"lock_state": {"size": -1, '),
    ('"buffer_size": ', '"buffer": null, "buffer_size": '),
    ('"buffer_size": ', '"buffer": 0, "buffer_size": '),
    ('"flags": [', '"flags": ["ZX_INFO_VMO_PAGER_BACKED", 1, '),
    ("{", "[{"),
    ("{", " {"),
    ('"call"', '"call" '),
]


@pytest.mark.parametrize(("old", "new"), TWEAKS)
def test_tweaked_lines_read_as_the_exact_path_reads_them(old: str, new: str) -> None:
    tweaked = [x.replace(old, new, 1) for x in LINES if old in x]
    assert tweaked, f"no example line holds {old!r}"
    for text in tweaked:
        fast = _fast(text)
        if fast is not None:
            assert fast == _exact(text), text


def test_a_duplicate_key_is_refused_as_before() -> None:
    text = '{"call": "vmo_get_size", "vmo": "a", "vmo": "b"}'
    assert _fast(text) is None
    assert "duplicate field 'vmo'" in str(_exact(text))


JSON_VALUES = st.recursive(
    st.one_of(st.none(), st.booleans(), st.integers(min_value=-(1 << 65), max_value=1 << 65),
              st.sampled_from(["a", "ZX_OK", "ZX_VMO_OP_ZERO", "00ff", "", "ZX_RIGHT_READ"]),
              st.floats(allow_nan=False, allow_infinity=False)),
    lambda inner: st.one_of(st.lists(inner, max_size=3),
                            st.dictionaries(st.sampled_from(["not", "offset", "size"]), inner,
                                            max_size=2)),
    max_leaves=6)


@BUDGET
@given(st.sampled_from(LINES), st.data())
def test_any_field_replaced_reads_as_the_exact_path_reads_it(text: str, data: Any) -> None:
    obj = json.loads(text)
    key = data.draw(st.sampled_from(sorted(obj)))
    obj[key] = data.draw(JSON_VALUES)
    changed = json.dumps(obj)
    fast = _fast(changed)
    if fast is not None:
        assert fast == _exact(changed), changed


def _write(path: Path, lines: list[str]) -> Path:
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def test_a_trace_streams_and_reads_as_read_trace(tmp_path: Path) -> None:
    for path in EXAMPLES:
        with open_trace(path) as stream:
            streamed = list(stream)
        whole = read_trace(path)
        assert streamed == whole.steps and stream.header == whole.header


def test_a_malformed_line_after_a_divergence_makes_the_trace_malformed(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    create = '{"call": "vmo_create", "size": 4096, "options": [], "out": "a", "status": "ZX_OK"}'
    wrong = '{"call": "vmo_get_size", "vmo": "a", "status": "ZX_OK", "size": 1}'
    right = '{"call": "vmo_get_size", "vmo": "a", "status": "ZX_OK", "size": 4096}'
    diverges = _write(tmp_path / "d.jsonl", [HEADER, create, wrong, *[right] * 50])
    assert main(["check", str(diverges)]) == 1
    assert "diverges at step 2 (line 3)" in capsys.readouterr().out
    bad = _write(tmp_path / "b.jsonl", [HEADER, create, wrong, *[right] * 50, '{"call": 1}'])
    assert main(["check", str(bad)]) == 2
    err = capsys.readouterr().err
    assert f"{bad}:54:" in err and err.count("\n") == 1


def test_a_repeated_line_reads_as_its_first_reading(tmp_path: Path) -> None:
    """The reader remembers lines it decoded: a repeat is the same step with its own
    index, line and dicts, and what depends on the trace so far is still checked."""
    lock = ('{"call": "vmo_op_range", "vmo": "a", "op": "ZX_VMO_OP_LOCK", "offset": 0, '
            '"size": 4096, "status": "ZX_OK"}')
    create = '{"call": "vmo_create", "size": 4096, "options": [], "out": "a", "status": "ZX_OK"}'
    path = _write(tmp_path / "r.jsonl", [HEADER, create, lock, lock, lock])
    with open_trace(path) as stream:
        steps = list(stream)
    first, again = steps[1], steps[2]
    assert (again.index, again.line) == (3, 4)
    assert (again.args, again.expect, again.raw) == (first.args, first.expect, first.raw)
    assert again.args is not first.args and again.expect is not first.expect
    assert first.args["buffer_size"] == 32  # the format's default, added to each
    # an `out` name is bound once, however often its line is repeated
    rebound = _write(tmp_path / "o.jsonl", [HEADER, create, create])
    with pytest.raises(TraceError, match="already bound"), open_trace(rebound) as stream:
        list(stream)


def test_a_change_to_one_step_reaches_no_repeat_of_its_line(tmp_path: Path) -> None:
    """Each repeat of a remembered line owns every list and dict of its step (the
    fields, the JSON object and what nests in them): a reader that changes one step,
    the first or a repeat, changes no other."""
    create = ('{"call": "vmo_create", "size": 4096, "options": ["ZX_VMO_RESIZABLE"], '
              '"out": "a", "status": "ZX_OK"}')
    lock = ('{"call": "vmo_op_range", "vmo": "a", "op": "ZX_VMO_OP_LOCK", "offset": 0, '
            '"size": 4096, "status": "ZX_OK", "lock_state": {"offset": 0, "size": 4096, '
            '"discarded_offset": 0, "discarded_size": 0}}')
    read = '{"call": "vmo_read", "vmo": "a", "offset": 0, "length": 2, "data": [[0, 2]]}'
    path = _write(tmp_path / "m.jsonl", [HEADER, create, *[lock, read] * 3])

    def steps() -> list[Step]:
        with open_trace(path) as stream:
            return list(stream)

    clean = steps()
    for mine in (1, 3):  # the lines' first reading, then a repeat served from memory
        changed = steps()
        lock_step, read_step = changed[mine], changed[mine + 1]
        lock_step.expect["lock_state"]["size"] = 1
        lock_step.raw["lock_state"]["size"] = 1
        lock_step.raw["note"] = "changed"
        read_step.raw["data"][0][1] = 1
        read_step.raw["data"].append([1, 1])
        read_step.args["vmo"] = "b"
        assert lock_step != clean[mine] and read_step != clean[mine + 1]
        for k, step in enumerate(changed):
            if k not in (mine, mine + 1):
                assert step == clean[k], (mine, k)


def test_lines_that_never_repeat_are_soon_not_remembered(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """A full memory of lines that served few repeats is emptied and the reader stops
    remembering for a while (keeping a line costs more than reading it again); lines
    that repeat keep it going. Either way each line reads as the exact path reads it."""
    monkeypatch.setattr("refinement_tests.trace._SEEN_LINES", 4)
    monkeypatch.setattr("refinement_tests.trace._SEEN_PAUSE", 3)
    line = '{"call": "vmo_get_size", "vmo": "a", "status": "ZX_OK", "size": %d}'
    reader = _Reader("t")
    reader.feed(1, HEADER)
    for n in range(5):  # unique: the fifth finds `seen` full and unused
        step, exact = reader.feed_chunk(n + 2, (line % n).encode()), _exact(line % n)
        assert step is not None and isinstance(exact, Step) and step.expect == exact.expect
    assert reader.pause == 3 and not reader.seen
    repeating = _Reader("t")
    repeating.feed(1, HEADER)
    for n in range(12):  # four lines, each read three times
        repeating.feed_chunk(n + 2, (line % (n % 4)).encode())
    assert repeating.pause == 0 and repeating.hits == 8 and len(repeating.seen) == 4
