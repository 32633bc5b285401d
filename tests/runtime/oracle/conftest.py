"""Fixtures of the oracle tests: a scripted OpenAI-compatible server on 127.0.0.1, a clock."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest

from invest.runtime.oracle import LLMClient, MemoryStore, OracleConfig, build_client
from tests.runtime.oracle.support import FakeLLMServer, FixedClock


@pytest.fixture
def llm_server() -> Iterator[FakeLLMServer]:
    server = FakeLLMServer()
    server.start()
    yield server
    server.stop()


@pytest.fixture
def clock() -> FixedClock:
    return FixedClock()


@pytest.fixture
def store() -> MemoryStore:
    return MemoryStore()


@pytest.fixture
def sleeps() -> list[float]:
    """Retry waits the client asked for (nobody really sleeps)."""
    return []


@pytest.fixture
def make_client(
    store: MemoryStore, clock: FixedClock, sleeps: list[float]
) -> Iterator[Callable[..., LLMClient]]:
    """Build budgeted, caching clients over HTTP; all closed after the test."""
    made: list[LLMClient] = []

    def build(config: OracleConfig, **kwargs: Any) -> LLMClient:
        client = build_client(
            config, store, account="acct", now=clock.now, sleep=sleeps.append, **kwargs
        )
        made.append(client)
        return client

    yield build
    for client in made:
        client.close()
