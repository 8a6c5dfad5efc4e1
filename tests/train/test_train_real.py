"""``ragloop train`` end to end on the real embedded model: a few steps of SFT (merged q8_0
GGUF) and DPO (LoRA GGUF, interrupted and resumed), each loaded by the llama.cpp backend and
answering; the lineage record; the gate's exit code, in process and for served models (the
LoRA GGUF and the base served by a real llama.cpp server, gated through the openai backend);
the refusal of rows from the eval set. Needs the [train] extra: skipped without it, except
in CI (CI=true), where its absence fails."""

import json
import os
import shutil
import socket
import subprocess
import sys
import time

import httpx
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


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


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


@pytest.fixture(scope="module")
def dpo_adapter(project):
    """DPO into a LoRA GGUF, interrupted after its first step and resumed."""
    from ragloop.train.trainer import train_model

    data = write_jsonl(project.root / "dpo.jsonl", [
        {"prompt": [{"role": "user", "content": q}],
         "chosen": [{"role": "assistant", "content": a}],
         "rejected": [{"role": "assistant", "content": "I do not know."}]} for q, a in QA])
    # a large learning rate, so that two steps change what the model says measurably
    settings = TrainSettings(max_steps=2, batch_size=1, lora_r=4, lora_layers=2, threads=1,
                             checkpoint_every=1, output="lora-gguf", learning_rate=0.02)

    def interrupt(step, total, loss):
        if step == 1:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        train_model(project, "dpo", data, "tiny-dpo", settings=settings, on_step=interrupt)
    return train_model(project, "dpo", data, "tiny-dpo", settings=settings)


def test_dpo_adapter_resumes_after_an_interruption_and_loads(project, dpo_adapter):
    outcome = dpo_adapter
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


@pytest.fixture(scope="module")
def server(tmp_path_factory, dpo_adapter):
    folder = tmp_path_factory.mktemp("llama-server")
    port = free_port()
    base = {"model": str(default_model_path()), "n_ctx": 2048, "n_threads": 2}
    config = {"host": "127.0.0.1", "port": port, "models": [
        {**base, "model_alias": "smollm2-base"},
        {**base, "model_alias": "tiny-dpo",
         "lora_path": str(dpo_adapter.folder / "adapter.gguf")}]}
    (folder / "config.json").write_text(json.dumps(config), encoding="utf-8")
    log_path = folder / "server.log"  # a file: llama.cpp's log would fill a pipe and stall
    with log_path.open("wb") as log:
        proc = subprocess.Popen([sys.executable, "-m", "llama_cpp.server", "--config_file",
                                 str(folder / "config.json")], stdout=log,
                                stderr=subprocess.STDOUT)
        url = f"http://127.0.0.1:{port}/v1"
        deadline = time.time() + 60
        while True:
            if proc.poll() is not None:
                pytest.fail(f"llama_cpp.server exited: {log_path.read_text()[-2000:]}")
            try:
                if httpx.get(f"{url}/models", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                if time.time() > deadline:
                    proc.kill()
                    pytest.fail("llama_cpp.server did not start within 60 s")
                time.sleep(0.3)
        yield url
        proc.terminate()
        proc.wait(10)


def next_token_logprobs(url: str, model: str) -> dict[str, float]:
    response = httpx.post(f"{url}/completions", json={
        "model": model, "prompt": "Ocean tides are caused by", "max_tokens": 1,
        "temperature": 0, "logprobs": 5}, timeout=60)
    response.raise_for_status()
    return response.json()["choices"][0]["logprobs"]["top_logprobs"][0]


def test_the_server_applies_the_lora_gguf_to_the_base(server):
    base, tuned = (next_token_logprobs(server, m) for m in ("smollm2-base", "tiny-dpo"))
    shared = set(base) & set(tuned)
    assert shared and max(abs(base[t] - tuned[t]) for t in shared) > 1e-3


def test_train_gate_compares_served_base_and_tuned_through_the_openai_backend(
        tmp_path, server, dpo_adapter, project):
    served = ingested_project(tmp_path / "served", tail=f"""
[llm]
backend = "openai"
base_url = "{server}"
model = "smollm2-base"
""")
    shutil.copytree(dpo_adapter.folder, models_root(served.data_dir) / "tiny-dpo")
    result = runner.invoke(app, ["-p", str(served.root), "--no-cache", "train", "gate",
                                 "tiny-dpo", "--eval", str(project.root / "eval.jsonl"),
                                 "--no-gate"])
    assert result.exit_code == 0, result.output
    assert "openai: base smollm2-base, tuned tiny-dpo" in result.output
    gate = read_lineage(models_root(served.data_dir) / "tiny-dpo").metrics.eval
    assert (gate.backend, gate.base_model, gate.tuned_model) == ("openai", "smollm2-base",
                                                                  "tiny-dpo")
    assert gate.before["n_examples"] == gate.after["n_examples"] == 2 and len(gate.runs) == 2
    manifests = [json.loads((served.root / run / "run.json").read_text()) for run in gate.runs]
    assert [m["model"]["model"] for m in manifests] == ["smollm2-base", "tiny-dpo"]


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
