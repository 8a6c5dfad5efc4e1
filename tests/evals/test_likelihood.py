"""The likelihood faithfulness judge: the model as a scorer, a threshold fitted on labelled
items apart from those it is scored on."""

import math

import pytest

from fakes import FakeLLMBackend, FakeScoringBackend
from ragloop.errors import ModelError
from ragloop.evals.calibrate import LabelledItem, calibrate
from ragloop.evals.likelihood import LIKELIHOOD_JUDGE, context_gain, fit_threshold
from ragloop.models.cache import DiskCache
from ragloop.models.llm import LLMClient, recorded_calls


def item(n, answer, human, split, context="The cache is on disk and keyed by the model."):
    return LabelledItem(id=f"i{n}", judge="faithfulness", question="Where is the cache?",
                        answer=answer, context=context, human=human, split=split)


def test_fit_threshold_separates_the_training_scores_and_prefers_the_lowest_cut():
    assert fit_threshold([0.1, 0.2, 2.0, 3.0], [False, False, True, True]) == pytest.approx(1.1)
    assert fit_threshold([1.0, 2.0], [True, True]) == 0.0  # all pass: below the lowest
    with pytest.raises(ValueError):
        fit_threshold([], [])


def test_token_logprobs_are_cached_and_counted(tmp_path):
    backend = FakeScoringBackend()
    llm = LLMClient(backend, DiskCache(tmp_path / "llm.sqlite"))
    messages = [{"role": "user", "content": "the cache is on disk"}]
    first = llm.token_logprobs(messages, "on disk", purpose="judge-likelihood")
    again = llm.token_logprobs(messages, "on disk", purpose="judge-likelihood")
    assert first == again == [-1.0, -1.0] and backend.scored == 1
    # spent: what the backend says it read (5 prompt words + 2), once; the cache hit is free
    assert llm.usage.calls == 2 and llm.usage.prompt_tokens == 7
    with pytest.raises(ModelError, match="cannot score text"):
        LLMClient(FakeLLMBackend()).token_logprobs(messages, "x")


def test_calibrate_fits_the_likelihood_threshold_on_other_items_and_scores_these():
    llm = LLMClient(FakeScoringBackend())
    fit = [item(1, "The cache is on disk.", "faithful", "train"),
           item(2, "It lives in redis memory servers.", "unfaithful", "train")]
    held_out = [item(3, "It is keyed by the model [1].", "faithful", "test"),
                item(4, "It expires after seven hours.", "unfaithful", "test"),
                item(5, "An overlong answer.", "unfaithful", "test")]
    report = calibrate(llm, held_out, fit_items=fit)
    found = next(j for j in report.judges if j.judge == LIKELIHOOD_JUDGE)
    assert found.n == 2 and found.errors == 1 and found.kappa == 1.0
    rows = [r for r in report.items if r["judge"] == LIKELIHOOD_JUDGE]
    assert [r["id"] for r in rows] == ["i3", "i4", "i5"]  # the fit items are not scored
    assert rows[2]["verdict"] is None and "over the context window" in rows[2]["error"]
    gain = context_gain(llm, question="Where is the cache?", answer="It is keyed by the "
                        "model [1].", context=held_out[0].context)
    assert rows[0]["score"] == pytest.approx(gain) and "fitted on 2 labelled items" in \
        rows[0]["reason"]
    # without fit items, or with a backend that cannot score: no likelihood judge
    assert LIKELIHOOD_JUDGE not in {j.judge for j in calibrate(llm, held_out).judges}
    plain = LLMClient(FakeLLMBackend('{"verdict": "faithful", "reason": "x"}'))
    assert LIKELIHOOD_JUDGE not in {j.judge for j in
                                    calibrate(plain, held_out, fit_items=fit).judges}


@pytest.mark.real_model
def test_real_model_finds_a_supported_answer_more_likely_with_its_context(real_llm):
    context = ("Every model call is cached on disk, keyed by the backend, the model, the "
               "messages and the generation parameters.")
    question = "How are model calls cached?"
    with recorded_calls() as calls:
        scores = real_llm.token_logprobs([{"role": "user", "content": question}],
                                         "They are cached on disk.")
    assert scores and all(s <= 0 and math.isfinite(s) for s in scores)
    # accounted at the tokens the model read: the chat template's as well as the words
    words = real_llm.count_tokens(question) + len(scores)
    assert calls[0].prompt_tokens > words
    supported = context_gain(real_llm, question=question, context=context,
                             answer="Calls are cached on disk by backend, model and messages.")
    made_up = context_gain(real_llm, question=question, context=context,
                           answer="Calls are cached in memory for one hour.")
    assert supported > 1.0 > made_up


@pytest.mark.real_model
def test_real_scoring_is_batched_past_one_decode_and_leaves_generation_as_it_was(real_llm):
    messages = [{"role": "user", "content": "Name one colour."}]
    before = real_llm.complete(messages, max_tokens=12).text
    # longer than one decode batch (512 tokens): scored in two, one value per token
    long = " ".join(["blue"] * 600)
    tokens = real_llm.backend.count_tokens(long)
    scores = real_llm.token_logprobs(messages, long)
    assert len(scores) == tokens > 512 and all(math.isfinite(s) and s <= 0 for s in scores)
    # past the first batch the scores go on from the same context: as in one shorter call
    short = real_llm.token_logprobs(messages, " ".join(["blue"] * 60))
    assert sum(abs(a - b) for a, b in zip(short, scores, strict=False)) / 60 < 0.1
    # and across the batch boundary the repetition's scores run on without a jump
    assert abs(sum(scores[504:512]) - sum(scores[512:520])) / 8 < 0.5
    # the first token is scored from the prompt alone, whatever follows it
    assert real_llm.token_logprobs(messages, "blue")[0] == pytest.approx(scores[0], abs=1e-6)
    # the scored positions are dropped from the model's cache: the same reply as before
    assert real_llm.complete(messages, max_tokens=12).text == before


def test_eval_scoring_adds_the_faithfulness_gain_where_the_judge_model_can_score():
    from ragloop.evals.scoring import ScoringOptions, judge_scores

    llm = LLMClient(FakeScoringBackend())
    fields = dict(question="Where is the cache?", reference="",
                  context="[1] The cache is on disk and keyed by the model.")
    opts = ScoringOptions(judge=True, judges=("faithfulness",), likelihood=True)
    scores, results, _ = judge_scores(llm, answer="The cache is on disk [1].", opts=opts,
                                      **fields)
    assert scores["faithfulness_gain"] > 0 and "judge_faithfulness" in scores
    assert results[LIKELIHOOD_JUDGE]["reason"].startswith("context gain +")
    failing, results, _ = judge_scores(llm, answer="An overlong answer.", opts=opts, **fields)
    assert "faithfulness_gain" not in failing  # missing, with the reason recorded
    assert "over the context window" in results[LIKELIHOOD_JUDGE]["error"]
    assert "judge_faithfulness_likelihood" not in scores  # no fitted threshold: no verdict
    cut = scores["faithfulness_gain"] - 0.01
    fitted = ScoringOptions(judge=True, judges=("faithfulness",), likelihood=True,
                            likelihood_threshold=cut)
    judged, results, _ = judge_scores(llm, answer="The cache is on disk [1].", opts=fitted,
                                      **fields)
    assert judged["judge_faithfulness_likelihood"] == 1.0
    assert results[LIKELIHOOD_JUDGE]["verdict"] == "faithful"
    made_up, _, _ = judge_scores(llm, answer="It sits in redis clusters.", opts=fitted,
                                 **fields)
    assert made_up["judge_faithfulness_likelihood"] == 0.0
    off, _, _ = judge_scores(llm, answer="The cache is on disk.", **fields,
                             opts=ScoringOptions(judge=True, judges=("faithfulness",)))
    assert "faithfulness_gain" not in off


def test_faithfulness_gain_carries_the_likelihood_judges_shipped_calibration():
    import json

    from ragloop.evals.judge_agreement import (
        agreement_for_metric,
        find_agreements,
        judge_of,
        likelihood_threshold,
        shipped_calibration_path,
    )

    assert judge_of("faithfulness_gain") == LIKELIHOOD_JUDGE
    assert judge_of("token_f1") is None
    entry = json.loads(shipped_calibration_path().read_text())[0]
    (shipped,) = [j for j in entry["judges"] if j["judge"] == LIKELIHOOD_JUDGE]
    found = find_agreements(None, entry["model"], "v1", (LIKELIHOOD_JUDGE,))
    for metric in ("faithfulness_gain", "judge_faithfulness_likelihood"):
        agreement = agreement_for_metric(metric, found)
        assert agreement.kappa == pytest.approx(shipped["kappa"])
        assert agreement.n == shipped["n"]
        assert agreement.threshold == pytest.approx(shipped["threshold"])  # what runs apply
        assert agreement.as_dict()["threshold"] == agreement.threshold
    assert likelihood_threshold(None, entry["model"], "v1") == pytest.approx(shipped["threshold"])
    assert likelihood_threshold(None, "a model nobody calibrated", "v1") is None
