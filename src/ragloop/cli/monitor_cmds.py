"""``ragloop monitor run|report`` (online scores of stored traces, the quality dashboard) and
``ragloop labels list|export`` (the review queue's human labels)."""

from __future__ import annotations

import json
from pathlib import Path

import typer
from rich.markup import escape
from rich.table import Table

from ragloop.cli.common import EXIT_USAGE, console, fail, state
from ragloop.errors import RagloopError

monitor_app = typer.Typer(help="Online evaluation of stored traffic and the quality "
                               "dashboard.", no_args_is_help=True)
labels_app = typer.Typer(help="Human labels of live answers (the web page's Review tab, "
                              "POST /v1/labels).", no_args_is_help=True)
LABEL_METRICS = ("faithfulness", "correctness", "relevance")


def register(app: typer.Typer) -> None:
    app.add_typer(monitor_app, name="monitor")
    app.add_typer(labels_app, name="labels")


def _settings_with(ctx: typer.Context, **monitor):
    settings = state(ctx).project.settings
    changed = {k: v for k, v in monitor.items() if v is not None}
    return settings.model_copy(update={"monitor": settings.monitor.model_copy(
        update=changed)}) if changed else settings


@monitor_app.command("run")
def run_cmd(
    ctx: typer.Context,
    limit: int | None = typer.Option(None, "--limit", "-n", min=1,
                                     help="Score at most N traces."),
    sample: float | None = typer.Option(None, "--sample", min=0.0, max=1.0,
                                        help="Share of traces to score (default [monitor] "
                                             "sample_rate)."),
    judge_rate: float | None = typer.Option(None, "--judge-rate", min=0.0, max=1.0,
                                            help="Share also given the LLM judges (default "
                                                 "[monitor] judge_rate)."),
    model: bool = typer.Option(True, "--model/--no-model", help="--no-model: only the checks "
                               "that need no model (grounding, citations)."),
    rescore: bool = typer.Option(False, "--rescore", help="Score traces again that already "
                                 "have online scores."),
    as_json: bool = typer.Option(False, "--json", help="Print the counts as JSON."),
) -> None:
    """Score stored traces as `ragloop serve` scores live ones: the same sample, the cheap
    checks first, the LLM judges at [monitor] judge_rate within judge_daily_calls."""
    from ragloop.feedback.scores import ScoreStore
    from ragloop.feedback.store import project_database
    from ragloop.monitor.batch import score_stored
    from ragloop.monitor.scorer import project_scorer
    from ragloop.pipeline import Pipeline

    st = state(ctx)
    try:
        settings = _settings_with(ctx, sample_rate=sample, judge_rate=judge_rate)
        data_dir = st.project.data_dir
        db = project_database(data_dir)
        scores = ScoreStore(db)
        with Pipeline(st.project, use_cache=st.use_cache) as pipeline:
            llm = pipeline.judge_llm if model else None
            scorer = project_scorer(settings, data_dir, llm, scores)
            with console.status("scoring traces") as status:
                report = score_stored(scorer, db, scores,
                                      sample_rate=settings.monitor.sample_rate, limit=limit,
                                      rescore=rescore, on_trace=lambda r: status.update(
                                          f"scoring traces: {r.scored} scored of "
                                          f"{r.considered} looked at"))
        db.close()
    except RagloopError as err:
        fail(err)
    if as_json:
        console.print_json(json.dumps(report.as_dict()))
        return
    console.print(f"{report.scored} traces scored; {report.already_scored} already scored, "
                  f"{report.not_sampled} outside the sample, of {report.considered} looked at",
                  highlight=False)
    if report.statuses:
        table = Table("metric", "status", "traces")
        for (metric, status), n in sorted(report.statuses.items()):
            table.add_row(metric, status, str(n))
        console.print(table)


@monitor_app.command("report")
def report_cmd(
    ctx: typer.Context,
    out: Path | None = typer.Option(None, "--out", "-o", help="Where to write the page "
                                    "(default <data dir>/monitor/dashboard.html)."),
    days: int | None = typer.Option(None, "--days", min=1, max=366, help="UTC days to show "
                                    "(default two drift windows)."),
    as_json: bool = typer.Option(False, "--json", help="Print the figures as JSON instead."),
) -> None:
    """Write the quality dashboard as one self-contained HTML page: rates with intervals
    by day, drift against the previous window, latency, tokens, cost, strategy mix."""
    from ragloop.feedback.scores import ScoreStore
    from ragloop.feedback.store import project_database
    from ragloop.monitor.dashboard import build_dashboard
    from ragloop.monitor.report import dashboard_page

    project = state(ctx).project
    try:
        db = project_database(project.data_dir)
        try:
            data = build_dashboard(db, ScoreStore(db), project.settings, project.data_dir,
                                   days=days)
        finally:
            db.close()
    except RagloopError as err:
        fail(err)
    if as_json:
        console.print_json(json.dumps(data))
        return
    path = out or project.data_dir / "monitor" / "dashboard.html"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(dashboard_page(data), encoding="utf-8")
    console.print(str(path), soft_wrap=True, highlight=False)


def _labels(ctx: typer.Context):
    from ragloop.feedback.db import Database
    from ragloop.feedback.labels import LabelStore

    project = state(ctx).project
    try:
        return LabelStore(Database.for_data_dir(project.data_dir),
                          train_share=project.settings.monitor.label_train_share)
    except RagloopError as err:
        fail(err)


@labels_app.command("list")
def list_cmd(
    ctx: typer.Context,
    metric: str | None = typer.Option(None, "--metric", help="faithfulness, correctness or "
                                      "relevance."),
    trace: str | None = typer.Option(None, "--trace", help="One trace's labels."),
    limit: int = typer.Option(50, "--limit", "-n", min=1),
    as_json: bool = typer.Option(False, "--json", help="Print the labels as JSON lines."),
) -> None:
    """The labels reviewers gave, newest first."""
    from ragloop.feedback.labels import label_json

    if metric is not None and metric not in LABEL_METRICS:
        fail(f"--metric is one of {', '.join(LABEL_METRICS)}", EXIT_USAGE)
    labels = _labels(ctx).list(metric=metric, trace_id=trace, limit=limit)
    if as_json:
        for label in labels:
            console.print(json.dumps(label_json(label)), soft_wrap=True, highlight=False)
        return
    if not labels:
        console.print("No labels yet: label answers in the web page's Review tab "
                      "(`ragloop serve`) or with POST /v1/labels.")
        return
    table = Table("when", "trace", "metric", "label", "split", "reviewer", "note")
    for label in labels:
        table.add_row(label.created.strftime("%Y-%m-%d %H:%M"), label.trace_id[:12],
                      label.metric, "yes" if label.label else "no", label.split,
                      escape(label.reviewer), escape(label.note[:60]))
    console.print(table)


@labels_app.command("export")
def export_cmd(
    ctx: typer.Context,
    out: Path = typer.Argument(..., help="OUT.jsonl: the calibration format `ragloop eval "
                               "calibrate OUT.jsonl` reads."),
) -> None:
    """Write the project's labels (the last per trace and metric) as calibration items,
    each with its split; say which labels could not be used and why."""
    from ragloop.evals.calibrate import project_labels

    project = state(ctx).project
    try:
        found = project_labels(project.data_dir,
                               version=project.settings.eval.judge_prompt_version)
    except RagloopError as err:
        fail(err)
    out.parent.mkdir(parents=True, exist_ok=True)
    with out.open("w", encoding="utf-8") as handle:
        for item in found.items:
            handle.write(item.model_dump_json() + "\n")
    console.print(f"{out}: {found.describe()}", soft_wrap=True, highlight=False)
