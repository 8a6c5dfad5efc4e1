"""HTML reports: ``report.html`` in every run folder, and one per comparison."""

from __future__ import annotations

from pathlib import Path

from ragloop.evals.runs import REPORT, Run, load_run


def write_run_report(run_dir: Path | str) -> Path:
    """(Re)write ``<run_dir>/report.html`` from the run's files. Returns its path."""
    from ragloop.evals.report.html import run_page

    run = load_run(run_dir)
    path = Path(run_dir) / REPORT
    path.write_text(run_page(run), encoding="utf-8")
    return path


def write_compare_report(comparison, a: Run, b: Run, out: Path | str | None = None) -> Path:
    """Write the comparison page; by default ``<run B>/compare-<run A>.html``."""
    from ragloop.evals.report.html import compare_page

    path = Path(out) if out else b.path / f"compare-{a.name}.html"
    path.write_text(compare_page(comparison, a, b), encoding="utf-8")
    return path


__all__ = ["write_compare_report", "write_run_report"]
