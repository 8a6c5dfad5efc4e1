"""Condensers: a follow-up and its conversation in, what retrieval should search out.

Registered in ``CONDENSERS`` (``@CONDENSERS.register("name")`` on a class built as
``cls(settings: ChatSettings, *, llm, store)``, with ``condense(question, conversation) ->
Condensed``), chosen by ``[chat] condense``: ``carry`` (no model call), ``llm`` (a checked
rewrite, carry when it is rejected), ``auto`` (llm when the model passes a self-check) and
``none`` (the follow-up alone).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol

from ragloop.records import Conversation, SearchQuery, Turn
from ragloop.registry import Registry

CONDENSERS: Registry = Registry("condenser", key="chat.condense", package=__name__,
                                group="ragloop.condensers")


@dataclass(frozen=True)
class Rejection:
    """A condenser's output that was not used, and why."""

    condenser: str
    output: str
    reason: str


@dataclass(frozen=True)
class Condensed:
    """What to search for a follow-up, which condenser made it, the terms it carried over
    from earlier turns, and the outputs rejected on the way."""

    query: str | SearchQuery
    condenser: str
    carried: tuple[str, ...] = ()
    rejected: tuple[Rejection, ...] = ()
    notes: dict[str, Any] = field(default_factory=dict)

    @property
    def text(self) -> str:
        return self.query.text if isinstance(self.query, SearchQuery) else self.query

    def as_metadata(self) -> dict[str, Any]:
        """What the answer's ``metadata["chat"]`` and the trace keep of it."""
        data: dict[str, Any] = {"condenser": self.condenser, "search_query": self.text}
        if isinstance(self.query, SearchQuery):
            data["search_parts"] = [p.model_dump() for p in self.query.parts]
        if self.carried:
            data["carried"] = list(self.carried)
        if self.rejected:
            data["rejected"] = [vars(r) for r in self.rejected]
        return {**data, **self.notes}


class Condenser(Protocol):
    name: str

    def condense(self, question: str, conversation: Conversation) -> Condensed: ...


def recent(conversation: Conversation, turns: int) -> tuple[Turn, ...]:
    """The newest ``turns`` turns, oldest first."""
    return conversation.turns[-turns:] if turns else ()
