"""State machines by projection of an explored graph (refinement_tests/explore.py).

A projection maps each family state to a small name (the discardable tracker's state;
what page 0 of a pager-backed VMO is); the machine has an edge wherever some explored
transition goes from a state with one name to a state with another, labelled by the
calls that do it. Everything is derived from the exploration: a call appears on an edge
only if the spec took it there.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from refinement_tests.explore import Explorer
from refinement_tests.explore_config import Config, reference
from spec import abi
from spec.abi import STATUS_NAMES
from spec.profiles import Profile
from spec.state import TRACKER_STATE_NAMES, UNRECLAIMABLE, Pager, State, Vmo
from spec.values import Concrete

Projection = Callable[[State, Concrete], str]


@dataclass(frozen=True)
class Machine:
    title: str
    profile: str
    states: tuple[str, ...]
    edges: tuple[tuple[str, str, tuple[str, ...]], ...]  # (from, to, calls), sorted
    note: str = ""  # why there is no machine (the family cannot be set up)

    def text(self) -> str:
        """A stable plain-text form (what the CI staleness check compares)."""
        if self.note:
            return f"{self.title} ({self.profile}): {self.note}"
        lines = [f"{self.title} ({self.profile}): {len(self.states)} states"]
        lines += [f"  {a} -> {b}: {', '.join(calls)}" for a, b, calls in self.edges]
        return "\n".join(lines)


def _vmo_with(st: State, want: Callable[[Vmo], bool]) -> Vmo | None:
    for o in st.objects.values():
        if isinstance(o, Vmo) and want(o):
            return o
    return None


def tracker(st: State, v: Concrete) -> str:
    """The discardable tracker's state (discardable.states), or `closed` once the VMO is gone."""
    o = _vmo_with(st, lambda o: o.tracker is not None)
    if o is None or o.tracker is None:
        return "closed"
    name = TRACKER_STATE_NAMES[int(o.tracker.state)]
    return f"{name} (locked)" if o.tracker.state == UNRECLAIMABLE else name


def pager_page(st: State, v: Concrete) -> str:
    """What page 0 of the pager-backed VMO is: absent (never supplied, or evicted),
    clean or dirty (present), or zeroed (dirty but holding no page: it reads zero
    without the pager); whether a failure is scripted for it; whether the pager is
    gone."""
    o = _vmo_with(st, lambda o: o.marks is not None)
    if o is None or o.marks is None or o.memory is None:
        return "closed"
    if v.pages_any(o.memory.committed, 0, 1):
        name = "dirty" if v.pages_any(o.marks.dirty, 0, 1) else "clean"
    else:
        name = "zeroed" if v.pages_any(o.marks.dirty, 0, 1) else "absent"
    if any(lo <= 0 < hi for lo, hi, _s in o.marks.fails):
        name += ", failing"
    if not isinstance(st.objects.get(o.marks.pager), Pager):
        name += ", detached"
    return name


PROJECTIONS: dict[str, tuple[str, Projection]] = {
    "discardable": ("discardable tracker", tracker),
    "pager": ("pager-backed VMO, page 0", pager_page),
}


def _call(ex: Explorer, lab: int) -> str:
    label = ex.labels[lab]
    step = ex.config.families[label.family].alphabet[label.step]
    a = step.args
    if step.name == "vmo_op_range":
        what = abi.OP_NAMES.get(a["op"], str(a["op"])).removeprefix("ZX_VMO_OP_")
        if a.get("buffer_null"):
            what += " (no buffer)"
        elif a["offset"] or a["size"] % ex.page:  # whole pages from 0: the range is plain
            what += f" {a['offset']}+{a['size']}"
    elif step.name in ("pager_supply_pages", "pager_fail", "vmo_write"):
        what = step.name.removeprefix("pager_").removeprefix("vmo_")
        what += f" page {a['offset'] // ex.page}"
    else:
        what = step.name.removeprefix("vmo_").removeprefix("handle_")
        if step.name == "handle_close":
            what += f" {a['handle']}"
    status = label.fields.get("status")
    if status is not None and status != abi.OK:
        what += " " + STATUS_NAMES.get(status, str(status)).removeprefix("ZX_ERR_")
    return what


def project(ex: Explorer, family: str) -> Machine | None:
    """The machine of `family` (a key of PROJECTIONS) in what `ex` explored."""
    names = [f.name for f in ex.config.families]
    if family not in names or family not in PROJECTIONS:
        return None
    title, proj = PROJECTIONS[family]
    fam = ex.families[names.index(family)]
    names_of = [proj(st, ex.v) for st in fam.states]
    edges: dict[tuple[str, str], set[str]] = {}
    for cid, succ in enumerate(fam.succ):
        for nxt, labs in succ or ():
            a, b = names_of[cid], names_of[nxt]
            if a != b:
                edges.setdefault((a, b), set()).update(_call(ex, lab) for lab in labs)
    return Machine(title, ex.profile.name, tuple(sorted(set(names_of))),
                   tuple(sorted((a, b, tuple(sorted(c))) for (a, b), c in edges.items())))


def machines(profile: Profile, depth: int = 6, config: Config | None = None
             ) -> list[Machine]:
    """Each projected machine of the configuration (default: the reference one) under
    `profile`, from an exploration of the families they need."""
    config = config or reference()
    out = []
    for f in config.families:
        if f.name not in PROJECTIONS:
            continue
        try:
            ex = Explorer(Config(config.page, (f,), config.source), profile,
                          check_invariants=False)
        except ValueError as e:  # the profile cannot create the family's objects
            out.append(Machine(PROJECTIONS[f.name][0], profile.name, (), (), str(e)))
            continue
        ex.run(depth)
        m = project(ex, f.name)
        assert m is not None
        out.append(m)
    return out
