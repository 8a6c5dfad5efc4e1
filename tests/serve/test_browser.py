"""End to end in headless Chromium (Selenium + Debian's chromedriver): log in with the API
key, ask, watch the answer stream in, open a citation, rate, correct, see the trace list;
then (fake pipeline) the threaded chat: a follow-up joins the conversation, code renders as
code and never as HTML, a repeated question says "from cache", a new conversation starts
empty and the past one reopens from the list.

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
LAST = "#thread .turn:last-child"


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
                document.getElementById('thread').textContent,
                document.getElementById('status').textContent])).observe(
                document.getElementById('thread'), {childList: true, characterData: true,
                                                    subtree: true});""")
        browser.find_element(By.ID, "question").send_keys("What causes ocean tides?")
        browser.find_element(By.ID, "ask-button").click()
        wait.until(ec.text_to_be_present_in_element((By.ID, "status"), "Answered"))
        final = browser.find_element(By.CSS_SELECTOR, LAST + " .answer").text
        assert final.strip()
        seen = browser.execute_script("return window.__seen")
        # while the status still said "Thinking", the answer grew piece by piece: it streamed
        partial = [t.strip() for t, status in seen if t.strip() and "Answered" not in status]
        assert len(partial) >= 3 and len(partial[0]) < len(partial[-1]), seen

        links = browser.find_elements(By.CSS_SELECTOR, LAST + " .citations a.cite")
        if kind == "fake":
            assert final.startswith("Tides come from the Moon") and len(links) == 2
        if links:  # the small real model does not always cite
            links[0].click()
            wait.until(ec.visibility_of_element_located((By.ID, "chunk")))
            assert browser.find_element(By.ID, "chunk-text").text.strip()
            source = browser.find_element(By.ID, "chunk-source").text
            assert source.endswith(".md") if kind == "fake" else source.strip()

        turn = browser.find_element(By.CSS_SELECTOR, LAST)
        turn.find_element(By.CLASS_NAME, "thumb-up").click()
        wait.until(ec.text_to_be_present_in_element((By.CSS_SELECTOR, LAST + " .feedback-status"),
                                                    "rated up"))

        turn.find_element(By.CLASS_NAME, "edit").click()
        box = turn.find_element(By.CLASS_NAME, "correction")
        box.clear()
        box.send_keys(CORRECTION)
        turn.find_element(By.CLASS_NAME, "save-correction").click()
        wait.until(ec.text_to_be_present_in_element((By.CSS_SELECTOR, LAST + " .feedback-status"),
                                                    "Correction saved"))
        assert turn.find_element(By.CLASS_NAME, "answer").text == CORRECTION
        shot = tmp_path / "ask.png"
        assert browser.save_screenshot(str(shot))

        browser.find_element(By.CSS_SELECTOR, "nav .tab[data-view='traces']").click()
        wait.until(ec.text_to_be_present_in_element((By.ID, "traces"), "corrected"))
        assert "▲ good" in browser.find_element(By.ID, "traces").text
        browser.save_screenshot(str(tmp_path / "traces.png"))

        if kind == "fake":
            _threaded_chat(browser, wait, app)
            browser.save_screenshot(str(tmp_path / "chat.png"))

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
    rated = [i for i in TraceStore.for_data_dir(app.state.ragloop.data_dir).recent(20)
             if i.feedback]
    assert len(rated) == 1  # the first turn's; the chat's later turns are not rated
    item = rated[0]
    assert item.latest_rating == "up" and item.latest_correction == CORRECTION
    keep = os.environ.get("RAGLOOP_KEEP_SCREENSHOTS")
    if keep:
        Path(keep).mkdir(parents=True, exist_ok=True)
        for name in ("ask.png", "traces.png", *(["chat.png"] if kind == "fake" else [])):
            shutil.copy(tmp_path / name, Path(keep) / f"{kind}-{name}")


def _ask(browser, wait, question: str, turns: int) -> None:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions as ec

    browser.find_element(By.ID, "question").send_keys(question)
    browser.find_element(By.ID, "ask-button").click()
    wait.until(lambda b: len(b.find_elements(By.CSS_SELECTOR, "#thread .turn")) == turns
               and b.find_element(By.CSS_SELECTOR, LAST + " .turn-meta").text)
    wait.until(ec.element_to_be_clickable((By.ID, "ask-button")))


def _threaded_chat(browser, wait, app) -> None:
    """The page as a threaded chat, on the fake pipeline (exact texts)."""
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions as ec
    from selenium.webdriver.support.ui import Select

    browser.find_element(By.CSS_SELECTOR, "nav .tab[data-view='ask']").click()
    strategies = [o.text for o in Select(browser.find_element(By.ID, "strategy")).options]
    assert strategies[0] == "default" and {"direct", "extract", "cot"} <= set(strategies)
    Select(browser.find_element(By.ID, "strategy")).select_by_visible_text("cot")
    _ask(browser, wait, "Show me the code for tides", 2)  # a follow-up in the same thread
    store = app.state.ragloop.pipeline.conversations
    (conversation,) = store.recent()
    assert [t.question for t in conversation.turns] == ["What causes ocean tides?",
                                                        "Show me the code for tides"]
    last = browser.find_element(By.CSS_SELECTOR, LAST)
    assert last.find_element(By.CSS_SELECTOR, ".answer pre code").text == "print('<b>tides</b>')"
    inline = last.find_elements(By.CSS_SELECTOR, ".answer > code")
    assert [c.text for c in inline] == ["<img src=x onerror=alert(1)>"]
    assert not last.find_elements(By.CSS_SELECTOR, ".answer img, .answer b")  # text, not HTML
    assert len(last.find_elements(By.CSS_SELECTOR, ".answer a.cite")) == 2
    meta = last.find_element(By.CLASS_NAME, "turn-meta").text
    assert "cot" in meta and "1 model call" in meta and "from cache" not in meta

    _ask(browser, wait, "Show me the code for tides", 3)  # the same again: a cache hit
    assert "from cache" in browser.find_element(By.CSS_SELECTOR, LAST + " .turn-meta").text
    first_rating = browser.find_elements(By.CSS_SELECTOR, "#thread .turn .thumb-up")[0]
    assert "chosen" in first_rating.get_attribute("class")  # each turn keeps its feedback

    wait.until(ec.text_to_be_present_in_element((By.ID, "conversations"), "(3)"))
    browser.find_element(By.ID, "new-conversation").click()
    assert not browser.find_elements(By.CSS_SELECTOR, "#thread .turn")
    Select(browser.find_element(By.ID, "strategy")).select_by_visible_text("default")
    _ask(browser, wait, "What causes ocean tides?", 1)
    assert len(store.recent()) == 2

    wait.until(lambda b: len(b.find_elements(By.CSS_SELECTOR, "#conversations li")) == 2)
    old = [a for a in browser.find_elements(By.CSS_SELECTOR, "#conversations a")
           if "(3)" in a.text][0]
    old.click()
    wait.until(lambda b: len(b.find_elements(By.CSS_SELECTOR, "#thread .turn")) == 3)
    assert browser.find_element(By.CSS_SELECTOR, "#conversations li.current a").text == old.text
    _ask(browser, wait, "And the Sun?", 4)  # continues the reopened conversation
    assert len(store.get(conversation.id).turns) == 4

    browser.find_element(By.CSS_SELECTOR, "#conversations li.current .delete-conversation").click()
    wait.until(lambda b: len(b.find_elements(By.CSS_SELECTOR, "#conversations li")) == 1)
    assert not store.exists(conversation.id)
    assert not browser.find_elements(By.CSS_SELECTOR, "#thread .turn")
