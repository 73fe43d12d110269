"""Benchmark: `vmospec check` as a user runs it (a whole process), issue 14 item 1.

Five traces, generated here with a fixed seed (the mix of benchmarks/check_speed.py):
every outcome recorded; the same steps with outcomes left out (half the op_range
statuses, half the read data, every vmo_info field but the status); each of those two
with a note on every line, so that no line repeats (the reader decodes a repeated line
as it did the first time: these show the reader without that help); and, under `doc`,
COMMITs whose status is left out (256 possible states) followed by calls that record
everything, which the state budget refuses (notes/state-budget.md). Each is checked by
`vmospec check` in a fresh process; the figures are wall time, the process's CPU time
(user + system: the fairer figure on a shared machine) and peak memory, at two lengths,
and with --long N also at N steps (memory flat with length means the check streams).
The reader alone is timed in this process: `open_trace`, every step read and dropped,
as the check reads them (best of the repeats, CPU time).

Usage: python benchmarks/check_command.py [--steps N] [--repeat R] [--long N]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from check_speed import PAGE, make_steps, record

from refinement_tests.trace import open_trace


def left_out(src: Path, dst: Path, seed: int) -> None:
    """The same steps, with outcome fields left out."""
    rng = random.Random(seed)
    lines = src.read_text().splitlines()
    out = [lines[0]]
    for text in lines[1:]:
        d = json.loads(text)
        call = d.get("call")
        if call == "vmo_op_range" and rng.random() < 0.5:
            d.pop("status", None)
        elif call == "vmo_read" and rng.random() < 0.5:
            d.pop("data", None)
        elif call == "vmo_info":
            d = {k: x for k, x in d.items() if k in ("call", "vmo", "status")}
        out.append(json.dumps(d))
    dst.write_text("\n".join(out) + "\n")


def unrepeated(src: Path, dst: Path) -> None:
    """The same steps, each line made unique by a note: the reader remembers lines it
    has read (a repeat is decoded as before), and this trace never repeats one."""
    lines = src.read_text().splitlines()
    out = [lines[0]]
    for n, text in enumerate(lines[1:], 1):
        d = json.loads(text)
        d["note"] = f"step {n}"
        out.append(json.dumps(d))
    dst.write_text("\n".join(out) + "\n")


def over_budget(dst: Path, steps: int) -> None:
    """Under doc: 8 COMMITs with no status (256 states), then calls recording all."""
    lines: list[dict[str, object]] = [
        {"vmo_trace": 1, "page_size": PAGE},
        {"call": "vmo_create", "size": 16 * PAGE, "options": [], "out": "a",
         "status": "ZX_OK"}]
    lines += [{"call": "vmo_op_range", "vmo": "a", "op": "ZX_VMO_OP_COMMIT",
               "offset": i * PAGE, "size": PAGE} for i in range(8)]
    lines += [{"call": "vmo_get_size", "vmo": "a", "status": "ZX_OK", "size": 16 * PAGE}
              for _ in range(steps - 9)]
    dst.write_text("\n".join(json.dumps(x) for x in lines) + "\n")


def run_check(path: Path, *flags: str) -> tuple[float, float, int, int]:
    """Wall seconds, CPU seconds, peak RSS in KiB, and the exit status of one
    `vmospec check` process."""
    t0 = time.perf_counter()
    # /usr/bin/time measures the child's own peak (a child forked from this process
    # would count this process's memory too)
    proc = subprocess.run(["/usr/bin/time", "-f", "%e %U %S %M", sys.executable, "-m",
                           "vmospec.cli", "check", str(path), *flags],
                          stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
                          check=False)
    wall = time.perf_counter() - t0
    _e, user, system, rss = proc.stderr.split()[-4:]
    return wall, float(user) + float(system), int(rss), proc.returncode


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--steps", type=int, default=300_000)
    ap.add_argument("--repeat", type=int, default=2)
    ap.add_argument("--long", type=int, default=0,
                    help="also check a trace of this many steps (every outcome recorded)")
    args = ap.parse_args()
    n = args.steps
    print(f"machine: {platform.machine()} python {platform.python_version()}; "
          f"date {time.strftime('%Y-%m-%d %H:%M')}; load {_load()}")
    with tempfile.TemporaryDirectory() as d:
        cases = []
        if args.long:
            long = Path(d) / f"full-{args.long}.jsonl"
            record(make_steps(args.long, 16 * PAGE, seed=1), long)
            cases.append((f"every outcome recorded, {args.long:,} steps", long, (),
                          args.long))
        for steps in (n // 3, n):
            full = Path(d) / f"full-{steps}.jsonl"
            record(make_steps(steps, 16 * PAGE, seed=1), full)
            part = Path(d) / f"part-{steps}.jsonl"
            left_out(full, part, seed=3)
            cases += [(f"every outcome recorded, {steps:,} steps", full, (), steps),
                      (f"outcomes left out, {steps:,} steps", part, (), steps)]
        unique = Path(d) / f"unique-{n}.jsonl"
        unrepeated(Path(d) / f"full-{n}.jsonl", unique)
        cases.append((f"every outcome recorded, no line repeated, {n:,} steps", unique, (),
                      n))
        unique_part = Path(d) / f"unique-part-{n}.jsonl"
        unrepeated(Path(d) / f"part-{n}.jsonl", unique_part)
        cases.append((f"outcomes left out, no line repeated, {n:,} steps", unique_part, (),
                      n))
        budget = Path(d) / "budget.jsonl"
        over_budget(budget, 5_000)
        cases.append(("256 states under doc, 5,000 steps (refused)", budget,
                      ("--profile", "doc"), 5_000))
        print("| trace | exit | wall best / worst | CPU best / worst | steps/s (CPU) best "
              "/ worst | peak memory | load before / after |")
        print("| --- | --- | --- | --- | --- | --- | --- |")
        for name, path, flags, steps in cases:
            before = _load()
            runs = sorted((run_check(path, *flags) for _ in range(args.repeat)),
                          key=lambda r: r[1])
            (wall, cpu, _rss, code), worst = runs[0], runs[-1]
            print(f"| {name} | {code} | {wall:.2f} / {worst[0]:.2f} s | {cpu:.2f} / "
                  f"{worst[1]:.2f} s | {steps / cpu:,.0f} / {steps / worst[1]:,.0f} | "
                  f"{max(r[2] for r in runs) / 1024:.0f} MB | {before} / {_load()} |")
        for name in (f"full-{n}", f"part-{n}", f"unique-{n}", f"unique-part-{n}"):
            reads = []
            for _ in range(args.repeat):
                t0 = time.process_time()
                with open_trace(Path(d) / f"{name}.jsonl") as stream:
                    for _step in stream:
                        pass
                reads.append(time.process_time() - t0)
            print(f"reader alone ({name}, open_trace, CPU): {n + 1:,} lines in "
                  f"{min(reads):.2f} / {max(reads):.2f} s, {(n + 1) / min(reads):,.0f} / "
                  f"{(n + 1) / max(reads):,.0f} lines/s")


def _load() -> str:
    return f"{os.getloadavg()[0]:.1f}"


if __name__ == "__main__":
    main()
