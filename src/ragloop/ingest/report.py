"""What an ingest run did: per-file results, document counts, seconds per stage, LLM use."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

# parse: reading and parsing files, including the unicode/whitespace normalisation done
# while documents are built (so offsets stay right); clean: hashing, the unchanged check and
# duplicate detection; chunk: chunking and token counting; enrich: LLM context and
# questions; embed: chunk and question vectors; index: store writes and commits. On a pool
# of workers, chunk/enrich/embed are summed over the workers (they can exceed the wall time).
STAGES = ("parse", "clean", "chunk", "enrich", "embed", "index")


@dataclass
class FileResult:
    path: str
    added: int = 0
    changed: int = 0
    unchanged: int = 0
    duplicates: int = 0  # reported; skipped or kept per [ingest] dedup
    chunks: int = 0
    questions: int = 0
    errors: list[str] = field(default_factory=list)  # "path[:line]: cause", one per failure
    warnings: list[str] = field(default_factory=list)

    @property
    def failed(self) -> int:
        return len(self.errors)

    @property
    def status(self) -> str:
        done = self.added + self.changed + self.unchanged + self.duplicates
        if self.errors:
            return "partial" if done else "failed"
        if self.added or self.changed:
            return "added" if self.added and not self.changed else "changed"
        return "duplicate" if self.duplicates and not self.unchanged else "unchanged"


@dataclass
class IngestReport:
    files: list[FileResult] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)  # doc ids pruned
    stale: int = 0  # documents whose file is gone, kept because --prune was not given
    seconds: dict[str, float] = field(default_factory=lambda: dict.fromkeys(STAGES, 0.0))
    total_seconds: float = 0.0
    llm: dict[str, float] = field(default_factory=dict)  # LLMClient usage during the run
    fingerprint: str = ""
    warnings: list[str] = field(default_factory=list)  # run-level notes

    def _sum(self, name: str) -> int:
        return sum(getattr(f, name) for f in self.files)

    @property
    def added(self) -> int:
        return self._sum("added")

    @property
    def changed(self) -> int:
        return self._sum("changed")

    @property
    def unchanged(self) -> int:
        return self._sum("unchanged")

    @property
    def duplicates(self) -> int:
        return self._sum("duplicates")

    @property
    def failed(self) -> int:
        return self._sum("failed")

    @property
    def chunks(self) -> int:
        return self._sum("chunks")

    @property
    def questions(self) -> int:
        return self._sum("questions")

    @property
    def errors(self) -> list[str]:
        return [e for f in self.files for e in f.errors]

    @property
    def ok(self) -> bool:
        return self.failed == 0

    def counts(self) -> dict[str, int]:
        return {"added": self.added, "changed": self.changed, "unchanged": self.unchanged,
                "removed": len(self.removed), "duplicates": self.duplicates,
                "failed": self.failed, "chunks": self.chunks, "questions": self.questions}

    def as_dict(self) -> dict:
        data = asdict(self)
        data["counts"] = self.counts()
        return data
