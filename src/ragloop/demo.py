"""`ragloop demo`: the main job end to end on the bundled corpus (ragloop's own docs).

Creates a project, ingests the docs, answers three questions with citations, evaluates the
pipeline on a small hand-written golden set (with per-step scores and an LLM judge) and writes
the HTML report. Works with the network off: every model ships inside a Python package.
"""

from __future__ import annotations

import json
import shutil
import tempfile
import time
from dataclasses import dataclass, field
from importlib.resources import files
from pathlib import Path

from ragloop.ingest.loaders.base import file_doc_id
from ragloop.project import Project

DEMO_QUESTIONS = (
    "Which file formats can ragloop ingest?",
    "How do I use a model served by vLLM or Ollama?",
    "What does the server do when its request queue is full?",
)


# The router: the model's answer when it passes the grounding and relevance checks, else
# the extracted sentences (see ragloop.answer.router) — the tiny default model alone is
# wrong on most demo questions.
DEMO_ANSWER_MODE = "auto"


def set_answer_mode(config_path: Path, mode: str) -> None:
    """Set ``[answer] mode`` in ``config_path``, keeping its comments."""
    import tomlkit

    doc = tomlkit.parse(config_path.read_text(encoding="utf-8"))
    doc.setdefault("answer", tomlkit.table())["mode"] = mode
    config_path.write_text(tomlkit.dumps(doc), encoding="utf-8")


def demo_corpus_dir() -> Path:
    return Path(str(files("ragloop") / "demo_corpus"))


def demo_golden_path() -> Path:
    return Path(str(files("ragloop") / "data" / "demo_golden.jsonl"))


@dataclass
class DemoResult:
    project_dir: Path
    answers: list = field(default_factory=list)
    ingest_report: object = None
    run_dir: Path | None = None
    report_path: Path | None = None
    aggregates: dict = field(default_factory=dict)
    seconds: dict[str, float] = field(default_factory=dict)


def resolve_golden(source: Path, corpus_dir: Path, out: Path) -> Path:
    """The shipped golden set names its gold documents by file name; the index names
    documents by id. Write a copy whose ``gold_doc_ids`` are this project's ids."""
    with source.open(encoding="utf-8") as src, out.open("w", encoding="utf-8") as dst:
        for line in src:
            if not line.strip():
                continue
            item = json.loads(line)
            gold_files = item.get("metadata", {}).get("gold_files", [])
            item["gold_doc_ids"] = [file_doc_id(corpus_dir / name) for name in gold_files]
            dst.write(json.dumps(item) + "\n")
    return out


def make_demo_project(out_dir: Path | None) -> tuple[Project, Path]:
    root = Path(out_dir) if out_dir else Path(tempfile.mkdtemp(prefix="ragloop-demo-"))
    if (root / "ragloop.toml").exists():
        project = Project.load(root)
    else:
        project = Project.init(root, name="ragloop-demo")
        set_answer_mode(project.config_path, DEMO_ANSWER_MODE)
        project = Project.load(root)
    docs = root / "docs"
    docs.mkdir(exist_ok=True)
    for path in sorted(demo_corpus_dir().glob("*.md")):
        shutil.copy2(path, docs / path.name)
    return project, docs


def run_demo(out_dir: Path | None = None, *, use_cache: bool = True, judge: bool = True,
             on_answer=None, progress=None) -> DemoResult:
    from ragloop.pipeline import Pipeline

    project, docs = make_demo_project(out_dir)
    with Pipeline(project, use_cache=use_cache) as pipeline:
        return _run(pipeline, project, docs, judge=judge, on_answer=on_answer,
                    progress=progress)


def _run(pipeline, project: Project, docs: Path, *, judge: bool, on_answer,
         progress) -> DemoResult:
    from ragloop.evals.runner import RunOptions, run_eval

    result = DemoResult(project_dir=project.root)
    started = time.perf_counter()
    result.ingest_report = pipeline.ingest([docs], progress=progress is not None)
    result.seconds["ingest"] = time.perf_counter() - started

    started = time.perf_counter()
    for question in DEMO_QUESTIONS:
        answer = pipeline.ask(question)
        result.answers.append(answer)
        if on_answer:
            on_answer(answer)
    result.seconds["answer"] = time.perf_counter() - started

    started = time.perf_counter()
    golden = resolve_golden(demo_golden_path(), docs, project.path("demo_golden.jsonl"))
    run = run_eval(pipeline, golden, options=RunOptions(judge=judge), progress=progress)
    result.run_dir = run.run_dir
    result.aggregates = run.aggregates
    result.report_path = run.run_dir / "report.html"
    result.seconds["evaluate"] = time.perf_counter() - started
    return result
