"""The ambiguity register: where the reference page (the `doc` profile) allows several
outcomes for one input, or none, and where the kernels leave it, found by z3.

For every shape, handle and step (proofs/combos.py: the invalid and pager handles and
op 5 too), the `doc` paths are compared pairwise: two paths with different statuses
whose conditions can hold together (on a fresh state, with the shape's hypotheses) are
a place where the page allows both. Each finding is one pair of competing rules (merged
over shapes and steps, the simplest shape's and first step's witness kept):

- `precedence`: two errors apply and the page orders none;
- `optional-error`: the page allows an error but does not require it (a `Maybe` rung);
- `silent`: the page says nothing, any failure is allowed (`ANY_ERROR`);
- `no-memory`: NO_MEMORY is allowed in place of the outcome;
- `no-outcome`: inputs for which no doc path exists (the page allows nothing);
- `page-vs-page`: two statements of the page that cannot both hold on some input
  (proofs/page_claims.py: the page as separate claims, compared pairwise by z3);
- `page-vs-kernel`: a kernel profile's outcome that the page does not allow there;
- `kernel-eras`: zircon-2023 and zircon-2025 disagree (proofs/diff.py).

Each finding's witness is replayed on the concrete spec under `doc` and under each
kernel profile; the outcomes given there are what the register reports.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import z3

from proofs import diff as diff_mod
from proofs import effects, page_claims, whole
from proofs.combos import build_any, combos, paths
from proofs.points import Point, group
from proofs.prover import shape
from proofs.witness import (
    Fresh,
    Recorded,
    Witness,
    Writer,
    allows,
    outcome_text,
    recorded_step,
    status_set,
    write,
)
from spec.abi import ERR_NO_MEMORY, OK
from spec.explore import ANY_ERROR
from spec.explore import Path as SpecPath
from spec.outcome import Outcome, status_name
from spec.profiles import PROFILES
from spec.readings import READINGS
from spec.sources import explain, quoted

DOC = "doc"
KERNELS = ("zircon-2023", "zircon-2025")
# Every profile's answer at a point's witness (the register's table shows the eras).
OTHERS = tuple(p for p in PROFILES if p != DOC)
ERAS = tuple(p for p in OTHERS if PROFILES[p].kind == "era")
CATEGORIES = ("page-vs-kernel", "page-vs-page", "optional-error", "no-outcome", "kernel-eras",
              "silent", "precedence", "no-memory", "reading")


@dataclass
class Finding:
    id: str
    category: str
    step: str
    shape: str
    handle: str
    rules: tuple[str, ...]  # the page sentences (rule sources) involved
    statuses: tuple[int, ...]  # the competing statuses
    witness: Witness
    doc: list[SpecPath[Outcome]]
    kernels: dict[str, list[SpecPath[Outcome]]]
    explanation: str = ""
    trace: str | None = None
    rank: int = 0
    ident: str = ""  # an id base other than the statuses' (page-vs-page: the claims)
    claims: tuple[str, ...] = ()  # page-vs-page: the claim ids
    detail: str = ""  # page-vs-page: what each claim requires at the witness
    context: str = "fresh"  # the calls before the step (a fresh state: none)

    @property
    def doc_rules(self) -> tuple[str, ...]:
        return tuple(p.why for p in self.doc)

    def signature(self) -> tuple[Any, ...]:
        """The witness as a trace: equal signatures are one witness."""
        return witness_signature(self.witness)

    def outcomes_text(self) -> dict[str, str]:
        return {DOC: self.doc_text(), **{k: self.kernel_text(k) for k in self.kernels}}

    def doc_text(self) -> str:
        return outcome_text(self.doc)

    def kernel_text(self, k: str) -> str:
        return outcome_text(self.kernels[k])

    def trace_steps(self) -> list[Recorded]:
        note = (f"finding {self.id}: doc allows {self.doc_text()}; "
                + "; ".join(f"{k} gives {self.kernel_text(k)}" for k in KERNELS))
        return [*self.witness.setup, recorded_step(self.witness, self.doc, note)]

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id, "category": self.category, "step": self.step,
            "shape": f"{self.shape}:{self.handle}", "rules": list(self.rules),
            "statuses": [status_name(s, short=True) for s in self.statuses],
            **({"claims": list(self.claims)} if self.claims else {}),
            "explanation": self.explanation,
            "witness": self.trace,
            "values": {k: v for k, v in sorted(self.witness.values.items())
                       if k in ("S_a", "S_c", "offset", "size", "rights_a", "rights_c",
                                "tracker_a", "locks_a")},
            "doc": sorted({status_name(p.result.status, short=True) for p in self.doc}),
            "kernels": {k: sorted({status_name(p.result.status, short=True) for p in v})
                        for k, v in self.kernels.items()},
        }


@dataclass
class HuntResult:
    findings: list[Finding] = field(default_factory=list)
    points: list[Point] = field(default_factory=list)
    instances: list[Any] = field(default_factory=list)  # findings and reading instances
    seconds: float = 0.0
    pairs_checked: int = 0
    unconfirmed: int = 0


def _slug(s: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", s.lower()).strip("-")


def _category(statuses: tuple[int, ...]) -> str:
    if ANY_ERROR in statuses:
        return "silent"
    if ERR_NO_MEMORY in statuses:
        return "no-memory"
    if OK in statuses:
        return "optional-error"
    return "precedence"


def _where(w: Witness) -> str:
    v = w.values
    what = {"anonymous": "a VMO", "resizable": "a resizable VMO",
            "discardable": "a discardable VMO", "pager": "a pager-backed VMO",
            "uncached": "an uncached VMO", "contiguous": "a contiguous VMO",
            "physical": "a physical VMO", "discardable-resizable": "a discardable resizable VMO",
            "pager-child": "a pager-backed VMO with a child", "two-sharer": "a VMO with a snapshot",
            "three-sharer": "a VMO with two snapshots",
            "slice": "a slice child", "reference": "a reference child",
            "snapshot": "a snapshot child" if w.handle == "c" else "a VMO with a snapshot"}
    size = v.get("S_c" if w.handle == "c" and w.shape != "reference" else "S_a", 0)
    return (f"{w.step} on {what[w.shape]} of {size} bytes with offset {v.get('offset', 0)} "
            f"and size {v.get('size', 0)}")


def _kernels_text(f: Finding) -> str:
    return ", ".join(f"{k} returns {f.kernel_text(k)}" for k in KERNELS)


# What a finding of each category says after "For <where>, " (str.format fields: rules,
# names, err, detail).
_EXPLAIN = {
    "precedence": "the rules {rules} both apply. The page gives no order between its "
                  "errors, so either {names} is a conforming answer.",
    "optional-error": "the page allows {err} ({rules}) but does not require it: going on "
                      "and returning OK conforms too.",
    "silent": "the page is silent ({rules}): any failure, or going on, conforms, so a "
              "caller cannot rely on any outcome.",
    "no-memory": "the page allows the allocation to fail with NO_MEMORY ({rules}) in place "
                 "of the outcome it describes; no condition narrows when.",
    "no-outcome": "no rule of the page yields an outcome: the doc profile allows nothing "
                  "there.",
    "page-vs-page": "two statements of the page cannot both hold: {detail} No outcome "
                    "meets both.",
    "page-vs-kernel": "a kernel answers {names} by {rules}, which the page does not allow "
                      "there.",
    "kernel-eras": "zircon-2023 and zircon-2025 disagree: {rules}.",
}


def _explain(f: Finding) -> str:
    body = _EXPLAIN[f.category].format(
        rules=" and ".join(f.rules),
        names=" or ".join(status_name(s, short=True) for s in f.statuses),
        err=next((status_name(s, short=True) for s in f.statuses if s != OK), ""),
        detail=f.detail)
    return (f"For {_where(f.witness)}, {body} At the witness the page allows "
            f"{f.doc_text()}; {_kernels_text(f)}.")


def _finding(category: str, step: str, w: Witness, rules: tuple[str, ...],
             statuses: tuple[int, ...]) -> Finding:
    f = Finding("", category, step, w.shape, w.handle, rules, statuses, w,
                w.outcomes(DOC), {k: w.outcomes(k) for k in OTHERS})
    return f


def witness_signature(w: Witness) -> tuple[Any, ...]:
    def one(name: str, args: dict[str, Any]) -> tuple[Any, ...]:
        return (name, tuple(sorted((k, repr(v)) for k, v in args.items())))

    return (*(one(r.name, r.args) for r in w.setup), one(w.call, w.args))


def _page_finding(c: page_claims.Conflict) -> Finding:
    """A page-vs-page finding; its statuses are OK where one claim promises success and
    the other an error (ranked as a silent success), else those the claims allow."""
    promise = page_claims.requires_success(c.a) or page_claims.requires_success(c.b)
    statuses = (OK,) if promise else tuple(sorted(
        c.allowed_a if len(c.allowed_a) <= len(c.allowed_b) else c.allowed_b))
    f = _finding("page-vs-page", c.step, c.witness, (c.a.cites, c.b.cites), statuses)
    f.ident = f"A-page-{c.a.id}-vs-{c.b.id}"
    f.claims = (c.a.id, c.b.id)
    f.detail = " ".join(
        f"{quoted(cl.cites)}: {cl.requires.text()}; here it allows "
        f"{page_claims.allowed_text(allowed)}."
        for cl, allowed in ((c.a, c.allowed_a), (c.b, c.allowed_b)))
    return f


def _rank(f: Finding) -> int:
    """Most surprising first: a kernel success where the page promises an error."""
    order = ["page-vs-kernel-ok", "page-vs-page-ok", "optional-error", "page-vs-page",
             "page-vs-kernel", "no-outcome",
             "kernel-eras-ok", "kernel-eras", "silent", "precedence", "no-memory"]
    ok = "-ok" if f.category in ("page-vs-kernel", "kernel-eras", "page-vs-page") \
        and OK in f.statuses else ""
    return order.index(f.category + ok)


def hunt(steps: set[str] | None = None, eras: bool = True,
         progress: Callable[[], None] | None = None, readings: bool = True) -> HuntResult:
    start = time.perf_counter()
    # z3's search of the readings' whole outcomes (proofs/whole.py) runs in a second
    # process beside the rest: the machine has two cores, and it is the longer half.
    pool = ProcessPoolExecutor(max_workers=1) if readings else None
    beside = pool.submit(whole.search_all) if pool is not None else None
    res = HuntResult()
    found: dict[tuple[Any, ...], Finding] = {}
    for shape_name, handle, step in combos():
        if steps is not None and step not in steps:
            continue
        if progress:
            progress()
        pd, side = paths(DOC, shape_name, handle, step)
        fresh = Fresh(shape_name, [*shape(shape_name).facts, *side])
        conds = [fresh.sub(z3.And(True, *p.condition)) for p in pd]
        # Several outcomes: two doc paths with different statuses on one input. Paths
        # with one status and rule are one class (the readings' alternatives, spec/
        # readings.py, give several): one query per pair of classes.
        classes: dict[tuple[int, str], list[Any]] = {}
        for x, c in zip(pd, conds, strict=True):
            classes.setdefault((x.result.status, x.why), []).append(c)
        either = {k: z3.Or(*cs) if len(cs) > 1 else cs[0] for k, cs in classes.items()}
        order = sorted(either)
        for i, kx in enumerate(order):
            for ky in order[i + 1:]:
                (sx, rx), (sy, ry) = kx, ky
                if sx == sy:
                    continue
                key: tuple[Any, ...] = ("pair", sx, sy, rx, ry)
                if key in found:
                    continue
                res.pairs_checked += 1
                if not fresh.sat(either[kx], either[ky]):
                    continue
                m = fresh.minimal(handle, either[kx], either[ky])
                if m is None:
                    continue
                w = build_any(shape_name, handle, step, m)
                doc = status_set(w.outcomes(DOC))
                if not (allows(doc, sx) and allows(doc, sy)):
                    res.unconfirmed += 1
                    continue
                found[key] = _finding(_category((sx, sy)), step, w, (rx, ry), (sx, sy))
        # No outcome: inputs no doc path covers.
        key = ("none", step)
        if key not in found and fresh.sat(z3.Not(z3.Or(False, *conds))):
            m = fresh.minimal(handle, z3.Not(z3.Or(False, *conds)))
            if m is not None:
                w = build_any(shape_name, handle, step, m)
                if not w.outcomes(DOC):
                    found[key] = _finding("no-outcome", step, w, (), ())
        # The page against the kernel: a kernel outcome the page does not allow there.
        for k in KERNELS:
            pk, side_k = paths(k, shape_name, handle, step)
            fk = Fresh(shape_name, [*shape(shape_name).facts, *side, *side_k])
            for x in pk:
                s = x.result.status
                key = ("kernel", step, s, x.why)
                if key in found:
                    continue
                res.pairs_checked += 1
                not_doc = z3.Not(z3.Or(False, *[c for p, c in zip(pd, conds, strict=True)
                                                if allows({p.result.status}, s)]))
                cx = fk.sub(z3.And(True, *x.condition))
                if not fk.sat(cx, not_doc):
                    continue
                m = fk.minimal(handle, cx, not_doc)
                if m is None:
                    continue
                w = build_any(shape_name, handle, step, m)
                if allows(status_set(w.outcomes(DOC)), s) or \
                        s not in status_set(w.outcomes(k)):
                    res.unconfirmed += 1
                    continue
                found[key] = _finding("page-vs-kernel", step, w, (x.why,), (s,))
    # The page against itself: pairs of claims no outcome can meet together.
    for c in page_claims.contradictions(progress=progress)[0]:
        found[("page", *c.key)] = _page_finding(c)
    if eras:
        for d in diff_mod.diff(KERNELS[0], KERNELS[1], steps).classes:
            found[("era", *d.key)] = _finding("kernel-eras", d.step, d.witness,
                                              (d.rule_a, d.rule_b), (d.key[1], d.key[2]))
    res.findings = _number(list(found.values()))
    for f in res.findings:
        f.explanation = _explain(f)
    instances: list[Any] = list(res.findings)
    if readings:
        by_z3 = beside.result() if beside is not None else {}
        if pool is not None:
            pool.shutdown()
        for r in READINGS:
            # the concrete contexts (proofs/effects.py), then z3's (proofs/whole.py)
            seen = effects.rank([*effects.search(r, progress), *by_z3[r.name]])
            for inst in seen:
                effects.describe(inst)
            instances += seen
    res.instances = instances
    res.points = group(instances)
    res.seconds = time.perf_counter() - start
    return res


_SHORT = {"page-vs-kernel": "kernel", "kernel-eras": "era", "no-outcome": "none"}


def _number(findings: list[Finding]) -> list[Finding]:
    """Stable ids from the step, the category and the statuses; ranked order."""
    findings.sort(key=lambda f: (f.step, f.category, f.statuses, f.rules))
    seen: dict[str, int] = {}
    for f in findings:
        short = "-vs-".join(_slug(status_name(s, short=True)) for s in f.statuses)
        base = f.ident or "-".join(
            x for x in ("A", _slug(f.step), _SHORT.get(f.category, ""), short) if x)
        n = seen.get(base, 0) + 1
        seen[base] = n
        f.id = base if n == 1 else f"{base}-{n}"
        f.rank = _rank(f)
    findings.sort(key=lambda f: (f.rank, f.step, f.id))
    return findings


def write_traces(res: HuntResult, out: Path, writer: Writer) -> None:
    """One witness trace per point: its chosen instance's setup, the step, and (effect
    points) the later calls that tell the outcomes apart."""
    for p in res.points:
        w = p.witness
        p.trace = write(out / f"{p.id}.jsonl", w.trace_steps(), {
            "origin": "vmospec hunt: witness", "kernel": DOC, "point": p.id,
            "category": p.category, "step": w.step, "shape": f"{w.shape}:{w.handle}",
            "context": w.context, "rules": list(w.rules),
            "outcomes": w.outcomes_text()}, writer)


def _cell(text: str) -> str:
    return text.replace("|", "/")


def render(res: HuntResult, trace_dir: str) -> str:
    """notes/ambiguities.md: the register of points, generated by `vmospec hunt`."""
    counts: dict[str, int] = {}
    for p in res.points:
        counts[p.category] = counts.get(p.category, 0) + 1
    lines = [
        "# The ambiguity register",
        "",
        "Generated by `vmospec hunt --update-notes` (proofs/hunt.py, proofs/points.py); do",
        "not edit by hand. How each point is searched, and what the hunt cannot see:",
        "notes/ambiguities-method.md.",
        "",
        "A **point** is one gap in the reference page (docs/page-index.md): one pair of",
        "sentences no outcome meets together (page-vs-page), one silence, one pair of errors",
        "the page orders nowhere (precedence), one answer of a kernel the page forbids",
        "(page-vs-kernel), one change between kernel eras (kernel-eras), NO_MEMORY in place",
        "of an outcome (no-memory). What the search met about the same gap on other ops,",
        "shapes, handles or in other categories is listed under the point as its",
        "instances, never as a point of its own, and no two points share a witness.",
        "",
        "Every point has a minimal witness trace: replay it with `vmospec check TRACE",
        "--profile doc` (it conforms), or under a kernel profile to see that kernel's",
        "answer. **doc** is the outcome set the page allows at the witness; the era columns",
        "are what each Zircon era returns there (`vmospec hunt --json` has every profile).",
        "Points are ranked by how surprising they are to a caller: a kernel success where",
        "the page promises an error first.",
        "",
        f"{len(res.points)} points ({len(res.instances)} instances): "
        + ", ".join(f"{counts[c]} {c}" for c in CATEGORIES if c in counts) + ".",
        "",
        "| point | category | ops | doc | " + " | ".join(ERAS) + " |",
        "| --- | --- | --- | --- | " + " | ".join("---" for _ in ERAS) + " |",
    ]
    for p in res.points:
        o = p.witness.outcomes_text()
        lines.append(f"| [{p.id}](#{p.id.lower()}) | {p.category} | {', '.join(p.ops)} | "
                     + " | ".join(_cell(o[k]) for k in (DOC, *ERAS)) + " |")
    for p in res.points:
        w = p.witness
        trace = Path(p.trace).name if p.trace else f"{p.id}.jsonl"
        o = w.outcomes_text()
        lines += [
            "",
            f"## {p.id}",
            "",
            f"- category: {p.category}"
            + (f" (instances also: {', '.join(c for c in p.categories if c != p.category)})"
               if len(p.categories) > 1 else ""),
            "- page: " + ("; ".join(f"{s['id']} ({s['section']}: \"{s['phrase']}\")"
                                    if s["phrase"] else f"{s['id']} ({s['meaning']})"
                                    for s in p.sentences()) or "none"),
            f"- witness: `{trace_dir}/{trace}` ({w.step} through {w.shape}:{w.handle}, "
            f"{w.context})",
            "- outcomes: " + "; ".join(f"{k} {v}" for k, v in o.items()),
            "",
            w.explanation,
            "",
            "Instances:",
            "",
        ]
        for i in p.instances:
            lines.append(f"- {i.step}{getattr(i, 'call_args', '')} through {i.shape}:{i.handle}, "
                         f"{i.context}: "
                         f"{i.category}; "
                         + ("; ".join(explain(r) for r in i.rules) or "no rule applies"))
    return "\n".join(lines) + "\n"
