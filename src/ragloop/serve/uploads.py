"""Where uploaded files are kept (``<data_dir>/uploads/``) and under which names.

A name keeps its letters in any script (``über.md`` stays ``über.md``); characters that are
unsafe in a file name are replaced, and then a short hash of the original name is added
after a ``~``, which the replacement never leaves in a name: so two different uploaded names
never land on one file (``a b.md`` is ``a_b~<hash>.md``, and an upload literally named so is
renamed in turn). A file in a format no loader reads is refused before anything is written.
A re-upload of a name replaces the earlier file only if it ingests: otherwise the earlier
file is put back (``restore``), and a first upload that fails is removed, so a rejected file
leaves nothing behind. A re-upload killed before it finished leaves the earlier file set
aside; ``recover_interrupted`` puts back whichever version the index holds before anything
else is saved.
"""

from __future__ import annotations

import hashlib
import re
import shutil
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from fastapi import UploadFile

from ragloop.errors import IngestError
from ragloop.ingest.loaders import loader_for

UNSAFE = re.compile(r"[^\w.-]+")  # \w: letters and digits of every script, and _
TAG = "~"  # before the hash of a changed name; UNSAFE replaces it, so no kept name holds one
MAX_STEM_CHARS = 100
REPLACED_DIR = ".replaced"  # hidden: skipped by a directory walk of uploads/


class UploadRejected(Exception):
    """An upload refused before it was saved (no usable name, unknown format)."""


def upload_name(filename: str | None) -> str:
    """The saved name of an uploaded ``filename`` (its directory part dropped)."""
    original = unicodedata.normalize("NFC", Path(filename or "").name)
    safe = UNSAFE.sub("_", original).strip("._")
    stem, dot, suffix = safe.rpartition(".") if "." in safe else (safe, "", "")
    if len(stem) > MAX_STEM_CHARS:
        stem = stem[:MAX_STEM_CHARS]
    safe = f"{stem}{dot}{suffix}"
    if not stem:
        raise UploadRejected(f"upload has no usable file name: {filename!r}")
    if safe != original:
        tag = hashlib.sha256(original.encode("utf-8")).hexdigest()[:8]
        safe = f"{stem}{TAG}{tag}{dot}{suffix}"
    return safe


@dataclass
class SavedUpload:
    path: Path
    original: str
    previous: Path | None  # the file this one replaced, kept aside until the ingest is done

    def keep(self) -> None:
        if self.previous is not None:
            self.previous.unlink(missing_ok=True)

    def restore(self) -> None:
        """Undo the save: put the replaced file back, or remove a first upload."""
        if self.previous is not None:
            self.previous.replace(self.path)
        else:
            self.path.unlink(missing_ok=True)


def save_upload(upload: UploadFile, folder: Path, taken: set[str]) -> SavedUpload:
    """Write ``upload`` under ``folder``; ``taken`` holds the names saved by this request."""
    name = upload_name(upload.filename)
    try:
        loader_for(Path(name))
    except IngestError as err:
        raise UploadRejected(f"{upload.filename}: {err.cause}") from None
    if name in taken:
        raise UploadRejected(f"{upload.filename}: uploaded twice in one request")
    taken.add(name)
    folder.mkdir(parents=True, exist_ok=True)
    target = folder / name
    previous = None
    if target.exists():
        aside = folder / REPLACED_DIR
        aside.mkdir(exist_ok=True)
        previous = aside / name
        if previous.exists():  # never over the one copy of what the index may hold
            raise RuntimeError(f"{previous} is left from an interrupted upload; "
                               "recover_interrupted must run first")
        target.replace(previous)
    try:
        with target.open("wb") as handle:
            shutil.copyfileobj(upload.file, handle, 1 << 20)
    except BaseException:
        SavedUpload(target, upload.filename or "", previous).restore()
        raise
    return SavedUpload(target, upload.filename or "", previous)


def interrupted(folder: Path) -> list[Path]:
    """Files an interrupted re-upload left set aside (none after a clean run)."""
    aside = folder / REPLACED_DIR
    return sorted(p for p in aside.iterdir() if p.is_file()) if aside.is_dir() else []


def recover_interrupted(folder: Path, indexed: Callable[[Path], bool]) -> list[str]:
    """Settle each file set aside by a re-upload killed mid-way: ``indexed(path)`` says
    whether the index holds the file at ``path`` as it is now. When it holds the new file
    (the kill came after its ingest), the set-aside copy goes; otherwise the set-aside copy
    is what the index serves and is put back over the new bytes. Returns what was done."""
    done = []
    for previous in interrupted(folder):
        target = folder / previous.name
        if target.is_file() and indexed(target):
            previous.unlink()
            done.append(f"{target.name}: kept the new upload (it is indexed)")
        else:
            previous.replace(target)
            done.append(f"{target.name}: put back the file the index holds")
    return done
