"""The docs hold together: every link between them lands on a page and a heading that
exist, and the index (docs/README.md) lists every page with a word count near `wc -w`."""

from __future__ import annotations

import re
from pathlib import Path

from earnest.program.guardrails_catalog import anchor
from tests.conftest import ROOT

DOCS = ROOT / "docs"
INDEX = DOCS / "README.md"
PAGES = [ROOT / "README.md", *sorted(DOCS.glob("*.md"))]
FENCED = re.compile(r"^```.*?^```", re.S | re.M)
LINK = re.compile(r"\]\(([^)\s]+)\)")
# A row of the index: the linked page, then its words ("2,055 of 3,035": a part of it).
ROW = re.compile(
    r"^\|(?:\s*\d+\s*\|)?[^|]*?\[[^\]]+\]\(([^)#\s]+)\)[^|]*\|\s*([\d,]+)(?: of ([\d,]+))?\s*\|",
    re.M,
)
TOLERANCE = 0.2


def prose(page: Path) -> str:
    return FENCED.sub("", page.read_text())


def headings(page: Path) -> set[str]:
    return {
        anchor(line.lstrip("#").strip())
        for line in prose(page).splitlines()
        if line.startswith("#")
    }


def broken_links(page: Path) -> list[str]:
    broken = []
    for target in LINK.findall(prose(page)):
        if target.startswith(("http://", "https://", "mailto:")):
            continue
        path, _, section = target.partition("#")
        linked = (page.parent / path).resolve() if path else page
        if not linked.exists():
            broken.append(f"{target}: no such file")
        elif section and linked.suffix == ".md" and section not in headings(linked):
            broken.append(f"{target}: no such heading")
    return broken


def test_every_link_between_the_docs_lands_on_a_page_and_heading_that_exist() -> None:
    found = {page.relative_to(ROOT).as_posix(): broken_links(page) for page in PAGES}
    assert {page: links for page, links in found.items() if links} == {}


def test_a_link_to_a_missing_heading_or_page_is_found(tmp_path: Path) -> None:
    (tmp_path / "a.md").write_text("# A\n\n## Real one\n\n[ok](#real-one) [ok](b.md)\n")
    (tmp_path / "b.md").write_text(
        "# B\n\n```sh\n# not a heading\n```\n[gone](a.md#not-a-heading)\n"
    )
    (tmp_path / "c.md").write_text("[gone](missing.md) [fine](https://example.com/x#y)\n")
    assert broken_links(tmp_path / "a.md") == []
    assert broken_links(tmp_path / "b.md") == ["a.md#not-a-heading: no such heading"]
    assert broken_links(tmp_path / "c.md") == ["missing.md: no such file"]


def test_the_index_lists_every_page_of_the_docs() -> None:
    listed = {target.partition("#")[0] for target in LINK.findall(prose(INDEX))}
    pages = {p.name for p in DOCS.iterdir() if p.suffix in {".md", ".yaml", ".svg"}} - {INDEX.name}
    assert pages - listed == set()


def test_the_index_word_counts_are_near_what_wc_counts() -> None:
    rows = ROW.findall(INDEX.read_text())
    assert len(rows) >= 20, "the index's tables list the pages with their word counts"
    wrong = []
    for target, stated, whole in rows:
        page = (INDEX.parent / target).resolve()
        said = int((whole or stated).replace(",", ""))
        words = len(page.read_text().split())  # what `wc -w` counts
        if abs(words - said) > TOLERANCE * said:
            wrong.append(f"{target}: the index says {said:,} words, wc -w counts {words:,}")
    assert wrong == [], "update docs/README.md's counts"
