"""``ragloop documents ...``: what the index holds, by path and title: list (optionally
matching a path or title), count (with the index totals), show one with its sections."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import typer
from rich.table import Table

from ragloop.cli.common import EXIT_USAGE, console, fail, shown, state
from ragloop.errors import RagloopError
from ragloop.index.documents import (
    AmbiguousDocumentError,
    UnknownDocumentError,
    describe,
    document_chunks,
    find_document,
    list_documents,
    matches,
    totals,
)

documents_app = typer.Typer(help="The indexed documents: list, count, find by path or title, "
                                 "show one.", no_args_is_help=True)


def register(app: typer.Typer) -> None:
    app.add_typer(documents_app, name="documents")


def _store(ctx: typer.Context):
    from ragloop.pipeline import Pipeline

    try:
        return Pipeline(state(ctx).project).store
    except RagloopError as err:
        fail(err)


def _when(mtime: float | None) -> str:
    return datetime.fromtimestamp(mtime, UTC).strftime("%Y-%m-%d %H:%M") if mtime else "-"


def describe_totals(counts: dict) -> str:
    text = (f"index: {counts.get('documents', 0):,} documents, {counts.get('chunks', 0):,} "
            f"chunks, {counts.get('questions', 0):,} questions")
    if counts.get("bytes"):
        text += f", {counts['bytes'] / 1024 / 1024:.1f} MB on disk"
    return text


def _find(store, key: str):
    try:
        return find_document(store, key)
    except (UnknownDocumentError, AmbiguousDocumentError) as err:
        hint = " (`ragloop documents list` shows them)" if isinstance(
            err, UnknownDocumentError) else ""
        fail(f"{err}{hint}", EXIT_USAGE)
        raise AssertionError from err  # fail() exits


@documents_app.command("list")
def list_cmd(ctx: typer.Context,
             match: str = typer.Argument(None, help="Only documents whose path or title "
                                                    "contains this (or matches it as a glob).",
                                         show_default=False),
             limit: int = typer.Option(0, "--limit", "-n", min=0,
                                       help="At most N documents (0: all)."),
             as_json: bool = typer.Option(False, "--json", help="JSON lines on stdout.")):
    """List the indexed documents: id, path, title, chunks; sorted by path."""
    store = _store(ctx)
    found = list_documents(store, match)
    listed = found[:limit] if limit else found
    if as_json:
        for entry in listed:
            print(json.dumps(describe(entry), ensure_ascii=False))
        return
    table = Table(title=f"{len(found)} document(s)" + (f" matching {match!r}" if match else ""))
    for column in ("id", "path", "title", "chunks", "modified"):
        table.add_column(column, overflow="fold",
                         justify="right" if column == "chunks" else "left")
    for entry in listed:
        table.add_row(entry.doc_id, shown(entry.source), shown(entry.title),
                      str(entry.n_chunks), _when(entry.mtime))
    console.print(table)
    if len(listed) < len(found):
        console.print(f"… {len(found) - len(listed)} more (--limit 0 shows all)")


@documents_app.command("count")
def count_cmd(ctx: typer.Context,
              match: str = typer.Argument(None, help="Count only documents whose path or "
                                                     "title contains this (or matches it as "
                                                     "a glob).", show_default=False),
              as_json: bool = typer.Option(False, "--json", help="JSON on stdout.")):
    """How many documents (and chunks) the index holds, and its size."""
    store = _store(ctx)
    counts = totals(store)
    if match:
        found = [e for e in store.documents() if matches(e, match)]
        counts = {"match": match, "documents": len(found),
                  "chunks": sum(e.n_chunks for e in found),
                  "questions": sum(e.n_questions for e in found)}
    if as_json:
        print(json.dumps(counts))
        return
    console.print(describe_totals(counts) + (f" matching {match!r}" if match else ""),
                  highlight=False)


@documents_app.command("show")
def show_cmd(ctx: typer.Context,
             document: str = typer.Argument(..., help="A document id, its file's path, or "
                                                      "part of its path or title."),
             chunks: bool = typer.Option(False, "--chunks", help="Print every chunk's text."),
             as_json: bool = typer.Option(False, "--json", help="JSON on stdout.")):
    """One document: id, path, title, format, chunks with their section paths."""
    store = _store(ctx)
    entry = _find(store, document)
    pieces = document_chunks(store, entry)
    if as_json:
        print(json.dumps({**describe(entry), "chunk_list": [
            {"chunk_id": c.id, "section": list(c.section_path), "page": c.page,
             "n_tokens": c.n_tokens, **({"text": c.text} if chunks else {})}
            for c in pieces]}, ensure_ascii=False))
        return
    console.print(f"[bold]{shown(entry.title)}[/]\n"
                  f"id: {entry.doc_id}\npath: {shown(entry.source)}\n"
                  f"format: {entry.metadata.get('format', '-')}   modified: "
                  f"{_when(entry.mtime)}   chunks: {entry.n_chunks}   questions: "
                  f"{entry.n_questions}", highlight=False, soft_wrap=True)
    table = Table()
    for column in ("#", "section", "page", "tokens", *(["text"] if chunks else [])):
        table.add_column(column, overflow="fold")
    for c in pieces:
        table.add_row(str(c.ordinal), shown(" > ".join(c.section_path)) or "-",
                      str(c.page or "-"), str(c.n_tokens or "-"),
                      *([shown(c.text)] if chunks else []))
    console.print(table)
