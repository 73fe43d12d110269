"""The fact registry (spec/sources.py): well-formed, rendered into docs/, every id cited."""

from __future__ import annotations

import re
from pathlib import Path

from spec.sources import FACTS, SOURCES, explain, ids
from vmospec.cli import main
from vmospec.sources_cmd import DOCS

ROOT = Path(__file__).resolve().parents[2]
ID = re.compile(r"[a-z0-9_]+(\.[a-z0-9_]+)+")


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
    assert text.startswith("decommit.bounds.2025: " + FACTS["decommit.bounds.2025"].text)
    assert "; page.errors.out_of_range: " in text


def test_sources_command(capsys: object) -> None:
    assert main(["sources", "zcore.range.unbounded"]) == 0
    out = capsys.readouterr().out  # type: ignore[attr-defined]
    assert out == f"zcore.range.unbounded: {FACTS['zcore.range.unbounded'].text}\n"
    assert main(["sources", "no.such.id"]) == 2
    err = capsys.readouterr().err  # type: ignore[attr-defined]
    assert err.strip() == "vmospec sources: error: unknown id: no.such.id"
