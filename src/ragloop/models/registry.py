"""Models registered in a project (written by ``ragloop train``), found by name.

Each one is a folder ``<data_dir>/models/<NAME>/`` holding its GGUF and ``lineage.json``:
what it was made from (base model hash, data hash, config, seed) and how it scored. A
registered model is either a merged GGUF (``model.gguf``) or a LoRA adapter GGUF applied to
a base GGUF at load time (``adapter.gguf`` + the base's path). ``[llm] model = "NAME"`` or
``--model NAME`` selects one for the llama.cpp backend.
"""

from __future__ import annotations

import json
import re
import shutil
from dataclasses import dataclass
from pathlib import Path

from ragloop.errors import ModelError, ModelNotFoundError

LINEAGE = "lineage.json"
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")


@dataclass(frozen=True)
class RegisteredModel:
    name: str
    path: Path  # the GGUF llama.cpp loads (the base, for an adapter)
    lora_path: Path | None  # a LoRA adapter GGUF applied on top, or None
    lineage: dict

    @property
    def model_id(self) -> str:
        """Unique per trained weights, so the LLM cache never mixes two models' answers."""
        return f"{self.name}@{self.lineage.get('output_sha256', '')[:12]}"


def check_name(name: str) -> str:
    if not _NAME.match(name):
        raise ModelError(f"model name {name!r}: use letters, digits, '.', '_' or '-' "
                         "(at most 64, starting with a letter or digit)")
    return name


def models_root(data_dir: Path) -> Path:
    return Path(data_dir) / "models"


def list_models(root: Path) -> list[str]:
    if not root.is_dir():
        return []
    return sorted(p.name for p in root.iterdir() if (p / LINEAGE).is_file())


def resolve_model(root: Path | None, name: str) -> RegisteredModel:
    folder = Path(root) / check_name(name) if root is not None else None
    if folder is None or not (folder / LINEAGE).is_file():
        known = ", ".join(list_models(root)) if root is not None else ""
        raise ModelNotFoundError(f"no model registered as {name!r} in {root}"
                                 + (f" (registered: {known})" if known else
                                    "; `ragloop train ... --out NAME` registers one"))
    lineage = json.loads((folder / LINEAGE).read_text(encoding="utf-8"))
    output = lineage["output"]
    if output["kind"] == "adapter":
        return RegisteredModel(name, Path(output["base_gguf"]), folder / output["file"], lineage)
    return RegisteredModel(name, folder / output["file"], None, lineage)


def register_model(root: Path, name: str, files: dict[str, Path], lineage: dict) -> Path:
    """Move ``files`` (target name → produced file) and ``lineage`` into ``root/NAME``,
    replacing an older model of that name only once the new one is complete."""
    folder = Path(root) / check_name(name)
    staging = folder.with_name(f".{name}.new")
    if staging.exists():
        shutil.rmtree(staging)
    staging.mkdir(parents=True)
    for target, source in files.items():
        shutil.move(str(source), staging / target)
    (staging / LINEAGE).write_text(json.dumps(lineage, indent=1, default=str),
                                   encoding="utf-8")
    old = folder.with_name(f".{name}.old")
    if folder.exists():
        if old.exists():
            shutil.rmtree(old)
        folder.rename(old)
    staging.rename(folder)
    if old.exists():
        shutil.rmtree(old)
    return folder
