"""The fact registry (spec/sources.py): well-formed, rendered into docs/, every id cited."""

from __future__ import annotations

import ast
import re
from pathlib import Path

from spec.sources import FACTS, SOURCES, explain, ids
from vmospec.cli import main
from vmospec.sources_cmd import DOCS

ROOT = Path(__file__).resolve().parents[2]
ID = re.compile(r"[a-z][a-z0-9_]*(\.[a-z0-9_]+)+")


def test_ids_are_dotted_and_facts_one_line_with_a_source() -> None:
    for fid, f in FACTS.items():
        assert ID.fullmatch(fid), fid
        assert f.text and "\n" not in f.text and f.sources, fid
    for s in SOURCES.values():
        # a public repository with a commit, a public address, or this repository's file
        assert s.commit or s.repo.startswith("https://") or s.repo == "this repository"


def test_docs_are_rendered_from_the_registry() -> None:
    for name, render in DOCS.items():
        text = (ROOT / "docs" / name).read_text(encoding="utf-8")
        assert text == render(), f"docs/{name} is stale: run vmospec sources --write-docs"


def test_explain_shows_each_id_with_its_fact() -> None:
    why = "decommit.bounds.2025, page.errors.out_of_range"
    assert ids(why) == ["decommit.bounds.2025", "page.errors.out_of_range"]
    text = explain(why)
    assert text.startswith("decommit.bounds.2025: " + FACTS["decommit.bounds.2025"].text[:-1])
    assert "; page.errors.out_of_range: " in text


def test_sources_command(capsys: object) -> None:
    assert main(["sources", "zcore.range.unbounded"]) == 0
    out = capsys.readouterr().out  # type: ignore[attr-defined]
    assert out == f"zcore.range.unbounded: {FACTS['zcore.range.unbounded'].text}\n"
    assert main(["sources", "no.such.id"]) == 2
    err = capsys.readouterr().err  # type: ignore[attr-defined]
    assert err.strip() == "vmospec sources: error: unknown id: no.such.id"


# Dotted strings in the code that are not citations: an entry-point group, a matplotlib
# setting, file names.
NOT_CITATIONS = {"vmospec.backends", "svg.hashsalt"}
FILE = re.compile(r".*\.(md|toml|py|json|jsonl)")


def _cited() -> dict[str, list[str]]:
    """Every citation in the code: string constants made only of dotted ids (several
    joined by ", "), as rungs, effects, claims and tables write them; id -> where."""
    found: dict[str, list[str]] = {}
    for folder in ("spec", "proofs", "refinement_tests", "vmospec"):
        for path in sorted((ROOT / folder).rglob("*.py")):
            if "tests" in path.parts or path.name == "sources.py":
                continue
            for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
                if not (isinstance(node, ast.Constant) and isinstance(node.value, str)):
                    continue
                parts = ids(node.value)
                if not parts or not all(ID.fullmatch(p) for p in parts):
                    continue
                if node.value in NOT_CITATIONS or FILE.fullmatch(node.value):
                    continue
                for p in parts:
                    found.setdefault(p, []).append(f"{path.relative_to(ROOT)}:{node.lineno}")
    return found


def test_every_cited_id_exists() -> None:
    unknown = {i: where for i, where in _cited().items() if i not in FACTS}
    assert unknown == {}, "cited ids missing from spec/sources.py"


def _mentioned() -> set[str]:
    """Ids a comment or docstring of the code names (where an effect is spread over
    helpers, the helper's docstring carries the citation)."""
    text = "\n".join(p.read_text(encoding="utf-8")
                     for folder in ("spec", "proofs", "refinement_tests", "vmospec", "model")
                     for p in (ROOT / folder).rglob("*.py")
                     if "tests" not in p.parts and p.name != "sources.py")
    return {i for i in FACTS if re.search(rf"(?<![\w.]){re.escape(i)}(?![\w])", text)}


def test_every_fact_is_cited_or_background() -> None:
    cited = set(_cited()) | _mentioned()
    idle = sorted(i for i, f in FACTS.items() if i not in cited and not f.background)
    assert idle == [], "facts no code cites: cite them, or mark them background"


def test_no_prose_citations_are_left() -> None:
    """The old forms ("kf 3.3", "sf 1", "page ERRORS: ...") are gone from the code, the
    example traces' notes, the notes and the documents: a reader cannot look them up."""
    old = re.compile(r"\b(kf|sf) ?\d|\"page[ :][A-Z ]|kernel-facts \d|(?<![-\w/])design\.md")
    hits = []
    folders = ("spec", "proofs", "refinement_tests", "vmospec", "model", "notes", "docs",
               "benchmarks")
    paths = [ROOT / "README.md"] + [p for folder in folders for p in (ROOT / folder).rglob("*")
                                    if p.suffix in (".py", ".jsonl", ".md", ".c", ".h")]
    for path in sorted(paths):
        for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            if old.search(line) and path.name != "test_sources.py":
                hits.append(f"{path.relative_to(ROOT)}:{n}")
    assert hits == []
