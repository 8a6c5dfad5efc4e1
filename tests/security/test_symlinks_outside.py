"""Probe item 13 of issue 27 (symlinks): a symbolic link inside an ingested folder that
points outside it (to /etc/passwd, say) is not followed by default: the run says so and goes
on. Links that stay inside the folder are followed as before; `[ingest] follow_symlinks =
true` follows every link."""

from __future__ import annotations

import os

from fakes import FakeEmbedder
from ingest.fake_store import FakeStore
from ragloop.config import IngestSettings
from ragloop.ingest.sync import ingest_paths


def _tree(tmp_path):
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "secret.txt").write_text("The launch code is 0000.")
    (outside / "more").mkdir()
    (outside / "more" / "other.txt").write_text("Other secret words.")
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "real.txt").write_text("Otters hold hands while they sleep.")
    os.symlink(outside / "secret.txt", docs / "secret.txt")
    os.symlink(docs / "real.txt", docs / "alias.txt")  # inside: the same file once
    os.symlink(outside / "more", docs / "more")
    return docs


def _ingest(docs, **settings):
    store = FakeStore()
    report = ingest_paths([docs], settings=IngestSettings(**settings), store=store,
                          embedder=FakeEmbedder(), progress=False)
    texts = sorted(document.text for document, *_ in store.docs.values())
    return report, texts


def test_a_link_out_of_the_folder_is_not_followed_by_default(tmp_path):
    docs = _tree(tmp_path)
    report, texts = _ingest(docs)
    assert texts == ["Otters hold hands while they sleep."]
    assert report.ok
    note = [w for w in report.warnings if "secret.txt" in w]
    assert note and "outside" in note[0] and "follow_symlinks" in note[0]


def test_follow_symlinks_takes_them(tmp_path):
    docs = _tree(tmp_path)
    report, texts = _ingest(docs, follow_symlinks=True)
    assert texts == ["Other secret words.", "Otters hold hands while they sleep.",
                     "The launch code is 0000."]
    assert not [w for w in report.warnings if "secret" in w]
