"""`vmospec hunt` and `vmospec diff`: the ambiguity register and profile diffs, found by z3,
and profile-against-backend diffs, found by generated traces (refinement_tests/backend_diff.py).

Hooked into the command line by `register(subparsers)` (vmospec/cli.py build_parser).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

from spec.profiles import PROFILES
from vmospec.options import MAX_SEED, bounded_int, duration
from vmospec.output import EXIT_BAD_INPUT, EXIT_DIVERGED, EXIT_OK
from vmospec.shared_options import json_option

NOTES = Path("notes")  # where the project keeps its register: written only when asked


def _fresh_dir(parent: Path, prefix: str) -> Path:
    """A new, empty folder under `parent`, named by the time (then -2, -3, ...)."""
    stem = f"{prefix}-{time.strftime('%Y%m%d-%H%M%S')}"
    for n in range(1, 1000):
        path = parent / (stem if n == 1 else f"{stem}-{n}")
        try:
            path.mkdir(parents=True)
        except FileExistsError:
            continue
        return path
    raise FileExistsError(f"{parent / stem}: every numbered name is taken")


def cmd_hunt(args: argparse.Namespace) -> int:
    from proofs.combos import combos
    from proofs.hunt import hunt, render, write_traces

    if args.update_notes and args.out:
        print("vmospec hunt: error: --out and --update-notes name two places: give one",
              file=sys.stderr)
        return EXIT_BAD_INPUT
    try:
        out = NOTES if args.update_notes else Path(args.out) if args.out else _fresh_dir(
            Path("out"), "hunt")
        traces = out / "ambiguities"
        from tqdm import tqdm  # here, not at the top: every start would pay for it

        bar = tqdm(total=sum(1 for _ in combos()), desc="hunt", unit="step", file=sys.stderr,
                   disable=not sys.stderr.isatty())
        res = hunt(progress=bar.update)
        bar.close()
        write_traces(res, traces, write_trace_file)
        # witnesses of findings that are gone would read as current: remove them
        kept = {Path(p.trace).name for p in res.points if p.trace}
        for old in [*traces.glob("A-*.jsonl"), *traces.glob("P-*.jsonl")]:
            if old.name not in kept:
                old.unlink()
        register = out / "ambiguities.md"
        register.parent.mkdir(parents=True, exist_ok=True)
        partial = register.with_name(register.name + ".partial")
        partial.write_text(render(res, str(traces)), encoding="utf-8")
        partial.replace(register)  # never a half-written register
    except OSError as e:
        print(f"vmospec hunt: error: {e}", file=sys.stderr)
        return EXIT_BAD_INPUT
    kept_register = NOTES / "ambiguities.md"
    if out != NOTES and kept_register.is_file() and kept_register.read_text(
            encoding="utf-8") != render(res, str(NOTES / "ambiguities")):
        print(f"vmospec hunt: {kept_register} differs from this run "
              "(vmospec hunt --update-notes rewrites it)", file=sys.stderr)
    if args.json:
        print(json.dumps({
            "register": str(register), "seconds": round(res.seconds, 2),
            "points": [p.to_json() for p in res.points],
        }, indent=2))
    else:
        for p in res.points:
            o = p.witness.outcomes_text()
            print(f"{p.id:60} {p.category:15} doc {o['doc']}; "
                  f"2023 {o['zircon-2023']}; 2025 {o['zircon-2025']}")
            print(f"{'':60} {len(p.instances)} instances ({', '.join(p.ops)}); "
                  f"witness: {p.trace}")
        print(f"{len(res.points)} points ({len(res.instances)} instances) in "
              f"{res.seconds:.1f} s; register: {register}")
    # The hunt was asked to produce the register: it holds when every witness is written.
    return EXIT_OK if all(p.trace for p in res.points) else EXIT_DIVERGED


def cmd_diff(args: argparse.Namespace) -> int:
    from proofs.diff import class_id, diff, write_traces
    from refinement_tests.backends import backend_names
    from spec.outcome import status_name

    backends = backend_names()
    for name in (args.a, args.b):
        if name not in PROFILES and name not in backends:
            print(f"vmospec diff: error: {name!r} is neither a profile "
                  f"({', '.join(PROFILES)}) nor a backend ({', '.join(backends)})",
                  file=sys.stderr)
            return EXIT_BAD_INPUT
    if args.picture and not args.picture.endswith((".png", ".svg")):
        print(f"vmospec diff: error: --picture {args.picture}: the name must end in .png or "
              ".svg", file=sys.stderr)
        return EXIT_BAD_INPUT
    if args.a not in PROFILES or args.b not in PROFILES:
        if args.picture:
            print("vmospec diff: error: --picture draws two profiles' machines: name two "
                  "profiles", file=sys.stderr)
            return EXIT_BAD_INPUT
        return _diff_backend(args)
    if args.picture:
        from vmospec.pictures import profile_machines

        try:
            profile_machines([args.a, args.b], Path(args.picture))
        except OSError as e:
            print(f"vmospec diff: error: cannot write {args.picture}: {e.strerror or e}",
                  file=sys.stderr)
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
             args.a: sorted({status_name(p.result.status, True) for p in d.outcomes_a}),
             args.b: sorted({status_name(p.result.status, True) for p in d.outcomes_b}),
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
    return EXIT_OK if not res.classes else EXIT_DIVERGED


def _diff_backend(args: argparse.Namespace) -> int:
    """A profile against a backend: generated traces in lockstep, classes of divergence."""
    from refinement_tests.backend_diff import BackendDiff, backend_diff, to_json, write_witnesses
    from refinement_tests.backends import BackendError, BackendOptions, make_backend

    if args.a not in PROFILES and args.b not in PROFILES:
        print(f"vmospec diff: error: {args.a!r} and {args.b!r} are both backends; "
              f"name a profile ({', '.join(PROFILES)}) and a backend", file=sys.stderr)
        return EXIT_BAD_INPUT
    prof_name, backend_name = (args.a, args.b) if args.a in PROFILES else (args.b, args.a)
    profile = PROFILES[prof_name]
    try:
        backend = make_backend(backend_name, BackendOptions(profile=profile))
    except BackendError as e:
        print(f"vmospec diff: error: {e}", file=sys.stderr)
        return EXIT_BAD_INPUT
    # progress on a terminal: the generating time, then the traces run so far
    from tqdm import tqdm  # here, not at the top: every start would pay for it

    bar = tqdm(total=args.seconds, desc="diff", unit="s", file=sys.stderr,
               disable=not sys.stderr.isatty(),
               bar_format="{l_bar}{bar}| {n:.0f}/{total:.0f} s [{postfix}]")

    def progress(r: BackendDiff) -> None:
        bar.update(min(r.seconds, args.seconds) - bar.n)
        bar.set_postfix_str(f"{r.traces} traces, {r.steps} steps")

    res = backend_diff(profile, backend, seconds=args.seconds, seed_value=args.seed,
                       on_progress=progress)
    bar.close()
    if res.over_budget:
        print(f"vmospec diff: error: {res.over_budget}", file=sys.stderr)
        return EXIT_BAD_INPUT
    try:
        write_witnesses(res, Path(args.out))
    except OSError as e:
        print(f"vmospec diff: error: {e}", file=sys.stderr)
        return EXIT_BAD_INPUT
    if args.json:
        print(json.dumps(to_json(res), indent=2))
    else:
        for c in res.classes:
            tag = f"  [known: {c.known}]" if c.known else ""
            tag += f"  [the fuzz waives it: {c.waiver}]" if c.waiver else ""
            print(f"{c.id}  ({c.count} traces, witness of {len(c.trace.steps)} steps){tag}")
            print(f"  {c.summary(res.profile, res.backend)}")
            print(f"  witness: {c.path}  (replay: vmospec check {c.path} --profile "
                  f"{res.profile})")
        known = sum(1 for c in res.classes if c.known)
        print(f"{len(res.classes)} divergence classes ({known} known) between "
              f"{res.profile} and {res.backend}: {res.traces} traces, {res.steps} steps "
              f"in {res.seconds:.1f} s, seed {res.seed}")
    return EXIT_OK if not res.classes else EXIT_DIVERGED


def register(subparsers: Any) -> None:
    """Add the `hunt` and `diff` subcommands to vmospec's subparsers."""
    hunt = subparsers.add_parser(
        "hunt", help="the ambiguity register of the reference page, found by z3",
        description="Find where the reference page allows several outcomes or none, and "
        "where the kernels leave it; write the register (ambiguities.md) and one witness "
        "trace per finding, to --out or a new folder under out/ (--update-notes: the "
        "project's notes/). Exit 0 when the register and every witness were written.")
    hunt.add_argument("--out", metavar="DIR",
                      help="where ambiguities.md and the witnesses go (default: a new "
                      "folder out/hunt-<date>-<time>)")
    hunt.add_argument("--update-notes", action="store_true",
                      help="rewrite the project's register instead: notes/ambiguities.md "
                      "and notes/ambiguities/")
    json_option(hunt)
    hunt.set_defaults(run=cmd_hunt)

    diff = subparsers.add_parser(
        "diff", help="where two profiles, or a profile and a backend, disagree; one "
        "minimal witness per class",
        description="List every class of inputs on which A and B disagree, with a minimal "
        "witness trace each. Two profiles: found by z3, each witness recorded under A. A "
        "profile and a backend: generated traces run in lockstep for --seconds, each "
        "class's witness shrunk and recorded with the backend's outcomes (known "
        "disagreements are listed and labelled). Exit 0 only if they agree.")
    diff.add_argument("a", metavar="A", help=f"a profile ({', '.join(PROFILES)}) or a backend")
    diff.add_argument("b", metavar="B", help="another profile, or a backend (model, spec, ...)")
    diff.add_argument("--seconds", type=duration(), default=20.0, metavar="N",
                      help="a backend diff: how long to generate traces (default 20)")
    diff.add_argument("--seed", type=bounded_int(0, MAX_SEED), default=0, metavar="S",
                      help="a backend diff: the seed of the generated traces (default 0)")
    diff.add_argument("--out", metavar="DIR", default="out/diff",
                      help="where witness traces go (default out/diff)")
    json_option(diff)
    diff.add_argument("--picture", metavar="FILE",
                      help="two profiles: also draw the discardable tracker's and the pager "
                      "page's machines side by side, differences in red (.png or .svg)")
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
