"""`ingest --prune` on a folder it cannot read (issue 11, item 3): the folder is an error
naming it (exit 3) and its documents stay; without --prune it is reported, not skipped in
silence. The tests run as root here, where `chmod 000` does not stop reads, so the folder is
made unreadable by failing its listing with the PermissionError the OS would raise."""

from __future__ import annotations

import json
import os

import pytest
from typer.testing import CliRunner

from fakes import FakeEmbedder
from ingest.fake_store import FakeStore
from ragloop.cli import app
from ragloop.config import IngestSettings
from ragloop.index.embedded import open_store
from ragloop.ingest.sync import ingest_paths


def _tree(root):
    (root / "sub").mkdir(parents=True)
    (root / "top.txt").write_text("Otters hold hands while they sleep.\n")
    (root / "sub" / "inner.txt").write_text("Narwhal tusks are teeth.\n")
    return root


@pytest.fixture
def unreadable(monkeypatch):
    """Make folders unreadable: listing them raises PermissionError (chmod 000 for real too,
    which is what a non-root user would meet)."""
    blocked: set[str] = set()
    real_scandir = os.scandir

    def scandir(path="."):
        if os.path.abspath(os.fspath(path)) in blocked:
            raise PermissionError(13, "Permission denied", os.fspath(path))
        return real_scandir(path)

    monkeypatch.setattr(os, "scandir", scandir)
    chmodded = []

    def block(path):
        blocked.add(str(path.resolve()))
        path.chmod(0)
        chmodded.append(path)
    yield block
    for path in chmodded:
        path.chmod(0o755)


def _ingest(root, store, **kwargs):
    return ingest_paths([root], settings=IngestSettings(), store=store, embedder=FakeEmbedder(),
                        progress=False, **kwargs)


def test_prune_keeps_documents_under_an_unreadable_folder_and_names_it(tmp_path, unreadable):
    root = _tree(tmp_path / "d")
    store = FakeStore()
    assert _ingest(root, store).added == 2
    unreadable(root / "sub")
    report = _ingest(root, store, prune=True)
    assert report.removed == [] and len(store.docs) == 2
    assert not report.ok
    assert any(str(root / "sub") in e and "cannot read folder" in e for e in report.errors)


def test_without_prune_an_unreadable_folder_is_reported(tmp_path, unreadable):
    root = _tree(tmp_path / "d")
    unreadable(root / "sub")
    report = _ingest(root, FakeStore())
    assert report.added == 1 and report.failed == 1
    assert str(root / "sub") in report.errors[0]


def test_cli_prune_exit_3_naming_the_folder_and_documents_stay(project, tmp_path, unreadable):
    root = _tree(tmp_path / "d")
    runner = CliRunner()
    first = runner.invoke(app, ["-p", str(project.root), "ingest", "--quiet", "--json",
                                str(root)])
    assert first.exit_code == 0, first.output
    unreadable(root / "sub")
    pruned = runner.invoke(app, ["-p", str(project.root), "ingest", "--quiet", "--json",
                                 "--prune", str(root)])
    assert pruned.exit_code == 3
    assert json.loads(pruned.stdout)["removed"] == []
    assert str(root / "sub") in pruned.stderr.replace("\n", "")
    store = open_store(project.data_dir / "index")
    assert len(list(store.documents())) == 2
    store.close()
