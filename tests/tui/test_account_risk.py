"""The account screen's risk panel: the realised VaR of the ledger's own equity, the forward
VaR of today's weights on the sample's closes, the book and the drawdown."""

from __future__ import annotations

import math
from contextlib import closing
from itertools import pairwise

import pytest
from textual.widgets import Static

from invest.runtime.ledger import reads
from invest.runtime.ledger.views import AccountDetail, AccountInfo, AccountSummary, PositionRow
from invest.tui.data.market import Prices
from invest.tui.data.risk import account_snapshot, history_start
from invest.tui.screens.account import AccountScreen

from .conftest import settle

pytestmark = pytest.mark.anyio


async def test_the_panel_shows_the_ledgers_var_the_forward_var_and_the_book(
    make_app, paths
) -> None:
    with closing(reads.connect_readonly(paths.ledger)) as conn:
        eq = [v for _, v in reads.equity_curve(conn, "defensive-weekly")]
    # By hand: the last (up to) 252 daily returns sorted; k = ceil(n * 0.01) worst at 99%.
    window = sorted(b / a - 1 for a, b in pairwise(eq[-253:]))
    k = math.ceil(len(window) * 0.01)
    var99, cvar99 = -window[k - 1], -sum(window[:k]) / k
    app = make_app()
    async with app.run_test(size=(160, 48)) as pilot:
        await settle(pilot)
        app.open_account("defensive-weekly")
        await settle(pilot)
        screen = app.screen
        assert isinstance(screen, AccountScreen)
        lines = str(screen.query_one("#acct-risk", Static).content).splitlines()
    assert lines[0].startswith(f"realised VaR99 {var99:.2%} CVaR99 {cvar99:.2%} (normal ")
    assert lines[0].endswith(f", {len(window)} d")
    assert lines[1].startswith("forward VaR99 ")
    assert "n/a" not in lines[1]  # the sample holds the five names' closes
    # five names of about a tenth of equity each (the positions table's values)
    assert lines[2].startswith("largest PG 11.2%, top 3 ")
    assert "; DD -9.2% (max " in lines[2]  # the headline's DD
    assert max(len(x) for x in lines) <= 78  # fits the 80-column screen with its padding


def _detail(quantities: dict[str, float], equity: float) -> AccountDetail:
    info = AccountInfo("acct", "trend_king", equity, {}, "ACTIVE", equity, "2024-06-28")
    summary = AccountSummary(info, equity=equity, first_day="2024-01-02", last_day="2024-06-28")
    positions = [
        PositionRow(s, q, 100.0, "2024-01-02", None, None, None) for s, q in quantities.items()
    ]
    return AccountDetail(summary, curve=[("2024-06-28", equity)], positions=positions)


def test_forward_var_moves_with_the_position_and_uses_closes_up_to_the_last_session() -> None:
    days = [f"2024-{m:02d}-{d:02d}" for m in range(1, 8) for d in range(1, 29)]
    wave = [100 * (1 + 0.02 * math.sin(i * 1.7)) for i in range(len(days))]
    prices = Prices(days, {"AAA": wave})
    marks = {"AAA": 100.0}
    small = account_snapshot(_detail({"AAA": 10}, 10_000.0), marks, prices)
    big = account_snapshot(_detail({"AAA": 50}, 10_000.0), marks, prices)
    assert small is not None
    assert big is not None
    assert small.forward is not None
    assert big.forward is not None
    assert big.forward.var99 == pytest.approx(5 * small.forward.var99)
    assert small.largest == ("AAA", 0.1)
    # closes after the last session (2024-06-28) are not read
    assert small.forward.days == days.index("2024-06-28")
    online = account_snapshot(_detail({"AAA": 10}, 10_000.0), marks, None)
    assert online is not None
    assert online.forward_note == "n/a (no market data here)"


def test_the_closes_reach_a_year_back() -> None:
    assert history_start("2022-06-01", "2022-12-28") == "2021-12-13"
    assert history_start("2020-01-02", "2022-12-28") == "2020-01-02"
