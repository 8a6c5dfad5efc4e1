"""Copy an index from one store to another (e.g. the embedded index into Postgres) without
embedding again: every document moves with its chunks, questions and stored vectors, and the
index-level metadata (which embedder built the vectors) goes last, with the final commit.

The copy commits every ``batch_docs`` documents; an interrupted copy is resumed by running it
again (``replace_document`` replaces what an earlier run wrote).
"""

from __future__ import annotations

from collections.abc import Callable

from ragloop.index.store import Store


def copy_index(source: Store, target: Store, *, batch_docs: int = 256,
               on_progress: Callable[[int], None] | None = None) -> int:
    """Copy every document of ``source`` into ``target``; returns how many were copied."""
    copied = 0
    with target.writer() as writer:
        for stored in source.export(batch_docs):
            writer.replace_document(*stored.as_args())
            copied += 1
            if copied % batch_docs == 0:
                writer.commit()
                if on_progress:
                    on_progress(copied)
        info = source.index_info()
        if info:
            writer.set_index_info(**info)
    if on_progress:
        on_progress(copied)
    return copied
