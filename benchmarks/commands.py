"""The commands as a user runs them, whole process, timed (issue 14).

- `vmospec prove --profile zircon-2025`: cold (an empty cache), then again with nothing
  changed (every result remembered);
- `vmospec fuzz --backend model --seconds N`: steps/s end to end, wall clock and per
  CPU second of the fuzzing processes (the machine is shared: CPU time is what one core
  gave), with `--jobs 1` and `--jobs 2` in the same run, and the behavioural coverage
  reached.

Each line says the load average before and after (`os.getloadavg`). Usage:

    PYTHONPATH=. python benchmarks/commands.py [--prove] [--fuzz SECONDS] [--seed S]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import subprocess
import sys
import tempfile
import time
from typing import Any

VMOSPEC = [sys.executable, "-m", "vmospec.cli"]


def timed(argv: list[str]) -> tuple[float, float, str]:
    """Wall seconds, CPU seconds of the process and its children, stdout."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    done = subprocess.run(argv, capture_output=True, text=True, check=False)
    wall = time.perf_counter() - t0
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    if done.returncode not in (0, 1):
        raise SystemExit(f"{' '.join(argv)} failed: {done.stderr.strip()}")
    return wall, cpu, done.stdout


def load() -> str:
    return "/".join(f"{x:.1f}" for x in os.getloadavg())


def prove() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        argv = [*VMOSPEC, "prove", "--profile", "zircon-2025", "--brief", "--cache", tmp,
                "--out", f"{tmp}/cex"]
        for run in ("cold", "warm"):
            before = load()
            wall, cpu, out = timed(argv)
            print(f"prove zircon-2025 {run}: {wall:.1f} s wall, {cpu:.1f} s CPU; "
                  f"{out.strip().splitlines()[-1]}; load {before} -> {load()}", flush=True)


def fuzz(seconds: float, seed: int) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        for jobs in (1, 2):
            before = load()
            wall, cpu, out = timed([*VMOSPEC, "fuzz", "--backend", "model", "--seconds",
                                    str(seconds), "--seed", str(seed), "--jobs", str(jobs),
                                    "--json", "--out", tmp])
            r: dict[str, Any] = json.loads(out)
            b = r["coverage"]["behaviour"]
            print(f"fuzz --jobs {jobs} --seconds {seconds:g}: {r['steps']} steps, "
                  f"{r['traces']} traces in {wall:.1f} s wall: {r['steps'] / wall:,.0f} "
                  f"steps/s wall, {r['steps'] / cpu:,.0f} steps per CPU second; "
                  f"behaviour {b['reached']} of {b['cells']} cells, effects observed "
                  f"{b['effects_observed']} of {b['effects']}; divergences "
                  f"{len(r['divergences'])}; load {before} -> {load()}", flush=True)
            if b["missing"]:
                print("  empty: " + ", ".join("/".join(c) for c in b["missing"]))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--prove", action="store_true")
    ap.add_argument("--fuzz", type=float, metavar="SECONDS")
    ap.add_argument("--seed", type=int, default=1)
    args = ap.parse_args()
    print(f"machine: {platform.machine()}, {os.cpu_count()} cores, python "
          f"{platform.python_version()}, {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}")
    if args.prove:
        prove()
    if args.fuzz:
        fuzz(args.fuzz, args.seed)


if __name__ == "__main__":
    main()
