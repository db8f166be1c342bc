"""Every relative link in README.md and docs/*.md leads to something in the repository.

A link ``[text](path)``, ``[text](path#anchor)`` or ``[text](#anchor)`` (and a
reference definition ``[label]: path``) must name a file or folder of the
repository (tracked, or new and not ignored), never a place outside it (``../``
past the root, an absolute path), and an anchor must name a heading of the
target markdown file, slugged as GitHub does. Links with a scheme
(``https:``, ``mailto:``) are not checked.
"""

from __future__ import annotations

import re
import subprocess
import unicodedata
from functools import cache
from pathlib import Path
from urllib.parse import unquote

import pytest

REPO = Path(__file__).resolve().parent.parent

_FENCE = re.compile(r"^\s*(```|~~~)")
_INLINE_CODE = re.compile(r"`+[^`]*`+")
# [text](target) or [text](target "title"); images ![alt](target) alike.
_INLINE_LINK = re.compile(r"\[(?:[^\[\]]|\[[^\]]*\])*\]\(\s*<?([^)\s>]+)>?(?:\s+\"[^\"]*\")?\s*\)")
_REFERENCE = re.compile(r"^\s{0,3}\[[^\]]+\]:\s*<?(\S+?)>?(?:\s+\"[^\"]*\")?\s*$")
_HEADING = re.compile(r"^\s{0,3}(#{1,6})\s+(.*?)\s*#*\s*$")
_SCHEME = re.compile(r"^[A-Za-z][A-Za-z0-9+.\-]*:")


def _prose_lines(text: str) -> list[tuple[int, str]]:
    """The lines outside fenced code blocks, numbered from 1."""
    lines, fenced = [], False
    for number, line in enumerate(text.splitlines(), start=1):
        if _FENCE.match(line):
            fenced = not fenced
            continue
        if not fenced:
            lines.append((number, line))
    return lines


def slug(heading: str) -> str:
    """GitHub's anchor for a heading: lower case, punctuation dropped, spaces to hyphens."""
    text = _INLINE_CODE.sub(lambda m: m.group(0).strip("`"), heading)
    text = re.sub(r"\[([^\]]*)\]\([^)]*\)", r"\1", text)  # a link keeps its text
    text = unicodedata.normalize("NFC", text).lower()
    text = "".join(ch for ch in text if ch.isalnum() or ch in "-_ " or _is_mark(ch))
    return text.replace(" ", "-")


def _is_mark(ch: str) -> bool:
    return unicodedata.category(ch).startswith("M")


def anchors(path: Path) -> set[str]:
    """The anchors of a markdown file's headings (repeats get -1, -2, ... as on GitHub)."""
    seen: dict[str, int] = {}
    found = set()
    for _, line in _prose_lines(path.read_text(encoding="utf-8")):
        match = _HEADING.match(line)
        if not match:
            continue
        base = slug(match.group(2))
        count = seen.get(base, 0)
        seen[base] = count + 1
        found.add(base if count == 0 else f"{base}-{count}")
    return found


def links(text: str) -> list[tuple[int, str]]:
    """The link targets of a markdown text, with their line numbers."""
    found = []
    for number, line in _prose_lines(text):
        # Code spans may show link syntax as an example; it is not a link.
        prose = _INLINE_CODE.sub("", line)
        found.extend((number, m.group(1)) for m in _INLINE_LINK.finditer(prose))
        reference = _REFERENCE.match(prose)
        if reference:
            found.append((number, reference.group(1)))
    return found


@cache
def _repository_files() -> frozenset[str] | None:
    """Files git tracks or would add (ignored ones, like demo-out/, excluded); None without git."""
    try:
        done = subprocess.run(
            ["git", "ls-files", "--cached", "--others", "--exclude-standard", "-z"],
            cwd=REPO,
            capture_output=True,
            check=True,
        )
    except (OSError, subprocess.CalledProcessError):
        return None
    return frozenset(done.stdout.decode("utf-8").split("\0")) - {""}


def _in_repository(target: Path) -> bool:
    relative = target.relative_to(REPO).as_posix()
    files = _repository_files()
    if files is None:
        return target.exists()
    if relative in files:
        return True
    # A folder is in the repository when a file under it is.
    prefix = relative.rstrip("/") + "/"
    return any(name.startswith(prefix) for name in files)


def problems(path: Path, text: str | None = None) -> list[str]:
    """What is wrong with the links of a markdown file (``text``: its content, if not read)."""
    if text is None:
        text = path.read_text(encoding="utf-8")
    found = []
    where = path.relative_to(REPO).as_posix()
    for number, link in links(text):
        if _SCHEME.match(link) or link.startswith("//"):
            continue  # a web address, not a file of the repository
        place = f"{where}:{number}: {link!r}"
        file_part, _, anchor = link.partition("#")
        file_part = unquote(file_part)
        if file_part.startswith("/"):
            found.append(f"{place} is an absolute path; link relative to {where}")
            continue
        target = (path.parent / file_part).resolve() if file_part else path
        if not target.is_relative_to(REPO):
            found.append(f"{place} leaves the repository")
            continue
        if not _in_repository(target):
            found.append(f"{place}: no such file in the repository")
            continue
        if anchor:
            if target.suffix.lower() != ".md" or not target.is_file():
                found.append(f"{place}: an anchor into a file that is not markdown")
            elif unquote(anchor) not in anchors(target):
                found.append(f"{place}: {target.name} has no heading with anchor #{anchor}")
    return found


DOCUMENTS = sorted([REPO / "README.md", *(REPO / "docs").glob("*.md")])


def test_the_documents_are_found():
    names = {p.relative_to(REPO).as_posix() for p in DOCUMENTS}
    assert {"README.md", "docs/criterion.md", "docs/design.md"} <= names


@pytest.mark.parametrize("path", DOCUMENTS, ids=lambda p: p.relative_to(REPO).as_posix())
def test_every_relative_link_resolves_inside_the_repository(path):
    assert links(path.read_text(encoding="utf-8")), f"{path.name} links nowhere"
    assert problems(path) == []


def test_a_dead_link_fails():
    page = REPO / "docs" / "criterion.md"
    text = page.read_text(encoding="utf-8") + (
        "\n[dead](no-such-page.md) [bad anchor](design.md#no-such-heading) [here](#nor-this)\n"
        "[outside](../../shared/spec/criterion.md) [absolute](/etc/passwd)\n"
        "[web](https://example.org/x.md) [ignored](demo-out/aligned/report.html)\n"
        "[ref]: ../missing.md\n"
        "```\n[in a code block](not-checked.md)\n```\n"
    )
    found = problems(page, text)
    assert any("'no-such-page.md'" in p and "no such file" in p for p in found), found
    assert any("'design.md#no-such-heading'" in p for p in found), found
    assert any("'#nor-this'" in p for p in found), found
    assert any("'../../shared/spec/criterion.md'" in p and "leaves" in p for p in found), found
    assert any("'/etc/passwd'" in p and "absolute" in p for p in found), found
    assert any("'demo-out/aligned/report.html'" in p for p in found), found
    assert any("'../missing.md'" in p for p in found), found
    assert not any("example.org" in p or "not-checked" in p for p in found), found
    assert len(found) == 7, found


@pytest.mark.parametrize(
    ("heading", "anchor"),
    [
        ("The post's conjecture: C1 and C2", "the-posts-conjecture-c1-and-c2"),
        ("Is the verdict stable? `--bootstrap B`", "is-the-verdict-stable---bootstrap-b"),
        (
            "The policy as a soft intervention: σ and G_σ",
            "the-policy-as-a-soft-intervention-σ-and-g_σ",
        ),
        (
            "Dense classes: complete graphs K_n (`bench/bench_dense.py`)",
            "dense-classes-complete-graphs-k_n-benchbench_densepy",
        ),
        ("Targets: ours ≥ 10× graphical_models", "targets-ours--10-graphical_models"),
    ],
)
def test_anchors_are_slugged_as_github_does(heading, anchor):
    assert slug(heading) == anchor
