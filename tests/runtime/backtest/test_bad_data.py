"""Bad market data skips the symbol for that cycle, with an audit record; the run goes on."""

from __future__ import annotations

import numpy as np

from invest.runtime.backtest.runner import replay
from invest.runtime.config import parse_config
from invest.runtime.cycle import AccountRuntime
from invest.runtime.data.frame import BarFrame
from invest.runtime.data.sample import SampleData
from invest.runtime.market import Market

UNIVERSE = ["AAPL", "MSFT", "JNJ", "KO", "XOM", "WMT"]


def test_a_symbol_with_broken_bars_is_skipped_and_audited_while_the_rest_trades() -> None:
    frame = (
        SampleData().load([*UNIVERSE, "SP500"]).between(None, np.datetime64("2013-12-31").item())
    )
    close = frame.close.copy()
    j = frame.symbols.index("MSFT")
    bad = slice(len(close) - 120, len(close) - 100)
    close[bad, j] = np.nan  # a provider outage
    close[len(close) - 60, j] = -1.0  # and a corrupt print
    broken = BarFrame(
        dates=frame.dates, symbols=frame.symbols, close=close, adjusted=True, source="test"
    )
    settings = parse_config({"accounts": {"t": {"universe": UNIVERSE, "trend_king": {"top_n": 3}}}})
    acct = AccountRuntime.build("t", settings)
    result = replay(acct, Market(broken), np.datetime64("2013-01-02").item())
    assert len(result.days) == 252  # NYSE sessions of 2013
    skipped = [
        (d["day"], s) for d in result.decisions for s in d["skipped"] if s["symbol"] == "MSFT"
    ]
    assert len(skipped) == 21
    assert all(s["reason"] for _, s in skipped)
    assert any("NaN" in s["reason"] or "missing" in s["reason"] for _, s in skipped)
    assert len(result.fills) > 0
    assert np.isfinite(result.equity).all()
    # The original data is untouched: validation never "fixes" prices.
    assert np.isfinite(frame.close[bad, j]).all()
