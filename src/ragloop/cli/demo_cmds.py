"""`ragloop demo`."""

from __future__ import annotations

import time
from pathlib import Path

import typer
from rich.markup import escape
from rich.panel import Panel
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from ragloop.cli.common import console, fail, state
from ragloop.errors import RagloopError


def _print_answer(answer) -> None:
    # Answers quote the documents, which may hold "[llm]"-like text that rich would take
    # for markup and swallow: everything from the answer is escaped.
    sources = "\n".join(escape(f"  [{c.marker}] {Path(c.source).name}"
                               f"{' — ' + c.title if c.title else ''}")
                        for c in answer.citations)
    body = escape(answer.text.strip()) + ("\n\n[dim]sources:[/]\n" + sources if sources else
                                          "\n\n[dim]no citations[/]")
    console.print(Panel(body, title=f"[bold]{escape(answer.question)}[/]", subtitle=(
        f"{answer.strategy} · {answer.latency_s:.1f}s · "
        f"{answer.prompt_tokens}+{answer.completion_tokens} tokens"), expand=False))


def _headline(aggregates: dict, manifest=None) -> Table:
    from ragloop.cli.eval_cmds import agreement_text
    from ragloop.evals.judge_agreement import agreements_of_run

    agreements = agreements_of_run(manifest)
    table = Table("metric", "mean", "95% CI", "n", "judge agreement",
                  title="evaluation (demo golden set)")
    metrics = aggregates.get("metrics", aggregates)
    for name, value in sorted(metrics.items()):
        if not isinstance(value, dict) or "mean" not in value:
            continue
        low, high = value.get("low"), value.get("high")
        ci = f"[{low:.2f}, {high:.2f}]" if low is not None and high is not None else ""
        table.add_row(name, f"{value['mean']:.3f}", ci, str(value.get("n", "")),
                      agreement_text(name, agreements))
    return table


def register(app: typer.Typer) -> None:
    @app.command()
    def demo(ctx: typer.Context,
             out: Path = typer.Option(None, help="Project folder to create (default: a new "
                                                 "temporary folder)."),
             judge: bool = typer.Option(True, "--judge/--no-judge",
                                        help="Score answers with the LLM judges too.")):
        """Ingest the bundled docs, answer three questions with citations, evaluate, and write
        an HTML report. Offline."""
        from ragloop.demo import run_demo

        started = time.perf_counter()
        progress = Progress(TextColumn("[bold]{task.description}"), BarColumn(),
                            MofNCompleteColumn(), TimeElapsedColumn(), console=console,
                            transient=True)
        task = None

        def on_progress(done: int, total: int) -> None:
            nonlocal task
            if task is None:
                task = progress.add_task("evaluating", total=total)
            progress.update(task, completed=done)

        try:
            with progress:
                result = run_demo(out, use_cache=state(ctx).use_cache, judge=judge,
                                  on_answer=_print_answer, progress=on_progress)
        except RagloopError as err:
            fail(err)
        report = result.ingest_report
        console.print(f"ingested {len(report.files)} files → {report.chunks} chunks "
                      f"in {result.seconds['ingest']:.1f}s")
        from ragloop.evals.runs import load_run

        console.print(_headline(result.aggregates, load_run(result.run_dir).manifest))
        console.print(f"\n[bold]outputs[/] (total {time.perf_counter() - started:.0f}s)")
        console.print(f"  project:  {result.project_dir}")
        console.print(f"  eval run: {result.run_dir}")
        console.print(f"  report:   {result.report_path}")
