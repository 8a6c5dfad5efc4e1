"""Ingestion: files → documents (``loaders``) → clean text and duplicates (``clean``) →
chunks (``chunkers``, ``chunk``) → context and questions (``enrich``) → the index.

Run as stages by ``sync.ingest_paths``: ``plan`` (what changed, duplicates, stale) →
``process`` (the per-document stage and batched embedding, picklable, so it runs on the
workers of a ``ragloop.executors`` executor) → ``commit`` (the one writer); ``observe`` holds the
progress and timing observers."""
