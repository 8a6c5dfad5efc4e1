"""Loaders: one module per file format, found by suffix in the ``LOADERS`` registry.

``load_path(path)`` reads one file into documents; ``walk(paths, include, exclude)`` lists
the files a directory walk would ingest. A new format is a new module here with a loader
class decorated ``@LOADERS.register`` (the registry finds the modules of this package).
"""

from __future__ import annotations

import fnmatch
import os
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
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
           "loader_for", "page_of", "read_file", "walk", "WalkProblem"]


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
              data: bytes | None = None, **options) -> Iterator[LoadItem]:
    """Yield the documents of one file, and an ``IngestError`` for each bad record.
    Raise ``IngestError`` when the whole file is unusable (over a limit included). ``data``
    may carry the bytes of a single-document file when the caller has read them already
    (with ``read_file``); ``options`` are further ``LoadLimits`` fields (OCR, text and row
    limits)."""
    path = Path(path)
    loader = loader_for(path)
    limits = LoadLimits(max_file_bytes=int(max_file_mb * MB),
                        max_unpacked_bytes=int(max_unpacked_mb * MB),
                        max_archive_members=max_archive_members, **options)
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


@dataclass(frozen=True)
class WalkProblem:
    """What a directory walk could not take: a folder it cannot read (``error``: nothing
    under it is ingested, and nothing under it may be pruned) or a link it does not follow
    (a note)."""

    path: Path
    message: str
    error: bool


def walk(paths: Iterable[Path | str], include: Iterable[str] = ("**/*",),
         exclude: Iterable[str] = (), *, follow_symlinks: bool = False,
         problems: list[WalkProblem] | None = None) -> Iterator[Path]:
    """Files under ``paths`` (sorted, each once) whose path relative to the walked folder
    matches an ``include`` glob and no ``exclude`` glob. A file named directly is always
    taken; a path that does not exist raises ``IngestError``. A symbolic link found in a
    folder is followed only when its target lies inside the walked folder, unless
    ``follow_symlinks`` (a link to ``/etc`` must not index ``/etc``). Folders that cannot be
    read or searched, and links not followed, are appended to ``problems`` when a list is
    given."""
    include, exclude = tuple(include), tuple(exclude)
    problems = problems if problems is not None else []
    seen: set[Path] = set()
    for root in paths:
        root = Path(root)
        if root.is_file():
            candidates: Iterable[Path] = [root]
        elif root.is_dir():
            candidates = _folder_files(root, include, exclude, follow_symlinks, problems)
        else:
            raise IngestError(root, "no such file or folder")
        for path in candidates:
            key = path.resolve()
            if key not in seen:
                seen.add(key)
                yield path


def _reason(err: OSError) -> str:
    return err.strerror or type(err).__name__


def _folder_files(root: Path, include: tuple[str, ...], exclude: tuple[str, ...],
                  follow_symlinks: bool, problems: list[WalkProblem]) -> list[Path]:
    real_root = root.resolve()
    pruned = tuple(p for p in exclude if p.endswith("/**"))  # everything under a folder
    visited: set[Path] = set()  # real folders, so a link back up is no loop
    found: list[Path] = []

    def unreadable(folder: Path, what: str, err: OSError) -> None:
        problems.append(WalkProblem(folder, f"{folder}: {what} ({_reason(err)}); nothing "
                                            "under it was ingested or pruned", error=True))

    def visit(folder: Path) -> None:
        real = folder.resolve()
        if real in visited:
            return
        visited.add(real)
        try:
            with os.scandir(folder) as listing:
                entries = sorted(listing, key=lambda entry: entry.name)
        except OSError as err:
            return unreadable(folder, "cannot read folder", err)
        if entries:
            try:  # listing needs read permission, opening what it lists needs search (x)
                os.lstat(entries[0].path)
            except OSError as err:
                return unreadable(folder, "cannot search folder: its names can be listed "
                                          "but nothing in it opened", err)
        for entry in entries:
            path = Path(entry.path)
            relative = path.relative_to(root).as_posix()
            try:
                if entry.is_symlink() and not _link_taken(path, real_root, follow_symlinks,
                                                          problems):
                    continue
                is_dir = entry.is_dir()
                is_file = not is_dir and entry.is_file()
            except OSError as err:
                unreadable(path, "cannot read", err)
                continue
            if is_dir:
                if not _matches(relative + "/", pruned):
                    visit(path)
            elif is_file and _matches(relative, include) and not _matches(relative, exclude):
                found.append(path)

    visit(root)
    return found


def _link_taken(link: Path, real_root: Path, follow_symlinks: bool,
                problems: list[WalkProblem]) -> bool:
    try:
        target = link.resolve()
        broken = not target.exists()
    except RuntimeError:  # a loop of links
        target, broken = link, True
    if broken:
        problems.append(WalkProblem(link, f"{link}: broken symbolic link (to {target}); "
                                          "skipped", error=False))
        return False
    if follow_symlinks or target.is_relative_to(real_root):
        return True
    problems.append(WalkProblem(link, f"{link}: symbolic link to {target}, outside "
                                      f"{real_root}; not followed (set [ingest] "
                                      "follow_symlinks = true to follow links out of the "
                                      "folder)", error=False))
    return False
