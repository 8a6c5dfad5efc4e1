"""``[index] backend`` → an open ``Store``. A backend is a module of this package with an
opener registered in ``BACKENDS`` — ``@BACKENDS.register("name")`` on
``opener(settings: IndexSettings, data_dir: Path) -> Store`` — and importing its own driver
(a database client, say) inside the opener, so only projects that use it need it. Outside
packages register backends through the ``ragloop.stores`` entry points.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from ragloop.config import IndexSettings
from ragloop.index.store import Store
from ragloop.registry import Registry

Opener = Callable[[IndexSettings, Path], Store]

BACKENDS: Registry[Opener] = Registry("index backend", key="index.backend",
                                      package="ragloop.index", group="ragloop.stores")


def build_store(settings: IndexSettings, data_dir: Path) -> Store:
    """Open (creating if needed) the store ``settings.backend`` names, for a project whose
    data folder is ``data_dir``."""
    return BACKENDS.get(settings.backend)(settings, Path(data_dir))
