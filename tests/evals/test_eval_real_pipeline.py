"""The runner and synthesis on the real default models (SmolLM2 + MiniLM): one tiny project,
answers capped to a few tokens. Asserts that the real pipeline is driven and scored, not
how good the tiny model is."""

import pytest

from ragloop.evals.datasets import write_dataset
from ragloop.evals.runner import RunOptions, run_eval
from ragloop.evals.runs import read_records
from ragloop.evals.synth import synthesize
from ragloop.records import EvalExample
from real_project import make_project, write_docs

DOCS = {
    "tides.md": "# Tides\n\nOcean tides are caused mainly by the gravity of the Moon pulling "
                "on the oceans. The Sun adds a smaller tidal force, and the highest tides, "
                "called spring tides, come when the Sun and the Moon line up.\n",
    "volcanoes.md": "# Volcanoes\n\nA volcano erupts when magma from inside the Earth rises "
                    "through cracks in the crust and reaches the surface as lava, ash and "
                    "gas. Most volcanoes lie along the edges of tectonic plates.\n",
}


@pytest.fixture(scope="module")
def pipeline(tmp_path_factory):
    from ragloop.pipeline import Pipeline

    root = tmp_path_factory.mktemp("real-eval")
    project = make_project(root)
    with Pipeline(project, use_cache=False) as pipeline:
        report = pipeline.ingest([write_docs(root / "docs", DOCS)[0].parent])
        assert report.ok
        yield pipeline


@pytest.mark.real_model
def test_run_on_the_real_pipeline(pipeline, tmp_path):
    doc_id = next(e.doc_id for e in pipeline.store.documents() if "tides" in e.source)
    dataset = tmp_path / "gold.jsonl"
    write_dataset(dataset, [EvalExample(id="tides", question="What causes ocean tides?",
                                        reference_answers=("the gravity of the Moon",),
                                        gold_doc_ids=(doc_id,))])
    result = run_eval(pipeline, dataset, options=RunOptions(workers=1, report=False))
    record = read_records(result.run_dir)[0]
    assert record.error is None, record.traceback
    assert record.retrieved[0].doc_id == doc_id  # MiniLM + BM25 find the tides doc
    assert record.scores["hit@1"] == 1.0 and "token_f1" in record.scores
    assert record.tokens.prompt > 0 and record.answer
    assert result.aggregates["metrics"]["hit@1"]["n"] == 1


@pytest.mark.real_model
def test_synth_on_the_real_model_parses_and_filters(pipeline):
    report = synthesize(pipeline.store, pipeline.llm, n=1, max_attempts=1)
    # the grammar makes the tiny model's output parse; whether it passes the filters is
    # recorded either way
    assert report.attempts >= 1 and report.rejected["malformed"] == 0
    assert len(report.examples) + sum(report.rejected.values()) >= report.attempts
