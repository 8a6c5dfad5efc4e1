"""Long ingests say how long (issue 12, item 4): the progress observer shows files, documents
and chunks done of those planned, the embedding rate, an ETA from the work already planned,
and which file is slow and why."""

from __future__ import annotations

from fakes import FakeEmbedder
from ragloop.config import IngestSettings
from ragloop.ingest.observe import ProgressLog
from ragloop.ingest.sync import ingest_paths

from .fake_store import FakeStore


class FakeClock:
    """A clock (a fake, named as such) that advances one second per reading."""

    def __init__(self):
        self.now = 0.0

    def __call__(self):
        self.now += 1.0
        return self.now


class Recorder(ProgressLog):
    def __init__(self):
        super().__init__(clock=FakeClock())
        self.lines: list[str] = []

    def processing(self, n_documents, source, n_characters):
        super().processing(n_documents, source, n_characters)
        self.lines.append(self.status())

    def embedding(self, n_chunks, source):
        super().embedding(n_chunks, source)
        self.lines.append(self.status())

    def committed(self, *args):
        super().committed(*args)
        self.lines.append(self.status())


def test_the_status_line_names_the_slow_file_and_gives_rate_and_eta(tmp_path):
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "small.txt").write_text("Owls turn their heads far around.\n")
    (docs / "stdtypes.md").write_text("# Types\n\n" + "Integers and strings are types. " * 600)
    (docs / "tiny.txt").write_text("Bees dance.\n")
    progress = Recorder()
    report = ingest_paths([docs], settings=IngestSettings(batch_docs=1), store=FakeStore(),
                          embedder=FakeEmbedder(), progress=False, observer=progress)
    assert report.added == 3
    big_chunks = next(f.chunks for f in report.files if f.path.endswith("stdtypes.md"))
    assert big_chunks > 10
    assert f"embedding {big_chunks:,} chunks of {docs / 'stdtypes.md'}" in "\n".join(
        progress.lines)
    assert any(f"chunking 1 document, the largest {docs / 'stdtypes.md'} (" in line
               for line in progress.lines)  # what a pool's workers are busy with
    first_commit = progress.lines[2]
    assert "files 1/3" in first_commit and "documents 1/1" in first_commit
    assert "chunks/s" in first_commit and "ETA 0s" in first_commit
    assert "2 more files to read" in first_commit
    last = progress.lines[-1]
    assert "files 2/3" in last or "files 3/3" in last
    assert f"documents 3/3 · chunks {report.chunks:,}" in last
    assert progress.eta_seconds == 0
