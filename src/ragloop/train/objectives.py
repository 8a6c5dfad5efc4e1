"""What each method optimises, per example, on the completion tokens only.

- ``sft``: mean negative log-likelihood of the completion given the prompt.
- ``dpo``: −log σ(β·[(log π(chosen) − log π_ref(chosen)) − (log π(rejected) −
  log π_ref(rejected))]) (Rafailov et al. 2023); the reference is the base model, i.e. the
  same network with the LoRA adapter switched off, so no second copy is held in memory.
- ``kto``: 1 − σ(β·(r − z)) for a desirable completion and 1 − σ(β·(z − r)) for an
  undesirable one, r = log π − log π_ref (Ethayarajh et al. 2024). The reference point z is
  estimated as the running mean of recent r (detached, clamped at 0) instead of KTO's
  mismatched-pair KL estimate: one extra forward pass per example saved, same role.

Each objective returns (loss, stats) for one example; the loop averages over a batch.
SFT examples can also be packed several to a forward pass (``packed_sft_losses``).
"""

from __future__ import annotations

from collections import deque

import torch
import torch.nn.functional as F


def packed_logps(model, pairs: list[tuple[list[int], list[int]]]) -> list[torch.Tensor]:
    """Log-probability of each completion token given its own prompt, for several
    (prompt, completion) pairs packed into one sequence.

    Positions restart at 0 for every pair, which transformers reads as packed sequences when
    no attention mask and no KV cache are given (``use_cache=False``; with a cache it would
    let each pair attend to the ones before it): a pair attends only to itself, so the result
    equals one forward pass per pair (a test checks it). Only the
    positions that predict a completion token are projected onto the vocabulary
    (``logits_to_keep``): the prompt's logits would cost a vocabulary-wide matmul per token
    for nothing."""
    ids: list[int] = []
    positions: list[int] = []
    keep: list[int] = []
    for prompt_ids, completion_ids in pairs:
        start = len(ids) + len(prompt_ids)
        keep += range(start - 1, start - 1 + len(completion_ids))
        ids += prompt_ids + completion_ids
        positions += range(len(prompt_ids) + len(completion_ids))
    device = model.device
    logits = model(input_ids=torch.tensor([ids], device=device),
                   position_ids=torch.tensor([positions], device=device),
                   logits_to_keep=torch.tensor(keep, device=device),
                   use_cache=False).logits[0]
    target = torch.tensor([ids[i + 1] for i in keep], device=device)
    logps = torch.log_softmax(logits.float(), dim=-1).gather(1, target[:, None]).squeeze(1)
    return list(torch.split(logps, [len(c) for _, c in pairs]))


def completion_logps(model, prompt_ids: list[int], completion_ids: list[int]) -> torch.Tensor:
    """Log-probability of each completion token given everything before it."""
    return packed_logps(model, [(prompt_ids, completion_ids)])[0]


def packed_sft_losses(model, examples) -> list[torch.Tensor]:
    """SFT losses (mean NLL of each completion) of several examples in one forward pass."""
    return [-logp.mean() for logp in packed_logps(
        model, [(e.prompt_ids, e.completion_ids) for e in examples])]


def reference_logp(model, prompt_ids: list[int], completion_ids: list[int]) -> torch.Tensor:
    with torch.no_grad(), model.disable_adapter():
        return completion_logps(model, prompt_ids, completion_ids).sum()


class SFTObjective:
    name = "sft"

    def __call__(self, model, example) -> tuple[torch.Tensor, dict]:
        logp = completion_logps(model, example.prompt_ids, example.completion_ids)
        loss = -logp.mean()
        return loss, {"loss": float(loss.detach())}


class DPOObjective:
    name = "dpo"

    def __init__(self, beta: float):
        self.beta = beta

    def __call__(self, model, example) -> tuple[torch.Tensor, dict]:
        chosen = completion_logps(model, example.prompt_ids, example.completion_ids).sum()
        rejected = completion_logps(model, example.prompt_ids, example.rejected_ids).sum()
        ref_chosen = reference_logp(model, example.prompt_ids, example.completion_ids)
        ref_rejected = reference_logp(model, example.prompt_ids, example.rejected_ids)
        margin = (chosen - ref_chosen) - (rejected - ref_rejected)
        loss = -F.logsigmoid(self.beta * margin)
        return loss, {"loss": float(loss.detach()), "reward_accuracy": float(margin.detach() > 0),
                      "margin": float(margin.detach())}


class KTOObjective:
    name = "kto"

    def __init__(self, beta: float, window: int = 32):
        self.beta = beta
        self.recent: deque[float] = deque(maxlen=window)

    def __call__(self, model, example) -> tuple[torch.Tensor, dict]:
        policy = completion_logps(model, example.prompt_ids, example.completion_ids).sum()
        ratio = policy - reference_logp(model, example.prompt_ids, example.completion_ids)
        z = max(0.0, sum(self.recent) / len(self.recent)) if self.recent else 0.0
        self.recent.append(float(ratio.detach()))
        if example.desirable:
            loss = 1 - torch.sigmoid(self.beta * (ratio - z))
        else:
            loss = 1 - torch.sigmoid(self.beta * (z - ratio))
        return loss, {"loss": float(loss.detach()), "log_ratio": float(ratio.detach())}


def build_objective(method: str, beta: float):
    objectives = {"sft": lambda: SFTObjective(), "dpo": lambda: DPOObjective(beta),
                  "kto": lambda: KTOObjective(beta)}
    return objectives[method]()
