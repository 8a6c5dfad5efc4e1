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


class EmbedRecorder(ProgressLog):
    def __init__(self):
        super().__init__(clock=FakeClock())
        self.lines: list[str] = []

    def embedded(self, n_chunks):
        super().embedded(n_chunks)
        self.lines.append(self.status())


def test_a_long_embedding_batch_keeps_counting_with_a_falling_eta(tmp_path):
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "long.md").write_text("# Long\n\n" + "Integers and strings are types. " * 8000)
    progress = EmbedRecorder()
    report = ingest_paths([docs], settings=IngestSettings(), store=FakeStore(),
                          embedder=FakeEmbedder(), progress=False, observer=progress)
    total = report.chunks
    assert total > 128 and len(progress.lines) >= 3  # one line per slice of 64 chunks
    assert f"embedding 64/{total:,} chunks of {docs / 'long.md'}" in progress.lines[0]
    assert f"embedding 128/{total:,} chunks" in progress.lines[1]
    assert all("chunks/s embedded" in line for line in progress.lines)
    etas = [line.split("batch ETA ")[1] for line in progress.lines]
    assert etas[-1] == "0s" and etas[0] != "0s"


def test_the_status_line_wraps_instead_of_being_cut_at_80_columns():
    from rich.console import Console

    from ragloop.ingest.observe import _Status

    log = ProgressLog(clock=FakeClock())
    log.files_found(3)
    log.embedding(2140, "/very/long/path/to/a/folder/of/manuals/chapter-17-networking.html")
    log.embedded(64)
    console = Console(width=80, record=True, file=open("/dev/null", "w"))  # noqa: SIM115
    console.print(_Status(log))
    shown = console.export_text()
    assert "…" not in shown and "chapter-17-networking.html" in shown.replace("\n", "")
    assert max(len(line) for line in shown.splitlines()) <= 80
