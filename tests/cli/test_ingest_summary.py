"""The ingest summary fits an 80-column terminal without cutting a header (issue 15 item 6)."""

from __future__ import annotations

import io

from rich.console import Console

from ragloop.cli import ingest_cmds
from ragloop.ingest.report import STAGES, FileResult, IngestReport


def test_summary_headers_are_whole_at_80_columns(monkeypatch):
    out = io.StringIO()
    monkeypatch.setattr(ingest_cmds, "console", Console(file=out, width=80))
    report = IngestReport(files=[FileResult(path="docs", added=354, unchanged=12,
                                            chunks=11453)])
    ingest_cmds.print_report(report)
    text = out.getvalue()
    assert "…" not in text
    for name in (*report.counts(), *STAGES, "total"):
        assert f" {name}" in text or text.startswith(name), name
    assert "11453" in text and max(len(line) for line in text.splitlines()) <= 80


def test_ingest_and_documents_count_report_the_same_size_on_disk(tmp_path):
    """The size is what the index holds (catalog pages and listed segments), not files a
    writer has yet to checkpoint or remove, so the two commands agree."""
    import json

    from typer.testing import CliRunner

    from ragloop.cli import app
    from ragloop.project import Project

    project = Project.init(tmp_path / "proj")
    docs = tmp_path / "docs"
    docs.mkdir()
    for i in range(12):
        (docs / f"d{i}.md").write_text(f"# Doc {i}\n\n" + f"word{i} alpha beta. " * 150)
    runner = CliRunner()
    ingested = runner.invoke(app, ["-p", str(project.root), "ingest", str(docs), "--json"])
    assert ingested.exit_code == 0, ingested.output
    at_ingest = json.loads(ingested.stdout.strip().splitlines()[-1])["index"]["bytes"]
    counted = runner.invoke(app, ["-p", str(project.root), "documents", "count", "--json"])
    assert counted.exit_code == 0, counted.output
    assert json.loads(counted.stdout)["bytes"] == at_ingest > 0
