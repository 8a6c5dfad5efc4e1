"""The MCP server of one project, on the official ``mcp`` SDK: the tools of ``tools.py`` and
each document as the resource ``ragloop://document/{doc_id}``. ``ragloop mcp`` runs it over
stdio; ``ragloop serve`` mounts the same server at ``/mcp`` (``http.py``)."""

from __future__ import annotations

import asyncio
from pathlib import Path

import anyio
from mcp.server.mcpserver import MCPServer
from mcp.server.mcpserver.exceptions import ResourceNotFoundError
from mcp.server.mcpserver.resources import ResourceSecurity
from mcp_types import Resource, ToolAnnotations

from ragloop import __version__
from ragloop.config import Settings
from ragloop.index import documents
from ragloop.index.documents import UnknownDocumentError
from ragloop.serve.mcp.results import DOCUMENT_URI, document_uri
from ragloop.serve.mcp.tools import TOOL_NAMES, Tools
from ragloop.serve.state import ServerState

INSTRUCTIONS = """Tools over one ragloop project's indexed documents. `search` finds passages
(no model call); `ask` answers with [n] citations using the project's language model (slower:
one answer at a time); `list_documents` and `get_document` browse what is indexed; rate an
answer with `record_feedback` and its trace_id. Documents are also resources
(ragloop://document/{doc_id}; the resource list names the first 1,000 by path)."""

MAX_LISTED_RESOURCES = 1000  # a client shows the list; list_documents pages through the rest

READ_ONLY = ToolAnnotations(read_only_hint=True, open_world_hint=False)
ANNOTATIONS = {
    "search": READ_ONLY,
    # an answer is recorded as a trace, but asking twice changes nothing a caller relies on
    "ask": ToolAnnotations(read_only_hint=False, destructive_hint=False, idempotent_hint=True,
                           open_world_hint=False),
    "list_documents": READ_ONLY,
    "get_document": READ_ONLY,
    "record_feedback": ToolAnnotations(read_only_hint=False, destructive_hint=False,
                                       idempotent_hint=False, open_world_hint=False),
}


class ProjectServer(MCPServer):
    """The SDK's server, listing the index's documents as resources: they change with every
    ingest, so they are read from the store on each listing rather than registered once."""

    def __init__(self, state: ServerState, **kwargs):
        super().__init__(**kwargs)
        self.state = state

    async def list_resources(self) -> list[Resource]:
        entries = await asyncio.to_thread(documents.list_documents, self.state.pipeline.store)
        return [*await super().list_resources(), *(
            Resource(uri=document_uri(e.doc_id), name=e.title or e.source, title=e.title or None,
                     description=f"{e.source} ({e.n_chunks} chunks)", mime_type="text/markdown")
            for e in entries[:MAX_LISTED_RESOURCES])]


def build_mcp_server(state: ServerState) -> MCPServer:
    """The MCP server answering from ``state``'s pipeline, through its model gate."""
    tools = Tools(state)
    server = ProjectServer(state, name=f"ragloop: {state.settings.project.name}",
                           version=__version__, instructions=INSTRUCTIONS, log_level="WARNING")
    for name in TOOL_NAMES:
        server.add_tool(getattr(tools, name), name=name, annotations=ANNOTATIONS[name])

    # ids are not paths: an id holding ".." names a document, not a parent folder
    @server.resource(DOCUMENT_URI, name="document", mime_type="text/markdown",
                     description="An indexed document's text, as its chunks hold it.",
                     security=ResourceSecurity(exempt_params={"doc_id"}))
    async def document(doc_id: str) -> str:
        try:
            return await asyncio.to_thread(tools.document_text, doc_id)
        except UnknownDocumentError as err:
            raise ResourceNotFoundError(f"{err}; search or list_documents give the ids") from None

    return server


def run_stdio(pipeline, settings: Settings, data_dir: Path) -> None:
    """Serve ``pipeline`` over stdin/stdout until the client closes them. The pipeline is the
    caller's to close; the state (model thread, trace store) is closed here."""
    state = ServerState.build(pipeline, settings, data_dir)
    try:
        anyio.run(build_mcp_server(state).run_stdio_async)
    finally:
        state.close()
