"""Conversations, stored beside the traces (``<data_dir>/traces.sqlite``, table
``conversations``, one row per conversation holding its ``records.Conversation`` as JSON):
``create``, ``append`` a turn, ``get``, ``recent`` (newest first) and ``delete``, by id.

A stored conversation is bounded (``bounded``): appending a turn drops the oldest turns
until the questions and answers left fit ``history_tokens`` (the newest turn always stays).
A dropped turn's question joins the conversation's ``summary`` — the earlier questions,
oldest first, themselves cut to a quarter of the budget — and its answer is dropped here
(the turn's trace, when it has one, keeps it). Dropped, not summarised by the model: a
summary would cost one model call per turn once the budget is full, the default model's
summaries of its own answers are not reliable enough to put back in a prompt, and the
earlier questions are what a later follow-up refers back to (the topic words the
condensers carry).

Each write is one transaction on a ``feedback.db.Database`` (WAL, ``synchronous=FULL``), like
the trace store's; this store has its own connection and table, so the two never block each
other for long.
"""

from __future__ import annotations

import sqlite3
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

from ragloop.errors import StoreError
from ragloop.feedback.db import TRACES_FILENAME, Database
from ragloop.records import Conversation, Turn

TokenCounter = Callable[[str], int]

_SCHEMA = """
CREATE TABLE IF NOT EXISTS conversations (
    id TEXT PRIMARY KEY,
    created TEXT NOT NULL,
    updated TEXT NOT NULL,
    record TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS conversations_updated ON conversations(updated);
"""


class UnknownConversationError(StoreError):
    """No conversation with this id."""

    def __init__(self, conversation_id: str):
        self.conversation_id = conversation_id
        super().__init__(f"no conversation with id {conversation_id!r}")


def words(text: str) -> int:
    """A token count that needs no model: words (the store's default)."""
    return len(text.split())


def turn_tokens(turn: Turn, count: TokenCounter) -> int:
    return count(turn.question) + count(turn.answer)


def bounded(conversation: Conversation, max_tokens: int,
            count: TokenCounter = words) -> Conversation:
    """``conversation`` fitted to ``max_tokens``: the newest turns that fit (at least one),
    the questions of the others added to ``summary`` (module doc)."""
    turns = list(conversation.turns)
    kept: list[Turn] = []
    used = 0
    for turn in reversed(turns):
        cost = turn_tokens(turn, count)
        if kept and used + cost > max_tokens:
            break
        kept.insert(0, turn)
        used += cost
    dropped = turns[:len(turns) - len(kept)]
    if not dropped:
        return conversation
    asked = [conversation.summary] if conversation.summary else []
    asked += [" ".join(t.question.split()) for t in dropped]
    summary = " | ".join(asked)
    while count(summary) > max(1, max_tokens // 4) and " | " in summary:
        summary = summary.split(" | ", 1)[1]  # the oldest questions go first
    return conversation.model_copy(update={"turns": tuple(kept), "summary": summary})


class ConversationStore:
    """``history_tokens`` bounds every conversation on ``append``; ``count_tokens`` measures
    turns (the answering model's tokenizer; words by default)."""

    def __init__(self, path: Path | str, *, history_tokens: int = 1024,
                 count_tokens: TokenCounter = words):
        self.path = Path(path)
        self.history_tokens = history_tokens
        self.count_tokens = count_tokens
        self._db = Database(self.path, _SCHEMA)

    @classmethod
    def for_data_dir(cls, data_dir: Path | str, **options) -> ConversationStore:
        return cls(Path(data_dir) / TRACES_FILENAME, **options)

    def close(self) -> None:
        self._db.close()

    def create(self, conversation_id: str | None = None) -> Conversation:
        """A new, empty conversation (a fresh id unless one is given)."""
        now = datetime.now(UTC)
        conversation = Conversation(id=conversation_id or uuid.uuid4().hex, created=now,
                                    updated=now)
        try:
            with self._db.transaction() as conn:
                conn.execute("INSERT INTO conversations VALUES (?, ?, ?, ?)",
                             (conversation.id, now.isoformat(), now.isoformat(),
                              conversation.model_dump_json()))
        except sqlite3.IntegrityError:
            raise StoreError(f"{self.path}: a conversation with id {conversation.id!r} "
                             f"exists") from None
        return conversation

    def exists(self, conversation_id: str) -> bool:
        return bool(self._db.read("SELECT 1 FROM conversations WHERE id = ?",
                                  (conversation_id,)))

    def get(self, conversation_id: str) -> Conversation:
        rows = self._db.read("SELECT record FROM conversations WHERE id = ?",
                             (conversation_id,))
        if not rows:
            raise UnknownConversationError(conversation_id)
        return Conversation.model_validate_json(rows[0][0])

    def append(self, conversation_id: str, turn: Turn) -> Conversation:
        """Add ``turn`` (stamped now unless it has a time), bound the conversation to
        ``history_tokens``, store and return it."""
        now = datetime.now(UTC)
        turn = turn if turn.created else turn.model_copy(update={"created": now})
        with self._db.transaction() as conn:
            rows = conn.execute("SELECT record FROM conversations WHERE id = ?",
                                (conversation_id,)).fetchall()
            if not rows:
                raise UnknownConversationError(conversation_id)
            stored = Conversation.model_validate_json(rows[0][0])
            grown = stored.model_copy(update={"turns": (*stored.turns, turn), "updated": now})
            kept = bounded(grown, self.history_tokens, self.count_tokens)
            conn.execute("UPDATE conversations SET updated = ?, record = ? WHERE id = ?",
                         (now.isoformat(), kept.model_dump_json(), conversation_id))
        return kept

    def recent(self, limit: int = 20, offset: int = 0) -> list[Conversation]:
        """Conversations, the most recently updated first."""
        rows = self._db.read(
            "SELECT record FROM conversations ORDER BY updated DESC, id LIMIT ? OFFSET ?",
            (limit, offset))
        return [Conversation.model_validate_json(r[0]) for r in rows]

    def delete(self, conversation_id: str) -> None:
        """Remove the conversation (``UnknownConversationError`` if there is none). Its
        turns' traces and feedback stay: they are the record of what was answered."""
        with self._db.transaction() as conn:
            gone = conn.execute("DELETE FROM conversations WHERE id = ?",
                                (conversation_id,)).rowcount
        if not gone:
            raise UnknownConversationError(conversation_id)

    def count(self) -> int:
        return self._db.read("SELECT COUNT(*) FROM conversations")[0][0]
