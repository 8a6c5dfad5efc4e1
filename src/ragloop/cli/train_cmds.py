"""``ragloop train sft|dpo|kto DATA --out NAME``, ``ragloop train gate NAME --eval SET`` and
``ragloop train data golden|grounded|selfgen|judge``.

Training needs the ``[train]`` extra; without it the commands fail with exit 1 and say so.
``--gate`` exits with 4 (``EXIT_GATE``) unless the tuned model beats the base on the metric
with the whole 95% interval of the paired difference above zero.
"""

from __future__ import annotations

import json
from pathlib import Path

import typer
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from rich.table import Table

from ragloop.cli.common import EXIT_GATE, EXIT_USAGE, console, fail, state
from ragloop.errors import RagloopError

train_app = typer.Typer(help="Post-train the model (LoRA SFT/DPO/KTO → GGUF, PEFT adapter or "
                             "safetensors), gated by an eval.", no_args_is_help=True)
data_app = typer.Typer(help="Write training data (TRL JSONL). Feedback: `ragloop feedback "
                            "export`.", no_args_is_help=True)
SPARK = "▁▂▃▄▅▆▇█"


def register(app: typer.Typer) -> None:
    train_app.add_typer(data_app, name="data")
    app.add_typer(train_app, name="train")


def _bar() -> Progress:
    return Progress("[progress.description]{task.description}", BarColumn(),
                    MofNCompleteColumn(), TextColumn("loss {task.fields[loss]}"),
                    TimeElapsedColumn(), TextColumn("ETA"), TimeRemainingColumn(),
                    console=console, transient=True)


def sparkline(values: list[float], width: int = 60) -> str:
    if not values:
        return ""
    step = max(1, len(values) // width)
    points = [sum(values[i:i + step]) / len(values[i:i + step])
              for i in range(0, len(values), step)]
    low, high = min(points), max(points)
    span = (high - low) or 1.0
    return "".join(SPARK[int((v - low) / span * (len(SPARK) - 1))] for v in points)


def _train(ctx: typer.Context, method: str, data: Path, out: str, base: Path | None,
           eval_set: Path | None, gate: bool, metric: str | None, limit: int | None,
           restart: bool, overrides: dict) -> None:
    from ragloop.train.trainer import train_model

    if gate and eval_set is None:
        fail("--gate needs --eval DATASET (the eval the base and tuned models are compared "
             "on)", EXIT_USAGE)
    st = state(ctx)
    project = st.project
    try:
        settings = project.settings.train.model_validate({
            **project.settings.train.model_dump(),
            **{k: v for k, v in overrides.items() if v is not None}})
    except ValueError as err:
        fail(f"[train]: {err}", EXIT_USAGE)
    metric = metric or settings.gate_metric
    try:
        with _bar() as bar:
            task = bar.add_task(f"{method}", total=None, loss="-")
            outcome = train_model(
                project, method, data, out, settings=settings, base=base,
                eval_dataset=eval_set, restart=restart,
                on_phase=lambda text: bar.update(task, description=text),
                on_step=lambda step, total, loss: bar.update(
                    task, completed=step, total=total, loss=f"{loss:.4f}",
                    description=f"{method} step"))
    except RagloopError as err:
        fail(err)
    _print_training(outcome)
    if eval_set is None:
        return
    _gate(ctx, out, eval_set, metric=metric, limit=limit, gate=gate)


def _gate(ctx: typer.Context, name: str, eval_set: Path, *, metric: str,
          limit: int | None, gate: bool, base_model: str = "", tuned_model: str = "") -> None:
    """Evaluate base and tuned on ``eval_set``, print both and the paired comparison, record
    the result in the model's lineage; with ``gate``, exit 4 unless tuned is better."""
    from ragloop.cli.eval_cmds import _print_comparison
    from ragloop.models.registry import models_root, resolve_model
    from ragloop.train.gate import run_gate
    from ragloop.train.trainer import record_gate

    st = state(ctx)
    try:
        model = resolve_model(models_root(st.project.data_dir), name)
        with Progress("[progress.description]{task.description}", BarColumn(),
                      MofNCompleteColumn(), TimeRemainingColumn(), console=console,
                      transient=True) as bar:
            tasks: dict[str, int] = {}

            def progress(label: str, done: int, total: int) -> None:
                if label not in tasks:
                    tasks[label] = bar.add_task(f"eval {label}", total=total)
                bar.update(tasks[label], completed=done, total=total)

            result = run_gate(st.project, model, eval_set, metric=metric, limit=limit,
                              use_cache=st.use_cache, base_model=base_model,
                              tuned_model=tuned_model, progress=progress)
        record_gate(model, result.record(eval_set))
    except RagloopError as err:
        fail(err)
    console.print(f"{result.backend}: base {result.base_model}, tuned {result.tuned_model}",
                  highlight=False)
    _print_side_by_side(result)
    _print_comparison(result.comparison, 10)
    mark = "[green]pass[/]" if result.passed else "[red]FAIL[/]"
    console.print(f"gate {metric}: {mark} — {result.message}", highlight=False)
    if gate and not result.passed:
        raise typer.Exit(EXIT_GATE)


@train_app.command("gate")
def gate_cmd(
    ctx: typer.Context,
    name: str = typer.Argument(..., help="A model registered by `ragloop train`."),
    eval_set: Path = typer.Option(..., "--eval", help="Golden set to compare base and tuned "
                                  "on."),
    gate: bool = typer.Option(True, "--gate/--no-gate", help="Exit 4 unless tuned beats base."),
    metric: str | None = typer.Option(None, "--metric", show_default=False),
    limit: int | None = typer.Option(None, "--limit", "-n", min=1),
    base_model: str = typer.Option("", "--base-model", help="Served backends: the model name "
                                   "the server serves the base as (default: [llm] model).",
                                   show_default=False),
    tuned_model: str = typer.Option("", "--tuned-model", help="Served backends: the name it "
                                    "serves the tuned model as (default: NAME).",
                                    show_default=False),
) -> None:
    """Compare a registered model with its base on an eval set; exit 4 unless it is better.

    Both answer through the project's backend: in process with llama.cpp (the base GGUF, and
    the merged GGUF or the base with the LoRA GGUF), or from an OpenAI-compatible server that
    serves both ([llm] backend = "openai"). Better means the paired bootstrap 95% interval of
    (tuned − base) on the metric lies above zero."""
    st = state(ctx)
    _gate(ctx, name, eval_set, metric=metric or st.project.settings.train.gate_metric,
          limit=limit, gate=gate, base_model=base_model, tuned_model=tuned_model)


def _print_training(outcome) -> None:
    lin = outcome.lineage
    tr, out = lin.training, lin.output
    loss = lin.metrics.train_loss
    console.print(f"[bold]{outcome.name}[/] registered in {outcome.folder}", highlight=False)
    console.print(f"{lin.method} on {lin.data.rows} rows "
                  f"({lin.data.skipped_too_long} too long), {tr.steps} steps on {tr.device} "
                  f"({tr.dtype}), {tr.seconds:.1f}s ({tr.s_per_example:.2f} s/example), "
                  f"peak RSS {tr.peak_rss_mb:.0f} MB"
                  + (f", peak GPU {tr.peak_gpu_mb:.0f} MB" if tr.peak_gpu_mb else ""),
                  highlight=False)
    console.print(f"loss {loss.before:.4f} → {loss.after:.4f}  "
                  f"{sparkline(list(tr.losses))}  ({outcome.folder / 'loss.svg'})",
                  highlight=False)
    use = (f"use it with --model {outcome.name} or [llm] model = \"{outcome.name}\""
           if out.kind in ("merged-gguf", "lora-gguf") else
           "serve it with an OpenAI-compatible server (docs/guides/post-training.md)")
    console.print(f"output: {out.kind} {outcome.folder / out.file} ({out.bytes / 1e6:.1f} MB); "
                  + use, highlight=False)


def _print_side_by_side(result) -> None:
    a, b = result.base_run.aggregates, result.tuned_run.aggregates
    table = Table(title="base vs tuned")
    for column in ("metric", "base", "tuned"):
        table.add_column(column, justify="left" if column == "metric" else "right")
    for name in sorted(set(a.get("metrics", {})) & set(b.get("metrics", {}))):
        table.add_row(name, f"{a['metrics'][name]['mean']:.3f}",
                      f"{b['metrics'][name]['mean']:.3f}")
    if "labels" in a and "labels" in b:
        table.add_row("macro_f1", f"{a['labels']['macro_f1']:.3f}",
                      f"{b['labels']['macro_f1']:.3f}")
        table.add_row("predictions", json.dumps(a["labels"]["prediction_distribution"]),
                      json.dumps(b["labels"]["prediction_distribution"]))
    console.print(table)


def _method_command(method: str, doc: str):
    def command(
        ctx: typer.Context,
        data: Path = typer.Argument(..., help="TRL-format JSONL (see `ragloop train data`)."),
        out: str = typer.Option(..., "--out", help="Register the tuned model under NAME."),
        base: Path | None = typer.Option(None, "--base", help="A GGUF file or a Hugging "
                                         "Face causal-LM folder (default: the configured "
                                         "model).", show_default=False),
        eval_set: Path | None = typer.Option(None, "--eval", help="Golden set to compare base "
                                             "and tuned on; rows from it are refused.",
                                             show_default=False),
        gate: bool = typer.Option(False, "--gate", help="Exit 4 unless tuned beats base."),
        metric: str | None = typer.Option(None, "--metric", help="Gate metric (default [train] "
                                          "gate_metric).", show_default=False),
        limit: int | None = typer.Option(None, "--limit", "-n", min=1,
                                         help="Evaluate the first N examples."),
        steps: int | None = typer.Option(None, "--steps", min=1, help="Optimizer steps "
                                         "(overrides epochs).", show_default=False),
        epochs: float | None = typer.Option(None, "--epochs", show_default=False),
        lr: float | None = typer.Option(None, "--lr", show_default=False),
        batch_size: int | None = typer.Option(None, "--batch-size", min=1, show_default=False),
        output: str | None = typer.Option(None, "--output", help="merged-gguf, lora-gguf, "
                                          "peft-adapter or merged-safetensors.",
                                          show_default=False),
        device: str | None = typer.Option(None, "--device", help="auto, cpu, cuda or mps.",
                                          show_default=False),
        quant: str | None = typer.Option(None, "--quant", help="q8_0 or f16 (merged).",
                                         show_default=False),
        seed: int | None = typer.Option(None, "--seed", show_default=False),
        restart: bool = typer.Option(False, "--restart", help="Discard a checkpoint of an "
                                     "earlier run of NAME instead of resuming it."),
    ) -> None:
        _train(ctx, method, data, out, base, eval_set, gate, metric, limit, restart,
               {"max_steps": steps, "epochs": epochs, "learning_rate": lr,
                "batch_size": batch_size, "output": output, "quant": quant, "seed": seed,
                "device": device})

    command.__doc__ = doc
    return command


for _method, _doc in (
        ("sft", "Supervised fine-tuning (LoRA) on DATA; writes a GGUF registered as NAME."),
        ("dpo", "Direct preference optimisation (LoRA) on chosen/rejected pairs in DATA."),
        ("kto", "KTO (LoRA) on answers labelled desirable/undesirable in DATA.")):
    train_app.command(_method)(_method_command(_method, _doc))


def _pipeline(ctx: typer.Context):
    from ragloop.pipeline import Pipeline

    st = state(ctx)
    return Pipeline(st.project, use_cache=st.use_cache)


def _examples(dataset: Path, eval_set: Path | None, limit: int | None):
    from ragloop.errors import DataLeakError
    from ragloop.train.rows import training_examples

    try:
        return training_examples(dataset, eval_set=eval_set, limit=limit)
    except DataLeakError as err:
        fail(err, EXIT_USAGE)


def _count_bar(label: str, total: int):
    bar = Progress("[progress.description]{task.description}", BarColumn(),
                   MofNCompleteColumn(), TimeRemainingColumn(), console=console,
                   transient=True)
    return bar, bar.add_task(label, total=total)


@data_app.command("golden")
def data_golden(
    ctx: typer.Context,
    dataset: Path = typer.Argument(..., help="Golden set's train split (JSONL)."),
    out: Path = typer.Argument(..., help="TRL JSONL to write."),
    fmt: str = typer.Option("sft", "--format", "-f", help="sft, dpo or kto."),
    balance: str = typer.Option("oversample", "--balance", help="Labels: oversample, "
                                "undersample or none."),
    eval_set: Path | None = typer.Option(None, "--eval", help="Refuse examples whose ids are "
                                         "in this eval set.", show_default=False),
    per_label: int | None = typer.Option(None, "--per-label", min=1, help="Balance to N "
                                         "examples per label (sampled or repeated).",
                                         show_default=False),
    limit: int | None = typer.Option(None, "--limit", "-n", min=1),
    seed: int = typer.Option(0, "--seed"),
    reason: bool = typer.Option(True, "--reason/--no-reason", help="After a label, the "
                                "reference's first sentence (--no-reason: the label alone)."),
) -> None:
    """Training rows from a golden set's train split.

    Prompts are built by the pipeline as at answer time; the answer is the gold label and the
    reference's first sentence (DPO/KTO: against each wrong label)."""
    from ragloop.train.data_golden import BALANCE, balance_examples, golden_rows
    from ragloop.train.rows import write_rows

    if fmt not in ("sft", "dpo", "kto") or balance not in BALANCE:
        fail(f"--format is sft, dpo or kto; --balance is one of {', '.join(BALANCE)}",
             EXIT_USAGE)
    try:
        examples = balance_examples(_examples(dataset, eval_set, limit), balance, seed,
                                    per_label=per_label)
        pipeline = _pipeline(ctx)
        bar, task = _count_bar("building prompts", len(examples))
        with bar:
            count = write_rows(out, golden_rows(pipeline, examples, fmt=fmt, reason=reason,
                                                on_example=lambda: bar.advance(task)), fmt)
    except RagloopError as err:
        fail(err)
    labels: dict[str, int] = {}
    for e in examples:
        labels[str(e.label)] = labels.get(str(e.label), 0) + 1
    console.print(f"wrote {count} {fmt} rows from {len(examples)} examples to {out}; "
                  f"labels {labels}", highlight=False)


@data_app.command("grounded")
def data_grounded(
    ctx: typer.Context,
    dataset: Path = typer.Argument(..., help="Training questions (a golden set's JSONL: "
                                   "question, optionally gold documents and references)."),
    out: Path = typer.Argument(..., help="SFT JSONL to write (OUT.report.json beside it)."),
    teacher: str = typer.Option("extract", "--teacher", help="extract: the supporting "
                                "sentences of the retrieved chunks (no model call); model: "
                                "the [train.teacher] model's answer."),
    refusal_share: float = typer.Option(0.2, "--refusal-share", min=0.0, max=0.9,
                                        help="Share of questions given a context without "
                                        "their answer and the refusal as target."),
    shuffle: bool = typer.Option(True, "--shuffle/--no-shuffle", help="Chunks in a seeded "
                                 "random order (not always the supporting one first)."),
    opening_share: float = typer.Option(0.5, "--opening-share", min=0.0, max=1.0,
                                        help="At most this share of the answer rows quote "
                                        "the opening sentence of their chunk (1: no cap)."),
    eval_set: Path | None = typer.Option(None, "--eval", help="Refuse examples whose ids or "
                                         "questions are in this eval set.",
                                         show_default=False),
    limit: int | None = typer.Option(None, "--limit", "-n", min=1),
    seed: int = typer.Option(0, "--seed"),
) -> None:
    """Grounded-answer distillation (RAFT): the prompt the pipeline builds for each question,
    distractors kept, and a cited answer from its supporting sentences as the target.

    A target is kept only when the grounding check and the citation checks pass; a share of
    the questions gets a context without the answer and the refusal as target. Train with
    `ragloop train sft OUT --out NAME`."""
    from ragloop.train.data_grounded import TEACHERS, build_teacher, grounded_rows
    from ragloop.train.rows import write_rows

    if teacher not in TEACHERS:
        fail(f"--teacher is one of {', '.join(TEACHERS)}", EXIT_USAGE)
    try:
        examples = _examples(dataset, eval_set, limit)
        pipeline = _pipeline(ctx)
        teacher_llm = build_teacher(pipeline) if teacher == "model" else None
        bar, task = _count_bar("building grounded rows", len(examples))
        with bar:
            report = grounded_rows(pipeline, examples, teacher=teacher,
                                   teacher_llm=teacher_llm, refusal_share=refusal_share,
                                   shuffle=shuffle, opening_share=opening_share,
                                   seed=seed,
                                   on_example=lambda: bar.advance(task))
        count = write_rows(out, report.rows, "sft")
        summary = report.summary()
        out.with_name(out.stem + ".report.json").write_text(json.dumps(summary, indent=1),
                                                            encoding="utf-8")
    except RagloopError as err:
        fail(err)
    console.print(f"wrote {count} SFT rows to {out} from {summary['questions']} questions: "
                  f"{summary['answer_rows']} cited answers, {summary['refusal_rows']} "
                  f"refusals; rejected {summary['rejected_because']}; "
                  f"{summary['seconds']:.1f}s", highlight=False)


@data_app.command("judge")
def data_judge(
    ctx: typer.Context,
    out: Path = typer.Argument(..., help="TRL JSONL to write."),
    dataset: Path | None = typer.Option(None, "--dataset", "-d", help="Golden set's train "
                                        "split (JSONL): its questions and what the index "
                                        "retrieves for them.", show_default=False),
    labels: Path | None = typer.Option(None, "--labels", help="Human labels (JSONL, as for "
                                       "`eval calibrate`): the faithfulness items of its "
                                       "train split, as rows and as passages to build rows "
                                       "over.", show_default=False),
    label_repeat: int = typer.Option(1, "--label-repeat", min=1, help="Times each human-"
                                     "labelled row is written."),
    fmt: str = typer.Option("sft", "--format", "-f", help="sft or dpo."),
    context_chunks: int = typer.Option(1, "--context-chunks", min=1,
                                       help="Retrieved chunks per context."),
    eval_set: Path | None = typer.Option(None, "--eval", help="Refuse examples whose ids are "
                                         "in this eval set.", show_default=False),
    limit: int | None = typer.Option(None, "--limit", "-n", min=1),
    seed: int = typer.Option(0, "--seed"),
    distill: bool = typer.Option(False, "--distill", help="Add rows over the model's own "
                                 "answers (a paraphrase, a closed-book answer) with the "
                                 "likelihood judge's verdicts."),
    margin: float = typer.Option(0.5, "--margin", min=0.0, help="With --distill: answers "
                                 "within this many nats/token of the likelihood threshold "
                                 "are left out."),
    constructed: bool = typer.Option(True, "--constructed/--no-constructed",
                                     help="Rows whose verdicts are known by construction."),
) -> None:
    """Faithfulness-judge rows: verdicts known by construction, human labels, and the
    likelihood judge's verdicts on the model's own answers.

    Faithful: a sentence of the context. Unfaithful: another question's sentence, a context
    sentence followed by one, a context sentence with a number changed or with content words
    swapped for foreign ones. With --labels, the train split's human verdicts too. With
    --distill, the model paraphrases a context sentence and answers closed-book, and the
    likelihood judge (at the threshold `eval calibrate` fitted) labels both. Test the tuned
    judge on the held-out split with `ragloop --model NAME eval calibrate`."""

    from ragloop.evals.calibrate import load_labels
    from ragloop.evals.judge_agreement import likelihood_threshold
    from ragloop.train.data_judge import DistillTally, build_cases, label_cases, training_rows
    from ragloop.train.rows import write_rows

    if fmt not in ("sft", "dpo"):
        fail("--format is sft or dpo", EXIT_USAGE)
    if dataset is None and labels is None:
        fail("give --dataset, --labels or both", EXIT_USAGE)
    try:
        pipeline = _pipeline(ctx)
        version = pipeline.settings.eval.judge_prompt_version
        cases = []
        if dataset is not None:
            cases = build_cases(pipeline, _examples(dataset, eval_set, limit),
                                context_chunks=context_chunks, seed=seed)
        items = load_labels(labels, version=version, split="train") if labels else []
        cases += label_cases(items)
        threshold = None
        if distill:
            llm = pipeline.judge_llm
            threshold = likelihood_threshold(pipeline.project.data_dir, llm.model_id, version)
            if threshold is None:
                fail(f"--distill needs the likelihood judge's threshold for {llm.model_id}: "
                     "run `ragloop eval calibrate` with labels that have a train split",
                     EXIT_USAGE)
        tally = DistillTally()
        row_sources = int(constructed) + int(distill)
        bar, task = _count_bar("building judge rows", len(cases) * row_sources)
        with bar:
            rows = training_rows([(cases, seed)], fmt=fmt, version=version,
                                 constructed=constructed,
                                 distill_llm=pipeline.judge_llm if distill else None,
                                 threshold=threshold, margin=margin, human=items,
                                 label_repeat=label_repeat, tally=tally,
                                 on_case=lambda: bar.advance(task))
            count = write_rows(out, rows, fmt)
    except RagloopError as err:
        fail(err)
    human = sum(i.judge == "faithfulness" for i in items) * label_repeat
    console.print(f"wrote {count} {fmt} faithfulness-judge rows ({human} human-labelled) "
                  f"from {len(cases)} contexts to {out}", highlight=False)
    if distill:
        kept = tally.faithful + tally.unfaithful
        console.print(f"distilled: {kept} of the model's answers labelled by the likelihood "
                      f"judge (threshold {threshold:+.2f} ± {margin:.2f} nats/token): "
                      f"{tally.faithful} faithful, {tally.unfaithful} unfaithful; left out "
                      f"{tally.unsure} near the threshold, {tally.empty} empty, "
                      f"{tally.failed} failed calls", highlight=False)
        for error in tally.errors[:5]:
            console.print(f"  [yellow]failed[/yellow] {error}", highlight=False)


@data_app.command("selfgen")
def data_selfgen(
    ctx: typer.Context,
    dataset: Path = typer.Argument(..., help="Golden set's train split (JSONL)."),
    out: Path = typer.Argument(..., help="OUT.jsonl: writes OUT.sft.jsonl and OUT.dpo.jsonl "
                                         "and OUT.report.json."),
    samples: int = typer.Option(4, "--samples", min=1, help="Answers sampled per question."),
    temperature: float = typer.Option(0.7, "--temperature", min=0.0),
    eval_set: Path | None = typer.Option(None, "--eval", help="Refuse examples whose ids are "
                                         "in this eval set.", show_default=False),
    limit: int | None = typer.Option(None, "--limit", "-n", min=1),
    teacher: str | None = typer.Option(None, "--teacher", help="'extract': where no sample "
                                       "passes, the extractive answer (no model call) if it "
                                       "passes the same checks.", show_default=False),
) -> None:
    """Verified self-generation: best-of-N answers of the current model as training rows.

    Checks: valid citations, grounding, the gold label. Accepted → SFT rows, accepted vs
    rejected → DPO rows; OUT.report.json has the acceptance rate and the cost."""
    from ragloop.train.data_selfgen import TEACHERS, self_generate
    from ragloop.train.rows import write_rows

    if teacher not in (None, *TEACHERS):
        fail(f"--teacher is one of {', '.join(TEACHERS)}", EXIT_USAGE)
    try:
        examples = _examples(dataset, eval_set, limit)
        pipeline = _pipeline(ctx)
        bar, task = _count_bar("sampling", len(examples))
        with bar:
            report = self_generate(pipeline, examples, samples=samples,
                                   temperature=temperature, teacher=teacher,
                                   on_example=lambda: bar.advance(task))
        stem = out.with_suffix("")
        n_sft = write_rows(stem.with_name(stem.name + ".sft.jsonl"), report.sft, "sft")
        n_dpo = write_rows(stem.with_name(stem.name + ".dpo.jsonl"), report.dpo, "dpo")
        summary = report.summary()
        stem.with_name(stem.name + ".report.json").write_text(json.dumps(summary, indent=1),
                                                              encoding="utf-8")
    except RagloopError as err:
        fail(err)
    console.print(f"{summary['questions']} questions × {samples} samples: "
                  f"{summary['accepted']} accepted ({summary['acceptance_rate']:.0%}), "
                  f"rejected {summary['rejected_because']}"
                  + (f"; {summary['teacher_rows']} rows from the {teacher} teacher"
                     if teacher else "") + f"; {summary['calls']} calls, "
                  f"{summary['seconds']:.1f}s ({summary['s_per_question']:.1f} s/question)",
                  highlight=False)
    console.print(f"wrote {n_sft} SFT rows and {n_dpo} DPO rows next to {out}", highlight=False)
