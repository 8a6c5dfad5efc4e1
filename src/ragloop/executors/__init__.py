"""Executors: where per-item work runs. Ingestion maps its per-document batches over one and
``ragloop eval run`` its examples; the caller stays the one writer of results. A new
executor is one module here with its builder registered in ``base.EXECUTORS``."""
