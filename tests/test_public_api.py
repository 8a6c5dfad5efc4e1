"""The public API a notebook uses: ``ragloop.open`` and the names exported by ``ragloop``,
on the real embedded models; a toy strategy registered from outside, chosen by name."""

from __future__ import annotations

import subprocess
import sys

import pytest

import ragloop
from ragloop.answer.grounded import GroundedStrategy, finish
from ragloop.answer.strategies import STRATEGIES

DOC = ("# Tides\n\nOcean tides are caused mainly by the gravity of the Moon pulling on the "
       "oceans. The Sun adds a smaller tidal force.\n")


def test_import_ragloop_loads_no_room():
    code = ("import sys, ragloop; print(sorted(m for m in sys.modules "
            "if m.startswith('ragloop.')))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True).stdout
    assert out.strip() == "[]"
    assert set(ragloop.__all__) >= {"open", "Pipeline", "Answer", "Citation", "Chunk",
                                    "EvalExample", "RagloopError", "Project", "Settings"}
    with pytest.raises(AttributeError):
        ragloop.nothing_here  # noqa: B018


def test_open_makes_a_project_ingests_and_answers(tmp_path):
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "tides.md").write_text(DOC, encoding="utf-8")
    with ragloop.open(tmp_path / "proj", answer={"strategy": "extract", "max_tokens": 24}
                      ) as rag:
        assert isinstance(rag, ragloop.Pipeline)
        assert rag.ingest([docs]).ok
        hits = rag.search("What causes tides?", k=2)
        assert hits and hits[0].chunk.metadata["source"].endswith("tides.md")
        answer = rag.ask("What causes ocean tides?")
        assert isinstance(answer, ragloop.Answer) and "Moon" in answer.text
        assert answer.citations and isinstance(answer.citations[0], ragloop.Citation)
    assert (tmp_path / "proj" / "ragloop.toml").is_file()  # the override stayed in memory
    assert 'strategy = "extract"' not in (tmp_path / "proj" / "ragloop.toml").read_text()


def test_open_refuses_unknown_overrides_and_missing_projects(tmp_path):
    with pytest.raises(ragloop.ConfigError, match="answr"):
        ragloop.open(tmp_path / "p", answr={"mode": "auto"})
    with pytest.raises(ragloop.RagloopError):
        ragloop.open(tmp_path / "nothing", create=False)


class ToyStrategy(GroundedStrategy):
    """A strategy from outside ragloop: quotes the first retrieved chunk, no model call."""

    name = "toy"

    def answer(self, request, candidates, tally):
        return finish(request.question, candidates[0].chunk.text.split(".")[0] + ". [1]",
                      candidates, strategy=self.name, tally=tally)


@pytest.fixture
def toy_strategy():
    STRATEGIES.register("toy")(ToyStrategy)
    yield
    STRATEGIES.unregister("toy")


def test_a_registered_toy_strategy_is_chosen_by_name(tmp_path, toy_strategy):
    from ragloop.checks import check_settings

    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "tides.md").write_text(DOC, encoding="utf-8")
    with ragloop.open(tmp_path / "proj", answer={"strategy": "toy"}) as rag:
        check_settings(rag.settings)  # what `ragloop config` runs: the name is known
        rag.ingest([docs])
        answer = rag.ask("What causes tides?")
    first = answer.candidates[0].chunk.text.split(".")[0]
    assert answer.strategy == "toy" and answer.text == f"{first}. [1]" and "tides" in first
    assert answer.calls == ()
