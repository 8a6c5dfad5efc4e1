"""End to end on the real embedded store and the real ONNX embedder, through the CLI:
the bad-input folder (exit 3, per-file errors, every good file searchable), unchanged
re-runs, one edited file, and `kill -9` in the middle of an ingest."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from typer.testing import CliRunner

from ragloop.cli import app
from ragloop.index.embedded import open_store
from ragloop.ingest.loaders import file_doc_id

from .samples import BAD, GOOD_QUERIES, make_bad_input_folder

pytestmark = pytest.mark.real_model
runner = CliRunner()


def ingest(project, *args):
    return runner.invoke(app, ["-p", str(project.root), "ingest", "--quiet", *map(str, args)])


def test_bad_input_folder_exit_3_errors_named_good_files_searchable(project, tmp_path):
    files = make_bad_input_folder(tmp_path / "docs")
    result = ingest(project, tmp_path / "docs")
    assert result.exit_code == 3, result.output
    for name in BAD:
        assert f"failed: {files[name]}" in result.output.replace("\n", " ")
    assert f"{files['corpus']}:2: not JSON" in result.output.replace("\n", "")
    store = open_store(project.data_dir / "index")
    by_id = {e.doc_id: e for e in store.documents()}
    assert len(by_id) == 8
    for word, name in GOOD_QUERIES.items():
        hits = store.lexical_search(word, 3)
        assert hits, word
        (chunk,) = store.get_chunks([hits[0][0]])
        assert by_id[chunk.doc_id].metadata["path"] == str(files[name].resolve())

    again = ingest(project, "--json", tmp_path / "docs")
    assert again.exit_code == 3  # the bad files are still bad, and still reported
    counts = json.loads(again.stdout)["counts"]
    assert (counts["added"], counts["changed"], counts["unchanged"]) == (0, 0, 8)
    assert counts["failed"] == len(BAD) + 1

    files["good_md"].write_text("# Volcano Facts\n\nMagma chambers feed supervolcanoes.\n")
    edited = ingest(project, "--json", tmp_path / "docs")
    counts = json.loads(edited.stdout)["counts"]
    assert (counts["added"], counts["changed"], counts["unchanged"]) == (0, 1, 7)
    hits = store.lexical_search("supervolcanoes", 3)
    md_id = next(i for i, e in by_id.items()
                 if e.metadata["path"] == str(files["good_md"].resolve()))
    assert hits and store.get_chunks([hits[0][0]])[0].doc_id == md_id
    assert not store.lexical_search("eruption", 3)  # the old version is gone

    files["good_txt"].unlink()
    kept = json.loads(ingest(project, "--json", tmp_path / "docs").stdout)
    assert kept["stale"] == 1 and kept["removed"] == []
    pruned = json.loads(ingest(project, "--json", "--prune", tmp_path / "docs").stdout)
    assert pruned["removed"] == [file_doc_id(files["good_txt"])]
    assert not store.lexical_search("huddle", 3)


def _corpus(path, n: int, tag: str) -> None:
    with path.open("w") as handle:
        for i in range(n):
            handle.write(json.dumps({"_id": f"{tag}{i}", "title": f"Record {tag} {i}",
                                     "text": f"Unique{tag}{i} marker. " + "filler words " * 20})
                         + "\n")


def test_kill_9_mid_ingest_keeps_the_old_index_and_the_rerun_resumes(project, tmp_path):
    (project.root / "ragloop.toml").write_text(
        re.sub(r"(?m)^batch_docs = \d+", "batch_docs = 4", project.config_path.read_text()))
    old = tmp_path / "old.jsonl"
    _corpus(old, 3, "old")
    assert ingest(project, old).exit_code == 0
    big = tmp_path / "big.jsonl"
    _corpus(big, 60, "big")
    command = [str(Path(sys.executable).parent / "ragloop"), "-p", str(project.root),
               "ingest", "-q", str(big)]
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    proc = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    store = open_store(project.data_dir / "index")
    deadline = time.monotonic() + 60
    try:
        while sum(1 for _ in store.documents()) < 3 + 8 and time.monotonic() < deadline:
            time.sleep(0.2)
            assert proc.poll() is None, "the ingest finished before it could be killed"
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait()
    store = open_store(project.data_dir / "index")
    committed = sum(1 for _ in store.documents())
    assert 3 + 8 <= committed < 3 + 60
    assert (committed - 3) % 4 == 0  # whole batches only
    hits = store.lexical_search("uniqueold1", 3)
    assert hits and store.get_chunks([hits[0][0]])[0].doc_id == "old1"
    resumed = runner.invoke(app, ["-p", str(project.root), "ingest", "-q", str(big),
                                  str(old)])
    assert resumed.exit_code == 0, resumed.output
    assert sum(1 for _ in open_store(project.data_dir / "index").documents()) == 63
