"""Reading and writing vmo-trace v1 files (see docs/trace-format.md).

A trace is JSON Lines: a header, then one step per line. Reading goes in two passes
per line: the shipped JSON Schema checks structure (fields, types, ranges), then the
decoder here resolves constant names, normalizes byte data and checks what a schema
cannot say (handle names bound once, page_size a power of two). Any problem raises
TraceError naming the file, the line and the field; nothing is returned from a
malformed trace.
"""

from __future__ import annotations

import contextlib
import difflib
import functools
import gc
import itertools
import json
import math
import mmap
import os
import re
import secrets
import stat
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from importlib import resources
from pathlib import Path
from typing import Any

import fastjsonschema
import orjson

from model.ranges import byte_runs
from refinement_tests.long_lines import LONG_LINE, TooManyRuns, find, shrink_long_line
from spec import abi

__all__ = [
    "SCHEMA",
    "Data",
    "Header",
    "StatusExpect",
    "Step",
    "Trace",
    "TraceError",
    "TraceStream",
    "data_from_bytes",
    "data_from_runs",
    "data_length",
    "data_shown",
    "data_to_bytes",
    "data_to_json",
    "file_kind",
    "header_to_json",
    "open_trace",
    "parse_trace_text",
    "read_trace",
    "runs_shown",
    "step_to_json",
    "trace_lines",
    "write_trace",
]

FORMAT_VERSION = 1
INVALID_HANDLE_NAME = "$invalid"
MAX_RUNS = 1 << 20  # byte runs one trace may hold in all (a run costs ~70 bytes)
MAX_LINE = 1 << 26  # characters of a line, not counting the hex of its data
MAX_META_DEPTH = 64  # nesting of header metadata (deeper would overflow the C stack)


class TraceError(Exception):
    """A malformed trace, located by file and 1-based line (0: the file as a whole)."""

    path: str
    line: int
    message: str

    def __init__(self, path: str, line: int, message: str) -> None:
        # Pass all three up so the exception pickles (multiprocessing workers).
        super().__init__(path, line, message)
        self.path = path
        self.line = line
        self.message = message

    def __str__(self) -> str:
        if self.line == 0:
            return f"{self.path}: {self.message}"
        return f"{self.path}:{self.line}: {self.message}"


class TraceMissing(TraceError):
    """A trace file that does not exist: not malformed, only absent."""


# --- byte data ------------------------------------------------------------------------------

Data = tuple[tuple[int, int], ...]
"""Byte runs ((byte, count), ...): counts > 0, neighbours differ. One value per content."""

_HEX_RE = re.compile(r"[0-9a-f]*")  # one class, no group: no backtracking


def data_length(d: Data) -> int:
    return sum(count for _, count in d)


def data_from_bytes(b: bytes | bytearray | memoryview) -> Data:
    return tuple(byte_runs(b))


def data_from_runs(runs: Iterable[Sequence[int]]) -> Data:
    """Normalize (byte, count) pairs: drop empty runs, merge equal neighbours."""
    out: list[tuple[int, int]] = []
    for byte, count in runs:
        if not 0 <= byte <= 255:
            raise ValueError(f"byte {byte} is outside 0..255")
        if count < 0:
            raise ValueError(f"negative run length {count}")
        if count == 0:
            continue
        if out and out[-1][0] == byte:
            out[-1] = (byte, out[-1][1] + count)
        else:
            out.append((byte, count))
    return tuple(out)


def data_to_bytes(d: Data, limit: int = 1 << 30) -> bytes:
    """Materialize; refuses more than `limit` bytes so a 2^64 run cannot exhaust memory."""
    n = data_length(d)
    if n > limit:
        raise ValueError(f"{n} bytes is more than the limit {limit}")
    return b"".join(bytes((byte,)) * count for byte, count in d)


def _runs_json_len(d: Data) -> int:
    # Length of json.dumps(runs) with the default separators: "[[b, c], [b, c]]".
    if not d:
        return 2
    return 2 + sum(len(str(b)) + len(str(c)) + 4 for b, c in d) + 2 * (len(d) - 1)


def data_to_json(d: Data) -> str | list[list[int]]:
    """The shorter JSON form; hex on a tie. Hex is only built when it is the shorter,
    so its size is bounded by the run list's."""
    if 2 * data_length(d) + 2 <= _runs_json_len(d):
        return data_to_bytes(d).hex()
    return [[b, c] for b, c in d]


SHOWN_RUNS = 3  # runs shown at each end of long data
_SHOWN_HEX = 32  # hex digits shown at each end of long hex


def data_shown(v: Data | str | list[list[int]]) -> str | list[Any]:
    """Data (decoded, or either JSON form) as a message shows it: in full when short,
    else its first and last runs (or hex digits) around a count of what is left out."""
    if isinstance(v, str):
        if len(v) <= 4 * _SHOWN_HEX:
            return v
        return (f"{v[:_SHOWN_HEX]}...{(len(v) - 2 * _SHOWN_HEX) // 2:,} more bytes..."
                f"{v[-_SHOWN_HEX:]}")
    if len(v) <= 3 * SHOWN_RUNS:
        return data_to_json(tuple((b, c) for b, c in v)) if isinstance(v, tuple) else v
    middle = v[SHOWN_RUNS:-SHOWN_RUNS]
    return runs_shown(v[:SHOWN_RUNS], v[-SHOWN_RUNS:], len(middle),
                      sum(c for _, c in middle))


def runs_shown(head: Iterable[Sequence[int]], tail: Iterable[Sequence[int]], runs: int,
               length: int) -> list[Any]:
    """Long data as shown: the first and last runs around what is left out."""
    hidden = f"... {runs:,} more runs, {length:,} bytes ..."
    return [[b, c] for b, c in head] + [hidden] + [[b, c] for b, c in tail]


# --- data types -----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class StatusExpect:
    statuses: frozenset[int]
    negate: bool = False

    def accepts(self, status: int) -> bool:
        return (status in self.statuses) != self.negate


def _default_config() -> dict[str, bool]:
    return dict.fromkeys(abi.CONFIG_KEYS, False)


@dataclass(frozen=True, slots=True)
class Header:
    page_size: int
    config: dict[str, bool] = field(default_factory=_default_config)
    meta: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        unknown = set(self.config) - set(abi.CONFIG_KEYS)
        if unknown:
            raise ValueError(f"unknown config key(s) {sorted(unknown)}")
        # Both keys always present, so readers never need .get().
        object.__setattr__(self, "config", _default_config() | self.config)


@dataclass(slots=True)
class Step:
    index: int
    line: int
    kind: str
    name: str
    args: dict[str, Any]
    expect: dict[str, Any]
    note: str | None
    raw: dict[str, Any]


@dataclass(slots=True)
class Trace:
    path: str
    header: Header
    steps: list[Step]


# --- signatures -----------------------------------------------------------------------------
# Each argument or outcome has a kind; the kind names the schema definition that checks it
# and the decoder/encoder below. The tests check these tables against the schema file.

Sig = tuple[tuple[tuple[str, str], ...], tuple[tuple[str, str], ...]]

SIGNATURES: dict[tuple[str, str], Sig] = {
    ("call", "vmo_create"): (
        (("size", "u64"), ("options", "create_options"), ("out", "out")),
        (("status", "status_expect"),),
    ),
    ("call", "vmo_create_contiguous"): (
        (("size", "u64"), ("alignment_log2", "u32"), ("out", "out")),
        (("status", "status_expect"),),
    ),
    ("call", "vmo_create_physical"): (
        (("paddr", "u64"), ("size", "u64"), ("out", "out")),
        (("status", "status_expect"),),
    ),
    ("call", "vmo_create_child"): (
        (
            ("vmo", "handle"),
            ("options", "child_options"),
            ("offset", "u64"),
            ("size", "u64"),
            ("out", "out"),
        ),
        (("status", "status_expect"),),
    ),
    ("call", "handle_duplicate"): (
        (("handle", "handle"), ("rights", "rights"), ("out", "out")),
        (("status", "status_expect"),),
    ),
    ("call", "handle_close"): (
        (("handle", "handle"),),
        (("status", "status_expect"),),
    ),
    ("call", "vmo_op_range"): (
        (
            ("vmo", "handle"),
            ("op", "op"),
            ("offset", "u64"),
            ("size", "u64"),
            ("buffer_size", "u64"),
            ("buffer", "buffer"),
        ),
        (("status", "status_expect"), ("lock_state", "lock_state")),
    ),
    ("call", "vmo_read"): (
        (("vmo", "handle"), ("offset", "u64"), ("length", "u64")),
        (("status", "status_expect"), ("data", "data")),
    ),
    ("call", "vmo_write"): (
        (("vmo", "handle"), ("offset", "u64"), ("data", "data")),
        (("status", "status_expect"),),
    ),
    ("call", "vmo_get_size"): (
        (("vmo", "handle"),),
        (("status", "status_expect"), ("size", "u64")),
    ),
    ("call", "vmo_set_size"): (
        (("vmo", "handle"), ("size", "u64")),
        (("status", "status_expect"),),
    ),
    ("call", "vmo_info"): (
        (("vmo", "handle"),),
        (
            ("status", "status_expect"),
            ("size", "u64"),
            ("committed_bytes", "u64"),
            ("populated_bytes", "u64"),
            ("committed_private_bytes", "u64"),
            ("populated_private_bytes", "u64"),
            ("committed_scaled_bytes", "u64"),
            ("populated_scaled_bytes", "u64"),
            ("committed_fractional_scaled_bytes", "u64"),
            ("populated_fractional_scaled_bytes", "u64"),
            ("flags", "info_flags"),
            ("cache_policy", "cache_policy"),
        ),
    ),
    ("call", "vmo_set_cache_policy"): (
        (("vmo", "handle"), ("cache_policy", "cache_policy")),
        (("status", "status_expect"),),
    ),
    ("call", "pager_create"): (
        (("out", "out"),),
        (("status", "status_expect"),),
    ),
    ("call", "pager_create_vmo"): (
        (("pager", "handle"), ("options", "create_options"), ("size", "u64"), ("out", "out")),
        (("status", "status_expect"),),
    ),
    ("call", "pager_supply_pages"): (
        (("pager", "handle"), ("vmo", "handle"), ("offset", "u64"), ("length", "u64")),
        (("status", "status_expect"),),
    ),
    ("call", "pager_fail"): (
        (
            ("pager", "handle"),
            ("vmo", "handle"),
            ("offset", "u64"),
            ("length", "u64"),
            ("error", "status"),
        ),
        (("status", "status_expect"),),
    ),
    ("event", "reclaim"): (
        (("vmo", "handle"),),
        (("discarded", "bool"), ("evicted_bytes", "u64")),
    ),
}
_WITH_DATA = frozenset(n for (_, n), sig in SIGNATURES.items()
                       if any(k == "data" for part in sig for _, k in part))
OPTIONAL_ARGS = frozenset({("vmo_op_range", "buffer_size"), ("vmo_op_range", "buffer")})
LOCK_STATE_KEYS = ("offset", "size", "discarded_offset", "discarded_size")

# Flag-set kinds and the name table each draws from, with a word for messages.
_FLAG_TABLES: dict[str, tuple[dict[str, int], str]] = {
    "create_options": (abi.CREATE_OPTIONS, "vmo_create option"),
    "child_options": (abi.CHILD_OPTIONS, "vmo_create_child option"),
    "rights": (abi.RIGHTS, "right"),
    "info_flags": (abi.INFO_VMO_FLAGS, "ZX_INFO_VMO flag"),
}


# --- decoding values (after the schema has checked types and ranges) -----------------------


class _Bad(Exception):
    """A value the schema let through but the decoder refuses; the text is the reason."""


class _DuplicateKey(ValueError):
    pass


# Every name table, for saying where a misplaced name belongs.
_ALL_TABLES: tuple[tuple[dict[str, int], str], ...] = (
    (abi.OPS, "op"),
    (abi.STATUSES, "status"),
    (abi.CACHE_POLICIES, "cache policy"),
    *_FLAG_TABLES.values(),
)


def _lookup(name: str, table: dict[str, int], what: str) -> int:
    value = table.get(name)
    if value is None:
        elsewhere = [w for t, w in _ALL_TABLES if name in t]
        close = difflib.get_close_matches(name[:100], table, n=1)
        if elsewhere:
            hint = f" (it is a {elsewhere[0]} name)"
        elif close:
            hint = f" (did you mean {close[0]!r}?)"
        else:
            hint = ""
        raise _Bad(f"unknown {what} name {short_value(name)}{hint}")
    return value


# Names repeat on nearly every line, so their decodings are cached (functools caches
# do not keep exceptions, so a bad name fails every time).
@functools.lru_cache(maxsize=1024)
def _decode_op_name(v: str) -> int:
    value = 0
    for part in v.split("|"):
        # Spaces around "|" are tolerated: "A | B" is an obvious spelling of "A|B".
        value |= _lookup(part.strip(), abi.OPS, "op")
    return value


def _decode_op(v: str | int) -> int:
    return v if isinstance(v, int) else _decode_op_name(v)


def _flags_decoder(kind: str) -> Callable[[Any], int]:
    table, what = _FLAG_TABLES[kind]

    def decode(v: list[str | int] | str | int) -> int:
        items = v if isinstance(v, list) else [v]
        mask = 0
        for item in items:
            mask |= item if isinstance(item, int) else _lookup(item, table, what)
        return mask

    return decode


def _decode_cache_policy(v: str | int) -> int:
    return v if isinstance(v, int) else _lookup(v, abi.CACHE_POLICIES, "cache policy")


def _decode_status(v: str | int) -> int:
    return v if isinstance(v, int) else _lookup(v, abi.STATUSES, "status")


@functools.lru_cache(maxsize=1024)
def _single_status_expect(v: str | int) -> StatusExpect:
    return StatusExpect(frozenset((_decode_status(v),)), False)


def _decode_status_expect(
    v: str | int | list[str | int] | dict[str, list[str | int]],
) -> StatusExpect:
    if isinstance(v, str | int):
        return _single_status_expect(v)
    if isinstance(v, dict):
        return StatusExpect(frozenset(map(_decode_status, v["not"])), True)
    return StatusExpect(frozenset(map(_decode_status, v)), False)


def _decode_hex(v: str) -> Data:
    # bytes.fromhex would skip whitespace; the format allows none.
    if len(v) % 2 or not _HEX_RE.fullmatch(v):
        raise _Bad(f"{short_value(v)} is not lowercase hex with two digits per byte")
    return data_from_bytes(bytes.fromhex(v))


# Short hex repeats (expected reads); long hex is not cached, to bound the memory held.
_decode_short_hex = functools.lru_cache(maxsize=1024)(_decode_hex)


def _decode_data(v: str | list[list[int]]) -> Data:
    if isinstance(v, str):
        return _decode_short_hex(v) if len(v) <= 256 else _decode_hex(v)
    d = data_from_runs(v)
    n = data_length(d)
    if n > abi.U64_MAX:
        raise _Bad(f"total length {n} exceeds 2^64-1")
    return d


def _decode_buffer(v: None) -> bool:
    return True  # only null is allowed: "buffer": null means a null pointer


_DECODERS: dict[str, Callable[[Any], Any] | None] = {
    "u64": None,
    "u32": None,
    "handle": None,
    "out": None,
    "bool": None,
    "op": _decode_op,
    "status": _decode_status,
    "cache_policy": _decode_cache_policy,
    "status_expect": _decode_status_expect,
    "data": _decode_data,
    "buffer": _decode_buffer,
    "lock_state": dict,  # a copy, so Step.raw and Step.expect do not share
    **{kind: _flags_decoder(kind) for kind in _FLAG_TABLES},
}


# --- schema ---------------------------------------------------------------------------------


def _load_schema() -> dict[str, Any]:
    text = (
        resources.files("refinement_tests")
        .joinpath("schema/vmo-trace-v1.schema.json")
        .read_text(encoding="utf-8")
    )
    schema: dict[str, Any] = json.loads(text)
    return schema


SCHEMA: dict[str, Any] = _load_schema()


def _inline(node: Any, defs: dict[str, Any]) -> Any:
    # The definitions are not recursive, so refs can be expanded once; the compiled
    # validator is then straight-line code and its errors carry the full definition.
    if isinstance(node, dict):
        ref = node.get("$ref")
        if isinstance(ref, str) and ref.startswith("#/definitions/"):
            return _inline(defs[ref.removeprefix("#/definitions/")], defs)
        return {k: _inline(v, defs) for k, v in node.items()}
    if isinstance(node, list):
        return [_inline(v, defs) for v in node]
    return node


# Compiled on first use: most lines never need the schema (the one-pass check below
# reads them), and compiling every definition would cost each command a tenth of a
# second to start.
@functools.cache
def _compile(definition: str) -> Callable[[Any], Any]:
    defs = SCHEMA["definitions"]
    schema = {"$schema": SCHEMA["$schema"], **_inline(defs[definition], defs)}
    validate: Callable[[Any], Any] = fastjsonschema.compile(schema)
    return validate


@dataclass(slots=True)
class _Compiled:
    kind: str
    name: str
    # field -> (is an argument, decoder or None for "keep as is")
    fields: dict[str, tuple[bool, Callable[[Any], Any] | None]]

    def validate(self, obj: Any) -> None:
        _compile(f"{self.kind}.{self.name}")(obj)


def _compile_signatures() -> dict[tuple[str, str], _Compiled]:
    out = {}
    for (kind, name), (args, outcomes) in SIGNATURES.items():
        fields = {f: (True, _DECODERS[k]) for f, k in args}
        fields.update({f: (False, _DECODERS[k]) for f, k in outcomes})
        out[kind, name] = _Compiled(kind, name, fields)
    return out


_COMPILED = _compile_signatures()


# --- the one-pass check of the usual lines ------------------------------------------------
# Each kind's check accepts a subset of what the schema and the decoder accept, and
# decodes it as they do; for anything else it raises _Bad, and the line goes the exact
# way (schema, then decoder), which accepts it or names what is wrong.


_U64_MAX = abi.U64_MAX


def _fast_u64(v: Any) -> int:
    if type(v) is int and 0 <= v <= abi.U64_MAX:
        return v
    raise _Bad


def _fast_name(v: Any) -> str:
    if type(v) is str and v:
        return v
    raise _Bad


def _fast_bool(v: Any) -> bool:
    if type(v) is bool:
        return v
    raise _Bad


def _fast_u32_or_name(v: Any) -> None:
    if type(v) is int:
        if not 0 <= v <= abi.U32_MAX:
            raise _Bad
    elif type(v) is not str:
        raise _Bad


def _fast_u32(v: Any) -> int:
    if type(v) is int and 0 <= v <= abi.U32_MAX:
        return v
    raise _Bad


def _fast_cache_policy(v: Any) -> int:
    _fast_u32_or_name(v)
    return _decode_cache_policy(v)


def _fast_op(v: Any) -> int:
    if type(v) is str:  # an op's own name, as nearly every line spells it
        code = abi.OPS.get(v)
        if code is not None:
            return code
    _fast_u32_or_name(v)
    return _decode_op(v)


def _fast_flags(kind: str) -> Callable[[Any], int]:
    decode = _flags_decoder(kind)

    def check(v: Any) -> int:
        if type(v) is list:
            for item in v:
                _fast_u32_or_name(item)
        else:
            _fast_u32_or_name(v)
        return decode(v)

    return check


def _fast_status(v: Any) -> int:
    if type(v) is int:
        if not -(1 << 31) <= v < 1 << 31:
            raise _Bad
    elif type(v) is not str:
        raise _Bad
    return _decode_status(v)


def _fast_status_expect(v: Any) -> StatusExpect:
    if type(v) is not str:
        _fast_status(v)  # a list or {"not": ...} goes the exact way
    return _single_status_expect(v)


def _fast_data(v: Any) -> Data:
    if type(v) is list:
        for run in v:
            if (type(run) is not list or len(run) != 2 or type(run[0]) is not int
                    or type(run[1]) is not int or not 0 <= run[0] <= 255
                    or not 0 <= run[1] <= abi.U64_MAX):
                raise _Bad
    elif type(v) is not str:
        raise _Bad
    return _decode_data(v)


def _fast_lock_state(v: Any) -> dict[str, int]:
    if type(v) is not dict:
        raise _Bad
    for key, x in v.items():
        if key not in LOCK_STATE_KEYS:
            raise _Bad
        _fast_u64(x)
    return dict(v)


def _fast_buffer(v: Any) -> bool:
    if v is not None:
        raise _Bad
    return True


_FAST_CHECKS: dict[str, Callable[[Any], Any]] = {
    "u64": _fast_u64,
    "u32": _fast_u32,
    "cache_policy": _fast_cache_policy,
    "handle": _fast_name,
    "out": _fast_name,
    "bool": _fast_bool,
    "op": _fast_op,
    "status": _fast_status,
    "status_expect": _fast_status_expect,
    "data": _fast_data,
    "buffer": _fast_buffer,
    "lock_state": _fast_lock_state,
    **{kind: _fast_flags(kind) for kind in _FLAG_TABLES},
}


@dataclass(slots=True)
class _Fast:
    required: frozenset[str]  # the arguments the schema requires
    fields: dict[str, tuple[bool, Callable[[Any], Any]]]  # field -> (is an argument, check)


def _fast_signatures() -> dict[tuple[str, str], _Fast]:
    out = {}
    for (kind, name), (args, outcomes) in SIGNATURES.items():
        fields = {f: (True, _FAST_CHECKS[k]) for f, k in args}
        fields.update({f: (False, _FAST_CHECKS[k]) for f, k in outcomes})
        required = frozenset(SCHEMA["definitions"][f"{kind}.{name}"]["required"]) - {kind}
        out[kind, name] = _Fast(required, fields)
    return out


_FAST = _fast_signatures()
_NAMES = {kind: sorted(n for k, n in SIGNATURES if k == kind) for kind in ("call", "event")}


@dataclass(slots=True, frozen=True)
class _Shape:
    """A line's fields, by name and in order, for one call or event: each checked on the
    fast path (the kind key and a note apart), every required argument among them."""

    kind: str
    fields: tuple[tuple[str, bool, Callable[[Any], Any]], ...]  # (field, is an argument, check)
    note: bool  # a "note" field (its value must be a string)
    strings: int  # strings the line holds before its values are counted: keys, name, note


_SHAPES: dict[tuple[str, ...], _Shape] = {}
_MAX_SHAPES = 1024  # a trace has a few; beyond this many, a shape is checked every time


def _shape_of(key: tuple[str, ...]) -> _Shape | None:
    """The shape of a line whose call or event name and field names are `key`; None
    when the fast path does not take it (an unknown field, not_run, both or neither
    of call and event, a required argument missing)."""
    name, *names = key
    kinds = [k for k in ("call", "event") if k in names]
    if len(kinds) != 1:
        return None
    kind = kinds[0]
    fast = _FAST.get((kind, name))
    if fast is None or not fast.required <= set(names):
        return None
    fields = []
    for f in names:
        if f == kind or f == "note":
            continue
        spec = fast.fields.get(f)
        if spec is None:
            return None  # not_run, or an unknown field
        fields.append((f, *spec))
    has_note = "note" in names
    shape = _Shape(kind, tuple(fields), has_note, len(names) + 1 + has_note)
    if len(_SHAPES) < _MAX_SHAPES:
        _SHAPES[key] = shape
    return shape


# --- error messages -------------------------------------------------------------------------

_BOUNDS = {
    abi.U64_MAX: "2^64-1",
    abi.U32_MAX: "2^32-1",
    (1 << 31) - 1: "2^31-1",
    -(1 << 31): "-2^31",
}


def short_value(v: Any, limit: int = 40) -> str:
    """repr(v), cut to `limit` characters: a message never echoes a value in full."""
    text = repr(v[: limit + 1] if isinstance(v, str) else v)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _num(v: int | Decimal) -> str:
    """A number as a message shows it: a very long one by its size."""
    text = str(v)
    return text if len(text) <= 24 else f"a number of {len(text):,} characters"


def _describe(v: Any) -> str:
    """A JSON value as a reader of the trace would name it."""
    if v is None:
        return "null"
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, Decimal):
        return f"the number {_num(v)}"
    if isinstance(v, int):
        return _num(v)
    if isinstance(v, str):
        return f"the string {short_value(v)}"
    if isinstance(v, list):
        return "a list" if v else "an empty list"
    return "an object"


def _unknown_field(key: str, known: Iterable[str]) -> str:
    known = list(known)
    close = difflib.get_close_matches(key[:100], known, n=1)
    if close:
        return f"unknown field {short_value(key)} (did you mean {close[0]!r}?)"
    if len(known) <= 4:
        return f"unknown field {short_value(key)} (known: {', '.join(known)})"
    return f"unknown field {short_value(key)}"


def _explain(e: Any) -> str:
    """One line from a fastjsonschema error: the field path, then what is wrong."""
    path = e.name.removeprefix("data").removeprefix(".")
    where = f"{path}: " if path else ""
    rule, d, v = e.rule, e.definition, e.value
    properties = d.get("properties", {}) if isinstance(d, dict) else {}
    if rule in ("required", "additionalProperties"):
        # An unknown key is reported first: next to a missing one it is usually its typo.
        if d.get("additionalProperties") is False:
            unknown = [k for k in v if k not in properties]
            if unknown:
                return where + _unknown_field(unknown[0], properties)
        if rule == "required":
            missing = [k for k in e.rule_definition if k not in v]
            noun = "argument" if "call" in properties or "event" in properties else "field"
            return f"{where}missing {noun} {missing[0]!r}"
    desc = d.get("description") if isinstance(d, dict) else None
    if rule in ("minimum", "maximum") and "minimum" in d and "maximum" in d:
        lo, hi = d["minimum"], d["maximum"]
        return f"{where}{_num(v)} is outside {_BOUNDS.get(lo, lo)}..{_BOUNDS.get(hi, hi)}"
    if (rule == "type" and isinstance(v, Decimal) and "integer" in str(d.get("type"))
            and v.is_finite() and v == v.to_integral_value() and v.adjusted() < 24):
            return f"{where}{v} is not written as an integer (write {int(v)})"
    if rule == "pattern":
        return f"{where}{short_value(v)} is not lowercase hex with two digits per byte"
    if rule == "const":
        return f"{where}expected {json.dumps(d['const'])}, got {_describe(v)}"
    if desc and rule in ("type", "minItems", "maxItems", "additionalItems", "minLength"):
        return f"{where}expected {desc}, got {_describe(v)}"
    message: str = e.message
    return where + message.removeprefix(e.name).strip()


# --- the reader -----------------------------------------------------------------------------


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    obj = dict(pairs)
    if len(obj) != len(pairs):
        seen: set[str] = set()
        for key, _ in pairs:
            if key in seen:
                raise _DuplicateKey(key)
            seen.add(key)
    return obj


def _no_constants(name: str) -> Any:
    # Python's json accepts NaN and Infinity; JSON does not.
    raise ValueError(f"{name} is not JSON")


# Floats become Decimal so the schema's "integer" (which, per draft-07, admits 1.0)
# rejects them; duplicate keys are an error instead of "last one wins".
_JSON = json.JSONDecoder(
    parse_float=Decimal, parse_constant=_no_constants, object_pairs_hook=_no_duplicates
)


def _depth(v: Any) -> int:
    """How deeply lists and objects nest in v (without recursing, so any depth is safe)."""
    deepest, stack = 0, [(v, 1)]
    while stack:
        x, d = stack.pop()
        if isinstance(x, dict | list):
            deepest = max(deepest, d)
            stack.extend((y, d + 1) for y in (x.values() if isinstance(x, dict) else x))
    return deepest


def _undecimal(key: str, v: Any) -> Any:
    # Header metadata is free-form, so floats there are kept, as floats: finite ones,
    # since a trace written back must stay JSON (1e400 would become Infinity).
    if isinstance(v, Decimal):
        f = float(v)
        if not math.isfinite(f):
            raise _Bad(f"{key}: {_num(v)} is beyond the range of a double")
        return f
    if isinstance(v, dict):
        return {k: _undecimal(key, x) for k, x in v.items()}
    if isinstance(v, list):
        return [_undecimal(key, x) for x in v]
    return v


# A line the fast path read: kind, name, arguments (with the format's defaults),
# expectations, note, the JSON object, and where those three dicts hold a mutable value
# (a list or a dict): (0 args, 1 expectations, 2 the object; the field; how to copy it).
# Each repeat of the line gets its own dicts and its own copy of each of those.
_Copy = tuple[int, str, Callable[[Any], Any]]
_Decoded = tuple[str, str, dict[str, Any], dict[str, Any], str | None, dict[str, Any],
                 tuple[_Copy, ...], int]  # ... and the line's runs of bytes


def _json_copy(v: Any) -> Any:
    """A copy of a JSON value that shares no list or dict with it."""
    if type(v) is list:
        return [_json_copy(x) for x in v]
    if type(v) is dict:
        return {k: _json_copy(x) for k, x in v.items()}
    return v


def _copy_rows(v: list[list[Any]]) -> list[list[Any]]:
    return [row.copy() for row in v]


def _copies(nested: tuple[tuple[str, bool, Callable[[Any], Any]], ...],
            args: dict[str, Any], expect: dict[str, Any]) -> tuple[_Copy, ...]:
    """A line's copiers: each field `nested` names (name, is an argument, how to copy
    its JSON value) in the JSON object, and in the decoded fields where the decoded value
    is a list or dict too (a lock_state)."""
    out: tuple[_Copy, ...] = ()
    for key, is_arg, copy in nested:
        out += ((2, key, copy),)
        v = (args if is_arg else expect)[key]
        if type(v) is list or type(v) is dict:
            out += ((0 if is_arg else 1, key, _json_copy),)
    return out


def _own(parts: tuple[dict[str, Any], ...], copies: tuple[_Copy, ...]) -> None:
    """Replace, in dicts just copied, each mutable value by a copy of its own."""
    for i, k, copy in copies:
        d = parts[i]
        d[k] = copy(d[k])


_SEEN_LINES = 4096  # lines remembered decoded (then forgotten all at once, and again)
_SEEN_LENGTH = 1024  # bytes: longer lines are not remembered
_SEEN_PAUSE = 15 * _SEEN_LINES  # lines read without remembering, after a full `seen` rarely hit


def _runs(args: dict[str, Any], expect: dict[str, Any]) -> int:
    """The runs of bytes a step's data holds (MAX_RUNS bounds a trace's)."""
    n = 0
    for d in (args.get("data"), expect.get("data")):
        if isinstance(d, tuple):
            n += len(d)
    return n


class _Reader:
    """Line-at-a-time checker shared by the reader and the writer."""

    def __init__(self, path: str) -> None:
        self.path = path
        self.header: Header | None = None
        self.count = 0  # steps read so far
        self.bound: dict[str, int] = {}  # out name -> line that bound it
        self.runs = 0  # byte runs held so far, against MAX_RUNS
        # Lines read by the fast path, decoded: traces repeat lines (the same op at the
        # same offsets), and a line read before is decoded as before. Bounded by
        # _SEEN_LINES short lines, so memory stays flat with the trace's length.
        self.seen: dict[bytes, _Decoded] = {}
        self.hits = 0  # lines served from `seen` since it was last emptied
        self.pause = 0  # lines still to read without remembering them

    def error(self, line: int, message: str) -> TraceError:
        return TraceError(self.path, line, message)

    def feed_chunk(self, line: int, chunk: bytes) -> Step | None:
        """A line shorter than LONG_LINE, as bytes."""
        if self.header is not None:
            hit = self.seen.get(chunk)
            if hit is not None:
                self.hits += 1
                kind, name, args, expect, note, obj, copies, runs = hit
                # each step gets its own dicts, and its own copy of any list or dict in
                # them (most lines hold none): no step can change another's
                args, expect, obj = dict(args), dict(expect), dict(obj)
                if copies:
                    _own((args, expect, obj), copies)
                return self.checked_step(line, kind, name, args, expect, note, obj, runs, False)
            step = self.fast_step(line, chunk)
            if step is not None:
                return step
        return self.feed_bytes(line, chunk, 0, len(chunk))

    def feed_bytes(self, line: int, raw: bytes | mmap.mmap, a: int, b: int) -> Step | None:
        """Line `line`, the bytes raw[a:b] of a file: its step (None: the header or a
        blank line)."""
        try:
            if b - a < LONG_LINE:
                chunk = raw[a:b]
                if self.header is not None:
                    step = self.fast_step(line, chunk)
                    if step is not None:
                        return step
                text = chunk.decode("utf-8")
            else:
                text, _ = shrink_long_line(raw, a, b, MAX_RUNS - self.runs)
                if len(text) > MAX_LINE:
                    raise self.error(line, f"longer than {MAX_LINE >> 20} MiB, not counting "
                                     "the hex of its data")
                if text.count("[") > MAX_RUNS - self.runs + 64:  # before parsing them all
                    raise TooManyRuns(f"data: more than {MAX_RUNS:,} runs of bytes")
        except UnicodeDecodeError as e:
            raise self.error(line, f"not UTF-8: byte 0x{raw[a + e.start]:02x} at column "
                             f"{e.start + 1}") from None
        except TooManyRuns as e:
            raise self.error(line, str(e)) from None
        if text and not text.isspace():
            return self.feed(line, text)
        return None

    def fast_step(self, line: int, chunk: bytes) -> Step | None:
        """The step of a line in the usual shape, checked in one pass (orjson, then each
        field against its kind); None for anything else (a bad line, an escape, a rare
        spelling), which the exact path below reads or refuses with its message. Both
        give the same step (refinement_tests/tests/test_trace_fast.py)."""
        if b"\\" in chunk:
            return None
        try:
            obj = orjson.loads(chunk)
        except orjson.JSONDecodeError:
            return None
        if type(obj) is not dict:
            return None
        name = obj.get("call")
        if name is None:
            name = obj.get("event")
        if type(name) is not str:
            return None
        # The call and the fields' names in order: what every line of the same shape
        # shares, checked once (_shape_of).
        key = (name, *obj)
        shape = _SHAPES.get(key)
        if shape is None:
            shape = _shape_of(key)
            if shape is None:
                return None
        kind = shape.kind
        args: dict[str, Any] = {}
        expect: dict[str, Any] = {}
        note = None
        strings = shape.strings  # the keys, the call's name, a note (values below)
        nested: tuple[tuple[str, bool, Callable[[Any], Any]], ...] = ()  # lists, dicts
        if shape.note:
            note = obj["note"]
            if type(note) is not str:
                return None
        try:
            for key_, is_arg, check in shape.fields:
                value = obj[key_]
                # The two commonest kinds inline: a number, a handle name.
                if check is _fast_u64:
                    if type(value) is not int or not 0 <= value <= _U64_MAX:
                        return None
                elif check is _fast_name:
                    if type(value) is not str or not value:
                        return None
                    strings += 1
                else:
                    t = type(value)
                    if t is str:
                        strings += 1
                    elif t is list:
                        strings += sum(type(x) is str for x in value)
                        # the checks let through flat lists (flags) and lists of flat
                        # pairs (byte runs) only, and flat dicts (lock_state)
                        nested += ((key_, is_arg,
                                    _copy_rows if check is _fast_data else list.copy),)
                    elif t is dict:
                        strings += len(value)
                        nested += ((key_, is_arg, dict.copy),)
                    value = check(value)
                if is_arg:
                    args[key_] = value
                else:
                    expect[key_] = value
        except _Bad:
            return None
        # Without escapes every '"' opens or closes a string: a count short of the
        # strings found means orjson dropped a duplicate key.
        if 2 * strings != chunk.count(b'"'):
            return None
        runs = _runs(args, expect) if name in _WITH_DATA else 0
        step = self.checked_step(line, kind, name, args, expect, note, obj, runs)
        if self.pause:
            self.pause -= 1
        elif len(chunk) <= _SEEN_LENGTH:
            # kept apart from this step's dicts, which its reader may change
            kept = dict(args), dict(expect), dict(obj)
            copies = _copies(nested, args, expect) if nested else ()
            if copies:
                _own(kept, copies)
            self.remember(chunk, (kind, name, kept[0], kept[1], note, kept[2], copies, runs))
        return step

    def remember(self, chunk: bytes, decoded: _Decoded) -> None:
        """Keep a line's decoding. When `seen` is full it is emptied; if it served
        fewer repeats than a quarter of the lines it held, remembering costs more than
        it saves here (a line costs a microsecond to keep): the next _SEEN_PAUSE lines
        are not remembered."""
        if len(self.seen) >= _SEEN_LINES:
            if self.hits < _SEEN_LINES // 4:
                self.pause = _SEEN_PAUSE
            self.seen.clear()
            self.hits = 0
            if self.pause:
                return
        self.seen[chunk] = decoded

    def feed(self, line: int, text: str) -> Step | None:
        if line > 1 and text.startswith("\ufeff"):
            raise self.error(line, "a byte-order mark (U+FEFF) begins this line: only the "
                             "first line of a file may begin with one")
        try:
            obj = _JSON.decode(text)
        except _DuplicateKey as dup:
            raise self.error(line, f"duplicate field {short_value(dup.args[0])}") from None
        except json.JSONDecodeError as bad:
            raise self.error(line, f"invalid JSON: {bad.msg} (column {bad.colno})") from None
        except RecursionError:
            raise self.error(line, "invalid JSON: nested too deeply") from None
        except ValueError as bad:
            reason = str(bad)
            if "integer string conversion" in reason:  # Python's limit on int digits
                reason = "an integer with thousands of digits"
            raise self.error(line, f"invalid JSON: {reason}") from None
        if self.header is None:
            self.header = self.decode_header(line, obj)
            return None
        return self.decode_step(line, obj)

    def decode_header(self, line: int, obj: Any) -> Header:
        if not isinstance(obj, dict):
            raise self.error(line, f"header: expected a JSON object, got {_describe(obj)}")
        if "vmo_trace" not in obj:
            if "call" in obj or "event" in obj:
                raise self.error(
                    line, 'missing header: the first line must be {"vmo_trace": 1, ...}'
                )
            raise self.error(line, "header: missing field 'vmo_trace'")
        version = obj["vmo_trace"]
        if type(version) is int and version != FORMAT_VERSION:
            raise self.error(
                line,
                f"header: vmo_trace: unsupported version {version} "
                f"(this reader reads {FORMAT_VERSION})",
            )
        try:
            _compile("header")(obj)
        except fastjsonschema.JsonSchemaValueException as e:
            raise self.error(line, f"header: {_explain(e)}") from None
        page_size = obj["page_size"]
        if page_size & (page_size - 1):
            raise self.error(line, f"header: page_size: {page_size} is not a power of two")
        meta = {k: v for k, v in obj.items() if k not in ("vmo_trace", "page_size", "config")}
        if _depth(meta) > MAX_META_DEPTH:
            raise self.error(line, f"header: metadata nests more than {MAX_META_DEPTH} deep")
        try:
            meta = {k: _undecimal(short_value(k), v) for k, v in meta.items()}
        except _Bad as bad:
            raise self.error(line, f"header: {bad}") from None
        return Header(page_size, _default_config() | obj.get("config", {}), meta)

    def decode_step(self, line: int, obj: Any) -> Step:
        if not isinstance(obj, dict):
            raise self.error(line, f"expected a JSON object, got {_describe(obj)}")
        if "call" in obj:
            if "event" in obj:
                raise self.error(line, "a step has both call and event")
            kind = "call"
        elif "event" in obj:
            kind = "event"
        elif "vmo_trace" in obj:
            raise self.error(line, "a second header: only the first line is the header")
        else:
            raise self.error(line, "a step needs call or event")
        name = obj[kind]
        if not isinstance(name, str):
            raise self.error(line, f"{kind}: expected a name, got {_describe(name)}")
        compiled = _COMPILED.get((kind, name))
        if compiled is None:
            raise self.error(line, self.unknown_name(kind, name))
        if "not_run" in obj:
            # A step that did not run has no outcome; one beside not_run would go unchecked.
            recorded = [k for k, (is_arg, _) in compiled.fields.items()
                        if not is_arg and k in obj]
            if recorded:
                raise self.error(line, f"{name}: not_run: a step that was not run has no "
                                 f"outcomes, but this one records {recorded[0]!r}")
        try:
            compiled.validate(obj)
        except fastjsonschema.JsonSchemaValueException as e:
            raise self.error(line, f"{name}: {_explain(e)}") from None
        for field_ in obj.get("not_reported", ()):
            # Each is an outcome of this call that the recorder could not observe: it is
            # not judged, so it cannot be recorded beside (docs/trace-format.md).
            spec = compiled.fields.get(field_)
            if spec is None or spec[0] or field_ == "status":
                raise self.error(line, f"{name}: not_reported: {short_value(field_)} is not "
                                 "an outcome field of this call")
            if field_ in obj:
                raise self.error(line, f"{name}: not_reported: {field_!r} is recorded as "
                                 "well")

        args: dict[str, Any] = {}
        expect: dict[str, Any] = {}
        note = None
        fields = compiled.fields
        for key, value in obj.items():
            spec = fields.get(key)
            if spec is None:  # the call/event key or note: the schema allows nothing else
                if key == "note":
                    note = value
                continue
            is_arg, decode = spec
            if decode is not None:
                try:
                    value = decode(value)
                except _Bad as bad:
                    raise self.error(line, f"{name}: {key}: {bad}") from None
            if is_arg:
                args[key] = value
            else:
                expect[key] = value
        runs = _runs(args, expect) if name in _WITH_DATA else 0
        return self.checked_step(line, kind, name, args, expect, note, obj, runs)

    def checked_step(self, line: int, kind: str, name: str, args: dict[str, Any],
                     expect: dict[str, Any], note: str | None, obj: dict[str, Any],
                     runs: int, fresh: bool = True) -> Step:
        """What every path does once the fields are decoded, for a remembered line too:
        the format's defaults (`fresh`: not yet added), handle names bound once, the
        budget of byte runs (`runs`: this line's)."""
        if fresh and name == "vmo_op_range":
            # a LOCK gets a lock-state-sized buffer; buffer_null: the buffer is null
            if "buffer_size" not in args:
                args["buffer_size"] = abi.LOCK_STATE_SIZE if args["op"] == abi.OP_LOCK else 0
            args["buffer_null"] = args.pop("buffer", False)
        out = args.get("out")
        if out is not None:
            self.bind(line, name, out)
        if runs:
            self.runs += runs
            if self.runs > MAX_RUNS:
                raise self.error(line, f"{name}: data: the trace holds more than "
                                 f"{MAX_RUNS:,} runs of bytes in all")
        self.count += 1
        return Step(self.count, line, kind, name, args, expect, note, obj)

    def bind(self, line: int, name: str, out: str) -> None:
        if out == INVALID_HANDLE_NAME:
            raise self.error(line, f"{name}: out: {out!r} always names the invalid handle")
        earlier = self.bound.get(out)
        if earlier is not None:
            raise self.error(
                line, f"{name}: out: {short_value(out)} is already bound (on line {earlier})")
        self.bound[out] = line

    @staticmethod
    def unknown_name(kind: str, name: str) -> str:
        other, article = ("event", "an") if kind == "call" else ("call", "a")
        if name in _NAMES[other]:
            return f'unknown {kind} {name!r} ({name} is {article} {other}: write "{other}": ...)'
        close = difflib.get_close_matches(name[:100], _NAMES[kind], n=1)
        hint = f" (did you mean {close[0]!r}?)" if close else ""
        return f"unknown {kind} {short_value(name)}{hint}"

    def finish(self) -> Header:
        if self.header is None:
            raise self.error(0, "empty trace: no header line")
        return self.header


def parse_trace_text(text: str, path: str = "<string>") -> Trace:
    reader = _Reader(path)
    steps: list[Step] = []
    # RFC 8259 lets a parser ignore a byte-order mark; some editors write one.
    text = text.removeprefix("\ufeff")
    with _gc_paused():
        # Split on "\n" only: str.splitlines also breaks at U+2028 inside JSON strings.
        for number, line in enumerate(text.split("\n"), 1):
            if line and not line.isspace():
                step = reader.feed(number, line)
                if step is not None:
                    steps.append(step)
    return Trace(path, reader.finish(), steps)


_FILE_KINDS = (
    (stat.S_ISLNK, "a symbolic link"),
    (stat.S_ISDIR, "a directory"),
    (stat.S_ISFIFO, "a FIFO (named pipe)"),
    (stat.S_ISCHR, "a character device"),
    (stat.S_ISBLK, "a block device"),
    (stat.S_ISSOCK, "a socket"),
)


def file_kind(mode: int) -> str | None:
    """What a file of this st_mode is, in words, unless it is a regular file (None)."""
    for test, what in _FILE_KINDS:
        if test(mode):
            return what
    return None if stat.S_ISREG(mode) else "not a regular file"


@contextlib.contextmanager
def _mapped_regular_file(name: str) -> Iterator[mmap.mmap | bytes]:
    """A regular file's bytes, mapped (an empty file: b""); TraceError with one line for
    anything else (a device such as /dev/zero reads forever, a FIFO blocks: both are
    refused, unread)."""
    try:
        # O_NONBLOCK: opening a FIFO must not wait for a writer before it is refused.
        fd = os.open(name, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
    except FileNotFoundError:
        raise TraceMissing(name, 0, "no such file") from None
    except OSError as e:
        raise TraceError(name, 0, f"cannot read: {e.strerror or e}") from None
    try:
        st = os.fstat(fd)
        what = file_kind(st.st_mode)
        if what == "a directory":
            raise TraceError(name, 0, "is a directory, not a trace file")
        if what is not None:
            raise TraceError(name, 0, f"is {what}, not a regular file")
        # The mapping keeps the file open on its own.
        mapped = mmap.mmap(fd, 0, access=mmap.ACCESS_READ) if st.st_size else None
    except OSError as e:
        raise TraceError(name, 0, f"cannot read: {e.strerror or e}") from None
    finally:
        os.close(fd)
    if mapped is None:
        yield b""
        return
    with mapped:
        yield mapped


_RELEASE = 1 << 22  # bytes of the mapping read before they are let go (4 MiB)


@dataclass(slots=True)
class TraceStream:
    """A trace file being read: its header, then its steps as they are read (each line
    checked as it comes: TraceError at the first bad one)."""

    path: str
    header: Header
    steps: Iterator[Step]

    def __iter__(self) -> Iterator[Step]:
        return self.steps


@contextlib.contextmanager
def open_trace(path: str | Path) -> Iterator[TraceStream]:
    """Open a trace file to read it step by step. The file is mapped and read a line at
    a time; lines read are let go of, so memory follows neither the file nor the
    number of steps, only the longest line and what the caller keeps."""
    name = str(path)
    reader = _Reader(name)
    with _mapped_regular_file(name) as raw:
        lines = _file_lines(reader, raw)
        for _ in lines:
            if reader.header is not None:
                break
        header = reader.finish()
        yield TraceStream(name, header, (s for s in lines if s is not None))


def _file_lines(reader: _Reader, raw: mmap.mmap | bytes) -> Iterator[Step | None]:
    """Each line's step (None: the header, a blank line)."""
    # RFC 8259 lets a parser ignore a byte-order mark; some editors write one.
    start = 3 if raw[:3] == b"\xef\xbb\xbf" else 0
    released = number = 0
    size = len(raw)
    while start <= size:
        # The lines that end within the next LONG_LINE bytes are short: split at once.
        stop = raw.rfind(b"\n", start, start + LONG_LINE)
        if stop >= start:
            for chunk in raw[start:stop].split(b"\n"):
                number += 1
                yield reader.feed_chunk(number, chunk)
            start = stop + 1
        else:  # a long line (or the last): searched a slice at a time
            end = find(raw, b"\n", start, size)
            end = size if end < 0 else end
            number += 1
            yield reader.feed_bytes(number, raw, start, end)
            start = end + 1
        if isinstance(raw, mmap.mmap) and start - released >= _RELEASE:
            upto = start - start % mmap.PAGESIZE
            raw.madvise(mmap.MADV_DONTNEED, released, upto - released)
            released = upto


def read_trace(path: str | Path) -> Trace:
    """Read and check a whole trace file (open_trace reads it a step at a time)."""
    with open_trace(path) as stream, _gc_paused():
        steps = list(stream)
        return Trace(stream.path, stream.header, steps)


@contextlib.contextmanager
def _gc_paused() -> Iterator[None]:
    # The cyclic GC would rescan the growing step list again and again (half the time
    # on 100k steps); parsing makes no cycles, so it is paused meanwhile.
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


# --- the writer -----------------------------------------------------------------------------


def _encode_flags(kind: str, mask: int) -> list[str | int]:
    table, _ = _FLAG_TABLES[kind]
    out: list[str | int] = []
    rest = mask
    for name, bit in sorted(table.items(), key=lambda item: item[1]):
        if bit and mask & bit == bit:
            out.append(name)
            rest &= ~bit
    if rest:
        out.append(rest)  # bits without a name stay visible as a number
    return out


def _encode_status(s: int) -> str | int:
    return abi.STATUS_NAMES.get(s, s)


def _encode_status_expect(v: StatusExpect | int) -> Any:
    if isinstance(v, int):
        return _encode_status(v)
    names = [_encode_status(s) for s in sorted(v.statuses, reverse=True)]
    if v.negate:
        return {"not": names}
    return names[0] if len(names) == 1 else names


def _encode_data(v: Data | bytes) -> str | list[list[int]]:
    return data_to_json(data_from_bytes(v) if isinstance(v, bytes | bytearray) else v)


def _encode(kind: str, v: Any) -> Any:
    if kind == "op":
        return abi.OP_NAMES.get(v, v)
    if kind in _FLAG_TABLES:
        return _encode_flags(kind, v)
    if kind == "status":
        return _encode_status(v)
    if kind == "cache_policy":
        return abi.CACHE_POLICY_NAMES.get(v, v)
    if kind == "status_expect":
        return _encode_status_expect(v)
    if kind == "data":
        return _encode_data(v)
    if kind == "lock_state":
        return {k: v[k] for k in LOCK_STATE_KEYS if k in v}
    return v


def step_to_json(
    name: str,
    kind: str,
    args: dict[str, Any],
    outcome: dict[str, Any],
    note: str | None = None,
) -> dict[str, Any]:
    """The JSON object of one step from decoded values (the inverse of reading).

    Raises ValueError for an unknown step, a missing argument or an unknown key. Data
    may be given as bytes; a status outcome as a plain int or a StatusExpect.
    """
    sig = SIGNATURES.get((kind, name))
    if sig is None:
        raise ValueError(f"unknown {kind} {name!r}")
    arg_specs, outcome_specs = sig
    obj: dict[str, Any] = {kind: name}
    allowed = set()
    for key, k in arg_specs:
        if name == "vmo_op_range" and key in ("buffer_size", "buffer"):
            continue
        allowed.add(key)
        if key not in args:
            raise ValueError(f"{name}: missing argument {key!r}")
        obj[key] = _encode(k, args[key])
    if name == "vmo_op_range":
        allowed |= {"buffer_size", "buffer_null"}
        default = abi.LOCK_STATE_SIZE if args["op"] == abi.OP_LOCK else 0
        if args.get("buffer_size", default) != default:
            obj["buffer_size"] = args["buffer_size"]
        if args.get("buffer_null", False):
            obj["buffer"] = None
    extra = set(args) - allowed
    if extra:
        raise ValueError(f"{name}: unknown argument(s) {sorted(extra)}")
    outcome_kinds = dict(outcome_specs)
    extra = set(outcome) - set(outcome_kinds)
    if extra:
        raise ValueError(f"{name}: unknown outcome(s) {sorted(extra)}")
    for key, k in outcome_specs:
        if key in outcome:
            obj[key] = _encode(k, outcome[key])
    if note is not None:
        obj["note"] = note
    return obj


def header_to_json(h: Header) -> dict[str, Any]:
    obj: dict[str, Any] = {"vmo_trace": FORMAT_VERSION, "page_size": h.page_size}
    config = _default_config() | h.config
    if any(config.values()):  # all-default config is left out, as a hand-written one would
        obj["config"] = config
    for key, value in h.meta.items():
        if key in ("vmo_trace", "page_size", "config"):
            raise ValueError(f"header meta may not hold the reserved key {key!r}")
        obj[key] = value
    return obj


def write_trace(path: str | Path, header: Header, steps: Iterable[dict[str, Any]]) -> None:
    """Write a trace atomically: a temporary file in the same directory, then os.replace.

    Every line is checked as the reader would check it, so a malformed trace raises
    TraceError (line numbers as in the file that would have been written) and, like
    any exception, leaves an existing file at `path` untouched.
    """
    target = Path(path)
    tmp = target.with_name(f".{target.name}.{secrets.token_hex(4)}.tmp")
    # O_EXCL: never clobber another writer's temp file; mode 0o666 lets the umask apply.
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="\n") as f:
            for text in trace_lines(str(path), header, steps):
                f.write(text)
                f.write("\n")
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, target)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise
    _fsync_dir(target.parent)


def trace_lines(path: str, header: Header, steps: Iterable[dict[str, Any]]) -> Iterator[str]:
    """The lines of a trace, each checked as the reader would check it (TraceError, with
    `path` and the line number, at the first that is not valid)."""
    checker = _Reader(path)
    texts = itertools.chain((header_to_json(header),), steps)
    for number, obj in enumerate(texts, 1):
        try:
            text = json.dumps(obj, allow_nan=False)
        except ValueError as e:  # NaN or an infinity
            raise TraceError(path, number, f"not JSON: {e}") from None
        checker.feed(number, text)
        yield text


def _fsync_dir(directory: Path) -> None:
    # Makes the rename itself durable; not possible everywhere, and not needed for atomicity.
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)
