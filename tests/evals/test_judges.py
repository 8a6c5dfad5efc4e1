import json

import pytest

from fakes import fake_llm
from ragloop.answer.verify import word_support
from ragloop.errors import DatasetError
from ragloop.evals.calibrate import (
    GROUNDING_JUDGE,
    LabelledItem,
    calibrate,
    grounding_agreement,
    load_labels,
    shipped_labels_path,
)
from ragloop.evals.judges import applies, judge_messages, run_judge, unsupported_words


def verdict_from_answer(messages, params, schema):
    """Fake judge: passes answers containing 'good', fails the rest."""
    passing, failing = schema["properties"]["verdict"]["enum"]
    verdict = passing if "good" in messages[-1].content else failing
    return json.dumps({"verdict": verdict, "reason": "fake"})


def test_judge_scores_and_records_version_and_schema():
    llm = fake_llm(verdict_from_answer)
    result = run_judge(llm, "correctness", question="q", answer="a good answer",
                       reference="r", version="v1")
    assert (result.verdict, result.score, result.prompt_version) == ("correct", 1.0, "v1")
    assert result.call.purpose == "judge-correctness"
    schema = llm.backend.calls[0][2]
    assert schema["properties"]["reason"]["maxLength"] > 0
    bad = run_judge(llm, "faithfulness", question="q", answer="bad", context="c")
    assert (bad.verdict, bad.score) == ("unfaithful", 0.0)


def test_prompt_v2_shows_the_faithfulness_judge_the_words_the_context_lacks():
    context = "The bm25 retriever scores chunks with BM25, with stemming and stopwords."
    made_up = "The bm25 retriever and a SPLADE retriever run on the GPU [1]."
    assert unsupported_words(made_up, context) == "3 of 6: splade, run, gpu"
    assert unsupported_words("The bm25 retriever scores chunks [1].", context) == "none"
    assert unsupported_words("Yes [1].", context) == "none"  # no content words to check
    v2 = judge_messages("faithfulness", question="q", answer=made_up, context=context,
                        version="v2")[1]["content"]
    assert "Answer words the context does not contain: 3 of 6: splade, run, gpu" in v2
    v1 = judge_messages("faithfulness", question="q", answer=made_up, context=context,
                        version="v1")[1]["content"]
    assert "does not contain" not in v1  # v1 is unchanged: scores stay comparable
    for judge in ("correctness", "relevancy"):  # only faithfulness differs in v2
        fields = {"question": "q", "answer": "a", "reference": "r"}
        assert judge_messages(judge, **fields, version="v2") == \
            judge_messages(judge, **fields, version="v1")


@pytest.mark.parametrize("output", ["not json at all", '{"verdict": "maybe", "reason": "x"}'])
def test_unparseable_judge_output_is_an_error_not_a_score(output):
    result = run_judge(fake_llm(output), "relevancy", question="q", answer="a")
    assert result.score is None and result.verdict is None
    assert "SchemaValidationError" in result.error


def test_applies_needs_reference_or_context():
    assert not applies("correctness", reference="")
    assert applies("correctness", reference="r")
    assert not applies("faithfulness", context=" ")
    assert applies("relevancy")


def test_shipped_calibration_set_is_valid_balanced_and_split_by_passage():
    test = load_labels(shipped_labels_path(), split="test")
    for judge in ("correctness", "faithfulness", "relevancy"):
        humans = [i.human for i in test if i.judge == judge]
        assert len(humans) >= 10 and humans.count(humans[0]) * 2 == len(humans)
    train = load_labels(shipped_labels_path(), split="train")
    humans = [i.human for i in train if i.judge == "faithfulness"]
    assert len(humans) >= 20 and humans.count("faithful") * 2 == len(humans)
    # a tuned judge never reads a held-out passage in training
    assert not {i.context for i in train} & {i.context for i in test if i.context}
    everything = load_labels(shipped_labels_path())
    assert len(everything) == len(train) + len(test)


def test_labels_without_a_split_are_held_out(tmp_path):
    path = tmp_path / "labels.jsonl"
    lines = [{"id": "1", "judge": "relevancy", "question": "q", "answer": "a",
              "human": "relevant"},
             {"id": "2", "judge": "relevancy", "question": "q", "answer": "b",
              "human": "irrelevant", "split": "train"}]
    path.write_text("".join(json.dumps(line) + "\n" for line in lines))
    assert [i.id for i in load_labels(path, split="test")] == ["1"]
    assert [i.id for i in load_labels(path, split="train")] == ["2"]
    path.write_text(json.dumps(lines[0]) + "\n")
    with pytest.raises(DatasetError, match="no labelled items in split 'train'"):
        load_labels(path, split="train")
    with pytest.raises(ValueError, match="split must be one of"):
        load_labels(path, split="dev")


def test_calibrate_reports_kappa_and_confusion():
    items = load_labels(shipped_labels_path())
    # a judge that always passes: accuracy 0.5 on a balanced set, kappa 0
    always = fake_llm(lambda m, p, s: json.dumps(
        {"verdict": s["properties"]["verdict"]["enum"][0], "reason": "x"}))
    report = calibrate(always, items)
    correctness = next(j for j in report.judges if j.judge == "correctness")
    assert correctness.accuracy == 0.5 and correctness.kappa == 0.0
    assert correctness.confusion == [[5, 0], [5, 0]]
    # a broken judge: every item is an error, none scored
    broken = calibrate(fake_llm("garbage"), items[:3])
    assert broken.judges[0].errors == 3 and broken.judges[0].n == 0


def test_calibration_reports_the_grounding_check_beside_the_llm_judges():
    items = load_labels(shipped_labels_path())
    report = calibrate(fake_llm(lambda m, p, s: json.dumps(
        {"verdict": s["properties"]["verdict"]["enum"][0], "reason": "x"})), items)
    floor = next(j for j in report.judges if j.judge == GROUNDING_JUDGE)
    faithfulness = [i for i in items if i.judge == "faithfulness"]
    assert floor.n == len(faithfulness) and floor.errors == 0
    rows = {r["id"]: r for r in report.items if r["judge"] == GROUNDING_JUDGE}
    for item in faithfulness:  # the verdict is the word-support rule, item by item
        share, _ = word_support(item.answer, item.context)
        assert rows[item.id]["verdict"] == ("faithful" if share >= 0.6 else "unfaithful")
    made_up = LabelledItem(id="x", judge="faithfulness", question="q", human="unfaithful",
                           answer="It runs on the GPU with OCR for scanned Excel files [1].",
                           context="The loader reads Markdown and plain text files.")
    copied = made_up.model_copy(update={"id": "y", "human": "faithful",
                                        "answer": "It reads Markdown and plain text [1]."})
    found, found_rows = grounding_agreement([made_up, copied])
    assert [r["verdict"] for r in found_rows] == ["unfaithful", "faithful"]
    assert found.kappa == 1.0 and "gpu" in found_rows[0]["reason"]


def test_bad_labels_file_names_line(tmp_path):
    path = tmp_path / "labels.jsonl"
    path.write_text(json.dumps({"id": "1", "judge": "correctness", "question": "q",
                                "answer": "a", "human": "sort of"}) + "\n")
    with pytest.raises(DatasetError, match=r"labels.jsonl:1: human verdict 'sort of'"):
        load_labels(path)


@pytest.mark.real_model
def test_real_judge_returns_a_parseable_verdict(real_llm):
    result = run_judge(real_llm, "relevancy", question="How do I start the server?",
                       answer="Run ragloop serve.", max_tokens=48)
    assert result.error is None, result.error
    assert result.verdict in ("relevant", "irrelevant") and result.prompt_version == "v1"
