"""Where the command line writes: standard output that cannot fail silently, and `--out`
files that are regular files, replaced whole or not at all.

- A closed pipe (`vmospec check ... | head -1`) or a failed write to standard output
  ends the command with one line and EXIT_OUTPUT, which never reads as "conforms" (0)
  nor as "diverged" (1).
- Text that cannot be encoded (a lone surrogate in a note, escaped in the trace's JSON)
  is printed escaped instead of ending the command.
- `--out` names a regular file or a new name; a symbolic link, a directory, a device or
  a FIFO is refused before anything runs, so nothing but a file of ours is replaced.
"""

from __future__ import annotations

import contextlib
import io
import os
import sys
import tempfile
from pathlib import Path
from typing import Any, TextIO

from refinement_tests.trace import file_kind

__all__ = ["EXIT_BAD_INPUT", "EXIT_DIVERGED", "EXIT_OK", "EXIT_OUTPUT", "OutputFailed",
           "guard_stdout", "out_file_problem", "partial_path", "stdout_failed"]

EXIT_OK = 0  # what was asked holds
EXIT_DIVERGED = 1  # it does not: a divergence, a finding, a disagreement
EXIT_BAD_INPUT = 2  # a malformed trace, a missing file, a bad flag: one line
EXIT_OUTPUT = 74  # EX_IOERR (sysexits.h): the output could not be written


class OutputFailed(Exception):
    """Writing to standard output failed; the text is why."""


class _GuardedStream:
    """Standard output whose write errors are OutputFailed, whatever raised them."""

    def __init__(self, inner: TextIO) -> None:
        self._inner = inner

    def write(self, text: str) -> int:
        try:
            return self._inner.write(text)
        except OSError as e:
            raise OutputFailed(_why(e)) from None

    def flush(self) -> None:
        try:
            self._inner.flush()
        except OSError as e:
            raise OutputFailed(_why(e)) from None

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)


def _why(e: OSError) -> str:
    if isinstance(e, BrokenPipeError):
        return "standard output was closed before everything was written"
    return f"cannot write to standard output: {e.strerror or e}"


def guard_stdout() -> None:
    """Route standard output through the guard; escape what cannot be encoded."""
    if isinstance(sys.stdout, _GuardedStream):
        return
    if isinstance(sys.stdout, io.TextIOWrapper):
        with contextlib.suppress(ValueError):
            sys.stdout.reconfigure(errors="backslashreplace")
    sys.stdout = _GuardedStream(sys.stdout)


def stdout_failed(why: str) -> int:
    """Report a failed standard output once, and keep the interpreter's final flush from
    failing again (its buffered text goes to /dev/null)."""
    with contextlib.suppress(OSError, ValueError):
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.__stdout__.fileno() if sys.__stdout__ else 1)
        os.close(devnull)
    with contextlib.suppress(OSError):
        print(f"vmospec: {why}", file=sys.stderr)
    return EXIT_OUTPUT


def out_file_problem(path: Path) -> str | None:
    """None if `path` may be replaced by a regular file (it is one, or nothing is there),
    else why not, in one line."""
    try:
        mode = os.lstat(path).st_mode
    except FileNotFoundError:
        mode = None
    except OSError as e:
        return f"--out {path}: {e.strerror or e}"
    what = None if mode is None else file_kind(mode)
    if what is not None:
        return f"--out {path} is {what}: only a regular file or a new name is written"
    return None


def partial_path(out: Path) -> Path:
    """A new file beside `out` for a partial result, so `out` keeps what it held."""
    fd, name = tempfile.mkstemp(prefix=f"{out.stem}.partial-", suffix=out.suffix or ".jsonl",
                                dir=out.parent)
    os.close(fd)
    return Path(name)
