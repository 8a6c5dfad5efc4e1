"""Where the embedded store keeps its files, shared by its reader (``embedded.py``) and its one
writer (``embedded_writer.py``), so neither needs the other to find them::

    index/index.sqlite   catalog: documents, chunk and question rows, segment lists
    index/segments/      immutable segment files (``segment.py``)
    index/writer.lock    one writer at a time
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from ragloop.index import ann, catalog


@dataclass(frozen=True)
class IndexLayout:
    path: Path
    ann: ann.AnnSettings = field(default_factory=ann.AnnSettings)

    @property
    def segments_dir(self) -> Path:
        return self.path / "segments"

    @property
    def db_path(self) -> Path:
        return self.path / "index.sqlite"

    @property
    def lock_path(self) -> Path:
        return self.path / "writer.lock"

    def create(self) -> IndexLayout:
        """Make the folders and the catalog when they are not there yet."""
        self.segments_dir.mkdir(parents=True, exist_ok=True)
        catalog.create(self.db_path)
        return self
