"""End to end in headless Chromium (Selenium + Debian's chromedriver): log in with the API
key, ask, watch the answer stream in, open a citation, rate, correct, see the trace list.

Runs on the fake pipeline (exact texts) and on the real one (SmolLM2 + MiniLM over a tiny
corpus uploaded through ``/v1/documents``). Needs ``scripts/install-browser.sh``; missing
Chromium fails under CI=true and skips otherwise.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import httpx
import pytest
from live import live_server
from serve_fake_pipeline import FakePipeline
from serve_helpers import serve_settings

from ragloop.feedback.store import TraceStore
from ragloop.pipeline import Pipeline
from ragloop.serve.app import create_app
from real_project import INLINE, make_project, write_docs

CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"
KEY = "browser-test-key"
FLAGS = ("--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
         "--no-first-run", "--disable-background-networking", "--disable-component-update",
         "--disable-sync", "--window-size=1200,900")
CORRECTION = "Ocean tides come from the Moon's gravity [1]."


def _require_browser() -> None:
    missing = [p for p in (CHROMIUM, CHROMEDRIVER) if not Path(p).exists()]
    if not missing:
        return
    message = (f"headless browser test needs {', '.join(missing)}: run "
               f"scripts/install-browser.sh (Debian chromium + chromium-driver)")
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(message)
    pytest.skip(message)


@pytest.fixture
def browser(tmp_path):
    _require_browser()
    webdriver = pytest.importorskip("selenium.webdriver")
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in (*FLAGS, f"--user-data-dir={tmp_path / 'chromium-profile'}"):
        options.add_argument(flag)
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    driver.set_page_load_timeout(30)
    yield driver
    driver.quit()


def _app(kind: str, tmp_path: Path):
    if kind == "fake":
        settings = serve_settings(api_key_env="RAGLOOP_BROWSER_KEY")
        return create_app(FakePipeline(delay_s=0.5), settings, data_dir=tmp_path / "data")
    # fast mode: the direct pass streams token by token (auto shows its answer once decided)
    project = make_project(tmp_path / "proj", max_tokens=16, answer=INLINE + '\nmode = "fast"')
    settings = project.settings.model_copy(update={"serve": serve_settings(
        api_key_env="RAGLOOP_BROWSER_KEY").serve})
    return create_app(Pipeline(project), settings, data_dir=project.data_dir)


@pytest.mark.parametrize("kind", ["fake", pytest.param("real", marks=pytest.mark.real_model)])
def test_ask_stream_cite_rate_correct_in_chromium(browser, tmp_path, monkeypatch, kind):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions as ec
    from selenium.webdriver.support.ui import WebDriverWait

    monkeypatch.setenv("RAGLOOP_BROWSER_KEY", KEY)
    app = _app(kind, tmp_path)
    wait = WebDriverWait(browser, 180 if kind == "real" else 20)
    with live_server(app) as base:
        if kind == "real":
            files = [("files", (p.name, p.read_bytes())) for p in write_docs(tmp_path / "docs")]
            uploaded = httpx.post(base + "/v1/documents", files=files, timeout=120,
                                  headers={"Authorization": f"Bearer {KEY}"})
            assert uploaded.status_code == 201 and uploaded.json()["counts"]["added"] == 2

        browser.get(base + "/")
        assert "API key" in browser.page_source  # the 401 page offers a key form
        key_box = browser.find_element(By.NAME, "api_key")
        key_box.send_keys(KEY)
        key_box.submit()  # posted to /login: a session cookie, the key in no URL
        wait.until(ec.element_to_be_clickable((By.ID, "ask-button")))
        assert KEY not in browser.current_url
        assert not browser.execute_script("return Object.keys(localStorage)")

        browser.execute_script("""
            window.__seen = [];
            new MutationObserver(() => window.__seen.push([
                document.getElementById('answer').textContent,
                document.getElementById('status').textContent])).observe(
                document.getElementById('answer'), {childList: true, characterData: true,
                                                    subtree: true});""")
        browser.find_element(By.ID, "question").send_keys("What causes ocean tides?")
        browser.find_element(By.ID, "ask-button").click()
        wait.until(ec.text_to_be_present_in_element((By.ID, "status"), "Answered"))
        final = browser.find_element(By.ID, "answer").text
        assert final.strip()
        seen = browser.execute_script("return window.__seen")
        # while the status still said "Thinking", the answer grew piece by piece: it streamed
        partial = [t.strip() for t, status in seen if t.strip() and "Answered" not in status]
        assert len(partial) >= 3 and len(partial[0]) < len(partial[-1]), seen

        links = browser.find_elements(By.CSS_SELECTOR, "#citations a.cite")
        if kind == "fake":
            assert final.startswith("Tides come from the Moon") and len(links) == 2
        if links:  # the small real model does not always cite
            links[0].click()
            wait.until(ec.visibility_of_element_located((By.ID, "chunk")))
            assert browser.find_element(By.ID, "chunk-text").text.strip()
            source = browser.find_element(By.ID, "chunk-source").text
            assert source.endswith(".md") if kind == "fake" else source.strip()

        browser.find_element(By.ID, "thumb-up").click()
        wait.until(ec.text_to_be_present_in_element((By.ID, "feedback-status"), "rated up"))

        browser.find_element(By.ID, "edit").click()
        box = browser.find_element(By.ID, "correction")
        box.clear()
        box.send_keys(CORRECTION)
        browser.find_element(By.ID, "save-correction").click()
        wait.until(ec.text_to_be_present_in_element((By.ID, "feedback-status"),
                                                    "Correction saved"))
        assert browser.find_element(By.ID, "answer").text == CORRECTION
        shot = tmp_path / "ask.png"
        assert browser.save_screenshot(str(shot))

        browser.find_element(By.CSS_SELECTOR, "nav .tab[data-view='traces']").click()
        wait.until(ec.text_to_be_present_in_element((By.ID, "traces"), "corrected"))
        assert "▲ good" in browser.find_element(By.ID, "traces").text
        browser.save_screenshot(str(tmp_path / "traces.png"))

        if kind == "fake":  # the newest eval report, loaded in a frame with the key
            run = app.state.ragloop.runs_dir / "run-1"
            run.mkdir(parents=True)
            (run / "report.html").write_text("<h1>Eval run one</h1>")
            browser.find_element(By.CSS_SELECTOR, "nav .tab[data-view='report']").click()
            wait.until(ec.text_to_be_present_in_element((By.ID, "report-status"), "run-1"))
            wait.until(ec.frame_to_be_available_and_switch_to_it((By.ID, "report-frame")))
            wait.until(ec.text_to_be_present_in_element((By.TAG_NAME, "h1"), "Eval run one"))
            browser.switch_to.default_content()

            # Settings: log out (empty key), a wrong key is refused, the right one logs in
            browser.find_element(By.CSS_SELECTOR, "nav .tab[data-view='settings']").click()
            browser.find_element(By.ID, "save-key").click()
            wait.until(ec.text_to_be_present_in_element((By.ID, "key-status"), "Logged out"))
            assert browser.execute_async_script(
                "const done = arguments[arguments.length - 1];"
                "fetch('/v1/traces').then((r) => done(r.status));") == 401  # cookie gone
            browser.find_element(By.ID, "api-key").send_keys("wrong")
            browser.find_element(By.ID, "save-key").click()
            wait.until(ec.text_to_be_present_in_element((By.ID, "key-status"), "Wrong"))
            browser.find_element(By.ID, "api-key").send_keys(KEY)
            browser.find_element(By.ID, "save-key").click()
            wait.until(ec.text_to_be_present_in_element((By.ID, "key-status"), "Logged in"))
            browser.find_element(By.CSS_SELECTOR, "nav .tab[data-view='traces']").click()
            wait.until(ec.text_to_be_present_in_element((By.ID, "traces"), "corrected"))

    png = shot.read_bytes()
    assert png.startswith(b"\x89PNG\r\n\x1a\n") and len(png) > 10_000
    item = TraceStore.for_data_dir(app.state.ragloop.data_dir).recent(1)[0]
    assert item.latest_rating == "up" and item.latest_correction == CORRECTION
    keep = os.environ.get("RAGLOOP_KEEP_SCREENSHOTS")
    if keep:
        Path(keep).mkdir(parents=True, exist_ok=True)
        for name in ("ask.png", "traces.png"):
            shutil.copy(tmp_path / name, Path(keep) / f"{kind}-{name}")
