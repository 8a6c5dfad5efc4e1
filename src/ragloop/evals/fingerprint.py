"""What a run was made with: a hash of the settings and of the model file.

The GGUF hash (sha256 of a file of hundreds of MB) is cached by (path, mtime, size) in the
project's cache folder, so it is computed once per model file, not once per run.
"""

from __future__ import annotations

import hashlib
import json
import threading
from pathlib import Path

_lock = threading.Lock()


def settings_hash(settings_dump: dict) -> str:
    return hashlib.sha256(json.dumps(settings_dump, sort_keys=True).encode()).hexdigest()


def file_sha256(path: Path, cache_file: Path | None = None) -> str:
    path = Path(path).resolve()
    stat = path.stat()
    key = f"{path}|{stat.st_mtime_ns}|{stat.st_size}"
    with _lock:
        cache: dict[str, str] = {}
        if cache_file is not None and cache_file.is_file():
            try:
                cache = json.loads(cache_file.read_text(encoding="utf-8"))
            except json.JSONDecodeError:
                cache = {}  # a damaged cache is only a cache: recompute
        if key in cache:
            return cache[key]
        digest = hashlib.sha256()
        with path.open("rb") as handle:
            for block in iter(lambda: handle.read(1 << 20), b""):
                digest.update(block)
        cache[key] = digest.hexdigest()
        if cache_file is not None:
            cache_file.parent.mkdir(parents=True, exist_ok=True)
            tmp = cache_file.with_name(cache_file.name + ".tmp")
            tmp.write_text(json.dumps(cache, indent=1), encoding="utf-8")
            tmp.replace(cache_file)
        return cache[key]


def model_fingerprint(llm, cache_file: Path | None = None) -> dict:
    """{"model": id, "backend": name, "path": ..., "sha256": ...} — path and hash only for
    backends that load a local file (llama.cpp); a server model is named by its id alone."""
    backend = getattr(llm, "backend", None)
    info = {"model": llm.model_id, "backend": getattr(backend, "backend_name", "unknown")}
    path = getattr(backend, "path", None)
    if path is not None and Path(path).is_file():
        info["path"] = str(path)
        info["sha256"] = file_sha256(Path(path), cache_file)
    lora = getattr(backend, "lora_path", None)  # a LoRA adapter applied on top (ragloop train)
    if lora is not None and Path(lora).is_file():
        info["lora_path"] = str(lora)
        info["lora_sha256"] = file_sha256(Path(lora), cache_file)
    return info
