"""Trained weights back to GGUF for the llama.cpp backend, written with the ``gguf`` package.

Two outputs (README, Post-training, compares them):

- ``merged``: the LoRA merged into the base weights, written at q8_0 or f16. Every metadata
  key (tokenizer, chat template, hyper-parameters) is copied from the base's GGUF, tensors
  are named with gguf's HF→GGUF map, and the q/k projections are permuted back to
  llama.cpp's rotary layout (transformers un-permutes them when it reads a GGUF).
- ``adapter``: only the LoRA matrices (``<tensor>.lora_a`` / ``.lora_b``), a few MB, applied
  by llama.cpp on top of the unchanged base GGUF (``Llama(..., lora_path=...)``).

Files are written next to their target and renamed into place when complete.
"""

from __future__ import annotations

from pathlib import Path

from ragloop.errors import TrainError

QUANT_TYPES = {"q8_0": ("Q8_0", "MOSTLY_Q8_0"), "f16": ("F16", "MOSTLY_F16")}
_SKIP_KEYS = ("general.architecture", "general.file_type")


def permute_rows(weights, n_head: int):
    """HF → llama.cpp rotary layout for a q/k projection (rows are output features)."""
    rows = weights.shape[0]
    return (weights.reshape(n_head, 2, rows // n_head // 2, *weights.shape[1:])
            .swapaxes(1, 2).reshape(weights.shape))


def _heads(hf_name: str, config) -> int | None:
    if hf_name.endswith("q_proj.weight"):
        return config.num_attention_heads
    if hf_name.endswith("k_proj.weight"):
        return config.num_key_value_heads or config.num_attention_heads
    return None


def _name_map(config):
    import gguf

    if config.model_type not in ("llama",):
        raise TrainError(f"GGUF output supports llama-architecture models (SmolLM2, Llama); "
                         f"got {config.model_type!r}")
    return gguf.get_tensor_name_map(gguf.MODEL_ARCH.LLAMA, config.num_hidden_layers)


def _gguf_name(names, hf_name: str) -> str:
    name = names.get_name(hf_name, try_suffixes=(".weight", ".bias"))
    if name is None:
        raise TrainError(f"no GGUF tensor name for {hf_name}")
    return name


def _finish(writer, tmp: Path, out: Path) -> Path:
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    tmp.replace(out)
    return out


def write_merged_gguf(state_dict: dict, config, template: Path, out: Path, *,
                      quant: str = "q8_0") -> Path:
    """``state_dict``: the merged HF model's tensors; ``template``: the base's GGUF."""
    import gguf
    import numpy as np

    if quant not in QUANT_TYPES:
        raise TrainError(f"unknown quant {quant!r}; choose from {', '.join(QUANT_TYPES)}")
    qtype = getattr(gguf.GGMLQuantizationType, QUANT_TYPES[quant][0])
    names = _name_map(config)
    tensors = {}
    for hf_name, value in state_dict.items():
        if hf_name == "lm_head.weight" and config.tie_word_embeddings:
            continue
        array = value.detach().float().numpy()
        heads = _heads(hf_name, config)
        tensors[_gguf_name(names, hf_name)] = permute_rows(array, heads) if heads else array
    reader = gguf.GGUFReader(template)
    expected = [t.name for t in reader.tensors]
    if set(expected) != set(tensors):
        missing = sorted(set(expected) - set(tensors))[:5]
        extra = sorted(set(tensors) - set(expected))[:5]
        raise TrainError(f"{template}: its tensors do not match the trained model's "
                         f"(missing {missing}, unexpected {extra})")
    arch = reader.fields["general.architecture"].contents()
    tmp = out.with_name(out.name + ".tmp")
    writer = gguf.GGUFWriter(tmp, arch=arch)
    for field in reader.fields.values():
        if field.name.startswith("GGUF.") or field.name in _SKIP_KEYS:
            continue
        kind = field.types[0]
        sub = field.types[-1] if kind == gguf.GGUFValueType.ARRAY else None
        writer.add_key_value(field.name, field.contents(), kind, sub_type=sub)
    writer.add_file_type(getattr(gguf.LlamaFileType, QUANT_TYPES[quant][1]))
    for name in expected:
        array = tensors[name]
        if array.ndim == 1 or array.shape[-1] % 32:  # norms stay f32, as llama.cpp writes
            writer.add_tensor(name, array.astype(np.float32))
        else:
            writer.add_tensor(name, gguf.quants.quantize(array, qtype), raw_dtype=qtype)
    return _finish(writer, tmp, out)


def write_lora_gguf(lora_state: dict, config, out: Path, *, alpha: float) -> Path:
    """``lora_state``: PEFT's adapter state dict (``...q_proj.lora_A.weight`` keys)."""
    import gguf
    import numpy as np

    names = _name_map(config)
    tmp = out.with_name(out.name + ".tmp")
    writer = gguf.GGUFWriter(tmp, arch="llama")
    writer.add_type(gguf.GGUFType.ADAPTER)
    writer.add_string(gguf.Keys.Adapter.TYPE, "lora")
    writer.add_float32(gguf.Keys.Adapter.LORA_ALPHA, float(alpha))
    count = 0
    for key in sorted(lora_state):
        if ".lora_A." not in key:
            continue
        hf_name = key.split("base_model.model.", 1)[-1].replace(".lora_A.weight", ".weight")
        a = lora_state[key].detach().float().numpy()
        b = lora_state[key.replace(".lora_A.", ".lora_B.")].detach().float().numpy()
        heads = _heads(hf_name, config)
        if heads:
            b = permute_rows(b, heads)
        name = _gguf_name(names, hf_name)
        writer.add_tensor(f"{name}.lora_a", np.ascontiguousarray(a, dtype=np.float32))
        writer.add_tensor(f"{name}.lora_b", np.ascontiguousarray(b, dtype=np.float32))
        count += 1
    if not count:
        raise TrainError("the adapter has no LoRA matrices to write")
    return _finish(writer, tmp, out)
