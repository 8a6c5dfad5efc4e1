"""A tiny real project for server tests on the real embedded models: two short documents,
answers limited to a few tokens, token-by-token streaming (inline citations)."""

from __future__ import annotations

from pathlib import Path

from ragloop.project import Project

CONFIG = """
[project]
name = "serve-test"

[answer]
max_tokens = {max_tokens}
citation_style = "inline"
context_chunks = 2

[retrieve]
k = 4
"""

DOCS = {
    "tides.md": "# Tides\n\nOcean tides are caused mainly by the gravity of the Moon pulling "
                "on the oceans. The Sun adds a smaller tidal force.\n",
    "volcanoes.md": "# Volcanoes\n\nA volcano erupts when magma from inside the Earth rises "
                    "through cracks in the crust and reaches the surface.\n",
}


def make_project(root: Path, *, max_tokens: int = 24) -> Project:
    root.mkdir(parents=True, exist_ok=True)
    (root / "ragloop.toml").write_text(CONFIG.format(max_tokens=max_tokens), encoding="utf-8")
    project = Project.load(root)
    project.data_dir.mkdir(parents=True, exist_ok=True)
    return project


def write_docs(folder: Path) -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for name, text in DOCS.items():
        (folder / name).write_text(text, encoding="utf-8")
        paths.append(folder / name)
    return paths
