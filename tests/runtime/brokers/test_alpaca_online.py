"""Against Alpaca's real paper endpoint (marked online: deselected by default; read-only).

Run with ``pytest -m online tests/runtime/brokers`` and ALPACA_API_KEY /
ALPACA_SECRET_KEY (paper keys) in the environment. Nothing is ordered.
"""

from __future__ import annotations

import os
from datetime import timedelta
from decimal import Decimal

import pytest

from invest.runtime.adapters.alpaca.broker import AlpacaBroker
from invest.runtime.clock import SystemClock
from invest.runtime.config.alpaca import AlpacaConfig

pytestmark = pytest.mark.online


@pytest.fixture
def paper() -> AlpacaBroker:
    key, secret = os.environ.get("ALPACA_API_KEY"), os.environ.get("ALPACA_SECRET_KEY")
    if not key or not secret:
        pytest.skip("ALPACA_API_KEY and ALPACA_SECRET_KEY (paper) are not set")
    return AlpacaBroker(AlpacaConfig(), key, secret, account="online-test")


def test_the_paper_account_answers_the_reconciliation_reads(paper: AlpacaBroker) -> None:
    try:
        held = paper.positions()
        assert all(isinstance(q, Decimal) for q in held.values())
        assert all(o.account == "online-test" for o in paper.open_orders())
        fills = paper.fills_since(SystemClock().now() - timedelta(days=7))
        assert all(f.quantity > 0 for f in fills)
    finally:
        paper.close()
