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
