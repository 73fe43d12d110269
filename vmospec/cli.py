"""The `vmospec` command line: the front door over spec/, model/, proofs/ and the harness."""

from __future__ import annotations

import argparse
import json
import random
import re
import sqlite3
import sys
import time
from collections.abc import Sequence
from contextlib import nullcontext
from importlib import resources
from pathlib import Path
from typing import Any, NoReturn

from refinement_tests.checker import StateBudgetError, TraceResult, check_steps
from refinement_tests.stepper import MAX_STATES
from refinement_tests.trace import (
    Header,
    StatusExpect,
    TraceError,
    TraceMissing,
    open_trace,
    read_trace,
    short_value,
    step_to_json,
    trace_lines,
    write_trace,
)
from spec.explore import ANY_ERROR
from spec.outcome import PANIC, status_name
from spec.profiles import PROFILES, Profile
from spec.sources import explain
from vmospec import explore_cmd, hunt_cmd, interrupt, show_cmd, sources_cmd
from vmospec.interrupt import stop_at_once
from vmospec.options import MAX_SEED, bounded_int, duration
from vmospec.output import (
    EXIT_BAD_INPUT,
    EXIT_DIVERGED,
    EXIT_OK,
    OutputFailed,
    guard_stdout,
    out_file_problem,
    partial_path,
    stdout_failed,
)
from vmospec.shared_options import json_option, profile_option

DEFAULT_PROFILE = "zircon-2025"  # check's, when neither --profile nor the header names one
MAX_JOBS = 64  # prover processes: z3 gains nothing from more, and each holds memory
MAX_FRAMES = 1 << 40  # the model's frame pool


class _Parser(argparse.ArgumentParser):
    """argparse, but a usage error is one line and exit status 2, no usage dump."""

    def error(self, message: str) -> NoReturn:
        self.exit(EXIT_BAD_INPUT, f"{self.prog}: error: {message}\n")


def _bundled_examples() -> list[Path]:
    root = resources.files("refinement_tests") / "traces" / "examples"
    return sorted(Path(str(p)) for p in root.iterdir() if p.name.endswith(".jsonl"))


def _expand(paths: Sequence[str]) -> list[Path]:
    """Files as given; a directory stands for the *.jsonl files in it and its subfolders."""
    out: list[Path] = []
    for p in paths:
        path = Path(p)
        try:
            is_dir = path.is_dir()
        except OSError as e:  # a name too long for the file system, say
            raise TraceError(str(path), 0, f"cannot read: {e.strerror or e}") from None
        if not is_dir:
            out.append(path)
            continue
        found = sorted(path.rglob("*.jsonl"))
        if not found:
            raise TraceError(str(path), 0, "no *.jsonl traces in this directory or below")
        out.extend(found)
    return out


def _steps(n: int) -> str:
    return f"{n} step" + ("" if n == 1 else "s")


def _print_result(r: TraceResult, profile: str) -> None:
    for note in r.notes:
        print(f"{r.path}: {note}")
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
    print(f"  expected: {json.dumps(expected)}  ({explain(rule)})")
    if len(d.allowed) > 1:
        print("  allowed:")
        for a in d.allowed:
            shown = {k: x for k, x in a.items() if k != "rule"}
            print(f"    {json.dumps(shown)}  ({explain(a.get('rule', ''))})")
    print(f"  replay: vmospec check {d.trace} --profile {profile}")


def _trace_profile(path: str, header: Header, given: str | None) -> Profile:
    """--profile when given; else the profile the header's `kernel` names; else the
    default. A `kernel` that names no profile is refused (TraceError, the header's line)."""
    if given is not None:
        return PROFILES[given]
    kernel = header.meta.get("kernel")
    if kernel is None:
        return PROFILES[DEFAULT_PROFILE]
    if not isinstance(kernel, str) or kernel not in PROFILES:
        raise TraceError(path, 1, f"header: kernel {short_value(kernel)} is not a "
                         f"profile ({', '.join(PROFILES)}); choose one with --profile")
    return PROFILES[kernel]


def cmd_check(args: argparse.Namespace) -> int:
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
    profile_of: dict[str, str] = {}  # each trace's profile
    errors: list[TraceError] = []
    over: list[StateBudgetError] = []  # not judged: past the state budget
    progress: Sequence[Path] = paths
    if len(paths) >= 20 and sys.stderr.isatty():
        from tqdm import tqdm  # here, not at the top: every start would pay for it

        progress = tqdm(paths, desc="check", unit="trace", file=sys.stderr)
    for path in progress:
        # Each trace is checked as it is read, so memory stays flat with its length; a
        # malformed line anywhere still makes it malformed, not judged (check_steps).
        try:
            with open_trace(path) as stream:
                profile = _trace_profile(stream.path, stream.header, args.profile)
                results.append(check_steps(stream.path, stream.header, stream, profile,
                                           args.max_states))
        except TraceError as e:
            errors.append(e)
            continue
        except StateBudgetError as e:
            over.append(e)
            continue
        profile_of[results[-1].path] = profile.name
    conforming = sum(r.conforms for r in results)
    used = sorted(set(profile_of.values())) or [args.profile or DEFAULT_PROFILE]
    missing = sum(isinstance(e, TraceMissing) for e in errors)
    if args.json:
        report: dict[str, Any] = {
            # the one profile every trace was checked under (null: several, by kernel)
            "profile": used[0] if len(used) == 1 else None,
            "traces": len(results),
            "steps": sum(r.steps for r in results),
            "conforming": conforming,
            "divergences": [
                {"trace": d.trace, "profile": profile_of[r.path], "step": d.step,
                 "line": d.line, "call": d.call,
                 "observed": d.observed, "expected": d.expected, "allowed": d.allowed,
                 **({"reason": d.reason} if d.reason else {})}
                for r in results if (d := r.divergence) is not None
            ],
            "errors": [{"trace": e.path, "line": e.line, "message": e.message,
                        "missing": isinstance(e, TraceMissing)} for e in errors]
            + [{"trace": e.path, "line": e.line, "message": e.message, "missing": False}
               for e in over],
            "not_run": [{"trace": r.path, "note": n} for r in results for n in r.notes],
        }
        print(json.dumps(report, indent=2))
    else:
        for r in results:
            _print_result(r, profile_of[r.path])
        under = used[0] if len(used) == 1 else (
            ", ".join(used) + " (each trace under its header's kernel)")
        rejected = [f"{len(errors) - missing} rejected as malformed"] if missing < len(errors) \
            else []
        rejected += [f"{missing} missing"] if missing else []
        print(f"{conforming} of {len(results)} traces conform under {under} "
              f"({_steps(sum(r.steps for r in results))})"
              + "".join(f"; {x}" for x in rejected)
              + (f"; {len(over)} over the state budget" if over else ""))
    for err in [*errors, *over]:
        print(str(err), file=sys.stderr)
    if errors or over:
        return EXIT_BAD_INPUT
    return EXIT_OK if conforming == len(results) else EXIT_DIVERGED


def cmd_prove(args: argparse.Namespace) -> int:
    from proofs.cache import ProofCache
    from proofs.catalogue import CATALOGUE
    from proofs.counterexample import trace_for
    from proofs.prover import RLIMIT, obligations, run

    if args.only is not None and args.only not in CATALOGUE:
        print(f"vmospec prove: error: no invariant named {args.only!r} "
              f"(known: {', '.join(CATALOGUE)})", file=sys.stderr)
        return EXIT_BAD_INPUT
    if args.rlimit is None:
        args.rlimit = RLIMIT
    try:
        cache = None if args.no_cache else ProofCache(Path(args.cache), args.rlimit)
    except (OSError, sqlite3.Error) as e:
        return _error("prove", f"{args.cache}: cannot use it as the proof cache: {e}")
    # Other implementations only on request: the default run stays what CI proves.
    profiles = [args.profile] if args.profile else [
        p.name for p in PROFILES.values() if p.kind != "implementation"]
    obs = list(obligations(profiles, args.only))
    from tqdm import tqdm  # here, not at the top: every start would pay for it

    bar = tqdm(total=len(obs), desc="prove", unit="obligation", file=sys.stderr,
               disable=not sys.stderr.isatty())
    started = time.perf_counter()
    try:
        results = run(obs, jobs=args.jobs, progress=lambda r: bar.update(),
                      rlimit=args.rlimit, cache=cache)
    finally:
        if cache is not None:
            cache.close()
    bar.close()
    elapsed = time.perf_counter() - started
    results = [r for r in results if r.status != "not applicable"]
    results.sort(key=lambda r: (r.obligation.invariant, r.obligation.profile, r.obligation.name))
    out = Path(args.out)
    written: dict[str, str] = {}
    for r in results:
        if r.status == "counterexample":
            written[r.obligation.name] = _write_counterexample(r, out, trace_for)
    failures = [r for r in results if r.status != "proved" and not r.finding]
    if args.json:
        print(json.dumps({
            "profiles": profiles,
            "seconds": round(elapsed, 2),
            "obligations": [
                {"name": r.obligation.name, "invariant": r.obligation.invariant,
                 "profile": r.obligation.profile, "shape": r.obligation.shape,
                 "handle": r.obligation.handle, "step": r.obligation.step,
                 "status": r.status, "seconds": round(r.seconds, 3),
                 "nonvacuous": r.nonvacuous, "finding": r.finding, "cached": r.cached,
                 **({"trace": written[r.obligation.name]} if r.obligation.name in written
                    else {})}
                for r in results
            ],
        }, indent=2))
    else:
        _print_proofs(results, written, not args.brief)
        counts: dict[str, int] = {}
        for r in results:
            key = "finding" if r.finding else r.status
            counts[key] = counts.get(key, 0) + 1
        summary = ", ".join(f"{n} {k}" for k, n in sorted(counts.items()))
        remembered = sum(r.cached for r in results)
        print(f"{len(results)} obligations in {elapsed:.1f} s "
              f"({remembered} remembered, {len(results) - remembered} proved now): {summary}")
    return EXIT_OK if not failures else EXIT_DIVERGED


def _write_counterexample(r: Any, out: Path, trace_for: Any) -> str:
    """Write the counterexample of one obligation as a vmo-trace; return its path."""
    ob = r.obligation
    name = f"{ob.invariant}--{ob.profile}--{ob.shape}-{ob.handle}--{ob.step}"
    path = out / (re.sub(r"[^A-Za-z0-9_.-]+", "_", name) + ".jsonl")
    steps = []
    for s in trace_for(r):
        outcome, note = dict(s.outcome), s.note
        if outcome.get("status") == ANY_ERROR:  # where the page is silent: "it failed"
            outcome["status"] = StatusExpect(frozenset({0}), negate=True)
        if outcome.get("status") == PANIC:  # a trace cannot record a crash
            del outcome["status"]
            note = "; ".join(x for x in (note, "panics here: no status comes back") if x)
        steps.append(step_to_json(s.name, s.kind, s.args, outcome, note))
    header = Header(4096, meta={"origin": "vmospec prove: counterexample",
                                "obligation": ob.name, "kernel": ob.profile})
    out.mkdir(parents=True, exist_ok=True)
    write_trace(path, header, steps)
    return str(path)


def _print_proofs(results: list[Any], written: dict[str, str], every: bool) -> None:
    """The table (obligation, result, time), then a tally per invariant and profile."""
    print(f"{'result':15} {'time':>8}  obligation")
    for r in results:
        if r.status == "proved" and not every:
            continue
        tag = "FINDING" if r.finding else r.status.upper()
        vac = "" if r.nonvacuous else "  (hypotheses not shown satisfiable)"
        print(f"{tag:15} {r.seconds:7.2f}s  {r.obligation.name}{vac}")
        if r.obligation.name in written:
            trace = written[r.obligation.name]
            print(f"{'':26}counterexample: {trace}")
            print(f"{'':26}replay: vmospec check {trace} --profile {r.obligation.profile}")
    by_inv: dict[tuple[str, str], dict[str, int]] = {}
    for r in results:
        key = (r.obligation.invariant, r.obligation.profile)
        tally = by_inv.setdefault(key, {})
        status = "finding" if r.finding else r.status
        tally[status] = tally.get(status, 0) + 1
    print(f"\n{'invariant':24} {'profile':12} result")
    for (inv, prof), tally in sorted(by_inv.items()):
        print(f"{inv:24} {prof:12} " + ", ".join(f"{n} {k}" for k, n in sorted(tally.items())))


def _max_states_option(p: argparse.ArgumentParser) -> None:
    p.add_argument("--max-states", type=bounded_int(1, 1 << 20), default=MAX_STATES,
                   metavar="N",
                   help=f"the budget of possible states the spec may be in (default "
                   f"{MAX_STATES}): N at once, N x (64 + steps/32) stepped in all; past "
                   "it a trace is an error (notes/state-budget.md)")


def _error(cmd: str, message: str) -> int:
    print(f"vmospec {cmd}: error: {message}", file=sys.stderr)
    return EXIT_BAD_INPUT


def _make_backend(cmd: str, args: argparse.Namespace) -> Any:
    """The backend the options name, or an error line (a str)."""
    from refinement_tests.backends import BackendError, BackendOptions, make_backend

    broken = frozenset(args.broken or ())
    if broken and args.backend != "model":
        return "--broken switches on a variant of the model: use it with --backend model"
    if args.runner is not None and args.backend != "device":
        return "--runner names the device runner's command: use it with --backend device"
    if args.memory is not None and args.backend != "device":
        return "--memory is the host runner's budget: use it with --backend device"
    try:
        return make_backend(args.backend, BackendOptions(
            profile=PROFILES[args.profile], frames=args.frames, broken=broken,
            runner=args.runner, runner_timeout=args.runner_timeout, memory=args.memory))
    except BackendError as e:
        return str(e)


def _writable_dir(path: Path) -> str | None:
    """None if files can be written in `path` (made if missing), else why not."""
    import tempfile

    try:
        path.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=path, prefix=".vmospec-probe-"):
            pass
    except OSError as e:
        return f"cannot write to {path}: {e.strerror or e}"
    return None


def cmd_run(args: argparse.Namespace) -> int:
    from refinement_tests.backends import BackendError, BatchBackend

    try:
        trace = read_trace(args.trace)
    except TraceError as e:
        print(str(e), file=sys.stderr)
        return EXIT_BAD_INPUT
    out = Path(args.out) if args.out else None
    if out is not None:
        why = out_file_problem(out) or _writable_dir(out.parent)
        if why:
            return _error("run", why)
    backend = _make_backend("run", args)
    if isinstance(backend, str):
        return _error("run", backend)
    lines: list[dict[str, Any]] = []
    failed: str | None = None
    if isinstance(backend, BatchBackend):
        # one round trip for the whole trace
        from refinement_tests.device.backend import BatchTrace, RunnerFailed, observed_json

        try:
            got = backend.run_batch([BatchTrace(
                trace.header, [(s.name, s.kind, s.args) for s in trace.steps])])[0]
        except RunnerFailed as e:
            got = e.observed[0] if e.observed else []
            failed = f"the backend failed after {_steps(len(got))}: {e}"
        except BackendError as e:
            return _error("run", f"{trace.path}: the backend failed: {e}")
        lines = [observed_json(s.name, s.kind, s.args, o, s.note)
                 for s, o in zip(trace.steps, got, strict=False)]
    else:
        backend.start(trace.header)
        from tqdm import tqdm  # here, not at the top: every start would pay for it

        progress = tqdm(trace.steps, desc="run", unit="step", file=sys.stderr,
                        disable=len(trace.steps) < 1000 or not sys.stderr.isatty())
        for step in progress:
            try:
                observed = backend.step(step.name, step.kind, step.args)
            except BackendError as e:
                print(f"vmospec run: {trace.path}: step {step.index} (line {step.line}), "
                      f"{step.name}: the backend failed: {e}", file=sys.stderr)
                return EXIT_DIVERGED
            lines.append(step_to_json(step.name, step.kind, step.args, observed, step.note))
    meta = {k: _portable(x) for k, x in trace.header.meta.items() if k != "backend"}
    header = Header(trace.header.page_size, dict(trace.header.config),
                    {**meta, "backend": backend.name})
    if failed is not None:
        # What was observed before the runner was lost is kept: in a file of its own
        # beside --out (which keeps what it held), or on stdout.
        if out is not None and lines:
            partial = partial_path(out)
            try:
                write_trace(partial, header, lines)
            except (OSError, TraceError) as e:
                return _error("run", f"cannot write {partial}: {_why(e)}")
            failed += (f"; the {_steps(len(lines))} observed are in {partial} ({out} is "
                       "left as it was)")
        elif out is None:
            code = _print_trace("run", header, lines)
            if code != EXIT_OK:
                return code
        print(f"vmospec run: {trace.path}: {failed}", file=sys.stderr)
        return EXIT_DIVERGED
    if out is None:
        return _print_trace("run", header, lines)
    try:
        write_trace(out, header, lines)
    except (OSError, TraceError) as e:
        return _error("run", f"cannot write {out}: {_why(e)}")
    if args.json:
        print(json.dumps({"trace": str(args.trace), "backend": backend.name,
                          "steps": len(lines), "out": str(out)}))
    else:
        print(f"{args.trace}: ran {_steps(len(lines))} on {backend.name}; observed trace "
              f"written to {out}")
    return EXIT_OK


def _why(e: OSError | TraceError) -> str:
    if isinstance(e, TraceError):
        return f"the backend's answer is not a valid trace: {e}"
    return e.strerror or str(e)


def _print_trace(cmd: str, header: Header, lines: list[dict[str, Any]]) -> int:
    """The trace on stdout, each line checked as the reader would check it first."""
    try:
        text = "".join(f"{line}\n" for line in trace_lines("<stdout>", header, lines))
    except TraceError as e:
        return _error(cmd, _why(e))
    sys.stdout.write(text)
    return EXIT_OK


def cmd_fuzz(args: argparse.Namespace) -> int:
    from refinement_tests.backends import BackendError
    from refinement_tests.fuzz import ALL_KNOWN, FuzzReport, fuzz

    out = Path(args.out)
    why = _writable_dir(out)
    if why:
        return _error("fuzz", why)
    backend = _make_backend("fuzz", args)
    if isinstance(backend, str):
        return _error("fuzz", backend)
    profile = PROFILES[args.profile]
    seconds = args.seconds if args.seconds is not None else (
        None if args.max_examples is not None else 60.0)
    total = args.max_examples if seconds is None else seconds
    from tqdm import tqdm  # here, not at the top: every start would pay for it

    bar = tqdm(total=total, desc="fuzz", unit="trace" if seconds is None else "s",
               file=sys.stderr, disable=not sys.stderr.isatty(),
               bar_format="{l_bar}{bar}| {n:.0f}/{total:.0f} {unit} [{postfix}]")
    done = [0.0]

    def progress(r: FuzzReport) -> None:
        now = r.traces if seconds is None else min(r.seconds, total)
        bar.update(now - done[0])
        done[0] = now
        bar.set_postfix_str(f"{r.traces} traces, {r.steps} steps")

    seeds: list[int] = []
    options = {"seconds": seconds, "max_examples": args.max_examples, "out_dir": out,
               "max_steps": args.max_steps, "max_states": args.max_states,
               "known": frozenset() if args.known else ALL_KNOWN}
    try:
        if args.jobs == 1:
            report = fuzz(backend, profile, seed_value=args.seed, on_progress=progress,
                          **options)
        else:
            from refinement_tests.fuzz_jobs import fuzz_jobs

            seed = args.seed if args.seed is not None else random.SystemRandom().randrange(
                1 << 32)
            if args.max_examples is not None:  # the traces are shared out
                options["max_examples"] = -(-args.max_examples // args.jobs)

            def sums(traces: int, steps: int) -> None:
                now = traces if seconds is None else min(time.perf_counter() - t0, total)
                bar.update(now - done[0])
                done[0] = now
                bar.set_postfix_str(f"{traces} traces, {steps} steps, {args.jobs} jobs")

            t0 = time.perf_counter()
            report, seeds = fuzz_jobs(lambda: _make_backend("fuzz", args), args.jobs, seed,
                                      on_progress=sums, profile=profile, **options)
    except BackendError as e:  # the backend failed before it observed anything
        bar.close()
        return _error("fuzz", f"the backend failed: {e}")
    bar.close()
    if report.over_budget:
        saved = f" (saved to {report.trace_path})" if report.trace_path else ""
        return _error("fuzz", f"{report.over_budget}{saved}; raise --max-states")
    coverage = report.coverage_report()
    d = report.divergence
    replay = (f"vmospec check {report.trace_path} --profile {profile.name}"
              if report.trace_path else None)
    if d is not None and d.reason and report.trace_path:
        replay = f"vmospec run {report.trace_path} --backend {args.backend}"
    if args.json:
        print(json.dumps({
            "backend": report.backend, "profile": report.profile, "seed": report.seed,
            "seconds": round(report.seconds, 2), "traces": report.traces,
            "steps": report.steps,
            "steps_per_second": round(report.steps / report.seconds) if report.seconds else 0,
            "interrupted": report.interrupted,
            "divergences": [] if d is None else [{
                "step": d.step, "call": d.call, "observed": _jsonable(d.observed),
                "allowed": d.allowed, **({"reason": d.reason} if d.reason else {}),
                "trace": report.trace_path, "replay": replay,
                "caught_after_seconds": round(report.caught_after or 0.0, 3),
                "traces_to_catch": report.traces_to_catch}],
            "known": report.known,
            "not_u64": report.not_u64,
            **({"seeds": seeds} if seeds else {}),
            "coverage": coverage,
        }, indent=2))
    else:
        if seeds:
            print(f"fuzz: {len(seeds)} workers, seeds {', '.join(map(str, seeds))}")
        _print_fuzz(report, coverage, replay)
    if d is not None:
        return EXIT_DIVERGED
    return interrupt.EXIT_INTERRUPTED if report.interrupted else EXIT_OK


def _jsonable(d: dict[str, Any]) -> dict[str, Any]:
    from refinement_tests.stepper import render_value

    return {k: status_name(x) if k == "status" else render_value(x) for k, x in d.items()}


def _print_fuzz(report: Any, coverage: dict[str, Any], replay: str | None) -> None:
    rate = report.steps / report.seconds if report.seconds else 0.0
    print(f"fuzz: {report.backend} against the spec under {report.profile}, seed "
          f"{report.seed}: {report.traces} traces, {_steps(report.steps)} in "
          f"{report.seconds:.1f} s ({rate:,.0f} steps/s)"
          + (" (interrupted)" if report.interrupted else ""))
    d = report.divergence
    if d is None:
        print("no divergence: every observed outcome was one the spec allows")
    else:
        print(f"DIVERGENCE at step {d.step} ({d.call}) of the shrunk trace "
              f"(first seen after {report.caught_after or 0.0:.2f} s, "
              f"{report.traces_to_catch} traces)")
        if d.reason:
            print(f"  {d.reason}")
        else:
            print(f"  observed: {json.dumps(_jsonable(d.observed))}")
            for a in d.allowed:
                shown = {k: x for k, x in a.items() if k != "rule"}
                print(f"  allowed:  {json.dumps(shown)}  ({explain(a.get('rule', ''))})")
        if report.trace_path:
            print(f"  trace: {report.trace_path}")
            print(f"  replay: {replay}")
    if report.not_u64:
        print(f"{report.not_u64} generated traces left out: a number outside u64, which no "
              "vmo-trace can carry")
    if report.known:
        print("traces ended at a known disagreement: " + ", ".join(
            f"{k} {n}" for k, n in sorted(report.known.items())))
    ops = coverage["op_status"]
    print(f"coverage: (op, status) {ops['reached_of_target']} of {ops['target_pairs']} "
          "spec-reachable pairs" + (": missing " + ", ".join(
              f"{o}/{s}" for o, s in ops["missing"]) if ops["missing"] else ""))
    calls = coverage["calls"]
    kinds = coverage["vmo_kinds"]
    print(f"          calls and events {len(calls['reached'])} of "
          f"{len(calls['reached']) + len(calls['missing'])}"
          + (": missing " + ", ".join(calls["missing"]) if calls["missing"] else ""))
    print(f"          VMO kinds {len(kinds['reached'])} of "
          f"{len(kinds['reached']) + len(kinds['missing']) + len(kinds['excluded'])}"
          + (": missing " + ", ".join(kinds["missing"]) if kinds["missing"] else "")
          + "".join(f"; {k} {why}" for k, why in kinds["excluded"].items()))
    b = coverage["behaviour"]
    empty = ["/".join(c) for c in b["missing"]]
    print(f"          behaviour (what, target, range) {b['reached']} of {b['cells']} cells"
          + (": empty " + ", ".join(empty[:40]) + (f", ... ({len(empty) - 40} more: --json)"
                                                   if len(empty) > 40 else "")
             if empty else ""))
    never = ["/".join(c) for c in b["effects_never_observed"]]
    print(f"          effects later observed {b['effects_observed']} of {b['effects']} cells"
          + (": never " + ", ".join(never[:20]) + (f", ... ({len(never) - 20} more)"
                                                   if len(never) > 20 else "")
             if never else ""))


_ABSOLUTE_PATH = re.compile(r"(?<![\w.~-])/(?:[^\s/\"']+/)+([^\s/\"']*)")


def _portable(value: object) -> object:
    """Header metadata as `run` writes it: an absolute path of the machine the trace was
    made on becomes its last component, so no build machine's path travels along."""
    return _ABSOLUTE_PATH.sub(r"\1", value) if isinstance(value, str) else value


def cmd_profiles(args: argparse.Namespace) -> int:
    if args.json:
        print(json.dumps([{"name": p.name, "kind": p.kind, "summary": p.summary}
                          for p in PROFILES.values()]))
    else:
        for p in PROFILES.values():
            print(f"{p.name:12} {p.kind:15} {p.summary}")
    return EXIT_OK


def _broken_option(p: argparse.ArgumentParser) -> None:
    from model.variants import VARIANTS

    p.add_argument("--broken", action="append", metavar="NAME", choices=sorted(VARIANTS),
                   help="--backend model: switch on a deliberately broken variant of the "
                   "model (repeatable); NAME is one of " + ", ".join(sorted(VARIANTS)))


def _runner_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--runner", metavar="CMD",
                   help="--backend device: the command that starts the trace runner (on a "
                   "device: e.g. through ffx or ssh); default: the host build, built on demand")
    p.add_argument("--runner-timeout", type=duration(), default=300.0, metavar="S",
                   help="--backend device: seconds one batch may take (default 300)")
    p.add_argument("--memory", type=bounded_int(1, 1 << 48), metavar="BYTES",
                   help="--backend device, host build: bytes all VMOs' pages may hold "
                   "together; past it commits fail with NO_MEMORY (default 2^30, 1 GiB)")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="vmospec", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)

    check = sub.add_parser("check", help="replay vmo-trace files against the spec",
                           description="Replay traces against the spec; report the first "
                           "divergence of each. Exit 0 only if every trace conforms.")
    check.add_argument("traces", nargs="*", help="trace files, or directories of *.jsonl")
    check.add_argument("--profile", choices=sorted(PROFILES),
                       help="which behaviour to check against (default: the profile the "
                       "trace header's kernel names, else zircon-2025)")
    check.add_argument("--examples", action="store_true",
                       help="also check the example traces bundled with vmospec")
    json_option(check)
    _max_states_option(check)
    check.set_defaults(run=cmd_check)

    prove = sub.add_parser("prove", help="prove the invariant catalogue with z3",
                           description="Prove every invariant of the catalogue for every "
                           "step, shape and profile. Exit 0 only if all are proved, but for "
                           "the expected status-domain findings.")
    prove.add_argument("--profile", choices=sorted(PROFILES),
                       help="only this profile's obligations (default: the doc and the "
                       "Zircon eras; implementation profiles only when named)")
    prove.add_argument("--only", metavar="NAME", help="only the invariant NAME")
    prove.add_argument("--jobs", type=bounded_int(1, MAX_JOBS), default=2,
                       help=f"processes (default 2, at most {MAX_JOBS})")
    prove.add_argument("--out", default="out/counterexamples",
                       help="where counterexample traces go (default out/counterexamples)")
    prove.add_argument("--rlimit", type=bounded_int(1, (1 << 32) - 1), default=None,
                       help="z3's budget, in its own units of work, for each solver call "
                       "of an obligation (default 500 million; RLIMIT in proofs/prover.py); "
                       "out of budget is unknown")
    prove.add_argument("--cache", default="out/prove-cache", metavar="DIR",
                       help="where results are remembered (default out/prove-cache)")
    prove.add_argument("--no-cache", action="store_true",
                       help="prove everything again (the new results are not stored)")
    prove.add_argument("--brief", action="store_true",
                       help="list only what is not proved, then the summary")
    json_option(prove)
    prove.set_defaults(run=cmd_prove)

    from refinement_tests.backends import backend_names

    run = sub.add_parser("run", help="run a trace's calls on a backend",
                         description="Run the calls and events of a trace on a backend and "
                         "write the observed trace: the same steps, each with what the "
                         "backend observed instead of what the trace recorded, and the "
                         "header with \"backend\" added. To stdout unless --out.")
    run.add_argument("trace", help="a vmo-trace file")
    run.add_argument("--backend", required=True,
                     help=f"where to run it: {', '.join(backend_names())}")
    profile_option(run, "the spec backend runs")
    run.add_argument("--out", metavar="FILE", help="write the observed trace here (atomically)")
    run.add_argument("--frames", type=bounded_int(1, MAX_FRAMES), default=1 << 20,
                     help="the model's physical frames (default 2^20)")
    _broken_option(run)
    json_option(run, "with --out: a JSON summary")
    _runner_options(run)
    run.set_defaults(run=cmd_run)

    fz = sub.add_parser("fuzz", help="generated traces, lockstep against the spec",
                        description="Generate traces (hypothesis), run each step on the "
                        "backend and on the spec in lockstep, and report every outcome the "
                        "spec does not allow. A failure is shrunk and saved as a vmo-trace "
                        "in --out, with the command that replays it. Exit 0 only if no "
                        "divergence was found.")
    fz.add_argument("--backend", required=True,
                    help=f"the implementation to check: {', '.join(backend_names())}")
    profile_option(fz, "to check against")
    fz.add_argument("--seconds", type=duration(),
                    help="how long to run (default 60, or until --max-examples)")
    fz.add_argument("--max-examples", type=bounded_int(1, 10**9), metavar="N",
                    help="stop after N generated traces")
    fz.add_argument("--seed", type=bounded_int(0, MAX_SEED),
                    help="the run's seed, 0 to 2^64-1 (default: random, printed)")
    fz.add_argument("--out", default="out/fuzz",
                    help="where a failing trace goes (default out/fuzz)")
    _broken_option(fz)
    fz.add_argument("--frames", type=bounded_int(1, MAX_FRAMES), default=1 << 20,
                    help="the model's physical frames (default 2^20)")
    fz.add_argument("--max-steps", type=bounded_int(1, 10_000), default=30,
                    help="steps per trace (default 30)")
    fz.add_argument("--jobs", type=bounded_int(1, MAX_JOBS), default=1,
                    help="worker processes, each with its own seed (default 1); one report")
    fz.add_argument("--known", action="store_true",
                    help="also go where the spec and the model are known to disagree "
                    "(refinement_tests/known.py), so those are reported too")
    json_option(fz)
    _max_states_option(fz)
    _runner_options(fz)
    fz.set_defaults(run=cmd_fuzz)

    profiles = sub.add_parser("profiles", help="list the profiles",
                              description="List the profiles the spec knows.")
    json_option(profiles, "a JSON list")
    profiles.set_defaults(run=cmd_profiles)

    hunt_cmd.register(sub)
    explore_cmd.register(sub)
    show_cmd.register(sub)
    sources_cmd.register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    guard_stdout()
    try:
        args = build_parser().parse_args(argv)
        # The z3 commands: Ctrl-C must reach past z3 and the prover's worker processes.
        with stop_at_once() if args.command in ("prove", "hunt", "diff") else nullcontext():
            code: int = args.run(args)
        sys.stdout.flush()
    except KeyboardInterrupt:
        print(interrupt.MESSAGE, file=sys.stderr)
        return interrupt.EXIT_INTERRUPTED
    except OutputFailed as e:
        return stdout_failed(str(e))
    return code


if __name__ == "__main__":
    sys.exit(main())
