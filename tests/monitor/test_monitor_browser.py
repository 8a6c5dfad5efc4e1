"""The production loop in headless Chromium: answers scored online in the background, the
Review tab lists them worst first, a reviewer labels and corrects them, the Dashboard tab
shows the figures; then ``ragloop eval calibrate`` (the real embedded judge model) measures
the judges on those labels, and the dashboard's kappa is the project's own.

Needs ``scripts/install-browser.sh``; missing Chromium fails under CI=true, skips otherwise.
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import httpx
import pytest
from live import live_server
from serve_fake_pipeline import FakePipeline
from typer.testing import CliRunner

from ragloop.cli import app
from ragloop.evals.calibrate import GROUNDING_JUDGE, PROJECT_SOURCE
from ragloop.serve.app import create_app
from real_project import make_project

CHROMIUM, CHROMEDRIVER = "/usr/bin/chromium", "/usr/bin/chromedriver"
FLAGS = ("--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
         "--no-first-run", "--disable-background-networking", "--disable-component-update",
         "--disable-sync", "--window-size=1200,900")


@pytest.fixture
def browser(tmp_path):
    missing = [p for p in (CHROMIUM, CHROMEDRIVER) if not Path(p).exists()]
    if missing:
        message = f"needs {', '.join(missing)}: run scripts/install-browser.sh"
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(message)
        pytest.skip(message)
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in (*FLAGS, f"--user-data-dir={tmp_path / 'chromium-profile'}"):
        options.add_argument(flag)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    driver.set_page_load_timeout(30)
    yield driver
    driver.quit()


def _wait_scored(base: str, n: int) -> None:
    deadline = time.monotonic() + 20
    while httpx.get(base + "/v1/monitor/status").json()["scored"] < n:
        assert time.monotonic() < deadline
        time.sleep(0.05)


@pytest.mark.real_model
def test_review_tab_labels_change_the_kappa_eval_calibrate_reports(browser, tmp_path):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions as ec
    from selenium.webdriver.support.ui import WebDriverWait

    # every label in the test split: the kappa is measured on all of them
    project = make_project(tmp_path / "proj", tail="[monitor]\nlabel_train_share = 0.0\n"
                                                   "idle_s = 0.0\n")
    wait = WebDriverWait(browser, 20)
    with live_server(create_app(FakePipeline(), project.settings,
                                data_dir=project.data_dir)) as base:
        ids = [httpx.post(base + "/v1/ask", json={"question": q}).json()["trace_id"]
               for q in ("What causes tides?", "Does the Sun raise tides?", "Why tides?")]
        httpx.post(base + "/v1/feedback", json={"trace_id": ids[1], "rating": "down"})
        _wait_scored(base, 3)

        browser.get(base + "/")
        browser.find_element(By.CSS_SELECTOR, "nav .tab[data-view=review]").click()
        wait.until(lambda d: len(d.find_elements(By.CSS_SELECTOR, ".review-item")) == 3)
        cards = browser.find_elements(By.CSS_SELECTOR, ".review-item")
        assert cards[0].get_attribute("data-trace-id") == ids[1]  # thumbs down first
        assert cards[0].get_attribute("data-bucket") == "thumbs down"
        assert "grounding check" in cards[0].text  # its online scores are shown
        browser.find_element(By.ID, "reviewer").send_keys("ana")

        def label(card, metric: str, value: int) -> None:
            card.find_element(By.CSS_SELECTOR, f".review-label[data-metric={metric}] "
                                               f"button[data-label='{value}']").click()
            wait.until(lambda _: "saved (test split)" in card.find_element(
                By.CSS_SELECTOR, ".review-saved").text)

        label(cards[0], "faithfulness", 0)
        label(cards[1], "faithfulness", 1)
        label(cards[2], "relevance", 1)
        cards[0].find_element(By.XPATH, ".//button[text()='Correct it']").click()
        box = cards[0].find_element(By.CSS_SELECTOR, ".review-correct textarea")
        box.clear()
        box.send_keys("The Sun raises tides too, about half as strong as the Moon [2].")
        cards[0].find_element(By.XPATH, ".//button[text()='Save correction']").click()
        wait.until(lambda _: "correction saved" in cards[0].text)

        labels = httpx.get(base + "/v1/labels").json()["labels"]
        assert sorted((lb["trace_id"], lb["metric"], lb["label"], lb["reviewer"])
                      for lb in labels) == sorted([(ids[1], "faithfulness", 0, "ana"),
                                                   (cards[1].get_attribute("data-trace-id"),
                                                    "faithfulness", 1, "ana"),
                                                   (cards[2].get_attribute("data-trace-id"),
                                                    "relevance", 1, "ana")])
        corrected = httpx.get(f"{base}/v1/traces/{ids[1]}").json()["corrected_answer"]
        assert corrected.startswith("The Sun raises tides")

        browser.find_element(By.CSS_SELECTOR, "nav .tab[data-view=dashboard]").click()
        wait.until(ec.frame_to_be_available_and_switch_to_it((By.ID, "dashboard-frame")))
        wait.until(lambda d: d.find_elements(By.CSS_SELECTOR, "table.summary"))
        summary = browser.find_element(By.CSS_SELECTOR, "table.summary").text
        for figure in ("thumbs-up", "faithful (likelihood judge)", "grounded (grounding check)",
                       "refusals", "latency p50 / p95", "tokens per answer", "unknown"):
            assert figure in summary, figure
        assert "kappa 1.00 (n=30, shipped labels)" in summary  # before calibration
        for name in ("rates", "latency", "tokens", "cost", "strategies"):
            size = browser.execute_script(
                "const r = document.querySelector(`[data-plot='${arguments[0]}'] svg`)"
                ".getBoundingClientRect(); return [r.width, r.height];", name)
            assert size[0] > 50 and size[1] > 50, (name, size)
        browser.switch_to.default_content()
        assert [e for e in browser.get_log("browser") if e["level"] == "SEVERE"] == []

        # the judges measured on this project's labels (the real judge model)
        result = CliRunner().invoke(app, ["-p", str(project.root), "eval", "calibrate",
                                          "--json"])
        assert result.exit_code == 0, result.output
        report = json.loads(result.output)
        assert report["labels"] == PROJECT_SOURCE
        judges = {j["judge"]: j for j in report["judges"]}
        # both answers are the same text over the same chunks: the grounding check gives
        # both one verdict, one label says faithful and one unfaithful — kappa 0 here,
        # where the shipped labels give it 1.00
        assert judges[GROUNDING_JUDGE]["n"] == 2 and judges[GROUNDING_JUDGE]["kappa"] == 0.0
        assert judges["faithfulness"]["n"] + judges["faithfulness"]["errors"] == 2
        assert judges["relevancy"]["n"] + judges["relevancy"]["errors"] == 1
        data = httpx.get(base + "/v1/monitor/dashboard").json()
        assert data["kappa"]["grounded"]["source"] == PROJECT_SOURCE
        assert data["kappa"]["grounded"]["describe"].startswith("UNCALIBRATED: kappa 0.00")
