"""One file per strategy; ``STRATEGIES`` maps each name to its class.

Every strategy is built as ``cls(settings, filters=..., style=..., instruction=...,
on_text=..., embedder=...)`` and implements ``ragloop.answer.base.Strategy``. A new strategy
is one module here plus its class in ``STRATEGIES``.
"""

from __future__ import annotations

from ragloop.answer.strategies.best_of_n import BestOfNStrategy
from ragloop.answer.strategies.cot import ChainOfThoughtStrategy
from ragloop.answer.strategies.decompose import DecomposeStrategy
from ragloop.answer.strategies.direct import DirectStrategy
from ragloop.answer.strategies.extract import ExtractStrategy
from ragloop.answer.strategies.refine import RefineStrategy
from ragloop.answer.strategies.vote import SelfConsistencyStrategy
from ragloop.errors import ConfigError

STRATEGIES = {cls.name: cls for cls in (
    DirectStrategy, ChainOfThoughtStrategy, SelfConsistencyStrategy, BestOfNStrategy,
    DecomposeStrategy, RefineStrategy, ExtractStrategy)}


def build_strategy(name: str, settings, *, filters=None, style=None, instruction: str = "",
                   on_text=None, embedder=None):
    try:
        cls = STRATEGIES[name]
    except KeyError:
        raise ConfigError(f"unknown answer strategy '{name}'; choose from "
                          f"{', '.join(sorted(STRATEGIES))}", key="answer.strategy") from None
    return cls(settings, filters=filters, style=style, instruction=instruction,
               on_text=on_text, embedder=embedder)
