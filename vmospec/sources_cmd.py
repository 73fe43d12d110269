"""`vmospec sources`: the fact registry (spec/sources.py) by id, and the documents rendered
from it (docs/kernel-facts.md, docs/page-index.md).

Hooked into the command line by `register(subparsers)` (vmospec/cli.py build_parser).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from spec.sources import FACTS, PAGE_URL, SECTIONS, SOURCES, Fact
from vmospec.output import EXIT_BAD_INPUT, EXIT_OK
from vmospec.shared_options import json_option

_HEADER = "<!-- Rendered from spec/sources.py by `vmospec sources --write-docs`: edit there. -->"

_KF_INTRO = """\
What vmospec relies on about Zircon's `zx_vmo_op_range` and the VMO syscalls a trace uses,
in each kernel era the profiles model and in each other implementation it diffs against.
Every fact has a stable dotted id; the spec's rungs and effects cite these ids, and what
the tool prints shows the id with its one-line fact. Each fact names where it was read:
a public repository (GitHub mirrors of Fuchsia, and the other implementations), a path
and a commit. The facts are stated in this project's words; no source text is copied.

How an id is formed: `<topic>.<detail>`, with `.2023` or `.2025` where the two kernel
eras differ (a fact without an era suffix holds in both). `zcore.`, `eclipse.` and
`sel4zircon.` facts describe the implementation profiles; `decision.` facts are choices
this project made where the sources are silent, each naming the note that argues it;
`conv.` facts are the words the others use. The reference page's sentences have their
own index, [page-index.md](page-index.md). A fact marked *background* is one the
documents and the reader rely on that no rung cites.

## Eras and profiles

- `doc` follows exactly what the [reference page](page-index.md) allows: every
  applicable error, NO_MEMORY where allowed, any error where the page is silent.
- `zircon-2023` is the 2023 kernel (gnoliyil/fuchsia): the facts without an era suffix
  and those ending `.2023`.
- `zircon-2025` is the 2025 kernel (misttech/fuchsia; the discardable tracker and PREFETCH
  as read in 2024b mist-os): the facts without an era suffix and those ending `.2025`.
- `zcore` is zircon-2025 but for the `zcore.` facts; `eclipse` is `zcore` but for the
  `eclipse.` facts; `sel4zircon` is zircon-2025 but for the `sel4zircon.` facts.

- `zircon-2024` is the 2024a kernel (artem/fuchsia-mirror): 2025's facts where a fact
  says "2024 on", 2023's up-front ZERO checks, no PREFETCH, and legacy attribution
  (`info.attribution.legacy`); where nothing is said of 2024 it sides with 2025.
"""

_PAGE_INTRO = f"""\
The sentences of the reference page for `zx_vmo_op_range`, <{PAGE_URL}>, that vmospec
encodes, each with a stable id. An entry gives the page's section and a short quoted
phrase to find the sentence by, then what the spec takes it to mean. The `doc` profile
is these sentences and nothing else; `vmospec hunt` encodes them a second time, one claim
per sentence (proofs/page_claims.py), and asks z3 where two of them cannot both hold.
The ids under "Where the page is silent" name what the `doc` profile does where the page
says nothing.
"""


def _line(f: Fact) -> str:
    srcs = "; ".join(SOURCES[s].text() for s in f.sources)
    bg = " *(background)*" if f.background else ""
    return f"- `{f.id}`{bg}: {f.text}  \n  Source: {srcs}"


def render_kernel_facts() -> str:
    out = ["# Kernel facts", "", _HEADER, "", _KF_INTRO]
    for section, intro in SECTIONS.items():
        facts = [f for f in FACTS.values() if f.section == section]
        out += [f"## {section}", ""]
        if intro:
            out += [intro, ""]
        out += [_line(f) for f in facts]
        out.append("")
    out += ["## Sources", "", "| key | repository | path | commit |", "| --- | --- | --- | --- |"]
    for key, s in SOURCES.items():
        out.append(f"| `{key}` | {s.repo} | {s.path or '—'} | {s.commit or '—'} |")
    return "\n".join(out) + "\n"


def render_page_index() -> str:
    out = ["# The reference page, sentence by sentence", "", _HEADER, "", _PAGE_INTRO]
    facts = [f for f in FACTS.values() if f.section == "Reference page"]
    sections: dict[str, list[Fact]] = {}
    for f in facts:
        name = f.quote.split(":")[0].split(",")[0] if '"' in f.quote else _SILENT
        sections.setdefault(name, []).append(f)
    for name, group in sections.items():
        out += [f"## {name}", ""]
        out += [f"- `{f.id}`: {f.quote} — {f.text}" if '"' in f.quote else
                f"- `{f.id}`: {f.text}" for f in group]
        out.append("")
    return "\n".join(out)


_SILENT = "Where the page is silent"

DOCS = {"kernel-facts.md": render_kernel_facts, "page-index.md": render_page_index}


def cmd_sources(args: argparse.Namespace) -> int:
    if args.write_docs is not None:
        folder = Path(args.write_docs)
        try:
            folder.mkdir(parents=True, exist_ok=True)
            for name, render in DOCS.items():
                (folder / name).write_text(render(), encoding="utf-8")
        except OSError as e:
            print(f"vmospec sources: error: {e.filename or folder}: {e.strerror}",
                  file=sys.stderr)
            return EXIT_BAD_INPUT
        print(f"wrote {', '.join(str(folder / n) for n in DOCS)}")
        return EXIT_OK
    missing = [i for i in args.ids if i not in FACTS]
    if missing:
        print(f"vmospec sources: error: unknown id: {', '.join(missing)}", file=sys.stderr)
        return EXIT_BAD_INPUT
    facts = [FACTS[i] for i in args.ids] if args.ids else list(FACTS.values())
    if args.json:
        print(json.dumps([{"id": f.id, "fact": f.text, "section": f.section,
                           "quote": f.quote or None,
                           "sources": [SOURCES[s].text() for s in f.sources]}
                          for f in facts]))
    else:
        for f in facts:
            print(f"{f.id}: {f.text}")
    return EXIT_OK


def register(sub: Any) -> None:
    p = sub.add_parser("sources", help="the facts and page sentences the spec cites, by id",
                       description="Print each id the spec cites with its one-line fact "
                       "(all of them, or the ids given). --write-docs renders "
                       "docs/kernel-facts.md and docs/page-index.md from the registry.")
    p.add_argument("ids", nargs="*", help="ids to show (default: all)")
    json_option(p, "a JSON list")
    p.add_argument("--write-docs", nargs="?", const="docs", metavar="DIR",
                   help="write kernel-facts.md and page-index.md into DIR (default docs)")
    p.set_defaults(run=cmd_sources)
