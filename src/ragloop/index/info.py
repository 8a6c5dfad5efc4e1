"""Index-level facts kept with the index (``Store.index_info``): which embedder built its
vectors, so a changed embedder is caught before it searches or mixes vectors."""

from __future__ import annotations

from typing import Any

from ragloop.errors import EmbedderChangedError
from ragloop.index.store import Store


def embedder_info(model_id: str, dim: int) -> dict[str, Any]:
    return {"embedder": model_id, "dim": int(dim)}


def check_embedder(store: Store, model_id: str, dim: int) -> None:
    """Raise ``EmbedderChangedError`` when the index records another embedder. An index
    that records none (new, or written before this was recorded) passes."""
    recorded = store.index_info()
    if recorded.get("embedder") and (recorded["embedder"] != model_id
                                     or recorded.get("dim", dim) != dim):
        raise EmbedderChangedError(f"{recorded['embedder']} ({recorded.get('dim')}-d)",
                                   f"{model_id} ({dim}-d)")
