"""``[index] backend`` → an open ``Store``. One registry, so a second backend is one module
(with an opener) plus one line in ``BACKENDS``.

An opener is named as ``"module:function"`` and imported only when chosen, so a backend's
dependencies (a database driver, say) are needed only by projects that use it. Its
signature is ``opener(settings: IndexSettings, data_dir: Path) -> Store``.
"""

from __future__ import annotations

from collections.abc import Callable
from importlib import import_module
from pathlib import Path

from ragloop.config import IndexSettings
from ragloop.errors import ConfigError
from ragloop.index.store import Store

BACKENDS: dict[str, str] = {
    "embedded": "ragloop.index.embedded:open_embedded",
    "postgres": "ragloop.index.postgres:open_postgres",
}

Opener = Callable[[IndexSettings, Path], Store]


def check_backend(name: str) -> None:
    """Raise ``ConfigError`` (key ``index.backend``) unless ``name`` is registered."""
    if name not in BACKENDS:
        raise ConfigError(f"unknown index backend '{name}'; choose from "
                          f"{', '.join(sorted(BACKENDS))}", key="index.backend")


def opener_for(name: str) -> Opener:
    check_backend(name)
    module, function = BACKENDS[name].split(":")
    return getattr(import_module(module), function)


def build_store(settings: IndexSettings, data_dir: Path) -> Store:
    """Open (creating if needed) the store ``settings.backend`` names, for a project whose
    data folder is ``data_dir``."""
    return opener_for(settings.backend)(settings, Path(data_dir))
