"""Post-training: datasets for training (feedback, verified self-generation, golden train
splits), LoRA SFT/DPO/KTO on CPU, GGUF output the llama.cpp backend loads, a model registry
with lineage, and the base-vs-tuned eval gate.

Everything that needs torch lives behind ``ragloop.train.extra.require()`` so the rest of
ragloop runs without the ``[train]`` extra.
"""
