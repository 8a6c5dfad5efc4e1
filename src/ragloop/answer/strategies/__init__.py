"""Answer strategies, one module each, registered in ``STRATEGIES``
(``@STRATEGIES.register("name")`` on a ``GroundedStrategy`` subclass; modules of this package
are found by themselves, outside ones through the ``ragloop.strategies`` entry points).

A strategy is built once from its parts — ``cls(settings, retriever=..., llm=...,
embedder=...)`` — and answers ``AnswerRequest``s (``ragloop.answer.base.Strategy``).
"""

from __future__ import annotations

from ragloop.registry import Registry

STRATEGIES: Registry = Registry("answer strategy", key="answer.strategy",
                                package=__name__, group="ragloop.strategies")


def build_strategy(name: str, settings, *, retriever=None, llm=None, embedder=None, **options):
    """The strategy registered as ``name``, built from its parts; an unknown name raises
    ``UnknownPartError`` (a ``ConfigError``)."""
    return STRATEGIES.get(name)(settings, retriever=retriever, llm=llm, embedder=embedder,
                                **options)
