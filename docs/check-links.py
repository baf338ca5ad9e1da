#!/usr/bin/env python3
"""Checks that every Markdown link in README.md and docs/*.md points to a file inside the
repository (and, with #anchor, to a heading of that file). Exit 1 and a list of bad links
otherwise. Usage: docs/check-links.py [FILES...]"""
import pathlib
import re
import sys

ROOT = pathlib.Path(__file__).resolve().parent.parent
LINK = re.compile(r"(?<!!)\[[^\]]*\]\(([^)\s]+)\)")
FENCE = re.compile(r"^```.*?^```", re.S | re.M)


def anchors(path):
    """GitHub's heading ids: lower case, punctuation dropped, spaces to '-'."""
    out = set()
    for line in FENCE.sub("", path.read_text(encoding="utf-8")).splitlines():
        m = re.match(r"#{1,6}\s+(.*)", line)
        if m:
            text = re.sub(r"[`*_]", "", m.group(1).strip()).lower()
            out.add(re.sub(r"[^\w\- ]", "", text).replace(" ", "-"))
    return out


def check(md):
    bad = []
    text = FENCE.sub("", md.read_text(encoding="utf-8"))
    for target in LINK.findall(text):
        if re.match(r"[a-z]+:", target):
            bad.append(f"{target}: not a file of the repository")
            continue
        file_part, _, anchor = target.partition("#")
        dest = (md.parent / file_part).resolve() if file_part else md
        if ROOT not in dest.parents and dest != ROOT:
            bad.append(f"{target}: outside the repository")
        elif not dest.exists():
            bad.append(f"{target}: no such file")
        elif anchor and dest.suffix == ".md" and anchor not in anchors(dest):
            bad.append(f"{target}: no heading #{anchor} in {dest.relative_to(ROOT)}")
    if "../shared" in md.read_text(encoding="utf-8"):
        bad.append("mentions ../shared (outside the repository)")
    return [f"{md.relative_to(ROOT)}: {b}" for b in bad]


files = [pathlib.Path(f).resolve() for f in sys.argv[1:]] or [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
problems = [p for f in files for p in check(f)]
print("\n".join(problems) if problems else f"links ok in {len(files)} files")
sys.exit(1 if problems else 0)
