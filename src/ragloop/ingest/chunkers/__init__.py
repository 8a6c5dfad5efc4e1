"""Chunking strategies, one module each, chosen by ``[ingest] chunker``.

A chunker implements ``Chunker``: it cuts a document into ``Piece``s (spans of the
document text plus their section path) of at most ``limit`` embedder tokens. Turning pieces
into ``Chunk`` records (header, context, dense and lexical texts) is ``ingest.chunk``'s job.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol, runtime_checkable

from ragloop.config import IngestSettings
from ragloop.ingest.chunkers.units import bounded_counter
from ragloop.models.embedder import Embedder
from ragloop.records import Document
from ragloop.registry import Registry

# ``@CHUNKERS.register`` on a ``TokenSizedChunker`` subclass registers it by its ``name``
CHUNKERS: Registry = Registry("chunker", key="ingest.chunker", package=__name__,
                              group="ragloop.chunkers")


@dataclass(frozen=True)
class Piece:
    start: int
    end: int
    section_path: tuple[str, ...] = ()
    # text shown before the span: a table's header row, repeated in each part of a long table
    prefix: str = ""


@runtime_checkable
class Chunker(Protocol):
    name: str

    def split(self, document: Document, limit: int) -> list[Piece]:
        """Pieces covering the document's text, each at most ``limit`` tokens."""
        ...


class TokenSizedChunker:
    """What every chunker starts from: its size targets, and the embedder's token counter."""

    name = ""
    # part of the ingest fingerprint: bump when the same document is cut differently
    version = 1

    def __init__(self, settings: IngestSettings, embedder: Embedder):
        self.target = settings.chunk_tokens
        self.overlap = settings.overlap_tokens
        # bounded: counts above the embedder's limit are only compared with it
        self.count = bounded_counter(embedder.count_tokens_batch, embedder.max_tokens)


def build_chunker(settings: IngestSettings, embedder: Embedder) -> Chunker:
    return CHUNKERS.get(settings.chunker)(settings, embedder)
