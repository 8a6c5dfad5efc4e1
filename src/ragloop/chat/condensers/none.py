"""``none``: the follow-up is searched as it was written (the conversation still reaches the
answer prompt)."""

from __future__ import annotations

from ragloop.chat.condensers import CONDENSERS, Condensed


@CONDENSERS.register("none")
class NoCondenser:
    name = "none"

    def __init__(self, settings, *, llm=None, store=None):
        self.settings = settings

    def condense(self, question, conversation) -> Condensed:
        return Condensed(question, self.name)
