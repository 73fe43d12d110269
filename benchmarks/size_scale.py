"""Benchmark: `vmospec check` on a long trace of random writes, over a 2^40-byte VMO
against over 16 pages (issue 11 item 6: within 1.5x); and a read of 2^40 bytes of a
pager-backed VMO (issue 15: in seconds and under 200 MB).

One generator, one seed: the two traces make the same random draws, and only the span
the offsets are spread over differs (the whole VMO each time). Over 16 pages the writes
keep landing on the same few runs; over 2^40 bytes nearly every write adds runs, so
the content map grows to tens of thousands of runs. The steps are writes (half), reads,
COMMIT/DECOMMIT/ZERO, and ZX_INFO_VMO; outcomes are recorded by replaying once, so the
timed run checks every field. Each run times the whole command as a user runs it (a
fresh `vmospec check` process), alternating the two traces; best and worst are kept.

The pager read is a 4-line trace (pager, VMO, one read of 2^40 bytes), checked with the
read's `data` left out and with a wrong one (the divergence prints the expected value,
abbreviated); each with its wall time and peak memory.

Usage: PYTHONPATH=. python benchmarks/size_scale.py [--steps N] [--runs R]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Any

from benchmarks.check_speed import record
from benchmarks.hostile_inputs import timed

PAGE = 4096
OPS = ["ZX_VMO_OP_COMMIT", "ZX_VMO_OP_DECOMMIT", "ZX_VMO_OP_ZERO"]


def make_steps(n: int, vmo_size: int, seed: int) -> list[dict[str, Any]]:
    rng = random.Random(seed)
    steps: list[dict[str, Any]] = [
        {"call": "vmo_create", "size": vmo_size, "options": [], "out": "a"}]
    span = vmo_size - 2 * PAGE  # room for the longest write or range below
    while len(steps) < n:
        r = rng.random()
        off = int(rng.random() * span)
        if r < 0.5:
            data = [[rng.randrange(1, 256), rng.choice([1, 7, 64, PAGE])]
                    for _ in range(rng.randrange(1, 4))]
            steps.append({"call": "vmo_write", "vmo": "a", "offset": off, "data": data})
        elif r < 0.7:
            steps.append({"call": "vmo_read", "vmo": "a", "offset": off, "length": 64})
        elif r < 0.95:
            steps.append({"call": "vmo_op_range", "vmo": "a", "op": rng.choice(OPS),
                          "offset": off & ~(PAGE - 1), "size": rng.choice([PAGE, 2 * PAGE])})
        else:
            steps.append({"call": "vmo_info", "vmo": "a"})
    return steps


def time_check(path: Path) -> float:
    t0 = time.perf_counter()
    subprocess.run(["vmospec", "check", str(path)], check=True, stdout=subprocess.DEVNULL)
    return time.perf_counter() - t0


def pager_read(path: Path, length: int, data: str | None) -> None:
    read: dict[str, Any] = {"call": "vmo_read", "vmo": "v", "offset": 0, "length": length,
                            "status": "ZX_OK"}
    if data is not None:
        read["data"] = data
    steps = [{"vmo_trace": 1, "page_size": PAGE},
             {"call": "pager_create", "out": "p", "status": "ZX_OK"},
             {"call": "pager_create_vmo", "pager": "p", "options": [], "size": length,
              "out": "v", "status": "ZX_OK"}, read]
    path.write_text("".join(json.dumps(s) + "\n" for s in steps))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--steps", type=int, default=50_000)
    ap.add_argument("--runs", type=int, default=5)
    args = ap.parse_args()
    print(f"machine: {platform.machine()} python {platform.python_version()}, "
          f"{os.cpu_count()} cores; {time.strftime('%Y-%m-%d %H:%M %Z')}; "
          f"load {os.getloadavg()[0]:.2f} {os.getloadavg()[1]:.2f} {os.getloadavg()[2]:.2f}")
    # First, while this process is small: a forked child starts with its pages, and
    # wait4 counts them in the peak.
    with tempfile.TemporaryDirectory() as d:
        path = Path(d) / "read.jsonl"
        for data in (None, "00"):
            pager_read(path, 1 << 40, data)
            seconds, mb, code, _last, _longest = timed(["check", str(path)])
            print(f"read of 2^40 bytes of a pager-backed VMO, data "
                  f"{'left out' if data is None else 'wrong'}: {seconds:.2f} s, "
                  f"peak {mb:.0f} MB, exit {code} ({path.stat().st_size} bytes of trace)")
    with tempfile.TemporaryDirectory() as d:
        small, big = Path(d) / "small.jsonl", Path(d) / "big.jsonl"
        record(make_steps(args.steps, 16 * PAGE, seed=3), small)
        record(make_steps(args.steps, 1 << 40, seed=3), big)
        times: dict[str, list[float]] = {"16 pages": [], "2^40 bytes": []}
        for _ in range(args.runs):
            times["16 pages"].append(time_check(small))
            times["2^40 bytes"].append(time_check(big))
    for name, ts in times.items():
        print(f"{args.steps} steps over {name}: best {min(ts):.2f} s, worst {max(ts):.2f} s")
    (s_best, b_best), (s_worst, b_worst) = (
        (min(t) for t in times.values()), (max(t) for t in times.values()))
    print(f"ratio 2^40 / 16 pages: best/best {b_best / s_best:.2f}, "
          f"worst/worst {b_worst / s_worst:.2f} (target <= 1.5)")
    print(f"load after: {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
