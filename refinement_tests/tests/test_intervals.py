"""The persistent interval maps under the concrete value layer (spec/intervals.py) and
the byte maps, page sets and read results built on them (spec/values.py).

Each map is checked against a plain per-integer model over a small universe, in the
default node size and in tiny ones (so that even short tests build trees several levels
deep); then the structure itself: updates copy a path, not the map, and a long read of
the pager's content is one piece, not one run per page.
"""

from __future__ import annotations

import itertools
import json
import resource
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as hs

from refinement_tests.checker import check_trace
from refinement_tests.stepper import render_value
from refinement_tests.trace import Step, parse_trace_text
from spec import intervals as iv
from spec.explore import Cx, explore
from spec.outcome import Outcome
from spec.profiles import ZIRCON_2025
from spec.state import EMPTY_STATE, State, Vmo
from spec.transitions import transition
from spec.values import ByteRuns, Concrete, PageRuns, Runs

P = 16  # a small page, so that the pager's pattern changes often in a small universe
N = 24 * P


SIZES = pytest.mark.parametrize("size", [(32, 8), (4, 1), (3, 1)], ids=["max32", "max4", "max3"])


@contextmanager
def node_size(size: tuple[int, int]) -> Iterator[None]:
    """Nodes of at most size[0] items (at least size[1]): small ones make deep trees."""
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(iv, "MAX", size[0])
        mp.setattr(iv, "MIN", size[1])
        yield


def _nodes(n: iv.Node) -> Iterator[iv.Node]:
    yield n
    if n.height > 0:
        for c in n.children():
            yield from _nodes(c)


def _well_formed(m: iv.IntervalMap) -> None:
    """Sorted, disjoint, touching equal neighbours merged; every leaf as deep; every
    node but the root within MIN..MAX; keys and sums agree with the items."""
    items = m.items()
    for (a, b, v), (c, d, w) in itertools.pairwise(items):
        assert a < b <= c < d
        assert not (b == c and v == w), "touching equal intervals must be merged"
    root = m.root
    for n in _nodes(root):
        assert len(n.items) <= iv.MAX
        if n is not root:
            assert len(n.items) >= iv.MIN
        if n.height > 0:
            assert all(c.height == n.height - 1 for c in n.children())
            assert n.keys == tuple(c.lo for c in n.children())
        else:
            assert n.keys == tuple(i[0] for i in n.items)
    assert root.count() == len(items)
    assert root.span() == sum(b - a for a, b, _ in items)


# -- the byte map, against a list of bytes ------------------------------------------------

edit = hs.tuples(hs.sampled_from(["fill", "write", "splice"]), hs.integers(0, N - 1),
                 hs.integers(1, 3 * P), hs.integers(0, 3),
                 hs.lists(hs.tuples(hs.integers(0, 3), hs.integers(1, 5)), max_size=3),
                 hs.integers(0, N // 2))


def _apply(c: Concrete, m: ByteRuns, ref: list[int], e: tuple[Any, ...]) -> ByteRuns:
    kind, lo, n, byte, data, shift = e
    hi = min(N, lo + n)
    if kind == "fill":
        ref[lo:hi] = [byte] * (hi - lo)
        return c.bytes_fill(m, lo, hi, byte)
    if kind == "write":
        runs = tuple(data)
        end = lo + sum(k for _, k in runs)
        if end > N:
            return m
        ref[lo:end] = [b for b, k in runs for _ in range(k)]
        return c.bytes_write(m, lo, runs)
    hi = min(hi, N - shift)
    if lo >= hi:
        return m
    ref[lo:hi] = ref[lo + shift:hi + shift]
    return c.bytes_splice(m, lo, hi, m, shift)


def _runs_of(b: list[int]) -> tuple[tuple[int, int], ...]:
    return tuple((x, len(list(g))) for x, g in itertools.groupby(b))


@SIZES
@settings(max_examples=60, deadline=None)
@given(pager=hs.booleans(), edits=hs.lists(edit, max_size=40),
       reads=hs.lists(hs.tuples(hs.integers(0, N), hs.integers(0, N)), min_size=1, max_size=5))
def test_byte_map_matches_a_list_of_bytes(
    size: tuple[int, int], pager: bool, edits: list[tuple[Any, ...]],
    reads: list[tuple[int, int]]
) -> None:
    with node_size(size):
        _byte_map_matches(pager, edits, reads)


def _byte_map_matches(pager: bool, edits: list[tuple[Any, ...]],
                      reads: list[tuple[int, int]]) -> None:
    c = Concrete(P)
    ref = [(i // P + 1) % 256 for i in range(N)] if pager else [0] * N
    m = c.bytes_pager(P) if pager else c.bytes_const(0)
    history = []
    for e in edits:
        m = _apply(c, m, ref, e)
        _well_formed(m.runs)
        history.append((m, list(ref)))
    for lo, n in reads:
        n = min(n, N - lo)
        got, want = c.bytes_read(m, lo, n), _runs_of(ref[lo:lo + n])
        assert got == want and want == got and tuple(got) == want
        assert len(got) == len(want) and hash(got) == hash(want)
        if isinstance(got, Runs):  # the pattern is read as pieces
            assert got.tail_runs(2) == list(want[-2:])
        else:  # a tuple only where no run of the range is the pattern
            assert all(v >= 0 for _, _, v in m.runs.overlapping(lo, lo + n))
        assert c.bytes_zero_in(m, lo, lo + n) == all(b == 0 for b in ref[lo:lo + n])
        if want:  # one byte off is seen
            assert got != (*want[:-1], (want[-1][0] ^ 1, want[-1][1]))
    # old versions are untouched by later edits
    for old, old_ref in history:
        assert [old.byte_at(i) for i in range(N)] == old_ref


@SIZES
@settings(max_examples=40, deadline=None)
@given(edits=hs.lists(edit, max_size=30), order=hs.randoms(use_true_random=False))
def test_equal_content_is_equal_and_hashes_alike(
    size: tuple[int, int], edits: list[tuple[Any, ...]], order: Any
) -> None:
    """The same bytes reached another way (one byte at a time, in a shuffled order)
    are the same map: equal, and the same hash."""
    with node_size(size):
        _equal_content(edits, order)


def _equal_content(edits: list[tuple[Any, ...]], order: Any) -> None:
    c = Concrete(P)
    ref = [0] * N
    m = c.bytes_const(0)
    for e in edits:
        m = _apply(c, m, ref, e)
    other = c.bytes_const(0)
    for i in order.sample(range(N), N):
        other = c.bytes_fill(other, i, i + 1, ref[i])
    assert other == m and hash(other) == hash(m)
    if any(ref):
        first = next(i for i, b in enumerate(ref) if b)
        assert c.bytes_fill(other, first, first + 1, 0) != m


# -- the page set, against a Python set ----------------------------------------------------

page_edit = hs.tuples(hs.booleans(), hs.integers(0, 60), hs.integers(0, 9))


@SIZES
@settings(max_examples=60, deadline=None)
@given(edits=hs.lists(page_edit, max_size=40), other=hs.lists(page_edit, max_size=10),
       queries=hs.lists(hs.tuples(hs.integers(0, 70), hs.integers(-3, 25)), max_size=8))
def test_page_set_matches_a_set(
    size: tuple[int, int], edits: list[tuple[bool, int, int]],
    other: list[tuple[bool, int, int]], queries: list[tuple[int, int]]
) -> None:
    with node_size(size):
        _page_set_matches(edits, other, queries)


def _page_set_matches(edits: list[tuple[bool, int, int]], other: list[tuple[bool, int, int]],
                      queries: list[tuple[int, int]]) -> None:
    c = Concrete(P)

    def build(es: list[tuple[bool, int, int]]) -> tuple[PageRuns, set[int]]:
        s, ref = c.pages_empty(), set[int]()
        for add, lo, n in es:
            s = c.pages_add(s, lo, lo + n) if add else c.pages_remove(s, lo, lo + n)
            ref = ref | set(range(lo, lo + n)) if add else ref - set(range(lo, lo + n))
            _well_formed(s.runs)
        return s, ref

    def members(s: PageRuns) -> set[int]:
        return {k for a, b in s.all() for k in range(a, b)}

    s, ref = build(edits)
    t, tref = build(other)
    assert members(s) == ref
    assert members(c.pages_union(s, t)) == ref | tref
    assert members(c.pages_diff(s, t)) == ref - tref
    for lo, n in queries:
        hi = lo + n
        inside = [k for k in range(lo, hi) if k in ref]
        outside = [k for k in range(lo, hi) if k not in ref]
        assert c.pages_count(s, lo, hi) == len(inside)
        assert c.pages_any(s, lo, hi) == bool(inside)
        assert c.pages_first_in(s, lo, hi) == (inside[0] if inside else hi)
        assert c.pages_first_out(s, lo, hi) == (outside[0] if outside else hi)
        assert members(c.pages_within(s, lo, hi)) == set(inside)
    # canonical: the same members built one page at a time
    one_by_one = c.pages_empty()
    for k in sorted(ref, reverse=True):
        one_by_one = c.pages_add(one_by_one, k, k + 1)
    assert one_by_one == s and hash(one_by_one) == hash(s)


# -- structure: cost follows the work ------------------------------------------------------


def test_an_update_copies_a_path_not_the_map() -> None:
    """16,000 small writes at distinct offsets of a 2^40-byte map: the tree stays a few
    levels deep, and each write makes only a few new nodes; the rest is shared with
    the version before (which is what keeps every write O(log n))."""
    c = Concrete(4096)
    m = c.bytes_const(0)
    worst_new = 0
    for k in range(16_000):
        off = ((k + 1) * 0x9E3779B97F4A7C15) % (1 << 40)  # spread, distinct, not 0
        before = {id(n) for n in _nodes(m.runs.root)} if k % 1000 == 999 else None
        m = c.bytes_write(m, off, ((k % 255 + 1, 3),))
        if before is not None:
            new = sum(1 for n in _nodes(m.runs.root) if id(n) not in before)
            worst_new = max(worst_new, new)
    root = m.runs.root
    assert len(m.runs) == 2 * 16_000 + 1
    assert root.height <= 4  # 32,001 intervals, at most 32 to a node, at least 8
    assert 0 < worst_new <= 3 * (root.height + 1)
    _well_formed(m.runs)


def test_a_read_of_the_pager_pattern_is_one_piece() -> None:
    """2^40 bytes of a pager-backed VMO read as one piece standing for 2^28 runs: its
    length and run count are arithmetic, and comparing it stops at the first run that
    differs."""
    c = Concrete(4096)
    got = c.bytes_read(c.bytes_pager(4096), 0, 1 << 40)
    assert isinstance(got, Runs) and got.pieces == ((-1, 1 << 40),)
    assert got.length == 1 << 40 and len(got) == 1 << 28
    assert list(itertools.islice(got, 3)) == [(1, 4096), (2, 4096), (3, 4096)]
    assert got.tail_runs(2) == [(255, 4096), (0, 4096)]
    assert got != ((1, 4096), (2, 4096))  # wrong length
    assert got != ((1, 4096), (9, (1 << 40) - 4096))  # right length, second run wrong
    short = c.bytes_read(c.bytes_pager(4096), 4096 * 255 + 10, 4096)
    assert short == ((0, 4086), (1, 10))


def test_render_abbreviates_a_long_read() -> None:
    """Shown as trace data is shown: the first and last runs around a count."""
    c = Concrete(4096)
    shown = render_value(c.bytes_read(c.bytes_pager(4096), 0, 1 << 40))
    assert shown == [[1, 4096], [2, 4096], [3, 4096],
                     f"... {(1 << 28) - 6:,} more runs, {(1 << 40) - 6 * 4096:,} bytes ...",
                     [254, 4096], [255, 4096], [0, 4096]]
    assert render_value(Runs(((7, 3),), 4096)) == "070707"
    # the same as the trace's own data of those bytes shows
    read = c.bytes_read(c.bytes_pager(4096), 0, 12 * 4096)
    assert render_value(read) == render_value(tuple(read))


def _pager_read_trace(length: int, data: str | None) -> str:
    read: dict[str, Any] = {"call": "vmo_read", "vmo": "v", "offset": 0, "length": length,
                            "status": "ZX_OK"}
    if data is not None:
        read["data"] = data
    steps: list[dict[str, Any]] = [
        {"vmo_trace": 1, "page_size": 4096},
        {"call": "pager_create", "out": "p", "status": "ZX_OK"},
        {"call": "pager_create_vmo", "pager": "p", "options": [], "size": length, "out": "v",
         "status": "ZX_OK"},
        read,
    ]
    return "".join(json.dumps(s) + "\n" for s in steps)


def test_a_long_pager_read_checks_in_bounded_memory(tmp_path: Path) -> None:
    """The issue's trace, read to 2^40 bytes, in a process limited to 1.5 GiB of address
    space (one run per page would need about 30 GiB): it conforms when the data is
    left out, and a wrong `data` is a one-line divergence, not the whole value."""
    def limit() -> None:
        resource.setrlimit(resource.RLIMIT_AS, (3 << 29, 3 << 29))

    for data, code in ((None, 0), ("00", 1)):
        path = tmp_path / "read.jsonl"
        path.write_text(_pager_read_trace(1 << 40, data))
        out = subprocess.run([sys.executable, "-m", "vmospec.cli", "check", str(path)],
                             capture_output=True, text=True, preexec_fn=limit, check=False)
        assert out.returncode == code, out.stderr
        assert "Traceback" not in out.stderr
        assert len(out.stdout) < 4000
    assert f"{(1 << 28) - 6:,} more runs" in out.stdout


def test_the_spec_holds_a_long_pager_read_as_one_piece() -> None:
    """Replayed step by step: the read pages in 2^28 pages as one interval of the
    commit set, and its data is the one pattern piece."""
    trace = parse_trace_text(_pager_read_trace(1 << 40, None), "t.jsonl")
    assert check_trace(trace, ZIRCON_2025).conforms
    v, st = Concrete(4096), EMPTY_STATE
    out: Any = None
    for step in trace.steps:
        def run(cx: Cx, st: State = st, s: Step = step) -> Outcome:
            return transition(cx, st, s.name, s.args)
        paths = explore(run, v, ZIRCON_2025, 4096, trace.header.config)
        assert len(paths) == 1
        st, out = paths[0].result.state, paths[0].result.out
    assert out["data"].pieces == ((-1, 1 << 40),)
    vmo = next(o for o in st.objects.values() if isinstance(o, Vmo))
    assert vmo.memory is not None and vmo.memory.committed.all() == [(0, 1 << 28)]
