"""TRL's documented dataset columns, checked row by row before anything is written.

Conversational formats: ``messages`` (SFT), ``prompt``/``chosen``/``rejected`` (DPO),
``prompt``/``completion``/``label`` (KTO); each message is ``{"role", "content"}``.
"""

from __future__ import annotations

from typing import Any

ROLES = ("system", "user", "assistant")
COLUMNS = {"sft": ("messages",), "dpo": ("prompt", "chosen", "rejected"),
           "kto": ("prompt", "completion", "label")}


class SchemaMismatch(ValueError):
    pass


def _check_messages(value: Any, column: str, *, last_role: str | None = None) -> None:
    if not isinstance(value, list) or not value:
        raise SchemaMismatch(f"column '{column}' must be a non-empty list of messages")
    for i, message in enumerate(value):
        if not isinstance(message, dict) or set(message) != {"role", "content"}:
            raise SchemaMismatch(f"{column}[{i}] must be an object with 'role' and 'content'")
        if message["role"] not in ROLES or not isinstance(message["content"], str):
            raise SchemaMismatch(f"{column}[{i}]: bad role {message['role']!r} or content")
        if not message["content"].strip():
            raise SchemaMismatch(f"{column}[{i}]: empty content")
    if last_role and value[-1]["role"] != last_role:
        raise SchemaMismatch(f"column '{column}' must end with a {last_role} message")


def validate_row(fmt: str, row: dict) -> None:
    """Raise ``SchemaMismatch`` naming the column when ``row`` is not a valid ``fmt`` row."""
    if fmt not in COLUMNS:
        raise SchemaMismatch(f"unknown format {fmt!r}; expected one of {sorted(COLUMNS)}")
    if tuple(sorted(row)) != tuple(sorted(COLUMNS[fmt])):
        raise SchemaMismatch(f"{fmt} rows have columns {list(COLUMNS[fmt])}, got {sorted(row)}")
    if fmt == "sft":
        _check_messages(row["messages"], "messages", last_role="assistant")
        return
    _check_messages(row["prompt"], "prompt", last_role="user")
    if fmt == "dpo":
        _check_messages(row["chosen"], "chosen", last_role="assistant")
        _check_messages(row["rejected"], "rejected", last_role="assistant")
        if row["chosen"] == row["rejected"]:
            raise SchemaMismatch("chosen and rejected are the same")
    else:
        _check_messages(row["completion"], "completion", last_role="assistant")
        if not isinstance(row["label"], bool):
            raise SchemaMismatch("column 'label' must be true or false")
