"""The `device` backend: whole traces, in batches, to the trace runner (runner.c).

A batch is compiled from vmo-trace steps into the runner's compact input, sent in one
round trip (one process run of the runner command, which may reach a device over any
link), and the compact output is decoded back into observed outcomes, per step, in the
form the checker compares (refinement_tests/backends.py). The formats are described in
notes/device.md.

Without `--runner`, the host build is used: runner.c against host/ (a Linux
implementation of the syscalls), built on demand with make into build/device.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import re
import shlex
import shutil
import signal
import subprocess
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from refinement_tests.backends import BackendError
from refinement_tests.trace import (
    INVALID_HANDLE_NAME,
    MAX_RUNS,
    Header,
    data_from_runs,
    step_to_json,
)
from spec import abi

__all__ = [
    "BatchStep",
    "BatchTrace",
    "DeviceBackend",
    "RunnerFailed",
    "build_host_runner",
    "compile_batch",
    "observed_json",
    "parse_results",
]

SOURCE_DIR = Path(__file__).resolve().parent
HANDLE_ARGS = ("vmo", "handle", "pager")
NOT_RUN = "not_run"  # the observed field of a step the runner could not run
NOT_REPORTED = "not_reported"  # the outcome fields the runner could not observe
# ZX_INFO_VMO's attribution fields of the 2024+ struct, in the order the runner prints them
# after the flags; "-" for each where its build has no such field (the host build).
ATTRIBUTION = ("committed_private_bytes", "populated_private_bytes", "committed_scaled_bytes",
               "populated_scaled_bytes", "committed_fractional_scaled_bytes",
               "populated_fractional_scaled_bytes")

BatchStep = tuple[str, str, Mapping[str, Any]]  # (name, "call"/"event", decoded args)


@dataclass(frozen=True)
class BatchTrace:
    header: Header
    steps: Sequence[BatchStep]


@dataclass
class RunnerFailed(BackendError):
    """The runner could not finish a batch. `observed` holds, per trace, what came back:
    every trace before `complete` in full, the next one as far as it got."""

    message: str
    observed: list[list[dict[str, Any]]] = field(default_factory=list)
    complete: int = 0

    def __str__(self) -> str:
        return self.message


# --- building the host runner ---------------------------------------------------------------


def _build_dir() -> Path:
    override = os.environ.get("VMOSPEC_BUILD_DIR")
    if override:
        return Path(override)
    repo = SOURCE_DIR.parent.parent
    if (repo / "pyproject.toml").is_file() and os.access(repo, os.W_OK):
        return repo / "build" / "device"
    cache = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    digest = hashlib.sha256(str(SOURCE_DIR).encode()).hexdigest()[:12]
    return cache / "vmospec" / f"device-{digest}"


def build_host_runner(sanitized: bool = False, build_dir: Path | None = None) -> Path:
    """The host runner binary, (re)built with make if its sources changed; BackendError
    with one line if it cannot be built."""
    out = build_dir or _build_dir()
    target = "asan" if sanitized else "host"
    binary = out / ("vmospec-runner-asan" if sanitized else "vmospec-runner")
    make = shutil.which("make")
    cc = os.environ.get("CC", "cc")
    if make is None:
        raise BackendError("cannot build the host runner: 'make' is not installed "
                           "(install make and a C11 compiler, or pass --runner)")
    if shutil.which(cc.split()[0] if cc.split() else "cc") is None:
        raise BackendError(f"cannot build the host runner: no C compiler ({cc!r} not found; "
                           "install one, set CC, or pass --runner)")
    try:
        r = subprocess.run([make, "-s", "-C", str(SOURCE_DIR), f"BUILD={out}", target],
                           capture_output=True, text=True, timeout=300)
    except (OSError, subprocess.TimeoutExpired) as e:
        raise BackendError(f"cannot build the host runner: {e}") from None
    if r.returncode != 0 or not binary.is_file():
        lines = (r.stderr or r.stdout).strip().splitlines()
        raise BackendError("cannot build the host runner: "
                           + (lines[-1] if lines else f"make exited with {r.returncode}"))
    return binary


# --- the compact input ------------------------------------------------------------------------


def _names(steps: Sequence[BatchStep]) -> dict[str, int]:
    index: dict[str, int] = {}
    for _name, _kind, args in steps:
        for key in (*HANDLE_ARGS, "out"):
            n = args.get(key)
            if isinstance(n, str) and n != INVALID_HANDLE_NAME and n not in index:
                index[n] = len(index)
    return index


def _step_line(name: str, args: Mapping[str, Any], ix: dict[str, int]) -> str:
    def h(key: str) -> str:
        n = args[key]
        return "-" if n == INVALID_HANDLE_NAME else str(ix[n])

    a = args
    if name == "vmo_create":
        return f"create {a['size']} {a['options']} {h('out')}"
    if name == "vmo_create_contiguous":
        return f"contig {a['size']} {a['alignment_log2']} {h('out')}"
    if name == "vmo_create_physical":
        return f"phys {a['paddr']} {a['size']} {h('out')}"
    if name == "vmo_create_child":
        return f"child {h('vmo')} {a['options']} {a['offset']} {a['size']} {h('out')}"
    if name == "handle_duplicate":
        return f"dup {h('handle')} {a['rights']} {h('out')}"
    if name == "handle_close":
        return f"close {h('handle')}"
    if name == "vmo_op_range":
        null = 1 if a.get("buffer_null") else 0
        return f"op {h('vmo')} {a['op']} {a['offset']} {a['size']} {a['buffer_size']} {null}"
    if name == "vmo_read":
        return f"read {h('vmo')} {a['offset']} {a['length']}"
    if name == "vmo_write":
        runs = " ".join(f"{b} {c}" for b, c in a["data"])
        return f"write {h('vmo')} {a['offset']} {len(a['data'])}" + (f" {runs}" if runs else "")
    if name == "vmo_get_size":
        return f"getsize {h('vmo')}"
    if name == "vmo_set_size":
        return f"setsize {h('vmo')} {a['size']}"
    if name == "vmo_info":
        return f"info {h('vmo')}"
    if name == "vmo_set_cache_policy":
        return f"cachepolicy {h('vmo')} {a['cache_policy']}"
    if name == "pager_create":
        return f"pager {h('out')}"
    if name == "pager_create_vmo":
        return f"pagervmo {h('pager')} {a['options']} {a['size']} {h('out')}"
    if name == "pager_supply_pages":
        return f"supply {h('pager')} {h('vmo')} {a['offset']} {a['length']}"
    if name == "pager_fail":
        return f"fail {h('pager')} {h('vmo')} {a['offset']} {a['length']} {a['error']}"
    if name == "reclaim":
        return f"reclaim {h('vmo')}"
    raise BackendError(f"the device runner does not know the step {name!r}")


_NUMBERS = ("size", "options", "offset", "rights", "op", "length", "buffer_size",
            "cache_policy", "alignment_log2", "paddr")


def _check_numbers(i: int, t: BatchTrace) -> None:
    for k, (name, _kind, args) in enumerate(t.steps, 1):
        for key in _NUMBERS:
            x = args.get(key)
            if isinstance(x, int) and not 0 <= x <= abi.U64_MAX:
                raise BackendError(f"trace {i + 1}, step {k} ({name}): {key} {x} is not a u64, "
                                   "so vmo-trace v1 cannot carry it")


def compile_batch(traces: Sequence[BatchTrace], memory: int | None = None) -> str:
    """The runner's input for these traces (notes/device.md, "input"), with the host
    build's memory budget in bytes if given; BackendError for a step whose numbers a
    vmo-trace cannot hold."""
    out = ["vmorun 1"] + ([f"memory {memory}"] if memory is not None else [])
    for i, t in enumerate(traces):
        _check_numbers(i, t)
        ix = _names(t.steps)
        cfg = t.header.config
        out.append(f"trace {t.header.page_size} {int(cfg['debugging_syscalls'])} "
                   f"{int(cfg['page_loaning'])} {len(ix)} {len(t.steps)}")
        out += [_step_line(name, args, ix) for name, _kind, args in t.steps]
        out.append("end")
    out.append("done")
    return "\n".join(out) + "\n"


# --- the compact output -----------------------------------------------------------------------


class _Garbage(Exception):
    pass


class _Unholdable(Exception):
    """A well-formed answer no vmo-trace can hold."""


_INT = re.compile(r"-?[0-9]{1,20}")  # ASCII digits only: int() would take "1_0" or "٣"
_I32 = (-(1 << 31), (1 << 31) - 1)
_U64 = (0, abi.U64_MAX)


def _ints(tokens: Sequence[str]) -> list[int]:
    if not all(_INT.fullmatch(t) for t in tokens):
        raise _Garbage("expected numbers")
    return [int(t) for t in tokens]


def _within(what: str, values: Sequence[int], bounds: tuple[int, int]) -> None:
    # The runner's answers are held to the bounds a trace's outcomes are held to.
    lo, hi = bounds
    for x in values:
        if not lo <= x <= hi:
            raise _Garbage(f"{what} {x} is outside {lo}..{hi}")


def _decode_step(name: str, kind: str, args: Mapping[str, Any], line: str) -> dict[str, Any]:
    if line.startswith("notrun"):
        return {NOT_RUN: line[len("notrun"):].strip()[:200] or "the runner did not run it"}
    if line.count(" ") > 2 * MAX_RUNS + 8:  # before splitting it into that many strings
        raise _Garbage(f"more than {MAX_RUNS:,} runs")
    tok = line.split()
    if kind == "event":
        if len(tok) != 3 or tok[0] != "ev" or tok[1] not in ("0", "1"):
            raise _Garbage("expected 'ev DISCARDED EVICTED' for an event")
        evicted = _ints(tok[2:])
        _within("evicted bytes", evicted, _U64)
        return {"discarded": tok[1] == "1", "evicted_bytes": evicted[0]}
    if not tok:
        raise _Garbage("an empty step line")
    unknown: list[str] = []
    if name == "vmo_info" and len(tok) == 6 + len(ATTRIBUTION):  # status, 5, then these
        unknown = [f for f, t in zip(ATTRIBUTION, tok[6:], strict=True) if t == "-"]
        tok = tok[:6] + [t for t in tok[6:] if t != "-"]
    nums = _ints(tok)
    status, rest = nums[0], nums[1:]
    _within("a status", [status], _I32)
    _within("an output", rest, _U64)
    out: dict[str, Any] = {"status": status}
    if status != abi.OK:
        if rest:
            raise _Garbage("outputs after a failure status")
        return out
    if name == "vmo_read":
        if len(rest) == 1 and rest[0] > MAX_RUNS:
            raise _Unholdable(f"the read returned {rest[0]:,} runs of bytes, more than a "
                              f"trace may hold ({MAX_RUNS:,})")
        if not rest or len(rest) != 1 + 2 * rest[0]:
            raise _Garbage("a read's runs do not add up")
        runs = list(zip(rest[1::2], rest[2::2], strict=True))
        _within("a byte", rest[1::2], (0, 255))
        data = data_from_runs(runs)
        if sum(c for _b, c in data) != args["length"]:
            raise _Garbage("a read returned a different length")
        out["data"] = data
    elif name == "vmo_get_size":
        if len(rest) != 1:
            raise _Garbage("expected the size")
        out["size"] = rest[0]
    elif name == "vmo_info":
        if len(rest) != 5 + len(ATTRIBUTION) - len(unknown):
            raise _Garbage("expected size, committed, populated, flags, the cache policy and "
                           "the six attribution fields (each a number or -)")
        _within("the flags and cache policy", rest[3:5], (0, abi.U32_MAX))
        out.update(size=rest[0], committed_bytes=rest[1], populated_bytes=rest[2],
                   flags=rest[3], cache_policy=rest[4])
        known = [f for f in ATTRIBUTION if f not in unknown]
        out.update(zip(known, rest[5:], strict=True))
        if unknown:
            out[NOT_REPORTED] = unknown
    elif name == "vmo_op_range" and args["op"] == abi.OP_LOCK:
        if len(rest) != 4:
            raise _Garbage("expected the lock state")
        out["lock_state"] = dict(zip(("offset", "size", "discarded_offset", "discarded_size"),
                                     rest, strict=True))
    elif rest:
        raise _Garbage("unexpected outputs")
    return out


def parse_results(text: str, traces: Sequence[BatchTrace]) -> list[list[dict[str, Any]]]:
    """Observed outcomes per trace and step; RunnerFailed (with what did come back) if the
    output stops early or is not the runner's."""
    lines = text.splitlines()
    observed: list[list[dict[str, Any]]] = []
    pos = 0

    def fail(why: str) -> RunnerFailed:
        where = f"output line {pos}" if 0 < pos <= len(lines) else "the end of its output"
        return RunnerFailed(f"{why} (at {where})", observed, len(observed) - (
            1 if observed and len(observed[-1]) < len(traces[len(observed) - 1].steps) else 0))

    def take() -> str | None:
        nonlocal pos
        if pos >= len(lines):
            return None
        pos += 1
        return lines[pos - 1]

    first = take()
    if first is not None and first.startswith("error "):
        # "error LINE WHAT": LINE is where in its input, not a count
        where, _, what = first[6:].partition(" ")
        if not where.isdigit():
            where, what = "", first[6:]
        where = f"input line {where}: " if where not in ("", "0") else ""
        raise RunnerFailed(f"the runner rejected its input: {where}{what[:200]}")
    if first != "vmorun-result 1":
        raise fail("the runner's output does not start with 'vmorun-result 1'")
    for i, t in enumerate(traces):
        if take() != f"trace {i}":
            if pos > len(lines):
                raise fail(f"the runner stopped before trace {i + 1} of {len(traces)}")
            raise fail(f"expected 'trace {i}'")
        got: list[dict[str, Any]] = []
        observed.append(got)
        for name, kind, args in t.steps:
            line = take()
            if line is None:
                raise fail(f"the runner stopped in trace {i + 1}, step {len(got) + 1} ({name})")
            if line.startswith("error "):  # the runner failed itself (the host build)
                raise fail(f"the runner failed in trace {i + 1}, step {len(got) + 1} "
                           f"({name}): {line[6:206].removeprefix('0 ')}")
            if line.startswith("skip "):
                raise fail(f"the runner skipped trace {i + 1}: {line[5:]}")
            try:
                got.append(_decode_step(name, kind, args, line))
            except _Garbage as g:
                raise fail(f"garbage from the runner in trace {i + 1}, step {len(got) + 1} "
                           f"({name}): {g}: {line[:80]!r}") from None
            except _Unholdable as u:
                raise fail(f"trace {i + 1}, step {len(got) + 1} ({name}): {u}") from None
        if take() != f"end {i}":
            raise fail(f"expected 'end {i}' after trace {i + 1}")
    if take() != "done":
        raise fail("the runner did not finish with 'done'")
    return observed


# --- the backend ---------------------------------------------------------------------------------


class DeviceBackend:
    """Runs traces through the runner command. `run_batch` is the way to use it: one
    round trip per batch. The per-step protocol (`start`/`step`) is kept for callers that
    need it, by re-running the trace so far: one round trip per step."""

    def __init__(self, runner: str | None = None, timeout: float = 300.0,
                 sanitized: bool = False, memory: int | None = None) -> None:
        self.timeout = timeout
        self.memory = memory
        self._command_text = runner
        self._sanitized = sanitized
        self._command: list[str] | None = None
        if runner is not None:
            try:
                self._command = shlex.split(runner)
            except ValueError as e:
                raise BackendError(f"--runner {runner!r}: {e}") from None
            if not self._command:
                raise BackendError("--runner is empty")
        self._header: Header | None = None
        self._steps: list[BatchStep] = []

    @property
    def name(self) -> str:
        if self._command_text is None:
            return "device:host" + ("-asan" if self._sanitized else "")
        return "device:" + Path(self._command[0] if self._command else "?").name

    def command(self) -> list[str]:
        if self._command is None:
            self._command = [str(build_host_runner(self._sanitized))]
        return self._command

    def run_batch(self, traces: Sequence[BatchTrace]) -> list[list[dict[str, Any]]]:
        """Every trace, one round trip; RunnerFailed keeps what came back."""
        if not traces:
            return []
        cmd = self.command()
        text = compile_batch(traces, self.memory)
        try:
            # its own process group, so a lost device's whole pipeline can be stopped
            proc = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                    stderr=subprocess.PIPE, text=True, start_new_session=True)
        except FileNotFoundError:
            raise BackendError(f"runner command not found: {cmd[0]}") from None
        except OSError as e:
            raise BackendError(f"cannot start the runner {cmd[0]}: {e.strerror or e}") from None
        try:
            out, err = proc.communicate(text, timeout=self.timeout)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
            out, err = proc.communicate()
            return self._partial(out, traces, f"the runner did not answer within "
                                 f"{self.timeout:g} s")
        if proc.returncode != 0:
            why = err.strip().splitlines()[-1] if err.strip() else ""
            code = (f"was killed by signal {-proc.returncode}" if proc.returncode < 0
                    else f"exited with status {proc.returncode}")
            return self._partial(out, traces, f"the runner {code}" + (f": {why}" if why else ""))
        return parse_results(out, traces)

    @staticmethod
    def _partial(out: str, traces: Sequence[BatchTrace], why: str) -> list[list[dict[str, Any]]]:
        try:
            parse_results(out, traces)
        except RunnerFailed as e:
            if e.message.startswith("the runner rejected its input"):
                raise
            raise RunnerFailed(f"{why}; {e.message}", e.observed, e.complete) from None
        raise RunnerFailed(why, [], 0)

    # The per-step protocol.
    def start(self, header: Header) -> None:
        self._header = header
        self._steps = []

    def step(self, step_name: str, kind: str, args: Mapping[str, Any]) -> dict[str, Any]:
        if self._header is None:
            raise BackendError("DeviceBackend.step before start")
        self._steps.append((step_name, kind, dict(args)))
        try:
            observed = self.run_batch([BatchTrace(self._header, list(self._steps))])
        except RunnerFailed as e:
            raise BackendError(e.message) from None
        return observed[0][-1]


def observed_json(name: str, kind: str, args: Mapping[str, Any], observed: Mapping[str, Any],
                  note: str | None = None) -> dict[str, Any]:
    """The vmo-trace step of an observed outcome; a step the runner could not run keeps
    no outcome and says why in `not_run` (notes/trace-format-decisions.md)."""
    fields = {k: x for k, x in observed.items() if k not in (NOT_RUN, NOT_REPORTED)}
    obj = step_to_json(name, kind, dict(args), fields, note)
    if NOT_RUN in observed:
        obj[NOT_RUN] = str(observed[NOT_RUN])
    if NOT_REPORTED in observed:
        obj[NOT_REPORTED] = list(observed[NOT_REPORTED])
    return obj
