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
machine (one structure, always the same keys), the phases' wall times and the flags. A run
that adds to an existing result file keeps the earlier runs' commits and command lines in
``meta.earlier_runs``. ``bench/render.py`` turns the results into the docs' pages and the
README's headline numbers.

``--out`` is the benchmark's working folder (projects, indexes, caches); ``--results`` the
result file; ``--quick`` a smaller run whose result goes to ``NAME.quick.json`` (never
committed); ``--repeat N`` the rounds of the timed part, for the benchmarks that have one.
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
CACHE = REPO.parent / "cache"  # embeddings kept between runs (outside the repository)
EARLIER_RUNS = 5  # commits and command lines of earlier runs a result file keeps


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


def percentile_ms(seconds: Sequence[float], q: float, digits: int = 2) -> float | None:
    """The ``q``-th percentile of ``seconds``, in milliseconds, rounded."""
    value = percentile(seconds, q)
    return None if value is None else round(value * 1000, digits)


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
    """Wall time of a block: ``with Timer() as t: ...; t.seconds``; ``cpu=True`` also
    measures this process's CPU time (``t.cpu_seconds``), for a shared machine where wall
    time is contention."""

    def __init__(self, cpu: bool = False):
        self.cpu = cpu

    def __enter__(self) -> Timer:
        self.started = time.perf_counter()
        self.cpu_started = time.process_time() if self.cpu else 0.0
        self.seconds = self.cpu_seconds = 0.0
        return self

    def __exit__(self, *exc) -> None:
        self.seconds = time.perf_counter() - self.started
        if self.cpu:
            self.cpu_seconds = time.process_time() - self.cpu_started

    def elapsed(self) -> float:
        """Seconds since the block began (for progress lines inside it)."""
        return time.perf_counter() - self.started


def time_each(fn: Callable, items: Iterable) -> tuple[list, list[float]]:
    """``fn`` applied to each item, one at a time: its results and the seconds each took."""
    results, seconds = [], []
    for item in items:
        started = time.perf_counter()
        results.append(fn(item))
        seconds.append(time.perf_counter() - started)
    return results, seconds


class Bench:
    """One benchmark run: its parsed flags, its timed phases, and its result file."""

    def __init__(self, name: str, doc: str | None = None, argv: Sequence[str] | None = None,
                 *, extra: Callable[[argparse.ArgumentParser], object] | None = None,
                 quick_help: str = "a smaller run, to check the benchmark works",
                 results: str | None = None, out: Path | None = None,
                 repeat: int | None = None):
        """``results``: the result file's stem when it is not ``name``; ``out``: the default
        working folder when several benchmarks share one (``/tmp/ragloop-bench-NAME``
        otherwise); ``repeat``: the default rounds of a benchmark that repeats its timed
        part (None: it has none, and ``--repeat`` other than 1 is refused)."""
        self.name = name
        self.stem = results or name
        self.argv = list(sys.argv[1:] if argv is None else argv)
        parser = argparse.ArgumentParser(prog=f"python -m bench.{name}",
                                         description=(doc or "").split("\n\n")[0])
        parser.add_argument("--out", type=Path, default=out or Path(f"/tmp/ragloop-bench-{name}"),
                            help="working folder (projects, indexes, caches)")
        parser.add_argument("--quick", action="store_true", help=quick_help)
        parser.add_argument("--repeat", type=int, default=repeat or 1,
                            help="rounds of the timed part (interleaved where it compares)"
                            if repeat else argparse.SUPPRESS)
        parser.add_argument("--results", type=Path, default=None,
                            help=f"where the result JSON goes (default "
                                 f"bench/results/{self.stem}.json)")
        if extra is not None:
            extra(parser)
        self.args = parser.parse_args(self.argv)
        if repeat is None and self.args.repeat != 1:
            parser.error(f"bench.{name} has no repeated timed part: --repeat is not used")
        if self.args.repeat < 1:
            parser.error("--repeat must be at least 1")
        self.args.out.mkdir(parents=True, exist_ok=True)
        self.phases: dict[str, float] = {}
        self.started = time.perf_counter()

    @contextmanager
    def timed(self, phase: str) -> Iterator[Timer]:
        """Time a phase; its seconds are added to ``meta.phases_s``."""
        with Timer() as timer:
            yield timer
        self.phases[phase] = round(self.phases.get(phase, 0.0) + timer.seconds, 3)

    def meta(self, earlier: dict | None = None) -> dict:
        """This run's ``meta`` block; ``earlier``, the block of the result (or entry) this
        run adds to, goes into ``earlier_runs`` (commit and command line, newest first)."""
        flags = {k: (str(v) if isinstance(v, Path) else v) for k, v in vars(self.args).items()}
        meta = {"benchmark": self.name, **git_commit(), "ragloop": ragloop_version(),
                "argv": ["python", "-m", f"bench.{self.name}", *self.argv],
                "flags": flags, "machine": machine_facts(),
                "wall_s": round(time.perf_counter() - self.started, 3),
                "phases_s": dict(self.phases)}
        if earlier:
            runs = [{k: earlier.get(k) for k in ("commit", "dirty", "argv")},
                    *earlier.get("earlier_runs", [])]
            meta["earlier_runs"] = runs[:EARLIER_RUNS]
        return meta

    def path(self, stem: str | None = None) -> Path:
        """The result file: ``--results`` when given, else ``bench/results/STEM.json``
        (``STEM.quick.json`` for a ``--quick`` run, so it never replaces a measurement)."""
        if self.args.results is not None:
            return self.args.results
        return RESULTS / f"{stem or self.stem}{'.quick' if self.args.quick else ''}.json"

    def artifact(self, name: str) -> Path:
        """A file the benchmark writes beside its result (records, a plot): ``NAME`` in the
        result file's folder, ``STEM.quick.SUFFIX`` for a ``--quick`` run."""
        path = self.path().parent / name
        return path.with_name(f"{path.stem}.quick{path.suffix}") if self.args.quick else path

    def previous(self, stem: str | None = None) -> dict:
        """The result file as it stands (``{}`` when there is none), for a benchmark that adds
        to it; writing it back keeps its earlier runs in ``meta.earlier_runs``."""
        path = self.path(stem)
        return json.loads(path.read_text(encoding="utf-8")) if path.exists() else {}

    def write(self, results: dict, stem: str | None = None) -> Path:
        """Write ``results`` with this run's ``meta`` block to the result file (``path``).
        Call it after every part of a long benchmark, so an interrupted run keeps what it
        measured."""
        path = self.path(stem)
        results = dict(results)
        meta = self.meta(earlier=results.pop("meta", None))
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps({"meta": meta, **results}, indent=1, ensure_ascii=False,
                                   default=str) + "\n", encoding="utf-8")
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


def project(root: Path, *, settings: dict[str, dict] | None = None, fresh: bool = False,
            name: str | None = None):
    """The ``Pipeline`` of the project in ``root``: made when missing (removed first when
    ``fresh``), kept otherwise so a re-run ingests incrementally; ``settings``
    (``{"answer": {"mode": "fast"}}``) are written to its ``ragloop.toml`` on every call."""
    import shutil

    from ragloop.pipeline import Pipeline
    from ragloop.project import Project

    if fresh and root.exists():
        shutil.rmtree(root)
    if not (root / "ragloop.toml").exists():
        Project.init(root, name=name)
    if settings:
        edit_config(root, settings)
    return Pipeline(Project.load(root))


def ingest_into(pipeline, paths: Iterable[Path], *, progress: bool = False) -> dict:
    """Ingest ``paths`` into the pipeline's project (incrementally): the wall seconds,
    whether every file went in, the errors and the index statistics."""
    with Timer() as timer:
        report = pipeline.ingest(list(paths), progress=progress)
    if not report.ok:
        print(f"ingest reported {len(report.errors)} error(s)", flush=True)
    return {"seconds": timer.seconds, "stats": pipeline.store.stats(), "ok": report.ok,
            "errors": report.errors[:5]}


def demo_project(out: Path, *, settings: dict[str, dict] | None = None, ingest: bool = True):
    """A project over ragloop's bundled docs in ``out`` (reused when there), ingested; returns
    ``(pipeline, docs_dir, golden_path)`` with the demo golden set's document ids resolved.
    ``settings`` overrides keys (``{"answer": {"mode": "fast"}}``)."""
    from ragloop.demo import demo_golden_path, make_demo_project, resolve_golden
    from ragloop.pipeline import Pipeline
    from ragloop.project import Project

    made, docs = make_demo_project(out)
    if settings:
        edit_config(made.root, settings)
        made = Project.load(made.root)
    pipeline = Pipeline(made)
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
    pipeline = project(out / "project", settings=settings, fresh=True)
    if ingest:
        ingest_into(pipeline, paths)
    return pipeline


def dataset(name: str) -> Path:
    """A folder of ``../shared/datasets`` (read in place, never copied)."""
    path = DATASETS / name
    if not path.is_dir():
        raise SystemExit(f"dataset {name!r} not found at {path}")
    return path
