"""``ragloop eval run``: drive the project's own ``Pipeline`` over a golden dataset.

Each example is retrieved (``pipeline.retrieve``), answered (``pipeline.ask``), scored step by
step and, optionally, judged (``pipeline.judge_llm``); its record is appended to
``examples.jsonl`` as soon as it is done, so an interrupted run resumes where it stopped
(``resume=RUN_DIR``: examples already recorded without error are skipped). Threads run
examples in parallel; the local model serialises its own calls. LLM calls go through the
pipeline's cached client.
"""

from __future__ import annotations

import hashlib
import time
import traceback
from collections.abc import Callable, Iterator
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from ragloop.answer.citations import place
from ragloop.evals import runs
from ragloop.evals.datasets import dataset_hash, load_dataset
from ragloop.evals.fingerprint import model_fingerprint, settings_hash
from ragloop.evals.judge_agreement import find_agreements
from ragloop.evals.judges import JUDGES
from ragloop.evals.likelihood import LIKELIHOOD_JUDGE, can_score
from ragloop.evals.report import write_run_report
from ragloop.evals.scoring import ScoringOptions, context_text, judge_scores, step_scores
from ragloop.records import (
    CitedRef,
    ContextRef,
    EvalExample,
    EvalLatency,
    EvalRecord,
    EvalTokens,
    RetrievedRef,
)

ProgressHook = Callable[[int, int], None]  # (done, total)


@dataclass(frozen=True)
class RunOptions:
    limit: int | None = None
    workers: int = 2
    judge: bool = False
    judges: tuple[str, ...] = JUDGES
    ks: tuple[int, ...] = (1, 5, 10)
    # given to the pipeline as the answer instruction when the dataset has labels, so the
    # model answers with one of them; retrieval (the pipeline's and the metrics') uses the
    # bare question
    label_instruction: str = "Answer with one word first: {labels}."
    report: bool = True  # write report.html at the end

    def as_dict(self) -> dict:
        return asdict(self)


@dataclass
class RunResult:
    run_dir: Path
    aggregates: dict
    skipped: int = 0
    errors: list[str] = field(default_factory=list)


def new_run_dir(runs_root: Path, config_hash: str, data_hash: str, options: RunOptions) -> Path:
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    digest = hashlib.sha256(f"{config_hash}|{data_hash}|{options.as_dict()}|{time.time_ns()}"
                            .encode()).hexdigest()[:8]
    path = runs_root / f"{stamp}-{digest}"
    path.mkdir(parents=True, exist_ok=False)
    return path


def _labels_of(examples: list[EvalExample]) -> tuple[str, ...]:
    return tuple(sorted({e.label for e in examples if e.label is not None}))


def answer_instruction(example: EvalExample, scoring: ScoringOptions,
                       options: RunOptions) -> str:
    """The label instruction for a labelled example (so the model answers with a label),
    else nothing. It goes to the answer prompt; retrieval runs on the bare question."""
    if example.label is not None and scoring.labels and options.label_instruction:
        return options.label_instruction.format(labels=", ".join(scoring.labels))
    return ""


def evaluate_example(pipeline, example: EvalExample, scoring: ScoringOptions,
                     options: RunOptions) -> EvalRecord:
    """One record: what was asked, retrieved, put in the prompt and answered, and its scores."""
    instruction = answer_instruction(example, scoring, options)
    asked = f"{example.question} {instruction}" if instruction else example.question
    base = dict(id=example.id, question=example.question, instruction=instruction, asked=asked,
                tags=example.tags, label=example.label, labels=scoring.labels,
                reference_answers=example.reference_answers,
                gold_doc_ids=example.gold_doc_ids, gold_chunk_ids=example.gold_chunk_ids)
    try:
        start = time.perf_counter()
        retrieved = pipeline.retrieve(example.question, k=max(scoring.ks))
        retrieve_s = time.perf_counter() - start
        start = time.perf_counter()
        answer = pipeline.ask(example.question, instruction=instruction)
        answer_s = time.perf_counter() - start
    except Exception as err:  # one failed example is recorded; the batch goes on
        return EvalRecord(**base, error=f"{type(err).__name__}: {err}",
                          traceback=traceback.format_exc(limit=5))
    scores, predicted = step_scores(example, retrieved, answer, scoring)
    judges: dict = {}
    judge_s = 0.0
    if scoring.judge:
        reference = example.reference_answers[0] if example.reference_answers else ""
        judged, judges, judge_s = judge_scores(
            pipeline.judge_llm, question=example.question, answer=answer.text,
            reference=reference, context=context_text([c.chunk.text for c in answer.candidates]),
            opts=scoring)
        scores.update(judged)
    return EvalRecord(
        **base,
        retrieved=[RetrievedRef(chunk_id=c.chunk.id, doc_id=c.chunk.doc_id, score=c.score,
                                title=c.chunk.header or c.chunk.metadata.get("title", ""),
                                source=c.chunk.metadata.get("source", ""),
                                place=place(c.chunk))
                   for c in retrieved],
        context=[ContextRef(chunk_id=c.chunk.id, doc_id=c.chunk.doc_id, text=c.chunk.text,
                            title=c.chunk.header or c.chunk.metadata.get("title", ""),
                            source=c.chunk.metadata.get("source", ""))
                 for c in answer.candidates],
        answer=answer.text, refused=answer.refused, strategy=answer.strategy,
        citations=[CitedRef(marker=c.marker, chunk_id=c.chunk_id, doc_id=c.doc_id)
                   for c in answer.citations],
        predicted_label=predicted, judges=judges, scores=scores,
        latency=EvalLatency(retrieve_s=retrieve_s, answer_s=answer_s, judge_s=judge_s,
                            total_s=retrieve_s + answer_s),
        tokens=EvalTokens(prompt=answer.prompt_tokens, completion=answer.completion_tokens,
                          calls=len(answer.calls),
                          cached_calls=sum(1 for c in answer.calls if c.cached)))


def _bounded_map(fn, items: list, workers: int) -> Iterator[EvalRecord]:
    """Yield fn(item) as they finish, keeping at most 2×workers in flight (bounded memory)."""
    pending: set[Future] = set()
    queue = iter(items)
    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="eval") as pool:
        try:
            for item in queue:
                pending.add(pool.submit(fn, item))
                if len(pending) >= 2 * workers:
                    done, pending = wait(pending, return_when=FIRST_COMPLETED)
                    yield from (f.result() for f in done)
            while pending:
                done, pending = wait(pending, return_when=FIRST_COMPLETED)
                yield from (f.result() for f in done)
        finally:
            for future in pending:  # interrupted: drop what has not started
                future.cancel()


def _scores_likelihood(pipeline, options: RunOptions) -> bool:
    """The likelihood judge runs beside the faithfulness judge where the judge model can
    score text."""
    return options.judge and "faithfulness" in options.judges \
        and can_score(pipeline.judge_llm)


def _judge_calibration(pipeline, options: RunOptions, version: str) -> dict | None:
    """Each judge's agreement with human labels, as known when the run starts."""
    if not options.judge:
        return None
    judges = tuple(options.judges)
    if _scores_likelihood(pipeline, options):
        judges += (LIKELIHOOD_JUDGE,)  # its score and verdict are in the run too
    found = find_agreements(pipeline.project.data_dir, pipeline.judge_llm.model_id, version,
                            judges)
    return {name: agreement.as_dict() for name, agreement in found.items()}


def _executor_map(executor, pipeline, scoring: ScoringOptions, options: RunOptions,
                  todo: list, make_pipeline=None, usage: dict | None = None
                  ) -> Iterator[EvalRecord]:
    """Examples on ``executor``'s workers (``ragloop.executors``), each with its own pipeline;
    what the workers' LLMs spent is added into ``usage``."""
    from ragloop.evals.worker import EvaluateExample, ProjectPipeline

    make_pipeline = make_pipeline or ProjectPipeline(pipeline.project.root, pipeline.use_cache)
    task = EvaluateExample(make_pipeline, scoring, options)
    for outcome in executor.map(task, todo):
        if outcome.error is not None:  # lost with its worker: recorded, so a resume retries
            example = outcome.item
            yield EvalRecord(id=example.id, question=example.question, tags=example.tags,
                             label=example.label, error=outcome.error)
        else:
            if usage is not None:
                for key, value in outcome.result.usage.items():
                    usage[key] = usage.get(key, 0) + value
            yield outcome.result.record


def run_eval(pipeline, dataset: Path | str | None = None, *, options: RunOptions = RunOptions(),
             resume: Path | None = None, progress: ProgressHook | None = None,
             executor=None, worker_pipeline=None) -> RunResult:
    """Run (or resume) an evaluation and write its folder. Returns the folder and aggregates.
    ``executor`` (``ragloop.executors``): run examples on its workers instead of this process's
    threads; each worker builds its pipeline with ``worker_pipeline`` (a picklable
    callable; default: the project's ``Pipeline``)."""
    settings = pipeline.settings
    eval_settings = settings.eval
    if resume is not None:
        run_dir = Path(resume)
        manifest = runs.load_run(run_dir).manifest
        dataset = Path(manifest["dataset"])
        options = RunOptions(**{**manifest["options"], "judges": tuple(manifest["options"]
                                                                          ["judges"]),
                                "ks": tuple(manifest["options"]["ks"])})
        if manifest["config_hash"] != settings_hash(settings.model_dump(mode="json")):
            raise runs.RunFolderError(
                f"{run_dir}: the project configuration changed since this run started; "
                "start a new run instead of mixing results")
    if dataset is None:
        raise ValueError("a dataset or a run to resume is needed")
    dataset = Path(dataset).resolve()
    examples = load_dataset(dataset)
    # the label set comes from the whole dataset: a --limit subset must not narrow the
    # choices offered to the model (or leak its gold distribution into the prompt)
    labels = _labels_of(examples)
    examples = examples[:options.limit] if options.limit else examples
    config_dump = settings.model_dump(mode="json")
    config_hash = settings_hash(config_dump)
    data_hash = dataset_hash(dataset)
    if resume is None:
        run_dir = new_run_dir(pipeline.project.data_dir / "runs", config_hash, data_hash, options)
        runs.write_json(run_dir / runs.CONFIG, config_dump)
        manifest = {
            "created": datetime.now(UTC).isoformat(), "dataset": str(dataset),
            "dataset_hash": data_hash, "config_hash": config_hash, "options": options.as_dict(),
            "model": model_fingerprint(pipeline.llm, pipeline.project.data_dir / "cache"
                                       / "model_hashes.json"),
            "judge_model": pipeline.judge_llm.model_id if options.judge else None,
            "judge_prompt_version": eval_settings.judge_prompt_version,
            "judge_calibration": _judge_calibration(pipeline, options,
                                                    eval_settings.judge_prompt_version),
            "n_examples": len(examples), "status": "running"}
        runs.write_json(run_dir / runs.MANIFEST, manifest)
    scoring = ScoringOptions(ks=options.ks, labels=labels, judge=options.judge,
                             judges=options.judges,
                             judge_prompt_version=manifest["judge_prompt_version"],
                             judge_seed=eval_settings.seed,
                             likelihood=_scores_likelihood(pipeline, options),
                             likelihood_threshold=((manifest.get("judge_calibration") or {})
                                                   .get(LIKELIHOOD_JUDGE) or {})
                             .get("threshold"))
    done_ids = {r.id for r in runs.read_records(run_dir) if r.ok}
    todo = [e for e in examples if e.id not in done_ids]
    result = RunResult(run_dir, {}, skipped=len(examples) - len(todo))
    finished = result.skipped
    if progress:
        progress(finished, len(examples))
    runs.repair_tail(run_dir / runs.EXAMPLES)
    worker_usage: dict[str, float] = {}
    with (run_dir / runs.EXAMPLES).open("a", encoding="utf-8") as out:
        records = _bounded_map(lambda e: evaluate_example(pipeline, e, scoring, options),
                               todo, options.workers) if executor is None \
            else _executor_map(executor, pipeline, scoring, options, todo, worker_pipeline,
                               worker_usage)
        for record in records:
            out.write(record.model_dump_json() + "\n")
            out.flush()
            if record.error:
                result.errors.append(f"{record.id}: {record.error}")
            finished += 1
            if progress:
                progress(finished, len(examples))
    wanted = {e.id for e in examples}
    records = [r for r in runs.read_records(run_dir) if r.id in wanted]
    result.aggregates = runs.aggregate(records, samples=eval_settings.bootstrap_samples,
                                       seed=eval_settings.seed)
    runs.write_json(run_dir / runs.AGGREGATES, result.aggregates)
    manifest.update(status="complete", finished=datetime.now(UTC).isoformat(),
                    usage={k: v + worker_usage.get(k, 0)
                           for k, v in pipeline.llm.usage.as_dict().items()})
    runs.write_json(run_dir / runs.MANIFEST, manifest)
    if options.report:
        write_run_report(run_dir)
    return result
