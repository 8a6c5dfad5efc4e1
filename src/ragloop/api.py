"""``ragloop.open``: a project's pipeline in one call, for notebooks and scripts."""

from __future__ import annotations

from pathlib import Path

from ragloop.config import CONFIG_FILENAME
from ragloop.pipeline import Pipeline
from ragloop.project import Project

__all__ = ["open"]


def open(path: Path | str = ".", *, create: bool = True, use_cache: bool = True,  # noqa: A001
         **overrides: dict) -> Pipeline:
    """The ``Pipeline`` of the project at ``path`` — a folder holding ``ragloop.toml``,
    made with the default configuration when there is none (``create=False`` raises
    ``ProjectNotFoundError`` instead). ``overrides`` replace settings for this pipeline
    only, a table per keyword: ``ragloop.open("docs", answer={"mode": "auto"})``; unknown
    tables or keys raise ``ConfigError`` as in ``ragloop.toml``. Use it as a context
    manager, or call ``close()``."""
    root = Path(path).expanduser()
    if create and not (root / CONFIG_FILENAME).exists():
        project = Project.init(root)
    else:
        project = Project.load(root)
    if overrides:
        project = project.overridden(overrides)
    return Pipeline(project, use_cache=use_cache)

