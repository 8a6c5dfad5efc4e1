"""The README's quickstart and Python example run as written, on the real embedded model, over a
copy of the bundled demo documents standing in for the reader's own."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from ragloop.demo import demo_corpus_dir

README = Path(__file__).parents[1] / "README.md"


def _block_after(heading: str, language: str) -> str:
    text = README.read_text(encoding="utf-8")
    section = text[text.index(heading):]
    match = re.search(rf"```{language}\n(.*?)```", section, re.S)
    assert match, f"no {language} block under {heading!r} in README.md"
    return match.group(1)


@pytest.fixture()
def readers_folder(tmp_path) -> Path:
    shutil.copytree(demo_corpus_dir(), tmp_path / "notes")
    return tmp_path


def _env() -> dict[str, str]:
    bin_dir = str(Path(sys.executable).parent)  # the ragloop command of this environment
    return {**os.environ, "PATH": f"{bin_dir}{os.pathsep}{os.environ.get('PATH', '')}"}


def test_quickstart_runs_as_written(readers_folder):
    script = _block_after("## Quickstart", "bash")
    done = subprocess.run(["bash", "-euo", "pipefail", "-c", script], cwd=readers_folder,
                          capture_output=True, text=True, env=_env(), timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    assert (readers_folder / "my-docs" / "ragloop.toml").is_file()
    assert "retrieval.md" in done.stdout  # the search and the answer name the reranker's file
    assert "[1]" in done.stdout


def test_python_example_runs_as_written(readers_folder, capsys, monkeypatch):
    monkeypatch.chdir(readers_folder)
    exec(compile(_block_after("## Python", "python"), "README.md (Python)", "exec"), {})
    out = capsys.readouterr().out
    assert "notes/retrieval.md" in out
    assert "'chosen':" in out  # the route says what answered
