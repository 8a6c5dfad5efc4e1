"""Request and response bodies of the HTTP API (published in ``/openapi.json``)."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from ragloop.records import Citation

MAX_QUESTION_CHARS = 8000


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class FiltersIn(Strict):
    sources: list[str] = Field(default_factory=list)
    path_glob: str | None = None
    modified_after: float | None = None
    modified_before: float | None = None
    fields: dict[str, Any] = Field(default_factory=dict)


class AskRequest(Strict):
    question: str = Field(min_length=1, max_length=MAX_QUESTION_CHARS)
    mode: Literal["fast", "slow", "auto"] | None = None
    strategy: str | None = None
    filters: FiltersIn | None = None
    stream: bool = False


class AskResponse(BaseModel):
    trace_id: str
    question: str
    answer: str
    strategy: str
    refused: bool
    confidence: float | None
    citations: list[Citation]
    chunks: list[dict[str, Any]]
    latency_s: float
    usage: dict[str, int]


class FeedbackRequest(Strict):
    trace_id: str = Field(min_length=1, max_length=200)
    rating: Literal["up", "down"] | None = None
    corrected_answer: str | None = Field(default=None, max_length=20000)
    comment: str | None = Field(default=None, max_length=5000)

    @model_validator(mode="after")
    def _says_something(self) -> FeedbackRequest:
        if self.rating is None and not (self.corrected_answer or "").strip() \
                and not (self.comment or "").strip():
            raise ValueError("feedback needs a rating ('up' or 'down'), a corrected_answer "
                             "or a comment")
        return self


class FeedbackResponse(BaseModel):
    id: str
    trace_id: str
    created: str


class ChatMessageIn(BaseModel):
    model_config = ConfigDict(extra="allow")  # OpenAI clients send name, tool fields...
    role: str
    content: str | list[dict[str, Any]] | None = None


class ChatCompletionRequest(BaseModel):
    model_config = ConfigDict(extra="allow")  # temperature, top_p... accepted and ignored
    model: str = "ragloop"
    messages: list[ChatMessageIn] = Field(min_length=1)
    stream: bool = False
