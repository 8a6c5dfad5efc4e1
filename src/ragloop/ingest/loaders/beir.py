"""BEIR corpora (``corpus.jsonl``): one JSON object per line with ``_id``, ``title`` and
``text``. The document id is the ``_id``, so BEIR relevance judgements apply as they are.
The file is streamed, and a line is never read past the size limit of a record (a 1 GB
file without a newline costs the limit, not 1 GB); a bad line is an error naming
``file:line`` and every other line loads."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO

from ragloop.errors import IngestError
from ragloop.ingest.loaders.base import (
    LOADERS,
    MB,
    DocumentBuilder,
    LoadItem,
    LoadLimits,
    file_metadata,
)

SKIP_CHUNK = 64 * 1024  # how much of an oversize line is read at a time while skipping it
# the ids of single-document files (``base.file_doc_id``): a record may not take one, or it
# would replace that file's document
FILE_ID = re.compile(r"f[0-9a-f]{16}")
# metadata keys ingestion sets itself; a record's own value under one would be taken for it
RESERVED_KEYS = frozenset({"path", "format", "file_hash", "line", "encoding", "warnings",
                           "n_pages"})


def _lines(handle: BinaryIO, limit: int) -> Iterator[tuple[int, bytes | None, int]]:
    """(line number, line or None when over ``limit``, its size in bytes); an oversize
    line is skipped in bounded reads, never held whole."""
    number = 0
    while raw := handle.readline(limit + 1):
        number += 1
        if len(raw) <= limit:
            yield number, raw, len(raw)
            continue
        size = len(raw)
        while not raw.endswith(b"\n") and (raw := handle.readline(SKIP_CHUNK)):
            size += len(raw)
        yield number, None, size


def _not_unicode(value: str) -> str | None:
    """Why ``value`` is no Unicode text (a lone surrogate from a ``\\ud800`` escape), else
    None."""
    try:
        value.encode("utf-8")
    except UnicodeEncodeError as err:
        return f"a lone surrogate (U+{ord(value[err.start]):04X}) at character {err.start}"
    return None


def _metadata(record: dict) -> tuple[dict, list[str]]:
    """The record's ``metadata`` values that can be stored and filtered on (strings,
    numbers, booleans), and a note for each one left out."""
    given = record.get("metadata")
    if given is None:
        return {}, []
    if not isinstance(given, dict):
        return {}, [f"'metadata' is {type(given).__name__}, not an object; left out"]
    kept, notes = {}, []
    for key, value in given.items():
        if key in RESERVED_KEYS:
            notes.append(f"metadata key '{key}' is set by ingestion; the record's value is "
                         "left out")
        elif not isinstance(value, str | int | float | bool):
            notes.append(f"metadata '{key}' is {type(value).__name__}, not a string, number "
                         "or boolean; left out")
        elif isinstance(value, str) and (why := _not_unicode(value)):
            notes.append(f"metadata '{key}' holds {why}; left out")
        else:
            kept[key] = value
    return kept, notes


def _record(raw: bytes, where: str, number: int, path: Path, mtime: float,
            meta: dict) -> LoadItem:
    try:
        record = json.loads(raw)
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        return IngestError(where, f"not JSON: {err}")
    if not isinstance(record, dict) or "_id" not in record:
        return IngestError(where, "not a BEIR record (needs an object with '_id')")
    raw_id = record["_id"]
    if isinstance(raw_id, bool) or not isinstance(raw_id, str | int) or raw_id == "":
        return IngestError(where, "'_id' must be a non-empty string or an integer")
    doc_id = str(raw_id)
    if FILE_ID.fullmatch(doc_id):
        return IngestError(where, f"'_id' {doc_id!r} has the form of a file's document id "
                                  "(f and 16 hex digits), which records may not take")
    text, title = record.get("text"), record.get("title") or ""
    if not isinstance(text, str) or not isinstance(title, str):
        return IngestError(where, "'text' and 'title' must be strings")
    for field, value in (("_id", doc_id), ("title", title), ("text", text)):
        if why := _not_unicode(value):
            return IngestError(where, f"'{field}' holds {why}: not valid Unicode text")
    extra, notes = _metadata(record)
    builder = DocumentBuilder()
    builder.paragraph(text or title)
    metadata = {**extra, **meta, "line": number}
    if notes:
        metadata["warnings"] = [f"{where}: {note}" for note in notes]
    try:
        return builder.build(doc_id=doc_id, source=f"{path}#{doc_id}", title=title or doc_id,
                             mtime=mtime, metadata=metadata)
    except IngestError as err:
        return IngestError(where, err.cause)


@LOADERS.register
class BeirLoader:
    suffixes = (".jsonl",)
    version = 1
    multi_document = True

    def load(self, path: Path, data: bytes | None, limits: LoadLimits) -> Iterator[LoadItem]:
        meta = file_metadata(path, None)
        mtime = path.stat().st_mtime
        limit = limits.max_file_bytes
        with path.open("rb") as handle:
            for number, raw, size in _lines(handle, limit):
                where = f"{path}:{number}"
                if raw is None:
                    yield IngestError(where, f"line is {size / MB:.1f} MB, over the [ingest] "
                                             f"max_file_mb limit of {limit / MB:g} MB a record")
                    continue
                if not raw.strip():
                    continue
                try:
                    yield _record(raw, where, number, path, mtime, meta)
                except Exception as err:  # noqa: BLE001 - one record must never end the file
                    yield IngestError(where, f"cannot load record: {type(err).__name__}: {err}")
