"""BEIR corpora (``corpus.jsonl``): one JSON object per line with ``_id``, ``title`` and
``text``. The document id is the ``_id``, so BEIR relevance judgements apply as they are.
The file is streamed; a bad line is an error naming ``file:line`` and the other lines load."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

from ragloop.errors import IngestError
from ragloop.ingest.loaders.base import (
    LOADERS,
    DocumentBuilder,
    LoadItem,
    LoadLimits,
    file_metadata,
)


@LOADERS.register
class BeirLoader:
    suffixes = (".jsonl",)
    version = 1
    multi_document = True

    def load(self, path: Path, data: bytes | None, limits: LoadLimits) -> Iterator[LoadItem]:
        meta = file_metadata(path, None)
        mtime = path.stat().st_mtime
        with path.open("rb") as handle:
            for number, raw in enumerate(handle, start=1):
                if not raw.strip():
                    continue
                where = f"{path}:{number}"
                if len(raw) > limits.max_file_bytes:
                    yield IngestError(where, f"line is {len(raw) / 1e6:.1f} MB, over the limit")
                    continue
                try:
                    record = json.loads(raw)
                except (json.JSONDecodeError, UnicodeDecodeError) as err:
                    yield IngestError(where, f"not JSON: {err}")
                    continue
                if not isinstance(record, dict) or "_id" not in record:
                    yield IngestError(where, "not a BEIR record (needs an object with '_id')")
                    continue
                text, title = record.get("text"), record.get("title") or ""
                if not isinstance(text, str) or not isinstance(title, str):
                    yield IngestError(where, "'text' and 'title' must be strings")
                    continue
                builder = DocumentBuilder()
                builder.paragraph(text or title)
                doc_id = str(record["_id"])
                extra = {k: v for k, v in record.get("metadata", {}).items()
                         if isinstance(v, str | int | float | bool)} \
                    if isinstance(record.get("metadata"), dict) else {}
                try:
                    yield builder.build(doc_id=doc_id, source=f"{path}#{doc_id}",
                                        title=title or doc_id, mtime=mtime,
                                        metadata={**extra, **meta, "line": number})
                except IngestError as err:
                    yield IngestError(where, err.cause)
