"""What `vmospec explore` explores: a page size and families of objects, each with the
trace steps that create it and the alphabet of calls and events run on it.

A family is a set of handles whose objects only ever reach each other (a VMO, its
children and duplicates; a pager and its VMO). No call names handles of two families,
so a state of the whole configuration is one state per family, and the explorer learns
each family's transitions once (refinement_tests/explore.py).

A configuration file (`--config FILE`) is JSON of the same form as `REFERENCE`:
`{"page_size": 4096, "families": [{"name": ..., "setup": [step, ...], "alphabet":
[step, ...]}]}`, each step a vmo-trace step without outcome fields.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from refinement_tests.trace import Step, TraceError, parse_trace_text
from spec.abi import U64_MAX


class ConfigError(Exception):
    """A configuration that cannot be explored; the message names what and where."""


@dataclass(frozen=True)
class Family:
    name: str
    setup: tuple[Step, ...]
    alphabet: tuple[Step, ...]


@dataclass(frozen=True)
class Config:
    page: int
    families: tuple[Family, ...]
    source: str  # where it came from, for messages and trace headers


P = 4096
TOP = U64_MAX - P + 1  # a page-aligned offset whose range end wraps past 2^64


def _op(h: str, op: str, offset: int, size: int, **extra: Any) -> dict[str, Any]:
    return {"call": "vmo_op_range", "vmo": h, "op": f"ZX_VMO_OP_{op}", "offset": offset,
            "size": size, **extra}


def _rw(h: str, pages: int) -> list[dict[str, Any]]:
    """A one-byte write, a whole-page write and a read of every page."""
    return [
        {"call": "vmo_write", "vmo": h, "offset": 0, "data": [[7, 1]]},
        {"call": "vmo_write", "vmo": h, "offset": P, "data": [[9, P]]},
        {"call": "vmo_read", "vmo": h, "offset": 0, "length": pages * P},
    ]


def _anonymous() -> dict[str, Any]:
    """One 2-page VMO `a`; a snapshot `s`, a slice `l` of its second page and a
    read-through child (reference) `r` of it; a read-only duplicate `d`."""
    a = "a"
    alphabet: list[dict[str, Any]] = [
        {"call": "vmo_create_child", "vmo": a, "options": ["ZX_VMO_CHILD_SNAPSHOT"],
         "offset": 0, "size": 2 * P, "out": "s"},
        {"call": "vmo_create_child", "vmo": a, "options": ["ZX_VMO_CHILD_SLICE"],
         "offset": P, "size": P, "out": "l"},
        {"call": "vmo_create_child", "vmo": a, "options": ["ZX_VMO_CHILD_REFERENCE"],
         "offset": 0, "size": 0, "out": "r"},
        {"call": "handle_duplicate", "handle": a, "rights": ["ZX_RIGHT_READ"], "out": "d"},
        _op(a, "COMMIT", 0, 2 * P),
        _op(a, "DECOMMIT", 0, P),
        _op(a, "DECOMMIT", 1, P),
        _op(a, "ZERO", 0, 1),
        _op(a, "ZERO", P, 2 * P),
        _op(a, "CACHE_CLEAN", 0, 2 * P),
        _op(a, "DONT_NEED", 0, P),
        _op(a, "COMMIT", TOP, 2 * P),
        *_rw(a, 2),
        {"call": "vmo_info", "vmo": a},
        _op("s", "COMMIT", 0, P),
        _op("s", "DECOMMIT", 0, P),
        _op("s", "ZERO", 0, 1),
        *_rw("s", 2),
        _op("l", "ZERO", 0, P),
        {"call": "vmo_write", "vmo": "l", "offset": 0, "data": [[5, 1]]},
        {"call": "vmo_read", "vmo": "l", "offset": 0, "length": P},
        _op("r", "DECOMMIT", 0, 2 * P),
        {"call": "vmo_write", "vmo": "r", "offset": 0, "data": [[6, 1]]},
        _op("d", "ZERO", 0, P),
        {"call": "vmo_write", "vmo": "d", "offset": 0, "data": [[8, 1]]},
        {"call": "vmo_read", "vmo": "d", "offset": 0, "length": 2 * P},
        *({"call": "handle_close", "handle": h} for h in (a, "s", "l", "r", "d")),
    ]
    return {"name": "anonymous",
            "setup": [{"call": "vmo_create", "size": 2 * P, "options": [], "out": a}],
            "alphabet": alphabet}


def _discardable() -> dict[str, Any]:
    """One 1-page discardable VMO `v`: its lock machine (discardable.states) under every call."""
    v = "v"
    return {"name": "discardable",
            "setup": [{"call": "vmo_create", "size": P, "options": ["ZX_VMO_DISCARDABLE"],
                       "out": v}],
            "alphabet": [
                _op(v, "LOCK", 0, P),
                _op(v, "LOCK", 0, P, buffer=None),
                _op(v, "TRY_LOCK", 0, P),
                _op(v, "UNLOCK", 0, P),
                _op(v, "UNLOCK", 0, 1),
                _op(v, "COMMIT", 0, P),
                _op(v, "DECOMMIT", 0, P),
                _op(v, "ZERO", 0, 1),
                {"call": "vmo_write", "vmo": v, "offset": 0, "data": [[7, 1]]},
                {"call": "vmo_read", "vmo": v, "offset": 0, "length": P},
                {"event": "reclaim", "vmo": v},
                {"call": "vmo_info", "vmo": v},
                {"call": "handle_close", "handle": v},
            ]}


def _pager() -> dict[str, Any]:
    """A pager `p` and a 2-page VMO `q` it backs: its per-page machine (absent,
    supplied, dirty, failed) under supply, fail, writes, ZERO, hints and reclaim."""
    q = "q"
    return {"name": "pager",
            "setup": [{"call": "pager_create", "out": "p"},
                      {"call": "pager_create_vmo", "pager": "p", "options": [], "size": 2 * P,
                       "out": q}],
            "alphabet": [
                {"call": "pager_supply_pages", "pager": "p", "vmo": q, "offset": 0,
                 "length": P},
                {"call": "pager_supply_pages", "pager": "p", "vmo": q, "offset": P,
                 "length": P},
                {"call": "pager_fail", "pager": "p", "vmo": q, "offset": 0, "length": P,
                 "error": "ZX_ERR_IO"},
                _op(q, "COMMIT", 0, P),
                _op(q, "ZERO", 0, P),
                _op(q, "DECOMMIT", 0, P),
                _op(q, "ALWAYS_NEED", 0, P),
                _op(q, "DONT_NEED", 0, P),
                {"call": "vmo_write", "vmo": q, "offset": P, "data": [[7, 1]]},
                {"call": "vmo_read", "vmo": q, "offset": 0, "length": 2 * P},
                {"event": "reclaim", "vmo": q},
                {"call": "vmo_info", "vmo": q},
                {"call": "handle_close", "handle": "p"},
            ]}


REFERENCE: dict[str, Any] = {"page_size": P,
                             "families": [_anonymous(), _discardable(), _pager()]}


def _steps(raw: Any, page: int, where: str) -> tuple[Step, ...]:
    if not isinstance(raw, list) or not all(isinstance(s, dict) for s in raw):
        raise ConfigError(f"{where}: expected a list of trace steps (JSON objects)")
    text = "\n".join([json.dumps({"vmo_trace": 1, "page_size": page}),
                      *(json.dumps(s) for s in raw)])
    try:
        return tuple(parse_trace_text(text, where).steps)
    except TraceError as e:
        raise ConfigError(str(e)) from None


def load(raw: Any, source: str) -> Config:
    """A configuration from its JSON form; ConfigError names what is wrong and where."""
    if not isinstance(raw, dict):
        raise ConfigError(f"{source}: expected a JSON object")
    page = raw.get("page_size", P)
    if not isinstance(page, int) or page < 512 or page & (page - 1):
        raise ConfigError(f"{source}: page_size must be a power of two >= 512")
    fams = raw.get("families")
    if not isinstance(fams, list) or not fams:
        raise ConfigError(f"{source}: 'families' must be a non-empty list")
    out = []
    for n, f in enumerate(fams):
        if not isinstance(f, dict) or not isinstance(f.get("name"), str):
            raise ConfigError(f"{source}: families[{n}] needs a 'name'")
        where = f"{source}: family {f['name']}"
        out.append(Family(f["name"], _steps(f.get("setup", []), page, f"{where} setup"),
                          _steps(f.get("alphabet", []), page, f"{where} alphabet")))
    return Config(page, tuple(out), source)


def read(path: str | Path) -> Config:
    try:
        raw = json.loads(Path(path).read_text(encoding="utf-8"))
    except OSError as e:
        raise ConfigError(f"{path}: {e.strerror or e}") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise ConfigError(f"{path}: not JSON: {e}") from None
    return load(raw, str(path))


def reference() -> Config:
    return load(REFERENCE, "reference")
