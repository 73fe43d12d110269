"""Tests of the vmo-trace v1 reader and writer (refinement_tests/trace.py).

Parse speed is measured by benchmarks/check_speed.py, not here (notes/benchmarks.md).
"""

from __future__ import annotations

import itertools
import json
import os
import pickle
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from refinement_tests import trace as T
from refinement_tests.trace import (
    SCHEMA,
    SIGNATURES,
    Data,
    Header,
    StatusExpect,
    Trace,
    TraceError,
    data_from_bytes,
    data_from_runs,
    data_length,
    data_to_json,
    header_to_json,
    parse_trace_text,
    read_trace,
    step_to_json,
    write_trace,
)
from spec import abi

HEADER = '{"vmo_trace": 1, "page_size": 4096}'
CREATE_A = '{"call": "vmo_create", "size": 16384, "options": [], "out": "a", "status": "ZX_OK"}'

EXAMPLE = "\n".join(
    [
        '{"vmo_trace": 1, "page_size": 4096, "origin": "unit test", "kernel": "zircon",'
        ' "seed": 7}',
        '{"call": "vmo_create", "size": 16384, "options": ["ZX_VMO_RESIZABLE",'
        ' "ZX_VMO_DISCARDABLE"], "out": "a", "status": "ZX_OK"}',
        '{"call": "vmo_write", "vmo": "a", "offset": 0, "data": [[65, 4096]],'
        ' "status": "ZX_OK"}',
        "",  # a blank line: skipped, but counted
        '{"call": "vmo_op_range", "vmo": "a", "op": "ZX_VMO_OP_DECOMMIT", "offset": 0,'
        ' "size": 4096, "status": "ZX_OK"}',
        '{"call": "vmo_read", "vmo": "a", "offset": 0, "length": 8, "status": "ZX_OK",'
        ' "data": "0000000000000000"}',
        '{"call": "vmo_info", "vmo": "a", "status": "ZX_OK", "committed_bytes": 0,'
        ' "flags": ["ZX_INFO_VMO_TYPE_PAGED", 1024]}',
        '{"call": "vmo_op_range", "vmo": "a", "op": "ZX_VMO_OP_LOCK", "offset": 0,'
        ' "size": 16384, "status": "ZX_OK", "lock_state": {"offset": 0, "size": 16384}}',
        '{"call": "vmo_op_range", "vmo": "a", "op": "ZX_VMO_OP_TRY_LOCK|ZX_VMO_OP_COMMIT",'
        ' "offset": 0, "size": 16384, "buffer_size": 7, "buffer": null, "status": ["ZX_OK",'
        ' "ZX_ERR_UNAVAILABLE"]}',
        '{"call": "vmo_op_range", "vmo": "a", "op": 4294967295, "offset": 18446744073709551615,'
        ' "size": 0, "status": {"not": ["ZX_OK"]}, "note": "bad op"}',
        '{"call": "vmo_create_child", "vmo": "a", "options": ["ZX_VMO_CHILD_SNAPSHOT"],'
        ' "offset": 0, "size": 4096, "out": "child", "status": "ZX_OK"}',
        '{"call": "handle_duplicate", "handle": "a", "rights": ["ZX_RIGHT_READ",'
        ' "ZX_RIGHT_MAP"], "out": "ro", "status": "ZX_OK"}',
        '{"call": "handle_duplicate", "handle": "a", "rights": "ZX_RIGHT_SAME_RIGHTS",'
        ' "out": "same", "status": "ZX_OK"}',
        '{"call": "handle_duplicate", "handle": "$invalid", "rights": 0, "out": "bad",'
        ' "status": "ZX_ERR_BAD_HANDLE"}',
        '{"call": "handle_close", "handle": "ro", "status": "ZX_OK"}',
        '{"call": "vmo_get_size", "vmo": "a", "status": "ZX_OK", "size": 16384}',
        '{"call": "vmo_set_size", "vmo": "a", "size": 8192, "status": "ZX_OK"}',
        '{"call": "pager_create", "out": "p", "status": "ZX_OK"}',
        '{"call": "pager_create_vmo", "pager": "p", "options": [], "size": 8192, "out": "pv",'
        ' "status": "ZX_OK"}',
        '{"call": "pager_supply_pages", "pager": "p", "vmo": "pv", "offset": 0, "length": 4096,'
        ' "status": "ZX_OK"}',
        '{"call": "pager_fail", "pager": "p", "vmo": "pv", "offset": 4096, "length": 4096,'
        ' "error": "ZX_ERR_IO", "status": 0}',
        '{"event": "reclaim", "vmo": "a", "discarded": true, "evicted_bytes": 0}',
        '{"event": "reclaim", "vmo": "pv"}',
    ]
) + "\n"


def parse(*lines: str) -> Trace:
    return parse_trace_text("\n".join(lines) + "\n", "t.jsonl")


def reject(text: str) -> TraceError:
    with pytest.raises(TraceError) as info:
        parse_trace_text(text, "t.jsonl")
    return info.value


# --- reading --------------------------------------------------------------------------------


def test_example_decodes() -> None:
    t = parse_trace_text(EXAMPLE, "ex.jsonl")
    assert t.path == "ex.jsonl"
    assert t.header.page_size == 4096
    assert t.header.config == {"debugging_syscalls": False, "page_loaning": False}
    assert t.header.meta == {"origin": "unit test", "kernel": "zircon", "seed": 7}
    assert [s.index for s in t.steps] == list(range(1, 22))
    # The blank line 4 is skipped but counted.
    assert [s.line for s in t.steps[:4]] == [2, 3, 5, 6]
    create, write, decommit, read, info, lock, trylock, badop = t.steps[:8]
    assert create.kind == "call" and create.name == "vmo_create"
    assert create.args == {
        "size": 16384,
        "options": abi.VMO_RESIZABLE | abi.VMO_DISCARDABLE,
        "out": "a",
    }
    assert create.expect == {"status": StatusExpect(frozenset({abi.OK}), False)}
    assert write.args["data"] == ((65, 4096),)
    assert decommit.args == {
        "vmo": "a",
        "op": abi.OP_DECOMMIT,
        "offset": 0,
        "size": 4096,
        "buffer_size": 0,
        "buffer_null": False,
    }
    assert read.expect["data"] == ((0, 8),)
    assert info.expect["flags"] == abi.INFO_VMO_TYPE_PAGED | 1024
    assert "size" not in info.expect  # absent outcome: not checked
    assert lock.args["buffer_size"] == abi.LOCK_STATE_SIZE
    assert lock.expect["lock_state"] == {"offset": 0, "size": 16384}
    assert trylock.args["op"] == abi.OP_TRY_LOCK | abi.OP_COMMIT
    assert trylock.args["buffer_size"] == 7 and trylock.args["buffer_null"] is True
    assert trylock.expect["status"] == StatusExpect(
        frozenset({abi.OK, abi.ERR_UNAVAILABLE}), False
    )
    assert badop.args["op"] == abi.U32_MAX and badop.args["offset"] == abi.U64_MAX
    assert badop.expect["status"] == StatusExpect(frozenset({abi.OK}), True)
    assert badop.note == "bad op" and create.note is None
    assert badop.raw["note"] == "bad op"
    by_out = {s.args.get("out"): s for s in t.steps}
    assert by_out["same"].args["rights"] == abi.RIGHT_SAME_RIGHTS
    assert by_out["ro"].args["rights"] == abi.RIGHT_READ | abi.RIGHT_MAP
    assert by_out["bad"].args["rights"] == 0
    assert by_out["child"].args["options"] == abi.CHILD_SNAPSHOT
    fail = t.steps[18]
    assert fail.args["error"] == abi.ERR_IO
    reclaim, bare = t.steps[19:]
    assert reclaim.kind == "event" and reclaim.args == {"vmo": "a"}
    assert reclaim.expect == {"discarded": True, "evicted_bytes": 0}
    assert bare.expect == {}


def test_status_expect_accepts() -> None:
    one = StatusExpect(frozenset({abi.OK}), False)
    assert one.accepts(abi.OK) and not one.accepts(abi.ERR_NO_MEMORY)
    failed = StatusExpect(frozenset({abi.OK}), True)
    assert failed.accepts(abi.ERR_NO_MEMORY) and not failed.accepts(abi.OK)


def test_header_config_and_meta() -> None:
    t = parse(
        '{"vmo_trace": 1, "page_size": 16384, "config": {"page_loaning": true},'
        ' "device": "x64", "notes": {"nested": [1.5, null]}}'
    )
    assert t.header.page_size == 16384
    assert t.header.config == {"debugging_syscalls": False, "page_loaning": True}
    assert t.header.meta == {"device": "x64", "notes": {"nested": [1.5, None]}}
    assert t.steps == []


def test_hex_and_runs_decode_equal() -> None:
    forms = ['"41414100"', "[[65, 3], [0, 1]]", "[[65, 1], [65, 2], [7, 0], [0, 1]]"]
    decoded = set()
    for form in forms:
        step = f'{{"call": "vmo_write", "vmo": "a", "offset": 0, "data": {form}}}'
        decoded.add(parse(HEADER, step).steps[0].args["data"])
        read = f'{{"call": "vmo_read", "vmo": "a", "offset": 0, "length": 4, "data": {form}}}'
        decoded.add(parse(HEADER, read).steps[0].expect["data"])
    assert decoded == {((65, 3), (0, 1))}
    empty = parse(HEADER, '{"call": "vmo_write", "vmo": "a", "offset": 0, "data": ""}')
    assert empty.steps[0].args["data"] == ()


def test_huge_runs_are_not_materialized() -> None:
    step = (
        '{"call": "vmo_write", "vmo": "a", "offset": 0,'
        ' "data": [[0, 18446744073709551614], [0, 1]]}'
    )
    d = parse(HEADER, step).steps[0].args["data"]
    assert d == ((0, abi.U64_MAX),)
    assert data_to_json(d) == [[0, abi.U64_MAX]]


def test_crlf_and_unicode_line_separators() -> None:
    note = '{"call": "handle_close", "handle": "a", "note": "x\u2028y\u2029z"}'
    t = parse_trace_text(HEADER + "\r\n\r\n" + note + "\r\n")
    assert t.steps[0].line == 3 and t.steps[0].note == "x\u2028y\u2029z"


def test_byte_order_mark_is_ignored() -> None:
    assert parse_trace_text("\ufeff" + HEADER + "\n").header.page_size == 4096


# --- malformed input ------------------------------------------------------------------------
# (lines after the header, line number of the fault, fragments the message must contain)
BAD_STEPS: list[tuple[list[str], int, list[str]]] = [
    (["{nope"], 2, ["invalid JSON"]),
    (['{"call": "handle_close", "handle": "a"'], 2, ["invalid JSON"]),
    (["[1, 2]"], 2, ["JSON object", "list"]),
    (['"vmo_create"'], 2, ["JSON object"]),
    (['{"handle": "a"}'], 2, ["call or event"]),
    (['{"call": "handle_close", "event": "reclaim", "handle": "a"}'], 2, ["both"]),
    (['{"call": "vmo_creat", "size": 1}'], 2, ["unknown call", "vmo_creat", "vmo_create"]),
    (['{"call": "reclaim", "vmo": "a"}'], 2, ["unknown call", "reclaim", "event"]),
    (['{"event": "evict", "vmo": "a"}'], 2, ["unknown event", "evict"]),
    (['{"call": 3}'], 2, ["call", "3"]),
    ([HEADER], 2, ["second header"]),
    # missing argument, unknown field (typo protection)
    ([CREATE_A, '{"call": "vmo_op_range", "vmo": "a", "op": 1, "size": 4096}'], 3,
     ["vmo_op_range", "missing argument", "offset"]),
    ([CREATE_A, '{"call": "vmo_op_range", "vmo": "a", "op": 1, "ofset": 0, "size": 1}'], 3,
     ["unknown field", "ofset", "offset"]),
    (['{"call": "vmo_create", "size": 1, "options": []}'], 2, ["missing argument", "out"]),
    (['{"call": "handle_close", "handle": "a", "comment": "x"}'], 2, ["unknown field", "comment"]),
    (['{"event": "reclaim", "vmo": "a", "status": "ZX_OK"}'], 2, ["reclaim", "status"]),
    (['{"call": "vmo_get_size", "vmo": "a", "status": "ZX_OK", "size": 1, "lock_state": {}}'],
     2, ["unknown field", "lock_state"]),
    (['{"call": "handle_close", "handle": "a", "handle": "b"}'], 2, ["duplicate", "handle"]),
    (['{"call": "handle_close", "handle": "a", "note": 5}'], 2, ["note"]),
    # wrong types
    (['{"call": "vmo_set_size", "vmo": "a", "size": 1.0}'], 2, ["size", "integer", "1.0"]),
    (['{"call": "vmo_set_size", "vmo": "a", "size": 1e3}'], 2, ["size", "integer"]),
    (['{"call": "vmo_set_size", "vmo": "a", "size": true}'], 2, ["size", "integer", "true"]),
    (['{"call": "vmo_set_size", "vmo": "a", "size": "4096"}'], 2, ["size", "'4096'"]),
    (['{"call": "vmo_set_size", "vmo": "a", "size": null}'], 2, ["size", "null"]),
    (['{"call": "vmo_set_size", "vmo": "a", "size": NaN}'], 2, ["invalid JSON", "NaN"]),
    (['{"call": "vmo_set_size", "vmo": 7, "size": 1}'], 2, ["vmo", "handle name"]),
    (['{"call": "vmo_set_size", "vmo": "", "size": 1}'], 2, ["vmo", "handle name"]),
    (['{"call": "vmo_get_size", "vmo": "a", "size": -4}'], 2, ["size", "-4", "0..2^64-1"]),
    (['{"event": "reclaim", "vmo": "a", "discarded": 1}'], 2, ["discarded", "true or false"]),
    (['{"call": "vmo_op_range", "vmo": "a", "op": 1, "offset": 0, "size": 1, "buffer": 0}'], 2,
     ["buffer", "null"]),
    (['{"call": "vmo_op_range", "vmo": "a", "op": 1.5, "offset": 0, "size": 1}'], 2, ["op"]),
    # outside u64 / u32 / int32
    ([CREATE_A, '{"call": "vmo_op_range", "vmo": "a", "op": 1, "offset": -1, "size": 1}'], 3,
     ["vmo_op_range: offset: -1 is outside 0..2^64-1"]),
    (['{"call": "vmo_set_size", "vmo": "a", "size": 18446744073709551616}'], 2,
     ["size", "18446744073709551616", "2^64-1"]),
    (['{"call": "vmo_set_size", "vmo": "a", "size": 1' + "0" * 5000 + "}"], 2,
     ["invalid JSON", "digits"]),
    (['{"call": "vmo_op_range", "vmo": "a", "op": 4294967296, "offset": 0, "size": 1}'], 2,
     ["op", "4294967296", "2^32-1"]),
    (['{"call": "vmo_create", "size": 1, "options": [4294967296], "out": "b"}'], 2,
     ["options[0]", "2^32-1"]),
    (['{"call": "handle_duplicate", "handle": "a", "rights": -1, "out": "b"}'], 2,
     ["rights", "-1"]),
    (['{"call": "handle_close", "handle": "a", "status": 2147483648}'], 2,
     ["status", "2^31-1"]),
    (['{"call": "pager_fail", "pager": "p", "vmo": "v", "offset": 0, "length": 1,'
      ' "error": -2147483649}'], 2, ["error", "-2^31"]),
    (['{"call": "vmo_op_range", "vmo": "a", "op": 3, "offset": 0, "size": 1,'
      ' "lock_state": {"discarded_size": -1}}'], 2, ["lock_state.discarded_size", "-1"]),
    (['{"call": "vmo_op_range", "vmo": "a", "op": 3, "offset": 0, "size": 1,'
      ' "lock_state": {"ofset": 0}}'], 2, ["lock_state", "unknown field", "ofset"]),
    # unknown constant names, each saying which
    (['{"call": "vmo_op_range", "vmo": "a", "op": "ZX_VMO_OP_COMIT", "offset": 0, "size": 1}'],
     2, ["op", "unknown op name", "ZX_VMO_OP_COMIT", "ZX_VMO_OP_COMMIT"]),
    (['{"call": "vmo_op_range", "vmo": "a", "op": "ZX_VMO_OP_LOCK|", "offset": 0, "size": 1}'],
     2, ["op", "unknown op name ''"]),
    (['{"call": "vmo_create", "size": 1, "options": ["ZX_VMO_CHILD_SLICE"], "out": "b"}'], 2,
     ["options", "ZX_VMO_CHILD_SLICE", "vmo_create_child option"]),
    (['{"call": "handle_duplicate", "handle": "a", "rights": ["ZX_RIGHT_REED"], "out": "b"}'],
     2, ["rights", "ZX_RIGHT_REED"]),
    (['{"call": "handle_close", "handle": "a", "status": "ZX_ERR_NOPE"}'], 2,
     ["status", "unknown status name", "ZX_ERR_NOPE"]),
    (['{"call": "handle_close", "handle": "a", "status": {"not": ["ZX_OK", "OK"]}}'], 2,
     ["status", "'OK'"]),
    (['{"call": "vmo_info", "vmo": "a", "flags": ["ZX_INFO_VMO_NOPE"]}'], 2,
     ["flags", "ZX_INFO_VMO_NOPE"]),
    (['{"call": "pager_fail", "pager": "p", "vmo": "v", "offset": 0, "length": 1,'
      ' "error": "EIO"}'], 2, ["error", "EIO"]),
    # status shapes
    (['{"call": "handle_close", "handle": "a", "status": []}'], 2, ["status", "empty list"]),
    (['{"call": "handle_close", "handle": "a", "status": {"not": []}}'], 2, ["status.not"]),
    (['{"call": "handle_close", "handle": "a", "status": {"nor": ["ZX_OK"]}}'], 2,
     ["status", "nor"]),
    (['{"call": "handle_close", "handle": "a", "status": true}'], 2, ["status", "true"]),
    # byte data
    (['{"call": "vmo_write", "vmo": "a", "offset": 0, "data": "00FF"}'], 2,
     ["data", "'00FF'", "lowercase hex"]),
    (['{"call": "vmo_write", "vmo": "a", "offset": 0, "data": "abc"}'], 2, ["data", "hex"]),
    (['{"call": "vmo_write", "vmo": "a", "offset": 0, "data": "00 ff"}'], 2, ["data", "hex"]),
    (['{"call": "vmo_write", "vmo": "a", "offset": 0, "data": "0x00"}'], 2, ["data", "hex"]),
    (['{"call": "vmo_write", "vmo": "a", "offset": 0, "data": [[256, 1]]}'], 2,
     ["data[0][0]", "256", "0..255"]),
    (['{"call": "vmo_write", "vmo": "a", "offset": 0, "data": [[0, 1], [-1, 1]]}'], 2,
     ["data[1][0]", "-1"]),
    (['{"call": "vmo_write", "vmo": "a", "offset": 0, "data": [[0, -1]]}'], 2,
     ["data[0][1]", "-1", "2^64-1"]),
    (['{"call": "vmo_write", "vmo": "a", "offset": 0, "data": [[0, 18446744073709551616]]}'], 2,
     ["data[0][1]", "2^64-1"]),
    (['{"call": "vmo_write", "vmo": "a", "offset": 0, "data": [[0, 1, 2]]}'], 2,
     ["data[0]", "run"]),
    (['{"call": "vmo_write", "vmo": "a", "offset": 0, "data": [65, 1]}'], 2,
     ["data[0]", "run"]),
    (['{"call": "vmo_write", "vmo": "a", "offset": 0, "data": [[0.5, 1]]}'], 2, ["data[0][0]"]),
    (['{"call": "vmo_write", "vmo": "a", "offset": 0, "data": 5}'], 2, ["data", "hex"]),
    (['{"call": "vmo_write", "vmo": "a", "offset": 0,'
      ' "data": [[1, 18446744073709551615], [2, 1]]}'], 2, ["data", "total length"]),
    # handle names bound once
    ([CREATE_A, "", CREATE_A], 4, ["vmo_create", "out", "'a'", "already bound", "line 2"]),
    ([CREATE_A, '{"call": "handle_close", "handle": "a"}',
      '{"call": "pager_create", "out": "a"}'], 4, ["out", "already bound"]),
    (['{"call": "pager_create", "out": "$invalid"}'], 2, ["out", "$invalid"]),
]


@pytest.mark.parametrize(("lines", "line", "fragments"), BAD_STEPS)
def test_malformed_step(lines: list[str], line: int, fragments: list[str]) -> None:
    e = reject("\n".join([HEADER, *lines]) + "\n")
    assert e.line == line
    assert e.path == "t.jsonl"
    assert str(e) == f"t.jsonl:{line}: {e.message}"
    assert "\n" not in str(e)
    for fragment in fragments:
        assert fragment in e.message


BAD_HEADERS: list[tuple[str, int, list[str]]] = [
    ('{"page_size": 4096}', 1, ["vmo_trace"]),
    ('{"vmo_trace": 2, "page_size": 4096}', 1, ["vmo_trace", "version 2"]),
    ('{"vmo_trace": "1", "page_size": 4096}', 1, ["vmo_trace", "'1'"]),
    ('{"vmo_trace": true, "page_size": 4096}', 1, ["vmo_trace", "true"]),
    ('{"vmo_trace": 1.0, "page_size": 4096}', 1, ["vmo_trace", "1.0"]),
    ('{"vmo_trace": 1}', 1, ["page_size", "missing"]),
    ('{"vmo_trace": 1, "page_size": 3000}', 1, ["page_size", "3000", "power of two"]),
    ('{"vmo_trace": 1, "page_size": 0}', 1, ["page_size", "0"]),
    ('{"vmo_trace": 1, "page_size": -4096}', 1, ["page_size", "-4096"]),
    ('{"vmo_trace": 1, "page_size": 4096.0}', 1, ["page_size", "4096.0"]),
    ('{"vmo_trace": 1, "page_size": 4096, "config": {"loaning": true}}', 1,
     ["config", "unknown field", "loaning", "page_loaning"]),
    ('{"vmo_trace": 1, "page_size": 4096, "config": {"page_loaning": "yes"}}', 1,
     ["config.page_loaning", "true or false"]),
    ('{"vmo_trace": 1, "page_size": 4096, "config": []}', 1, ["config"]),
    ('{"vmo_trace": 1, "page_size": 4096, "x": Infinity}', 1, ["invalid JSON"]),
    ("[1]", 1, ["header", "JSON object"]),
    (CREATE_A, 1, ["header"]),
    ("\n\n" + '{"vmo_trace": 1, "page_size": 3}', 3, ["page_size"]),
]


@pytest.mark.parametrize(("text", "line", "fragments"), BAD_HEADERS)
def test_malformed_header(text: str, line: int, fragments: list[str]) -> None:
    e = reject(text + "\n" + CREATE_A + "\n")
    assert e.line == line
    for fragment in fragments:
        assert fragment in e.message


@pytest.mark.parametrize("text", ["", "\n", "  \n\n\t\n"])
def test_empty_trace(text: str) -> None:
    e = reject(text)
    assert e.line == 0 and "empty" in e.message and "header" in e.message
    assert str(e) == f"t.jsonl: {e.message}"


def test_missing_file(tmp_path: Path) -> None:
    path = tmp_path / "nope.jsonl"
    with pytest.raises(TraceError) as info:
        read_trace(path)
    assert info.value.line == 0 and "no such file" in info.value.message
    assert str(info.value) == f"{path}: no such file"


def test_directory_is_not_a_trace(tmp_path: Path) -> None:
    with pytest.raises(TraceError) as info:
        read_trace(tmp_path)
    assert info.value.line == 0


def test_not_utf8(tmp_path: Path) -> None:
    path = tmp_path / "t.jsonl"
    path.write_bytes(
        (HEADER + "\n" + CREATE_A + "\n").encode()
        + b'{"call": "handle_close", "handle": "\xff"}\n'
    )
    with pytest.raises(TraceError) as info:
        read_trace(path)
    assert info.value.line == 3 and "UTF-8" in info.value.message
    assert "0xff" in info.value.message


def test_whole_trace_rejected_even_if_only_the_last_line_is_bad(tmp_path: Path) -> None:
    path = tmp_path / "t.jsonl"
    path.write_text(EXAMPLE + '{"call": "handle_close"}\n')
    with pytest.raises(TraceError) as info:
        read_trace(path)
    assert info.value.line == EXAMPLE.count("\n") + 1


def test_unbound_handle_names_are_not_malformed() -> None:
    t = parse(HEADER, '{"call": "handle_close", "handle": "never", "status": "ZX_ERR_BAD_HANDLE"}')
    assert t.steps[0].args == {"handle": "never"}


def test_trace_error_pickles() -> None:
    e = TraceError("t.jsonl", 3, "bad")
    again = pickle.loads(pickle.dumps(e))
    assert (again.path, again.line, again.message, str(again)) == ("t.jsonl", 3, "bad", str(e))


# --- writing --------------------------------------------------------------------------------


def redecode(t: Trace) -> list[Any]:
    return [(s.kind, s.name, s.args, s.expect, s.note) for s in t.steps]


def test_round_trip_through_step_to_json(tmp_path: Path) -> None:
    t = parse_trace_text(EXAMPLE)
    objs = [step_to_json(s.name, s.kind, s.args, s.expect, s.note) for s in t.steps]
    text = "\n".join(json.dumps(o) for o in [header_to_json(t.header), *objs])
    again = parse_trace_text(text)
    assert redecode(again) == redecode(t)
    assert again.header == t.header

    path = tmp_path / "out.jsonl"
    write_trace(path, t.header, objs)
    assert redecode(read_trace(path)) == redecode(t)
    # Constants come back as their C names.
    assert objs[0]["options"] == ["ZX_VMO_RESIZABLE", "ZX_VMO_DISCARDABLE"]
    assert objs[0]["status"] == "ZX_OK"
    assert objs[2]["op"] == "ZX_VMO_OP_DECOMMIT"
    assert objs[4]["flags"] == ["ZX_INFO_VMO_TYPE_PAGED", 1024]
    assert objs[6]["op"] == "ZX_VMO_OP_TRY_LOCK"  # 11|1 == 11
    assert objs[6]["buffer"] is None and objs[6]["buffer_size"] == 7
    assert "buffer_size" not in objs[5]  # the LOCK default is left implicit
    assert objs[7]["status"] == {"not": ["ZX_OK"]} and objs[7]["op"] == abi.U32_MAX
    assert objs[10]["rights"] == ["ZX_RIGHT_SAME_RIGHTS"]
    assert objs[18]["error"] == "ZX_ERR_IO"


def test_step_to_json_details() -> None:
    assert step_to_json("vmo_read", "call", {"vmo": "a", "offset": 0, "length": 3},
                        {"status": 0, "data": b"\x00\x00\x00"}) == {
        "call": "vmo_read", "vmo": "a", "offset": 0, "length": 3, "status": "ZX_OK",
        "data": "000000",
    }
    assert step_to_json("handle_close", "call", {"handle": "a"}, {"status": -99}) == {
        "call": "handle_close", "handle": "a", "status": -99,
    }
    both = StatusExpect(frozenset({abi.ERR_NO_MEMORY, abi.OK}), False)
    assert step_to_json("handle_close", "call", {"handle": "a"}, {"status": both})[
        "status"
    ] == ["ZX_OK", "ZX_ERR_NO_MEMORY"]
    with pytest.raises(ValueError, match="missing argument"):
        step_to_json("handle_close", "call", {}, {})
    with pytest.raises(ValueError, match="unknown argument"):
        step_to_json("handle_close", "call", {"handle": "a", "hande": "b"}, {})
    with pytest.raises(ValueError, match="unknown outcome"):
        step_to_json("handle_close", "call", {"handle": "a"}, {"size": 1})
    with pytest.raises(ValueError, match="unknown"):
        step_to_json("reclaim", "call", {"vmo": "a"}, {})


def test_header_to_json() -> None:
    assert header_to_json(Header(4096)) == {"vmo_trace": 1, "page_size": 4096}
    h = Header(4096, {"debugging_syscalls": True}, {"origin": "o"})
    assert h.config == {"debugging_syscalls": True, "page_loaning": False}
    assert header_to_json(h) == {
        "vmo_trace": 1, "page_size": 4096,
        "config": {"debugging_syscalls": True, "page_loaning": False}, "origin": "o",
    }
    with pytest.raises(ValueError):
        Header(4096, {"debug": True})
    with pytest.raises(ValueError):
        header_to_json(Header(4096, meta={"page_size": 1}))


def test_write_trace_is_atomic(tmp_path: Path) -> None:
    path = tmp_path / "t.jsonl"
    path.write_text("precious\n")

    def steps() -> Any:
        yield {"call": "handle_close", "handle": "a"}
        raise RuntimeError("generator died mid-write")

    with pytest.raises(RuntimeError):
        write_trace(path, Header(4096), steps())
    assert path.read_text() == "precious\n"
    assert os.listdir(tmp_path) == ["t.jsonl"]  # no temporary left behind


def test_write_trace_refuses_malformed_steps(tmp_path: Path) -> None:
    path = tmp_path / "t.jsonl"
    path.write_text("precious\n")
    create = {"call": "pager_create", "out": "p"}
    with pytest.raises(TraceError) as info:
        write_trace(path, Header(4096), [create, {"call": "handle_close"}, create])
    assert info.value.line == 3 and str(path) == info.value.path
    with pytest.raises(TraceError) as info:
        write_trace(path, Header(4096), [create, create])
    assert info.value.line == 3 and "already bound" in info.value.message
    assert path.read_text() == "precious\n"
    assert os.listdir(tmp_path) == ["t.jsonl"]


def test_write_trace_replaces_and_reads_back(tmp_path: Path) -> None:
    path = tmp_path / "t.jsonl"
    path.write_text("old\n")
    write_trace(path, Header(4096, meta={"notes": "ünïcode"}), [])
    assert read_trace(path).header.meta == {"notes": "ünïcode"}
    assert os.listdir(tmp_path) == ["t.jsonl"]


# --- hypothesis: round trip of arbitrary decoded steps ---------------------------------------

statuses = st.integers(-(1 << 31), (1 << 31) - 1) | st.sampled_from(list(abi.STATUSES.values()))
u64s = st.integers(0, abi.U64_MAX) | st.sampled_from([0, 1, 4096, abi.U64_MAX])
u32s = st.integers(0, abi.U32_MAX)
runs = st.lists(st.tuples(st.integers(0, 255), st.integers(0, 70)), max_size=8)
huge_runs = st.lists(st.tuples(st.integers(0, 255), st.integers(0, 1 << 40)), max_size=4)
datas = st.one_of(runs, huge_runs).map(data_from_runs)

VALUES: dict[str, st.SearchStrategy[Any]] = {
    "u64": u64s,
    "u32": u32s,
    "handle": st.text(min_size=1, max_size=8),
    "op": st.sampled_from(list(abi.OPS.values())) | u32s,
    "create_options": u32s,
    "child_options": u32s,
    "rights": u32s | st.just(abi.RIGHT_SAME_RIGHTS),
    "info_flags": u32s,
    "cache_policy": u32s,
    "status": statuses,
    "status_expect": st.builds(StatusExpect, st.frozensets(statuses, min_size=1), st.booleans()),
    "data": datas,
    "bool": st.booleans(),
    "lock_state": st.dictionaries(st.sampled_from(T.LOCK_STATE_KEYS), u64s),
}


@st.composite
def decoded_steps(
    draw: st.DrawFn, number: int
) -> tuple[str, str, dict[str, Any], dict[str, Any], str | None]:
    kind, name = draw(st.sampled_from(sorted(SIGNATURES)))
    arg_specs, outcome_specs = SIGNATURES[kind, name]
    args: dict[str, Any] = {}
    for key, k in arg_specs:
        if k == "out":
            args[key] = f"h{number}"  # fresh names: each is bound once
        elif k == "buffer":
            args["buffer_null"] = draw(st.booleans())
        else:
            args[key] = draw(VALUES[k])
    if name == "vmo_op_range":
        args["buffer_size"] = draw(st.sampled_from([0, 32, 31]) | u64s)
    outcome = {key: draw(VALUES[k]) for key, k in outcome_specs if draw(st.booleans())}
    note = draw(st.none() | st.text(max_size=10))
    return kind, name, args, outcome, note


@settings(max_examples=60, deadline=None)
@given(st.lists(st.integers(0, 0), max_size=6).flatmap(
    lambda xs: st.tuples(*(decoded_steps(i) for i in range(len(xs))))
))
def test_round_trip_property(steps: tuple[Any, ...]) -> None:
    objs = [step_to_json(name, kind, args, outcome, note)
            for kind, name, args, outcome, note in steps]
    text = "\n".join(json.dumps(o) for o in [{"vmo_trace": 1, "page_size": 4096}, *objs])
    t = parse_trace_text(text)
    for (kind, name, args, outcome, note), s in zip(steps, t.steps, strict=True):
        assert (s.kind, s.name, s.note) == (kind, name, note)
        assert s.args == args
        assert s.expect == outcome


# --- hypothesis: Data normalization ----------------------------------------------------------


def expand(pairs: list[tuple[int, int]]) -> bytes:
    return b"".join(bytes([b]) * c for b, c in pairs)


def is_normal(d: Data) -> bool:
    return all(c > 0 for _, c in d) and all(a[0] != b[0] for a, b in itertools.pairwise(d))


@given(runs)
def test_data_normalization(pairs: list[tuple[int, int]]) -> None:
    d = data_from_runs(pairs)
    assert is_normal(d)
    assert data_length(d) == sum(c for _, c in pairs)
    assert expand(list(d)) == expand(pairs)
    assert data_from_bytes(expand(pairs)) == d
    assert data_from_runs(d) == d  # idempotent
    assert T.data_to_bytes(d) == expand(pairs)


@given(st.binary(max_size=200))
def test_data_from_bytes(b: bytes) -> None:
    d = data_from_bytes(b)
    assert is_normal(d) and expand(list(d)) == b and data_length(d) == len(b)


@given(datas)
def test_data_to_json_is_the_shorter_form_and_decodes_back(d: Data) -> None:
    form = data_to_json(d)
    hex_len = 2 * data_length(d) + 2
    runs_len = len(json.dumps([[b, c] for b, c in d]))
    assert len(json.dumps(form)) == min(hex_len, runs_len)
    step = json.dumps({"call": "vmo_write", "vmo": "a", "offset": 0, "data": form})
    assert parse(HEADER, step).steps[0].args["data"] == d


def test_data_from_runs_rejects_bad_runs() -> None:
    with pytest.raises(ValueError):
        data_from_runs([(256, 1)])
    with pytest.raises(ValueError):
        data_from_runs([(0, -1)])


# --- schema ---------------------------------------------------------------------------------


def test_schema_is_draft7_and_matches_the_signature_tables() -> None:
    jsonschema.Draft7Validator.check_schema(SCHEMA)
    defs = SCHEMA["definitions"]
    for (kind, name), (arg_specs, outcome_specs) in SIGNATURES.items():
        d = defs[f"{kind}.{name}"]
        props = dict(d["properties"])
        assert props[kind] == {"const": name}
        assert props["note"] == {"$ref": "#/definitions/note"}
        assert props["not_run"] == {"$ref": "#/definitions/not_run"}  # a recorder's skip
        fields = {key: {"$ref": f"#/definitions/{k}"} for key, k in arg_specs + outcome_specs}
        if name == "vmo_info":  # fields a recorder could not observe (docs/trace-format.md)
            assert props.pop("not_reported") == {"$ref": "#/definitions/not_reported"}
        assert {k: v for k, v in props.items() if k not in (kind, "note", "not_run")} == fields
        required = [kind] + [k for k, _ in arg_specs if (name, k) not in T.OPTIONAL_ARGS]
        assert d["required"] == required
        assert d["additionalProperties"] is False


def test_schema_accepts_the_example_with_a_standard_validator() -> None:
    validator = jsonschema.Draft7Validator(SCHEMA)
    for line in EXAMPLE.splitlines():
        if line:
            assert not list(validator.iter_errors(json.loads(line))), line


# --- speed ----------------------------------------------------------------------------------
