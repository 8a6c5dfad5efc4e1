"""``ragloop train sft|dpo|kto``: rows → LoRA → an output → a model registered with its
lineage (``records.ModelLineage``).

The base is the configured model unless given: ``[llm] model_path`` or the shipped default
GGUF (a registered merged GGUF can be trained further; an adapter cannot, train from its
base), or any Hugging Face causal-LM folder or GGUF passed as ``base``. Training runs where
``[train] device`` says (``train.device``). The working state (checkpoints) lives in
``<data_dir>/train/runs/<NAME>``.
"""

from __future__ import annotations

import hashlib
import json
import resource
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from ragloop.config import TrainSettings
from ragloop.errors import TrainError
from ragloop.evals.fingerprint import file_sha256
from ragloop.models.registry import (
    RegisteredModel,
    check_name,
    models_root,
    read_lineage,
    register_model,
    resolve_model,
    write_lineage,
)
from ragloop.project import Project
from ragloop.records import (
    LineageMetrics,
    LossChange,
    ModelLineage,
    TrainedBase,
    TrainedData,
    TrainingCost,
)
from ragloop.train.rows import check_disjoint, load_rows

Phase = Callable[[str], None]


@dataclass
class TrainOutcome:
    name: str
    folder: Path  # the registered model's folder
    lineage: ModelLineage


def configured_base(project: Project) -> Path:
    """The GGUF the project answers with now: the base when none is given."""
    from ragloop.models.llamacpp import default_model_path

    llm = project.settings.llm
    if llm.backend != "llamacpp":
        raise TrainError("the configured model is served over HTTP; pass --base with a GGUF "
                         "file or a Hugging Face folder")
    if llm.model_path:
        return Path(llm.model_path).expanduser()
    if llm.model:
        registered = resolve_model(models_root(project.data_dir), llm.model)
        if registered.kind != "merged-gguf":
            raise TrainError(f"{llm.model!r} is a {registered.kind}; train from its base "
                             f"(--base {registered.lineage.base.path})")
        return registered.path
    return default_model_path()


def fingerprint(method: str, data_sha: str, base_sha: str, settings: TrainSettings) -> str:
    blob = json.dumps({"method": method, "data": data_sha, "base": base_sha,
                       "settings": settings.model_dump(mode="json")}, sort_keys=True)
    return hashlib.sha256(blob.encode()).hexdigest()


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def peak_gpu_mb(device: str) -> float | None:
    import torch

    if device == "cuda":
        return torch.cuda.max_memory_allocated() / 2**20
    return None


def train_model(project: Project, method: str, data: Path, name: str, *,
                settings: TrainSettings | None = None, base: Path | None = None,
                eval_dataset: Path | None = None, restart: bool = False,
                on_step=None, on_phase: Phase | None = None) -> TrainOutcome:
    """Train, write ``[train] output``, register it under ``name``. ``eval_dataset``: the
    eval set the model will be gated on; training refuses rows that come from it."""
    from ragloop.train.extra import require

    require()
    from ragloop.evals.datasets import load_dataset
    from ragloop.train.base import load_base, model_type, prepare_base
    from ragloop.train.device import placement
    from ragloop.train.loop import train_lora
    from ragloop.train.outputs import check_output, write_output

    phase = on_phase or (lambda _: None)
    settings = settings or project.settings.train
    check_name(name)
    where = placement(settings)
    rows = load_rows(data, method)
    if eval_dataset is not None:
        check_disjoint(rows, load_dataset(eval_dataset), data_path=data, eval_path=eval_dataset)
    base_path = Path(base) if base is not None else configured_base(project)
    phase(f"preparing base {base_path.name}")
    prepared = prepare_base(base_path, project.data_dir / "train" / "base")
    check_output(settings.output, prepared, model_type(prepared))
    model, tokenizer = load_base(prepared, where)
    data_sha = file_sha256(data)
    work_dir = project.data_dir / "train" / "runs" / name
    work_dir.mkdir(parents=True, exist_ok=True)
    phase(f"training {method} on {len(rows)} rows ({where.device}, {where.dtype})")
    tuned, result = train_lora(model, tokenizer, rows, method, settings, work_dir=work_dir,
                               fingerprint=fingerprint(method, data_sha, prepared.sha256,
                                                       settings),
                               on_step=on_step, restart=restart, where=where)
    phase(f"writing {settings.output}")
    produced, output = write_output(tuned, tokenizer, prepared, work_dir, settings, where)
    n_curve = max(1, len(result.losses) // 10)
    lineage = ModelLineage(
        name=name, created=datetime.now(UTC).isoformat(), method=method, seed=settings.seed,
        base=TrainedBase(path=str(base_path), hf_dir=str(prepared.hf_dir),
                         gguf=str(prepared.gguf) if prepared.gguf else None,
                         sha256=prepared.sha256),
        data=TrainedData(path=str(Path(data).resolve()), sha256=data_sha, rows=len(rows),
                         skipped_too_long=result.skipped_too_long,
                         eval_checked=str(eval_dataset) if eval_dataset else None),
        config=settings.model_dump(mode="json"), output=output,
        training=TrainingCost(
            steps=result.steps, examples_seen=result.examples_seen,
            resumed_from=result.resumed_from, seconds=result.seconds,
            s_per_example=result.seconds / max(1, result.examples_seen),
            peak_rss_mb=peak_rss_mb(), losses=tuple(result.losses), stats=result.stats,
            device=where.device, dtype=where.dtype, peak_gpu_mb=peak_gpu_mb(where.device)),
        metrics=LineageMetrics(train_loss=LossChange(before=_mean(result.losses[:n_curve]),
                                                     after=_mean(result.losses[-n_curve:]))))
    folder = register_model(models_root(project.data_dir), name, produced, lineage)
    write_loss_curve(folder / "loss.svg", result.losses, title=f"{name} ({method})")
    return TrainOutcome(name, folder, lineage)


def _mean(values: list[float]) -> float | None:
    return sum(values) / len(values) if values else None


def write_loss_curve(path: Path, losses: list[float], *, title: str) -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(5, 3))
    ax.plot(range(1, len(losses) + 1), losses, lw=1)
    ax.set_xlabel("optimizer step")
    ax.set_ylabel("loss")
    ax.set_title(title)
    fig.tight_layout()
    fig.savefig(path, format="svg")
    plt.close(fig)
    return path


def record_gate(model: RegisteredModel, gate) -> ModelLineage:
    """Store ``gate`` (a ``records.GateResultRecord``) as the model's last eval."""
    lineage = read_lineage(model.folder)
    updated = lineage.model_copy(update={
        "metrics": lineage.metrics.model_copy(update={"eval": gate})})
    write_lineage(model.folder, updated)
    return updated
