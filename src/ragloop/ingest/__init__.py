"""Ingestion: files → documents (``loaders``) → clean text and duplicates (``clean``) →
chunks (``chunkers``, ``chunk``) → context and questions (``enrich``) → the index, run
incrementally in batches by ``sync.ingest_paths``."""
