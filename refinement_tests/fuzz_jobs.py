"""`vmospec fuzz --jobs N`: N worker processes, each fuzzing with its own seed, and one
report: coverage merged, and the first divergence (shrunk and saved by the worker that
found it). When one worker finds a divergence the others stop at their next batch.

Worker i fuzzes with seed S for i = 0 and a seed derived from (S, i) otherwise, so a
run is reproducible from S and N (as far as the clock allows), and worker 0 alone is
exactly `--jobs 1 --seed S`.
"""

from __future__ import annotations

import hashlib
import multiprocessing
import queue
import time
from collections.abc import Callable
from typing import Any

from refinement_tests.backends import Backend
from refinement_tests.fuzz import FuzzReport, fuzz


def worker_seed(seed: int, i: int) -> int:
    if i == 0:
        return seed
    return int.from_bytes(hashlib.sha256(f"{seed}/{i}".encode()).digest()[:4], "big")


def _work(i: int, make: Callable[[], Backend], seed: int, kwargs: dict[str, Any],
          out: Any, stop: Any) -> None:
    def progress(r: FuzzReport) -> None:
        out.put(("progress", i, r.traces, r.steps))

    report = fuzz(make(), seed_value=worker_seed(seed, i), on_progress=progress,
                  should_stop=stop.is_set, **kwargs)
    report.failing = None  # the trace is on disk; the rest of it need not travel
    if report.divergence is not None or report.over_budget:
        stop.set()
    out.put(("done", i, report))


def merge(reports: list[FuzzReport], seconds: float) -> FuzzReport:
    """One report: sums, merged coverage, and the divergence caught first."""
    first = reports[0]
    caught = [r for r in reports if r.divergence is not None]
    winner = min(caught, key=lambda r: r.caught_after or 0.0) if caught else first
    merged = FuzzReport(first.backend, first.profile, winner.seed, avoided=first.avoided,
                        page=first.page)
    merged.seconds = seconds
    for r in reports:
        merged.traces += r.traces
        merged.steps += r.steps
        merged.coverage.merge(r.coverage)
        merged.behaviour.merge(r.behaviour)
        merged.not_u64 += r.not_u64
        merged.interrupted |= r.interrupted
        merged.max_states = max(merged.max_states, r.max_states)
        if r.over_budget and not merged.over_budget:  # a trace over the state budget
            merged.over_budget, merged.trace_path = r.over_budget, r.trace_path
        for k, n in r.known.items():
            merged.known[k] = merged.known.get(k, 0) + n
    if caught:
        merged.divergence = winner.divergence
        merged.trace_path = winner.trace_path
        merged.shrunk_steps = winner.shrunk_steps
        merged.caught_after = winner.caught_after
        merged.traces_to_catch = winner.traces_to_catch
    return merged


def fuzz_jobs(make: Callable[[], Backend], jobs: int, seed: int,
              on_progress: Callable[[int, int], None] | None = None,
              **kwargs: Any) -> tuple[FuzzReport, list[int]]:
    """Run `fuzz(make(), **kwargs)` in `jobs` processes; the merged report and the
    seeds the workers used. `on_progress(traces, steps)` sees the sums."""
    ctx = multiprocessing.get_context("fork")
    out = ctx.Queue()
    stop = ctx.Event()
    started = time.perf_counter()
    procs = [ctx.Process(target=_work, args=(i, make, seed, kwargs, out, stop), daemon=True)
             for i in range(jobs)]
    for p in procs:
        p.start()
    reports: dict[int, FuzzReport] = {}
    seen: dict[int, tuple[int, int]] = {}
    try:
        while len(reports) < jobs:
            try:
                kind, i, *rest = out.get(timeout=1.0)
            except queue.Empty:
                dead = [k for k, p in enumerate(procs) if not p.is_alive() and k not in reports]
                if dead and out.empty():
                    raise RuntimeError(f"fuzz worker {dead[0]} died without a report") from None
                continue
            if kind == "done":
                reports[i] = rest[0]
            else:
                seen[i] = (rest[0], rest[1])
                if on_progress is not None:
                    on_progress(sum(t for t, _ in seen.values()),
                                sum(s for _, s in seen.values()))
    except KeyboardInterrupt:
        stop.set()
        for p in procs:
            p.terminate()
        raise
    finally:
        for p in procs:
            p.join(timeout=5)
    ordered = [reports[i] for i in range(jobs)]
    return merge(ordered, time.perf_counter() - started), [worker_seed(seed, i)
                                                           for i in range(jobs)]
