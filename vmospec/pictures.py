"""Pictures: projected state machines side by side, and a state's object graph.

Drawn with matplotlib from networkx graphs. Rendering is deterministic (fixed layouts,
no random seeds, no dates or tool versions in the file), so the same machines give the
same file on the same matplotlib.
"""

from __future__ import annotations

import textwrap
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import networkx as nx

from refinement_tests.machines import Machine, machines
from spec import abi
from spec.objects import visible_size
from spec.state import TRACKER_STATE_NAMES, Pager, State, Vmo
from spec.values import Concrete

SAME, DIFFERS, MISSING = "#555555", "#d62728", "#bbbbbb"
NODE, NODE_MISSING = "#cfe2f3", "#f2f2f2"
DPI = 100
plt.rcParams["svg.hashsalt"] = "vmospec"  # stable ids in SVG output


def _save(fig: Any, path: Path) -> None:
    if path.suffix == ".svg":
        meta: dict[str, Any] = {"Date": None, "Creator": None}
    else:
        meta = {"Software": None}
    fig.savefig(path, dpi=DPI, metadata=meta)
    plt.close(fig)


def _layout(nodes: Sequence[str]) -> dict[str, tuple[float, float]]:
    """Names without flags on a circle, in order. Names "base, flag, ...": a column per
    base; each flag moves the node by its own offset (the first diagonally, the second
    down), so a transition that sets or clears one flag is short."""
    if not any(", " in n for n in nodes):
        pos = nx.circular_layout(list(nodes))
        return {n: (float(x), float(y)) for n, (x, y) in pos.items()}
    bases: list[str] = []
    flags: list[str] = []
    for n in nodes:
        b, *fs = n.split(", ")
        if b not in bases:
            bases.append(b)
        flags += [f for f in fs if f not in flags]
    flags.sort(key=lambda f: (_ORDER.index(f) if f in _ORDER else len(_ORDER), f))
    shifts = [(0.7, -1.3), (0.0, -2.8), (0.3, -5.0)]
    out = {}
    for n in nodes:
        b, *fs = n.split(", ")
        x, y = 2.2 * bases.index(b), 0.0
        for f in fs:
            dx, dy = shifts[min(flags.index(f), len(shifts) - 1)]
            x, y = x + dx, y + dy
        out[n] = (x, y)
    return out


_ORDER = ["Unset", "Unreclaimable (locked)", "Reclaimable", "Discarded", "closed",
          "absent", "clean", "dirty", "zeroed", "failing", "detached"]


def _sorted(nodes: set[str]) -> list[str]:
    def key(n: str) -> tuple[int, str]:
        b = n.partition(", ")[0]
        return (_ORDER.index(b) if b in _ORDER else len(_ORDER), n)

    return sorted(nodes, key=key)


def _draw_machine(ax: Any, m: Machine, pos: dict[str, tuple[float, float]],
                  nodes: list[str], differs: set[tuple[str, str]]) -> None:
    ax.set_title(f"{m.title}\nprofile {m.profile}", fontsize=11)
    ax.axis("off")
    if m.note:
        ax.text(0.5, 0.5, textwrap.fill(m.note, 40), ha="center", va="center",
                transform=ax.transAxes, fontsize=9, color=DIFFERS)
        return
    g = nx.DiGraph()
    g.add_nodes_from(nodes)
    for a, b, calls in m.edges:
        g.add_edge(a, b, label="\n".join(calls))
    present = set(m.states)
    nx.draw_networkx_nodes(g, pos, ax=ax, node_size=2600, node_shape="o",
                           node_color=[NODE if n in present else NODE_MISSING for n in nodes],
                           edgecolors=[SAME if n in present else MISSING for n in nodes])
    nx.draw_networkx_labels(g, pos, ax=ax, font_size=8,
                            labels={n: n.replace(", ", ",\n").replace(" (", "\n(")
                                    for n in nodes})
    style = "arc3,rad=0.18"
    for e in g.edges:
        color = DIFFERS if e in differs else SAME
        nx.draw_networkx_edges(g, pos, ax=ax, edgelist=[e], edge_color=color,
                               width=2.2 if e in differs else 1.0, arrowsize=14,
                               node_size=2600, connectionstyle=style)
        nx.draw_networkx_edge_labels(g, pos, ax=ax, edge_labels={e: g.edges[e]["label"]},
                                     font_size=7, font_color=color, connectionstyle=style,
                                     rotate=False, label_pos=0.4,
                                     bbox={"boxstyle": "round,pad=0.15", "fc": "white",
                                           "ec": "none", "alpha": 0.85})
    xs = [p[0] for p in pos.values()]
    ys = [p[1] for p in pos.values()]
    padx = 0.12 * max(max(xs) - min(xs), 1.0) + 0.3
    pady = 0.08 * max(max(ys) - min(ys), 1.0) + 0.3
    ax.set_xlim(min(xs) - padx, max(xs) + padx)
    ax.set_ylim(min(ys) - pady, max(ys) + pady)


def draw_machines(columns: Sequence[Sequence[Machine]], path: Path) -> tuple[int, int]:
    """One column per profile, one row per machine; an edge whose calls differ between
    the columns (or that only some have) is red. Returns the image size in pixels."""
    rows = len(columns[0])
    cols = len(columns)
    width, height = 9.0 * cols, 7.5 * rows
    fig, axes = plt.subplots(rows, cols, figsize=(width, height), squeeze=False)
    for r in range(rows):
        ms = [columns[c][r] for c in range(cols)]
        nodes = _sorted({n for m in ms for n in m.states})
        pos = _layout(nodes)
        edge_sets = [{(a, b): calls for a, b, calls in m.edges} for m in ms if not m.note]
        keys = {k for es in edge_sets for k in es}
        differs = {k for k in keys if len({es.get(k) for es in edge_sets}) > 1}
        for c, m in enumerate(ms):
            _draw_machine(axes[r][c], m, pos, nodes, differs)
    if cols > 1:
        fig.text(0.5, 0.005, "red: a transition whose calls differ between the profiles "
                 "(or that only some have); grey node: a state only other profiles reach",
                 ha="center", fontsize=9, color=DIFFERS)
    fig.tight_layout(rect=(0, 0.02, 1, 1))
    _save(fig, path)
    return int(width * DPI), int(height * DPI)


def profile_machines(profiles: Sequence[str], path: Path) -> tuple[int, int]:
    """The reference configuration's machines under each profile, side by side."""
    from spec.profiles import PROFILES

    return draw_machines([machines(PROFILES[p]) for p in profiles], path)


# -- a state's object graph -----------------------------------------------------------------

_RIGHTS = [(abi.RIGHT_READ, "R"), (abi.RIGHT_WRITE, "W"), (abi.RIGHT_EXECUTE, "X"),
           (abi.RIGHT_MAP, "M"), (abi.RIGHT_DUPLICATE, "D"), (abi.RIGHT_TRANSFER, "T"),
           (abi.RIGHT_GET_PROPERTY, "GP"), (abi.RIGHT_SET_PROPERTY, "SP"),
           (abi.RIGHT_RESIZE, "RZ")]


def rights_text(r: int) -> str:
    names = [n for bit, n in _RIGHTS if r & bit]
    rest = r & ~sum(bit for bit, _ in _RIGHTS)
    return " ".join(names) + (f" +{bin(rest).count('1')}" if rest else "") or "none"


def _pages(v: Concrete, st: State, oid: int, o: Vmo, page: int) -> list[str]:
    """Per page the VMO owns: committed or not, and what it reads (runs of bytes)."""
    assert o.memory is not None
    n = min(int(visible_size(st, oid)) // page, 8)
    out = []
    for p in range(n):
        committed = v.pages_any(o.memory.committed, p, p + 1)
        runs = list(v.bytes_read(o.memory.content, p * page, page))
        data = " ".join(f"{b:02x}x{c}" for b, c in runs[:3]) + (" .." if len(runs) > 3 else "")
        out.append(f"p{p} {'owned' if committed else '-----'} {data}")
    return out


def object_label(v: Concrete, st: State, oid: int, page: int) -> str:
    """What the state holds for one object, whatever kind of object it is."""
    o = st.objects[oid]
    if isinstance(o, Pager):
        return f"#{oid} pager"
    if not isinstance(o, Vmo):  # a kind of object this drawing does not know: its fields
        return f"#{oid} {type(o).__name__}\n" + textwrap.shorten(repr(o), 60)
    kinds = [k for k in ("resizable", "discardable", "pager_backed") if getattr(o.kind, k)]
    lines = [f"#{oid} {o.role} VMO" + (f" ({', '.join(kinds)})" if kinds else ""),
             f"size {int(visible_size(st, oid))}"
             + (f", window {int(o.window)}" if o.parent is not None else "")]
    if o.tracker is not None:
        lines.append(f"tracker {TRACKER_STATE_NAMES[int(o.tracker.state)]}, "
                     f"{int(o.tracker.count)} locks")
    if o.marks is not None:
        dirty = [p for p in range(8) if v.pages_any(o.marks.dirty, p, p + 1)]
        lines.append(f"dirty pages {dirty}" + (f", fails {list(o.marks.fails)}"
                                               if o.marks.fails else ""))
    if o.memory is not None:
        lines += _pages(v, st, oid, o, page)
    else:
        lines.append("owns no pages: sees its parent's")
    return "\n".join(lines)


def _parent(o: Any) -> Any:
    """The object `o` hangs from, whatever its type (a VMO's parent; any object with a
    `parent` field, so kinds of object the state may gain are drawn in place)."""
    return getattr(o, "parent", None)


def _up(st: State, key: int) -> int | None:
    """What a drawn item hangs from: its copy-on-write node's parent when it is in a
    family (a hidden node, or a visible VMO read through), else its object's parent."""
    node = st.nodes.get(key)
    if node is not None and node.parent is not None:
        return node.parent
    parent = _parent(st.objects[key]) if key in st.objects else None
    return parent if parent in st.objects else None


def hidden_label(v: Concrete, st: State, nid: int, page: int) -> str:
    """A hidden node: the pages it holds for the VMOs below it."""
    n = st.nodes[nid]
    last = min(int(n.limit) // page, 64) if int(n.limit) else 64
    held = [p for p in range(last) if v.pages_any(n.pages, p, p + 1)]
    zeros = [p for p in range(last) if v.pages_any(n.zeros, p, p + 1)]
    return "\n".join([f"hidden node {-nid}", f"holds pages {held}"]
                     + ([f"zero markers {zeros}"] if zeros else []))


def state_graph(st: State, page: int) -> tuple[nx.DiGraph, dict[str, int]]:
    """The objects and hidden nodes as a graph (an edge from each to what it hangs
    from), with each one's depth below its root."""
    v = Concrete(page)
    g = nx.DiGraph()
    keys = [*st.objects, *(nid for nid, n in st.nodes.items() if n.hidden)]
    level: dict[str, int] = {}
    for key in keys:
        depth, cur = 0, _up(st, key)
        while cur is not None:
            depth += 1
            cur = _up(st, cur)
        label = object_label(v, st, key, page) if key in st.objects \
            else hidden_label(v, st, key, page)
        g.add_node(f"o{key}", label=label)
        level[f"o{key}"] = depth
    for key in keys:
        up = _up(st, key)
        if up is not None:
            role = "shares" if up in st.nodes and st.nodes[up].hidden \
                else getattr(st.objects.get(key), "role", "")
            g.add_edge(f"o{key}", f"o{up}", label=role)
        o = st.objects.get(key)
        if isinstance(o, Vmo) and o.marks is not None and o.marks.pager in st.objects:
            g.add_edge(f"o{key}", f"o{o.marks.pager}", label="backed by")
    return g, level


def draw_state(st: State, page: int, title: str, path: Path) -> tuple[int, int]:
    """The object graph: every object and hidden node (children below parents, an edge
    to the parent labelled by role and window; a pager-backed VMO's edge to its pager),
    and every handle below, with its rights, pointing at its object."""
    g, level = state_graph(st, page)
    bottom = max(level.values(), default=0) + 1
    # Columns in depth-first order of the parent forest: each child right of its parent.
    children: dict[int | None, list[int]] = {}
    for key in sorted(int(n[1:]) for n in level):
        children.setdefault(_up(st, key), []).append(key)
    column: dict[str, float] = {}

    def place(oid: int) -> None:
        column[f"o{oid}"] = float(len(column))
        for c in children.get(oid, []):
            place(c)

    for root in children.get(None, []):
        place(root)
    pos = {n: (column[n], -float(level[n])) for n in column}
    by_obj: dict[int, list[str]] = {}
    for name in sorted(st.handles):
        by_obj.setdefault(st.handles[name].obj, []).append(name)
    for name in sorted(st.handles):
        h = st.handles[name]
        node = f"h:{name}"
        g.add_node(node, label=f"handle {name}\n{rights_text(int(h.rights))}")
        if f"o{h.obj}" in g:
            g.add_edge(node, f"o{h.obj}", label="")
        mates = by_obj[h.obj]
        spread = (mates.index(name) - (len(mates) - 1) / 2) * 0.45
        pos[node] = (column.get(f"o{h.obj}", 0.0) + spread, -float(bottom))
    cols = max(len(column), 1)
    width, height = max(7.0, 2.9 * cols), max(5.0, 2.3 * (bottom + 1))
    fig, ax = plt.subplots(figsize=(width, height))
    ax.set_title(title, fontsize=11)
    ax.axis("off")
    objs = [n for n in g.nodes if n.startswith("o")]
    hands = [n for n in g.nodes if n.startswith("h:")]
    nx.draw_networkx_edges(g, pos, ax=ax, edge_color=SAME, arrowsize=12, node_size=5000)
    nx.draw_networkx_edge_labels(g, pos, ax=ax, font_size=8, edge_labels={
        e: d["label"] for e, d in g.edges.items() if d["label"]})
    for group, color in ((objs, NODE), (hands, "#fff2cc")):
        for n in group:
            x, y = pos[n]
            ax.text(x, y, g.nodes[n]["label"], ha="center", va="center", fontsize=8,
                    family="monospace", bbox={"boxstyle": "round,pad=0.4", "fc": color,
                                              "ec": SAME})
    ax.set_xlim(-0.7, cols - 0.3)
    ax.set_ylim(-bottom - 0.5, 0.5)
    fig.tight_layout()
    _save(fig, path)
    return int(width * DPI), int(height * DPI)
