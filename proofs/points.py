"""Points, not findings: the hunt's findings grouped by the gap in the page they show.

A *point* is one gap: one pair of competing sentences (page-vs-page), one silence, one
pair of errors the page orders nowhere (precedence), one era change, one kernel answer
the page forbids, one reading of a silence (proofs/effects.py). Everything the search
met more than once about that gap (other ops, shapes, handles, contexts, categories) is
an *instance* listed under the point. The gap of a finding is `gap_key`; findings with
one key are one point. A point keeps the simplest instance's witness, and no two points
share one (`_distinct_witnesses`): where two would, the later takes another instance's.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from spec.abi import ERR_NO_MEMORY, OK
from spec.outcome import ANY_ERROR, status_name
from spec.readings import READINGS
from spec.sources import FACTS, ids

# Era facts: ids a kernel era changed (an era suffix, or a rung only one era has).
_ERA_ID = re.compile(r"\.(20\d\d)$")
_ERA_ONLY = ("prefetch.dispatched", "hints.non_pager.2023", "hints.non_pager.2025",
             "reclaim.first_page", "dont_need.empty")
# The lock family's three "the entire VMO should be (un)locked at once": one silence.
_WHOLE_VMO = re.compile(r"^page\.(lock|try_lock|unlock)\.whole_vmo$")
_FAMILY = {"page.lock-family.whole_vmo": ("page.lock.whole_vmo", "page.try_lock.whole_vmo",
                                          "page.unlock.whole_vmo")}


# Statuses that are no error competing with the gap.
_NOT_ERRORS = (OK, ANY_ERROR, ERR_NO_MEMORY)
# A point's category: the most telling of its instances' categories.
_PRIORITY = ("page-vs-page", "kernel-eras", "page-vs-kernel", "reading", "effect",
             "optional-error", "silent", "no-outcome", "precedence", "no-memory")


class Instance(Protocol):
    """What a point lists about each instance (proofs/hunt.py Finding, and the effect
    instances of proofs/effects.py)."""

    category: str
    step: str
    shape: str
    handle: str
    rules: tuple[str, ...]
    statuses: tuple[int, ...]
    context: str
    rank: int

    def signature(self) -> tuple[Any, ...]: ...

    def outcomes_text(self) -> dict[str, str]: ...


def gap_key(category: str, step: str, rules: Sequence[str], statuses: Sequence[int],
            era_of: dict[tuple[str, str], tuple[str, ...]] | None = None, reading: str = ""
            ) -> tuple[str, ...]:
    """The gap a finding is about; equal keys are one point."""
    rule_ids = sorted({i for r in rules for i in ids(r)})
    if category == "precedence":
        return ("precedence", *sorted(status_name(s, short=True) for s in statuses))
    if category == "silent":
        silent = [i for i in rule_ids if _is_silence(i)] or rule_ids
        return ("silent", *sorted({_WHOLE_VMO.sub("page.lock-family.whole_vmo", i)
                                   for i in silent}))
    if category == "no-memory":
        return ("no-memory",)
    if category == "optional-error" and reading:
        return ("reading", reading)
    if category in ("page-vs-page", "optional-error"):
        # an optional error the page allows is one of its sentences against another
        page = [i for i in rule_ids if i.startswith("page.")]
        return ("sentences", *page)
    if category == "kernel-eras":
        era = [i for i in rule_ids if _ERA_ID.search(i) or i in _ERA_ONLY]
        return ("era", *(era or rule_ids))
    if category == "page-vs-kernel":
        # a kernel answer that one era changed is that era change
        if era_of is not None:
            for i in rule_ids:
                if (step, i) in era_of:
                    return era_of[(step, i)]
        return ("kernel", *rule_ids)
    if category == "no-outcome":
        return ("none", step)
    if category == "reading":
        return ("reading", reading)
    return (category, *rule_ids)


def _is_silence(i: str) -> bool:
    return i.startswith("page.silent.") or bool(_WHOLE_VMO.match(i))


def point_id(key: tuple[str, ...]) -> str:
    """A stable id from the gap: its kind and what names it."""
    kind, *rest = key
    words = [w.removeprefix("page.").removeprefix("errors.") for w in rest]
    slug = re.sub(r"[^a-z0-9]+", "-", "-".join([kind, *words]).lower()).strip("-")
    return "P-" + (slug[:90].rstrip("-"))


@dataclass
class Point:
    id: str
    key: tuple[str, ...]
    category: str  # the category of its first (most surprising) instance
    instances: list[Any] = field(default_factory=list)
    witness: Any = None  # the instance whose witness the point shows
    trace: str | None = None

    @property
    def ops(self) -> list[str]:
        return sorted({i.step for i in self.instances})

    @property
    def categories(self) -> list[str]:
        return sorted({i.category for i in self.instances})

    def sentences(self) -> list[dict[str, str]]:
        """The page sentences the point rests on: those its instances' rules cite, then
        those the doc profile's outcomes at the witness cite."""
        w = self.witness
        found: list[str] = []
        key = [x for k in self.key[1:] for x in _FAMILY.get(k, (k,))]
        for r in [*w.rules, *(k for k in key if k in FACTS and k.startswith("page.")),
                  *getattr(w, "extra_sentences", ())]:
            for i in ids(r):
                if i.startswith("page.") and i not in found:
                    found.append(i)
        if not found:  # a kernel's rule: the page sentences the doc answers by there
            for r in getattr(w, "doc_rules", ()):
                found += [i for i in ids(r) if i.startswith("page.") and i not in found]
        out = []
        for i in found:
            f = FACTS.get(i)
            section, _, phrase = (f.quote or "").partition(": ") if f else ("", "", "")
            out.append({"id": i, "section": section, "phrase": phrase.strip('"'),
                        "meaning": f.text if f else ""})
        return out

    def to_json(self) -> dict[str, Any]:
        w = self.witness
        return {
            "id": self.id, "category": self.category, "categories": self.categories,
            "ops": self.ops, "witness": self.trace,
            "sentences": self.sentences(),
            "outcomes": w.outcomes_text(),
            "explanation": getattr(w, "explanation", ""),
            "instances": [{
                "category": i.category, "step": i.step, "shape": f"{i.shape}:{i.handle}",
                "context": i.context, "rules": list(i.rules),
                "statuses": [status_name(s, short=True) for s in i.statuses],
            } for i in self.instances],
        }


def group(findings: Sequence[Any]) -> list[Point]:
    """Findings (ranked, most surprising first) into points, in that order."""
    era_of: dict[tuple[str, str], tuple[str, ...]] = {}
    for f in findings:
        if f.category == "kernel-eras":
            k = gap_key(f.category, f.step, f.rules, f.statuses)
            for r in f.rules:
                for i in ids(r):
                    era_of.setdefault((f.step, i), k)
    points: dict[tuple[str, ...], Point] = {}
    for f in findings:
        era = era_of if f.category == "page-vs-kernel" and _eras_differ(f) else None
        r = getattr(f, "reading", None)
        name = r.name if r else _reading_of(f)
        k = gap_key(f.category, f.step, f.rules, f.statuses, era, name)
        p = points.get(k)
        if p is None:
            p = points[k] = Point(point_id(k), k, f.category)
        p.instances.append(f)
    out = list(points.values())
    for p in out:
        p.instances.sort(key=lambda i: i.rank)
        p.category = min(p.categories, key=_PRIORITY.index)
    _distinct_witnesses(out)
    return out


def _reading_of(f: Any) -> str:
    """An optional error that exactly one reading's page sentences allow is that reading
    (the doc profile allows the error only because it allows each alternative)."""
    page = {i for r in f.rules for i in ids(r) if i.startswith("page.")}
    if f.category != "optional-error" or not page:
        return ""
    match = [r.name for r in READINGS if page == set(r.page)]
    return match[0] if len(match) == 1 else ""


def _eras_differ(f: Any) -> bool:
    o = f.outcomes_text()
    return bool(o.get("zircon-2023") != o.get("zircon-2025"))


def _distinct_witnesses(points: list[Point]) -> None:
    """Each point shows the first of its instances whose witness no earlier point shows.
    Points whose every witness is taken are merged into the point that holds it: the
    same input shows both, so they are one gap seen twice."""
    taken: dict[tuple[Any, ...], Point] = {}
    for p in list(points):
        # the witness that shows the gap most plainly: fewest outcomes the page allows
        by_plainness = sorted(p.instances, key=lambda i: (
            sum(1 for s in i.statuses if s not in _NOT_ERRORS),
            len(i.outcomes_text()["doc"].split(" or ")), i.rank))
        choice = next((i for i in by_plainness if i.signature() not in taken), None)
        if choice is None:
            owner = taken[p.instances[0].signature()]
            owner.instances += p.instances
            points.remove(p)
            continue
        p.witness = choice
        taken[choice.signature()] = p


def statuses_text(statuses: Sequence[int]) -> str:
    return " or ".join(status_name(s, short=True) if s != OK else "OK" for s in statuses)
