"""What `vmospec prove` remembers: each obligation's result, under what it depends on.

A result may be reused only if nothing it depends on has changed. It depends on:
- the z3 version, the resource budget (`--rlimit`) and this cache's format;
- the obligation itself (invariant, profile, shape, handle, step);
- the code the verdict is computed from. That is the spec and the prover's own modules
  (`CODE`), and nothing else of this project (a test runs obligations under a tracer
  and checks it). Each of these files counts whole, except the files of ops and
  invariants (`FINE`): there an obligation depends on the module's skeleton (the file
  without the bodies of its top-level functions) and on each top-level function whose
  code ran while the obligation's step was explored and its claim built. Functions are
  compared by their syntax tree, so comments and layout do not count.

Why that is enough: the verdict is a function of the formulas given to z3 (and z3's
version and budget); the formulas are built by running Python code deterministically.
If every function that ran is unchanged and everything else those functions could read
(module-level code and data, classes, other files) is unchanged, the same code runs on
the same data and builds the same formulas. A function called at import time (a
decorator, or a factory whose closures are tabled) stays in the skeleton, since its
effects outlive the call. A function that did not run cannot have influenced the
formulas, unless it is read as data (by introspection), which this code never does.

Results live in one SQLite file (default `out/prove-cache/prove-results.sqlite`), one
row per obligation; a stale row is replaced when the obligation is proved again.
"""

from __future__ import annotations

import ast
import contextlib
import hashlib
import json
import sqlite3
import sys
from collections.abc import Iterator
from functools import cache
from pathlib import Path
from types import FrameType
from typing import Any

import z3

FORMAT = 1
ROOT = Path(__file__).resolve().parent.parent
DEFAULT_DIR = Path("out/prove-cache")
# What a verdict is computed from (a test checks no other file of ours runs).
CODE = sorted([*(ROOT / "spec").glob("*.py"), *(
    ROOT / "proofs" / name for name in (
        "__init__.py", "cache.py", "catalogue.py", "engine.py", "logic.py", "prover.py",
        "shapes.py", "steps.py", "wellformed.py"))])
# The files whose functions are tracked one by one: the ops, the calls, the invariants.
FINE = frozenset(ROOT / name for name in ("spec/op_range.py", "spec/calls.py",
                                          "proofs/catalogue.py"))
_FINE_NAMES = frozenset(str(p) for p in FINE)


def _digest(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def _split(path: Path) -> tuple[str, dict[str, str]]:
    """A FINE file as its skeleton's digest and a digest per top-level function that
    can be tracked alone."""
    tree = ast.parse(path.read_text(), str(path))
    funcs = {n.name: n for n in tree.body if isinstance(n, ast.FunctionDef | ast.AsyncFunctionDef)}
    skeleton = ast.Module(body=[], type_ignores=[])
    for node in tree.body:
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            # the signature and decorators run at import: they stay in the skeleton
            stub = ast.FunctionDef(name=node.name, args=node.args, body=[ast.Pass()],
                                   decorator_list=node.decorator_list, returns=node.returns)
            skeleton.body.append(stub)
        else:
            skeleton.body.append(node)
    # Functions called (or used as decorators) at import time stay whole in the skeleton.
    at_import: set[str] = set()
    for sub in ast.walk(skeleton):
        if isinstance(sub, ast.Call) and isinstance(sub.func, ast.Name):
            at_import.add(sub.func.id)
        if isinstance(sub, ast.FunctionDef):
            at_import.update(d.id for d in sub.decorator_list if isinstance(d, ast.Name))
    whole = [ast.dump(funcs[n]) for n in sorted(at_import & funcs.keys())]
    own = {n: _digest(ast.dump(f)) for n, f in funcs.items() if n not in at_import}
    return _digest(ast.dump(skeleton) + "".join(whole)), own


@cache
def code_state(root: Path = ROOT) -> tuple[str, dict[str, str]]:
    """The digest of everything an obligation depends on as a whole, and the digest of
    each separately tracked function (`file:function`), for the code under `root`."""
    parts, funcs = [], {}
    for path in CODE:
        rel = path.relative_to(ROOT).as_posix()
        if path in FINE:
            skeleton, own = _split(root / rel)
            parts.append(f"{rel} skeleton {skeleton}")
            funcs.update({f"{rel}:{n}": d for n, d in own.items()})
        else:
            tree = ast.parse((root / rel).read_text(), rel)
            parts.append(f"{rel} {_digest(ast.dump(tree))}")
    return _digest("\n".join(parts)), funcs


@contextlib.contextmanager
def tracking(into: set[str]) -> Iterator[None]:
    """Record into `into` the FINE top-level functions whose code runs meanwhile (a
    nested function, lambda or comprehension counts as the function around it)."""

    def tracer(frame: FrameType, event: str, arg: Any) -> None:
        code = frame.f_code
        if code.co_filename in _FINE_NAMES:
            top = code.co_qualname.split(".", 1)[0]
            into.add(f"{Path(code.co_filename).relative_to(ROOT).as_posix()}:{top}")

    previous = sys.gettrace()
    sys.settrace(tracer)
    try:
        yield
    finally:
        sys.settrace(previous)


class ProofCache:
    """One SQLite file of results, keyed by obligation name."""

    def __init__(self, directory: Path, rlimit: int) -> None:
        directory.mkdir(parents=True, exist_ok=True)
        self.path = directory / "prove-results.sqlite"
        self.db = sqlite3.connect(self.path, timeout=60)
        self.db.execute("CREATE TABLE IF NOT EXISTS results (name TEXT PRIMARY KEY, "
                        "entry TEXT NOT NULL)")
        base, self.funcs = code_state()
        self.material = {"format": FORMAT, "z3": z3.get_full_version(), "rlimit": rlimit,
                         "code": base}

    def get(self, name: str) -> dict[str, Any] | None:
        """The stored result of the obligation, if nothing it depends on changed."""
        row = self.db.execute("SELECT entry FROM results WHERE name = ?", (name,)).fetchone()
        if row is None:
            return None
        entry: dict[str, Any] = json.loads(row[0])
        if entry.get("material") != self.material:
            return None
        if any(self.funcs.get(f) != d for f, d in entry["depends"].items()):
            return None
        result: dict[str, Any] = entry["result"]
        return result

    def put(self, rows: list[tuple[str, list[str], dict[str, Any]]]) -> None:
        """Store results: (obligation name, the functions it ran, the result). A function
        that ran but is not tracked alone (one run at import time) is in the skeleton."""
        with self.db:
            self.db.executemany(
                "INSERT OR REPLACE INTO results (name, entry) VALUES (?, ?)",
                [(name, json.dumps({"material": self.material,
                                    "depends": {f: self.funcs[f] for f in deps if f in self.funcs},
                                    "result": result}, sort_keys=True))
                 for name, deps, result in rows])

    def close(self) -> None:
        self.db.close()
