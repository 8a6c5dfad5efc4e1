"""The conversation in the answer prompt: the turns a follow-up may refer to, written
before the documents (``prompt.answer_messages(history=...)``), and counted against the
window like the rest of the prompt.

Which turns come is the caller's choice: ``ragloop.chat`` hands the answerer a request whose
``conversation`` holds the newest turns that fit ``[chat] prompt_tokens``. Retrieval never
reads this text; it searches ``request.query``.
"""

from __future__ import annotations

from ragloop.answer.citations import strip_markers
from ragloop.records import AnswerRequest, Conversation

HISTORY_HEAD = "Conversation so far (the question may refer to it; answer from the documents):"


def format_history(conversation: Conversation | None) -> str:
    """The turns of ``conversation`` as the answer prompt shows them, oldest first: the
    summary of dropped turns, then each question and answer. The answers' ``[n]`` markers
    are removed: they named an earlier turn's documents, and in this prompt a number means
    one of this turn's. Empty when there is no turn. The caller decides how many turns come
    (``ragloop.chat`` sends the newest that fit ``[chat] prompt_tokens``)."""
    if conversation is None or not (conversation.turns or conversation.summary):
        return ""
    lines = [HISTORY_HEAD]
    if conversation.summary:
        lines.append(f"Earlier questions: {conversation.summary}")
    for turn in conversation.turns:
        lines.append(f"User: {' '.join(turn.question.split())}")
        lines.append(f"Assistant: {' '.join(strip_markers(turn.answer).split())}")
    return "\n".join(lines)


def prompt_extra(request: AnswerRequest) -> str:
    """What the answer prompt holds of ``request`` besides the question and the documents
    (its instruction and its history), for packing the documents around it."""
    return "\n".join(t for t in (request.instruction, format_history(request.conversation))
                     if t)
