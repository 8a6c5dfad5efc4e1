"""``ragloop ask`` (stream an answer, then its sources) and ``ragloop route calibrate``."""

from __future__ import annotations

import json
from pathlib import Path

import typer
from rich.markup import escape
from rich.table import Table

from ragloop.cli.common import EXIT_USAGE, console, fail, state
from ragloop.errors import RagloopError

route_app = typer.Typer(help="The answer router: fit its thresholds from eval runs.",
                        no_args_is_help=True)


def register(app: typer.Typer) -> None:
    app.command("ask")(ask)
    app.add_typer(route_app, name="route")


def ask(ctx: typer.Context,
        question: str = typer.Argument(..., help="The question to answer."),
        mode: str | None = typer.Option(None, help="fast, slow or auto (default: [answer] mode)."),
        strategy: str | None = typer.Option(
            None, help="Force a strategy: direct, cot, vote, best_of_n, decompose, refine, "
                       "extract (retrieved sentences verbatim, no generation)."),
        as_json: bool = typer.Option(False, "--json", help="Print the Answer as JSON."),
        conversation: str | None = typer.Option(
            None, "--conversation", "-c",
            help="Ask as the next turn of this stored conversation ('new' starts one; its id "
                 "is printed); the turn is kept.")):
    """Answer QUESTION from the project's documents: the answer streams, then its sources."""
    from ragloop.pipeline import Pipeline

    st = state(ctx)
    if mode is not None and mode not in ("fast", "slow", "auto"):
        fail(f"--mode must be fast, slow or auto, not {mode!r}", EXIT_USAGE)
    try:
        with Pipeline(st.project, use_cache=st.use_cache) as pipeline:
            if conversation is not None:
                from ragloop.cli.chat_cmds import stream_turn

                conversation, answer = stream_turn(
                    pipeline, None if conversation == "new" else conversation, question,
                    mode=mode, strategy=strategy, show_text=not as_json)
            else:
                answer = None
                for event in pipeline.stream(question, mode=mode, strategy=strategy):
                    if event.kind == "delta" and not as_json:
                        console.out(event.text, end="", highlight=False)
                    elif event.kind == "answer":
                        answer = event.answer
    except RagloopError as err:
        fail(err)
    if as_json:
        console.out(json.dumps(answer.model_dump(mode="json"), ensure_ascii=False, indent=2),
                    highlight=False)
        return
    console.out("")
    print_sources(answer)
    if conversation is not None:
        console.print(f"[dim]conversation {conversation}[/]", highlight=False)


def dropped_markers_note(markers: list, n_sources: int) -> str:
    """Why some ``[n]`` markers of the model's text are not in the answer."""
    cited = ", ".join(f"[{m}]" for m in markers)
    return (f"(removed citation marker{'s' if len(markers) > 1 else ''} {cited}: the model "
            f"cited a source it was not given; it had {n_sources} source"
            f"{'' if n_sources == 1 else 's'}, [1]–[{n_sources}])" if n_sources else
            f"(removed citation markers {cited}: the model was given no sources)")


def print_sources(answer) -> None:
    meta = answer.metadata
    if answer.refused:
        console.print(f"[dim](refused: {meta.get('refusal_reason', 'model')})[/]")
    if answer.citations:
        console.print("\n[bold]Sources[/]")
        for c in answer.citations:
            title = f" — {c.title}" if c.title else ""
            place = f" ({c.place})" if c.place else ""
            console.print(escape(f"  [{c.marker}] {c.source}{place}{title}"), highlight=False)
    elif not answer.refused:
        console.print("[dim](the answer cites no source)[/]")
    if meta.get("invalid_markers"):
        console.print(escape(dropped_markers_note(meta["invalid_markers"],
                                                  len(answer.candidates))),
                      style="dim", highlight=False)
    console.print(f"[dim]{escape(answer_footer(answer))}[/]", highlight=False)


def answer_footer(answer) -> str:
    """What answered and why, and what it cost: "extract (auto: the generated answer failed
    the grounding check): 1 model call, 141 tokens, 2.1s"."""
    route = answer.route
    chosen = f" (auto: {route['reason']})" if route.get("mode") == "auto" else ""
    n = len(answer.calls)
    if not n:
        cost = "no model call"
    else:
        cost = (f"{n} model call{'s' if n != 1 else ''}"
                + (", from cache" if answer.cached else "")
                + f", {answer.prompt_tokens + answer.completion_tokens} tokens")
    confidence = f", confidence {answer.confidence:.2f}" if answer.confidence is not None else ""
    return f"{answer.strategy}{chosen}: {cost}, {answer.latency_s:.1f}s{confidence}"


@route_app.command("calibrate")
def calibrate(ctx: typer.Context,
              runs: list[Path] = typer.Argument(
                  ..., help="Eval run folders (examples.jsonl) or per-example JSONL files "
                            "holding records of both the fast and the slow strategy."),
              fast: str | None = typer.Option(None, help="Fast strategy (default [answer] "
                                                         "strategy)."),
              slow: str | None = typer.Option(None, help="Slow strategy (default [answer] "
                                                         "slow_strategy)."),
              metric: str | None = typer.Option(None, help="Correctness field or score name."),
              max_latency_ratio: float = typer.Option(
                  0.5, help="Mean latency allowed, as a fraction of always-slow."),
              dry_run: bool = typer.Option(False, "--dry-run", help="Do not write the config.")):
    """Fit [answer] router_thresholds from measured records and write them to ragloop.toml."""
    from ragloop.answer.calibrate import fit_thresholds, load_records, write_thresholds

    st = state(ctx)
    try:
        project = st.project
        answer_settings = project.settings.answer
        result = fit_thresholds(load_records(runs), fast=fast or answer_settings.strategy,
                                slow=slow or answer_settings.slow_strategy, metric=metric,
                                max_latency_ratio=max_latency_ratio)
    except RagloopError as err:
        fail(err)
    table = Table("policy", "accuracy", "mean latency (s)")
    table.add_row("always fast", f"{result.fast_accuracy:.3f}", f"{result.fast_latency_s:.2f}")
    table.add_row("always slow", f"{result.slow_accuracy:.3f}", f"{result.slow_latency_s:.2f}")
    table.add_row(f"auto ({result.escalation_rate:.0%} escalated)", f"{result.accuracy:.3f}",
                  f"{result.mean_latency_s:.2f}")
    console.print(table)
    console.print(f"{result.n} examples; thresholds: {result.thresholds}")
    if not result.feasible:
        console.print(f"[yellow]no threshold keeps mean latency within "
                      f"{max_latency_ratio:.0%} of always-slow; chose the fastest[/]")
    if not dry_run:
        write_thresholds(project.config_path, result.thresholds)
        console.print(f"wrote [answer] router_thresholds to {project.config_path}")
