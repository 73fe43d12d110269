"""Tests of the bounded explorer (refinement_tests/explore.py) and `vmospec explore`.

Depths stay small (2-3) so the suite stays fast; the reference depth is the benchmark's
(benchmarks/explore_speed.py).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import networkx as nx
import pytest

from proofs.catalogue import Ctx, Invariant, labels
from refinement_tests.backends import ModelBackend
from refinement_tests.checker import check_trace
from refinement_tests.explore import Explorer, canonical
from refinement_tests.explore_config import Config, reference
from refinement_tests.invariants import checked_invariants
from refinement_tests.trace import read_trace
from spec.explore import Cx, explore
from spec.profiles import PROFILES
from spec.state import Vmo
from spec.transitions import transition
from spec.values import Concrete
from vmospec.cli import main

Z25 = PROFILES["zircon-2025"]
SETUP = sum(len(f.setup) for f in reference().families)


def discardable_only() -> Config:
    """The reference configuration's discardable family alone: enough for the planted
    mistakes below, and quick."""
    ref = reference()
    return Config(ref.page, tuple(f for f in ref.families if f.name == "discardable"),
                  "discardable")


def test_reference_is_clean_against_the_catalogue() -> None:
    res = Explorer(reference(), Z25).run(3)
    assert res.findings == []
    assert res.states > 1000 and res.edges > res.states
    # every node is reachable from the initial state (the shortest traces start there)
    assert nx.descendants(res.graph, res.root) | {res.root} == set(res.graph.nodes)


def test_canonical_states_ignore_object_ids() -> None:
    ex = Explorer(reference(), Z25)
    st = ex.global_state((ex.families[0].init, ex.families[1].init, ex.families[2].init))
    objects: dict[int, Any] = {}
    for k, o in st.objects.items():
        if isinstance(o, Vmo):
            marks = o.marks if o.marks is None else o.marks._replace(pager=o.marks.pager + 10)
            o = o._replace(parent=None if o.parent is None else o.parent + 10, marks=marks)
        objects[k + 10] = o
    renumbered = st._replace(objects=objects, handles={n: h._replace(obj=h.obj + 10)
                                                       for n, h in st.handles.items()})
    assert canonical(st)[0] == canonical(renumbered)[0]


def test_the_product_is_the_whole_state_machine() -> None:
    """Families never touch each other: running the spec on the whole state gives the
    same successors as the product of the families (checked at depth <= 2)."""
    ex = Explorer(reference(), Z25, check_invariants=False)
    res = ex.run(2)
    v = Concrete(4096)
    tuples = res.graph.graph["tuples"]
    for u in list(res.graph.nodes)[:60]:
        st = ex.global_state(tuples[u])
        direct = set()
        for fam in ex.config.families:
            for step in fam.alphabet:
                out = step.args.get("out")
                if out is not None and out in st.handles:
                    continue

                def run(cx: Cx, step: Any = step, st: Any = st) -> Any:
                    return transition(cx, st, step.name, step.args)

                for p in explore(run, v, Z25, 4096, {}):
                    direct.add(canonical(p.result.state)[0])
        if u not in {n for n in res.graph.nodes if res.graph.out_degree(n)}:
            continue
        product = {canonical(ex.global_state(tuples[w]))[0] for w in res.graph.successors(u)}
        assert product == direct


def test_a_broken_model_variant_is_found_with_a_shortest_trace(tmp_path: Path) -> None:
    ex = Explorer(discardable_only(), Z25, backend=ModelBackend(broken={"reclaim_locked"}))
    res = ex.run(3)
    assert [f.kind for f in res.findings] == ["divergence"]
    f = res.findings[0]
    assert f.name == "v reclaim"
    ex.write_trace(res, f, tmp_path / "t.jsonl")
    trace = read_trace(tmp_path / "t.jsonl")
    checked = check_trace(trace, Z25)
    assert checked.divergence is not None and checked.divergence.step == len(trace.steps)
    # No shorter path reaches a state where the variant shows: the spec's graph gives
    # the distance, and the trace is that long (setup, path, the diverging step).
    assert len(trace.steps) == 1 + nx.shortest_path_length(res.graph, 0, f.state) + 1
    clean = Explorer(reference(), Z25, backend=ModelBackend()).run(2)
    assert clean.findings == [] and clean.backend_checked > 100


def _never_discards(c: Ctx) -> tuple[Any, Any]:
    """A deliberately wrong invariant, in the catalogue's own form."""
    return True, c.z.Not(c.out.get("discarded") is True)


def test_a_broken_invariant_is_found_with_a_shortest_trace(tmp_path: Path) -> None:
    broken = Invariant("never-discards", "reclaim never discards", "planted",
                       labels("reclaim"), _never_discards)
    ex = Explorer(discardable_only(), Z25, invariants=[*checked_invariants(), broken])
    res = ex.run(3)
    assert [f.name for f in res.findings] == ["never-discards"]
    f = res.findings[0]
    ex.write_trace(res, f, tmp_path / "t.jsonl")
    trace = read_trace(tmp_path / "t.jsonl")
    assert check_trace(trace, Z25).conforms  # the trace replays, every step as recorded
    # The shortest way to a discard: LOCK, UNLOCK (now reclaimable), reclaim.
    assert [s.name for s in trace.steps[1:]] == ["vmo_op_range"] * 2 + ["reclaim"]
    assert trace.steps[-1].raw["discarded"] is True


def _run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_cli_json_and_graph(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    graph = tmp_path / "g.graphml"
    code, out, _ = _run(capsys, "explore", "--depth", "2", "--json", "--graph", str(graph),
                        "--out", str(tmp_path / "out"))
    assert code == 0
    d = json.loads(out)
    assert {"states", "edges", "depth", "seconds", "violations", "divergences"} <= set(d)
    assert d["depth"] == 2 and d["violations"] == [] and d["divergences"] == []
    g = nx.read_graphml(graph)
    assert g.number_of_nodes() == d["states"] and g.number_of_edges() == d["edges"]
    dot = tmp_path / "g.dot"
    assert _run(capsys, "explore", "--depth", "1", "--graph", str(dot), "--out",
                str(tmp_path / "out"))[0] == 0
    assert dot.read_text().startswith("digraph")


def test_cli_finding_exit_and_trace(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = _run(capsys, "explore", "--depth", "1", "--backend", "model", "--broken",
                        "unlock_at_zero_ok", "--json", "--out", str(tmp_path))
    assert code == 1
    d = json.loads(out)
    [div] = d["divergences"]
    assert div["steps"] == SETUP + 1  # the UNLOCK right after the setup
    assert main(["check", div["trace"]]) == 1


@pytest.mark.parametrize("argv, what", [
    (["--config", "/no/such.json"], "/no/such.json"),
    (["--depth", "-1"], "--depth"),
    (["--graph", "x.png"], "--graph"),
    (["--broken", "reclaim_locked"], "--broken"),
])
def test_cli_bad_input(argv: list[str], what: str, tmp_path: Path,
                       capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = _run(capsys, "explore", "--out", str(tmp_path), *argv)
    assert code == 2 and what in err and len(err.strip().splitlines()) == 1


def test_cli_bad_config_names_the_place(tmp_path: Path,
                                        capsys: pytest.CaptureFixture[str]) -> None:
    cfg = tmp_path / "c.json"
    cfg.write_text(json.dumps({"families": [{"name": "x", "alphabet": [{"call": "nope"}]}]}))
    code, _, err = _run(capsys, "explore", "--config", str(cfg), "--out", str(tmp_path))
    assert code == 2 and "family x alphabet" in err


# -- pictures ---------------------------------------------------------------------------------


def _png_size(path: Path) -> tuple[int, int]:
    """Width and height of a valid PNG (matplotlib decodes it; a broken file raises)."""
    import matplotlib.image

    img = matplotlib.image.imread(path)
    assert img.ndim == 3 and img.shape[2] in (3, 4) and img.std() > 0  # not blank
    return int(img.shape[1]), int(img.shape[0])


def test_machine_pictures_render(tmp_path: Path) -> None:
    from refinement_tests.machines import machines
    from vmospec.pictures import draw_machines

    cols = [machines(PROFILES[p], depth=3) for p in ("zircon-2025", "doc")]
    assert [m.title for m in cols[0]] == ["discardable tracker", "pager-backed VMO, page 0"]
    size = draw_machines(cols, tmp_path / "m.png")
    assert _png_size(tmp_path / "m.png") == size
    svg = tmp_path / "m.svg"
    draw_machines(cols[:1], svg)
    import xml.etree.ElementTree as ET

    root = ET.parse(svg).getroot()
    assert root.tag.endswith("svg") and float(root.get("width", "0").rstrip("pt")) > 0


def test_tracker_machine_is_projected_from_the_graph() -> None:
    from refinement_tests.machines import machines

    tracker = machines(Z25, depth=3)[0]
    edges = {(a, b): calls for a, b, calls in tracker.edges}
    assert "reclaim" in edges[("Reclaimable", "Discarded")]
    assert "UNLOCK" in edges[("Unreclaimable (locked)", "Reclaimable")]
    assert ("Unset", "Discarded") not in edges  # never locked: reclaim does not discard


def test_show_picture(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from vmospec.reference_pictures import FAMILY, HERE

    out = tmp_path / "o.png"
    code, text, _ = _run(capsys, "show", str(HERE / FAMILY), "--step", "4", "--picture",
                         str(out))
    assert code == 0 and "after step 4" in text
    w, h = _png_size(out)
    assert w >= 700 and h >= 500
    code, text, _ = _run(capsys, "show", str(HERE / FAMILY), "--step", "4")
    assert code == 0 and "slice VMO" in text and "handle l -> #3" in text
    code, _, err = _run(capsys, "show", str(HERE / FAMILY), "--step", "99")
    assert code == 2 and "--step" in err


def test_explore_picture(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "e.png"
    code, _, _ = _run(capsys, "explore", "--depth", "2", "--picture", str(out), "--out",
                      str(tmp_path))
    assert code == 0
    w, h = _png_size(out)
    assert (w, h) == (900, 1500)  # one profile: a column of two machines


def test_reference_pictures_are_valid_images_of_the_expected_size() -> None:
    """The committed pictures (regenerated by `python -m vmospec.reference_pictures`,
    checked current in CI through machines.md)."""
    from vmospec.reference_pictures import HERE, MACHINES_PNG, OBJECTS_PNG

    assert _png_size(HERE / MACHINES_PNG) == (1800, 1500)
    w, h = _png_size(HERE / OBJECTS_PNG)
    assert w > 1000 and h > 500
    assert "discardable tracker (zircon-2025)" in (HERE / "machines.md").read_text()


def test_state_clauses_are_evaluated_concretely() -> None:
    """A state no trace reaches (discarded, yet a page still committed and written)
    breaks the tracker clause of proofs/wellformed.py, found at the offset it fails."""
    from refinement_tests.invariants import check_state
    from spec.state import DISCARDED, Memory, Tracker

    ex = Explorer(discardable_only(), Z25)
    st = ex.families[0].states[ex.families[0].init]
    v = Concrete(4096)
    oid, vmo = next((k, o) for k, o in st.objects.items() if isinstance(o, Vmo))
    assert vmo.memory is not None
    assert check_state(v, 4096, st) == []
    bad = vmo.with_memory(Memory(v.bytes_fill(vmo.memory.content, 5, 6, 1),
                                 v.pages_add(vmo.memory.committed, 0, 1)))
    bad = bad.with_tracker(Tracker(DISCARDED, 0))
    broken = check_state(v, 4096, st.with_object(oid, bad))
    assert [b.name for b in broken] == ["the discardable tracker is consistent"]


@pytest.mark.parametrize("argv, what", [
    (["zircon-2025", "doc", "--picture", "x.gif"], ".png or .svg"),
    (["zircon-2025", "model", "--picture", "x.png"], "two profiles"),
])
def test_diff_picture_bad_input(argv: list[str], what: str,
                                capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = _run(capsys, "diff", *argv)
    assert code == 2 and what in err and len(err.strip().splitlines()) == 1


def test_show_draws_hidden_nodes_of_a_snapshot_family() -> None:
    # after SNAPSHOT the original and its child both hang from one hidden node that holds
    # the original's two pages (both eras' families are drawn from spec/cow.py's nodes)
    from vmospec.pictures import state_graph
    from vmospec.show_cmd import state_after

    trace = read_trace(Path(__file__).parents[1] / "traces" / "cow"
                       / "allocate_after_merge.2025.jsonl")
    st, _, diverged = state_after(trace, 3, Z25)
    assert diverged is None
    g, _ = state_graph(st, trace.header.page_size)
    hidden = [n for n, d in g.nodes.items() if d["label"].startswith("hidden node")]
    assert len(hidden) == 1 and "holds pages [0, 1]" in g.nodes[hidden[0]]["label"]
    sharers = {a for a, b, d in g.edges(data=True) if b == hidden[0] and d["label"] == "shares"}
    assert len(sharers) == 2
    before, _, _ = state_after(trace, 2, Z25)  # before the snapshot: no hidden node
    g2, _ = state_graph(before, trace.header.page_size)
    assert not any(d["label"].startswith("hidden node") for d in g2.nodes.values())
