"""z3's work per step of the prove catalogue, in z3's own units (rlimit), which do not
depend on the machine or its load: where `vmospec prove` spends its time (issue 14).

Every obligation of the profile (or of one step) is discharged in turn in this one
process, and the units each used are summed by step, then listed for the costliest
obligations. The count still varies a little with what the process built before, so
compare runs of the same selection. Usage:

    PYTHONPATH=. python benchmarks/prove_work.py [--profile P] [--step LABEL] [--top N]
"""

from __future__ import annotations

import argparse
import os
import time
from collections import Counter

import z3

import proofs.prover as prover
from proofs.steps import STEP_BY_LABEL
from spec.profiles import PROFILES


class _Counted:
    """Wraps the prover's solver factory to remember every solver it makes."""

    def __init__(self) -> None:
        self.solvers: list[z3.Solver] = []
        self.real = prover._solver

    def __call__(self, rlimit: int, simplify: bool = False) -> z3.Solver:
        s = self.real(rlimit, simplify)
        self.solvers.append(s)
        return s

    def units(self) -> int:
        """The context's running count of work, as the latest solver reports it."""
        seen = 0
        for s in self.solvers:
            stats = s.statistics()
            if "rlimit count" in stats.keys():  # noqa: SIM118 (not a dict: no __iter__ of keys)
                seen = max(seen, int(stats.get_key_value("rlimit count")))
        return seen


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--profile", default="zircon-2025", choices=sorted(PROFILES))
    ap.add_argument("--step", choices=sorted(STEP_BY_LABEL), help="only this step")
    ap.add_argument("--top", type=int, default=10, help="costliest obligations listed")
    args = ap.parse_args()
    counted = _Counted()
    prover._solver = counted
    obs = [ob for ob in prover.obligations([args.profile])
           if args.step is None or ob.step == args.step]
    units: Counter[str] = Counter()
    seconds: dict[str, float] = {}
    verdicts: Counter[str] = Counter()
    each: list[tuple[int, float, str]] = []
    last = 0
    start = time.perf_counter()
    for ob in obs:
        r = prover.discharge(ob)
        now = max(last, counted.units())
        used, last = now - last, now
        units[ob.step] += used
        seconds[ob.step] = seconds.get(ob.step, 0.0) + r.seconds
        verdicts[str(r.status)] += 1
        each.append((used, r.seconds, ob.name))
    wall = time.perf_counter() - start
    print(f"{len(obs)} obligations of {args.profile}: {dict(verdicts)}; "
          f"{sum(units.values()) / 1e6:.0f} million units, {wall:.1f} s in this process "
          f"(load {os.getloadavg()[0]:.1f})")
    for step, u in units.most_common():
        print(f"  {step:24s} {u / 1e6:8.1f} million  {seconds[step]:6.1f} s")
    print("costliest:")
    for u_, s_, name in sorted(each, reverse=True)[:args.top]:
        print(f"  {u_ / 1e6:7.1f} million {s_:5.1f} s  {name}")


if __name__ == "__main__":
    main()
