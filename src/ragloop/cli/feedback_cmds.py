"""`ragloop traces [show ID]` and `ragloop feedback export|to-golden`."""

from __future__ import annotations

import json
from pathlib import Path

import typer
from rich.table import Table

from ragloop.cli.common import EXIT_USAGE, console, fail, state
from ragloop.errors import RagloopError

traces_app = typer.Typer(help="Recent request traces (stored by `ragloop serve`).",
                         invoke_without_command=True, no_args_is_help=False)
feedback_app = typer.Typer(help="Turn feedback into training data and eval sets.",
                           no_args_is_help=True)


def _store(ctx: typer.Context):
    from ragloop.feedback.store import TraceStore

    try:
        return TraceStore.for_data_dir(state(ctx).project.data_dir)
    except RagloopError as err:
        fail(err)


def _short(text: str, n: int = 60) -> str:
    text = " ".join(text.split())
    return text if len(text) <= n else text[: n - 1] + "…"


@traces_app.callback()
def traces(ctx: typer.Context, limit: int = typer.Option(20, "--limit", "-n", min=1)):
    """List recent traces, newest first."""
    if ctx.invoked_subcommand:
        return
    items = _store(ctx).recent(limit)
    table = Table()
    for name, width in (("id", 12), ("when", 14), ("feedback", 14), ("strategy", 8),
                        ("s", 5)):
        table.add_column(name, no_wrap=True, min_width=width)
    for name in ("question", "answer"):
        table.add_column(name, overflow="ellipsis", no_wrap=True, ratio=1)
    for item in items:
        t = item.trace
        marks = " ".join(filter(None, [item.latest_rating or "",
                                       "corrected" if item.latest_correction else ""]))
        table.add_row(t.id[:12], t.created.strftime("%m-%d %H:%M:%S"), marks, t.strategy,
                      f"{t.metadata.get('wall_s', 0):.2f}", _short(t.question),
                      _short(t.answer))
    console.print(table if items else "No traces yet: `ragloop serve` records one per request.")


@traces_app.command("show")
def show(ctx: typer.Context, trace_id: str = typer.Argument(..., help="Trace id (or prefix).")):
    """Show one trace: spans with their GenAI attributes, and its feedback."""
    from ragloop.feedback.store import TraceWithFeedback, UnknownTraceError, trace_summary

    store = _store(ctx)
    matches = store.ids_starting_with(trace_id, limit=2)
    if len(matches) != 1:
        fail(UnknownTraceError(trace_id) if not matches else
             f"trace id prefix {trace_id!r} is ambiguous", code=EXIT_USAGE)
    trace = store.get_trace(matches[0])
    console.print_json(json.dumps(trace_summary(TraceWithFeedback(
        trace, store.feedback_for(trace.id)))))


@feedback_app.command("export")
def export(ctx: typer.Context,
           out: Path = typer.Argument(..., help="OUT.jsonl: writes OUT.train.jsonl and "
                                                "OUT.test.jsonl."),
           fmt: str = typer.Option(..., "--format", "-f", help="sft, dpo or kto (TRL formats)."),
           test_fraction: float = typer.Option(0.1, min=0.0, max=0.99),
           seed: int = typer.Option(0),
           context: bool = typer.Option(True, help="Put the cited passages in the prompt.")):
    """Export feedback as TRL training data, de-duplicated, with a seeded train/test split."""
    from ragloop.feedback.export import EXPORTERS, judged_items
    from ragloop.feedback.export.split import write_split

    fmt_ = fmt.lower()
    if fmt_ not in EXPORTERS:
        fail(f"unknown format {fmt!r}; choose one of {', '.join(EXPORTERS)}", code=EXIT_USAGE)
    rows = EXPORTERS[fmt_].rows(judged_items(_store(ctx), with_context=context))
    result = write_split(fmt_, rows, out, test_fraction=test_fraction, seed=seed)
    console.print(f"{fmt_}: {result.n_train} train rows → {result.train_path}")
    if result.test_path:
        console.print(f"{fmt_}: {result.n_test} test rows → {result.test_path}")
    if result.n_duplicates:
        console.print(f"{result.n_duplicates} duplicate rows left out")


@feedback_app.command("to-golden")
def to_golden(ctx: typer.Context, out: Path = typer.Argument(..., help="Golden JSONL to write.")):
    """Turn corrected answers into golden eval examples (`ragloop eval --dataset OUT`)."""
    from ragloop.evals.datasets import write_dataset
    from ragloop.feedback.export.golden import golden_examples

    count = write_dataset(out, golden_examples(_store(ctx)))
    console.print(f"{count} golden examples from corrected answers → {out}")


def register(app: typer.Typer) -> None:
    app.add_typer(traces_app, name="traces")
    app.add_typer(feedback_app, name="feedback")
