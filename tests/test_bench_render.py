"""bench/render.py: the committed results pages, README headline block and nav match the
result files; result files of every shape in bench/results render; the numbers shown are
the JSON's own."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
from bench import render


def test_committed_pages_are_up_to_date():
    done = subprocess.run([sys.executable, "-m", "bench.render", "--check"], cwd=render.REPO,
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr


def test_headline_figures_are_the_json_values():
    results = render.result_files()
    rows = render.headline_rows(results)
    shown = 0
    for headline, (_, figure, source) in zip(render.HEADLINES, rows, strict=True):
        stem = source.strip("`").removeprefix("bench/results/").removesuffix(".json")
        if figure == "not measured yet":
            assert stem not in results or render.pick(results[stem], headline.path) is None
            continue
        value = render.pick(results[stem], headline.path)
        assert figure.removesuffix(headline.unit) == f"{value:.4g}"
        shown += 1
    assert shown >= 5  # the committed results hold most headline figures


@pytest.mark.parametrize("machine", ["x86_64, 3.11.7", {"cpus": 2, "python": "3.11.7"}, None,
                                     {"cpu": "Xeon", "cores": 2, "memory_gb": 7.7, "os": "Linux",
                                      "python": "3.11.7", "load_average": [0.1, 0.2, 0.3]}])
def test_every_machine_shape_renders(machine):
    data = {"rows": {"a": {"ndcg@10": 0.7327, "n": 3}}, "seconds": 1.2345678901234567}
    if machine is not None:
        data["machine"] = machine
    page = render.render_page(render.Page("x", "X", None, ("x",)), {"x": data})
    assert "| a | 0.7327 | 3 |" in page
    assert "| seconds | 1.235 |" in page  # four significant digits, from the value itself
    assert "Machine: " in page


def test_harness_meta_is_read_and_kept_out_of_the_tables():
    meta = {"benchmark": "x", "commit": "0123456789abcdef", "dirty": True, "ragloop": "0.1",
            "argv": ["python", "-m", "bench.x", "--quick"], "flags": {"quick": True},
            "machine": {"cpu": "Xeon", "cores": 2}, "wall_s": 3.5, "phases_s": {"ingest": 1.5}}
    page = render.render_page(render.Page("x", "X", None, ("x",)),
                              {"x": {"meta": meta, "machine": "kept as data", "value": 1}})
    assert "Commit `0123456789ab` (with uncommitted changes)" in page
    assert "Command: `python -m bench.x --quick`" in page
    assert "| machine | kept as data |" in page  # a harness file's own keys are all data


def test_check_fails_on_a_stale_page_and_write_fixes_it(tmp_path, monkeypatch):
    results, pages = tmp_path / "results", tmp_path / "pages"
    results.mkdir()
    (results / "ingest.json").write_text(json.dumps({"plain": {"docs_per_s": 10.91234}}))
    (results / "serve.quick.json").write_text("{}")  # never rendered
    readme, mkdocs = tmp_path / "README.md", tmp_path / "mkdocs.yml"
    readme.write_text(f"# r\n{render.START}\nold\n{render.END}\ntail\n")
    mkdocs.write_text(f"nav:\n  - Results:\n      {render.NAV_START}\n      {render.NAV_END}\n")
    for name, value in (("RESULTS", results), ("PAGES_DIR", pages), ("README", readme),
                        ("MKDOCS", mkdocs), ("REPO", tmp_path)):
        monkeypatch.setattr(render, name, value)
    assert render.main(["--check"]) == 1
    assert render.main([]) == 0
    assert render.main(["--check"]) == 0
    assert sorted(p.name for p in pages.iterdir()) == ["index.md", "ingest.md"]
    text = readme.read_text()
    assert text.startswith("# r\n") and text.endswith(f"{render.END}\ntail\n")
    assert "| Ingest throughput, SciFact, documents per second | 10.91 |" in text
    assert "results/ingest.md" in mkdocs.read_text()
    (pages / "ingest.md").write_text("edited by hand\n")
    assert render.main(["--check"]) == 1
