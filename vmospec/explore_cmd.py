"""`vmospec explore`: bounded exhaustive exploration (refinement_tests/explore.py).

Hooked into the command line by `register(subparsers)` (vmospec/cli.py build_parser).
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import time
from pathlib import Path
from typing import Any

from spec.profiles import PROFILES
from vmospec.shared_options import json_option, profile_option

EXIT_OK = 0
EXIT_FOUND = 1
EXIT_BAD_INPUT = 2
DEFAULT_DEPTH = 7


def _error(message: str) -> int:
    print(f"vmospec explore: error: {message}", file=sys.stderr)
    return EXIT_BAD_INPUT


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9]+", "-", text).strip("-")[:60]


def write_graph(res: Any, labels: list[Any], path: Path) -> None:
    """The explored graph as GraphML (.graphml) or DOT (.dot, .gv): each node its
    families' state numbers, each edge its labels (one per line)."""
    import networkx as nx

    names = res.graph.graph["families"]
    g = nx.DiGraph()
    for n in res.graph.nodes:
        tup = res.graph.graph["tuples"][n]
        g.add_node(n, state=" ".join(f"{f}={c}" for f, c in zip(names, tup, strict=True)))
    for u, v, d in res.graph.edges(data=True):
        g.add_edge(u, v, label="\n".join(labels[x].text for x in d["labels"]))
    if path.suffix in (".dot", ".gv"):
        nx.nx_pydot.write_dot(g, path)
    else:
        nx.write_graphml(g, path)


def cmd_explore(args: argparse.Namespace) -> int:
    from refinement_tests.backends import Backend
    from refinement_tests.explore import Explorer
    from refinement_tests.explore_config import ConfigError, read, reference
    from vmospec.cli import _make_backend, _writable_dir

    if args.depth < 0:
        return _error(f"--depth must be >= 0, got {args.depth}")
    graph = Path(args.graph) if args.graph else None
    if graph is not None and graph.suffix not in (".graphml", ".dot", ".gv"):
        return _error(f"--graph {graph}: the name must end in .graphml, .dot or .gv")
    try:
        config = read(args.config) if args.config else reference()
    except ConfigError as e:
        return _error(str(e))
    picture = Path(args.picture) if args.picture else None
    if picture is not None:
        from refinement_tests.machines import PROJECTIONS

        if picture.suffix not in (".png", ".svg"):
            return _error(f"--picture {picture}: the name must end in .png or .svg")
        if not any(f.name in PROJECTIONS for f in config.families):
            return _error(f"--picture: the configuration has no family named "
                          f"{' or '.join(PROJECTIONS)}, whose machines are drawn")
    backend: Backend | None = None
    if args.backend is not None and args.backend != "spec":
        made = _make_backend("explore", args)
        if isinstance(made, str):
            return _error(made)
        backend = made
    elif args.broken:
        return _error("--broken switches on a variant of the model: use it with "
                      "--backend model")
    out = Path(args.out)
    why = _writable_dir(out)
    if why:
        return _error(why)
    profile = PROFILES[args.profile]
    try:
        ex = Explorer(config, profile, backend=backend)
    except ValueError as e:
        return _error(str(e))
    start = time.process_time()
    res = ex.run(args.depth)
    cpu = time.process_time() - start
    tag = f"explore-{profile.name}" + (f"-{_slug(backend.name)}" if backend else "")
    for n, f in enumerate(res.findings, 1):
        ex.write_trace(res, f, out / f"{tag}-{n}-{_slug(f.name)}.jsonl")
    if graph is not None:
        write_graph(res, ex.labels, graph)
    if picture is not None:
        from refinement_tests.machines import project
        from vmospec.pictures import draw_machines

        drawn = [m for f in config.families if (m := project(ex, f.name)) is not None]
        draw_machines([drawn], picture)
    if args.json:
        print(json.dumps({
            "profile": profile.name, "config": config.source,
            "backend": backend.name if backend else None,
            "states": res.states, "edges": res.edges, "transitions": res.transitions,
            "depth": args.depth, "seconds": round(res.seconds, 3),
            "cpu_seconds": round(cpu, 3), "family_states": res.family_states,
            "backend_checked": res.backend_checked,
            "violations": [f.as_json() for f in res.violations()],
            "divergences": [f.as_json() for f in res.divergences()],
        }, indent=2))
    else:
        _print(res, profile.name, config.source, backend, args.depth, cpu)
    return EXIT_FOUND if res.findings else EXIT_OK


def _print(res: Any, profile: str, source: str, backend: Any, depth: int, cpu: float) -> None:
    rate = res.states / cpu if cpu > 0 else 0.0
    print(f"explore: {profile}, {source} configuration, depth {depth}: {res.states:,} states, "
          f"{res.edges:,} edges ({res.transitions:,} labelled transitions) in "
          f"{res.seconds:.1f} s ({cpu:.1f} s CPU, {rate:,.0f} states/s)")
    print("families: " + ", ".join(f"{k} {n:,} states" for k, n in res.family_states.items()))
    for f in res.findings:
        head = "VIOLATION" if f.kind == "invariant" else "DIVERGENCE"
        print(f"{head}  {f.name}  (family {f.family})")
        print(f"  {f.detail}")
        print(f"  trace: {f.trace} ({f.steps} steps)")
        print(f"  replay: vmospec check {f.trace} --profile {profile}")
    if not res.violations():
        print("invariants: every state and every edge satisfies the catalogue "
              "(but status-domain, a finding by design)")
    if backend is not None and not res.divergences():
        print(f"backend {backend.name}: {res.backend_checked:,} family transitions run, "
              "every outcome one the spec allows")


DESCRIPTION = (
    "Breadth-first over a small configuration (default: a 2-page VMO with its snapshot, "
    "slice, reference and read-only duplicate; a discardable VMO; a pager-backed VMO), "
    "states made canonical. In every state and on every edge the invariant catalogue is "
    "evaluated; with --backend, every outcome is checked against the spec. Each violation "
    "or divergence is written as the shortest trace to it. Exit 0 only if none is found.")


def register(sub: Any) -> None:
    from refinement_tests.backends import backend_names
    from vmospec.cli import _broken_option, _runner_options

    p = sub.add_parser("explore", help="every call sequence up to a depth, checked "
                       "exhaustively", description=DESCRIPTION)
    profile_option(p, "explored")
    p.add_argument("--backend", help=f"also check an implementation: {', '.join(backend_names())}")
    p.add_argument("--depth", type=int, default=DEFAULT_DEPTH,
                   help=f"the most calls after the setup (default {DEFAULT_DEPTH})")
    p.add_argument("--config", metavar="FILE", help="a configuration (JSON; see "
                   "refinement_tests/explore_config.py); default: the reference one")
    p.add_argument("--out", default="out/explore",
                   help="where the traces of findings go (default out/explore)")
    p.add_argument("--graph", metavar="FILE", help="write the graph: .graphml or .dot")
    p.add_argument("--picture", metavar="FILE",
                   help="draw the discardable tracker's machine and the pager's per-page "
                   "machine, projected from the explored graph (.png or .svg)")
    _broken_option(p)
    p.add_argument("--frames", type=int, default=1 << 20,
                   help="the model's physical frames (default 2^20)")
    json_option(p)
    _runner_options(p)
    p.set_defaults(run=cmd_explore)
