"""Loaders: one module per file format, found by suffix in the ``LOADERS`` registry.

``load_path(path)`` reads one file into documents; ``walk(paths, include, exclude)`` lists
the files a directory walk would ingest. A new format is a new module here with a loader
class decorated ``@LOADERS.register`` (the registry finds the modules of this package).
"""

from __future__ import annotations

import fnmatch
from collections.abc import Iterable, Iterator
from pathlib import Path

from ragloop.errors import IngestError
from ragloop.ingest.loaders.base import (
    LOADERS,
    MB,
    Loader,
    LoadItem,
    LoadLimits,
    file_doc_id,
    page_of,
)
from ragloop.records import Document

DEFAULT_MAX_FILE_MB = 20.0
DEFAULT_MAX_UNPACKED_MB = 100.0
DEFAULT_MAX_ARCHIVE_MEMBERS = 10_000

__all__ = ["LOADERS", "LoadLimits", "Loader", "LoadItem", "file_doc_id", "iter_path", "load_path",
           "loader_for", "page_of", "read_file", "walk"]


def loader_for(path: Path) -> Loader:
    suffix = path.suffix.lower()
    if suffix not in LOADERS:
        raise IngestError(path, f"no loader for '{path.suffix}' files "
                                f"(known: {', '.join(LOADERS.names())})")
    return LOADERS.get(suffix)()


def read_file(path: Path, max_file_mb: float = DEFAULT_MAX_FILE_MB) -> bytes:
    """The bytes of a single-document file, after the size checks."""
    try:
        size = path.stat().st_size
        if size == 0:
            raise IngestError(path, "empty file")
        if size > max_file_mb * 1024 * 1024:
            raise IngestError(path, f"file is {size / 1024 / 1024:.1f} MB, over the "
                                    f"[ingest] max_file_mb limit of {max_file_mb:g} MB")
        return path.read_bytes()
    except OSError as err:
        raise IngestError(path, f"cannot read: {err.strerror or err}") from None


def iter_path(path: Path | str, *, max_file_mb: float = DEFAULT_MAX_FILE_MB,
              max_unpacked_mb: float = DEFAULT_MAX_UNPACKED_MB,
              max_archive_members: int = DEFAULT_MAX_ARCHIVE_MEMBERS,
              data: bytes | None = None) -> Iterator[LoadItem]:
    """Yield the documents of one file, and an ``IngestError`` for each bad record.
    Raise ``IngestError`` when the whole file is unusable (over a limit included). ``data``
    may carry the bytes of a single-document file when the caller has read them already
    (with ``read_file``)."""
    path = Path(path)
    loader = loader_for(path)
    limits = LoadLimits(max_file_bytes=int(max_file_mb * MB),
                        max_unpacked_bytes=int(max_unpacked_mb * MB),
                        max_archive_members=max_archive_members)
    if loader.multi_document:
        try:
            if path.stat().st_size == 0:
                raise IngestError(path, "empty file")
        except OSError as err:
            raise IngestError(path, f"cannot read: {err.strerror or err}") from None
        yield from loader.load(path, None, limits)
        return
    yield from loader.load(path, data if data is not None else read_file(path, max_file_mb),
                           limits)


def load_path(path: Path | str, *, errors: list[IngestError] | None = None,
              **limits) -> list[Document]:
    """The documents of one file. Bad records (e.g. a BEIR line that is not JSON) are
    appended to ``errors`` when a list is given, else the first one is raised. ``limits``
    are ``iter_path``'s."""
    documents = []
    for item in iter_path(path, **limits):
        if isinstance(item, IngestError):
            if errors is None:
                raise item
            errors.append(item)
        else:
            documents.append(item)
    return documents


def _matches(relative: str, patterns: Iterable[str]) -> bool:
    # "**/x" must also match "x" at the top of the walked folder
    return any(fnmatch.fnmatch(relative, p) or (p.startswith("**/")
                                                and fnmatch.fnmatch(relative, p[3:]))
               for p in patterns)


def walk(paths: Iterable[Path | str], include: Iterable[str] = ("**/*",),
         exclude: Iterable[str] = ()) -> Iterator[Path]:
    """Files under ``paths`` (sorted, each once) whose path relative to the walked folder
    matches an ``include`` glob and no ``exclude`` glob. A file named directly is always
    taken; a path that does not exist raises ``IngestError``."""
    include, exclude = tuple(include), tuple(exclude)
    seen: set[Path] = set()
    for root in paths:
        root = Path(root)
        if root.is_file():
            candidates: Iterable[Path] = [root]
        elif root.is_dir():
            candidates = (p for p in sorted(root.rglob("*")) if p.is_file()
                          and _matches(p.relative_to(root).as_posix(), include)
                          and not _matches(p.relative_to(root).as_posix(), exclude))
        else:
            raise IngestError(root, "no such file or folder")
        for path in candidates:
            key = path.resolve()
            if key not in seen:
                seen.add(key)
                yield path
