"""The engine's daily report page in a real headless chromium, opened from disk with no network."""

from __future__ import annotations

import math
import os
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path

import pytest

from invest.runtime.domain import Fill, Side
from invest.runtime.reports import daily
from tests.browser_support import artifact_dir, chromium, external_urls, render

pytestmark = [
    pytest.mark.xdist_group("browser"),
    pytest.mark.skipif(
        chromium() is None and not os.environ.get("INVEST_REQUIRE_CHROMIUM"),
        reason="chromium is not installed (.ci/run installs it with apt-get)",
    ),
]


def ninety_sessions() -> daily.DailyPage:
    """Ninety weekdays of an account that rises, falls 8% and recovers, against SPY."""
    days = [d for d in (date(2024, 1, 1) + timedelta(i) for i in range(130)) if d.weekday() < 5]
    days = days[:90]
    equity = [10_000 * (1 + 0.002 * i - 0.08 * math.exp(-(((i - 50) / 8) ** 2))) for i in range(90)]
    fills = [
        Fill("c1", "alpha", "MSFT", Side.BUY, Decimal(3), Decimal("410.5"), Decimal(1), days[-1]),
        Fill("c2", "alpha", "XOM", Side.SELL, Decimal(7), Decimal("101.2"), Decimal(1), days[-1],
             "stop_loss"),
    ]  # fmt: skip
    record = {
        "day": days[-1].isoformat(),
        "account": "alpha",
        "regime": "risk_on",
        "equity": equity[-1],
        "orders": [
            {"side": "buy", "qty": "3", "symbol": "MSFT", "ref_price": "410.5", "reason": "rank 1"}
        ],
    }
    return daily.DailyPage(
        account="alpha",
        day=days[-1],
        days=days,
        equity=equity,
        benchmark="SPY",
        bench_days=days,
        bench_closes=[470 + 0.5 * i for i in range(90)],
        fills=fills,
        records=[record],
        risk=["realised VaR99 1.20% CVaR99 1.50% (normal 1.10%/1.30%), 89 d", "no position"],
    )


def test_the_daily_page_renders_in_chromium_offline(tmp_path: Path) -> None:
    path = daily.write_page(tmp_path, ninety_sessions())
    html = path.read_text(encoding="utf-8")
    assert '<meta charset="utf-8">' in html
    assert external_urls(html) == []
    shot = artifact_dir() / "daily-report.png"
    shot.unlink(missing_ok=True)
    result = render(path, shot)
    assert result.charts == ("equity",)
    assert result.problems() == []
    assert result.requests == ()
    assert shot.is_file()
