"""The gate's decision on paired runs, and the model registry behind ``[llm] model``."""

import json
import os
from pathlib import Path

import pytest

from ragloop.config import LLMSettings
from ragloop.errors import ModelError, ModelNotFoundError
from ragloop.evals.compare import compare_runs
from ragloop.evals.runs import Run, aggregate
from ragloop.models.factory import build_llm
from ragloop.models.llamacpp import default_model_path
from ragloop.models.registry import list_models, read_lineage, register_model, resolve_model
from ragloop.records import (
    EvalRecord,
    ModelLineage,
    TrainedBase,
    TrainedData,
    TrainedOutput,
    TrainingCost,
)
from ragloop.train.gate import decide


def run(name: str, correct: list[int]) -> Run:
    records = [EvalRecord(id=f"q{i}", question=f"question {i}",
                          scores={"label_accuracy": float(c)}) for i, c in enumerate(correct)]
    return Run(Path(name), {}, records, aggregate(records))


def test_the_gate_passes_only_with_the_interval_above_zero():
    base = run("base", [0] * 30 + [1] * 10)
    better = compare_runs(base, run("tuned", [1] * 30 + [1] * 10))
    delta, passed, message = decide(better, "label_accuracy")
    assert passed and delta.low > 0 and "better" in message
    # one more right answer out of 40: positive delta, interval reaches zero
    slightly = compare_runs(base, run("tuned", [1] + [0] * 29 + [1] * 10))
    delta, passed, message = decide(slightly, "label_accuracy")
    assert delta.delta > 0 and delta.low <= 0 and not passed and "not better" in message
    same = compare_runs(base, base)
    assert not decide(same, "label_accuracy")[1]
    missing = decide(same, "token_f1")
    assert missing[0] is None and not missing[1] and "not scored" in missing[2]


def lineage(name: str, kind: str, file: str, sha: str, **output) -> ModelLineage:
    return ModelLineage(
        name=name, created="2025-01-01T00:00:00+00:00", method="sft",
        base=TrainedBase(path="base.gguf", hf_dir="hf", gguf="base.gguf"),
        data=TrainedData(path="rows.jsonl", sha256="00", rows=1),
        output=TrainedOutput(kind=kind, file=file, sha256=sha, **output),
        training=TrainingCost(steps=1, examples_seen=1, seconds=1.0, s_per_example=1.0))


def test_registry_resolves_names_and_refuses_unknown_ones(tmp_path):
    root = tmp_path / "models"
    with pytest.raises(ModelNotFoundError, match="ragloop train"):
        resolve_model(root, "tuned")
    with pytest.raises(ModelError, match="model name"):
        resolve_model(root, "../escape")
    gguf = tmp_path / "made.gguf"
    os.symlink(default_model_path(), gguf)  # stands for a trained model's file
    folder = register_model(root, "tuned", gguf,
                            lineage("tuned", "merged-gguf", "model.gguf", "ab" * 32))
    assert json.loads((folder / "lineage.json").read_text())["name"] == "tuned"
    assert list_models(root) == ["tuned"]
    found = resolve_model(root, "tuned")
    assert found.path == folder / "model.gguf" and found.lora_path is None
    assert found.model_id == "tuned@abababababab"
    with pytest.raises(ModelNotFoundError, match="registered: tuned"):
        resolve_model(root, "other")


def test_each_output_kind_is_registered_with_the_same_lineage(tmp_path):
    root = tmp_path / "models"
    adapter = tmp_path / "adapter"
    adapter.mkdir()
    (adapter / "adapter_config.json").write_text("{}")
    register_model(root, "peft", adapter, lineage("peft", "peft-adapter", "adapter", "ef" * 32))
    found = resolve_model(root, "peft")
    assert found.kind == "peft-adapter" and (found.output / "adapter_config.json").is_file()
    with pytest.raises(ModelError, match="OpenAI-compatible server"):
        found.path  # noqa: B018 -- llama.cpp cannot load an adapter folder
    lora = tmp_path / "adapter.gguf"
    lora.write_bytes(b"GGUF")
    register_model(root, "lora", lora, lineage("lora", "lora-gguf", "adapter.gguf", "12" * 32,
                                               base_gguf=str(default_model_path())))
    found = resolve_model(root, "lora")
    assert found.path == default_model_path() and found.lora_path == root / "lora" / \
        "adapter.gguf"
    with pytest.raises(ValueError, match="names the base GGUF"):
        TrainedOutput(kind="lora-gguf", file="adapter.gguf")


def test_lineage_files_of_the_older_format_still_load(tmp_path):
    folder = tmp_path / "models" / "old"
    folder.mkdir(parents=True)
    old = lineage("old", "merged-gguf", "model.gguf", "34" * 32).model_dump(mode="json")
    old["output"]["kind"] = "merged"  # written before the kinds were renamed
    old["output_sha256"] = "34" * 32  # a key the record dropped
    (folder / "lineage.json").write_text(json.dumps(old))
    assert read_lineage(folder).output.kind == "merged-gguf"
    (folder / "lineage.json").write_text("{}")
    with pytest.raises(ModelError, match="not a model lineage"):
        read_lineage(folder)


@pytest.mark.real_model
def test_llm_model_name_selects_a_registered_model(tmp_path):
    root = tmp_path / "models"
    gguf = tmp_path / "made.gguf"
    os.symlink(default_model_path(), gguf)
    register_model(root, "tuned", gguf, lineage("tuned", "merged-gguf", "model.gguf", "cd" * 32))
    llm = build_llm(LLMSettings(model="tuned"), None, models_dir=root)
    assert llm.model_id == "tuned@cdcdcdcdcdcd"  # the cache key can tell tuned models apart
    assert llm.complete([{"role": "user", "content": "Say hi."}], max_tokens=4).text
    with pytest.raises(ModelNotFoundError):
        build_llm(LLMSettings(model="nope"), None, models_dir=root)
