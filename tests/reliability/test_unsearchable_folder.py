"""Probe item 4 of issue 27: a folder that can be listed but not searched (mode r--: its
names are readable, but nothing in it can be opened or stat-ed) crashed the whole ingest with
a PermissionError. It is that folder's error; the rest is ingested, and with prune nothing
under it is removed. The tests run as root here, for whom modes do not apply, so the folder
is chmod-ed for real and every path lookup through it fails with the PermissionError the OS
gives an unprivileged user (stat, lstat, open); its listing still works."""

from __future__ import annotations

import builtins
import os

import pytest

from fakes import FakeEmbedder
from ingest.fake_store import FakeStore
from ragloop.config import IngestSettings
from ragloop.ingest.sync import ingest_paths


@pytest.fixture
def unsearchable(monkeypatch):
    blocked: list[str] = []

    def inside(path) -> bool:
        if isinstance(path, int):
            return False
        full = os.path.abspath(os.fsdecode(path))
        return any(full.startswith(folder + os.sep) for folder in blocked)

    def guard(real):
        def call(path, *args, **kwargs):
            if inside(path):
                raise PermissionError(13, "Permission denied", os.fsdecode(path))
            return real(path, *args, **kwargs)
        return call

    for name in ("stat", "lstat"):
        monkeypatch.setattr(os, name, guard(getattr(os, name)))
    monkeypatch.setattr(builtins, "open", guard(builtins.open))
    chmodded = []

    def block(folder):
        folder.chmod(0o644)
        chmodded.append(folder)
        blocked.append(str(folder.resolve()))
    yield block
    for folder in chmodded:
        folder.chmod(0o755)


def _ingest(docs, store, **options):
    return ingest_paths([docs], settings=IngestSettings(), store=store,
                        embedder=FakeEmbedder(), progress=False, **options)


def test_a_listable_but_unsearchable_folder_is_its_own_error(tmp_path, unsearchable):
    docs, hidden = tmp_path / "docs", tmp_path / "docs" / "x"
    (hidden / "deeper").mkdir(parents=True)
    (docs / "top.txt").write_text("Otters hold hands while they sleep.")
    (hidden / "inner.txt").write_text("Narwhal tusks are teeth.")
    (hidden / "deeper" / "deep.txt").write_text("Octopuses have three hearts.")
    store = FakeStore()
    first = _ingest(docs, store)
    assert first.added == 3 and not first.errors
    unsearchable(hidden)
    second = _ingest(docs, store, prune=True)
    assert second.removed == []  # nothing under the folder is pruned
    assert len(second.errors) == 1, second.errors
    assert str(hidden) in second.errors[0] and "cannot search folder" in second.errors[0]
    assert sorted(os.path.basename(d.source) for d, *_ in store.docs.values()) == [
        "deep.txt", "inner.txt", "top.txt"]
