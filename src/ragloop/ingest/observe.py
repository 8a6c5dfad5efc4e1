"""Observers of an ingest run: progress and timing are told what happens, the run does not
hold them. ``IngestObserver`` lists the events; ``Observers`` fans out to several;
``Timings`` sums seconds per stage; ``ProgressLog`` keeps the figures a user needs on a long
run — files, documents and chunks done of those planned, the embedding rate, an ETA from
the work already planned, and what is slow now — and renders them as one status line;
``RichProgress`` shows that line under a bar on a terminal.
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from dataclasses import dataclass, field

from ragloop.ingest.report import STAGES


class IngestObserver:
    """Every event has a default that does nothing; an observer overrides what it uses."""

    def files_found(self, n_files: int) -> None: ...

    def file_started(self, path: str) -> None: ...

    def file_done(self, path: str) -> None: ...

    def documents_planned(self, n_documents: int, n_characters: int) -> None:
        """Documents queued for processing (new or changed) and their text size."""

    def document_unchanged(self, n: int = 1) -> None: ...

    def processing(self, n_documents: int, source: str, n_characters: int) -> None:
        """A batch goes to the per-document stage; ``source`` is its largest document."""

    def embedding(self, n_chunks: int, source: str) -> None:
        """A batch of ``n_chunks`` chunks goes to the embedder; ``source`` has the most."""

    def embedded(self, n_chunks: int) -> None:
        """``n_chunks`` more chunks of the current batch have their vectors."""

    def committed(self, n_documents: int, n_chunks: int, n_characters: int) -> None: ...

    def stage_seconds(self, stage: str, seconds: float) -> None: ...

    def note(self, text: str) -> None:
        """A status message (e.g. a worker was lost and its batch is retried)."""


class Observers(IngestObserver):
    def __init__(self, observers: Iterable[IngestObserver]):
        self.observers = [o for o in observers if o is not None]

    def __getattribute__(self, name: str):
        if name.startswith("_") or name == "observers":
            return object.__getattribute__(self, name)

        def fan_out(*args, **kwargs):
            for observer in object.__getattribute__(self, "observers"):
                getattr(observer, name)(*args, **kwargs)
        return fan_out


class Timings(IngestObserver):
    def __init__(self) -> None:
        self.seconds: dict[str, float] = dict.fromkeys(STAGES, 0.0)

    def stage_seconds(self, stage: str, seconds: float) -> None:
        self.seconds[stage] = self.seconds.get(stage, 0.0) + seconds


@dataclass
class ProgressLog(IngestObserver):
    """Counts and rates; ``status()`` is the line a user reads. The ETA divides the characters
    planned but not yet committed by the rate at which characters have been committed — it
    covers the work planned so far (files not yet read are not in it, and the line says how
    many files remain)."""

    clock: callable = time.monotonic
    files_total: int = 0
    files_done: int = 0
    docs_planned: int = 0
    docs_done: int = 0
    docs_unchanged: int = 0
    chars_planned: int = 0
    chars_done: int = 0
    chunks_done: int = 0
    current_file: str = ""
    slow: str = ""  # what the run is waiting on, e.g. "embedding 2,140 chunks of x.html"
    notes: list[str] = field(default_factory=list)
    embed_batch: int = 0  # chunks of the batch being embedded now (0: none)
    embed_batch_done: int = 0
    embed_source: str = ""
    chunks_embedded: int = 0  # every chunk embedded so far, across batches
    embed_seconds: float = 0.0  # time spent embedding, batches finished
    _started: float | None = None
    _first_commit: float | None = None
    _embed_started: float | None = None

    def _start(self) -> None:
        if self._started is None:
            self._started = self.clock()

    def files_found(self, n_files: int) -> None:
        self._start()
        self.files_total = n_files

    def file_started(self, path: str) -> None:
        self._start()
        self.current_file = path

    def file_done(self, path: str) -> None:
        self.files_done += 1

    def documents_planned(self, n_documents: int, n_characters: int) -> None:
        self._start()
        self.docs_planned += n_documents
        self.chars_planned += n_characters

    def document_unchanged(self, n: int = 1) -> None:
        self.docs_unchanged += n

    def processing(self, n_documents: int, source: str, n_characters: int) -> None:
        self.slow = (f"chunking {n_documents:,} document{'s' if n_documents != 1 else ''}, "
                     f"the largest {source} ({n_characters:,} characters)")

    def embedding(self, n_chunks: int, source: str) -> None:
        self.slow = f"embedding {n_chunks:,} chunks" + (f" of {source}" if source else "")
        self.embed_batch, self.embed_batch_done, self.embed_source = n_chunks, 0, source
        self._embed_started = self.clock()

    def embedded(self, n_chunks: int) -> None:
        self.embed_batch_done += n_chunks
        self.chunks_embedded += n_chunks

    def _end_embedding(self) -> None:
        if self._embed_started is not None:
            self.embed_seconds += self.clock() - self._embed_started
        self._embed_started = None
        self.embed_batch = self.embed_batch_done = 0

    def committed(self, n_documents: int, n_chunks: int, n_characters: int) -> None:
        if self._first_commit is None:
            self._first_commit = self.clock()
        self._end_embedding()
        self.docs_done += n_documents
        self.chunks_done += n_chunks
        self.chars_done += n_characters
        self.slow = ""

    def note(self, text: str) -> None:
        self.notes.append(text)

    @property
    def elapsed(self) -> float:
        return 0.0 if self._started is None else self.clock() - self._started

    @property
    def chunks_per_second(self) -> float | None:
        return self.chunks_done / self.elapsed if self.chunks_done and self.elapsed else None

    @property
    def eta_seconds(self) -> float | None:
        """Seconds left for the documents planned so far (None before the first commit)."""
        if not self.chars_done or not self.elapsed:
            return None
        return max(0, self.chars_planned - self.chars_done) * self.elapsed / self.chars_done

    @property
    def embed_rate(self) -> float | None:
        """Chunks embedded per second of embedding, the batch in flight included."""
        seconds = self.embed_seconds + (self.clock() - self._embed_started
                                        if self._embed_started is not None else 0.0)
        return self.chunks_embedded / seconds if self.chunks_embedded and seconds else None

    def _embedding_now(self) -> str:
        """The batch being embedded: how far, how fast, and its ETA (counting down)."""
        line = (f"embedding {self.embed_batch_done:,}/{self.embed_batch:,} chunks"
                + (f" of {self.embed_source}" if self.embed_source else ""))
        rate = self.embed_rate
        if rate:
            left = (self.embed_batch - self.embed_batch_done) / rate
            line += f" · {rate:.1f} chunks/s embedded · batch ETA {_duration(left)}"
        return line

    def status(self) -> str:
        parts = [f"files {self.files_done}/{self.files_total}",
                 f"documents {self.docs_done:,}/{self.docs_planned:,}"
                 + (f" (+{self.docs_unchanged:,} unchanged)" if self.docs_unchanged else ""),
                 f"chunks {self.chunks_done:,}"]
        rate = self.chunks_per_second
        if rate is not None:
            parts.append(f"{rate:.1f} chunks/s")
        eta = self.eta_seconds
        if eta is not None:
            more = self.files_total - self.files_done
            parts.append(f"ETA {_duration(eta)}" + (f" for the work planned ({more} more files "
                                                    "to read)" if more else ""))
        if self.embed_batch and self.embed_batch_done:
            parts.append(self._embedding_now())
        elif self.slow:
            parts.append(self.slow)
        return " · ".join(parts)


def _duration(seconds: float) -> str:
    seconds = int(round(seconds))
    if seconds < 60:
        return f"{seconds}s"
    if seconds < 3600:
        return f"{seconds // 60}m{seconds % 60:02d}s"
    return f"{seconds // 3600}h{seconds % 3600 // 60:02d}m"


class _Status:
    """The status line, rendered anew at every refresh (so an ETA counts down between
    events) as wrapping text: nothing is cut at 80 columns."""

    def __init__(self, log: ProgressLog):
        self.log = log

    def __rich__(self):
        from rich.text import Text

        return Text(self.log.status(), overflow="fold")


class RichProgress(ProgressLog):
    """``ProgressLog`` on a terminal: a files bar, and the status line under it."""

    def __init__(self) -> None:
        super().__init__()
        from rich.console import Console, Group
        from rich.live import Live
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

        self.bar = Progress(TextColumn("[bold]files"), BarColumn(), MofNCompleteColumn())
        self.live = Live(Group(self.bar, _Status(self)), console=Console(stderr=True),
                         transient=True, refresh_per_second=4)
        self.task = None

    def __enter__(self) -> RichProgress:
        self.live.__enter__()
        self.task = self.bar.add_task("", total=None)
        return self

    def __exit__(self, *exc) -> None:
        self.live.__exit__(*exc)

    def _refresh(self) -> None:
        if self.task is not None:
            self.bar.update(self.task, total=self.files_total or None,
                            completed=self.files_done)

    def files_found(self, n_files: int) -> None:
        super().files_found(n_files)
        self._refresh()

    def file_done(self, path: str) -> None:
        super().file_done(path)
        self._refresh()
