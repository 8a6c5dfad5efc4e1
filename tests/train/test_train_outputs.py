"""Training any Hugging Face causal LM (a tiny Qwen2 built from a config, not the shipped
Llama) into the outputs servers load: a PEFT adapter folder loaded by peft, merged
safetensors loaded by transformers that equal base + adapter; ``--device auto`` on the CPU,
packing and gradient checkpointing. Needs the [train] extra (CI installs it)."""

import json

import pytest
from test_train_real import require_extra, write_jsonl
from tiny_model import sft_rows, tiny_base
from typer.testing import CliRunner

from ragloop.cli import app
from ragloop.config import TrainSettings
from ragloop.errors import TrainError
from ragloop.models.registry import models_root, read_lineage
from real_project import make_project

runner = CliRunner()
TRAIN = """
[train]
lora_r = 4
lora_alpha = 8
lora_layers = 0
learning_rate = 0.05
batch_size = 2
max_steps = 3
threads = 1
"""
PROMPT = [{"role": "user", "content": "What causes ocean tides?"}]


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    require_extra()
    root = tmp_path_factory.mktemp("train-outputs")
    project = make_project(root / "project", tail=TRAIN)
    base = tiny_base(root / "tiny-qwen2")
    rows = write_jsonl(root / "rows.jsonl", sft_rows())
    return project, base, rows


@pytest.fixture(scope="module")
def peft_adapter(setup):
    project, base, rows = setup
    result = runner.invoke(app, ["-p", str(project.root), "train", "sft", str(rows), "--out",
                                 "tiny-peft", "--base", str(base), "--output", "peft-adapter",
                                 "--device", "auto"])
    assert result.exit_code == 0, result.output
    return models_root(project.data_dir) / "tiny-peft"


def logits(model, tokenizer, messages=PROMPT):
    import torch

    ids = tokenizer.apply_chat_template(messages, add_generation_prompt=True,
                                        return_tensors="pt", return_dict=True)["input_ids"]
    with torch.no_grad():
        return model(input_ids=ids).logits[0]


def test_a_peft_adapter_of_any_hf_base_loads_in_peft(setup, peft_adapter):
    from peft import PeftModel
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from ragloop.train.outputs import tree_sha256

    _, base, _ = setup
    lineage = read_lineage(peft_adapter)
    assert lineage.output.kind == "peft-adapter" and lineage.base.gguf is None
    assert lineage.output.sha256 == tree_sha256(peft_adapter / "adapter")
    # --device auto on a machine without a GPU: the CPU, in float32
    assert lineage.training.device == "cpu" and lineage.training.dtype == "float32"
    assert lineage.config["device"] == "auto"
    config = json.loads((peft_adapter / "adapter" / "adapter_config.json").read_text())
    # "all-linear": every projection of the Qwen2 blocks, whatever the architecture
    adapted = {m.rsplit(".", 1)[-1] for m in config["target_modules"]}
    assert adapted == {"q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj",
                       "down_proj"}
    tokenizer = AutoTokenizer.from_pretrained(base)
    plain = logits(AutoModelForCausalLM.from_pretrained(base), tokenizer)
    tuned = PeftModel.from_pretrained(AutoModelForCausalLM.from_pretrained(base),
                                      peft_adapter / "adapter")
    assert (logits(tuned, tokenizer) - plain).abs().max() > 1e-3  # the adapter was trained


def test_merged_safetensors_equal_the_base_with_its_adapter(setup, peft_adapter):
    """Same rows, seed and settings, packed and with gradient checkpointing this time: the
    merged model must answer as the base with the first run's adapter does."""
    from peft import PeftModel
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from ragloop.train.trainer import train_model

    project, base, rows = setup
    settings = project.settings.train.model_copy(update={
        "output": "merged-safetensors", "packing": "on", "gradient_checkpointing": "on"})
    outcome = train_model(project, "sft", rows, "tiny-merged", settings=settings, base=base)
    assert outcome.lineage.output.kind == "merged-safetensors"
    folder = outcome.folder / "model"
    merged = AutoModelForCausalLM.from_pretrained(folder)
    tokenizer = AutoTokenizer.from_pretrained(folder)  # the folder is self-contained
    with_adapter = PeftModel.from_pretrained(AutoModelForCausalLM.from_pretrained(base),
                                             peft_adapter / "adapter")
    diff = (logits(merged, tokenizer) - logits(with_adapter, tokenizer)).abs().max()
    assert diff < 1e-3
    first = read_lineage(peft_adapter).training.losses
    assert outcome.lineage.training.losses == pytest.approx(first, abs=1e-4)


def test_gguf_outputs_are_refused_before_training_a_base_without_its_gguf(setup):
    from ragloop.train.trainer import train_model

    project, base, rows = setup
    settings = project.settings.train.model_copy(update={"output": "merged-gguf"})
    with pytest.raises(TrainError, match="peft-adapter"):
        train_model(project, "sft", rows, "tiny-gguf", settings=settings, base=base)
    assert not (project.data_dir / "train" / "runs" / "tiny-gguf").exists()


def test_device_auto_is_the_cpu_here_and_a_missing_device_is_named():
    import torch

    from ragloop.train.device import placement

    require_extra()
    where = placement(TrainSettings())
    if not torch.cuda.is_available():
        assert (where.device, where.dtype) == ("cpu", "float32")
        assert not where.gradient_checkpointing and not where.packing
        with pytest.raises(TrainError, match="no CUDA GPU"):
            placement(TrainSettings(device="cuda"))
        with pytest.raises(TrainError, match="needs a CUDA GPU"):
            placement(TrainSettings(load_in_4bit=True))
    assert placement(TrainSettings(device="cpu", packing="on")).packing


def test_packed_losses_equal_one_example_at_a_time(setup):
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from ragloop.train.loop import encode, packs
    from ragloop.train.objectives import SFTObjective, packed_sft_losses
    from ragloop.train.rows import load_rows

    _, base, rows = setup
    model = AutoModelForCausalLM.from_pretrained(base).eval()
    tokenizer = AutoTokenizer.from_pretrained(base)
    encoded = [encode(tokenizer, row) for row in load_rows(rows, "sft")]
    groups = packs(encoded, max_length=2 * max(e.length for e in encoded))
    assert len(groups) < len(encoded) and sum(map(len, groups)) == len(encoded)
    with torch.no_grad():
        packed = [float(loss) for group in groups for loss in packed_sft_losses(model, group)]
        alone = [float(SFTObjective()(model, e)[0]) for e in encoded]
    assert packed == pytest.approx(alone, abs=1e-5)
