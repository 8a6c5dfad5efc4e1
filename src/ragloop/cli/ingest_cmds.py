"""`ragloop ingest`: files and folders into the project's index."""

from __future__ import annotations

import json
from pathlib import Path

import typer
from rich import box
from rich.table import Table

from ragloop.cli.common import EXIT_PARTIAL, console, err_console, fail, shown, state
from ragloop.cli.documents_cmds import describe_totals
from ragloop.errors import RagloopError
from ragloop.index.documents import totals
from ragloop.ingest.report import STAGES, IngestReport

MAX_WARNINGS = 20  # errors are always all printed; warnings (duplicates…) can be many


def _summary(title: str, names, values: list[str]) -> Table:
    """One row of numbers under their names; light borders so eight columns fit in 80
    characters with no header cut short."""
    table = Table(title=title, box=box.SIMPLE_HEAD, padding=(0, 1), collapse_padding=True,
                  pad_edge=False)
    for name in names:
        table.add_column(name, justify="right", no_wrap=True, min_width=len(name))
    table.add_row(*values)
    return table


def print_report(report: IngestReport) -> None:
    for error in report.errors:
        err_console.print(f"[red]failed:[/] {shown(error)}", highlight=False, soft_wrap=True)
    warnings = report.warnings + [w for result in report.files for w in result.warnings]
    for warning in warnings[:MAX_WARNINGS]:
        err_console.print(f"[yellow]warning:[/] {shown(warning)}", highlight=False,
                          soft_wrap=True)
    if len(warnings) > MAX_WARNINGS:
        err_console.print(f"[yellow]warning:[/] … and {len(warnings) - MAX_WARNINGS} more "
                          "(all of them with --json)", highlight=False)
    counts = report.counts()
    console.print(_summary("ingest", counts.keys(), [str(v) for v in counts.values()]))
    console.print(_summary("seconds per stage", (*STAGES, "total"),
                           [f"{report.seconds[s]:.1f}" for s in STAGES]
                           + [f"{report.total_seconds:.1f}"]))
    if report.llm:
        console.print(f"LLM: {report.llm['calls']:.0f} calls "
                      f"({report.llm['cache_hits']:.0f} from cache), "
                      f"{report.llm['prompt_tokens']:.0f} prompt + "
                      f"{report.llm['completion_tokens']:.0f} completion tokens")
    if report.stale:
        console.print(f"{report.stale} indexed document(s) no longer found under these paths; "
                      "`--prune` removes them")


def register(app: typer.Typer) -> None:
    @app.command()
    def ingest(ctx: typer.Context,
               paths: list[Path] = typer.Argument(None, help="Files and folders to ingest "
                                                  "(with --reembed: default every file the "
                                                  "index holds)."),
               prune: bool = typer.Option(False, "--prune",
                                          help="Remove indexed documents whose files are gone "
                                               "from under PATHS."),
               no_enrich: bool = typer.Option(False, "--no-enrich",
                                              help="Skip LLM context and questions this run."),
               reembed: bool = typer.Option(False, "--reembed",
                                            help="The [embedder] changed: re-embed every "
                                                 "document made with the old one."),
               workers: int = typer.Option(None, "--workers", min=1,
                                           help="Worker processes (one thread each); "
                                                "default [executor] workers."),
               executor: str = typer.Option(None, "--executor",
                                            help="local or ray; default [executor] backend."),
               quiet: bool = typer.Option(False, "--quiet", "-q", help="No progress bar."),
               as_json: bool = typer.Option(False, "--json",
                                            help="Print the report as JSON on stdout.")):
        """Ingest files and folders into the project's index. Only new or changed files are
        processed; the run commits every [ingest] batch_docs documents, so an interrupted run
        resumes where it stopped.

        Exit codes: 0 every file ingested; 3 some files or records failed, or a folder could
        not be read (each is listed with its cause, the rest were ingested; nothing under an
        unreadable folder is pruned); 1 fatal error (nothing already indexed is lost)."""
        from ragloop.pipeline import Pipeline

        if not paths and not reembed:
            fail(RagloopError("give files or folders to ingest (or --reembed)"))
        try:
            with Pipeline(state(ctx).project, use_cache=state(ctx).use_cache) as pipeline:
                report = pipeline.ingest(paths or [], prune=prune, enrich=not no_enrich,
                                         reembed=reembed, executor=executor, workers=workers,
                                         progress=not quiet and err_console.is_terminal)
                # what this run changed is in the report; what the index now holds, here
                index = totals(pipeline.store)
        except (RagloopError, ValueError) as err:
            fail(err)
        if as_json:
            for error in report.errors:
                err_console.print(f"failed: {shown(error)}", highlight=False, soft_wrap=True)
            print(json.dumps({**report.as_dict(), "index": index}))
        else:
            print_report(report)
            console.print(describe_totals(index), highlight=False)
        if not report.ok:
            raise typer.Exit(EXIT_PARTIAL)
