"""The MCP tools, one method each, on the server's state: searches and answers go through its
model gate (one model job at a time, shared with the HTTP routes), feedback goes to its trace
store. Bad input raises ``ToolError`` with a message saying what to send instead; the SDK
returns it as an error result, and the server goes on."""

from __future__ import annotations

import asyncio
import functools
import time
from typing import Annotated, Literal

from mcp.server.mcpserver import Context
from mcp.server.mcpserver.exceptions import ToolError
from mcp_types import CallToolResult, TextContent
from pydantic import BaseModel, Field

from ragloop.errors import RagloopError
from ragloop.feedback.store import UnknownTraceError
from ragloop.index import documents
from ragloop.serve.answering import AskOptions
from ragloop.serve.gate import QueueFullError
from ragloop.serve.mcp.results import (
    AskResult,
    ChunkOutline,
    ChunkText,
    DocumentDetail,
    DocumentList,
    DocumentSummary,
    FeedbackResult,
    SearchHit,
    SearchResult,
)
from ragloop.serve.schemas import FiltersIn
from ragloop.serve.state import ServerState

MAX_K = 50
MAX_LIST = 500
PROGRESS_EVERY_S = 0.25  # one progress note per quarter second while an answer is written
NEW_CONVERSATION = "new"  # as `ragloop ask --conversation new`


def _bounds(low: int, high: int) -> Field:
    """Bounds published in the schema but checked here, so that a wrong number gets a plain
    sentence rather than a validation report."""
    return Field(json_schema_extra={"minimum": low, "maximum": high})


def _result(model: BaseModel) -> CallToolResult:
    return CallToolResult(content=[TextContent(type="text", text=model.text())],
                          structured_content=model.model_dump(mode="json"))


def _in_range(name: str, value: int, low: int, high: int) -> None:
    if not low <= value <= high:
        raise ToolError(f"{name} must be between {low} and {high} (got {value})")


def reported(tool):
    """``tool``, with ragloop's own errors (a missing index, a model that failed, a full
    queue) passed to the client as what they say; the SDK would hide their text."""

    @functools.wraps(tool)
    async def run(*args, **kwargs):
        try:
            return await tool(*args, **kwargs)
        except (RagloopError, QueueFullError) as err:
            raise ToolError(str(err)) from err

    return run


def _words(name: str, text: str, what: str) -> str:
    if not text.strip():
        raise ToolError(f"{name} is empty: give {what}")
    return text


class Tools:
    def __init__(self, state: ServerState):
        self.state = state

    @property
    def pipeline(self):
        return self.state.pipeline

    def _checked_question(self, name: str, text: str, what: str) -> str:
        _words(name, text, what)
        problem = self.state.question_too_long(text)
        if problem:
            raise ToolError(problem)
        return text

    @reported
    async def search(
        self,
        query: Annotated[str, Field(description="What to look for, in words.")],
        k: Annotated[int, _bounds(1, MAX_K), Field(description="How many passages.")] = 8,
        filters: Annotated[FiltersIn | None, Field(description="Only documents matching "
                                                               "these.")] = None,
    ) -> Annotated[CallToolResult, SearchResult]:
        """Search the indexed documents with ragloop's hybrid retrieval (lexical, dense and
        question signals, fused). Returns passages, best first, with their document id,
        source path, title, section and score. Calls no language model."""
        self._checked_question("query", query, "the words to look for")
        _in_range("k", k, 1, MAX_K)
        found = await self.state.gate.run(lambda: self.pipeline.retrieve(
            query, k, filters.to_filters() if filters else None))
        return _result(SearchResult(query=query, results=[
            SearchHit.of(rank, c) for rank, c in enumerate(found, start=1)]))

    @reported
    async def ask(
        self,
        question: Annotated[str, Field(description="A question about the documents.")],
        mode: Annotated[Literal["fast", "slow", "auto"] | None,
                        Field(description="fast: one answer; slow: the careful strategy; "
                                          "auto: chosen per question ([answer] mode if "
                                          "unset).")] = None,
        conversation_id: Annotated[str | None, Field(
            description="Continue this conversation (the conversation_id of an earlier "
                        "result), or 'new' to start one; omitted, the question stands "
                        "alone and nothing is stored.")] = None,
        ctx: Context | None = None,
    ) -> Annotated[CallToolResult, AskResult]:
        """Answer a question from the indexed documents, with numbered citations ([n]) to
        the passages used. Runs the project's language model (one or more calls, per the
        answering strategy); reports the answer written so far as progress. The result's
        trace_id can be rated with record_feedback."""
        self._checked_question("question", question, "a question about the documents")
        options = AskOptions(mode=mode)
        if conversation_id is not None:
            options = AskOptions(mode=mode, chat=True, conversation_id=(
                None if conversation_id == NEW_CONVERSATION else conversation_id))
            store = self.state.pipeline.conversations
            if options.conversation_id is not None and not await asyncio.to_thread(
                    store.exists, options.conversation_id):
                raise ToolError(f"no conversation with id {conversation_id!r}: pass the "
                                "conversation_id of an earlier ask, or 'new' to start one")
        last = 0.0

        async def progress(text: str) -> None:
            nonlocal last
            if ctx is not None and time.monotonic() - last >= PROGRESS_EVERY_S:
                last = time.monotonic()
                await ctx.report_progress(len(text), None, text)

        answer, trace = await self.state.answer(question, options,
                                                endpoint="mcp", on_text=progress)
        return _result(AskResult.of(answer, trace.id))

    @reported
    async def list_documents(
        self,
        match: Annotated[str | None, Field(description="Only documents whose path or title "
                                                       "contains this (or matches it as a "
                                                       "glob: *, ?).")] = None,
        limit: Annotated[int, _bounds(1, MAX_LIST),
                         Field(description="At most this many.")] = 50,
    ) -> Annotated[CallToolResult, DocumentList]:
        """List the indexed documents (id, source path, title, chunk count), sorted by
        path. Calls no language model."""
        _in_range("limit", limit, 1, MAX_LIST)
        found = await asyncio.to_thread(documents.list_documents, self.pipeline.store, match)
        return _result(DocumentList(matched=len(found), documents=[
            DocumentSummary.of(e) for e in found[:limit]]))

    @reported
    async def get_document(
        self,
        doc_id: Annotated[str, Field(description="A document id, from search or "
                                                 "list_documents.")],
        chunk_id: Annotated[str | None, Field(description="Also return this chunk's "
                                                          "text.")] = None,
    ) -> Annotated[CallToolResult, DocumentDetail]:
        """One document: its metadata and the section path of each of its chunks; with
        chunk_id, that chunk's text too. Calls no language model."""
        entry, chunks = await asyncio.to_thread(self._document, doc_id)
        chosen = None
        if chunk_id is not None:
            chosen = next((c for c in chunks if c.id == chunk_id), None)
            if chosen is None:
                raise ToolError(f"document {doc_id!r} has no chunk {chunk_id!r}; its chunks are "
                                f"{doc_id}#0 to {doc_id}#{max(entry.n_chunks - 1, 0)}")
        return _result(DocumentDetail(
            document=DocumentSummary.of(entry),
            outline=[ChunkOutline(chunk_id=c.id, section=list(c.section_path), page=c.page,
                                  tokens=c.n_tokens) for c in chunks],
            chunk=ChunkText.of(chosen) if chosen else None))

    def _document(self, doc_id: str):
        _words("doc_id", doc_id, "a document id from search or list_documents")
        try:
            entry = documents.get_document(self.pipeline.store, doc_id)
        except documents.UnknownDocumentError as err:
            raise ToolError(f"{err}; search or list_documents give the ids") from None
        return entry, documents.document_chunks(self.pipeline.store, entry)

    @reported
    async def record_feedback(
        self,
        trace_id: Annotated[str, Field(description="The trace_id of an ask result.")],
        rating: Annotated[Literal["up", "down"], Field(description="Was the answer good?")],
        correction: Annotated[str | None, Field(description="The answer it should have "
                                                            "given.")] = None,
    ) -> Annotated[CallToolResult, FeedbackResult]:
        """Rate an answer up or down, optionally with the correct answer; stored with the
        answer's trace, where the web page's feedback goes (it feeds evaluation and
        training). Calls no language model."""
        _words("trace_id", trace_id, "the trace_id an ask result returned")
        try:
            record = await asyncio.to_thread(self.state.feedback, trace_id, rating=rating,
                                             corrected_answer=correction)
        except UnknownTraceError as err:
            raise ToolError(f"{err}; give the trace_id an ask result returned") from None
        return _result(FeedbackResult.of(record))

    # ---- the document resource

    def document_text(self, doc_id: str) -> str:
        """The document as Markdown: its source and id, then its text (under its title,
        when the text does not open with a heading of its own)."""
        entry = documents.get_document(self.pipeline.store, doc_id)
        text = documents.document_text(documents.document_chunks(self.pipeline.store, entry))
        if not text.startswith("#"):
            text = f"# {entry.title or entry.source}\n\n{text}"
        return f"<!-- source: {entry.source} · id: {entry.doc_id} -->\n\n{text}\n"


TOOL_NAMES = ("search", "ask", "list_documents", "get_document", "record_feedback")
