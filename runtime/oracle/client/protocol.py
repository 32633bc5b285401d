"""The LLM client interface and its message types.

:class:`LLMClient` is what the oracle talks to. Implementations:
:class:`~invest.runtime.oracle.client.http.HttpLLMClient` (OpenAI-compatible servers
and the Mistral API), :class:`~invest.runtime.oracle.client.cache.CachingLLMClient`
(replay by prompt hash), :class:`~invest.runtime.oracle.client.budget.BudgetedLLMClient`
(daily budget) and :class:`OfflineLLMClient` (no model configured).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal, Protocol, TypedDict, runtime_checkable

from invest.runtime.oracle.errors import LLMUnavailableError


class ChatMessage(TypedDict):
    """One chat message in the OpenAI shape."""

    role: Literal["system", "user", "assistant"]
    content: str


@dataclass(frozen=True, slots=True)
class ChatRequest:
    """A chat completion request, independent of the model that answers it.

    Attributes:
        messages: the conversation.
        temperature: sampling temperature.
        max_tokens: completion limit, or None for the server default.
        seed: sampling seed (also tells self-consistency samples apart in the cache).
        expect_json: the answer must contain JSON; if not, the next model is tried.
        json_mode: ask the server for ``response_format: json_object``.
    """

    messages: tuple[ChatMessage, ...]
    temperature: float = 0.0
    max_tokens: int | None = None
    seed: int | None = None
    expect_json: bool = True
    json_mode: bool = False

    def params(self) -> dict[str, Any]:
        """The sampling parameters, as hashed into the cache key."""
        return {
            "temperature": self.temperature,
            "max_tokens": self.max_tokens,
            "seed": self.seed,
            "json_mode": self.json_mode,
        }


@dataclass(frozen=True, slots=True)
class Usage:
    """Token usage as reported by the server's ``usage`` field."""

    prompt_tokens: int = 0
    completion_tokens: int = 0

    @property
    def total_tokens(self) -> int:
        """Prompt plus completion tokens."""
        return self.prompt_tokens + self.completion_tokens

    def __add__(self, other: Usage) -> Usage:
        return Usage(
            self.prompt_tokens + other.prompt_tokens,
            self.completion_tokens + other.completion_tokens,
        )

    def as_dict(self) -> dict[str, int]:
        """Plain dict for audit records and the cache."""
        return {"prompt_tokens": self.prompt_tokens, "completion_tokens": self.completion_tokens}


@dataclass(frozen=True, slots=True)
class ChatResponse:
    """A model's answer.

    Attributes:
        content: the assistant message text.
        model: the model that answered (may be a fallback).
        usage: tokens spent, summed over every model tried for this answer.
        latency_s: wall time of the request that answered.
        cached: True when replayed from the cache (cost nothing).
        attempts: HTTP requests made for this answer.
        notes: what went wrong before this answer (timeouts, fallbacks).
        truncated: the server stopped at the token limit.
    """

    content: str
    model: str
    usage: Usage = field(default_factory=Usage)
    latency_s: float = 0.0
    cached: bool = False
    attempts: int = 1
    notes: tuple[str, ...] = ()
    truncated: bool = False


@dataclass(frozen=True, slots=True)
class Health:
    """Result of a health check through ``/models``.

    Attributes:
        ok: the server answered and serves at least one configured model.
        models: model ids the server lists.
        missing: configured models it does not list.
        detail: one line for humans.
    """

    ok: bool
    models: tuple[str, ...] = ()
    missing: tuple[str, ...] = ()
    detail: str = ""


@runtime_checkable
class LLMClient(Protocol):
    """A chat model behind some transport."""

    @property
    def model(self) -> str:
        """The main model name (part of the cache key)."""
        ...

    def complete(self, request: ChatRequest) -> ChatResponse:
        """Answer one request.

        Raises:
            LLMUnavailableError: no model could answer (or budget spent, or cache miss).
        """
        ...

    def health(self) -> Health:
        """Check the server without raising."""
        ...

    def close(self) -> None:
        """Release connections."""
        ...


class OfflineLLMClient:
    """A client for accounts without a model: every request is unavailable."""

    def __init__(self, model: str = "none", reason: str = "no LLM configured") -> None:
        self.model = model
        self.reason = reason

    def complete(self, request: ChatRequest) -> ChatResponse:
        """Always raise :class:`LLMUnavailableError`."""
        raise LLMUnavailableError(self.reason)

    def health(self) -> Health:
        """Always unhealthy."""
        return Health(ok=False, detail=self.reason)

    def close(self) -> None:
        """Nothing to release."""
