"""Conversations: the stored history bound, the llm condenser's rejection rule, deletion,
and ``Pipeline.chat`` on the real embedded models answering a follow-up from the right
document where the same words alone are not."""

from __future__ import annotations

import pytest

from ragloop.chat.condensers.llm import check_rewrite
from ragloop.feedback.conversations import ConversationStore, UnknownConversationError
from ragloop.pipeline import Pipeline
from ragloop.records import Turn
from real_project import DOCS, ingested_project

TURN = Turn(question="What causes ocean tides?", answer="The gravity of the Moon [1].")


def test_history_is_bounded_oldest_dropped_questions_kept_then_deleted(tmp_path):
    store = ConversationStore(tmp_path / "c.sqlite", history_tokens=80)  # words: 24 a turn
    conversation = store.create()
    for n in range(5):
        store.append(conversation.id, Turn(question=f"question {n} about tides",
                                           answer=" ".join(["word"] * 20)))
    kept = store.get(conversation.id)
    assert [t.question for t in kept.turns] == ["question 2 about tides",
                                                "question 3 about tides",
                                                "question 4 about tides"]
    assert "question 0 about tides" in kept.summary and "question 1 about tides" in kept.summary
    store.append(conversation.id, Turn(question="huge", answer="word " * 500))
    assert [t.question for t in store.get(conversation.id).turns] == ["huge"]  # newest stays

    store.delete(conversation.id)
    assert not store.exists(conversation.id)
    with pytest.raises(UnknownConversationError):
        store.delete(conversation.id)
    with pytest.raises(UnknownConversationError):
        store.append(conversation.id, TURN)


def test_a_rewrite_that_drops_or_invents_words_is_rejected():
    follow_up = "What else adds to them?"
    assert check_rewrite(follow_up, "What else adds to ocean tides?", (TURN,)) is None
    dropped = check_rewrite(follow_up, "What causes ocean tides?", (TURN,))
    assert dropped.startswith("dropped the question's own words") and "add" in dropped
    invented = check_rewrite(follow_up, "What else adds to tsunamis?", (TURN,))
    assert invented.startswith("added words") and "tsunami" in invented


@pytest.mark.real_model
def test_pipeline_chat_answers_a_follow_up_from_the_right_document(tmp_path):
    sun = {"sun.md": "# The Sun\n\nThe Sun is a star. Its light takes about eight minutes "
                     "to reach the Earth, and its force holds the planets in orbit.\n"}
    project = ingested_project(tmp_path / "proj", docs={**DOCS, **sun}, max_tokens=8,
                               tail='[chat]\ncondense = "carry"\n')
    follow_up = "How big is the Sun's force?"
    with Pipeline(project) as pipeline:
        alone = pipeline.retrieve(follow_up, k=1)
        assert "sun.md" in alone[0].chunk.metadata["source"]  # the words alone miss
        first = pipeline.chat(None, "What causes ocean tides?")
        reply = pipeline.chat(first.conversation_id, follow_up)
        chat = reply.answer.metadata["chat"]
        assert reply.conversation_id == first.conversation_id
        assert chat["condenser"] == "carry" and "tide" in " ".join(chat["carried"])
        assert "tides.md" in reply.answer.candidates[0].chunk.metadata["source"]
        stored = pipeline.conversations.get(first.conversation_id)
        assert [t.question for t in stored.turns] == ["What causes ocean tides?", follow_up]
        assert stored.turns[1].search_query == chat["search_query"]
        with pytest.raises(UnknownConversationError):
            pipeline.chat("no-such-id", follow_up)
