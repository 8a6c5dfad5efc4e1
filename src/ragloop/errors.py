"""Typed errors. Each carries the thing it is about (a file, a key, a line) in its message."""

from __future__ import annotations

from pathlib import Path


class RagloopError(Exception):
    """Base of every error ragloop raises on purpose."""


class ConfigError(RagloopError):
    """A config file is missing, malformed, or has an unknown key or a wrong type."""

    def __init__(self, message: str, *, path: Path | None = None, key: str | None = None):
        self.path = path
        self.key = key
        where = f"{path}: " if path else ""
        super().__init__(f"{where}{message}")


class ProjectNotFoundError(ConfigError):
    """No ragloop.toml in the folder the command was pointed at."""


class ModelError(RagloopError):
    """A model could not be loaded or called."""


class ModelNotFoundError(ModelError):
    """The configured model file does not exist."""


class ModelUnreachableError(ModelError):
    """The HTTP model server did not accept a connection."""


class ModelTimeoutError(ModelError):
    """A model call took longer than its timeout (after retries)."""


class SchemaValidationError(ModelError):
    """The model's output is not JSON valid against the requested schema.

    ``raw_text`` keeps what the model said so the failure can be inspected.
    """

    def __init__(self, message: str, *, raw_text: str, completion=None):
        self.raw_text = raw_text
        self.reason = message
        self.completion = completion  # the records.Completion (its usage), when known
        super().__init__(f"{message}; raw output: {raw_text[:500]!r}")


class IngestError(RagloopError):
    """One input file could not be ingested. ``path`` names it."""

    def __init__(self, path: Path | str, cause: str):
        self.path = Path(path)
        self.cause = cause
        super().__init__(f"{path}: {cause}")


class DatasetError(RagloopError):
    """A dataset file is malformed. ``line`` is 1-based when known."""

    def __init__(self, path: Path | str, message: str, *, line: int | None = None):
        self.path = Path(path)
        self.line = line
        where = f"{path}:{line}" if line is not None else f"{path}"
        super().__init__(f"{where}: {message}")


class StoreError(RagloopError):
    """The index store is missing, locked or inconsistent."""


class ExtraMissingError(RagloopError):
    """A feature needs an optional extra that is not installed; the message names it."""


class TrainError(RagloopError):
    """Training could not start or go on (bad base model, no usable rows, bad checkpoint)."""


class DataLeakError(TrainError):
    """Training rows overlap the evaluation set the run is gated on."""


class EmbedderChangedError(StoreError):
    """The index's vectors were made by another embedder than the configured one: searching
    them with the new one would return wrong results without a word."""

    def __init__(self, index_embedder: str, configured: str):
        self.index_embedder = index_embedder
        self.configured = configured
        super().__init__(f"the index was embedded with '{index_embedder}' but [embedder] is now "
                         f"'{configured}'; run `ragloop ingest --reembed` to re-embed every "
                         "document (or restore the old [embedder] settings)")


class UnknownPartError(ConfigError):
    """A name that no registered part of that kind answers to (a strategy, a store backend,
    a loader suffix ...). ``choices`` are the names that are registered."""

    def __init__(self, kind: str, name: str, choices, *, key: str | None = None,
                 unavailable: dict[str, str] | None = None):
        self.kind = kind
        self.name = name
        self.choices = tuple(sorted(choices))
        where = ""
        if key:
            section, _, field = key.partition(".")
            where = f" in [{section}] {field}" if field else f" in [{section}]"
        message = (f"unknown {kind} '{name}'{where}; choose from "
                   f"{', '.join(self.choices) or '(none)'}")
        if unavailable:
            message += " (not loaded: " + "; ".join(f"{m}: {why}" for m, why in
                                                    sorted(unavailable.items())) + ")"
        super().__init__(message, key=key)


# ----------------------------------------------------------------------------- the disk

_FULL_ERRNOS = frozenset({28, 27, 122})  # ENOSPC, EFBIG (a file size limit), EDQUOT
_FULL_SQLITE = ("database or disk is full", "disk i/o error")


def is_disk_full(err: BaseException) -> bool:
    """Whether ``err`` is the disk (or a quota, or a file size limit) refusing a write:
    an ``OSError`` with its errno, or SQLite's own words for it."""
    if isinstance(err, OSError):
        return err.errno in _FULL_ERRNOS
    message = str(err).lower()
    return type(err).__module__.startswith("sqlite3") and any(m in message
                                                               for m in _FULL_SQLITE)


def describe_os_error(err: BaseException) -> str:
    """One line for an error of the disk or a database: what, where, and for a full disk
    what to do."""
    if isinstance(err, OSError):
        what = f"{err.strerror or err}" + (f": {err.filename}" if err.filename else "")
    else:
        what = f"{type(err).__name__}: {err}"
    if is_disk_full(err):
        return (f"the disk is full ({what}); what was stored before is kept: free some "
                "space and run it again")
    return what


def printable(text: str) -> str:
    """``text`` safe to show on a terminal: control characters (ESC, which starts terminal
    escape sequences, included) as visible ``\\x1b`` escapes; newlines and tabs kept."""
    return "".join(ch if ch in "\n\t" or not _is_control(ch) else ascii(ch)[1:-1]
                   for ch in text)


def _is_control(ch: str) -> bool:
    code = ord(ch)
    return code < 32 or 127 <= code < 160 or code in (0x2028, 0x2029) \
        or 0x202A <= code <= 0x202E or 0x2066 <= code <= 0x2069  # bidi overrides
