"""`ragloop models`: show which models are configured and check that they load and answer."""

from __future__ import annotations

import time

import typer
from rich.table import Table

from ragloop.cli.common import console, fail, state
from ragloop.errors import RagloopError
from ragloop.models.factory import build_embedder, build_llm
from ragloop.models.registry import models_root


def register(app: typer.Typer) -> None:
    @app.command()
    def models(ctx: typer.Context,
               prompt: str = typer.Option("Say hello in five words.", help="Prompt to try.")):
        """Load the configured LLM and embedder, run one call each, and report timings."""
        st = state(ctx)
        try:
            settings = st.project.settings
            cache_dir = st.project.data_dir / "cache"
            started = time.perf_counter()
            llm = build_llm(settings.llm, cache_dir, use_cache=st.use_cache,
                            models_dir=models_root(st.project.data_dir))
            load_llm = time.perf_counter() - started
            completion = llm.complete([{"role": "user", "content": prompt}], max_tokens=32)
            started = time.perf_counter()
            embedder = build_embedder(settings.embedder, cache_dir)
            load_emb = time.perf_counter() - started
            started = time.perf_counter()
            embedder.embed_queries([prompt])
            embed_s = time.perf_counter() - started
        except RagloopError as err:
            fail(err)
        table = Table("what", "value")
        table.add_row("LLM", f"{settings.llm.backend}: {llm.model_id} "
                             f"(context {llm.context_window})")
        table.add_row("LLM load / call", f"{load_llm:.2f}s / {completion.latency_s:.2f}s"
                                         f"{' (cached)' if completion.cached else ''}")
        table.add_row("LLM says", completion.text.strip())
        table.add_row("embedder", f"{settings.embedder.backend}: {embedder.model_id} "
                                  f"(dim {embedder.dim}, max {embedder.max_tokens} tokens)")
        table.add_row("embedder load / query", f"{load_emb:.2f}s / {embed_s * 1000:.0f}ms")
        console.print(table)
