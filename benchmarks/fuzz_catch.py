"""How long a bounded fuzz run takes to catch each broken variant of the model.

For every variant in model/variants.py and each of a few fixed seeds, run
`vmospec fuzz --backend model --broken NAME` (in-process) with at most MAX_EXAMPLES
traces, and record: the time and the number of traces until the first divergence
(the catch), the time including hypothesis's shrinking and the step-removal pass, the
length of the shrunk trace, and whether `vmospec check` rejects the saved trace.

    PYTHONPATH=. python benchmarks/fuzz_catch.py [--seeds 0,1,2] [--max-examples 1000]
    PYTHONPATH=. python benchmarks/fuzz_catch.py --coverage 60   # the 60-second run
    PYTHONPATH=. python benchmarks/fuzz_catch.py --lockstep      # lockstep steps/s

Results go to notes/benchmarks.md by hand.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

from model.variants import VARIANTS
from refinement_tests.backends import ModelBackend
from refinement_tests.checker import check_trace
from refinement_tests.fuzz import fuzz, lockstep
from refinement_tests.generate import GenStep, GenTrace
from refinement_tests.trace import read_trace
from spec.profiles import PROFILES


def catch(seeds: list[int], max_examples: int, profile: str, keep: str | None,
          variants: list[str]) -> None:
    prof = PROFILES[profile]
    rows = []
    with tempfile.TemporaryDirectory() as scratch:
        tmp = keep or scratch
        for name in variants:
            per_seed = []
            for s in seeds:
                t0 = time.perf_counter()
                r = fuzz(ModelBackend(broken={name}), prof, seconds=None,
                         max_examples=max_examples, seed_value=s, out_dir=Path(tmp),
                         trace_name=f"{name}-{s}.jsonl")
                total = time.perf_counter() - t0
                rejected = None
                if r.trace_path:
                    saved = read_trace(r.trace_path)
                    rejected = not check_trace(saved, prof).conforms
                    # Only a catch the variant causes counts: the same steps must
                    # conform on the correct model.
                    steps = tuple(GenStep(s.name, s.kind, s.args) for s in saved.steps)
                    clean = lockstep(GenTrace(saved.header.page_size, saved.header.config,
                                              steps), ModelBackend(), prof)
                    if clean.divergence is not None:
                        print(f"{name} seed {s}: the saved trace diverges on the correct "
                              f"model too (a new disagreement): {r.trace_path}",
                              file=sys.stderr)
                        r.divergence = None
                per_seed.append({"seed": s, "caught": r.divergence is not None,
                                 "catch_s": r.caught_after, "traces": r.traces_to_catch,
                                 "total_s": total, "steps": r.shrunk_steps,
                                 "check_rejects": rejected})
            caught = [x for x in per_seed if x["caught"]]
            row = {
                "variant": name,
                "caught": f"{len(caught)}/{len(per_seed)}",
                "median_catch_s": statistics.median(x["catch_s"] for x in caught) if caught
                else None,
                "max_catch_s": max(x["catch_s"] for x in caught) if caught else None,
                "median_traces": statistics.median(x["traces"] for x in caught) if caught
                else None,
                "median_total_s": statistics.median(x["total_s"] for x in caught) if caught
                else None,
                "shrunk_steps": sorted({x["steps"] for x in caught}),
                "check_rejects": all(x["check_rejects"] for x in caught),
            }
            rows.append(row)
            print(json.dumps(row), flush=True)
    catches = [r["median_catch_s"] for r in rows if r["median_catch_s"] is not None]
    print(f"median time to catch: {statistics.median(catches):.2f} s; "
          f"worst: {max(r['max_catch_s'] for r in rows if r['max_catch_s'] is not None):.2f} s; "
          f"caught: {sum(1 for r in rows if r['median_catch_s'] is not None)}/{len(rows)}")


def coverage(seconds: float, seed: int, profile: str) -> None:
    r = fuzz(ModelBackend(), PROFILES[profile], seconds=seconds, seed_value=seed)
    cov = r.coverage_report()
    print(json.dumps({
        "seconds": round(r.seconds, 1), "traces": r.traces, "steps": r.steps,
        "steps_per_s": round(r.steps / r.seconds), "divergence": bool(r.divergence),
        "known": r.known,
        "op_status": f"{cov['op_status']['reached_of_target']}/{cov['op_status']['target_pairs']}",
        "missing": cov["op_status"]["missing"], "calls_missing": cov["calls"]["missing"],
        "kinds": cov["vmo_kinds"],
    }, indent=1))


def lockstep_speed(seed: int, profile: str) -> None:
    """Steps per second of the lockstep alone (spec + model, one core): the traces of a
    fuzz run are recorded, then replayed through `lockstep` (best of three)."""
    from hypothesis import HealthCheck, given, settings
    from hypothesis import seed as hseed

    from refinement_tests.generate import choice_bytes, decode

    traces: list[GenTrace] = []

    @settings(max_examples=2000, database=None, deadline=None,
              suppress_health_check=list(HealthCheck))
    @hseed(seed)
    @given(choice_bytes())
    def record(buf: bytes) -> None:
        traces.append(decode(buf))

    t0 = time.perf_counter()
    record()
    generate = time.perf_counter() - t0
    prof = PROFILES[profile]
    best = float("inf")
    steps = 0
    for _ in range(3):
        t0 = time.perf_counter()
        steps = sum(lockstep(t, ModelBackend(), prof).steps_run for t in traces)
        best = min(best, time.perf_counter() - t0)
    total = sum(len(t.steps) for t in traces)
    print(json.dumps({"traces": len(traces), "steps_generated": total, "steps_run": steps,
                      "generate_s": round(generate, 2),
                      "generate_steps_per_s": round(total / generate),
                      "lockstep_s": round(best, 2),
                      "lockstep_steps_per_s": round(steps / best)}, indent=1))


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seeds", default="0,1,2")
    ap.add_argument("--max-examples", type=int, default=1000)
    ap.add_argument("--profile", default="zircon-2025")
    ap.add_argument("--coverage", type=float, metavar="SECONDS",
                    help="instead: one clean run of this long, with its coverage")
    ap.add_argument("--seed", type=int, default=1, help="seed of the --coverage run")
    ap.add_argument("--keep", metavar="DIR", help="keep the shrunk traces here")
    ap.add_argument("--variants", help="comma-separated (default: all)")
    ap.add_argument("--lockstep", action="store_true",
                    help="instead: the speed of the lockstep alone")
    a = ap.parse_args()
    if a.lockstep:
        lockstep_speed(a.seed, a.profile)
    elif a.coverage:
        coverage(a.coverage, a.seed, a.profile)
    else:
        names = a.variants.split(",") if a.variants else sorted(VARIANTS)
        catch([int(s) for s in a.seeds.split(",")], a.max_examples, a.profile, a.keep, names)
    return 0


if __name__ == "__main__":
    sys.exit(main())
