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
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import z3

from proofs import diff as diff_mod
from proofs import page_claims
from proofs.combos import build_any, combos, paths
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
from spec.sources import explain, quoted

DOC = "doc"
KERNELS = ("zircon-2023", "zircon-2025")
CATEGORIES = ("page-vs-kernel", "page-vs-page", "optional-error", "no-outcome", "kernel-eras",
              "silent", "precedence", "no-memory")


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
            "uncached": "an uncached VMO",
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
                w.outcomes(DOC), {k: w.outcomes(k) for k in KERNELS})
    return f


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
         progress: Callable[[], None] | None = None) -> HuntResult:
    start = time.perf_counter()
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
        # Several outcomes: two doc paths with different statuses on one input.
        for i, x in enumerate(pd):
            for j in range(i + 1, len(pd)):
                y = pd[j]
                if x.result.status == y.result.status:
                    continue
                (sx, rx), (sy, ry) = sorted([(x.result.status, x.why), (y.result.status, y.why)])
                key: tuple[Any, ...] = ("pair", sx, sy, rx, ry)
                if key in found:
                    continue
                res.pairs_checked += 1
                if not fresh.sat(conds[i], conds[j]):
                    continue
                m = fresh.minimal(handle, conds[i], conds[j])
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
    for f in res.findings:
        f.trace = write(out / f"{f.id}.jsonl", f.trace_steps(), {
            "origin": "vmospec hunt: witness", "kernel": DOC, "finding": f.id,
            "category": f.category, "step": f.step, "shape": f"{f.shape}:{f.handle}",
            "rules": list(f.rules),
            "outcomes": {"doc": f.doc_text(), **{k: f.kernel_text(k) for k in KERNELS}}},
            writer)


def render(res: HuntResult, trace_dir: str) -> str:
    """notes/ambiguities.md: the register, generated by `vmospec hunt`."""
    counts: dict[str, int] = {}
    for f in res.findings:
        counts[f.category] = counts.get(f.category, 0) + 1
    lines = [
        "# The ambiguity register",
        "",
        "Generated by `vmospec hunt --update-notes` (proofs/hunt.py); do not edit by hand.",
        "Every finding was derived by z3 from the `doc` profile (what the page allows,",
        "docs/page-index.md) and",
        "the kernel profiles, or (page-vs-page) from the page's sentences encoded one by",
        "one (proofs/page_claims.py), and has a minimal witness trace: replay it with",
        "`vmospec check TRACE --profile doc` (it conforms), or under a kernel profile to",
        "see that kernel's answer.",
        "",
        "How to read a finding: the **rules** are the ids, each with its one-line fact, of",
        "the page sentences (docs/page-index.md) or kernel facts (docs/kernel-facts.md)",
        "whose guards compete; **doc** is the outcome set the page allows at the witness;",
        "the kernel columns are what each era returns there. For page-vs-page, the rules",
        "are two sentences that no outcome can satisfy together at the witness (the",
        "explanation quotes a phrase of each); doc shows the side the doc profile took.",
        "Findings are ranked by how surprising they are to a caller: a kernel success",
        "where the page promises an error first, then a success the page promises in one",
        "sentence and refuses in another.",
        "",
        f"{len(res.findings)} findings: "
        + ", ".join(f"{counts[c]} {c}" for c in CATEGORIES if c in counts) + ".",
        "",
        "| id | category | step | doc | zircon-2023 | zircon-2025 |",
        "| --- | --- | --- | --- | --- | --- |",
    ]
    for f in res.findings:
        lines.append(f"| [{f.id}](#{f.id.lower()}) | {f.category} | {f.step} | "
                     f"{f.doc_text()} | {f.kernel_text(KERNELS[0])} | "
                     f"{f.kernel_text(KERNELS[1])} |")
    for f in res.findings:
        trace = Path(f.trace).name if f.trace else f"{f.id}.jsonl"
        lines += [
            "",
            f"## {f.id}",
            "",
            f"- category: {f.category}",
            f"- step: {f.step}, through {f.shape}:{f.handle}",
            "- rules: " + ("; ".join(explain(r) for r in f.rules) or "none applies"),
            f"- witness: `{trace_dir}/{trace}`",
            f"- outcomes: doc {f.doc_text()}; "
            + "; ".join(f"{k} {f.kernel_text(k)}" for k in KERNELS),
            "",
            f.explanation,
        ]
    return "\n".join(lines) + "\n"
