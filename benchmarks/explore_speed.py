"""Benchmark: `vmospec explore` on the reference configuration (issue 13: at least 10,000
distinct states a second on one core; the default run under 90 s with at least 10,000
states).

Runs each command as a user would, in a fresh process, `repeat` times, and reports the
best and the worst: wall seconds; CPU seconds of the exploration (the command's
`cpu_seconds`) and of the whole command (imports and setup included); states; and states
per CPU second of the exploration. The machine is shared, so CPU seconds are the figure
that does not depend on the load. The load (`uptime`) is printed before and after.

Usage: python benchmarks/explore_speed.py [repeat]   (default 3)
"""

from __future__ import annotations

import json
import platform
import resource
import subprocess
import sys
import time

RUNS = {
    "default (depth 7, spec, invariants)": ["explore", "--json"],
    "depth 6": ["explore", "--json", "--depth", "6"],
    "depth 4, against the model": ["explore", "--json", "--depth", "4", "--backend", "model"],
}


def _uptime() -> str:
    return subprocess.run(["uptime"], capture_output=True, text=True, check=False).stdout.strip()


def main() -> int:
    repeat = int(sys.argv[1]) if len(sys.argv) > 1 else 3
    print(f"machine: {platform.machine()}, {platform.processor() or 'cpu'}, "
          f"python {platform.python_version()}, {time.strftime('%Y-%m-%d %H:%M %Z')}")
    print(f"load before: {_uptime()}")
    print(f"{'run':38} {'states':>8} {'wall s':>13} {'explore CPU s':>13} "
          f"{'command CPU s':>13} {'states/explore CPU s':>20}")
    for name, argv in RUNS.items():
        rows = []
        for _ in range(repeat):
            start = time.perf_counter()
            before = resource.getrusage(resource.RUSAGE_CHILDREN)
            run = subprocess.run([sys.executable, "-m", "vmospec.cli", *argv],
                                 capture_output=True, text=True, check=False)
            wall = time.perf_counter() - start
            after = resource.getrusage(resource.RUSAGE_CHILDREN)
            whole = (after.ru_utime + after.ru_stime) - (before.ru_utime + before.ru_stime)
            if run.returncode != 0:
                print(f"{name}: exit {run.returncode}: {run.stderr.strip()[-200:]}",
                      file=sys.stderr)
                return 1
            d = json.loads(run.stdout)
            rows.append((wall, d["cpu_seconds"], whole, d["states"]))
        walls, cpus, wholes = (sorted(r[i] for r in rows) for i in range(3))
        states = rows[0][3]
        print(f"{name:38} {states:8,} {walls[0]:6.1f}-{walls[-1]:<6.1f} "
              f"{cpus[0]:6.1f}-{cpus[-1]:<6.1f} {wholes[0]:6.1f}-{wholes[-1]:<6.1f} "
              f"{states / cpus[-1]:7,.0f}-{states / cpus[0]:<7,.0f}")
    print(f"load after: {_uptime()}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
