"""A tiny causal LM built from a config, saved as a Hugging Face folder (weights, a byte-level
BPE tokenizer trained on a few sentences, a ChatML chat template): a base of another
architecture than the shipped Llama, for tests where the real 135M model is not the point."""

from __future__ import annotations

from pathlib import Path

CHAT_TEMPLATE = (
    "{% for m in messages %}<|im_start|>{{ m['role'] }}\n{{ m['content'] }}<|im_end|>\n"
    "{% endfor %}{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}")
SPECIAL = ["<|endoftext|>", "<|im_start|>", "<|im_end|>"]
TEXTS = [
    "Ocean tides are caused mainly by the gravity of the Moon.",
    "A volcano erupts when magma reaches the surface as lava.",
    "The documents do not say.",
    "system user assistant Question: Answer: Documents: [1] [2] [3]",
]
QA = [("What causes ocean tides?", "The gravity of the Moon [1]."),
      ("What reaches the surface when a volcano erupts?", "Lava [1]."),
      ("Who wrote Hamlet?", "The documents do not say."),
      ("What adds a smaller tidal force?", "The Sun [2]."),
      ("What rises through cracks in the crust?", "Magma [1]."),
      ("What pulls on the oceans?", "The Moon [1].")]


def sft_rows() -> list[dict]:
    return [{"id": f"tiny-{i}", "prompt": [{"role": "user", "content": q}],
             "completion": [{"role": "assistant", "content": a}]}
            for i, (q, a) in enumerate(QA)]


def tiny_base(folder: Path, *, seed: int = 0) -> Path:
    """Write a two-layer Qwen2 causal LM (~60k parameters) and its tokenizer to ``folder``."""
    import torch
    from tokenizers import ByteLevelBPETokenizer
    from transformers import PreTrainedTokenizerFast, Qwen2Config, Qwen2ForCausalLM

    bpe = ByteLevelBPETokenizer()
    bpe.train_from_iterator(TEXTS + [f"{q} {a}" for q, a in QA], vocab_size=400,
                            special_tokens=SPECIAL, show_progress=False)
    tokenizer = PreTrainedTokenizerFast(tokenizer_object=bpe, eos_token="<|im_end|>",
                                        pad_token="<|endoftext|>",
                                        additional_special_tokens=SPECIAL[1:])
    tokenizer.chat_template = CHAT_TEMPLATE
    torch.manual_seed(seed)
    config = Qwen2Config(vocab_size=len(tokenizer), hidden_size=32, intermediate_size=64,
                         num_hidden_layers=2, num_attention_heads=2, num_key_value_heads=1,
                         max_position_embeddings=512, tie_word_embeddings=True,
                         eos_token_id=tokenizer.eos_token_id,
                         pad_token_id=tokenizer.pad_token_id)
    Qwen2ForCausalLM(config).save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return folder
