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
from ragloop.models.registry import list_models, register_model, resolve_model
from ragloop.records import EvalRecord
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


def test_registry_resolves_names_and_refuses_unknown_ones(tmp_path):
    root = tmp_path / "models"
    with pytest.raises(ModelNotFoundError, match="ragloop train"):
        resolve_model(root, "tuned")
    with pytest.raises(ModelError, match="model name"):
        resolve_model(root, "../escape")
    gguf = tmp_path / "made.gguf"
    os.symlink(default_model_path(), gguf)  # stands for a trained model's file
    lineage = {"name": "tuned", "output": {"kind": "merged", "file": "model.gguf"},
               "output_sha256": "ab" * 32}
    folder = register_model(root, "tuned", {"model.gguf": gguf}, lineage)
    assert json.loads((folder / "lineage.json").read_text())["name"] == "tuned"
    assert list_models(root) == ["tuned"]
    found = resolve_model(root, "tuned")
    assert found.path == folder / "model.gguf" and found.lora_path is None
    assert found.model_id == "tuned@abababababab"
    with pytest.raises(ModelNotFoundError, match="registered: tuned"):
        resolve_model(root, "other")


@pytest.mark.real_model
def test_llm_model_name_selects_a_registered_model(tmp_path):
    root = tmp_path / "models"
    gguf = tmp_path / "made.gguf"
    os.symlink(default_model_path(), gguf)
    register_model(root, "tuned", {"model.gguf": gguf},
                   {"output": {"kind": "merged", "file": "model.gguf"},
                    "output_sha256": "cd" * 32})
    llm = build_llm(LLMSettings(model="tuned"), None, models_dir=root)
    assert llm.model_id == "tuned@cdcdcdcdcdcd"  # the cache key can tell tuned models apart
    assert llm.complete([{"role": "user", "content": "Say hi."}], max_tokens=4).text
    with pytest.raises(ModelNotFoundError):
        build_llm(LLMSettings(model="nope"), None, models_dir=root)
