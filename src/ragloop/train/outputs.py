"""What training writes, chosen by ``[train] output``; each kind is registered with the same
lineage (``records.TrainedOutput``):

- ``merged-gguf`` (default): the LoRA merged into the base, one GGUF (``gguf_out``) that the
  llama.cpp backend, a llama.cpp server or Ollama loads as it is;
- ``lora-gguf``: the LoRA matrices alone as a GGUF adapter, a few MB, applied at load time
  to the unchanged base GGUF (``Llama(lora_path=...)``, ``llama-server --lora``);
- ``peft-adapter``: PEFT's adapter folder (``adapter_config.json`` +
  ``adapter_model.safetensors``), what transformers (``PeftModel.from_pretrained``) and
  vLLM's LoRA serving (``--enable-lora --lora-modules NAME=FOLDER``) load;
- ``merged-safetensors``: the merged model as a Hugging Face folder with its tokenizer, for
  any server that loads HF folders (vLLM, TGI, SGLang, transformers).

The GGUF kinds need the base's GGUF (its tokenizer and metadata) and a llama-architecture
model; the other two take any causal LM transformers trains.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

from ragloop.config import TrainSettings
from ragloop.errors import TrainError
from ragloop.evals.fingerprint import file_sha256
from ragloop.records import TrainedOutput
from ragloop.train.base import BaseModel

FILES = {"merged-gguf": "model.gguf", "lora-gguf": "adapter.gguf",
         "peft-adapter": "adapter", "merged-safetensors": "model"}
GGUF_KINDS = ("merged-gguf", "lora-gguf")


def check_output(kind: str, base: BaseModel, model_type: str) -> None:
    """Refuse, before any training, an output this base cannot be written as."""
    if kind not in GGUF_KINDS:
        return
    if base.gguf is None:
        raise TrainError(f"{base.hf_dir}: [train] output = {kind!r} needs the GGUF this "
                         "Hugging Face folder matches (its tokenizer and metadata); train "
                         "from that GGUF, or write output = \"peft-adapter\" or "
                         "\"merged-safetensors\"")
    if model_type != "llama":
        raise TrainError(f"[train] output = {kind!r} writes llama-architecture GGUF only "
                         f"(SmolLM2, Llama); this base is {model_type!r}: write output = "
                         "\"peft-adapter\" or \"merged-safetensors\" and convert it with "
                         "llama.cpp's convert_hf_to_gguf.py")


def tree_sha256(path: Path) -> str:
    """A file's sha256, or a folder's: of its files' relative names and hashes, sorted."""
    path = Path(path)
    if path.is_file():
        return file_sha256(path)
    digest = hashlib.sha256()
    for file in sorted(p for p in path.rglob("*") if p.is_file()):
        digest.update(file.relative_to(path).as_posix().encode())
        digest.update(file_sha256(file).encode())
    return digest.hexdigest()


def tree_bytes(path: Path) -> int:
    path = Path(path)
    if path.is_file():
        return path.stat().st_size
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())


def _cpu_state(model) -> dict:
    return {k: v.detach().to("cpu") for k, v in model.state_dict().items()}


def full_precision(tuned, base: BaseModel, placement):
    """The tuned PEFT model over a full-precision base: itself, unless the base was loaded
    in 4 bits, in which case its adapter is put on the base reloaded unquantised (merging
    into 4-bit weights would round the merged model to 4 bits)."""
    if placement is None or not placement.load_in_4bit:
        return tuned
    from peft import get_peft_model, get_peft_model_state_dict, set_peft_model_state_dict
    from transformers import AutoModelForCausalLM

    full = AutoModelForCausalLM.from_pretrained(base.hf_dir, dtype=placement.torch_dtype)
    model = get_peft_model(full, tuned.peft_config["default"])
    set_peft_model_state_dict(model, get_peft_model_state_dict(tuned))
    return model


def write_output(tuned, tokenizer, base: BaseModel, work_dir: Path, settings: TrainSettings,
                 placement=None) -> tuple[Path, TrainedOutput]:
    """Write ``settings.output`` into ``work_dir``; (what was written, its record)."""
    import shutil

    from ragloop.train.gguf_out import write_lora_gguf, write_merged_gguf

    kind = settings.output
    target = Path(work_dir) / FILES[kind]
    if target.is_dir():
        shutil.rmtree(target)
    config = tuned.base_model.model.config
    extra: dict = {}
    if kind == "lora-gguf":
        from peft import get_peft_model_state_dict

        state = {k: v.detach().to("cpu") for k, v in get_peft_model_state_dict(tuned).items()}
        write_lora_gguf(state, config, target, alpha=settings.lora_alpha)
        extra["base_gguf"] = str(base.gguf)
    elif kind == "peft-adapter":
        tuned.save_pretrained(target)
    else:
        merged = full_precision(tuned, base, placement).merge_and_unload()
        if kind == "merged-gguf":
            write_merged_gguf(_cpu_state(merged), config, base.gguf, target,
                              quant=settings.quant)
            extra["quant"] = settings.quant
        else:
            merged.save_pretrained(target)
            tokenizer.save_pretrained(target)
    return target, TrainedOutput(kind=kind, file=FILES[kind], sha256=tree_sha256(target),
                                 bytes=tree_bytes(target), **extra)
