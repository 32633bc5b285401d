"""Assemble the oracle's client stack: cache -> daily budget -> HTTP.

A cached answer costs nothing and sends nothing; a spent budget stops a
request before it is sent; the HTTP client handles retries and fallbacks.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import datetime
from pathlib import Path

import httpx

from invest.runtime.oracle.budget import BudgetedLLMClient, DailyBudget
from invest.runtime.oracle.cache import CachingLLMClient
from invest.runtime.oracle.client import LLMClient
from invest.runtime.oracle.config import OracleConfig
from invest.runtime.oracle.gate_oracle import GateOracle
from invest.runtime.oracle.http_client import HttpLLMClient
from invest.runtime.oracle.manager import ManagerOracle
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


def build_oracle(
    config: OracleConfig,
    client: LLMClient,
    store: Store,
    *,
    account: str,
    now: Callable[[], datetime],
    audit_dir: Path | None = None,
) -> GateOracle | ManagerOracle:
    """The oracle of ``config.mode``: a :class:`GateOracle` or a :class:`ManagerOracle`."""
    cls = GateOracle if config.mode == "gate" else ManagerOracle
    return cls(config, client, store, account=account, now=now, audit_dir=audit_dir)
