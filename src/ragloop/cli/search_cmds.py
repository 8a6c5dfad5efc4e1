"""`ragloop search`: the configured retriever, with each signal's rank and score."""

from __future__ import annotations

import json

import typer
from rich.markup import escape
from rich.table import Table

from ragloop.cli.common import EXIT_USAGE, console, fail, state
from ragloop.errors import RagloopError
from ragloop.records import Candidate
from ragloop.retrieve.filters import FilterError, parse_filters


def _as_dict(rank: int, candidate: Candidate) -> dict:
    chunk = candidate.chunk
    return {"rank": rank, "score": candidate.score, "chunk_id": chunk.id,
            "doc_id": chunk.doc_id, "source": chunk.metadata.get("source"),
            "title": chunk.metadata.get("title"), "section": list(chunk.section_path),
            "page": chunk.page,
            "text": chunk.text, "scores": candidate.scores, "ranks": candidate.ranks,
            "matched_question": candidate.matched_question}


def _signals(candidates: list[Candidate]) -> list[str]:
    return list(dict.fromkeys(name for c in candidates for name in c.ranks))


def register(app: typer.Typer) -> None:
    @app.command()
    def search(ctx: typer.Context,
               query: str = typer.Argument(..., help="What to look for."),
               k: int = typer.Option(0, "--k", "-k", min=0, help="Results (0: the configured k)."),
               as_json: bool = typer.Option(False, "--json", help="JSON on stdout."),
               explain: bool = typer.Option(False, "--explain",
                                            help="Rank and score per retriever and after "
                                                 "fusion."),
               filters: list[str] = typer.Option([], "--filter", "-f",
                                                 help="KEY=VALUE: source=, path=GLOB, "
                                                      "after=, before=, or a metadata "
                                                      "field; repeatable.")):
        """Search the project's index with the configured retrievers, fusion and reranker."""
        from ragloop.pipeline import Pipeline

        try:
            parsed = parse_filters(filters)
        except FilterError as err:
            fail(err, EXIT_USAGE)
        st = state(ctx)
        try:
            with Pipeline(st.project, use_cache=st.use_cache) as pipeline:
                found = pipeline.retrieve(query, k or None, parsed)
        except RagloopError as err:
            fail(err)
        if as_json:
            print(json.dumps({"query": query, "results": [_as_dict(i, c) for i, c in
                                                          enumerate(found, start=1)]},
                             ensure_ascii=False))
            return
        if not found:
            console.print("no results")
            return
        signals = _signals(found) if explain else []
        table = Table(show_lines=explain)
        for column in ("#", "score", "chunk", *signals):
            table.add_column(column, overflow="fold", no_wrap=column != "chunk")
        table.add_column("text", overflow="fold", ratio=1, min_width=30)
        for rank, cand in enumerate(found, start=1):
            per_signal = [f"#{cand.ranks[s]} {cand.scores[s]:.3f}" if s in cand.scores
                          else (f"#{cand.ranks[s]}" if s in cand.ranks else "-")
                          for s in signals]
            text = " ".join(cand.chunk.text.split())
            text = text[:200] + ("…" if len(text) > 200 else "")
            if cand.chunk.header:
                text = f"[bold]{escape(cand.chunk.header)}[/]\n{escape(text)}"
            else:
                text = escape(text)
            if explain and cand.matched_question:
                text += f"\n[dim]matched question: {escape(cand.matched_question)}[/]"
            table.add_row(str(rank), f"{cand.score:.3f}", cand.chunk.id, *per_signal, text)
        console.print(table)
