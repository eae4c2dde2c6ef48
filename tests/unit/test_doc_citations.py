"""Every ``docs/<name>.md#anchor`` cited in code, tests and docs names a heading that exists."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
DOCS = ROOT / "docs"
# "docs/protocol.md#7-sequencing", optionally followed by ", #8-retransmission" items.
CITATION = re.compile(r"docs/(\w+)\.md((?:#[\w-]+)(?:,\s*#[\w-]+)*)")
# Markdown links inside docs/: "(#42-messageid)", "(agent.md#6-end-of-session)".
LINK = re.compile(r"\]\((\w+\.md)?#([\w-]+)\)")


def anchors(doc: Path) -> set[str]:
    """GitHub's heading anchors: lower case, punctuation dropped, spaces to hyphens."""
    found = set()
    for line in doc.read_text().splitlines():
        if line.startswith("#"):
            title = line.lstrip("#").strip().lower()
            found.add(re.sub(r"\s", "-", re.sub(r"[^\w\s-]", "", title)))
    return found


def test_anchor_rules() -> None:
    assert anchors(DOCS / "protocol.md") >= {"42-messageid", "12-the-plugins-shell-session"}


def test_cited_sections_exist() -> None:
    known = {doc.name: anchors(doc) for doc in DOCS.glob("*.md")}
    missing = []
    cited = 0
    sources = [*ROOT.glob("ecs_exec/**/*.py"), *ROOT.glob("tests/**/*.py"), *ROOT.glob("*.md")]
    sources += [*ROOT.glob("tests/fixtures/**/*.hex"), *ROOT.glob("scripts/*")]
    for path in sources:
        if not path.is_file():
            continue
        for match in CITATION.finditer(path.read_text(errors="replace")):
            doc = f"{match.group(1)}.md"
            for anchor in re.findall(r"#([\w-]+)", match.group(2)):
                cited += 1
                if anchor not in known.get(doc, set()):
                    missing.append(f"{path.relative_to(ROOT)}: {doc}#{anchor}")
    for doc in DOCS.glob("*.md"):
        for match in LINK.finditer(doc.read_text()):
            target = match.group(1) or doc.name
            cited += 1
            if match.group(2) not in known.get(target, set()):
                missing.append(f"docs/{doc.name}: {target}#{match.group(2)}")
    assert cited > 40
    assert missing == []
