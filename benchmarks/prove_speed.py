"""Benchmark: the invariant catalogue's wall time on this machine (issue 4).

Figures asked for: at least 300 obligations, all proved or reported, in under 60 s on
the 2-core machine; the slowest ten obligations. Runs `zircon-2025` (the profile the
catalogue specifies), then what `vmospec prove` proves by default (the doc and the
kernel eras, as CI does), then the implementation profiles, each with 2 processes.

Usage: PYTHONPATH=. python benchmarks/prove_speed.py [--jobs N]
"""

from __future__ import annotations

import argparse
import collections
import platform
import time

from proofs.prover import obligations, run
from spec.profiles import PROFILES


def measure(profiles: list[str], jobs: int) -> None:
    obs = list(obligations(profiles))
    start = time.perf_counter()
    results = run(obs, jobs=jobs)
    wall = time.perf_counter() - start
    counted = [r for r in results if r.status != "not applicable"]
    tally = collections.Counter("finding" if r.finding else r.status for r in counted)
    print(f"{'+'.join(profiles)}: {len(counted)} obligations in {wall:.1f} s wall "
          f"({jobs} processes): {dict(tally)}")
    print("  slowest ten:")
    for r in sorted(counted, key=lambda r: -r.seconds)[:10]:
        print(f"    {r.seconds:6.2f} s  {r.status:14} {r.obligation.name}")
    for r in counted:
        if r.status in ("vacuous", "unknown"):
            print(f"  {r.status}: {r.obligation.name}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--jobs", type=int, default=2)
    args = ap.parse_args()
    print(f"machine: {platform.machine()}, python {platform.python_version()}, "
          f"date {time.strftime('%Y-%m-%d')}")
    measure(["zircon-2025"], args.jobs)
    measure([p.name for p in PROFILES.values() if p.kind != "implementation"], args.jobs)
    measure([p.name for p in PROFILES.values() if p.kind == "implementation"], args.jobs)


if __name__ == "__main__":
    main()
