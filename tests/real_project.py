"""A tiny real project for tests on the real embedded models (SmolLM2 + MiniLM): two short
documents, answers limited to a few tokens, retrieval of 4 and 2 chunks in the prompt; each
test module adds the settings it is about."""

from __future__ import annotations

from pathlib import Path

from ragloop.project import Project

CONFIG = """
[project]
name = "real-test"

[answer]
max_tokens = {max_tokens}
context_chunks = 2
{answer}
[retrieve]
k = 4
{tail}"""

INLINE = 'citation_style = "inline"'  # token-by-token streaming of inline citations

DOCS = {
    "tides.md": "# Tides\n\nOcean tides are caused mainly by the gravity of the Moon pulling "
                "on the oceans. The Sun adds a smaller tidal force.\n",
    "volcanoes.md": "# Volcanoes\n\nA volcano erupts when magma from inside the Earth rises "
                    "through cracks in the crust and reaches the surface as lava.\n",
}


def make_project(root: Path, *, max_tokens: int = 24, answer: str = "", tail: str = ""
                 ) -> Project:
    """``answer``: more ``[answer]`` keys; ``tail``: more tables (``[train]`` ...)."""
    root.mkdir(parents=True, exist_ok=True)
    (root / "ragloop.toml").write_text(CONFIG.format(max_tokens=max_tokens, answer=answer,
                                                     tail=tail), encoding="utf-8")
    project = Project.load(root)
    project.data_dir.mkdir(parents=True, exist_ok=True)
    return project


def write_docs(folder: Path, docs: dict[str, str] = DOCS) -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for name, text in docs.items():
        (folder / name).write_text(text, encoding="utf-8")
        paths.append(folder / name)
    return paths


def ingested_project(root: Path, *, docs: dict[str, str] = DOCS, **settings) -> Project:
    """``make_project`` with ``docs`` written under ``root/docs`` and ingested (no cache)."""
    from ragloop.pipeline import Pipeline

    project = make_project(root, **settings)
    write_docs(root / "docs", docs)
    with Pipeline(project, use_cache=False) as pipeline:
        assert pipeline.ingest([root / "docs"]).ok
    return Project.load(root)
