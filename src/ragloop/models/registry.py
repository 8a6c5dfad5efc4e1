"""Models registered in a project (written by ``ragloop train``), found by name.

Each one is a folder ``<data_dir>/models/<NAME>/`` holding its output and ``lineage.json``
(``records.ModelLineage``): what it was made from (base model hash, data hash, config,
seed), what was written and how it scored. The output is one of ``[train] output``:

- ``merged-gguf``: ``model.gguf``, loaded by the llama.cpp backend as it is;
- ``lora-gguf``: ``adapter.gguf``, applied by llama.cpp to the base's GGUF at load time;
- ``peft-adapter``: ``adapter/`` (PEFT's folder), for transformers, vLLM's LoRA serving;
- ``merged-safetensors``: ``model/`` (a Hugging Face folder), for any HF-format server.

``[llm] model = "NAME"`` or ``--model NAME`` selects one of the two GGUF kinds for the
llama.cpp backend; the other two are served by a server (``[llm] backend = "openai"``).
"""

from __future__ import annotations

import re
import shutil
from dataclasses import dataclass
from pathlib import Path

from pydantic import ValidationError

from ragloop.errors import ModelError, ModelNotFoundError
from ragloop.records import ModelLineage

LINEAGE = "lineage.json"
LLAMACPP_KINDS = ("merged-gguf", "lora-gguf")
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")


@dataclass(frozen=True)
class RegisteredModel:
    name: str
    folder: Path
    lineage: ModelLineage

    @property
    def kind(self) -> str:
        return self.lineage.output.kind

    @property
    def output(self) -> Path:
        """The file or folder ``[train] output`` wrote."""
        return self.folder / self.lineage.output.file

    def check_llamacpp(self) -> None:
        """Raise ``ModelError``, saying how to serve it, unless llama.cpp loads this kind."""
        if self.kind not in LLAMACPP_KINDS:
            raise ModelError(
                f"{self.name!r} is a {self.kind} ({self.output}); the llama.cpp backend loads "
                f"GGUF outputs only. Serve it with an OpenAI-compatible server (e.g. vLLM "
                f"--enable-lora --lora-modules {self.name}=PATH for an adapter) and set "
                f"[llm] backend = \"openai\", or train with [train] output = \"merged-gguf\"")

    @property
    def path(self) -> Path:
        """The GGUF llama.cpp loads (the base's, for a LoRA GGUF)."""
        self.check_llamacpp()
        if self.kind == "lora-gguf":
            return Path(self.lineage.output.base_gguf)
        return self.output

    @property
    def lora_path(self) -> Path | None:
        """A LoRA adapter GGUF llama.cpp applies on top of ``path``, or None."""
        return self.output if self.kind == "lora-gguf" else None

    @property
    def model_id(self) -> str:
        """Unique per trained weights, so the LLM cache never mixes two models' answers."""
        return f"{self.name}@{self.lineage.output_sha256[:12]}"


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


def read_lineage(folder: Path) -> ModelLineage:
    path = Path(folder) / LINEAGE
    try:
        return ModelLineage.from_json(path.read_text(encoding="utf-8"))
    except (ValidationError, ValueError) as err:
        raise ModelError(f"{path}: not a model lineage ({err})") from None


def resolve_model(root: Path | None, name: str) -> RegisteredModel:
    folder = Path(root) / check_name(name) if root is not None else None
    if folder is None or not (folder / LINEAGE).is_file():
        known = ", ".join(list_models(root)) if root is not None else ""
        raise ModelNotFoundError(f"no model registered as {name!r} in {root}"
                                 + (f" (registered: {known})" if known else
                                    "; `ragloop train ... --out NAME` registers one"))
    return RegisteredModel(name, folder, read_lineage(folder))


def write_lineage(folder: Path, lineage: ModelLineage) -> None:
    """Replace ``folder``'s lineage atomically (a temp file renamed into place)."""
    path = Path(folder) / LINEAGE
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(lineage.model_dump_json(indent=1), encoding="utf-8")
    tmp.replace(path)


def register_model(root: Path, name: str, produced: Path, lineage: ModelLineage) -> Path:
    """Move ``produced`` (the output file or folder) into ``root/NAME`` as
    ``lineage.output.file``, with the lineage, replacing an older model of that name only
    once the new one is complete."""
    folder = Path(root) / check_name(name)
    staging = folder.with_name(f".{name}.new")
    if staging.exists():
        shutil.rmtree(staging)
    staging.mkdir(parents=True)
    shutil.move(str(produced), staging / lineage.output.file)
    write_lineage(staging, lineage)
    old = folder.with_name(f".{name}.old")
    if folder.exists():
        if old.exists():
            shutil.rmtree(old)
        folder.rename(old)
    staging.rename(folder)
    if old.exists():
        shutil.rmtree(old)
    return folder
