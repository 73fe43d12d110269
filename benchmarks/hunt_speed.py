"""Benchmark: the whole `vmospec hunt` (issue 5: under 2 minutes), by part.

Runs, in a fresh process each (nothing cached between them):
  * the whole hunt (every category, every profile, witnesses built and replayed);
  * the page-vs-page part alone (proofs/page_claims.py: every pair of claims);
  * the agreement of every claim with the doc profile (the test's check).

Usage: python benchmarks/hunt_speed.py
"""

from __future__ import annotations

import platform
import subprocess
import sys
import time

PARTS = {
    "whole hunt": "from proofs.hunt import hunt; r = hunt(); print(len(r.findings))",
    "page-vs-page": "from proofs.page_claims import contradictions; "
                    "print(len(contradictions()[0]))",
    "claims vs doc": "from proofs.page_claims import CLAIMS, agreement; "
                     "print(sum(len(agreement(c)) for c in CLAIMS))",
}


def main() -> int:
    print(f"machine: {platform.machine()}, {platform.processor() or 'cpu'}, "
          f"python {platform.python_version()}, {time.strftime('%Y-%m-%d')}")
    for name, code in PARTS.items():
        start = time.perf_counter()
        run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                             check=False)
        if run.returncode != 0:
            last = (run.stderr.strip().splitlines() or ["no output"])[-1]
            print(f"{name}: failed: {last}", file=sys.stderr)
            return 1
        print(f"{name:15} {time.perf_counter() - start:6.1f} s  ({run.stdout.strip()})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
