"""Index-level facts kept with the index (``Store.index_info``): which embedder built its
vectors, so a changed embedder is caught before it searches or mixes vectors."""

from __future__ import annotations

from typing import Any

from ragloop.errors import EmbedderChangedError
from ragloop.index.store import Store


def embedder_info(model_id: str, dim: int) -> dict[str, Any]:
    """``set_index_info`` keywords recording the embedder."""
    return {"embedder": {"id": model_id, "dim": int(dim)}}


def check_embedder(store: Store, model_id: str, dim: int) -> None:
    """Raise ``EmbedderChangedError`` when the index records another embedder. An index
    that records none (new, or written before this was recorded) passes."""
    recorded = store.index_info().get("embedder")
    if isinstance(recorded, dict) and (recorded.get("id") != model_id
                                       or recorded.get("dim", dim) != dim):
        raise EmbedderChangedError(f"{recorded.get('id')} ({recorded.get('dim')}-d)",
                                   f"{model_id} ({dim}-d)")
