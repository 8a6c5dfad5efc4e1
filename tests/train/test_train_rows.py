"""Training rows: reading TRL JSONL, refusing rows from the eval set, label balancing, the
extra's error. No torch needed."""

import json

import pytest

from ragloop.errors import DataLeakError, DatasetError, ExtraMissingError
from ragloop.records import EvalExample
from ragloop.train import extra
from ragloop.train.data_golden import balance_examples, target_text
from ragloop.train.rows import check_disjoint, load_rows, write_rows

PROMPT = [{"role": "user", "content": "Question: Do statins lower LDL cholesterol in adults?"}]
ANSWER = [{"role": "assistant", "content": "Yes."}]
EVAL = [EvalExample(id="pm-1", question="Do statins lower LDL cholesterol in adults?",
                    label="yes"),
        EvalExample(id="pm-2", question="Is aspirin useful after a stroke?", label="maybe")]


def write_jsonl(path, rows):
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return path


def test_sft_rows_in_both_conversational_forms(tmp_path):
    path = write_jsonl(tmp_path / "sft.jsonl", [
        {"messages": PROMPT + ANSWER},
        {"id": "x", "prompt": PROMPT, "completion": ANSWER}])
    rows = load_rows(path, "sft")
    assert [r.id for r in rows] == [None, "x"]
    assert all(r.prompt == PROMPT and r.completion == ANSWER for r in rows)


def test_dpo_and_kto_rows(tmp_path):
    rejected = [{"role": "assistant", "content": "No."}]
    dpo = load_rows(write_jsonl(tmp_path / "d.jsonl", [
        {"prompt": PROMPT, "chosen": ANSWER, "rejected": rejected}]), "dpo")
    assert dpo[0].rejected == rejected
    kto = load_rows(write_jsonl(tmp_path / "k.jsonl", [
        {"prompt": PROMPT, "completion": rejected, "label": False}]), "kto")
    assert kto[0].desirable is False


def test_a_bad_row_names_its_line(tmp_path):
    path = write_jsonl(tmp_path / "bad.jsonl", [{"messages": PROMPT + ANSWER},
                                                {"prompt": PROMPT, "chosen": ANSWER}])
    with pytest.raises(DatasetError) as err:
        load_rows(path, "dpo")
    assert err.value.line == 1  # the first line is an SFT row, not a DPO one
    with pytest.raises(DatasetError, match="not found"):
        load_rows(tmp_path / "missing.jsonl", "sft")


def test_rows_from_the_eval_set_are_refused_by_id_and_by_question(tmp_path):
    by_id = load_rows(write_jsonl(tmp_path / "a.jsonl", [
        {"id": "pm-2", "prompt": [{"role": "user", "content": "other text"}],
         "completion": ANSWER}]), "sft")
    with pytest.raises(DataLeakError, match="1 by id"):
        check_disjoint(by_id, EVAL, data_path="a.jsonl", eval_path="test.jsonl")
    # a feedback row has no id: its prompt holds the eval question (spacing/case ignored)
    by_text = load_rows(write_jsonl(tmp_path / "b.jsonl", [
        {"messages": [{"role": "user", "content": "Passages: ...\n\nQuestion: do STATINS "
                       "lower LDL\ncholesterol in adults? Answer with one word."}] + ANSWER}]),
        "sft")
    with pytest.raises(DataLeakError, match="pm-1"):
        check_disjoint(by_text, EVAL, data_path="b.jsonl", eval_path="test.jsonl")
    clean = load_rows(write_jsonl(tmp_path / "c.jsonl", [
        {"id": "pm-9", "messages": [{"role": "user", "content": "Is coffee a diuretic?"}]
         + ANSWER}]), "sft")
    check_disjoint(clean, EVAL, data_path="c.jsonl", eval_path="test.jsonl")


def test_write_rows_validates_before_writing(tmp_path):
    out = tmp_path / "rows.jsonl"
    assert write_rows(out, [{"id": "a", "prompt": PROMPT, "completion": ANSWER}], "sft") == 1
    assert load_rows(out, "sft")[0].id == "a"
    with pytest.raises(ValueError):
        write_rows(tmp_path / "bad.jsonl", [{"prompt": PROMPT}], "sft")
    assert not (tmp_path / "bad.jsonl").exists()


def test_balancing_gives_equal_label_counts():
    examples = ([EvalExample(id=f"y{i}", question="q", label="yes") for i in range(6)]
                + [EvalExample(id=f"n{i}", question="q", label="no") for i in range(3)]
                + [EvalExample(id="m0", question="q", label="maybe")])

    def counts(chosen):
        return {lbl: sum(e.label == lbl for e in chosen) for lbl in ("yes", "no", "maybe")}

    assert counts(balance_examples(examples, "oversample")) == {"yes": 6, "no": 6, "maybe": 6}
    assert counts(balance_examples(examples, "undersample")) == {"yes": 1, "no": 1, "maybe": 1}
    capped = balance_examples(examples, "oversample", per_label=4)
    assert counts(capped) == {"yes": 4, "no": 4, "maybe": 4}
    assert len({e.id for e in capped if e.label == "yes"}) == 4  # sampled without repeats
    assert balance_examples(examples, "oversample", seed=1) != balance_examples(examples,
                                                                                "oversample")


def test_the_target_starts_with_the_label():
    text = target_text("no", "Statins did not help. A second sentence follows.")
    assert text == "No. Statins did not help."
    assert target_text("no", "Statins did not help.", reason=False) == "No."
    assert target_text(None, "Statins did not help. More.", reason=False) == \
        "Statins did not help."  # no label: the sentence is the answer


def test_a_missing_extra_is_named(monkeypatch):
    monkeypatch.setattr(extra, "MODULES", ("json", "ragloop_no_such_module"))
    with pytest.raises(ExtraMissingError, match=r"ragloop\[train\].*ragloop_no_such_module"):
        extra.require()


def test_judge_answers_built_to_be_unfaithful_are_not_in_the_context():
    import random

    from ragloop.train.data_judge import (
        JudgeCase,
        _changed_number,
        sentences_of,
        unfaithful_answer,
    )

    text = ("The daily dosage was 40 mg per patient. Short. "
            "Patients in the trial improved after 12 weeks.")
    sentences = sentences_of([text])
    assert sentences == ("The daily dosage was 40 mg per patient.",
                         "Patients in the trial improved after 12 weeks.")  # "Short." too short
    rng = random.Random(0)
    dosage = "The daily dosage was 40 mg per patient."
    changed = _changed_number(dosage, rng)
    assert changed != dosage and changed.startswith("The daily dosage was ")
    assert _changed_number("No numbers here at all.", rng) is None
    case = JudgeCase("a", "q?", text, sentences)
    other = JudgeCase("b", "q2?", "Lava is molten rock that reached the surface.",
                      ("Lava is molten rock that reached the surface.",))
    for kind in ("foreign", "mixed", "number", "swap"):
        answer = unfaithful_answer(case, [other], kind, rng)
        assert answer and answer not in text
    swapped = unfaithful_answer(case, [other], "swap", rng)
    new_words = {w.strip(".") for w in swapped.split()} - {w.strip(".") for w in text.split()}
    assert new_words and new_words <= {"molten", "reached", "surface"}, swapped
    assert unfaithful_answer(case, [], "foreign", rng) is None  # nothing foreign to quote


def test_distilled_rows_take_the_likelihood_judges_verdict_and_leave_out_the_unsure():
    from fakes import FakeScoringBackend
    from ragloop.models.llm import LLMClient
    from ragloop.train.data_judge import DistillTally, JudgeCase, distilled_rows

    def writes(messages, params, schema):  # the fake model's own answers
        prompt = messages[-1].content
        if prompt.startswith("Rewrite"):
            return "The cache is kept on disk."  # gain 1.33 (c1), 2.0 (c2)
        if "fails" in prompt:
            return "overlong answer"  # scoring this raises ModelError
        return "Redis holds it in memory."  # no word in the context: gain 0

    context = "The cache is kept on disk, keyed by the model."
    case = JudgeCase("c1", "Where is the cache?", context, (context,))
    failing = JudgeCase("c2", "Where is it, it fails?", context, (context,))
    tally = DistillTally()
    llm = LLMClient(FakeScoringBackend(writes))
    rows = list(distilled_rows([case, failing], llm, threshold=1.0, margin=0.3, tally=tally))
    verdicts = [json.loads(r["completion"][0]["content"])["verdict"] for r in rows]
    answers = [r["prompt"][-1]["content"] for r in rows]
    assert verdicts == ["faithful", "unfaithful", "faithful"]
    assert "Redis holds it in memory." in answers[1] and {r["id"] for r in rows} == {"c1", "c2"}
    assert tally.as_dict() == {"faithful": 2, "unfaithful": 1, "unsure": 0, "empty": 0,
                               "failed": 1}
    assert tally.errors and "c2" in tally.errors[0]  # the failed call is named, the batch went on
    # the same answers with the cut inside the margin of a gain: left out, not guessed
    unsure = DistillTally()
    dpo = list(distilled_rows([case], llm, threshold=1.6, margin=0.5, fmt="dpo", tally=unsure))
    assert unsure.unsure == 1 and len(dpo) == 1 and "chosen" in dpo[0] and "rejected" in dpo[0]


def test_judge_training_rows_come_in_one_order_constructed_distilled_human():
    from fakes import FakeScoringBackend
    from ragloop.evals.calibrate import load_labels, shipped_labels_path
    from ragloop.models.llm import LLMClient
    from ragloop.train.data_judge import (
        JudgeCase,
        distilled_rows,
        human_rows,
        judge_rows,
        training_rows,
    )

    cases = [JudgeCase("c1", "Where is the cache?", "The cache is kept on disk.",
                       ("The cache is kept on disk.",)),
             JudgeCase("c2", "What is lava?", "Lava is molten rock at the surface.",
                       ("Lava is molten rock at the surface.",))]
    human = load_labels(shipped_labels_path(), split="train")[:3]
    llm = LLMClient(FakeScoringBackend(lambda m, p, s: "The cache is kept on disk."))
    rows = list(training_rows([(cases, 0), (cases, 1)], distill_llm=llm, threshold=1.0,
                              margin=0.3, human=human, label_repeat=2))
    constructed = [*judge_rows(cases, seed=0), *judge_rows(cases, seed=1)]
    distilled = [*distilled_rows(cases, llm, threshold=1.0, margin=0.3, seed=0),
                 *distilled_rows(cases, llm, threshold=1.0, margin=0.3, seed=1)]
    labelled = list(human_rows(human))
    assert constructed and distilled and labelled
    assert rows == constructed + distilled + labelled * 2
    assert list(training_rows([(cases, 0)], constructed=False)) == []
    with pytest.raises(ValueError, match="threshold"):
        list(training_rows([(cases, 0)], distill_llm=llm))


def test_grounded_targets_are_checked_as_the_pipeline_shows_them():
    from ragloop.answer.verify import GroundingVerifier
    from ragloop.records import Candidate, Chunk
    from ragloop.train.data_grounded import answer_rejection, rewrite

    chunks = [Candidate(chunk=Chunk(id=f"c{i}", doc_id=f"d{i}", ordinal=0, text=text),
                        score=1.0) for i, text in enumerate((
                            "The Moon's gravity causes the tides. The Sun adds a little.",
                            "Lava is magma that reached the surface."), start=1)]
    example = EvalExample(id="q", question="What causes tides?", gold_doc_ids=("d1",))
    two = "The Moon's gravity causes the tides [1]. Lava is magma that reached the surface [2]."
    assert rewrite(two, "json") == "The Moon's gravity causes the tides [1]."
    assert rewrite(two, "inline") == two
    verifier = GroundingVerifier()
    assert answer_rejection(rewrite(two, "json"), chunks, example, verifier, "json") is None
    # in json style both markers land on the last sentence: the first is unsupported there
    assert answer_rejection(two, chunks, example, verifier, "json") == "unsupported sentence"
    assert answer_rejection(two, chunks, example, verifier, "inline") is None
    assert answer_rejection("Lava is magma that reached the surface [2].", chunks, example,
                            verifier) == "cites no gold document"
    assert answer_rejection("The Moon's gravity causes the tides [3].", chunks, example,
                            verifier) == "citations"
    assert answer_rejection("Volcanoes sleep under the oceans [1].", chunks, example,
                            verifier) == "grounding"
    assert answer_rejection("The documents do not say.", chunks, example,
                            verifier) == "refusal"


def test_training_examples_refuse_the_eval_set_by_id_and_by_question(tmp_path):
    from ragloop.errors import DataLeakError
    from ragloop.evals.datasets import write_dataset
    from ragloop.train.rows import training_examples

    train = [EvalExample(id="a", question="What causes the tides?"),
             EvalExample(id="b", question="What is lava made of?")]
    write_dataset(tmp_path / "train.jsonl", train)
    write_dataset(tmp_path / "ok.jsonl", [EvalExample(id="z", question="Who wrote it?")])
    write_dataset(tmp_path / "by-id.jsonl", [EvalExample(id="b", question="Another one?")])
    write_dataset(tmp_path / "by-text.jsonl", [EvalExample(id="y",
                                                           question="what causes  the TIDES?")])
    assert [e.id for e in training_examples(tmp_path / "train.jsonl",
                                            eval_set=tmp_path / "ok.jsonl", limit=1)] == ["a"]
    for held_out, leaked in (("by-id.jsonl", "b"), ("by-text.jsonl", "a")):
        with pytest.raises(DataLeakError, match=f"e.g. {leaked}"):
            training_examples(tmp_path / "train.jsonl", eval_set=tmp_path / held_out)
