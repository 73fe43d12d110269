"""`vmospec hunt` and `vmospec diff`: the ambiguity register and profile diffs, found by z3.

Hooked into the command line by `register(subparsers)` (vmospec/cli.py build_parser).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from spec.profiles import PROFILES

EXIT_OK = 0
EXIT_FOUND = 1
EXIT_BAD_INPUT = 2


def cmd_hunt(args: argparse.Namespace) -> int:
    from proofs.hunt import hunt, render, write_traces

    out = Path(args.out) if args.out else Path("notes")
    traces = out / "ambiguities"
    try:
        res = hunt()
        write_traces(res, traces, write_trace_file)
        register = out / "ambiguities.md"
        register.parent.mkdir(parents=True, exist_ok=True)
        register.write_text(render(res, str(traces)), encoding="utf-8")
    except OSError as e:
        print(f"vmospec hunt: error: {e}", file=sys.stderr)
        return EXIT_BAD_INPUT
    if args.json:
        print(json.dumps({
            "register": str(register), "seconds": round(res.seconds, 2),
            "findings": [f.to_json() for f in res.findings],
        }, indent=2))
    else:
        for f in res.findings:
            print(f"{f.id:55} {f.category:15} doc {f.doc_text()}; "
                  f"2023 {f.kernel_text('zircon-2023')}; 2025 {f.kernel_text('zircon-2025')}")
            print(f"{'':55} witness: {f.trace}")
        print(f"{len(res.findings)} findings in {res.seconds:.1f} s; register: {register}")
    # The hunt was asked to produce the register: it holds when every witness is written.
    return EXIT_OK if all(f.trace for f in res.findings) else EXIT_FOUND


def cmd_diff(args: argparse.Namespace) -> int:
    from proofs.diff import class_id, diff, write_traces

    for name in (args.a, args.b):
        if name not in PROFILES:
            print(f"vmospec diff: error: no profile named {name!r} "
                  f"(known: {', '.join(PROFILES)})", file=sys.stderr)
            return EXIT_BAD_INPUT
    res = diff(args.a, args.b)
    try:
        write_traces(res, Path(args.out), write_trace_file)
    except OSError as e:
        print(f"vmospec diff: error: {e}", file=sys.stderr)
        return EXIT_BAD_INPUT
    if args.json:
        classes: list[dict[str, Any]] = [
            {"id": class_id(d), "category": d.kind, "step": d.step,
             "shape": f"{d.shape}:{d.handle}", "witness": d.trace,
             args.a: sorted({p.result.status for p in d.outcomes_a}),
             args.b: sorted({p.result.status for p in d.outcomes_b}),
             "rule_a": d.rule_a, "rule_b": d.rule_b, "summary": d.summary()}
            for d in res.classes]
        print(json.dumps({"a": args.a, "b": args.b, "seconds": round(res.seconds, 2),
                          "findings": classes}, indent=2))
    else:
        for d in res.classes:
            print(f"{class_id(d)}  [{d.shape}:{d.handle}]")
            print(f"  {d.summary()}")
            print(f"  witness: {d.trace}  (replay: vmospec check {d.trace} --profile {args.a})")
        print(f"{len(res.classes)} divergence classes between {args.a} and {args.b} "
              f"in {res.seconds:.1f} s")
    # What was asked holds when the profiles agree.
    return EXIT_OK if not res.classes else EXIT_FOUND


def register(subparsers: Any) -> None:
    """Add the `hunt` and `diff` subcommands to vmospec's subparsers."""
    hunt = subparsers.add_parser(
        "hunt", help="the ambiguity register of the reference page, found by z3",
        description="Find where the reference page allows several outcomes or none, and "
        "where the kernels leave it; write the register (ambiguities.md) and one witness "
        "trace per finding. Exit 0 when the register and every witness were written.")
    hunt.add_argument("--out", metavar="DIR",
                      help="where ambiguities.md and the witnesses go (default: notes)")
    hunt.add_argument("--json", action="store_true", help="one JSON object on stdout")
    hunt.set_defaults(run=cmd_hunt)

    diff = subparsers.add_parser(
        "diff", help="where two profiles disagree, one minimal witness per class",
        description="List every class of inputs on which profiles A and B disagree, with "
        "a minimal witness trace each (recorded under A). Exit 0 only if they agree.")
    diff.add_argument("a", metavar="A", help=f"a profile ({', '.join(PROFILES)})")
    diff.add_argument("b", metavar="B", help="another profile")
    diff.add_argument("--out", metavar="DIR", default="out/diff",
                      help="where witness traces go (default out/diff)")
    diff.add_argument("--json", action="store_true", help="one JSON object on stdout")
    diff.set_defaults(run=cmd_diff)


def write_trace_file(path: Path, steps: list[Any], meta: dict[str, Any]) -> None:
    """Write witness steps (proofs.witness.Recorded) as a vmo-trace file, atomically."""
    from refinement_tests.trace import Header, StatusExpect, step_to_json, write_trace

    lines = []
    for s in steps:
        outcome = dict(s.outcome)
        status = outcome.get("status")
        if isinstance(status, tuple):  # ("any", statuses) or ("not", statuses)
            outcome["status"] = StatusExpect(frozenset(status[1]), negate=status[0] == "not")
        lines.append(step_to_json(s.name, s.kind, s.args, outcome, s.note))
    write_trace(path, Header(4096, meta=meta), lines)
