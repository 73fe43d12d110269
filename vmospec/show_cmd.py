"""`vmospec show TRACE --step N`: the spec's state after step N of a trace, as text or as
a picture of its object graph (`--picture FILE`, .png or .svg).

Hooked into the command line by `register(subparsers)` (vmospec/cli.py build_parser).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from spec.profiles import PROFILES
from vmospec.shared_options import profile_option

EXIT_OK = 0
EXIT_DIVERGED = 1
EXIT_BAD_INPUT = 2


def state_after(trace: Any, step: int, profile: Any) -> tuple[Any, int, int | None]:
    """The spec's state after the first `step` steps (the first of the possible states
    when the trace leaves several), how many were possible, and the step that diverged
    before it (None if none did)."""
    from refinement_tests.stepper import StateSet

    states = StateSet(profile, trace.header.page_size, trace.header.config)
    for s in trace.steps[:step]:
        if s.raw.get("not_run") is not None:
            continue  # not run, so it did not happen
        if not states.step(s.name, s.args, s.expect):
            return states.states[0], len(states.states), s.index
    return states.states[0], len(states.states), None


def cmd_show(args: argparse.Namespace) -> int:
    from refinement_tests.trace import TraceError, read_trace
    from spec.values import Concrete
    from vmospec.pictures import draw_state, object_label, rights_text

    def error(msg: str) -> int:
        print(f"vmospec show: error: {msg}", file=sys.stderr)
        return EXIT_BAD_INPUT

    try:
        trace = read_trace(args.trace)
    except TraceError as e:
        print(str(e), file=sys.stderr)
        return EXIT_BAD_INPUT
    n = len(trace.steps) if args.step is None else args.step
    if not 0 <= n <= len(trace.steps):
        return error(f"--step must be between 0 and {len(trace.steps)} "
                     f"(the trace has {len(trace.steps)} steps), got {n}")
    picture = Path(args.picture) if args.picture else None
    if picture is not None and picture.suffix not in (".png", ".svg"):
        return error(f"--picture {picture}: the name must end in .png or .svg")
    from refinement_tests.stepper import OverBudget

    try:
        st, possible, diverged = state_after(trace, n, PROFILES[args.profile])
    except OverBudget as e:
        return error(f"{args.trace}: {e}")
    if diverged is not None:
        print(f"{args.trace}: diverges at step {diverged} under {args.profile}, before step "
              f"{n}: vmospec check {args.trace} --profile {args.profile}", file=sys.stderr)
        return EXIT_DIVERGED
    page = trace.header.page_size
    title = f"{args.trace}, after step {n} of {len(trace.steps)} ({args.profile})"
    if possible > 1:
        title += f": one of {possible} possible states"
    if picture is not None:
        try:
            picture.parent.mkdir(parents=True, exist_ok=True)
            draw_state(st, page, title, picture)
        except OSError as e:
            return error(f"cannot write {picture}: {e.strerror or e}")
        print(f"{title}: picture written to {picture}")
        return EXIT_OK
    v = Concrete(page)
    print(title)
    for oid in sorted(st.objects):
        print("  " + object_label(v, st, oid, page).replace("\n", "\n    "))
    for name in sorted(st.handles):
        h = st.handles[name]
        print(f"  handle {name} -> #{h.obj} ({rights_text(int(h.rights))})")
    return EXIT_OK


DESCRIPTION = (
    "Replay a trace against the spec up to a step and show the state there: every object "
    "(VMOs, pagers, whatever the state holds), who is a slice, reference or snapshot of "
    "whom and through which window, which pages each VMO owns and what they read, and "
    "every handle with its rights.")


def register(sub: Any) -> None:
    p = sub.add_parser("show", help="the spec's state at a step of a trace (text or picture)",
                       description=DESCRIPTION)
    p.add_argument("trace", help="a vmo-trace file")
    p.add_argument("--step", type=int, help="after this many steps (default: all of them)")
    profile_option(p, "replayed")
    p.add_argument("--picture", metavar="FILE", help="draw it (.png or .svg)")
    p.set_defaults(run=cmd_show)
