"""The model training starts from: a GGUF (the embedded default, or any llama.cpp file
transformers can dequantise) converted once through transformers' GGUF loader and cached
in the project, or a Hugging Face folder of any causal-LM architecture, used as is.

transformers marks a model loaded from GGUF as "quantized with gguf" and refuses to save it,
so the dequantised weights are loaded into a fresh model built from the same config.
"""

from __future__ import annotations

import json
import shutil
from dataclasses import dataclass
from pathlib import Path

from ragloop.errors import TrainError
from ragloop.evals.fingerprint import file_sha256
from ragloop.train.device import Placement

SOURCE = "ragloop-source.json"


@dataclass(frozen=True)
class BaseModel:
    hf_dir: Path  # what torch trains
    gguf: Path | None  # the GGUF it came from: metadata and tokenizer of the output GGUF
    sha256: str  # of the GGUF (or of the folder's weights)


def _folder_sha256(folder: Path) -> str:
    import hashlib

    digest = hashlib.sha256()
    for path in sorted(folder.glob("*.safetensors")) + sorted(folder.glob("*.bin")):
        digest.update(path.name.encode())
        digest.update(file_sha256(path).encode())
    return digest.hexdigest()


def dequantise_gguf(gguf: Path, out: Path, sha256: str) -> None:
    """Write ``gguf`` as a float32 safetensors folder with its tokenizer and chat template."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    loaded = AutoModelForCausalLM.from_pretrained(gguf.parent, gguf_file=gguf.name,
                                                  dtype=torch.float32)
    config = loaded.config
    if hasattr(config, "quantization_config"):
        del config.quantization_config
    fresh = type(loaded)(config)
    fresh.load_state_dict(loaded.state_dict())
    tmp = out.with_name(out.name + ".tmp")
    if tmp.exists():
        shutil.rmtree(tmp)
    fresh.save_pretrained(tmp)
    AutoTokenizer.from_pretrained(gguf.parent, gguf_file=gguf.name).save_pretrained(tmp)
    (tmp / SOURCE).write_text(json.dumps({"gguf": str(gguf), "sha256": sha256}),
                              encoding="utf-8")
    tmp.rename(out)


def prepare_base(base: Path, cache_root: Path, *, gguf_template: Path | None = None
                 ) -> BaseModel:
    """``base``: a ``.gguf`` file (converted into ``cache_root/<sha>/`` the first time) or an
    HF folder. ``gguf_template``: for an HF folder, the GGUF whose metadata and tokenizer a
    merged output copies (without one, only a LoRA adapter GGUF can be written)."""
    base = Path(base).expanduser()
    if base.is_dir():
        if not (base / "config.json").is_file():
            raise TrainError(f"{base}: not a Hugging Face model folder (no config.json)")
        source = base / SOURCE
        gguf = gguf_template
        if gguf is None and source.is_file():
            gguf = Path(json.loads(source.read_text(encoding="utf-8"))["gguf"])
        return BaseModel(base, gguf, _folder_sha256(base))
    if not base.is_file() or base.suffix != ".gguf":
        raise TrainError(f"{base}: the base must be a .gguf file or a Hugging Face folder")
    sha = file_sha256(base)
    folder = Path(cache_root) / sha[:16]
    if not (folder / "config.json").is_file():
        folder.parent.mkdir(parents=True, exist_ok=True)
        dequantise_gguf(base, folder, sha)
    return BaseModel(folder, base, sha)


def model_type(base: BaseModel) -> str:
    """The architecture of ``base`` (``config.json``'s ``model_type``: "llama", "qwen2" ...)."""
    config = json.loads((base.hf_dir / "config.json").read_text(encoding="utf-8"))
    return str(config.get("model_type", ""))


def load_base(base: BaseModel, where: Placement | None = None):
    """(model, tokenizer) on ``where``'s device in its dtype (default: float32 on the CPU);
    with ``load_in_4bit``, the weights quantised to 4 bits on the GPU (QLoRA)."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    options: dict = {"dtype": where.torch_dtype if where else torch.float32}
    if where is not None and where.load_in_4bit:
        from transformers import BitsAndBytesConfig

        options["quantization_config"] = BitsAndBytesConfig(
            load_in_4bit=True, bnb_4bit_quant_type="nf4",
            bnb_4bit_compute_dtype=where.torch_dtype)
        options["device_map"] = {"": 0}
    model = AutoModelForCausalLM.from_pretrained(base.hf_dir, **options)
    if where is not None and where.load_in_4bit:
        from peft import prepare_model_for_kbit_training

        model = prepare_model_for_kbit_training(
            model, use_gradient_checkpointing=where.gradient_checkpointing)
    elif where is not None and where.device != "cpu":
        model = model.to(where.device)
    tokenizer = AutoTokenizer.from_pretrained(base.hf_dir)
    if not tokenizer.chat_template:
        raise TrainError(f"{base.hf_dir}: the tokenizer has no chat template")
    return model, tokenizer
