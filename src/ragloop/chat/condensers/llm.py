"""``llm``: the configured model rewrites the follow-up as a standalone question, from the
last ``[chat] recent_turns`` turns (schema output through the one ``LLMClient``, so it is
cached and counted like every call).

A rewrite is checked before it is searched, on index terms (``index.analyze``: stemmed,
stopwords out) so "rerankers" and "reranker" are one word:

- it must keep every content word of the follow-up (a rewrite that drops "cost" from "and
  what does it cost?" answers another question) — words that only point back ("it", "them",
  "the other one") are what a rewrite replaces, so they may go;
- it may add only words found in the conversation it was shown (a word from nowhere is the
  model's guess, and a small model guesses often).

A rejected rewrite — or output that is not valid for the schema, or a failed call — goes
to the next condenser, ``carry``, and the reason is recorded in ``Condensed.rejected``.
"""

from __future__ import annotations

from ragloop.answer.citations import strip_markers
from ragloop.chat.condensers import CONDENSERS, Condensed, Rejection, recent
from ragloop.chat.condensers.carry import CarryCondenser
from ragloop.errors import ModelError
from ragloop.index.analyze import analyze
from ragloop.records import Conversation, Message, Turn

SCHEMA = {"type": "object",
          "properties": {"question": {"type": "string", "minLength": 1, "maxLength": 300}},
          "required": ["question"]}

SYSTEM = ("You rewrite the user's last question so that it can be understood without the "
          "conversation. Replace words such as it, they, that, this or the other one by what "
          "they refer to in the conversation. Keep every word of the last question and add "
          "only words from the conversation. Do not answer the question.")

# words a rewrite replaces by what they refer to (as index terms: "another" is "anoth")
REFERRING = frozenset(analyze("it its they them their theirs those he him his she her one "
                              "ones other others another"))


def rewrite_messages(question: str, turns: tuple[Turn, ...]) -> list[Message]:
    lines = []
    for turn in turns:
        lines.append(f"User: {' '.join(turn.question.split())}")
        lines.append(f"Assistant: {' '.join(strip_markers(turn.answer).split())}")
    user = ("Conversation:\n" + "\n".join(lines) + f"\n\nLast question: {question}\n\n"
            'Reply in JSON: {"question": "the last question, rewritten"}')
    return [Message(role="system", content=SYSTEM), Message(role="user", content=user)]


def check_rewrite(question: str, rewrite: str, turns: tuple[Turn, ...],
                  summary: str = "") -> str | None:
    """Why ``rewrite`` must not stand for ``question``, or None (module doc)."""
    own = set(analyze(question)) - REFERRING
    written = set(analyze(rewrite))
    dropped = sorted(own - written)
    if dropped:
        return f"dropped the question's own words: {', '.join(dropped)}"
    said = set(analyze(question)) | set(analyze(summary))
    for turn in turns:
        said |= set(analyze(turn.question)) | set(analyze(strip_markers(turn.answer)))
    invented = sorted(written - said)
    if invented:
        return f"added words found neither in the conversation nor the question: " \
               f"{', '.join(invented)}"
    return None


@CONDENSERS.register("llm")
class LLMCondenser:
    name = "llm"

    def __init__(self, settings, *, llm=None, store=None):
        if llm is None:
            raise ValueError("the llm condenser needs a model")
        self.settings = settings
        self.llm = llm
        self.fallback = CarryCondenser(settings, store=store)

    def rewrite(self, question: str, turns: tuple[Turn, ...], *,
                purpose: str = "condense") -> str:
        """The model's rewrite (``ModelError``, ``SchemaValidationError`` when it fails)."""
        completion = self.llm.complete(rewrite_messages(question, turns), schema=SCHEMA,
                                       temperature=0.0, max_tokens=self.settings.rewrite_tokens,
                                       purpose=purpose)
        return " ".join(str(completion.parsed["question"]).split())

    def condense(self, question: str, conversation: Conversation) -> Condensed:
        turns = recent(conversation, self.settings.recent_turns)
        try:
            rewrite = self.rewrite(question, turns)
        except ModelError as err:  # SchemaValidationError is one
            rewrite, reason = "", f"{type(err).__name__}: {err}"[:300]
        else:
            reason = check_rewrite(question, rewrite, turns, conversation.summary)
        if reason is None:
            return Condensed(rewrite, self.name)
        carried = self.fallback.condense(question, conversation)
        rejected = Rejection(condenser=self.name, output=rewrite, reason=reason)
        return Condensed(carried.query, carried.condenser, carried=carried.carried,
                         rejected=(rejected, *carried.rejected))
