"""Benchmark: `vmospec check` replay speed, and cost against VMO size.

Figures asked for by issue 2:
  * steps per second replaying a long mixed trace (one core);
  * the same 10,000-step trace on a 2^40-byte VMO against a 16-page VMO (ratio <= 1.5).

The trace is generated here with a fixed seed: a discardable VMO and an anonymous one,
then a mix of every op, reads, writes, info and reclaim, with offsets spread over the
VMO. Outcomes are recorded by replaying once, so the timed run checks every field.

Usage: python benchmarks/check_speed.py [--steps N] [--repeat R] [--cpu]
"""

from __future__ import annotations

import argparse
import platform
import random
import tempfile
import time
from pathlib import Path
from typing import Any

from refinement_tests.checker import check_trace
from refinement_tests.trace import parse_trace_text, read_trace, step_to_json, write_trace
from spec.explore import explore
from spec.profiles import ZIRCON_2025
from spec.state import EMPTY_STATE
from spec.transitions import transition
from spec.values import Concrete, Runs

PAGE = 4096
OPS = ["ZX_VMO_OP_COMMIT", "ZX_VMO_OP_DECOMMIT", "ZX_VMO_OP_ZERO", "ZX_VMO_OP_CACHE_SYNC",
       "ZX_VMO_OP_CACHE_CLEAN", "ZX_VMO_OP_DONT_NEED", "ZX_VMO_OP_ALWAYS_NEED",
       "ZX_VMO_OP_PREFETCH", "ZX_VMO_OP_CACHE_INVALIDATE", 15]


def make_steps(n: int, vmo_size: int, seed: int) -> list[dict[str, Any]]:
    rng = random.Random(seed)
    steps: list[dict[str, Any]] = [
        {"call": "vmo_create", "size": vmo_size, "options": [], "out": "a"},
        {"call": "vmo_create", "size": vmo_size, "options": ["ZX_VMO_DISCARDABLE"], "out": "d"},
        {"call": "handle_duplicate", "handle": "a", "rights": ["ZX_RIGHT_READ"], "out": "ro"},
    ]
    # Only the VMO's size differs between the two size runs: the steps are the same.
    base = 0
    locked = 0
    while len(steps) < n:
        r = rng.random()
        off = base + rng.choice([0, 1, PAGE - 1, PAGE, 3 * PAGE, 7 * PAGE + 5])
        size = rng.choice([0, 1, PAGE, 2 * PAGE, 5 * PAGE + 3])
        h = rng.choice(["a", "a", "a", "ro"])
        if r < 0.45:
            op = rng.choice(OPS)
            steps.append({"call": "vmo_op_range", "vmo": h, "op": op, "offset": off,
                          "size": size})
        elif r < 0.55:
            steps.append({"call": "vmo_write", "vmo": "a", "offset": off,
                          "data": [[rng.randrange(1, 4), rng.choice([1, 16, PAGE])]]})
        elif r < 0.65:
            steps.append({"call": "vmo_read", "vmo": "a", "offset": off, "length": 64})
        elif r < 0.72:
            steps.append({"call": "vmo_info", "vmo": "a"})
        elif r < 0.92:
            if locked and rng.random() < 0.5:
                op, locked = "ZX_VMO_OP_UNLOCK", locked - 1
            else:
                op, locked = rng.choice(["ZX_VMO_OP_LOCK", "ZX_VMO_OP_TRY_LOCK"]), locked + 1
            steps.append({"call": "vmo_op_range", "vmo": "d", "op": op, "offset": 0,
                          "size": vmo_size})
        else:
            steps.append({"event": "reclaim", "vmo": "d"})
    return steps


def record(steps: list[dict[str, Any]], path: Path) -> None:
    """Fill in each step's outcome from the spec, so that the timed check checks them."""
    import json

    text = "\n".join(json.dumps(s) for s in [{"vmo_trace": 1, "page_size": PAGE}, *steps])
    trace = parse_trace_text(text, str(path))
    v = Concrete(PAGE)
    st = EMPTY_STATE
    out = []
    for step in trace.steps:
        paths = explore(lambda cx, st=st, s=step: transition(cx, st, s.name, s.args),
                        v, ZIRCON_2025, PAGE, trace.header.config)
        o = paths[0].result
        outcome: dict[str, Any] = {} if step.kind == "event" else {"status": o.status}
        outcome.update({k: x for k, x in o.out.items() if isinstance(x, (int, tuple, dict, Runs))
                        or hasattr(x, "items")})
        if "lock_state" in outcome:
            outcome["lock_state"] = dict(outcome["lock_state"])
        out.append(step_to_json(step.name, step.kind, step.args, outcome))
        st = o.state
    write_trace(path, trace.header, out)


CLOCK = time.perf_counter


def time_check(path: Path, repeat: int) -> tuple[float, float, int]:
    """Best-of-`repeat` seconds for parsing and for replaying, and the step count."""
    parse_best = replay_best = float("inf")
    steps = 0
    for _ in range(repeat):
        t0 = CLOCK()
        trace = read_trace(path)
        t1 = CLOCK()
        result = check_trace(trace, ZIRCON_2025)
        t2 = CLOCK()
        assert result.conforms, result.divergence
        steps = result.steps
        parse_best = min(parse_best, t1 - t0)
        replay_best = min(replay_best, t2 - t1)
    return parse_best, replay_best, steps


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--steps", type=int, default=100_000)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--cpu", action="store_true",
                    help="time with this process's CPU time, not the wall clock (steadier "
                         "on a shared machine)")
    args = ap.parse_args()
    if args.cpu:
        global CLOCK
        CLOCK = time.process_time
    print(f"machine: {platform.machine()} {platform.processor() or ''} "
          f"python {platform.python_version()}; date {time.strftime('%Y-%m-%d')}")
    with tempfile.TemporaryDirectory() as d:
        long = Path(d) / "long.jsonl"
        record(make_steps(args.steps, 16 * PAGE, seed=1), long)
        parse_s, replay_s, n = time_check(long, args.repeat)
        print(f"long mixed trace: {n} steps; replay {n / replay_s:,.0f} steps/s "
              f"({replay_s:.2f} s); parse {n / parse_s:,.0f} steps/s ({parse_s:.2f} s); "
              f"end to end {n / (parse_s + replay_s):,.0f} steps/s")
        small, big = Path(d) / "small.jsonl", Path(d) / "big.jsonl"
        record(make_steps(10_000, 16 * PAGE, seed=2), small)
        record(make_steps(10_000, 1 << 40, seed=2), big)
        _, t_small, _ = time_check(small, args.repeat)
        _, t_big, _ = time_check(big, args.repeat)
        print(f"10,000 steps: 16-page VMO {t_small:.3f} s, 2^40-byte VMO {t_big:.3f} s, "
              f"ratio {t_big / t_small:.2f}")


if __name__ == "__main__":
    main()
