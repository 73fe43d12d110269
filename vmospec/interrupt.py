"""Ctrl-C for the long commands (prove, hunt, diff): one line, exit 130, at once.

Left alone, z3 catches SIGINT during a check, cancels it and returns `unknown`, so the
command goes on; and Python raises KeyboardInterrupt only between bytecodes, never inside
a z3 call. So z3's own handling is switched off, and the signal is watched from a thread:
Python's C-level handler writes each signal's number to a wakeup pipe as it arrives; the
thread, which runs while z3 works (ctypes calls release the GIL), reads it, stops the
worker processes, prints the line and exits. Forked workers inherit the quiet handler and
the pipe, so a Ctrl-C that reaches them too ends up here; on Linux each is also set to be
killed when the command's process ends.
"""

from __future__ import annotations

import multiprocessing
import os
import signal
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from types import FrameType

EXIT_INTERRUPTED = 130
MESSAGE = "vmospec: interrupted"
_STOP = 0  # written by the command itself when it is done: no signal has number 0
_PR_SET_PDEATHSIG = 1  # linux/prctl.h
_watching = False  # inside stop_at_once (a forked child inherits the value)


def _die_with_parent() -> None:
    """In a child forked while watching: be killed when the parent ends. multiprocessing
    replaces a killed pool worker at once, so a replacement forked after the watcher's
    kills would otherwise outlive the command (and hold its stdout open)."""
    if _watching and sys.platform == "linux":
        import ctypes

        ctypes.CDLL(None).prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)


os.register_at_fork(after_in_child=_die_with_parent)


@contextmanager
def stop_at_once() -> Iterator[None]:
    """Within this block, Ctrl-C (SIGINT) ends the process at once with MESSAGE."""
    if threading.current_thread() is not threading.main_thread():
        yield  # signals reach the main thread only: nothing to watch from here
        return
    import z3

    global _watching
    _watching = True
    read_end, write_end = os.pipe()
    os.set_blocking(write_end, False)
    old_fd = signal.set_wakeup_fd(write_end)
    old_handler = signal.signal(signal.SIGINT, _quiet)
    z3.set_param("ctrl_c", False)
    watcher = threading.Thread(target=_watch, args=(read_end,), daemon=True,
                               name="vmospec-interrupt")
    watcher.start()
    try:
        yield
    finally:
        _watching = False
        signal.signal(signal.SIGINT, old_handler)
        signal.set_wakeup_fd(old_fd)
        z3.set_param("ctrl_c", True)
        os.write(write_end, bytes([_STOP]))
        watcher.join()
        os.close(read_end)
        os.close(write_end)


def _quiet(_signum: int, _frame: FrameType | None) -> None:
    """Python-level SIGINT: nothing; the watcher acts on the byte in the pipe."""


def _watch(read_end: int) -> None:
    while True:
        got = os.read(read_end, 64)
        if signal.SIGINT in got:
            break
        if not got or _STOP in got:
            return
    children = multiprocessing.active_children()
    for child in children:
        child.kill()
    for child in children:
        child.join(timeout=5)  # reaped: none outlives the command
    line = MESSAGE + "\n"
    if sys.stderr.isatty():
        line = "\n" + line  # below a progress bar
    try:
        sys.stderr.write(line)
        sys.stderr.flush()
    finally:
        os._exit(EXIT_INTERRUPTED)
