"""The `vmospec` command line: the front door over spec/, model/, proofs/ and the harness."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from importlib import resources
from pathlib import Path
from typing import Any, NoReturn

from tqdm import tqdm

from refinement_tests.checker import TraceResult, check_trace
from refinement_tests.trace import TraceError, read_trace
from spec.profiles import PROFILES

EXIT_OK = 0
EXIT_DIVERGED = 1
EXIT_BAD_INPUT = 2


class _Parser(argparse.ArgumentParser):
    """argparse, but a usage error is one line and exit status 2, no usage dump."""

    def error(self, message: str) -> NoReturn:
        self.exit(EXIT_BAD_INPUT, f"{self.prog}: error: {message}\n")


def _bundled_examples() -> list[Path]:
    root = resources.files("refinement_tests") / "traces" / "examples"
    return sorted(Path(str(p)) for p in root.iterdir() if p.name.endswith(".jsonl"))


def _expand(paths: Sequence[str]) -> list[Path]:
    """Files as given; a directory stands for the *.jsonl files in it."""
    out: list[Path] = []
    for p in paths:
        path = Path(p)
        if not path.is_dir():
            out.append(path)
            continue
        found = sorted(path.glob("*.jsonl"))
        if not found:
            raise TraceError(str(path), 0, "no *.jsonl traces in this directory")
        out.extend(found)
    return out


def _steps(n: int) -> str:
    return f"{n} step" + ("" if n == 1 else "s")


def _print_result(r: TraceResult, profile: str) -> None:
    if r.conforms:
        print(f"{r.path}: conforms ({_steps(r.steps)})")
        return
    d = r.divergence
    assert d is not None
    print(f"{d.trace}: diverges at step {d.step} (line {d.line}), {d.call}")
    if d.reason:
        print(f"  {d.reason}")
        return
    print(f"  observed: {json.dumps(d.observed)}")
    rule = d.expected.get("rule", "")
    expected = {k: x for k, x in d.expected.items() if k != "rule"}
    print(f"  expected: {json.dumps(expected)}  ({rule})")
    if len(d.allowed) > 1:
        print("  allowed:")
        for a in d.allowed:
            shown = {k: x for k, x in a.items() if k != "rule"}
            print(f"    {json.dumps(shown)}  ({a.get('rule', '')})")
    print(f"  replay: vmospec check {d.trace} --profile {profile}")


def cmd_check(args: argparse.Namespace) -> int:
    profile = PROFILES[args.profile]
    try:
        paths = _expand(args.traces) + (_bundled_examples() if args.examples else [])
    except TraceError as e:
        print(str(e), file=sys.stderr)
        return EXIT_BAD_INPUT
    if not paths:
        print("vmospec check: error: no traces given (name files, a directory, or --examples)",
              file=sys.stderr)
        return EXIT_BAD_INPUT
    results: list[TraceResult] = []
    errors: list[TraceError] = []
    progress = tqdm(paths, desc="check", unit="trace", file=sys.stderr,
                    disable=len(paths) < 20 or not sys.stderr.isatty())
    for path in progress:
        try:
            trace = read_trace(path)
        except TraceError as e:
            errors.append(e)
            continue
        results.append(check_trace(trace, profile))
    conforming = sum(r.conforms for r in results)
    if args.json:
        report: dict[str, Any] = {
            "profile": profile.name,
            "traces": len(results),
            "steps": sum(r.steps for r in results),
            "conforming": conforming,
            "divergences": [
                {"trace": d.trace, "step": d.step, "line": d.line, "call": d.call,
                 "observed": d.observed, "expected": d.expected, "allowed": d.allowed,
                 **({"reason": d.reason} if d.reason else {})}
                for r in results if (d := r.divergence) is not None
            ],
            "errors": [{"trace": e.path, "line": e.line, "message": e.message} for e in errors],
        }
        print(json.dumps(report, indent=2))
    else:
        for r in results:
            _print_result(r, profile.name)
        print(f"{conforming} of {len(results)} traces conform under {profile.name} "
              f"({_steps(sum(r.steps for r in results))})"
              + (f"; {len(errors)} rejected as malformed" if errors else ""))
    for err in errors:
        print(str(err), file=sys.stderr)
    if errors:
        return EXIT_BAD_INPUT
    return EXIT_OK if conforming == len(results) else EXIT_DIVERGED


def cmd_profiles(args: argparse.Namespace) -> int:
    if args.json:
        print(json.dumps([{"name": p.name, "summary": p.summary} for p in PROFILES.values()]))
    else:
        for p in PROFILES.values():
            print(f"{p.name:12} {p.summary}")
    return EXIT_OK


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="vmospec", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)

    check = sub.add_parser("check", help="replay vmo-trace files against the spec",
                           description="Replay traces against the spec; report the first "
                           "divergence of each. Exit 0 only if every trace conforms.")
    check.add_argument("traces", nargs="*", help="trace files, or directories of *.jsonl")
    check.add_argument("--profile", default="zircon-2025", choices=sorted(PROFILES),
                       help="which behaviour to check against (default: zircon-2025)")
    check.add_argument("--examples", action="store_true",
                       help="also check the example traces bundled with vmospec")
    check.add_argument("--json", action="store_true", help="one JSON object on stdout")
    check.set_defaults(run=cmd_check)

    profiles = sub.add_parser("profiles", help="list the profiles",
                              description="List the profiles the spec knows.")
    profiles.add_argument("--json", action="store_true", help="a JSON list on stdout")
    profiles.set_defaults(run=cmd_profiles)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        code: int = args.run(args)
    except KeyboardInterrupt:
        print("vmospec: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        return EXIT_OK
    return code


if __name__ == "__main__":
    sys.exit(main())
