"""Bounded exhaustive exploration: every sequence of calls up to a depth, over a small
configuration, as a networkx graph of canonical states and labelled edges.

States are canonical: objects are renumbered in the order the sorted handle names reach
them, so two states that differ only in object ids are one. Content is kept exactly
(byte runs), and the alphabet writes few distinct bytes, so content is only as varied
as the alphabet can make it. The configuration is a product of families that never
touch each other (refinement_tests/explore_config.py): a global state is one canonical
state per family, and the spec runs once per family state and step, however many
global states share that family state. Breadth-first search over the product then
costs a dictionary lookup per edge, which is what makes 10^4-10^5 states a second.

Checked: in every family state, the catalogue's well-formedness clauses; on every
family transition, every catalogue invariant whose scope covers the step
(refinement_tests/invariants.py: the predicates `vmospec prove` proves, evaluated
concretely); and, with a backend, that the backend's outcome for each family
transition is one the spec allows. Each finding becomes the shortest trace to it
(`networkx.shortest_path` from the initial state), written as a vmo-trace that
`vmospec check` replays.
"""

from __future__ import annotations

import copy
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from itertools import pairwise
from pathlib import Path as FsPath
from types import MappingProxyType
from typing import Any

import networkx as nx

from proofs.catalogue import Invariant
from refinement_tests.backends import Backend, BackendError, ModelBackend, SpecBackend
from refinement_tests.explore_config import Config
from refinement_tests.invariants import check_state, check_step, checked_invariants
from refinement_tests.stepper import agrees, observed_expect, render_value
from refinement_tests.trace import Header, Step, step_to_json, write_trace
from spec import abi
from spec.explore import ANY_ERROR, Cx, Path, explore
from spec.outcome import Between, Outcome, status_name
from spec.profiles import Profile
from spec.state import EMPTY_STATE, Handle, State, Vmo
from spec.transitions import transition
from spec.values import Concrete

# -- canonical states ---------------------------------------------------------------------


def canonical(st: State) -> tuple[Any, State]:
    """A hashable key that ignores object ids, and the state renumbered to match it."""
    order: dict[int, int] = {}

    def visit(oid: int | None) -> None:
        while oid is not None and oid not in order and oid in st.objects:
            order[oid] = len(order) + 1
            o = st.objects[oid]
            if isinstance(o, Vmo):
                if o.marks is not None:
                    visit(o.marks.pager)
                oid = o.parent
            else:
                oid = None

    for name in sorted(st.handles):
        visit(st.handles[name].obj)
    for oid in sorted(st.objects):
        visit(oid)
    # hidden nodes of copy-on-write families (spec/cow.py; negative ids), in the order
    # the family's VMOs reach them
    hidden: dict[int, int] = {}
    for oid in sorted((k for k in st.nodes if k in order), key=order.__getitem__):
        up = st.nodes[oid].parent
        while up is not None and up < 0 and up not in hidden and up in st.nodes:
            hidden[up] = -(len(hidden) + 1)
            up = st.nodes[up].parent
    ids = {**order, **hidden}
    nodes = {ids[k]: n._replace(parent=None if n.parent is None else ids[n.parent])
             for k, n in st.nodes.items() if k in ids}
    objects: dict[int, Any] = {}
    for oid, o in st.objects.items():
        if isinstance(o, Vmo):
            parent = None if o.parent is None else order[o.parent]
            marks = o.marks if o.marks is None else o.marks._replace(
                pager=order.get(o.marks.pager, 0))  # 0: the pager is gone
            o = o._replace(parent=parent, marks=marks)
        objects[order[oid]] = o
    handles = {n: Handle(order.get(h.obj, 0), h.rights) for n, h in st.handles.items()}
    key = (tuple(sorted((n, h.obj, h.rights) for n, h in handles.items())),
           tuple(sorted(objects.items())), tuple(sorted(nodes.items())))
    return key, State(MappingProxyType(handles), MappingProxyType(objects), len(objects) + 1,
                      MappingProxyType(nodes))


# -- labels and findings ------------------------------------------------------------------


@dataclass(frozen=True)
class Label:
    family: int
    step: int  # index in the family's alphabet
    fields: Mapping[str, Any]  # the outcome, as a trace records it
    text: str


@dataclass
class Finding:
    kind: str  # "invariant" or "divergence"
    family: str
    name: str  # the invariant, or the call that diverged
    detail: str
    state: int  # the global state it was found in (the state before, for a step)
    last: dict[str, Any] | None  # the offending step's trace line, if a step
    trace: str | None = None  # where its trace was written
    steps: int = 0  # how many steps that trace has

    def as_json(self) -> dict[str, Any]:
        return {"kind": self.kind, "family": self.family, "name": self.name,
                "detail": self.detail, "trace": self.trace, "steps": self.steps}


def outcome_fields(kind: str, o: Outcome) -> dict[str, Any]:
    """An outcome as a trace line records it (what the spec leaves open is left out)."""
    out: dict[str, Any] = {k: x for k, x in o.out.items()
                           if x is not None and not isinstance(x, Between)}
    if kind == "call" and o.status != ANY_ERROR:
        out = {"status": o.status, **out}
    return out


def describe(step: Step) -> str:
    """A short name for an alphabet step: `a COMMIT 0+8192`, `v reclaim`."""
    a = step.args
    who = a.get("vmo", a.get("handle", a.get("pager", a.get("out", ""))))
    if step.name == "vmo_op_range":
        op = abi.OP_NAMES.get(a["op"], str(a["op"])).removeprefix("ZX_VMO_OP_")
        bad = " (no buffer)" if a.get("buffer_null") else ""
        return f"{who} {op}{bad} {a['offset']}+{a['size']}"
    if step.name in ("vmo_write",):
        return f"{who} write {a['offset']}+{sum(n for _b, n in a['data'])}"
    if step.name in ("vmo_read", "pager_supply_pages", "pager_fail"):
        verb = step.name.removeprefix("vmo_").removeprefix("pager_")
        return f"{a.get('vmo', who)} {verb} {a['offset']}+{a['length']}"
    if step.name == "vmo_create_child":
        return f"{who} create_child -> {a['out']}"
    if step.name == "handle_duplicate":
        return f"{who} duplicate -> {a['out']}"
    return f"{who} {step.name.removeprefix('vmo_').removeprefix('handle_')}"


def _show(fields: Mapping[str, Any]) -> str:
    parts = []
    for k, x in fields.items():
        if k == "status":
            parts.append(status_name(x).removeprefix("ZX_").removeprefix("ERR_"))
        elif k == "data":
            parts.append("data=" + ",".join(f"{b}x{n}" for b, n in x))
        else:
            parts.append(f"{k}={render_value(x)}")
    return " ".join(parts) or "done"


# -- one family -----------------------------------------------------------------------------


class _Family:
    """The reachable states of one family, learnt on demand, with their checks."""

    def __init__(self, ex: Explorer, index: int) -> None:
        self.ex = ex
        self.index = index
        self.fam = ex.config.families[index]
        self.states: list[State] = []
        self.keys: dict[Any, int] = {}
        self.parent: list[tuple[int, int] | None] = []  # (state, label) it was found from
        self.succ: list[list[tuple[int, tuple[int, ...]]] | None] = []
        st = EMPTY_STATE
        for step in self.fam.setup:
            paths = ex.paths(st, step)
            if len(paths) != 1 or (step.kind == "call" and paths[0].result.status != abi.OK):
                raise ValueError(f"family {self.fam.name}: setup step {describe(step)} "
                                 "does not succeed in exactly one way")
            st = paths[0].result.state
        self.init = self.intern(st, None)

    def intern(self, st: State, parent: tuple[int, int] | None) -> int:
        key, canon = canonical(st)
        cid = self.keys.get(key)
        if cid is None:
            cid = len(self.states)
            self.keys[key] = cid
            self.states.append(canon)
            self.parent.append(parent)
            self.succ.append(None)
            if self.ex.check_invariants:
                for b in check_state(self.ex.v, self.ex.page, canon):
                    self.ex.found("invariant", self.index, cid, b.name,
                                  f"{b.statement} Broken at {b.at}.", None)
        return cid

    def successors(self, cid: int) -> list[tuple[int, tuple[int, ...]]]:
        known = self.succ[cid]
        if known is not None:
            return known
        ex = self.ex
        st = self.states[cid]
        grouped: dict[int, list[int]] = {}
        base: list[Backend | None] = []  # the backend at this state, once reached
        for si, step in enumerate(self.fam.alphabet):
            out = step.args.get("out")
            if out is not None and out in st.handles:
                continue  # a name still in use: the call is not in the alphabet here
            paths = ex.paths(st, step)
            for p in paths:
                fields = outcome_fields(step.kind, p.result)
                lab = ex.label(self.index, si, fields)
                nxt = cid if p.result.state is st else self.intern(p.result.state, (cid, lab))
                grouped.setdefault(nxt, []).append(lab)
                if ex.check_invariants:
                    for b in check_step(ex.v, ex.page, ex.profile, st, step.name, step.args,
                                        p, ex.invariants):
                        ex.found("invariant", self.index, cid, b.name,
                                 f"{b.statement} Broken by {describe(step)} "
                                 f"({_show(fields)}) at {b.at}.",
                                 ex.line(step, fields))
            if ex.backend is not None:
                ex.check_backend(self.index, cid, step, paths, base)
        result = [(nxt, tuple(labs)) for nxt, labs in grouped.items()]
        self.succ[cid] = result
        return result

    def path_to(self, cid: int) -> list[int]:
        labels: list[int] = []
        while (p := self.parent[cid]) is not None:
            cid, lab = p
            labels.append(lab)
        return labels[::-1]


# -- the explorer ---------------------------------------------------------------------------


@dataclass
class Result:
    graph: nx.DiGraph
    root: int
    depth: int
    seconds: float
    transitions: int
    findings: list[Finding] = field(default_factory=list)
    family_states: dict[str, int] = field(default_factory=dict)
    backend_checked: int = 0
    backend_skipped: int = 0

    @property
    def states(self) -> int:
        return int(self.graph.number_of_nodes())

    @property
    def edges(self) -> int:
        return int(self.graph.number_of_edges())

    def violations(self) -> list[Finding]:
        return [f for f in self.findings if f.kind == "invariant"]

    def divergences(self) -> list[Finding]:
        return [f for f in self.findings if f.kind == "divergence"]


class Explorer:
    def __init__(self, config: Config, profile: Profile, *, backend: Backend | None = None,
                 invariants: list[Invariant] | None = None, check_invariants: bool = True
                 ) -> None:
        self.config = config
        self.profile = profile
        self.page = config.page
        self.v = Concrete(self.page)
        self.backend = backend
        self.invariants = checked_invariants() if invariants is None else invariants
        self.check_invariants = check_invariants
        self.labels: list[Label] = []
        self._label_ids: dict[Any, int] = {}
        self._found: list[tuple[str, int, int, str, str, dict[str, Any] | None]] = []
        self._seen: set[tuple[str, int, str]] = set()
        self.backend_checked = 0
        self.backend_skipped = 0
        self.header = Header(self.page, {}, {"origin": "vmospec explore",
                                            "profile": profile.name})
        self.families = [_Family(self, i) for i in range(len(config.families))]

    # -- the spec ------------------------------------------------------------------------

    def paths(self, st: State, step: Step) -> list[Path[Outcome]]:
        name, args = step.name, step.args

        def run(cx: Cx) -> Outcome:
            return transition(cx, st, name, args)

        return explore(run, self.v, self.profile, self.page, {})

    def label(self, family: int, step: int, fields: dict[str, Any]) -> int:
        key = (family, step, tuple((k, _freeze(x)) for k, x in fields.items()))
        lab = self._label_ids.get(key)
        if lab is None:
            s = self.config.families[family].alphabet[step]
            lab = len(self.labels)
            self.labels.append(Label(family, step, fields, f"{describe(s)}: {_show(fields)}"))
            self._label_ids[key] = lab
        return lab

    def line(self, step: Step, fields: Mapping[str, Any], note: str | None = None
             ) -> dict[str, Any]:
        return step_to_json(step.name, step.kind, dict(step.args), dict(fields), note)

    def found(self, kind: str, family: int, cid: int, name: str, detail: str,
              last: dict[str, Any] | None) -> None:
        # One finding per (invariant or call) and family: the first is the shortest.
        key = (kind, family, name)
        if key not in self._seen:
            self._seen.add(key)
            self._found.append((kind, family, cid, name, detail, last))

    # -- the backend ---------------------------------------------------------------------

    def _reach(self, family: int, cid: int) -> Backend | None:
        """A fresh backend session brought to the family state `cid` along its shortest
        path; None when the backend took another allowed outcome on the way."""
        b = self.backend
        assert b is not None
        b.start(self.header)
        for f in self.config.families:
            for step in f.setup:
                b.step(step.name, step.kind, step.args)
        fam = self.families[family]
        for lab in fam.path_to(cid):
            label = self.labels[lab]
            step = fam.fam.alphabet[label.step]
            got = b.step(step.name, step.kind, step.args)
            if _fields_of(got) != _fields_of(label.fields):
                return None
        return b

    def _forkable(self) -> bool:
        # In-process backends are copied at a state instead of replayed to it.
        return isinstance(self.backend, ModelBackend | SpecBackend)

    def check_backend(self, family: int, cid: int, step: Step,
                      paths: list[Path[Outcome]], base: list[Backend | None]) -> None:
        """Run `step` on the backend in family state `cid`; a finding unless its outcome
        is one of `paths`. `base` caches the backend brought to `cid`, to be copied."""
        name = describe(step)
        try:
            if self._forkable():
                if not base:
                    base.append(self._reach(family, cid))
                b = base[0]
                b = None if b is None else copy.deepcopy(b)
            else:
                b = self._reach(family, cid)
            if b is None:
                self.backend_skipped += 1
                return
            observed = b.step(step.name, step.kind, step.args)
        except BackendError as e:
            why = f"the backend failed: {e}"
            self.found("divergence", family, cid, name, why, self.line(step, {}, why))
            return
        except Exception as e:  # a crash of the implementation is a finding too
            why = f"the backend raised {type(e).__name__}: {e}"
            self.found("divergence", family, cid, name, why, self.line(step, {}, why))
            return
        self.backend_checked += 1
        if "not_run" in observed:
            return
        expect = observed_expect(observed)
        if any(agrees(expect, p.result) for p in paths):
            return
        allowed = "; ".join(_show(outcome_fields(step.kind, p.result)) for p in paths)
        detail = (f"{name} in family {self.config.families[family].name}: observed "
                  f"{_show(observed)}, the spec allows {allowed or 'nothing'}")
        self.found("divergence", family, cid, name, detail,
                   self.line(step, observed, f"diverges: {detail}"))

    # -- the search ----------------------------------------------------------------------

    def run(self, depth: int, progress: Callable[[int, int], None] | None = None) -> Result:
        start = time.perf_counter()
        fams = self.families
        root = tuple(f.init for f in fams)
        index: dict[tuple[int, ...], int] = {root: 0}
        states: list[tuple[int, ...]] = [root]
        edges: list[tuple[int, int, tuple[int, ...]]] = []
        frontier = [0]
        transitions = 0
        for d in range(depth):
            nxt: list[int] = []
            for u in frontier:
                tup = states[u]
                loops: list[int] = []
                for g, cid in enumerate(tup):
                    for succ, labs in fams[g].successors(cid):
                        transitions += len(labs)
                        if succ == cid:
                            loops.extend(labs)
                            continue
                        t = (*tup[:g], succ, *tup[g + 1:])
                        v = index.get(t)
                        if v is None:
                            v = len(states)
                            index[t] = v
                            states.append(t)
                            nxt.append(v)
                        edges.append((u, v, labs))
                if loops:
                    edges.append((u, u, tuple(loops)))
            frontier = nxt
            if progress:
                progress(d + 1, len(states))
            if not nxt:
                break
        g = nx.DiGraph()
        g.add_nodes_from(range(len(states)))
        g.add_edges_from((u, v, {"labels": labs}) for u, v, labs in edges)
        g.graph["families"] = [f.fam.name for f in fams]
        g.graph["tuples"] = states
        res = Result(g, 0, depth, 0.0, transitions,
                     family_states={f.fam.name: len(f.states) for f in fams},
                     backend_checked=self.backend_checked,
                     backend_skipped=self.backend_skipped)
        for kind, family, cid, name, detail, last in self._found:
            t = (*root[:family], cid, *root[family + 1:])
            gid = index.get(t)
            if gid is None:  # found past the bound (a state learnt at the last depth)
                continue
            res.findings.append(Finding(kind, fams[family].fam.name, name, detail, gid, last))
        res.seconds = time.perf_counter() - start
        return res

    def global_state(self, tup: tuple[int, ...]) -> State:
        """The whole configuration's state: each family's, objects renumbered apart."""
        handles: dict[str, Handle] = {}
        objects: dict[int, Any] = {}
        nodes: dict[int, Any] = {}
        for fam, cid in zip(self.families, tup, strict=True):
            st = fam.states[cid]
            base = len(objects)
            hbase = -min([0, *nodes])  # hidden nodes (negative ids) stay apart as well

            def moved(k: int, base: int = base, hbase: int = hbase) -> int:
                return k - hbase if k < 0 else k + base

            for k, node in st.nodes.items():
                nodes[moved(k)] = node._replace(
                    parent=None if node.parent is None else moved(node.parent))

            for oid, o in st.objects.items():
                if isinstance(o, Vmo):
                    marks = o.marks if o.marks is None else o.marks._replace(
                        pager=o.marks.pager + base if o.marks.pager else 0)
                    o = o._replace(parent=None if o.parent is None else o.parent + base,
                                   marks=marks)
                objects[oid + base] = o
            for n, h in st.handles.items():
                handles[n] = Handle(h.obj + base if h.obj else 0, h.rights)
        return State(MappingProxyType(handles), MappingProxyType(objects), len(objects) + 1,
                     MappingProxyType(nodes))

    # -- traces --------------------------------------------------------------------------

    def trace_lines(self, res: Result, f: Finding) -> list[dict[str, Any]]:
        """The shortest trace to a finding: the setup, the shortest path in the graph to
        its state, and the offending step, each with its outcome."""
        lines = []
        for fam in self.config.families:
            st = EMPTY_STATE
            for step in fam.setup:
                p = self.paths(st, step)[0]
                st = p.result.state
                lines.append(self.line(step, outcome_fields(step.kind, p.result)))
        hops = nx.shortest_path(res.graph, res.root, f.state)
        for u, v in pairwise(hops):
            label = self.labels[res.graph.edges[u, v]["labels"][0]]
            step = self.config.families[label.family].alphabet[label.step]
            lines.append(self.line(step, label.fields))
        if f.last is not None:
            lines.append(f.last)
        else:
            lines[-1]["note"] = f"{f.name}: {f.detail}"
        return lines

    def write_trace(self, res: Result, f: Finding, path: FsPath) -> None:
        lines = self.trace_lines(res, f)
        meta = {**self.header.meta, "finding": f"{f.kind}: {f.name}"}
        write_trace(path, Header(self.page, {}, meta), lines)
        f.trace, f.steps = str(path), len(lines)


def _freeze(x: Any) -> Any:
    if isinstance(x, Mapping):
        return tuple(sorted((k, _freeze(v)) for k, v in x.items()))
    return x


def _fields_of(d: Mapping[str, Any]) -> Any:
    return _freeze(dict(d))


__all__ = ["Explorer", "Finding", "Label", "Result", "canonical", "describe",
           "outcome_fields"]
