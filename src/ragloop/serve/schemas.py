"""Request and response bodies of the HTTP API (published in ``/openapi.json``)."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from ragloop.answer.strategies import STRATEGIES
from ragloop.index.store import Filters
from ragloop.records import Citation

MAX_CHAT_MESSAGES = 1000
MAX_OFFSET = 2**31 - 1  # beyond any trace count; larger numbers overflow the store's integers


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class FiltersIn(Strict):
    sources: list[str] = Field(default_factory=list, description="Only these source paths.")
    path_glob: str | None = Field(default=None, description="Only sources matching this glob.")
    modified_after: float | None = Field(default=None, description="Only documents modified "
                                                                   "after this Unix time.")
    modified_before: float | None = Field(default=None, description="Only documents modified "
                                                                    "before this Unix time.")
    fields: dict[str, Any] = Field(default_factory=dict, description="Metadata fields that "
                                                                     "must equal these values.")

    def to_filters(self) -> Filters:
        return Filters(sources=tuple(self.sources), path_glob=self.path_glob,
                       modified_after=self.modified_after, modified_before=self.modified_before,
                       fields=dict(self.fields))


class AskRequest(Strict):
    question: str = Field(min_length=1)  # at most [serve] max_question_chars
    mode: Literal["fast", "slow", "auto"] | None = None
    strategy: str | None = None
    filters: FiltersIn | None = None
    stream: bool = False

    @field_validator("strategy")
    @classmethod
    def _known_strategy(cls, name: str | None) -> str | None:
        if name is not None and name not in STRATEGIES:
            raise ValueError(f"unknown strategy {name!r}; choose from "
                             f"{', '.join(sorted(STRATEGIES))}")
        return name


class ChatRequest(AskRequest):
    """A turn of a conversation: ``conversation_id`` None starts one (its id comes back)."""

    conversation_id: str | None = Field(default=None, min_length=1, max_length=200)


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
    route: dict[str, Any] = Field(description="What answered and why: mode, chosen, reason "
                                              "(e.g. the router's fallback to extract), floor, "
                                              "escalated")
    cached: bool = Field(description="Every model call came from the cache")
    model_calls: int = Field(description="Model calls the answer made (0: extract)")
    usage: dict[str, int]


class ChatResponse(AskResponse):
    conversation_id: str = Field(description="The conversation this turn belongs to: send it "
                                             "with the next question")
    search_query: str | None = Field(default=None, description="What retrieval searched "
                                                               "for a follow-up")


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


class ContentPart(BaseModel):
    model_config = ConfigDict(extra="allow")  # image_url, input_audio...: accepted, not used
    type: str
    text: str | None = None  # a string when type is "text" (ChatMessageIn checks)


class ChatMessageIn(BaseModel):
    model_config = ConfigDict(extra="allow")  # OpenAI clients send name, tool fields...
    role: str
    content: str | list[ContentPart] | None = None

    @field_validator("content", mode="before")
    @classmethod
    def _content_shape(cls, content: Any) -> Any:
        """Say which part is wrong (a plain union error would only say "not a string")."""
        if content is None or isinstance(content, str):
            return content
        if not isinstance(content, list):
            raise ValueError("content must be a string or a list of content parts")
        for i, part in enumerate(content):
            if not isinstance(part, dict) or not isinstance(part.get("type"), str):
                raise ValueError(f"content part {i} must be an object with a 'type'")
            if part["type"] == "text" and not isinstance(part.get("text"), str):
                raise ValueError(f"content part {i} of type 'text' needs a string 'text' "
                                 f"(got {type(part.get('text')).__name__})")
        return content


class ChatCompletionRequest(BaseModel):
    model_config = ConfigDict(extra="allow")  # temperature, top_p... accepted and ignored
    model: str = "ragloop"
    messages: list[ChatMessageIn] = Field(min_length=1, max_length=MAX_CHAT_MESSAGES)
    stream: bool = False
