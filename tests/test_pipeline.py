"""``Pipeline`` as the assembly point: parts from outside or from config, ownership on close,
ingest → retrieve → ask through one object, and the ``[index] backend`` factory. The
embedder and LLM here are fakes (named as such); the real models run the same pipeline in
tests/evals/test_eval_real_pipeline.py and tests/serve/test_serve_real_pipeline.py."""

from __future__ import annotations

import pytest

from fakes import FakeEmbedder, fake_llm
from ragloop.config import IndexSettings, parse_settings
from ragloop.errors import ConfigError
from ragloop.index import factory
from ragloop.index.embedded import EmbeddedStore
from ragloop.pipeline import Pipeline
from ragloop.project import Project


def _project(tmp_path, **sections) -> Project:
    return Project(root=tmp_path, settings=parse_settings(sections))


def _docs(tmp_path):
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "tides.md").write_text("# Tides\n\nThe Moon's gravity pulls the oceans.\n")
    (docs / "volcanoes.md").write_text("# Volcanoes\n\nMagma rises through the crust.\n")
    return docs


def test_ingest_retrieve_ask_through_one_pipeline(tmp_path):
    llm = fake_llm('{"answer": "The Moon pulls the oceans.", "sources": [1]}')
    with Pipeline(_project(tmp_path), embedder=FakeEmbedder(), llm=llm) as pipeline:
        report = pipeline.ingest([_docs(tmp_path)])
        assert report.ok and report.counts()["added"] == 2
        assert isinstance(pipeline.store, EmbeddedStore)  # the default [index] backend
        found = pipeline.retrieve("Moon gravity oceans", k=5)
        assert {c.chunk.doc_id for c in found} == {e.doc_id for e in pipeline.store.documents()}
        assert any(c.scores.get("bm25") for c in found)  # the lexical side found the tides
        answer = pipeline.ask("What pulls the oceans?")
        assert answer.text.startswith("The Moon pulls the oceans")
        assert [c.marker for c in answer.citations] == [1]
        assert llm.backend.calls, "the given LLM answered"


def test_ingest_builds_no_llm_unless_enrichment_wants_one(tmp_path):
    pipeline = Pipeline(_project(tmp_path), embedder=FakeEmbedder())
    pipeline.ingest([_docs(tmp_path)])
    assert "llm" not in pipeline.__dict__
    pipeline.close()


def test_close_closes_what_it_built_and_not_what_it_was_given(tmp_path):
    given = factory.build_store(IndexSettings(), tmp_path / "given")
    with Pipeline(_project(tmp_path), store=given, embedder=FakeEmbedder()) as pipeline:
        pipeline.ingest([_docs(tmp_path)])
    assert given.stats()["documents"] == 2  # still open: the caller owns it
    given.close()

    pipeline = Pipeline(_project(tmp_path / "own"), embedder=FakeEmbedder())
    built = pipeline.store
    pipeline.close()
    with pytest.raises(Exception):  # noqa: B017 - any use of a closed store fails
        built.stats()
    assert pipeline.store is not built  # used again after close: built anew
    pipeline.close()


def test_unknown_index_backend_is_a_config_error_naming_the_key(tmp_path):
    with pytest.raises(ConfigError) as err:
        Pipeline(_project(tmp_path, index={"backend": "nosuch"}))
    assert err.value.key == "index.backend"
    assert "embedded" in str(err.value)


opened_stores: list = []


def open_fake_backend(settings, data_dir):
    """A second backend for the test: records the call, then opens the embedded store."""
    opened_stores.append((settings.backend, data_dir))
    return factory.BACKENDS.get("embedded")(settings, data_dir)


@pytest.fixture
def fake_backend():
    factory.BACKENDS.register("fake")(open_fake_backend)
    yield
    factory.BACKENDS.unregister("fake")


def test_a_registered_backend_is_chosen_by_config(tmp_path, fake_backend):
    opened_stores.clear()
    project = _project(tmp_path, index={"backend": "fake"})
    with Pipeline(project, embedder=FakeEmbedder()) as pipeline:
        pipeline.ingest([_docs(tmp_path)])
    assert opened_stores == [("fake", project.data_dir)]
