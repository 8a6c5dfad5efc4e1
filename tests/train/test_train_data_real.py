"""``ragloop train data golden|selfgen`` on the real pipeline (SmolLM2 + MiniLM, a two-file
project): prompts as the pipeline builds them, verified self-generation with its report, and
the refusal of examples from the eval set. No torch needed."""

import json

import pytest
from typer.testing import CliRunner

from ragloop.cli import app
from ragloop.evals.datasets import write_dataset
from ragloop.records import EvalExample
from ragloop.train.rows import load_rows
from real_project import ingested_project

pytestmark = pytest.mark.real_model
runner = CliRunner()

TRAIN = [EvalExample(id="tr-1", question="Are ocean tides caused by the Moon?", label="yes",
                     reference_answers=("Yes, mainly by the gravity of the Moon.",)),
         EvalExample(id="tr-2", question="Is lava made of ice?", label="no",
                     reference_answers=("No, lava is magma that reached the surface.",))]


@pytest.fixture(scope="module")
def project(tmp_path_factory):
    from ragloop.pipeline import Pipeline

    project = ingested_project(tmp_path_factory.mktemp("train-data"), max_tokens=48)
    with Pipeline(project) as pipeline:
        doc_ids = {e.source.rsplit("/", 1)[-1]: e.doc_id for e in pipeline.store.documents()}
    gold = {"tr-1": doc_ids["tides.md"], "tr-2": doc_ids["volcanoes.md"]}
    write_dataset(project.root / "train.jsonl", [
        e.model_copy(update={"gold_doc_ids": (gold[e.id],)}) for e in TRAIN])
    return project


def invoke(project, *args):
    result = runner.invoke(app, ["-p", str(project.root), "train", "data", *map(str, args)])
    result.text = " ".join(result.output.split())
    return result


def test_golden_rows_carry_the_pipeline_prompt_and_the_gold_label(project, tmp_path):
    out = tmp_path / "sft.jsonl"
    result = invoke(project, "golden", project.root / "train.jsonl", out, "--balance", "none")
    assert result.exit_code == 0, result.output
    rows = load_rows(out, "sft")
    assert [r.id for r in rows] == ["tr-1", "tr-2"]
    first = rows[0]
    assert first.prompt[0]["role"] == "system"  # the grounded prompt, as at answer time
    user = first.prompt[-1]["content"]
    assert "Documents:" in user and "Answer with one word first: no, yes." in user
    answer = json.loads(first.completion[0]["content"])  # [answer] citation_style = "json"
    assert answer["answer"].startswith("Yes. ")
    assert answer["sources"]  # the tides passage was retrieved and is cited
    dpo = tmp_path / "dpo.jsonl"
    assert invoke(project, "golden", project.root / "train.jsonl", dpo, "-f", "dpo").exit_code \
        == 0
    pair = load_rows(dpo, "dpo")[0]
    assert json.loads(pair.rejected[0]["content"])["answer"].startswith("No. ")


def test_selfgen_reports_acceptance_and_writes_only_verified_rows(project, tmp_path):
    from ragloop.evals.metrics.answer import extract_label

    out = tmp_path / "gen.jsonl"
    result = invoke(project, "selfgen", project.root / "train.jsonl", out, "--samples", "2",
                    "--limit", "1")
    assert result.exit_code == 0, result.output
    report = json.loads((tmp_path / "gen.report.json").read_text())
    assert report["questions"] == 1 and report["samples"] == 2
    assert report["accepted"] + sum(report["rejected_because"].values()) == 2
    assert 0 <= report["acceptance_rate"] <= 1 and report["seconds"] > 0
    sft = load_rows(tmp_path / "gen.sft.jsonl", "sft")
    assert len(sft) == report["questions_with_accepted"]
    gold = {e.id: e.label for e in TRAIN}
    for row in sft:  # an accepted answer's first label is the gold one
        text = json.loads(row.completion[0]["content"])["answer"]
        assert extract_label(text, ("no", "yes")) == gold[row.id]


def test_examples_from_the_eval_set_are_refused(project, tmp_path):
    result = invoke(project, "golden", project.root / "train.jsonl", tmp_path / "x.jsonl",
                    "--eval", project.root / "train.jsonl")
    assert result.exit_code == 2 and "are in the eval set" in result.text
    assert not (tmp_path / "x.jsonl").exists()


def test_judge_rows_quote_the_retrieved_context_or_claim_what_it_does_not_say(project,
                                                                               tmp_path):
    out = tmp_path / "judge.jsonl"
    result = invoke(project, "judge", out, "--dataset", project.root / "train.jsonl",
                    "--context-chunks", 1)
    assert result.exit_code == 0, result.output
    assert "wrote 4 sft faithfulness-judge rows (0 human-labelled) from 2 contexts" \
        in result.text
    rows = load_rows(out, "sft")
    verdicts = []
    for row in rows:
        assert row.id in {"tr-1", "tr-2"}
        user = row.prompt[-1]["content"]
        context = user.split("Context:\n", 1)[1].split("\n\nQuestion:", 1)[0]
        answer = user.split("\n\nAnswer: ", 1)[1].split("\n\nIs every claim", 1)[0]
        verdict = json.loads(row.completion[0]["content"])["verdict"]
        verdicts.append(verdict)
        quoted = answer.removesuffix(" [1]")
        # faithful: a verbatim sentence of the context; unfaithful: not in the context
        assert (quoted in context) == (verdict == "faithful"), (answer, context)
    assert sorted(verdicts) == ["faithful", "faithful", "unfaithful", "unfaithful"]
    dpo = tmp_path / "judge-dpo.jsonl"
    assert invoke(project, "judge", dpo, "-d", project.root / "train.jsonl", "-f",
                  "dpo").exit_code == 0
    pairs = load_rows(dpo, "dpo")
    assert all(json.loads(p.completion[0]["content"])["verdict"]
               != json.loads(p.rejected[0]["content"])["verdict"] for p in pairs)


def test_distilled_judge_rows_carry_the_likelihood_judges_verdict_on_the_models_answers(
        project, tmp_path):
    import re

    from ragloop.evals.judge_agreement import likelihood_threshold
    from ragloop.evals.likelihood import context_gain
    from ragloop.pipeline import Pipeline

    out = tmp_path / "distilled.jsonl"
    result = invoke(project, "judge", out, "--dataset", project.root / "train.jsonl",
                    "--distill", "--no-constructed", "--margin", "0.25")
    assert result.exit_code == 0, result.output
    with Pipeline(project) as pipeline:
        judge_llm = pipeline.judge_llm
        cut = likelihood_threshold(None, judge_llm.model_id, "v1")
    assert cut is not None  # shipped for the default model
    found = re.search(r"distilled: (\d+) of .*threshold " + re.escape(f"{cut:+.2f}")
                      + r" ± 0\.25 .*: (\d+) faithful, (\d+) unfaithful; left out (\d+) near "
                      r"the threshold, (\d+) empty, (\d+) failed", result.text)
    assert found, result.text
    kept, faithful, unfaithful, unsure, empty, failed = map(int, found.groups())
    assert kept + unsure + empty + failed == 4  # two contexts, two answers the model wrote
    rows = load_rows(out, "sft")
    assert len(rows) == kept == faithful + unfaithful
    with Pipeline(project) as pipeline:
        for row in rows:
            user = row.prompt[-1]["content"]
            context = user.split("Context:\n", 1)[1].split("\n\nQuestion:", 1)[0]
            question = user.split("\n\nQuestion: ", 1)[1].split("\n\nAnswer: ", 1)[0]
            answer = user.split("\n\nAnswer: ", 1)[1].split("\n\nIs every claim", 1)[0]
            gain = context_gain(pipeline.judge_llm, question=question, answer=answer,
                                context=context)
            verdict = json.loads(row.completion[0]["content"])["verdict"]
            assert (verdict == "faithful") == (gain >= cut + 0.25), (answer, gain)
            assert abs(gain - cut) >= 0.25


def test_judge_rows_from_human_labels_use_the_train_split_only(project, tmp_path):
    context = ("The tide rises twice a day. The moon's gravity pulls the oceans toward it. "
               "Lava is molten rock that reached the surface.")
    labels = tmp_path / "labels.jsonl"
    items = [("h-1", "The moon's gravity pulls on the oceans.", "faithful", "train"),
             ("h-2", "The sun alone causes the tides.", "unfaithful", "train"),
             ("h-3", "Tides rise twice a day.", "faithful", "test")]
    labels.write_text("".join(json.dumps(
        {"id": i, "judge": "faithfulness", "question": "What causes tides?", "answer": a,
         "context": context if split == "train" else "Held-out passage.", "human": h,
         "split": split}) + "\n" for i, a, h, split in items))
    out = tmp_path / "judge.jsonl"
    result = invoke(project, "judge", out, "--labels", labels, "--label-repeat", 2)
    assert result.exit_code == 0, result.output
    assert "(4 human-labelled) from 1 contexts" in result.text
    rows = load_rows(out, "sft")
    verdicts = {}
    for row in rows:
        user = row.prompt[-1]["content"]
        assert "Held-out passage" not in user
        answer = user.split("\n\nAnswer: ", 1)[1].split("\n\nIs every claim", 1)[0]
        verdicts.setdefault(row.id, []).append(
            (answer, json.loads(row.completion[0]["content"])["verdict"]))
    assert verdicts["h-2"].count(("The sun alone causes the tides.", "unfaithful")) == 2
    assert ("The moon's gravity pulls on the oceans.", "faithful") in verdicts["h-1"]
    constructed = [v for v in verdicts["h-1"] if v[0] != "The moon's gravity pulls on the "
                   "oceans."]  # the passage's own rows: a quoted sentence is faithful
    assert constructed and all((a.removesuffix(" [1]") in context) == (v == "faithful")
                               for a, v in constructed)
    assert invoke(project, "judge", out).exit_code == 2  # neither source given


def test_the_extract_teacher_answers_where_no_sample_passes(project):
    """A model whose every sample fails (a fake LLM that refuses, named as such): with the
    extract teacher each question still gets an SFT row, a verbatim sentence of the real
    retrieved context citing where it came from, and the refusal becomes the DPO rejected."""
    from fakes import FakeLLMBackend
    from ragloop.models.llm import LLMClient
    from ragloop.pipeline import Pipeline
    from ragloop.train.data_selfgen import self_generate

    refusing = LLMClient(FakeLLMBackend(json.dumps({"answer": "The documents do not say.",
                                                    "sources": []})))
    unlabelled = [EvalExample(id="q-1", question="What causes the ocean tides?"),
                  EvalExample(id="q-2", question="What is lava?")]
    with Pipeline(project, llm=refusing) as pipeline:
        plain = self_generate(pipeline, unlabelled, samples=1)
        taught = self_generate(pipeline, unlabelled, samples=1, teacher="extract")
    assert plain.sft == [] and plain.rejected_because["refusal"] == 2
    assert taught.teacher_rows == len(taught.sft) == 2 and taught.accepted == 0
    for row in taught.sft:
        answer = json.loads(row["completion"][0]["content"])
        documents = row["prompt"][-1]["content"]
        assert answer["sources"] and answer["answer"].split(". ")[0] in documents
    assert [json.loads(r["rejected"][0]["content"])["answer"] for r in taught.dpo] == \
        ["The documents do not say."] * 2


def test_grounded_rows_cite_the_supporting_sentence_or_refuse_without_it(project, tmp_path):
    """RAFT rows on the real pipeline: each prompt is the pipeline's grounded prompt over its
    retrieval (the other document kept as a distractor); the target is the supporting
    sentence, verbatim, citing the chunk it is in; the refusal row's context lacks the gold
    document."""
    from ragloop.answer.prompt import REFUSAL

    out = tmp_path / "grounded.jsonl"
    # two one-paragraph documents: every answer quotes its chunk's opening sentence
    result = invoke(project, "grounded", project.root / "train.jsonl", out,
                    "--refusal-share", "0.5", "--opening-share", "1")
    assert result.exit_code == 0, result.output
    report = json.loads((tmp_path / "grounded.report.json").read_text())
    assert (report["answer_rows"], report["refusal_rows"]) == (1, 1), report
    docs = {"tr-1": "tides are caused mainly by the gravity of the Moon",
            "tr-2": "magma from inside the Earth rises"}
    for row in load_rows(out, "sft"):
        documents = row.prompt[-1]["content"]
        target = json.loads(row.completion[0]["content"])
        if target["answer"] == REFUSAL:
            assert target["sources"] == [] and docs[row.id] not in documents
            continue
        assert docs[row.id] in target["answer"] and len(target["sources"]) == 1
        cited = documents.split(f"[{target['sources'][0]}]", 1)[1].split("\n[", 1)[0]
        assert target["answer"] in " ".join(cited.split())  # verbatim, from the cited chunk
        assert len(documents.split("\n[")) >= 2  # the distractor stays in the prompt
    leak = invoke(project, "grounded", project.root / "train.jsonl", out, "--eval",
                  project.root / "train.jsonl")
    assert leak.exit_code == 2 and "are in the eval set" in leak.text
