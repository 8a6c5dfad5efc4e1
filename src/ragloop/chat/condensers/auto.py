"""``auto``: ``llm`` when the model passes a small self-check, else ``carry``.

The self-check asks the model to rewrite the follow-ups of ``PROBES`` — short
conversations whose follow-up names its subject only by a pronoun — and passes when every
rewrite passes the llm condenser's checks and names the subject. It runs once per model id
in a process (and its calls are cached on disk like any other), the first time a follow-up
is condensed; its outcome is in each answer's ``metadata["chat"]["self_check"]``.
"""

from __future__ import annotations

import threading

from ragloop.chat.condensers import CONDENSERS, Condensed
from ragloop.chat.condensers.carry import CarryCondenser
from ragloop.chat.condensers.llm import LLMCondenser, check_rewrite
from ragloop.errors import ModelError
from ragloop.index.analyze import analyze
from ragloop.records import Conversation, Turn

# (earlier turn, follow-up, the word the rewrite must name)
PROBES = (
    (Turn(question="Which planet is the largest in the solar system?",
          answer="Jupiter is the largest planet in the solar system."),
     "How many moons does it have?", "Jupiter"),
    (Turn(question="Who wrote the play Hamlet?", answer="William Shakespeare wrote Hamlet."),
     "When was he born?", "Shakespeare"),
    (Turn(question="What does the json module do?",
          answer="The json module encodes and decodes JSON data."),
     "How do I read a file with it?", "json"),
)

_checked: dict[str, bool] = {}  # model id → passed
_lock = threading.Lock()


def self_check(condenser: LLMCondenser) -> bool:
    """Whether the condenser's model rewrites every probe acceptably (module doc)."""
    model = condenser.llm.model_id
    with _lock:
        if model not in _checked:
            _checked[model] = all(_probe(condenser, *probe) for probe in PROBES)
        return _checked[model]


def _probe(condenser: LLMCondenser, turn: Turn, follow_up: str, subject: str) -> bool:
    try:
        rewrite = condenser.rewrite(follow_up, (turn,), purpose="condense-check")
    except ModelError:
        return False
    named = set(analyze(subject)) <= set(analyze(rewrite))
    return named and check_rewrite(follow_up, rewrite, (turn,)) is None


@CONDENSERS.register("auto")
class AutoCondenser:
    name = "auto"

    def __init__(self, settings, *, llm=None, store=None):
        self.carry = CarryCondenser(settings, store=store)
        self.llm = LLMCondenser(settings, llm=llm, store=store) if llm is not None else None

    def condense(self, question: str, conversation: Conversation) -> Condensed:
        passed = self.llm is not None and self_check(self.llm)
        chosen = self.llm if passed else self.carry
        condensed = chosen.condense(question, conversation)
        notes = {**condensed.notes, "self_check": "passed" if passed else "failed"}
        return Condensed(condensed.query, condensed.condenser, carried=condensed.carried,
                         rejected=condensed.rejected, notes=notes)
