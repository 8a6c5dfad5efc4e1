"""Probe item 2 of issue 27: a Markdown heading `# a` + 3,000 spaces + `b` took 31 s to parse
(a cubic regex); a front-matter title line padded with spaces was quadratic. Both must parse
in linear time, with the titles the old expressions gave on ordinary lines."""

from __future__ import annotations

import re
import time

import pytest

from ragloop.ingest.loaders import load_path
from ragloop.ingest.loaders.markdown import atx_heading, front_matter_title

# the expressions before the fix: the reference for what ordinary lines mean
OLD_ATX = re.compile(r"^ {0,3}(#{1,6})\s+(.*?)\s*#*\s*$")
OLD_FRONT_TITLE = re.compile(r"^title:\s*[\"']?(.*?)[\"']?\s*$", re.MULTILINE)


def _timed(call) -> float:
    start = time.perf_counter()
    call()
    return time.perf_counter() - start


def test_padded_heading_and_front_matter_parse_in_linear_time(tmp_path):
    heading = tmp_path / "heading.md"
    heading.write_text("# a" + " " * 3000 + "b\n\nBody text.\n" + ("## x" + "\t" * 20000 + "y\n"))
    assert _timed(lambda: load_path(heading)) < 1.0
    (doc,) = load_path(heading)
    assert [s.title for s in doc.sections] == ["a b", "x y"]  # spaces collapse, as before
    front = tmp_path / "front.md"
    front.write_text("---\ntitle: a" + " " * 200_000 + "b\n---\n\nBody.\n")
    assert _timed(lambda: load_path(front)) < 1.0


@pytest.mark.parametrize("line", [
    "# Title", "#  Title  ", "## Two ##", "### Three #####   ", "#### C#", "# #", "# ###",
    "   # Indented", "#\tTab", "###### Six", "####### Seven", "#NoSpace", "# ", "#",
    "# Trailing \\#", "# a # b #", "    # code", "# ü Unicode \u00a0", "#\u2003em space",
])
def test_ordinary_headings_mean_what_they_meant(line):
    old = OLD_ATX.match(line)
    new = atx_heading(line)
    assert (None if old is None else (len(old.group(1)), old.group(2))) == new


@pytest.mark.parametrize("front", [
    "title: Plain", "title: 'Quoted'", 'title: "Double"  ', "author: x\ntitle: Second line",
    "title:NoSpace", "title: a 'b' c", "other: x",
])
def test_front_matter_titles_mean_what_they_meant(front):
    old = OLD_FRONT_TITLE.search(front)
    assert (old.group(1) if old else None) == front_matter_title(front)
