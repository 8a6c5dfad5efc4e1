"""``ragloop eval ...``: golden sets, runs, comparisons and gates, judge calibration, reports.

Exit codes: 0 ok, 1 fatal, 2 usage, 3 a run finished but some examples failed, 4 a gate of
``eval compare`` failed (``EXIT_GATE``), for CI.
"""

from __future__ import annotations

import json
from pathlib import Path

import typer
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeRemainingColumn
from rich.table import Table

from ragloop.cli.common import (
    EXIT_GATE,
    EXIT_PARTIAL,
    EXIT_USAGE,
    console,
    err_console,
    fail,
    state,
)
from ragloop.errors import RagloopError

eval_app = typer.Typer(help="Evaluate: golden sets, runs, comparisons, gates, judges, reports.",
                       no_args_is_help=True)


def register(app: typer.Typer) -> None:
    app.add_typer(eval_app, name="eval")


def _pipeline(ctx: typer.Context):
    from ragloop.pipeline import Pipeline

    st = state(ctx)
    return Pipeline(st.project, use_cache=st.use_cache)


def _progress() -> Progress:
    return Progress("[progress.description]{task.description}", BarColumn(),
                    MofNCompleteColumn(), TimeRemainingColumn(), console=console, transient=True)


def _run_dir(ctx: typer.Context, run: str) -> Path:
    """A run folder given as a path, a run name under the project's runs, or ``latest``."""
    path = Path(run)
    if path.is_dir():
        return path
    runs_root = state(ctx).project.data_dir / "runs"
    if run == "latest":
        found = sorted(p for p in runs_root.glob("*") if (p / "run.json").is_file())
        if not found:
            fail(f"no runs in {runs_root}")
        return found[-1]
    if (runs_root / run).is_dir():
        return runs_root / run
    fail(f"no run folder {run!r} (looked in . and {runs_root})", EXIT_USAGE)
    raise AssertionError  # fail() exits


@eval_app.command("run")
def run_cmd(
    ctx: typer.Context,
    dataset: Path | None = typer.Argument(None, help="Golden dataset (JSONL).",
                                          show_default=False),
    limit: int | None = typer.Option(None, "--limit", "-n", min=1, help="First N examples."),
    workers: int | None = typer.Option(None, "--workers", "-w", min=1,
                                       help="Parallel examples (default [eval] workers)."),
    judge: bool = typer.Option(False, "--judge/--no-judge", help="Score with the LLM judges."),
    resume: Path | None = typer.Option(None, "--resume", help="Finish an interrupted run folder.",
                                       show_default=False),
    as_json: bool = typer.Option(False, "--json", help="Print the aggregates as JSON."),
    executor: str | None = typer.Option(None, "--executor",
                                        help="Run examples on worker processes: local or ray "
                                             "(--workers of them; default [executor]); without it, "
                                             "threads in this process."),
) -> None:
    """Run the project's pipeline over DATASET; write a run folder with report.html.

    DATASET is a golden set in JSON Lines, one example per line. Only "id" and "question"
    are required; "reference_answers" (a list) and "label" score the answer;
    "gold_doc_ids" (document ids as `ragloop documents list` shows them) and
    "gold_chunk_ids" score retrieval; "tags" group examples in the report. A line:

    \b
    {"id": "q1", "question": "How long does green tea steep?",
     "reference_answers": ["Two minutes at 75 °C."],
     "gold_doc_ids": ["f3447d7929f251c9b"]}

    Gold ids that match no indexed document are named in a warning, and when none of them
    match the run stops (every retrieval metric would read 0)."""
    from ragloop.evals.runner import RunOptions
    from ragloop.executors.build import build_executor

    if dataset is None and resume is None:
        fail("give a DATASET or --resume RUN_DIR", EXIT_USAGE)
    try:
        pipeline = _pipeline(ctx)
        options = RunOptions(limit=limit, workers=workers or pipeline.settings.eval.workers,
                             judge=judge)
        pool = None
        if executor is not None:
            where = pipeline.settings.executor
            pool = build_executor(type(where).model_validate({
                **where.model_dump(), "backend": executor,
                "workers": workers or where.workers}))
        try:
            with pipeline, _progress() as bar:
                task = bar.add_task("evaluating", total=None)
                result = pipeline.evaluate(
                    dataset, options=options, resume=resume, executor=pool,
                    progress=lambda done, total: bar.update(task, completed=done, total=total))
        finally:
            if pool is not None:
                pool.close()
    except (RagloopError, ValueError) as err:
        fail(err)
    for warning in result.warnings:
        err_console.print(f"[yellow]warning:[/] {escape(warning)}", highlight=False,
                          soft_wrap=True)
    if as_json:
        console.print_json(json.dumps(result.aggregates))
    else:
        from ragloop.evals.runs import load_run

        _print_aggregates(result.aggregates, load_run(result.run_dir).manifest)
    console.print(f"run folder: {result.run_dir}\nreport: {result.run_dir / 'report.html'}",
                  soft_wrap=True, highlight=False)
    if result.errors:
        for line in result.errors[:10]:
            console.print(f"[red]failed[/] {escape(line)}", highlight=False)
        raise typer.Exit(EXIT_PARTIAL)


def agreement_text(metric: str, agreements: dict) -> str:
    """Rich text beside a judge metric: its judge's kappa, red when uncalibrated."""
    from ragloop.evals.judge_agreement import agreement_for_metric

    agreement = agreement_for_metric(metric, agreements)
    if agreement is None:
        return ""
    return agreement.describe() if agreement.calibrated else f"[red]{agreement.describe()}[/]"


def _print_aggregates(agg: dict, manifest=None) -> None:
    from ragloop.evals.judge_agreement import agreements_of_run
    from ragloop.evals.report.html import metric_key, step_of

    agreements = agreements_of_run(manifest)
    table = Table(title=f"{agg['n_examples']} examples, {agg['n_errors']} failed")
    for column in ("step", "metric", "mean", "95% CI", "n", "judge agreement"):
        table.add_column(column, justify="right" if column in ("mean", "n") else "left")
    def order(item):
        return step_of(item[0]), metric_key(item[0])

    for name, v in sorted(agg["metrics"].items(), key=order):
        table.add_row(step_of(name), name, f"{v['mean']:.3f}",
                      f"[{v['low']:.3f}, {v['high']:.3f}]", str(v["n"]),
                      agreement_text(name, agreements))
    console.print(table)
    if "labels" in agg:
        labels = agg["labels"]
        console.print(f"labels: accuracy {labels['accuracy']:.3f}, macro-F1 "
                      f"{labels['macro_f1']:.3f}, predictions "
                      f"{labels['prediction_distribution']}")


@eval_app.command("compare")
def compare_cmd(
    ctx: typer.Context,
    run_a: str = typer.Argument(..., help="Baseline run folder (or name, or 'latest')."),
    run_b: str = typer.Argument(..., help="Candidate run folder."),
    fail_under: list[str] = typer.Option([], "--fail-under", metavar="METRIC=VALUE",
                                         help="Gate: B's mean must be at least VALUE."),
    max_regression: list[str] = typer.Option([], "--max-regression", metavar="METRIC=DELTA",
                                             help="Gate: B may be worse than A by at most "
                                                  "DELTA."),
    repeats: int = typer.Option(0, "--repeats", min=0,
                                help="Re-judge both runs N times (temperature > 0, new seeds) "
                                     "and gate on the pass rate."),
    min_pass_rate: float = typer.Option(0.5, "--min-pass-rate", min=0.0, max=1.0,
                                        help="With --repeats: share of repeats that must "
                                             "pass."),
    html_out: Path | None = typer.Option(None, "--html", help="Where to write the comparison "
                                         "page (default: in run B's folder)."),
    flips: int = typer.Option(20, "--flips", help="How many flipped examples to print."),
) -> None:
    """Per-metric deltas (B − A) with paired bootstrap intervals, flipped examples, gates.
    Exits with code 4 when a gate fails."""
    from ragloop.evals import compare as cmp
    from ragloop.evals.report import write_compare_report
    from ragloop.evals.runs import load_run

    try:
        gates = ([cmp.parse_gate("fail-under", g) for g in fail_under]
                 + [cmp.parse_gate("max-regression", g) for g in max_regression])
    except ValueError as err:
        fail(str(err), EXIT_USAGE)
    try:
        a, b = load_run(_run_dir(ctx, run_a)), load_run(_run_dir(ctx, run_b))
        comparison = cmp.compare_runs(a, b)
        judge_llm = None
        pipeline = _pipeline(ctx)
        if repeats:
            judge_llm = pipeline.judge_llm
        with pipeline, _progress() as bar:
            task = bar.add_task("re-judging", total=repeats or None, visible=bool(repeats))
            cmp.gate(a, b, comparison, gates, judge_llm, repeats=repeats,
                     min_pass_rate=min_pass_rate,
                     version=b.manifest.judge_prompt_version,
                     on_repeat=lambda done: bar.update(task, completed=done))
        page = write_compare_report(comparison, a, b, html_out)
    except RagloopError as err:
        fail(err)
    _print_comparison(comparison, flips)
    console.print(f"report: {page}", soft_wrap=True, highlight=False)
    if not comparison.passed:
        console.print("[bold red]gate failed[/]")
        raise typer.Exit(EXIT_GATE)


def _print_comparison(comparison, n_flips: int) -> None:
    table = Table(title=f"{comparison.run_a} → {comparison.run_b}")
    for column in ("metric", "A", "B", "delta", "95% CI", "n"):
        table.add_column(column, justify="left" if column == "metric" else "right")
    for d in comparison.deltas:
        style = "red" if d.high < 0 else "green" if d.low > 0 else ""
        table.add_row(d.metric, f"{d.a:.3f}", f"{d.b:.3f}", f"[{style}]{d.delta:+.3f}[/]"
                      if style else f"{d.delta:+.3f}", f"[{d.low:+.3f}, {d.high:+.3f}]",
                      str(d.n))
    console.print(table)
    if comparison.flips:
        console.print(f"{len(comparison.flips)} flipped (example, metric, A → B):")
        for f in comparison.flips[:n_flips]:
            console.print(f"  {f.id}  {f.metric}  {f.a:g} → {f.b:g}  {f.question[:70]}",
                          highlight=False)
    for g in comparison.gates:
        mark = "[green]pass[/]" if g.passed else "[red]FAIL[/]"
        console.print(f"gate {g.gate.kind} {g.gate.metric}: {mark} — {g.message}",
                      highlight=False)
        if g.warning:
            console.print(f"[yellow]warning:[/] {g.warning}", highlight=False)
    if comparison.repeats:
        console.print(f"judge repeats: {comparison.repeats}, pass rate "
                      f"{comparison.pass_rate:.2f}")


@eval_app.command("calibrate")
def calibrate_cmd(
    ctx: typer.Context,
    labels: Path | None = typer.Argument(None, help="Human labels (JSONL); default: the "
                                         "project's labels (`ragloop labels list`), or the set "
                                         "shipped for the demo corpus when it has none.",
                                         show_default=False),
    split: str = typer.Option("test", "--split", help="Which labelled items: test (held out "
                              "from judge tuning), train, or all."),
    as_json: bool = typer.Option(False, "--json", help="Print the report as JSON."),
) -> None:
    """Agreement of each judge with human labels: accuracy, Cohen's kappa, confusion."""
    from ragloop.evals.calibrate import SPLITS, calibrate, calibration_labels, select_split

    if split not in SPLITS:
        fail(f"--split is one of {', '.join(SPLITS)}", EXIT_USAGE)
    try:
        pipeline = _pipeline(ctx)
        version = pipeline.settings.eval.judge_prompt_version
        found = calibration_labels(labels, pipeline.project.data_dir, version=version)
        items = select_split(found.items, split, found.where)
        # the train split, if any, fits the likelihood judge scored on the test split
        fit = [i for i in found.items if i.split == "train"] if split == "test" else []
        with pipeline, _progress() as bar:
            task = bar.add_task("judging", total=len(items))
            report = calibrate(pipeline.judge_llm, items, version=version,
                               on_item=lambda: bar.advance(task), fit_items=fit or None)
    except RagloopError as err:
        fail(err)
    from ragloop.evals.judge_agreement import MIN_KAPPA, save_calibration

    saved = save_calibration(pipeline.project.data_dir, report, labels_source=found.source + (
        "" if split == "test" else f" ({split} split)"))
    if as_json:
        console.print_json(json.dumps({**report.as_dict(), "labels": found.source}))
        return
    console.print(f"judge model {report.model}, prompts {report.prompt_version}, "
                  f"{len(items)} labelled items ({split} split) from {found.source}"
                  + (f": {found.note}" if found.note else ""), highlight=False)
    for j in report.judges:
        flag = "" if j.kappa >= MIN_KAPPA else f" [red]uncalibrated (kappa < {MIN_KAPPA})[/]"
        console.print(f"\n[bold]{escape(j.judge)}[/]: n={j.n} accuracy={j.accuracy:.3f} "
                      f"kappa={j.kappa:.3f} unparseable={j.errors}{flag}", highlight=False)
        table = Table("human \\ judge", *j.labels)
        for label, row in zip(j.labels, j.confusion or [[0, 0], [0, 0]], strict=True):
            table.add_row(label, *map(str, row))
        console.print(table)
    console.print(f"\nsaved to {saved}: eval runs with this judge model and prompt version "
                  "show these kappas beside their judge scores", soft_wrap=True,
                  highlight=False)


@eval_app.command("report")
def report_cmd(ctx: typer.Context,
               run: str = typer.Argument(..., help="Run folder (or name, or 'latest').")) -> None:
    """(Re)write report.html for a run."""
    from ragloop.evals.report import write_run_report

    try:
        console.print(str(write_run_report(_run_dir(ctx, run))), soft_wrap=True,
                      highlight=False)
    except RagloopError as err:
        fail(err)


@eval_app.command("synth")
def synth_cmd(
    ctx: typer.Context,
    out: Path = typer.Argument(..., help="Where to write the golden set (JSONL)."),
    n: int = typer.Option(50, "--n", min=1, help="How many examples to keep."),
    seed: int = typer.Option(0, "--seed"),
    max_attempts: int | None = typer.Option(None, "--max-attempts",
                                            help="Chunks to try (default 4×n)."),
) -> None:
    """Write question/answer pairs from the indexed chunks with the LLM, filtered."""
    from ragloop.evals.datasets import write_dataset
    from ragloop.evals.synth import synthesize

    try:
        pipeline = _pipeline(ctx)
        with pipeline, _progress() as bar:
            task = bar.add_task("synthesizing", total=n)
            report = synthesize(pipeline.store, pipeline.llm, n, seed=seed,
                                max_attempts=max_attempts,
                                on_attempt=lambda kept, _: bar.update(task, completed=kept))
        count = write_dataset(out, report.examples)
    except RagloopError as err:
        fail(err)
    rejected = ", ".join(f"{k} {v}" for k, v in report.rejected.most_common()) or "none"
    console.print(f"wrote {count} examples to {out} from {report.attempts} attempts; "
                  f"rejected: {rejected}")
    if count < n:
        console.print(f"[yellow]only {count} of {n} passed the filters[/]")
        raise typer.Exit(EXIT_PARTIAL)


@eval_app.command("import")
def import_cmd(
    kind: str = typer.Argument(..., help="'beir' or 'pubmedqa'."),
    folder: Path = typer.Argument(..., help="The dataset folder."),
    out: Path = typer.Argument(..., help="Golden set to write (JSONL)."),
    split: str = typer.Option("test", "--split", help="BEIR qrels split; PubMedQA: test, "
                              "train or all."),
    corpus: Path | None = typer.Option(None, "--corpus", help="PubMedQA: also write the pooled "
                                       "corpus (BEIR-style JSONL, one document per PMID)."),
) -> None:
    """Import a BEIR folder or PubMedQA as a golden set."""
    from ragloop.evals.datasets import write_dataset
    from ragloop.evals.import_beir import iter_beir_examples
    from ragloop.evals.import_pubmedqa import iter_pubmedqa_examples, write_pubmedqa_corpus

    importers = {"beir": iter_beir_examples, "pubmedqa": iter_pubmedqa_examples}
    if kind not in importers:
        fail(f"unknown dataset kind {kind!r}; choose from {sorted(importers)}", EXIT_USAGE)
    try:
        count = write_dataset(out, importers[kind](folder, split=split))
        console.print(f"wrote {count} examples to {out}")
        if corpus is not None:
            if kind != "pubmedqa":
                fail("--corpus is for pubmedqa (a BEIR folder has its corpus.jsonl)",
                     EXIT_USAGE)
            docs = write_pubmedqa_corpus(folder, corpus)
            console.print(f"wrote {docs} documents to {corpus}")
    except RagloopError as err:
        fail(err)
