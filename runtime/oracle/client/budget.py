"""The daily token or cost budget of an account.

:class:`BudgetedLLMClient` sits between the cache and the HTTP client: cached
replays cost nothing, and a spent budget stops requests before they are sent.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime

from invest.runtime.config.oracle import OracleConfig
from invest.runtime.oracle.client.protocol import (
    ChatRequest,
    ChatResponse,
    Health,
    LLMClient,
    Usage,
)
from invest.runtime.oracle.errors import BudgetExceededError
from invest.runtime.oracle.store import Store

logger = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class BudgetStatus:
    """What an account spent today and whether it may spend more."""

    day: date
    tokens: int
    cost_usd: float
    exhausted: bool
    reason: str = ""


class DailyBudget:
    """Count tokens and cost per account and day in a :class:`Store`.

    The day is the date of the injected clock's ``now()`` (give it the exchange
    time zone to roll over at local midnight).
    """

    def __init__(
        self, config: OracleConfig, store: Store, *, account: str, now: Callable[[], datetime]
    ) -> None:
        self.config = config
        self.store = store
        self.account = account
        self._now = now

    def cost_usd(self, usage: Usage) -> float:
        """Price of ``usage`` at the configured rates."""
        return (
            usage.prompt_tokens * self.config.usd_per_million_input_tokens
            + usage.completion_tokens * self.config.usd_per_million_output_tokens
        ) / 1_000_000

    def status(self) -> BudgetStatus:
        """Today's spend and whether the budget is used up."""
        day = self._now().date()
        spent = self.store.usage_get(self.account, day)
        reason = ""
        max_tokens, max_usd = self.config.budget_tokens_per_day, self.config.budget_usd_per_day
        if max_tokens is not None and spent.tokens >= max_tokens:
            reason = f"daily token budget spent ({spent.tokens}/{max_tokens})"
        elif max_usd is not None and spent.cost_usd >= max_usd:
            reason = f"daily cost budget spent (${spent.cost_usd:.4f}/${max_usd:.4f})"
        return BudgetStatus(day, spent.tokens, spent.cost_usd, bool(reason), reason)

    def record(self, usage: Usage) -> None:
        """Add ``usage`` to today's spend."""
        if usage.total_tokens:
            day = self._now().date()
            self.store.usage_add(self.account, day, usage.total_tokens, self.cost_usd(usage))


class BudgetedLLMClient:
    """Refuse requests once the daily budget is spent; record what answers cost."""

    def __init__(self, inner: LLMClient, budget: DailyBudget) -> None:
        self.inner = inner
        self.budget = budget

    @property
    def model(self) -> str:
        """The inner client's main model."""
        return self.inner.model

    def complete(self, request: ChatRequest) -> ChatResponse:
        """Check the budget, ask the inner client, record the tokens.

        Raises:
            BudgetExceededError: the budget is spent; nothing was sent.
            LLMUnavailableError: from the inner client.
        """
        status = self.budget.status()
        if status.exhausted:
            logger.warning("llm budget of account %s: %s", self.budget.account, status.reason)
            raise BudgetExceededError(status.reason)
        response = self.inner.complete(request)
        if not response.cached:
            self.budget.record(response.usage)
        return response

    def health(self) -> Health:
        """The inner client's health."""
        return self.inner.health()

    def close(self) -> None:
        """Close the inner client."""
        self.inner.close()
