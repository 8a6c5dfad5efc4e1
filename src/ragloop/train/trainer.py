"""``ragloop train sft|dpo|kto``: rows → LoRA → GGUF → a model registered with its lineage.

The base is the configured model unless given: ``[llm] model_path`` or the shipped default
GGUF (a registered merged model can be trained further; an adapter cannot, train from its
base). The working state (checkpoints) lives in ``<data_dir>/train/runs/<NAME>``.
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
    LINEAGE,
    check_name,
    models_root,
    register_model,
    resolve_model,
)
from ragloop.project import Project
from ragloop.train.rows import check_disjoint, load_rows

Phase = Callable[[str], None]


@dataclass
class TrainOutcome:
    name: str
    folder: Path  # the registered model's folder
    lineage: dict


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
        if registered.lora_path is not None:
            raise TrainError(f"{llm.model!r} is a LoRA adapter; train from its base "
                             f"(--base {registered.path})")
        return registered.path
    return default_model_path()


def fingerprint(method: str, data_sha: str, base_sha: str, settings: TrainSettings) -> str:
    blob = json.dumps({"method": method, "data": data_sha, "base": base_sha,
                       "settings": settings.model_dump(mode="json")}, sort_keys=True)
    return hashlib.sha256(blob.encode()).hexdigest()


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def train_model(project: Project, method: str, data: Path, name: str, *,
                settings: TrainSettings | None = None, base: Path | None = None,
                eval_dataset: Path | None = None, restart: bool = False,
                on_step=None, on_phase: Phase | None = None) -> TrainOutcome:
    """Train, write the GGUF, register it under ``name``. ``eval_dataset``: the eval set the
    model will be gated on; training refuses rows that come from it."""
    from ragloop.train.extra import require

    require()
    from ragloop.evals.datasets import load_dataset
    from ragloop.train.base import load_base, prepare_base
    from ragloop.train.loop import train_lora

    phase = on_phase or (lambda _: None)
    settings = settings or project.settings.train
    check_name(name)
    rows = load_rows(data, method)
    if eval_dataset is not None:
        check_disjoint(rows, load_dataset(eval_dataset), data_path=data, eval_path=eval_dataset)
    base_path = Path(base) if base is not None else configured_base(project)
    phase(f"preparing base {base_path.name}")
    prepared = prepare_base(base_path, project.data_dir / "train" / "base")
    if prepared.gguf is None:
        raise TrainError(f"{prepared.hf_dir}: a Hugging Face base needs the GGUF it matches "
                         "(its tokenizer and metadata) to write a model llama.cpp loads")
    model, tokenizer = load_base(prepared)
    data_sha = file_sha256(data)
    work_dir = project.data_dir / "train" / "runs" / name
    work_dir.mkdir(parents=True, exist_ok=True)
    phase(f"training {method} on {len(rows)} rows")
    tuned, result = train_lora(model, tokenizer, rows, method, settings, work_dir=work_dir,
                               fingerprint=fingerprint(method, data_sha, prepared.sha256,
                                                       settings),
                               on_step=on_step, restart=restart)
    phase(f"writing {settings.output} GGUF")
    output = _write_output(tuned, model.config, prepared.gguf, work_dir, settings)
    produced = work_dir / output["file"]
    output["sha256"] = file_sha256(produced)
    output["bytes"] = produced.stat().st_size
    n_curve = max(1, len(result.losses) // 10)
    lineage = {
        "name": name, "created": datetime.now(UTC).isoformat(), "method": method,
        "seed": settings.seed,
        "base": {"path": str(base_path), "gguf": str(prepared.gguf), "sha256": prepared.sha256,
                 "hf_dir": str(prepared.hf_dir)},
        "data": {"path": str(Path(data).resolve()), "sha256": data_sha, "rows": len(rows),
                 "skipped_too_long": result.skipped_too_long,
                 "eval_checked": str(eval_dataset) if eval_dataset else None},
        "config": settings.model_dump(mode="json"),
        "output": output, "output_sha256": output["sha256"],
        "training": {"steps": result.steps, "examples_seen": result.examples_seen,
                     "resumed_from": result.resumed_from, "seconds": result.seconds,
                     "s_per_example": result.seconds / max(1, result.examples_seen),
                     "peak_rss_mb": peak_rss_mb(), "losses": result.losses,
                     "stats": result.stats},
        "metrics": {"train_loss": {"before": _mean(result.losses[:n_curve]),
                                   "after": _mean(result.losses[-n_curve:])}},
    }
    folder = register_model(models_root(project.data_dir), name,
                            {output["file"]: produced}, lineage)
    write_loss_curve(folder / "loss.svg", result.losses, title=f"{name} ({method})")
    return TrainOutcome(name, folder, lineage)


def _mean(values: list[float]) -> float | None:
    return sum(values) / len(values) if values else None


def _write_output(tuned, config, base_gguf: Path, work_dir: Path,
                  settings: TrainSettings) -> dict:
    from ragloop.train.gguf_out import write_lora_gguf, write_merged_gguf

    if settings.output == "adapter":
        from peft import get_peft_model_state_dict

        write_lora_gguf(get_peft_model_state_dict(tuned), config, work_dir / "adapter.gguf",
                        alpha=settings.lora_alpha)
        return {"kind": "adapter", "file": "adapter.gguf", "base_gguf": str(base_gguf)}
    merged = tuned.merge_and_unload()
    write_merged_gguf(merged.state_dict(), config, base_gguf, work_dir / "model.gguf",
                      quant=settings.quant)
    return {"kind": "merged", "file": "model.gguf", "quant": settings.quant}


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


def update_lineage(folder: Path, **sections) -> dict:
    path = folder / LINEAGE
    lineage = json.loads(path.read_text(encoding="utf-8"))
    for key, value in sections.items():
        if isinstance(value, dict) and isinstance(lineage.get(key), dict):
            lineage[key] = {**lineage[key], **value}
        else:
            lineage[key] = value
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(lineage, indent=1, default=str), encoding="utf-8")
    tmp.replace(path)
    return lineage
