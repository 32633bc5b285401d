"""Fixtures of the Alpaca broker tests."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.runtime.brokers.support import FakeAlpaca, serve


@pytest.fixture
def alpaca() -> Iterator[FakeAlpaca]:
    with serve() as fake:
        yield fake
