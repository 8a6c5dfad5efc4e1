"""The HTML reports: structure (fast) and rendering in a real headless Chromium."""

import os
import re
import shutil
from pathlib import Path

import pytest
from eval_fake_pipeline import FakePipeline
from test_runner import EXAMPLES

from ragloop.evals import compare as cmp
from ragloop.evals.datasets import write_dataset
from ragloop.evals.report import write_compare_report, write_run_report
from ragloop.evals.runner import RunOptions, run_eval
from ragloop.evals.runs import load_run

CHROMEDRIVER = Path("/usr/bin/chromedriver")


@pytest.fixture(scope="module")
def reports(tmp_path_factory):
    from ragloop.project import Project

    root = tmp_path_factory.mktemp("report")
    project = Project.init(root / "proj")
    dataset = root / "gold.jsonl"
    # two examples share a tag, as a golden set groups them (docs: golden-sets-and-evals)
    write_dataset(dataset, [e.model_copy(update={"tags": ("capitals",)}) if e.id in ("fr", "de")
                            else e for e in EXAMPLES])
    broken = FakePipeline(project, broken_ids=("Tiber",), context_chunks=1)
    run_a = run_eval(FakePipeline(project, context_chunks=1), dataset,
                     options=RunOptions(judge=True)).run_dir
    run_b = run_eval(broken, dataset, options=RunOptions(judge=True)).run_dir
    a, b = load_run(run_a), load_run(run_b)
    comparison = cmp.compare_runs(a, b)
    cmp.gate(a, b, comparison, [cmp.parse_gate("max-regression", "hit@1=0")])
    return run_b / "report.html", write_compare_report(comparison, a, b)


def test_run_report_is_self_contained_with_tables_plots_and_drilldown(reports):
    run_page, _ = reports
    html = run_page.read_text()
    # nothing to fetch: one inline script (the examples' filter), no src, link or import
    assert not re.search(r"<link|\bsrc=|@import|\burl\((?!#)", html)
    assert html.count("<script>") == 1
    assert html.count('<details class="example"') == len(EXAMPLES)
    assert 'class="metrics"' in html and "hit@1" in html and "judge_relevancy" in html
    assert "fake judge" in html  # judge rationale in the drill-down
    assert "RuntimeError" in html  # the failed example is shown, not hidden
    assert html.count("<svg") >= 3  # metric bars, distributions, latency
    path = write_run_report(run_page.parent)
    assert path == run_page


def test_run_report_says_what_ran_and_groups_examples_by_tag(reports):
    html = reports[0].read_text()
    ran = re.search(r'<p class="ran">(.*?)</p>', html).group(1)
    assert "mode" in ran and ("strategy" in ran or "router picks" in ran)
    assert "answered by" in ran and ("model calls to answer" in ran or "no model call" in ran)
    tags = re.search(r'<table class="tags">.*?</table>', html, re.S).group(0)
    assert re.search(r"<td>capitals</td><td[^>]*>2</td>", tags), tags[:300]


def test_compare_report_lists_flips_and_gates(reports):
    _, compare_page = reports
    html = compare_page.read_text()
    assert "Gates: passed" in html or "Gates: FAILED" in html
    assert 'data-plot="comparison"' in html and 'class="flips"' in html


def _chrome():
    if not (shutil.which("chromium") and CHROMEDRIVER.exists()):
        message = ("chromium and chromedriver are needed for the report browser test: "
                   "run scripts/install-browser.sh")
        if os.environ.get("CI") == "true":
            pytest.fail(message)
        pytest.skip(message)
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = shutil.which("chromium")
    for flag in ("--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                 "--no-first-run", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync"):
        options.add_argument(flag)
    return webdriver, options, Service(str(CHROMEDRIVER))


def _filtered(driver, text: str) -> list[str]:
    """Types ``text`` into the examples filter; the ids of the examples left visible."""
    return driver.execute_script(
        "const f = document.getElementById('ex-filter'); f.value = arguments[0];"
        "f.dispatchEvent(new Event('input'));"
        "return [...document.querySelectorAll('#examples > details')]"
        ".filter(e => !e.hidden).map(e => e.dataset.id)", text)


def test_reports_render_in_headless_chromium(reports, tmp_path):
    webdriver, options, service = _chrome()
    options.add_argument(f"--user-data-dir={tmp_path / 'chrome-profile'}")
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(options=options, service=service)
    try:
        for page, plot_names in zip(reports, (("metrics", "distributions", "latency"),
                                              ("comparison",)), strict=True):
            driver.get(page.as_uri())
            assert driver.title.startswith("ragloop eval")
            rows = driver.execute_script(
                "return document.querySelectorAll('table.metrics tbody tr').length")
            assert rows > 0
            for name in plot_names:
                size = driver.execute_script(
                    "const s = document.querySelector(`[data-plot='${arguments[0]}'] svg`);"
                    "if (!s) return null; const r = s.getBoundingClientRect();"
                    "return [r.width, r.height];", name)
                assert size and size[0] > 50 and size[1] > 50, (name, size)
            errors = [e for e in driver.get_log("browser") if e["level"] == "SEVERE"]
            assert errors == [], errors
        # the examples filter and sort: hit@1 < 1 leaves the examples that missed
        driver.get(reports[0].as_uri())
        shown = _filtered(driver, "hit@1 < 1")
        assert 0 < len(shown) < len(EXAMPLES)
        assert _filtered(driver, "tag:capitals") == ["fr", "de"]
        assert driver.find_element("id", "ex-count").text == f"2 of {len(EXAMPLES)} shown"
        _filtered(driver, "")
        driver.execute_script("const s = document.getElementById('ex-sort');"
                              "s.value = 'hit@1:asc'; s.dispatchEvent(new Event('change'))")
        first = driver.execute_script("return document.querySelector('#examples > details')"
                                      ".dataset.id")
        assert first in shown  # a miss sorts before the hits
        # the paired view: the example the broken run changed comes first
        driver.get(reports[1].as_uri())
        pairs = driver.execute_script("return [...document.querySelectorAll("
                                      "'#examples > details.pair')].map(e => e.dataset.id)")
        assert len(pairs) == len(EXAMPLES) and pairs[0] == "it", pairs  # it failed in B
        assert "failed in B" in driver.find_element("css selector", "details.pair").text
        assert _filtered(driver, "error") == ["it"]
        # the drill-down opens
        driver.get(reports[0].as_uri())
        driver.execute_script("document.querySelector('details.example').open = true")
        visible = driver.execute_script(
            "return document.querySelector('details.example pre').getBoundingClientRect()"
            ".height")
        assert visible > 0
    finally:
        driver.quit()
