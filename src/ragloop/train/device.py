"""Where training runs and in which precision, decided once from ``[train]``.

``device = "auto"`` picks a CUDA GPU, then Apple's MPS, then the CPU. Weights train in
bfloat16 on a CUDA GPU that supports it (half the memory, full speed on tensor cores) and
in float32 elsewhere: bfloat16 matmuls on a CPU are slower than float32 ones, and MPS
support for bfloat16 depends on the macOS version. Gradient checkpointing and packing
default to on for a GPU, where memory bounds the batch and a wide forward pass is cheap,
and off on the CPU, where one sequence at a time fits and only costs time.
"""

from __future__ import annotations

import importlib.util
from dataclasses import dataclass

from ragloop.config import TrainSettings
from ragloop.errors import TrainError


@dataclass(frozen=True)
class Placement:
    device: str  # "cpu", "cuda", "mps"
    dtype: str  # "float32", "bfloat16"
    gradient_checkpointing: bool
    packing: bool
    load_in_4bit: bool

    @property
    def torch_dtype(self):
        import torch

        return getattr(torch, self.dtype)

    @property
    def on_gpu(self) -> bool:
        return self.device != "cpu"


def available_device() -> str:
    import torch

    if torch.cuda.is_available():
        return "cuda"
    mps = getattr(torch.backends, "mps", None)
    if mps is not None and mps.is_available():
        return "mps"
    return "cpu"


def _check_available(device: str) -> None:
    import torch

    if device == "cuda" and not torch.cuda.is_available():
        raise TrainError("[train] device = \"cuda\" but torch sees no CUDA GPU (is this the "
                         f"CPU build of torch? torch {torch.__version__}); install a CUDA "
                         "build of torch or use device = \"auto\"")
    if device == "mps":
        mps = getattr(torch.backends, "mps", None)
        if mps is None or not mps.is_available():
            raise TrainError("[train] device = \"mps\" but torch sees no Apple MPS device")


def _switch(value: str, on_gpu: bool) -> bool:
    return on_gpu if value == "auto" else value == "on"


def placement(settings: TrainSettings) -> Placement:
    """The device, dtype and memory options training uses for ``settings``."""
    import torch

    device = available_device() if settings.device == "auto" else settings.device
    _check_available(device)
    on_gpu = device != "cpu"
    bf16 = device == "cuda" and torch.cuda.is_bf16_supported()
    if settings.load_in_4bit:
        if device != "cuda":
            raise TrainError("[train] load_in_4bit needs a CUDA GPU (bitsandbytes); this run "
                             f"is on {device}")
        if importlib.util.find_spec("bitsandbytes") is None:
            raise TrainError("[train] load_in_4bit needs bitsandbytes: pip install "
                             "bitsandbytes (it is not part of the [train] extra)")
    return Placement(device=device, dtype="bfloat16" if bf16 else "float32",
                     gradient_checkpointing=_switch(settings.gradient_checkpointing, on_gpu),
                     packing=_switch(settings.packing, on_gpu),
                     load_in_4bit=settings.load_in_4bit)
