"""Tests of the checker's semantics (refinement_tests/checker.py).

Each test writes a small trace inline, checks it under a profile, and looks at whether
it conforms, how many possible states the checker had to keep, and what a divergence
reports. The traces are short enough to be read as the specification of the behaviour.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from refinement_tests.checker import TraceResult, check_trace
from refinement_tests.stepper import Divergence
from refinement_tests.trace import parse_trace_text
from spec.profiles import PROFILES

HEADER = '{"vmo_trace": 1, "page_size": 4096}'
PAGE = 4096


def line(obj: dict[str, Any]) -> str:
    return json.dumps(obj)


def check(profile: str, *steps: str | dict[str, Any], header: str = HEADER) -> TraceResult:
    """Check header + steps (JSON text or dicts, one per line) under a profile."""
    lines = [header, *(s if isinstance(s, str) else line(s) for s in steps)]
    trace = parse_trace_text("\n".join(lines) + "\n", "t.jsonl")
    return check_trace(trace, PROFILES[profile])


def diverged(result: TraceResult) -> Divergence:
    assert result.divergence is not None, "expected a divergence"
    return result.divergence


def create(
    out: str = "a", size: int = 4 * PAGE, options: list[str] | None = None
) -> dict[str, Any]:
    return {"call": "vmo_create", "size": size, "options": options or [], "out": out,
            "status": "ZX_OK"}


def op(vmo: str, name: str, offset: int, size: int, **outcome: Any) -> dict[str, Any]:
    return {"call": "vmo_op_range", "vmo": vmo, "op": f"ZX_VMO_OP_{name}", "offset": offset,
            "size": size, **outcome}


def info(vmo: str, **outcome: Any) -> dict[str, Any]:
    return {"call": "vmo_info", "vmo": vmo, "status": "ZX_OK", **outcome}


def read(vmo: str, offset: int, length: int, **outcome: Any) -> dict[str, Any]:
    return {"call": "vmo_read", "vmo": vmo, "offset": offset, "length": length, **outcome}


PAGER = {"call": "pager_create", "out": "p", "status": "ZX_OK"}
PAGER_VMO = {"call": "pager_create_vmo", "pager": "p", "options": [], "size": 2 * PAGE,
             "out": "pv", "status": "ZX_OK"}
# The read-only duplicate of "a": READ and DUPLICATE kept, WRITE dropped.
READ_ONLY = {"call": "handle_duplicate", "handle": "a", "rights": ["ZX_RIGHT_READ"],
             "out": "ro", "status": "ZX_OK"}


def test_a_conforming_trace_has_no_divergence() -> None:
    r = check("zircon-2025", create(), op("a", "COMMIT", 0, PAGE, status="ZX_OK"),
              info("a", committed_bytes=PAGE))
    assert r.conforms
    assert r.divergence is None
    assert r.steps == 3
    assert r.path == "t.jsonl"


# --- unrecorded outcomes keep several states ------------------------------------------------


def test_reclaim_without_evicted_bytes_keeps_both_states_until_info_decides() -> None:
    # Under zircon-2025 reclaim may evict none or all of the clean supplied pages; with
    # evicted_bytes not recorded both states survive, and committed_bytes picks one.
    supply = {"call": "pager_supply_pages", "pager": "p", "vmo": "pv", "offset": 0,
              "length": 2 * PAGE, "status": "ZX_OK"}
    reclaim = {"event": "reclaim", "vmo": "pv"}
    for committed in (0, 2 * PAGE):
        r = check("zircon-2025", PAGER, PAGER_VMO, supply, reclaim,
                  info("pv", committed_bytes=committed))
        assert r.conforms, committed
        assert r.max_states == 2
    # Half the pages is neither state: a divergence that lists both as allowed.
    d = diverged(check("zircon-2025", PAGER, PAGER_VMO, supply, reclaim,
                       info("pv", committed_bytes=PAGE)))
    assert d.step == 5
    assert sorted(a["committed_bytes"] for a in d.allowed) == [0, 2 * PAGE]
    # Once committed_bytes said 0, the other state is gone: 8192 later is a divergence.
    d = diverged(check("zircon-2025", PAGER, PAGER_VMO, supply, reclaim,
                       info("pv", committed_bytes=0), info("pv", committed_bytes=2 * PAGE)))
    assert d.step == 6
    assert [a["committed_bytes"] for a in d.allowed] == [0]


def test_reclaim_with_evicted_bytes_recorded_keeps_one_state() -> None:
    supply = {"call": "pager_supply_pages", "pager": "p", "vmo": "pv", "offset": 0,
              "length": 2 * PAGE, "status": "ZX_OK"}
    r = check("zircon-2025", PAGER, PAGER_VMO, supply,
              {"event": "reclaim", "vmo": "pv", "evicted_bytes": 0},
              info("pv", committed_bytes=2 * PAGE))
    assert r.conforms
    assert r.max_states == 1
    d = diverged(check("zircon-2025", PAGER, PAGER_VMO, supply,
                       {"event": "reclaim", "vmo": "pv", "evicted_bytes": 0},
                       info("pv", committed_bytes=0)))
    assert d.step == 5


def test_doc_commit_without_status_keeps_the_no_memory_branch() -> None:
    # Under doc COMMIT may fail with NO_MEMORY, keeping nothing or its first page (the
    # reading commit-partial_no_memory). With its status not recorded, the committed
    # and both failed states survive; reclaim evicting both pages is only possible if
    # COMMIT went through.
    commit = op("pv", "COMMIT", 0, 2 * PAGE)
    evicted_all = {"event": "reclaim", "vmo": "pv", "evicted_bytes": 2 * PAGE}
    r = check("doc", PAGER, PAGER_VMO, commit, evicted_all)
    assert r.conforms
    assert r.max_states == 3
    # Pinning COMMIT to NO_MEMORY leaves at most one page to evict: reclaim diverges.
    d = diverged(check("doc", PAGER, PAGER_VMO, {**commit, "status": "ZX_ERR_NO_MEMORY"},
                       evicted_all))
    assert (d.step, d.call) == (4, "reclaim")
    assert sorted({a["evicted_bytes"] for a in d.allowed}) == [0, PAGE]
    # zircon-2025 never runs out of memory: the same COMMIT leaves one state.
    r = check("zircon-2025", PAGER, PAGER_VMO, commit, evicted_all)
    assert r.conforms
    assert r.max_states == 1


def test_doc_commit_without_status_later_read_decides_either_way() -> None:
    # The pager is scripted to fail page 0 once. If COMMIT ran, it consumed the failure
    # (status IO) and a later read succeeds; if COMMIT ran out of memory first, the
    # failure is still pending and the read gets it. With COMMIT's status not recorded
    # both reads conform; each pinned status admits only one of them.
    fail = {"call": "pager_fail", "pager": "p", "vmo": "pv", "offset": 0, "length": PAGE,
            "error": "ZX_ERR_IO", "status": "ZX_OK"}
    commit = op("pv", "COMMIT", 0, 2 * PAGE)
    read_ok = read("pv", 0, 4, status="ZX_OK", data="01010101")
    read_io = read("pv", 0, 4, status="ZX_ERR_IO")
    assert check("doc", PAGER, PAGER_VMO, fail, commit, read_ok).conforms
    assert check("doc", PAGER, PAGER_VMO, fail, commit, read_io).conforms
    pinned_io = {**commit, "status": "ZX_ERR_IO"}
    pinned_nomem = {**commit, "status": "ZX_ERR_NO_MEMORY"}
    assert check("doc", PAGER, PAGER_VMO, fail, pinned_io, read_ok).conforms
    assert diverged(check("doc", PAGER, PAGER_VMO, fail, pinned_io, read_io)).step == 5
    assert check("doc", PAGER, PAGER_VMO, fail, pinned_nomem, read_io).conforms
    assert diverged(check("doc", PAGER, PAGER_VMO, fail, pinned_nomem, read_ok)).step == 5
    # zircon-2025 has no NO_MEMORY branch: only the consumed failure remains.
    assert check("zircon-2025", PAGER, PAGER_VMO, fail, commit, read_ok).conforms
    assert diverged(check("zircon-2025", PAGER, PAGER_VMO, fail, commit, read_io)).step == 5


# --- status expectations --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("status", "conforms"),
    [
        ("ZX_ERR_BAD_HANDLE", True),
        ("ZX_ERR_WRONG_TYPE", False),
        (["ZX_OK", "ZX_ERR_BAD_HANDLE"], True),
        (["ZX_ERR_BAD_HANDLE"], True),
        (["ZX_OK", "ZX_ERR_INVALID_ARGS"], False),
        ({"not": ["ZX_OK"]}, True),
        ({"not": ["ZX_OK", "ZX_ERR_INVALID_ARGS"]}, True),
        ({"not": ["ZX_ERR_BAD_HANDLE"]}, False),
        ({"not": ["ZX_OK", "ZX_ERR_BAD_HANDLE"]}, False),
        (-11, True),  # the raw value of ZX_ERR_BAD_HANDLE
    ],
)
def test_status_forms(status: Any, conforms: bool) -> None:
    # "nobody" was never bound: the op gets ZX_ERR_BAD_HANDLE.
    r = check("zircon-2025", op("nobody", "COMMIT", 0, PAGE, status=status))
    assert r.conforms is conforms


def test_status_list_and_not_on_success() -> None:
    ok = [create(), op("a", "COMMIT", 0, PAGE)]
    assert check("zircon-2025", *ok[:1], {**ok[1], "status": ["ZX_ERR_NO_MEMORY", "ZX_OK"]}
                 ).conforms
    assert check("zircon-2025", *ok[:1], {**ok[1], "status": {"not": ["ZX_ERR_IO"]}}).conforms
    assert not check("zircon-2025", *ok[:1], {**ok[1], "status": {"not": ["ZX_OK"]}}).conforms


def test_omitted_status_is_not_checked() -> None:
    assert check("zircon-2025", op("nobody", "COMMIT", 0, PAGE)).conforms
    assert check("zircon-2025", create(), op("a", "COMMIT", 0, PAGE)).conforms


# --- outcome fields -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("options", "flags", "conforms"),
    [
        ([], ["ZX_INFO_VMO_TYPE_PAGED"], True),
        ([], [], True),
        ([], ["ZX_INFO_VMO_TYPE_PAGED", "ZX_INFO_VMO_VIA_HANDLE"], True),
        ([], ["ZX_INFO_VMO_RESIZABLE"], False),
        ([], ["ZX_INFO_VMO_TYPE_PAGED", "ZX_INFO_VMO_RESIZABLE"], False),
        (["ZX_VMO_RESIZABLE"], ["ZX_INFO_VMO_RESIZABLE"], True),
        (["ZX_VMO_RESIZABLE"], ["ZX_INFO_VMO_TYPE_PAGED", "ZX_INFO_VMO_RESIZABLE"], True),
        (["ZX_VMO_RESIZABLE"], ["ZX_INFO_VMO_DISCARDABLE"], False),
        (["ZX_VMO_DISCARDABLE"], ["ZX_INFO_VMO_DISCARDABLE"], True),
        ([], [1], True),  # ZX_INFO_VMO_TYPE_PAGED as a raw bit
        ([], [1 << 20], False),  # a bit the kernel never sets
    ],
)
def test_info_flags_must_be_set_others_may_be(
    options: list[str], flags: list[str | int], conforms: bool
) -> None:
    r = check("zircon-2025", create(options=options), info("a", flags=flags))
    assert r.conforms is conforms


DISCARDABLE = create("d", 4 * PAGE, ["ZX_VMO_DISCARDABLE"])


@pytest.mark.parametrize(
    ("lock_state", "conforms"),
    [
        ({}, True),
        ({"size": 4 * PAGE}, True),
        ({"offset": 0}, True),
        ({"discarded_offset": 0, "discarded_size": 0}, True),
        ({"offset": 0, "size": 4 * PAGE, "discarded_offset": 0, "discarded_size": 0}, True),
        ({"size": PAGE}, False),
        ({"offset": PAGE}, False),
        ({"discarded_size": 4 * PAGE}, False),
        ({"offset": 0, "size": 4 * PAGE, "discarded_size": PAGE}, False),
    ],
)
def test_lock_state_keys_absent_are_not_checked(lock_state: dict[str, int], conforms: bool) -> None:
    r = check("zircon-2025", DISCARDABLE,
              op("d", "LOCK", 0, 4 * PAGE, status="ZX_OK", lock_state=lock_state))
    assert r.conforms is conforms


def test_lock_state_after_discard_reports_the_discarded_range() -> None:
    steps = [
        DISCARDABLE,
        op("d", "LOCK", 0, 4 * PAGE, status="ZX_OK"),
        op("d", "COMMIT", 0, PAGE, status="ZX_OK"),  # 2024 on: a discard needs a page
        op("d", "UNLOCK", 0, 4 * PAGE, status="ZX_OK"),
        {"event": "reclaim", "vmo": "d", "discarded": True},
    ]
    assert check("zircon-2025", *steps, op("d", "LOCK", 0, 4 * PAGE, status="ZX_OK",
                 lock_state={"discarded_size": 4 * PAGE})).conforms
    assert not check("zircon-2025", *steps, op("d", "LOCK", 0, 4 * PAGE, status="ZX_OK",
                     lock_state={"discarded_size": 0})).conforms


WRITE_AB = {"call": "vmo_write", "vmo": "a", "offset": 0, "data": [[0x41, 3], [0x42, 1]],
            "status": "ZX_OK"}


@pytest.mark.parametrize(
    ("data", "conforms"),
    [
        ("41414142", True),
        ([[0x41, 3], [0x42, 1]], True),
        ([[0x41, 1], [0x41, 2], [0x42, 1]], True),  # unmerged runs: the same bytes
        ([[0x41, 3], [0x99, 0], [0x42, 1]], True),  # an empty run: the same bytes
        ("4141414200", False),  # one byte too many
        ("414141", False),
        ("41414141", False),
        ([[0x41, 4]], False),
        ([[0x42, 1], [0x41, 3]], False),
    ],
)
def test_read_data_hex_and_runs_are_equal(data: Any, conforms: bool) -> None:
    r = check("zircon-2025", create(), WRITE_AB, read("a", 0, 4, status="ZX_OK", data=data))
    assert r.conforms is conforms


def test_written_hex_reads_back_as_runs() -> None:
    write = {"call": "vmo_write", "vmo": "a", "offset": PAGE - 2, "data": "0707",
             "status": "ZX_OK"}
    r = check("zircon-2025", create(), write,
              read("a", PAGE - 4, 8, status="ZX_OK", data=[[0, 2], [7, 2], [0, 4]]))
    assert r.conforms


# --- divergence reports ---------------------------------------------------------------------


def test_divergence_reports_step_line_expected_allowed() -> None:
    text = "\n".join([
        HEADER,
        "",
        line(create()),
        "",
        "",
        line(op("a", "COMMIT", 0, 8 * PAGE, status="ZX_OK", note="past the end")),
        line(info("a", committed_bytes=0)),
    ]) + "\n"
    r = check_trace(parse_trace_text(text, "blank.jsonl"), PROFILES["zircon-2025"])
    d = diverged(r)
    assert d.trace == "blank.jsonl"
    assert d.step == 2  # blank lines are not steps
    assert d.line == 6  # but they are lines
    assert d.call == "vmo_op_range"
    assert d.observed == {"status": "ZX_OK"}  # outcome fields only: no args, no note
    assert d.expected["status"] == "ZX_ERR_OUT_OF_RANGE"
    assert d.expected["rule"] == "page.errors.out_of_range, commit.bounds"
    assert d.allowed == [d.expected]
    assert d.reason == ""


def test_divergence_stops_the_trace() -> None:
    r = check("zircon-2025", create(), op("a", "COMMIT", 0, PAGE, status="ZX_ERR_IO"),
              op("nobody", "COMMIT", 0, PAGE, status="ZX_OK"))
    d = diverged(r)
    assert d.step == 2  # the first divergence; step 3 (also wrong) is not reached
    assert r.steps == 3


def test_divergence_on_an_output_field_shows_it() -> None:
    d = diverged(check("zircon-2025", create(), op("a", "COMMIT", 0, PAGE, status="ZX_OK"),
                       info("a", committed_bytes=2 * PAGE)))
    assert (d.step, d.line, d.call) == (3, 4, "vmo_info")
    assert d.observed == {"status": "ZX_OK", "committed_bytes": 2 * PAGE}
    assert d.expected["committed_bytes"] == PAGE
    assert d.expected["size"] == 4 * PAGE
    assert d.expected["status"] == "ZX_OK"


def test_divergence_renders_expected_data() -> None:
    d = diverged(check("zircon-2025", create(), WRITE_AB,
                       read("a", 0, 4, status="ZX_OK", data="00000000")))
    assert d.observed == {"status": "ZX_OK", "data": "00000000"}
    assert d.expected["data"] == "41414142"


# --- the doc profile: any applicable error --------------------------------------------------


@pytest.mark.parametrize("name", ["COMMIT", "DECOMMIT", "ZERO"])
@pytest.mark.parametrize(
    ("profile", "accepted"),
    [
        ("doc", {"ZX_ERR_ACCESS_DENIED", "ZX_ERR_OUT_OF_RANGE"}),
        ("zircon-2023", {"ZX_ERR_ACCESS_DENIED"}),
        ("zircon-2025", {"ZX_ERR_ACCESS_DENIED"}),
    ],
)
def test_no_write_right_and_out_of_range(name: str, profile: str, accepted: set[str]) -> None:
    # "ro" lacks ZX_RIGHT_WRITE and the range lies past the end: two errors apply. The
    # kernel checks rights first; the page orders nothing, so doc accepts either.
    for status in ("ZX_ERR_ACCESS_DENIED", "ZX_ERR_OUT_OF_RANGE", "ZX_ERR_INVALID_ARGS"):
        r = check(profile, create(), READ_ONLY, op("ro", name, 16 * PAGE, PAGE, status=status))
        assert r.conforms is (status in accepted), (profile, name, status)


def test_doc_divergence_lists_every_allowed_status() -> None:
    d = diverged(check("doc", create(), READ_ONLY,
                       op("ro", "DECOMMIT", 16 * PAGE, PAGE, status="ZX_OK")))
    statuses = {a["status"] for a in d.allowed}
    assert statuses == {"ZX_ERR_ACCESS_DENIED", "ZX_ERR_OUT_OF_RANGE"}
    assert d.expected in d.allowed
    assert all(a["rule"] for a in d.allowed)


def test_only_write_right_missing_is_access_denied_everywhere() -> None:
    for profile in PROFILES:
        r = check(profile, create(), READ_ONLY,
                  op("ro", "DECOMMIT", 0, PAGE, status="ZX_ERR_OUT_OF_RANGE"))
        d = diverged(r)
        assert [a["status"] for a in d.allowed] == ["ZX_ERR_ACCESS_DENIED"], profile


# --- profile differences --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("profile", "status"),
    [("doc", "ZX_ERR_INVALID_ARGS"), ("zircon-2023", "ZX_ERR_INVALID_ARGS"),
     ("zircon-2025", "ZX_OK")],
)
def test_prefetch_by_profile(profile: str, status: str) -> None:
    good = check(profile, create(), op("a", "PREFETCH", 0, PAGE, status=status))
    assert good.conforms
    other = "ZX_OK" if status != "ZX_OK" else "ZX_ERR_INVALID_ARGS"
    d = diverged(check(profile, create(), op("a", "PREFETCH", 0, PAGE, status=other)))
    assert [a["status"] for a in d.allowed] == [status]


@pytest.mark.parametrize(
    ("profile", "status"),
    [("doc", "ZX_ERR_OUT_OF_RANGE"), ("zircon-2023", "ZX_OK"),
     ("zircon-2025", "ZX_ERR_OUT_OF_RANGE")],
)
def test_decommit_past_the_end_by_profile(profile: str, status: str) -> None:
    # [2 pages, 6 pages) of a 4-page VMO: 2023 trims to [2, 4); later eras refuse it.
    steps = [create(), op("a", "DECOMMIT", 2 * PAGE, 4 * PAGE, status=status)]
    assert check(profile, *steps).conforms
    other = "ZX_OK" if status != "ZX_OK" else "ZX_ERR_OUT_OF_RANGE"
    assert not check(profile, create(), {**steps[1], "status": other}).conforms


def test_decommit_trim_in_2023_frees_the_trimmed_range() -> None:
    fill = {"call": "vmo_write", "vmo": "a", "offset": 0, "data": [[7, 4 * PAGE]],
            "status": "ZX_OK"}
    steps = [create(), fill, info("a", committed_bytes=4 * PAGE),
             op("a", "DECOMMIT", 2 * PAGE, 4 * PAGE, status="ZX_OK"),
             info("a", committed_bytes=2 * PAGE),
             read("a", 2 * PAGE - 2, 4, status="ZX_OK", data="07070000"),
             read("a", 3 * PAGE, 4, status="ZX_OK", data="00000000")]
    assert check("zircon-2023", *steps).conforms
    # Under 2025 the same DECOMMIT fails and frees nothing.
    d = diverged(check("zircon-2025", *steps))
    assert d.step == 4
    d = diverged(check("zircon-2023", *steps[:4], info("a", committed_bytes=4 * PAGE)))
    assert (d.step, d.expected["committed_bytes"]) == (5, 2 * PAGE)


def test_decommit_within_bounds_is_ok_in_every_profile() -> None:
    for profile in PROFILES:
        assert check(profile, create(), op("a", "DECOMMIT", 0, 2 * PAGE, status="ZX_OK")
                     ).conforms, profile


def test_doc_bounds_committed_bytes_only() -> None:
    # doc has no accounting: any committed_bytes within 0..size is allowed.
    steps = [create(), op("a", "COMMIT", 0, PAGE, status="ZX_OK")]
    for committed in (0, PAGE, 4 * PAGE):
        assert check("doc", *steps, info("a", committed_bytes=committed)).conforms
    assert not check("doc", *steps, info("a", committed_bytes=5 * PAGE)).conforms
    assert not check("zircon-2025", *steps, info("a", committed_bytes=0)).conforms


def test_page_size_comes_from_the_header() -> None:
    # 16 KiB pages: a 4096-byte VMO is one 16384-byte page.
    header = '{"vmo_trace": 1, "page_size": 16384}'
    r = check("zircon-2025", create(size=4096), {"call": "vmo_get_size", "vmo": "a",
              "status": "ZX_OK", "size": 16384}, header=header)
    assert r.conforms
    r = check("zircon-2025", create(size=4096), {"call": "vmo_get_size", "vmo": "a",
              "status": "ZX_OK", "size": 4096}, header=header)
    assert not r.conforms


def test_doc_always_need_through_child_may_only_mark() -> None:
    # The reading always_need-commits holds through a pager root's child too: under doc
    # ALWAYS_NEED through the child may leave page 0 unfetched, so a read after the pager
    # is scripted to fail that page may fail; zircon-2025 has fetched it at the root.
    child = {"call": "vmo_create_child", "vmo": "pv",
             "options": ["ZX_VMO_CHILD_SNAPSHOT_AT_LEAST_ON_WRITE"], "offset": 0,
             "size": 2 * PAGE, "out": "c", "status": "ZX_OK"}
    fail = {"call": "pager_fail", "pager": "p", "vmo": "pv", "offset": 0, "length": PAGE,
            "error": "ZX_ERR_IO", "status": "ZX_OK"}
    steps = (PAGER, PAGER_VMO, child, op("c", "ALWAYS_NEED", 0, 2 * PAGE, status="ZX_OK"),
             fail)
    for status in ("ZX_OK", "ZX_ERR_IO"):
        assert check("doc", *steps, read("c", 0, 1, status=status)).conforms, status
    assert check("zircon-2025", *steps, read("c", 0, 1, status="ZX_OK")).conforms
    assert diverged(check("zircon-2025", *steps, read("c", 0, 1, status="ZX_ERR_IO"))).step == 6


def test_always_need_pager_errors_decided_alike_at_root_and_through_child() -> None:
    # One rule decides ALWAYS_NEED's paging in at a pager root and through its child: a
    # request that fails, here because the pager is gone (BAD_STATE), is ignored under
    # zircon-2025 and may be reported under doc (the reading always_need-pager_errors),
    # whichever of the two VMOs the hint is given through.
    child = {"call": "vmo_create_child", "vmo": "pv",
             "options": ["ZX_VMO_CHILD_SNAPSHOT_AT_LEAST_ON_WRITE"], "offset": 0,
             "size": 2 * PAGE, "out": "c", "status": "ZX_OK"}
    close = {"call": "handle_close", "handle": "p", "status": "ZX_OK"}
    for vmo in ("pv", "c"):
        steps = (PAGER, PAGER_VMO, child, close)
        for status in ("ZX_OK", "ZX_ERR_BAD_STATE"):
            hint = op(vmo, "ALWAYS_NEED", 0, 2 * PAGE, status=status)
            assert check("doc", *steps, hint).conforms, (vmo, status)
        assert check("zircon-2025", *steps, op(vmo, "ALWAYS_NEED", 0, 2 * PAGE,
                                               status="ZX_OK")).conforms, vmo
        assert not check("zircon-2025", *steps, op(vmo, "ALWAYS_NEED", 0, 2 * PAGE,
                                                   status="ZX_ERR_BAD_STATE")).conforms, vmo
