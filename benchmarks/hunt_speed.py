"""Benchmark: the whole `vmospec hunt` (issues 5 and 12: under 2 minutes), by part.

Runs, in a fresh process each (nothing cached between them):
  * the whole command, `vmospec hunt --out DIR` (every category, witnesses written);
  * the hunt without the readings (the z3 searches on one call from a fresh state);
  * the readings alone (proofs/effects.py: every reading in every context);
  * the readings' whole outcomes by z3 alone (proofs/whole.py; in the hunt it runs in a
    second process beside the rest);
  * the page-vs-page part alone (proofs/page_claims.py: every pair of claims);
  * the agreement of every claim with the doc profile (the test's check).

Usage: python benchmarks/hunt_speed.py
"""

from __future__ import annotations

import os
import platform
import subprocess
import sys
import tempfile
import time

PARTS = {
    "vmospec hunt": None,
    "no readings": "from proofs.hunt import hunt; r = hunt(readings=False); "
                   "print(len(r.points), 'points')",
    "readings": "from proofs import effects; from spec.readings import READINGS; "
                "print(sum(len(effects.search(r)) for r in READINGS), 'instances')",
    "readings by z3": "from proofs import whole; "
                      "print(sum(map(len, whole.search_all().values())), 'instances')",
    "page-vs-page": "from proofs.page_claims import contradictions; "
                    "print(len(contradictions()[0]))",
    "claims vs doc": "from proofs.page_claims import CLAIMS, agreement; "
                     "print(sum(len(agreement(c)) for c in CLAIMS))",
}


def main() -> int:
    print(f"machine: {platform.machine()}, {platform.processor() or 'cpu'}, "
          f"python {platform.python_version()}, {time.strftime('%Y-%m-%d')}")
    print(f"load (uptime): {os.getloadavg()[0]:.2f} {os.getloadavg()[1]:.2f}")
    out = tempfile.mkdtemp(prefix="hunt-speed-")
    for name, code in PARTS.items():
        argv = [sys.executable, "-m", "vmospec.cli", "hunt", "--out", out] if code is None \
            else [sys.executable, "-c", code]
        start = time.perf_counter()
        run = subprocess.run(argv, capture_output=True, text=True, check=False)
        if run.returncode != 0:
            last = (run.stderr.strip().splitlines() or ["no output"])[-1]
            print(f"{name}: failed: {last}", file=sys.stderr)
            return 1
        last = (run.stdout.strip().splitlines() or [""])[-1]
        print(f"{name:15} {time.perf_counter() - start:6.1f} s  ({last})")
    print(f"load (uptime): {os.getloadavg()[0]:.2f} {os.getloadavg()[1]:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
