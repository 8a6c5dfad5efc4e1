"""The one harness every benchmark runs on: shared flags, one timer, one percentile helper,
one way to make a project, and one result format.

A benchmark is a module of this package, run from the repository root as
``python -m bench.NAME [--out DIR] [--quick] [--repeat N] [its own flags]``::

    from bench.harness import Bench

    def main(argv=None):
        bench = Bench("extract", __doc__, argv, extra=lambda p: p.add_argument("--k"))
        with bench.timed("ingest"):
            ...
        bench.write({"summary": ..., "records": ...})

Every result file (``bench/results/NAME.json``) carries a ``meta`` block: the git commit
and whether the tree had uncommitted changes, ragloop's version, the command line, the
machine (one structure, always the same keys), the phases' wall times and the flags.
``bench/render.py`` turns the results into the docs' pages and the README's headline
numbers.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import subprocess
import sys
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
RESULTS = REPO / "bench" / "results"
SHARED = REPO.parent / "shared"
DATASETS = SHARED / "datasets"


def git_commit() -> dict:
    """The commit the benchmark ran at, and whether the work tree differed from it."""

    def git(*args: str) -> str:
        try:
            return subprocess.run(["git", *args], cwd=REPO, capture_output=True, text=True,
                                  timeout=10).stdout.strip()
        except (OSError, subprocess.SubprocessError):
            return ""

    return {"commit": git("rev-parse", "HEAD") or None,
            "dirty": bool(git("status", "--porcelain", "--untracked-files=no"))}


def machine_facts() -> dict:
    """What the numbers were measured on, as one structure with fixed keys."""
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    try:
        memory_gb = round(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30, 1)
    except (ValueError, OSError, AttributeError):
        memory_gb = None
    return {"arch": platform.machine(), "cpu": cpu, "cores": os.cpu_count(),
            "memory_gb": memory_gb, "os": platform.platform(terse=True),
            "python": platform.python_version(),
            "load_average": [round(x, 2) for x in os.getloadavg()]}


def ragloop_version() -> str:
    from ragloop import __version__

    return __version__


def percentile(values: Sequence[float], q: float) -> float | None:
    """The ``q``-th percentile (0..100) with linear interpolation; None for no values."""
    ordered = sorted(values)
    if not ordered:
        return None
    rank = (len(ordered) - 1) * q / 100
    low, high = math.floor(rank), math.ceil(rank)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


def summary(values: Iterable[float], digits: int = 4) -> dict:
    """n, mean, p50, p95, min and max of ``values`` (seconds, scores ...)."""
    values = list(values)
    if not values:
        return {"n": 0}
    return {"n": len(values), "mean": round(sum(values) / len(values), digits),
            "p50": round(percentile(values, 50), digits),
            "p95": round(percentile(values, 95), digits),
            "min": round(min(values), digits), "max": round(max(values), digits)}


class Timer:
    """Wall time of a block: ``with Timer() as t: ...; t.seconds``."""

    def __enter__(self) -> Timer:
        self.started = time.perf_counter()
        self.seconds = 0.0
        return self

    def __exit__(self, *exc) -> None:
        self.seconds = time.perf_counter() - self.started


class Bench:
    """One benchmark run: its parsed flags, its timed phases, and its result file."""

    def __init__(self, name: str, doc: str | None = None, argv: Sequence[str] | None = None,
                 *, extra: Callable[[argparse.ArgumentParser], object] | None = None,
                 quick_help: str = "a smaller run, to check the benchmark works"):
        self.name = name
        self.argv = list(sys.argv[1:] if argv is None else argv)
        parser = argparse.ArgumentParser(prog=f"python -m bench.{name}",
                                         description=(doc or "").split("\n\n")[0])
        parser.add_argument("--out", type=Path, default=Path(f"/tmp/ragloop-bench-{name}"),
                            help="working folder (projects, indexes, caches)")
        parser.add_argument("--quick", action="store_true", help=quick_help)
        parser.add_argument("--repeat", type=int, default=1,
                            help="rounds of the timed part (interleaved where it compares)")
        parser.add_argument("--results", type=Path, default=RESULTS / f"{name}.json",
                            help="where the result JSON goes")
        if extra is not None:
            extra(parser)
        self.args = parser.parse_args(self.argv)
        self.args.out.mkdir(parents=True, exist_ok=True)
        self.phases: dict[str, float] = {}
        self.started = time.perf_counter()

    @contextmanager
    def timed(self, phase: str) -> Iterator[Timer]:
        """Time a phase; its seconds are added to ``meta.phases_s``."""
        with Timer() as timer:
            yield timer
        self.phases[phase] = round(self.phases.get(phase, 0.0) + timer.seconds, 3)

    def meta(self) -> dict:
        flags = {k: (str(v) if isinstance(v, Path) else v) for k, v in vars(self.args).items()}
        return {"benchmark": self.name, **git_commit(), "ragloop": ragloop_version(),
                "argv": ["python", "-m", f"bench.{self.name}", *self.argv],
                "flags": flags, "machine": machine_facts(),
                "wall_s": round(time.perf_counter() - self.started, 3),
                "phases_s": dict(self.phases)}

    def write(self, results: dict, path: Path | None = None) -> Path:
        """Write ``results`` with the ``meta`` block to the result file (``--results``);
        a ``--quick`` run writes beside it (``NAME.quick.json``) so it never replaces a
        full measurement."""
        path = path or self.args.results
        if self.args.quick and path == RESULTS / f"{self.name}.json":
            path = path.with_suffix(".quick.json")
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps({"meta": self.meta(), **results}, indent=1,
                                   ensure_ascii=False) + "\n", encoding="utf-8")
        print(f"wrote {path}", flush=True)
        return path


def edit_config(root: Path, settings: dict[str, dict]) -> None:
    """Set ``{section: {key: value}}`` in ``root/ragloop.toml``, keeping its comments."""
    import tomlkit

    config = root / "ragloop.toml"
    doc = tomlkit.parse(config.read_text(encoding="utf-8"))
    for section, values in settings.items():
        table = doc.setdefault(section, tomlkit.table())
        for key, value in values.items():
            table[key] = value
    config.write_text(tomlkit.dumps(doc), encoding="utf-8")


def demo_project(out: Path, *, settings: dict[str, dict] | None = None, ingest: bool = True):
    """A project over ragloop's bundled docs in ``out`` (reused when there), ingested; returns
    ``(pipeline, docs_dir, golden_path)`` with the demo golden set's document ids resolved.
    ``settings`` overrides keys (``{"answer": {"mode": "fast"}}``)."""
    from ragloop.demo import demo_golden_path, make_demo_project, resolve_golden
    from ragloop.pipeline import Pipeline
    from ragloop.project import Project

    project, docs = make_demo_project(out)
    if settings:
        edit_config(project.root, settings)
        project = Project.load(project.root)
    pipeline = Pipeline(project)
    if ingest:
        report = pipeline.ingest([docs])
        if not report.ok:
            raise SystemExit(f"ingesting the demo docs failed: {report.errors}")
    golden = resolve_golden(demo_golden_path(), docs, out / "golden.jsonl")
    return pipeline, docs, golden


def project_over(out: Path, paths: Iterable[Path], *, settings: dict[str, dict] | None = None,
                 ingest: bool = True):
    """A fresh project in ``out/project`` over ``paths`` (files or folders), with
    ``settings`` over the defaults; returns the ``Pipeline`` (ingested unless told not to)."""
    import shutil

    from ragloop.pipeline import Pipeline
    from ragloop.project import Project

    root = out / "project"
    if root.exists():
        shutil.rmtree(root)
    Project.init(root)
    if settings:
        edit_config(root, settings)
    pipeline = Pipeline(Project.load(root))
    if ingest:
        report = pipeline.ingest(list(paths))
        if not report.ok:
            print(f"ingest reported {len(report.errors)} error(s)", flush=True)
    return pipeline


def dataset(name: str) -> Path:
    """A folder of ``../shared/datasets`` (read in place, never copied)."""
    path = DATASETS / name
    if not path.is_dir():
        raise SystemExit(f"dataset {name!r} not found at {path}")
    return path
