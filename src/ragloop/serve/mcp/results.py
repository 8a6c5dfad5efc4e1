"""What the MCP tools return: one pydantic model per tool (published as its output schema and
sent as structured content) and a short text rendering of it, for clients that show or pass
on only a tool result's text."""

from __future__ import annotations

from typing import Any, Literal
from urllib.parse import quote

from pydantic import BaseModel, Field

from ragloop.index.store import DocumentEntry
from ragloop.records import Answer, Candidate, Chunk, Feedback

DOCUMENT_URI = "ragloop://document/{doc_id}"


def document_uri(doc_id: str) -> str:
    """The document's MCP resource URI (ids hold ``#`` and ``:``, so they are escaped)."""
    return DOCUMENT_URI.format(doc_id=quote(doc_id, safe=""))


def _one_line(text: str, limit: int) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[:limit - 1] + "…"


class SearchHit(BaseModel):
    rank: int = Field(description="1 for the best match.")
    score: float = Field(description="The fused retrieval score (higher is better).")
    chunk_id: str
    doc_id: str
    uri: str = Field(description="The document as an MCP resource.")
    source: str = Field(description="The document's file path.")
    title: str
    section: list[str] = Field(description="Headings from the document's top to this chunk.")
    page: int | None = None
    text: str

    @classmethod
    def of(cls, rank: int, candidate: Candidate) -> SearchHit:
        chunk = candidate.chunk
        return cls(rank=rank, score=candidate.score, chunk_id=chunk.id, doc_id=chunk.doc_id,
                   uri=document_uri(chunk.doc_id), source=chunk.metadata.get("source", ""),
                   title=chunk.metadata.get("title", ""), section=list(chunk.section_path),
                   page=chunk.page, text=chunk.text)


class SearchResult(BaseModel):
    query: str
    results: list[SearchHit]

    def text(self) -> str:
        if not self.results:
            return f"No passages found for {self.query!r}."
        blocks = []
        for hit in self.results:
            where = " > ".join(hit.section) or hit.title
            blocks.append(f"[{hit.rank}] {where} ({hit.source}; chunk {hit.chunk_id}, "
                          f"score {hit.score:.3f})\n{hit.text.strip()}")
        return "\n\n".join(blocks)


class CitationOut(BaseModel):
    marker: int = Field(description="The n of [n] in the answer text.")
    source: str
    title: str
    quote: str
    doc_id: str
    chunk_id: str
    uri: str


class AskResult(BaseModel):
    question: str
    answer: str
    citations: list[CitationOut]
    trace_id: str = Field(description="Pass to record_feedback to rate this answer.")
    strategy: str = Field(description="The answering strategy that wrote the answer.")
    refused: bool = Field(description="True when the documents did not support an answer.")
    confidence: float | None = None
    route: dict[str, Any] = Field(description="What answered and why: mode, chosen, reason, "
                                              "floor, escalated (as /v1/ask reports it).")
    model_calls: int = Field(description="Language-model calls the answer made (0: the "
                                         "extractive strategy quoted the passages).")
    cached: bool = Field(description="Every model call came from the cache.")
    latency_s: float
    conversation_id: str | None = Field(default=None, description="The conversation this "
                                        "answer continued or started; pass it to ask again "
                                        "for a follow-up.")

    @classmethod
    def of(cls, answer: Answer, trace_id: str) -> AskResult:
        return cls(question=answer.question, answer=answer.text, trace_id=trace_id,
                   strategy=answer.strategy, refused=answer.refused,
                   confidence=answer.confidence, route=answer.route,
                   model_calls=len(answer.calls), cached=answer.cached,
                   latency_s=round(answer.latency_s, 3),
                   conversation_id=answer.metadata.get("chat", {}).get("conversation_id"),
                   citations=[CitationOut(marker=c.marker, source=c.source, title=c.title,
                                          quote=c.quote, doc_id=c.doc_id, chunk_id=c.chunk_id,
                                          uri=document_uri(c.doc_id))
                              for c in answer.citations])

    def text(self) -> str:
        lines = [self.answer.strip() or "(no answer)"]
        if self.citations:
            lines.append("")
            lines += [f"[{c.marker}] {c.title or c.source} ({c.source})"
                      + (f": \"{_one_line(c.quote, 160)}\"" if c.quote else "")
                      for c in self.citations]
        calls = "no model call" if not self.model_calls else (
            f"{self.model_calls} model call{'s' if self.model_calls > 1 else ''}"
            + (" (cached)" if self.cached else ""))
        lines.append(f"\ntrace {self.trace_id} · strategy {self.strategy} · {calls}")
        return "\n".join(lines)


class DocumentSummary(BaseModel):
    doc_id: str
    uri: str
    source: str
    title: str
    chunks: int
    questions: int = Field(description="Generated questions indexed for its chunks.")
    mtime: float | None = Field(default=None, description="Modified, as Unix time.")
    format: str | None = None

    @classmethod
    def of(cls, entry: DocumentEntry) -> DocumentSummary:
        return cls(doc_id=entry.doc_id, uri=document_uri(entry.doc_id), source=entry.source,
                   title=entry.title, chunks=entry.n_chunks, questions=entry.n_questions,
                   mtime=entry.mtime, format=entry.metadata.get("format"))

    def line(self) -> str:
        return f"{self.doc_id}  {self.title or '-'}  ({self.source}, {self.chunks} chunks)"


class DocumentList(BaseModel):
    matched: int = Field(description="Documents that match, before the limit.")
    documents: list[DocumentSummary] = Field(description="Sorted by source path.")

    def text(self) -> str:
        if not self.documents:
            return "No documents match." if self.matched == 0 else "No documents shown."
        more = self.matched - len(self.documents)
        return "\n".join([d.line() for d in self.documents]
                         + ([f"… {more} more (raise limit or narrow match)"] if more else []))


class ChunkOutline(BaseModel):
    chunk_id: str
    section: list[str]
    page: int | None = None
    tokens: int


class ChunkText(ChunkOutline):
    text: str

    @classmethod
    def of(cls, chunk: Chunk) -> ChunkText:
        return cls(chunk_id=chunk.id, section=list(chunk.section_path), page=chunk.page,
                   tokens=chunk.n_tokens, text=chunk.text)


class DocumentDetail(BaseModel):
    document: DocumentSummary
    outline: list[ChunkOutline] = Field(description="Its chunks in order, by section.")
    chunk: ChunkText | None = Field(default=None, description="The chunk asked for by id.")

    def text(self) -> str:
        doc = self.document
        if self.chunk is not None:
            where = " > ".join(self.chunk.section) or doc.title
            return f"{doc.title} ({doc.source}), {where}:\n\n{self.chunk.text.strip()}"
        lines = [f"{doc.title} ({doc.source}), id {doc.doc_id}, {doc.chunks} chunks:"]
        lines += [f"  {c.chunk_id}  {' > '.join(c.section) or '-'}" for c in self.outline]
        return "\n".join(lines)


class FeedbackResult(BaseModel):
    feedback_id: str
    trace_id: str
    rating: Literal["up", "down"] | None
    correction: str | None
    created: str

    @classmethod
    def of(cls, record: Feedback) -> FeedbackResult:
        return cls(feedback_id=record.id, trace_id=record.trace_id, rating=record.rating,
                   correction=record.corrected_answer, created=record.created.isoformat())

    def text(self) -> str:
        return (f"Recorded feedback {self.feedback_id} on trace {self.trace_id}"
                f"{f': {self.rating}' if self.rating else ''}"
                f"{' with a correction' if self.correction else ''}.")
