"""The training loop: LoRA (PEFT) on a causal LM, on the CPU or a GPU (``train.device``).

A lean loop rather than TRL's trainers: on this 2-core CPU TRL's SFTTrainer cost ~4x the
CPU-seconds per example of this loop (README, Post-training), mostly because the loss here
projects only the completion's positions onto the vocabulary. Properties kept:

- seeded: torch's seed and a per-epoch seeded shuffle fix the example order;
- bounded memory: one sequence in memory at a time, gradients accumulated over
  ``batch_size`` examples; rows longer than ``max_length`` are skipped and counted;
- packing (SFT, on by default on a GPU): a batch's examples go through the model several
  to a sequence of up to ``max_length`` tokens, each attending only to itself, so the loss
  is the one-at-a-time loss at fewer, wider forward passes;
- gradient checkpointing (on by default on a GPU): activations are recomputed in the
  backward pass instead of kept;
- resumable: every ``checkpoint_every`` optimizer steps the adapter, optimizer, scheduler,
  step and loss curve are written atomically to ``work_dir/checkpoint``; a new run with the
  same fingerprint (base, data, method, settings) continues from there.
"""

from __future__ import annotations

import json
import math
import random
import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from ragloop.config import TrainSettings
from ragloop.errors import TrainError
from ragloop.train.device import Placement
from ragloop.train.rows import TrainRow

StepHook = Callable[[int, int, float], None]  # (step, total steps, recent loss)


@dataclass(frozen=True)
class Encoded:
    prompt_ids: list[int]
    completion_ids: list[int]
    rejected_ids: list[int] | None = None
    desirable: bool | None = None

    @property
    def length(self) -> int:
        return len(self.prompt_ids) + max(len(self.completion_ids),
                                          len(self.rejected_ids or []))


@dataclass
class LoopResult:
    steps: int
    examples_seen: int
    skipped_too_long: int
    losses: list[float]  # one per optimizer step
    seconds: float  # this process's training time (a resumed run adds to the checkpoint's)
    resumed_from: int = 0
    stats: dict = field(default_factory=dict)


def render(tokenizer, messages: list[dict], *, generation_prompt: bool) -> list[int]:
    text = tokenizer.apply_chat_template(messages, tokenize=False,
                                         add_generation_prompt=generation_prompt)
    return tokenizer(text, add_special_tokens=False)["input_ids"]


def completion_ids(tokenizer, prompt: list[dict], completion: list[dict]) -> list[int]:
    """The tokens the chat template puts after the prompt's generation header, tokenised on
    their own — exactly what the model generates at inference after the rendered prompt."""
    head = tokenizer.apply_chat_template(prompt, tokenize=False, add_generation_prompt=True)
    full = tokenizer.apply_chat_template(prompt + completion, tokenize=False)
    if not full.startswith(head):
        raise TrainError("the chat template does not render the prompt as a prefix of the "
                         "prompt with its answer; cannot separate the completion")
    return tokenizer(full[len(head):].rstrip("\n"), add_special_tokens=False)["input_ids"]


def encode(tokenizer, row: TrainRow) -> Encoded:
    prompt = render(tokenizer, row.prompt, generation_prompt=True)
    rejected = (completion_ids(tokenizer, row.prompt, row.rejected)
                if row.rejected is not None else None)
    return Encoded(prompt, completion_ids(tokenizer, row.prompt, row.completion), rejected,
                   row.desirable)


def example_order(n: int, total: int, seed: int) -> list[int]:
    """``total`` example indices: epoch after epoch, each a seeded shuffle of ``range(n)``."""
    order: list[int] = []
    epoch = 0
    while len(order) < total:
        perm = list(range(n))
        random.Random(seed * 1_000_003 + epoch).shuffle(perm)
        order += perm
        epoch += 1
    return order[:total]


def total_steps(n_examples: int, settings: TrainSettings) -> int:
    if settings.max_steps:
        return settings.max_steps
    return max(1, math.ceil(settings.epochs * n_examples / settings.batch_size))


def packs(examples: list[Encoded], max_length: int) -> list[list[Encoded]]:
    """``examples`` in order, grouped into packs of at most ``max_length`` tokens."""
    groups: list[list[Encoded]] = []
    size = 0
    for example in examples:
        if groups and size + example.length <= max_length:
            groups[-1].append(example)
            size += example.length
        else:
            groups.append([example])
            size = example.length
    return groups


def target_modules(model, settings: TrainSettings) -> list[str]:
    """The module names LoRA adapts: ``[train] target_modules``, with "all-linear" resolved
    to the names of the model's linear layers but its output head (PEFT takes "all-linear"
    itself only without ``layers_to_transform``, which ``lora_layers`` sets)."""
    import torch

    if list(settings.target_modules) != ["all-linear"]:
        return list(settings.target_modules)
    head = model.get_output_embeddings()
    return sorted({name.rsplit(".", 1)[-1] for name, module in model.named_modules()
                   if isinstance(module, torch.nn.Linear) and module is not head})


def add_lora(model, settings: TrainSettings):
    from peft import LoraConfig, get_peft_model

    n_layers = model.config.num_hidden_layers
    layers = None
    if settings.lora_layers and settings.lora_layers < n_layers:
        layers = list(range(n_layers - settings.lora_layers, n_layers))
    config = LoraConfig(r=settings.lora_r, lora_alpha=settings.lora_alpha,
                        lora_dropout=settings.lora_dropout,
                        target_modules=target_modules(model, settings),
                        layers_to_transform=layers, task_type="CAUSAL_LM")
    return get_peft_model(model, config)


class Checkpoint:
    def __init__(self, work_dir: Path, fingerprint: str):
        self.dir = Path(work_dir) / "checkpoint"
        self.fingerprint = fingerprint

    def exists(self) -> bool:
        return (self.dir / "state.json").is_file()

    def save(self, model, optimizer, scheduler, state: dict) -> None:
        import torch
        from peft import get_peft_model_state_dict

        tmp = self.dir.with_name("checkpoint.tmp")
        if tmp.exists():
            shutil.rmtree(tmp)
        tmp.mkdir(parents=True)
        torch.save({"adapter": get_peft_model_state_dict(model),
                    "optimizer": optimizer.state_dict(), "scheduler": scheduler.state_dict(),
                    "rng": torch.get_rng_state()}, tmp / "weights.pt")
        (tmp / "state.json").write_text(json.dumps({**state, "fingerprint": self.fingerprint}),
                                        encoding="utf-8")
        old = self.dir.with_name("checkpoint.old")
        if self.dir.exists():
            self.dir.rename(old)
        tmp.rename(self.dir)
        if old.exists():
            shutil.rmtree(old)

    def load(self, model, optimizer, scheduler) -> dict:
        import torch
        from peft import set_peft_model_state_dict

        state = json.loads((self.dir / "state.json").read_text(encoding="utf-8"))
        if state.get("fingerprint") != self.fingerprint:
            raise TrainError(f"{self.dir} holds a checkpoint of a different run (other base, "
                             "data or settings); pass --restart to discard it")
        saved = torch.load(self.dir / "weights.pt", weights_only=False)
        set_peft_model_state_dict(model, saved["adapter"])
        optimizer.load_state_dict(saved["optimizer"])
        scheduler.load_state_dict(saved["scheduler"])
        torch.set_rng_state(saved["rng"])
        return state


def train_lora(model, tokenizer, rows: list[TrainRow], method: str, settings: TrainSettings,
               *, work_dir: Path, fingerprint: str, on_step: StepHook | None = None,
               restart: bool = False, where: Placement | None = None):
    """Train a LoRA adapter on ``model`` in place; returns (peft model, ``LoopResult``).
    ``where``: the device's options (packing, gradient checkpointing); default: none."""
    import torch

    from ragloop.train.objectives import build_objective, packed_sft_losses

    if settings.threads:
        torch.set_num_threads(settings.threads)
    torch.manual_seed(settings.seed)
    encoded = [encode(tokenizer, row) for row in rows]
    usable = [e for e in encoded if e.length <= settings.max_length]
    skipped = len(encoded) - len(usable)
    if not usable:
        raise TrainError(f"all {len(encoded)} rows are longer than max_length "
                         f"{settings.max_length} tokens")
    if where is not None and where.gradient_checkpointing and not where.load_in_4bit:
        model.config.use_cache = False
        kwargs = {"use_reentrant": False}
        if hasattr(model, "activation_checkpointing_enable"):  # its newer transformers 5 name
            model.activation_checkpointing_enable(activation_checkpointing_kwargs=kwargs)
        else:
            model.gradient_checkpointing_enable(gradient_checkpointing_kwargs=kwargs)
    model = add_lora(model, settings)
    model.train()
    pack = where is not None and where.packing and method == "sft"
    params = [p for p in model.parameters() if p.requires_grad]
    optimizer = torch.optim.AdamW(params, lr=settings.learning_rate, weight_decay=0.0)
    steps = total_steps(len(usable), settings)

    def schedule(step: int) -> float:  # linear warm-up, then linear decay to 0
        if step < settings.warmup_steps:
            return (step + 1) / (settings.warmup_steps + 1)
        return max(0.0, (steps - step) / max(1, steps - settings.warmup_steps))

    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, schedule)
    objective = build_objective(method, settings.beta)
    checkpoint = Checkpoint(work_dir, fingerprint)
    if restart and checkpoint.dir.exists():
        shutil.rmtree(checkpoint.dir)
    losses: list[float] = []
    start_step, seconds_before = 0, 0.0
    if checkpoint.exists():
        state = checkpoint.load(model, optimizer, scheduler)
        start_step, losses, seconds_before = state["step"], state["losses"], state["seconds"]
    order = example_order(len(usable), steps * settings.batch_size, settings.seed)
    started = time.perf_counter()
    totals: dict[str, float] = {}
    for step in range(start_step, steps):
        batch = order[step * settings.batch_size:(step + 1) * settings.batch_size]
        step_loss = 0.0
        if pack:
            for group in packs([usable[i] for i in batch], settings.max_length):
                losses_in = packed_sft_losses(model, group)
                (sum(losses_in) / len(batch)).backward()
                for loss in losses_in:
                    step_loss += float(loss.detach()) / len(batch)
                    totals["loss"] = totals.get("loss", 0.0) + float(loss.detach())
        for index in [] if pack else batch:
            loss, stats = objective(model, usable[index])
            (loss / len(batch)).backward()
            step_loss += float(loss.detach()) / len(batch)
            for key, value in stats.items():
                totals[key] = totals.get(key, 0.0) + value
        torch.nn.utils.clip_grad_norm_(params, 1.0)
        optimizer.step()
        scheduler.step()
        optimizer.zero_grad(set_to_none=True)
        losses.append(step_loss)
        if (step + 1) % settings.checkpoint_every == 0 or step + 1 == steps:
            checkpoint.save(model, optimizer, scheduler, {
                "step": step + 1, "losses": losses,
                "seconds": seconds_before + time.perf_counter() - started})
        if on_step:  # after the checkpoint: an interrupt here loses no finished step
            on_step(step + 1, steps, step_loss)
    seen = (steps - start_step) * settings.batch_size
    result = LoopResult(steps=steps, examples_seen=steps * settings.batch_size,
                        skipped_too_long=skipped, losses=losses,
                        seconds=seconds_before + time.perf_counter() - started,
                        resumed_from=start_step,
                        stats={k: v / seen for k, v in totals.items()} if seen else {})
    model.eval()
    return model, result
