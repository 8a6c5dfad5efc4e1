"""``ragloop train`` end to end on the real embedded model: a few steps of SFT (merged q8_0
GGUF) and DPO (LoRA adapter GGUF, interrupted and resumed), each loaded by the llama.cpp
backend and answering; the lineage record; the gate's exit code; the refusal of rows from
the eval set. Needs the [train] extra: skipped without it, except in CI (CI=true), where
its absence fails."""

import json
import os

import pytest
from typer.testing import CliRunner

from ragloop.cli import app
from ragloop.config import TrainSettings
from ragloop.errors import ExtraMissingError
from ragloop.evals.datasets import write_dataset
from ragloop.evals.fingerprint import file_sha256
from ragloop.models.factory import build_llm
from ragloop.models.llamacpp import default_model_path
from ragloop.models.registry import models_root, read_lineage
from ragloop.records import EvalExample
from ragloop.train import extra
from real_project import ingested_project

pytestmark = pytest.mark.real_model
runner = CliRunner()

TRAIN_SETTINGS = """
[train]
max_steps = 2
batch_size = 1
lora_r = 4
lora_layers = 2
threads = 1
checkpoint_every = 1
"""
QA = [("What pulls on the oceans to cause tides?", "The Moon."),
      ("What reaches the surface when a volcano erupts?", "Lava."),
      ("What adds a smaller tidal force?", "The Sun.")]
EVAL = [EvalExample(id="ev-tides", question="Are ocean tides caused by the Moon?", label="yes"),
        EvalExample(id="ev-volcano", question="Is lava made of ice?", label="no")]


def require_extra():
    try:
        extra.require()
    except ExtraMissingError as err:
        if os.environ.get("CI"):
            pytest.fail(f"CI must install the [train] extra: {err}")
        pytest.skip(str(err))


def write_jsonl(path, rows):
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def project(tmp_path_factory):
    require_extra()
    project = ingested_project(tmp_path_factory.mktemp("train-e2e"), tail=TRAIN_SETTINGS)
    write_dataset(project.root / "eval.jsonl", EVAL)
    return project


@pytest.fixture(scope="module")
def sft(project):
    data = write_jsonl(project.root / "sft.jsonl", [
        {"id": f"tr-{i}", "messages": [{"role": "user", "content": q},
                                       {"role": "assistant", "content": a}]}
        for i, (q, a) in enumerate(QA)])
    result = runner.invoke(app, ["-p", str(project.root), "train", "sft", str(data),
                                 "--out", "tiny", "--eval", str(project.root / "eval.jsonl"),
                                 "--limit", "1"])
    return data, result


def test_sft_writes_a_registered_gguf_that_answers(project, sft):
    data, result = sft
    assert result.exit_code == 0, result.output
    folder = models_root(project.data_dir) / "tiny"
    lineage = read_lineage(folder)
    assert lineage.base.sha256 == file_sha256(default_model_path())
    assert lineage.data.sha256 == file_sha256(data) and lineage.data.rows == 3
    assert lineage.config["lora_r"] == 4 and lineage.seed == 0
    assert lineage.training.steps == 2 and len(lineage.training.losses) == 2
    assert lineage.training.device == "cpu" and lineage.training.dtype == "float32"
    assert lineage.metrics.train_loss.before > 0
    assert lineage.output.kind == "merged-gguf" and lineage.output.quant == "q8_0"
    assert lineage.output_sha256 == file_sha256(folder / "model.gguf")
    # the --eval ran base and tuned on the eval set and recorded both sides
    gate = lineage.metrics.eval
    assert gate.before and gate.after and gate.delta is not None
    assert gate.backend == "llamacpp" and gate.tuned_model == "tiny"
    assert (folder / "loss.svg").read_text().startswith("<?xml")
    assert "base vs tuned" in result.output and "loss" in result.output
    llm = build_llm(project.settings.llm.model_copy(update={"model": "tiny"}), None,
                    models_dir=models_root(project.data_dir))
    assert llm.model_id.startswith("tiny@")
    assert llm.complete([{"role": "user", "content": QA[0][0]}], max_tokens=16).text.strip()


def test_dpo_adapter_resumes_after_an_interruption_and_loads(project):
    from ragloop.train.trainer import train_model

    data = write_jsonl(project.root / "dpo.jsonl", [
        {"prompt": [{"role": "user", "content": q}],
         "chosen": [{"role": "assistant", "content": a}],
         "rejected": [{"role": "assistant", "content": "I do not know."}]} for q, a in QA])
    settings = TrainSettings(max_steps=2, batch_size=1, lora_r=4, lora_layers=2, threads=1,
                             checkpoint_every=1, output="lora-gguf")

    def interrupt(step, total, loss):
        if step == 1:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        train_model(project, "dpo", data, "tiny-dpo", settings=settings, on_step=interrupt)
    outcome = train_model(project, "dpo", data, "tiny-dpo", settings=settings)
    training = outcome.lineage.training
    assert training.resumed_from == 1 and training.steps == 2
    assert len(training.losses) == 2 and "reward_accuracy" in training.stats
    # LoRA starts as the identity (B = 0): policy = reference, so the first loss is log 2
    assert training.losses[0] == pytest.approx(0.6931, abs=1e-3)
    assert outcome.lineage.output.kind == "lora-gguf"
    assert (outcome.folder / "adapter.gguf").stat().st_size < 5_000_000
    llm = build_llm(project.settings.llm.model_copy(update={"model": "tiny-dpo"}), None,
                    models_dir=models_root(project.data_dir))
    assert llm.backend.lora_path == outcome.folder / "adapter.gguf"
    assert llm.complete([{"role": "user", "content": QA[1][0]}], max_tokens=16).text.strip()


def test_kto_trains_from_labelled_answers(project):
    from ragloop.train.trainer import train_model

    data = write_jsonl(project.root / "kto.jsonl", [
        {"prompt": [{"role": "user", "content": q}], "completion": [
            {"role": "assistant", "content": a if i % 2 == 0 else "I do not know."}],
         "label": i % 2 == 0} for i, (q, a) in enumerate(QA)])
    settings = TrainSettings(max_steps=2, batch_size=1, lora_r=4, lora_layers=2, threads=1,
                             output="lora-gguf")
    outcome = train_model(project, "kto", data, "tiny-kto", settings=settings)
    losses = outcome.lineage.training.losses
    assert losses[0] == pytest.approx(0.5, abs=1e-3)  # 1 − σ(0) while policy = reference
    assert (outcome.folder / "adapter.gguf").is_file()


def test_gate_exit_code_follows_the_paired_interval(project, sft):
    assert sft[1].exit_code == 0
    result = runner.invoke(app, ["-p", str(project.root), "train", "gate", "tiny", "--eval",
                                 str(project.root / "eval.jsonl")])
    gate = read_lineage(models_root(project.data_dir) / "tiny").metrics.eval
    passed, delta = gate.gate_passed, gate.delta
    assert passed == (delta["low"] > 0)
    assert result.exit_code == (0 if passed else 4), result.output
    assert "gate label_accuracy" in result.output


def test_rows_from_the_eval_set_are_refused_before_training(project):
    data = write_jsonl(project.root / "leak.jsonl", [
        {"id": "ev-tides", "messages": [{"role": "user", "content": "Anything."},
                                        {"role": "assistant", "content": "Yes."}]}])
    result = runner.invoke(app, ["-p", str(project.root), "train", "sft", str(data), "--out",
                                 "leaky", "--eval", str(project.root / "eval.jsonl")])
    assert result.exit_code == 1
    assert "come from the eval set" in " ".join(result.output.split())
    assert not (models_root(project.data_dir) / "leaky").exists()
