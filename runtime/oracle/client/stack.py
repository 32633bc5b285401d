"""Assemble an account's LLM client stack: cache -> daily budget -> HTTP.

A cached answer costs nothing and sends nothing; a spent budget stops a
request before it is sent; the HTTP client handles retries and fallbacks.
Every provider goes through the same stack (see :mod:`invest.runtime.oracle.client`).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import datetime

import httpx

from invest.runtime.config.oracle import OracleConfig
from invest.runtime.oracle.client.budget import BudgetedLLMClient, DailyBudget
from invest.runtime.oracle.client.cache import CachingLLMClient
from invest.runtime.oracle.client.http import HttpLLMClient
from invest.runtime.oracle.client.protocol import LLMClient
from invest.runtime.oracle.store import Store


def build_client(
    config: OracleConfig,
    store: Store,
    *,
    account: str,
    now: Callable[[], datetime],
    transport: httpx.BaseTransport | None = None,
    sleep: Callable[[float], None] = time.sleep,
    cache: bool = True,
    replay_only: bool = False,
) -> LLMClient:
    """The client an account's oracle uses; close it when the engine stops.

    Args:
        config: the account's oracle settings.
        store: cache and budget storage.
        account: the account name (budgets are per account).
        now: the clock.
        transport: an httpx transport, for tests.
        sleep: the retry wait, for tests.
        cache: replay answers to prompts asked before (always on for backtests).
        replay_only: never send a request; a cache miss means "unavailable".
    """
    http = HttpLLMClient(config, transport=transport, sleep=sleep, now=now)
    budgeted = BudgetedLLMClient(http, DailyBudget(config, store, account=account, now=now))
    if cache or replay_only:
        return CachingLLMClient(budgeted, store, replay_only=replay_only)
    return budgeted
