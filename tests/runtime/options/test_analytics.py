"""ATM IV, the 25-delta skew and the IV percentile on hand-built chains."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, timedelta
from decimal import Decimal

import numpy as np
import pytest

from invest.runtime.errors import DataError
from invest.runtime.options.analytics import atm_iv, iv_percentile, quote_iv, skew
from invest.runtime.options.chain import OptionChain, OptionQuote
from invest.runtime.options.contracts import OptionContract, Right
from invest.runtime.options.pricing import greeks, year_fraction

AS_OF = date(2024, 3, 1)
EXP = AS_OF + timedelta(days=30)
SPOT = 100.0


def _chain(
    vol: Callable[[Right, float], float],
    *,
    with_iv: bool = True,
    strikes: range = range(70, 131, 5),
) -> OptionChain:
    """Quotes priced by BSM at ``vol(right, strike)``; bid = ask = the price."""
    t = float(year_fraction(30))
    quotes = []
    for right in (Right.CALL, Right.PUT):
        for k in strikes:
            v = vol(right, k)
            g = greeks(right, SPOT, float(k), t, v)
            p = float(g.price)
            quotes.append(
                OptionQuote(
                    OptionContract("XYZ", EXP, right, Decimal(k)),
                    bid=p,
                    ask=p,
                    iv=v if with_iv else None,
                    delta=float(g.delta) if with_iv else None,
                )
            )
    return OptionChain("XYZ", AS_OF, SPOT, tuple(quotes), source="test")


def test_atm_iv_interpolates_at_spot() -> None:
    flat = _chain(lambda r, k: 0.2)
    assert atm_iv(flat, EXP) == pytest.approx(0.2)
    sloped = _chain(lambda r, k: 0.2 + 0.001 * (100 - k))
    assert atm_iv(sloped, EXP) == pytest.approx(0.2)
    off = OptionChain("XYZ", AS_OF, 102.5, sloped.quotes, source="test")
    assert atm_iv(off, EXP) == pytest.approx(0.2 - 0.0025)


def test_atm_iv_implies_from_mids_when_the_source_gives_no_iv() -> None:
    chain = _chain(lambda r, k: 0.25, with_iv=False)
    assert quote_iv(chain, chain.quotes[5]) == pytest.approx(0.25, abs=1e-6)
    assert atm_iv(chain, EXP) == pytest.approx(0.25, abs=1e-6)


def test_atm_iv_needs_strikes_around_spot() -> None:
    chain = _chain(lambda r, k: 0.2, strikes=range(105, 131, 5))
    with pytest.raises(DataError, match=r"do not bracket spot 100\.0"):
        atm_iv(chain, EXP)
    with pytest.raises(DataError, match="no quote with an implied volatility"):
        atm_iv(chain, EXP + timedelta(days=7))


def test_skew_is_the_25_delta_put_iv_minus_the_25_delta_call_iv() -> None:
    assert skew(_chain(lambda r, k: 0.2), EXP) == pytest.approx(0.0, abs=1e-12)
    split = _chain(lambda r, k: 0.30 if r is Right.PUT else 0.20)
    assert skew(split, EXP) == pytest.approx(0.10)
    # a smile falling with strike: the put at -0.25 sits below spot, the call above
    smile = _chain(lambda r, k: 0.2 + 0.004 * (100 - k), with_iv=False)
    s = skew(smile, EXP)
    assert 0.02 < s < 0.2


def test_skew_refuses_when_deltas_do_not_reach_25() -> None:
    narrow = _chain(lambda r, k: 0.2, strikes=range(98, 103))
    with pytest.raises(DataError, match=r"do not bracket 0\.25"):
        skew(narrow, EXP)


def test_iv_percentile_counts_the_trailing_window_below_today() -> None:
    history = np.arange(1.0, 11.0)  # 1..10
    assert iv_percentile(history, 5.5, 10) == 0.5
    assert iv_percentile(history, 5.5, 4) == 0.0  # only 7..10 are in the window
    assert iv_percentile(history, 11.0, 4) == 1.0
    assert iv_percentile([np.nan, 1.0, np.nan, 3.0], 2.0, 4) == 0.5
    with pytest.raises(DataError, match="at least 1 day"):
        iv_percentile(history, 5.0, 0)
    with pytest.raises(DataError, match="no IV value in the last 2 days"):
        iv_percentile([1.0, np.nan, np.nan], 5.0, 2)
