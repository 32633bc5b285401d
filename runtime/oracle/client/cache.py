"""Replayable answers: responses cached under the hash of model, messages and parameters.

A backtest that replays a period a second time costs nothing and gets the same
answers, so its verdicts are reproducible. ``replay_only`` turns a cache miss
into an abstention instead of a request.
"""

from __future__ import annotations

import hashlib
import json
import logging

from invest.runtime.oracle.client.protocol import (
    ChatRequest,
    ChatResponse,
    Health,
    LLMClient,
    Usage,
)
from invest.runtime.oracle.errors import CacheMissError
from invest.runtime.oracle.store import Store

logger = logging.getLogger(__name__)


def prompt_hash(model: str, request: ChatRequest) -> str:
    """sha256 of the model, the messages and the sampling parameters (hex)."""
    canonical = json.dumps(
        {"model": model, "messages": list(request.messages), "params": request.params()},
        sort_keys=True,
        ensure_ascii=False,
        separators=(",", ":"),
    )
    return hashlib.sha256(canonical.encode()).hexdigest()


class CachingLLMClient:
    """Answer from the :class:`Store` when the same prompt was asked before.

    Args:
        inner: the client that really asks (usually budgeted HTTP).
        store: where answers are kept.
        replay_only: never ask ``inner``; a miss raises :class:`CacheMissError`.
    """

    def __init__(self, inner: LLMClient, store: Store, *, replay_only: bool = False) -> None:
        self.inner = inner
        self.store = store
        self.replay_only = replay_only

    @property
    def model(self) -> str:
        """The inner client's main model."""
        return self.inner.model

    def complete(self, request: ChatRequest) -> ChatResponse:
        """Replay a cached answer, or ask and cache.

        Raises:
            CacheMissError: replay-only and nothing cached.
            LLMUnavailableError: from the inner client.
        """
        key = prompt_hash(self.model, request)
        hit = self.store.cache_get(key)
        if hit is not None:
            logger.debug("llm cache hit %s", key[:12])
            return _from_cache(hit)
        if self.replay_only:
            raise CacheMissError(f"no cached answer for prompt {key[:12]} (replay only)")
        response = self.inner.complete(request)
        self.store.cache_put(
            key,
            {
                "content": response.content,
                "model": response.model,
                "usage": response.usage.as_dict(),
                "truncated": response.truncated,
            },
        )
        return response

    def health(self) -> Health:
        """The inner client's health (replay-only is always healthy)."""
        if self.replay_only:
            return Health(ok=True, detail="replay only")
        return self.inner.health()

    def close(self) -> None:
        """Close the inner client."""
        self.inner.close()


def _from_cache(hit: dict[str, object]) -> ChatResponse:
    raw_usage = hit.get("usage")
    usage = Usage()
    if isinstance(raw_usage, dict):
        usage = Usage(
            int(raw_usage.get("prompt_tokens", 0)), int(raw_usage.get("completion_tokens", 0))
        )
    return ChatResponse(
        content=str(hit.get("content", "")),
        model=str(hit.get("model", "")),
        usage=usage,
        cached=True,
        attempts=0,
        truncated=bool(hit.get("truncated", False)),
    )
