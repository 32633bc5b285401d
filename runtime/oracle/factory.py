"""Assemble the oracle's client stack: cache -> daily budget -> HTTP.

A cached answer costs nothing and sends nothing; a spent budget stops a
request before it is sent; the HTTP client handles retries and fallbacks.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import TypeVar

import httpx

from invest.runtime.config.oracle import OracleConfig
from invest.runtime.oracle.base import OracleBase
from invest.runtime.oracle.budget import BudgetedLLMClient, DailyBudget
from invest.runtime.oracle.cache import CachingLLMClient
from invest.runtime.oracle.client import LLMClient
from invest.runtime.oracle.gate_oracle import GateOracle
from invest.runtime.oracle.http_client import HttpLLMClient
from invest.runtime.oracle.manager import ManagerOracle
from invest.runtime.oracle.store import JsonFileStore, Store

OracleT = TypeVar("OracleT", bound=OracleBase)


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


def build_account_oracle(
    cls: type[OracleT],
    config: OracleConfig,
    account: str,
    home: Path,
    *,
    now: Callable[[], datetime],
    replay_only: bool = False,
    store: Store | None = None,
) -> OracleT:
    """An account's ``cls`` oracle over the cached, budgeted client of :func:`build_client`.

    Args:
        cls: :class:`GateOracle` or :class:`ManagerOracle`.
        config: the account's oracle settings.
        account: the account name (budgets and audits are per account).
        home: the data directory; each cycle's audit file goes to ``home/oracle/cycles``.
        now: the clock.
        replay_only: never call the LLM; a prompt not in the cache counts as unavailable.
        store: cache, audit and usage storage (default: JSON files in ``home/oracle``).
    """
    store = store or JsonFileStore(home / "oracle")
    client = build_client(config, store, account=account, now=now, replay_only=replay_only)
    return cls(
        config, client, store, account=account, now=now, audit_dir=home / "oracle" / "cycles"
    )
