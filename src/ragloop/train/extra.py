"""The ``[train]`` extra: imported lazily, with an error naming the extra when it is missing."""

from __future__ import annotations

import importlib

from ragloop.errors import ExtraMissingError

MODULES = ("torch", "transformers", "peft", "gguf")
INSTALL = "pip install 'ragloop[train]'"


def require() -> None:
    """Raise ``ExtraMissingError`` unless every module training needs can be imported."""
    missing = []
    for name in MODULES:
        try:
            importlib.import_module(name)
        except ImportError:
            missing.append(name)
    if missing:
        raise ExtraMissingError(f"training needs the [train] extra ({INSTALL}); "
                                f"missing: {', '.join(missing)}")
