"""Re-embed after an embedder change (issue 14, item 4): the index records which embedder
built its vectors; another one is refused with a clear error until `--reembed` re-embeds
every document, batch by batch (so an interrupted re-embed resumes)."""

from __future__ import annotations

import numpy as np
import pytest
from typer.testing import CliRunner

from fakes import FakeEmbedder
from ragloop.cli import app
from ragloop.config import IngestSettings
from ragloop.errors import EmbedderChangedError, StoreError
from ragloop.index.embedded import open_store
from ragloop.ingest.sync import ingest_paths

from .fake_store import FakeStore
from .samples import make_bad_input_folder


class OtherEmbedder(FakeEmbedder):
    """A second fake embedder (named as such), same size, other vectors."""

    model_id = "fake-embedder-2"

    def _vec(self, text):
        return np.roll(super()._vec(text), 7)


class CountingEmbedder(OtherEmbedder):
    largest_call = 0

    def embed_passages(self, texts):
        self.largest_call = max(self.largest_call, len(texts))
        return super().embed_passages(texts)


def _ingest(paths, store, embedder, **kwargs):
    return ingest_paths(paths, settings=IngestSettings(batch_docs=2), store=store,
                        embedder=embedder, progress=False, **kwargs)


def test_a_changed_embedder_is_refused_then_reembed_replaces_every_vector(tmp_path):
    folder = make_bad_input_folder(tmp_path / "docs")
    root = folder["good_md"].parent
    store = FakeStore()
    first = _ingest([root], store, FakeEmbedder())
    assert store.index_info()["embedder"]["id"] == "fake-embedder"
    with pytest.raises(EmbedderChangedError, match="ragloop ingest --reembed"):
        _ingest([root], store, OtherEmbedder())
    new = CountingEmbedder()
    report = _ingest([], store, new, reembed=True)  # no paths: every file the index holds
    assert report.changed == first.added and report.added == 0
    assert store.index_info()["embedder"]["id"] == "fake-embedder-2"
    for document, chunks, vectors, _ in store.docs.values():
        assert document.bookkeeping.ingest.embedder == "fake-embedder-2"
        assert np.allclose(vectors, OtherEmbedder().embed_passages(
            [c.dense_text for c in chunks]))
    # bounded memory: one batch of documents at a time goes to the embedder
    assert new.largest_call <= max(len(c) for _, c, _, _ in store.docs.values()) * 2
    again = _ingest([root], store, OtherEmbedder())
    assert again.unchanged == first.added


def test_reembed_with_a_file_gone_keeps_the_old_embedder_recorded(tmp_path):
    folder = make_bad_input_folder(tmp_path / "docs")
    store = FakeStore()
    _ingest([folder["good_md"], folder["good_txt"]], store, FakeEmbedder())
    folder["good_txt"].unlink()
    report = _ingest([], store, OtherEmbedder(), reembed=True)
    assert not report.ok and any("old embedder" in e for e in report.errors)
    assert store.index_info()["embedder"]["id"] == "fake-embedder"  # searches still refuse


def test_search_on_the_real_store_refuses_another_embedder(project, tmp_path):
    folder = make_bad_input_folder(tmp_path / "docs")
    with open_store(project.data_dir / "index") as store:
        _ingest([folder["good_md"]], store, FakeEmbedder())
    from ragloop.pipeline import Pipeline

    with pytest.raises(EmbedderChangedError):
        Pipeline(project).retrieve("volcano")
    result = CliRunner().invoke(app, ["-p", str(project.root), "ingest", "--quiet",
                                      str(folder["good_md"])])
    assert result.exit_code == 1 and "--reembed" in result.output
    assert issubclass(EmbedderChangedError, StoreError)
