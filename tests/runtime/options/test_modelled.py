"""The modelled chain: point-in-time, listed grid and expiries, smile, no-arbitrage, VIX."""

from __future__ import annotations

import itertools
import warnings
from dataclasses import replace
from datetime import date
from decimal import Decimal

import numpy as np
import pytest

from invest.runtime.clock import nyse
from invest.runtime.config.options import ModelledChainConfig, StrikeBand
from invest.runtime.data.frame import BarFrame, DateArray, FloatArray
from invest.runtime.data.sample import vix
from invest.runtime.errors import DataError
from invest.runtime.options.chain import OptionChain
from invest.runtime.options.contracts import Right
from invest.runtime.options.modelled import (
    ModelledChainSource,
    expiries,
    is_monthly,
    strike_grid,
    third_friday,
)
from invest.runtime.options.pricing import price, year_fraction

CFG = ModelledChainConfig()


def _walk(n: int, seed: int, start: float, vol: float = 0.015) -> FloatArray:
    rng = np.random.default_rng(seed)
    return start * np.exp(np.cumsum(rng.normal(0.0, vol, n)))


def _frame(start: str = "2015-06-01", end: str = "2016-12-30") -> BarFrame:
    dates = nyse().sessions(date.fromisoformat(start), date.fromisoformat(end))
    close = np.column_stack([_walk(len(dates), 1, 60.0), _walk(len(dates), 2, 2000.0, 0.01)])
    return BarFrame(dates=dates.copy(), symbols=("AAA", "SP500"), close=close, source="test")


def _vix_for(frame: BarFrame, level: float = 20.0) -> tuple[DateArray, FloatArray]:
    return frame.dates.copy(), np.full(len(frame.dates), level)


D = date(2016, 6, 15)  # a Wednesday, a session


def _model_mid(chain: OptionChain, q_iv: float, right: Right, strike: float, exp: date) -> float:
    t = float(year_fraction((exp - chain.as_of).days))
    return float(price(right, chain.spot, strike, t, q_iv, CFG.rate, CFG.dividend_yield))


def test_point_in_time_truncated_and_random_future_give_the_same_chains() -> None:
    full = _frame()
    row = full.row_for(D)
    truncated = full.rows(0, row + 1)
    future = full.close.copy()
    future[row + 1 :] = _walk(len(full) - row - 1, 99, 10.0, 0.05)[:, None] * [1.0, 100.0]
    other = replace(full, close=future)
    vix_dates, vix_values = _vix_for(full)
    vix_other = vix_values.copy()
    vix_other[row + 1 :] = 80.0
    a = ModelledChainSource(truncated, vix=(vix_dates[: row + 1], vix_values[: row + 1]))
    b = ModelledChainSource(other, vix=(vix_dates, vix_other))
    days = [full.day(i) for i in range(row - 30, row + 1)]
    for sym in ("AAA", "SP500"):
        assert a.chains(sym, days) == [b.chain(sym, day) for day in days]
    # and the future does move a later chain, so the comparison above can fail
    later = full.day(row + 5)
    assert ModelledChainSource(full).chain("AAA", later) != ModelledChainSource(other).chain(
        "AAA", later
    )


def test_chains_priced_together_equal_the_chains_one_by_one() -> None:
    frame = _frame()
    days = [frame.day(i) for i in range(frame.row_for(D) - 10, frame.row_for(D) + 1)]
    together = ModelledChainSource(frame, vix=_vix_for(frame)).chains("AAA", days)
    alone = ModelledChainSource(frame, vix=_vix_for(frame))
    assert together == [alone.chain("AAA", day) for day in days]
    assert len({c.spot for c in together}) == len(days)
    assert ModelledChainSource(frame).chains("AAA", []) == []


def test_strikes_lie_on_the_listed_grid_and_bracket_spot() -> None:
    chain = ModelledChainSource(_frame()).chain("AAA", D)
    assert chain.source == "modelled"
    assert chain.modelled
    assert any("modelled chain" in n for n in chain.notes)
    steps = [(b.below or float("inf"), Decimal(str(b.step))) for b in CFG.strike_grid]
    for q in chain.quotes:
        strike = q.contract.strike
        step = next(s for below, s in steps if strike < below)
        assert strike % step == 0, (strike, step)
    for exp in chain.expiries():
        ks = [float(q.contract.strike) for q in chain.side(exp, Right.CALL)]
        assert sum(k < chain.spot for k in ks) >= CFG.min_strikes_each_side
        assert sum(k > chain.spot for k in ks) >= CFG.min_strikes_each_side


def test_strike_grid_follows_the_bands() -> None:
    grid = strike_grid(3.0, 8.0, CFG.strike_grid)
    assert grid.tolist() == [3.0, 3.5, 4.0, 4.5, 5, 6, 7, 8]
    assert strike_grid(47.0, 56.0, CFG.strike_grid).tolist() == [47, 48, 49, 50, 52.5, 55]
    assert strike_grid(95.0, 215.0, CFG.strike_grid).tolist() == [95, 97.5, 100, 105] + [
        float(k) for k in range(110, 200, 5)
    ] + [200, 210]
    coarse = (StrikeBand(below=100, step=2.5), StrikeBand(step=25))
    assert strike_grid(95, 160, coarse).tolist() == [95, 97.5, 100, 125, 150]


def test_expiries_weeklies_monthlies_and_holiday_shift() -> None:
    cal = nyse()
    assert third_friday(2014, 4) == date(2014, 4, 18)  # Good Friday: no session
    exps = expiries(
        date(2014, 4, 1), weeklies=4, monthlies=2, weeklies_from=date(2010, 6, 4), cal=cal
    )
    assert exps == [
        date(2014, 4, 4),
        date(2014, 4, 11),
        date(2014, 4, 17),  # the monthly and the weekly of Good Friday, on Thursday
        date(2014, 4, 25),
        date(2014, 5, 16),
    ]
    assert is_monthly(date(2014, 4, 17))
    assert not is_monthly(date(2014, 4, 11))
    before = expiries(
        date(2008, 3, 3), weeklies=4, monthlies=2, weeklies_from=date(2010, 6, 4), cal=cal
    )
    assert before == [date(2008, 3, 20), date(2008, 4, 18)]  # 2008-03-21 was Good Friday
    # a stock in 2008 lists monthlies only, the index has weeklies
    frame = _frame("2007-06-01", "2008-12-31")
    src = ModelledChainSource(frame)
    assert src.chain("AAA", date(2008, 6, 2)).expiries() == [
        date(2008, 6, 20),
        date(2008, 7, 18),
        date(2008, 8, 15),
    ]
    assert len(src.chain("SP500", date(2008, 6, 2)).expiries()) == 6


def test_smile_is_richer_on_the_put_side() -> None:
    chain = ModelledChainSource(_frame()).chain("AAA", D)
    exp = chain.expiries()[3]
    calls = chain.side(exp, Right.CALL)
    iv = {float(q.contract.strike): q.iv for q in calls}
    ks = sorted(iv)
    below = [k for k in ks if k < chain.spot]
    above = [k for k in ks if k > chain.spot]
    assert all(iv[a] > iv[b] for a, b in itertools.pairwise(below))  # rising to the left
    # equally far in log-moneyness, the put-side strike has the higher IV
    x = 0.08
    lo = float(np.interp(chain.spot * np.exp(-x), ks, [iv[k] for k in ks]))
    hi = float(np.interp(chain.spot * np.exp(x), ks, [iv[k] for k in ks]))
    assert lo > hi
    assert above
    assert iv[above[0]] < iv[below[-1]]


def test_no_arbitrage_monotone_parity_and_quotes_around_the_model_mid() -> None:
    chain = ModelledChainSource(_frame()).chain("AAA", D)
    tick = CFG.tick
    for exp in chain.expiries():
        calls, puts = chain.side(exp, Right.CALL), chain.side(exp, Right.PUT)
        cm = [
            _model_mid(chain, q.iv or 0, Right.CALL, float(q.contract.strike), exp) for q in calls
        ]
        pm = [_model_mid(chain, q.iv or 0, Right.PUT, float(q.contract.strike), exp) for q in puts]
        assert all(a >= b for a, b in itertools.pairwise(cm))
        assert all(a <= b for a, b in itertools.pairwise(pm))
        t = float(year_fraction((exp - D).days))
        for c, p, c_mid, p_mid in zip(calls, puts, cm, pm, strict=True):
            k = float(c.contract.strike)
            assert c_mid - p_mid == pytest.approx(chain.spot - k * np.exp(-CFG.rate * t), abs=1e-9)
            # the quoted mids keep parity within the rounding to the tick
            quoted = (c.bid + c.ask) / 2 - (p.bid + p.ask) / 2
            assert quoted == pytest.approx(chain.spot - k * np.exp(-CFG.rate * t), abs=2 * tick)
        for q, mid in [*zip(calls, cm, strict=True), *zip(puts, pm, strict=True)]:
            assert 0 <= q.bid <= mid <= q.ask
            if q.bid > 0:  # a bid floored at 0 narrows the spread, nothing else does
                assert q.ask - q.bid >= CFG.min_spread - 1e-9
            assert round(q.bid / tick, 6) == round(q.bid / tick)
            assert round(q.ask / tick, 6) == round(q.ask / tick)


def test_the_vix_path_sets_the_premium_only_where_vix_has_the_previous_session() -> None:
    frame = _frame()
    row = frame.row_for(D)
    plain = ModelledChainSource(frame)
    dates, _ = _vix_for(frame)
    calm = ModelledChainSource(frame, vix=(dates, np.full(len(dates), 15.0)))
    nervous = ModelledChainSource(frame, vix=(dates, np.full(len(dates), 30.0)))
    iv_plain, how_plain = plain.atm_iv("AAA", D)
    iv_calm, how_calm = calm.atm_iv("AAA", D)
    iv_nervous, _ = nervous.atm_iv("AAA", D)
    assert "VRP" in how_plain
    assert "VIX" in how_calm
    assert iv_calm != pytest.approx(iv_plain)
    assert iv_nervous == pytest.approx(2 * iv_calm)  # unclipped: the ratio scales with VIX
    assert calm.chain("AAA", D) != plain.chain("AAA", D)
    # VIX only on days other than the previous session: the plain model
    gap = np.delete(dates, row - 1)
    holey = ModelledChainSource(frame, vix=(gap, np.full(len(gap), 30.0)))
    assert holey.chain("AAA", D) == plain.chain("AAA", D)
    # switched off in config: never read
    off = ModelledChainSource(
        frame, ModelledChainConfig(vix="off"), vix=(dates, np.full(len(dates), 30.0))
    )
    assert off.chain("AAA", D) == plain.chain("AAA", D)
    # the index's own ATM IV is VIX's level, to the two windows' difference
    iv_index, _ = nervous.atm_iv("SP500", D)
    assert iv_index == pytest.approx(0.30, rel=0.1)


def test_missing_bar_and_short_history_are_named() -> None:
    frame = _frame()
    src = ModelledChainSource(frame)
    with pytest.raises(DataError, match=r"no bar for AAA on 2016-06-18"):
        src.chain("AAA", date(2016, 6, 18))  # a Saturday
    close = frame.close.copy()
    close[frame.row_for(D), 0] = np.nan
    with pytest.raises(DataError, match=r"no bar for AAA on 2016-06-15"):
        ModelledChainSource(replace(frame, close=close)).chain("AAA", D)
    with pytest.raises(DataError, match=r"AAA has 5 sessions up to 2015-06-05.*needs 22"):
        src.chain("AAA", frame.day(4))
    close = frame.close.copy()
    close[frame.row_for(D) - 3, 0] = np.nan
    with pytest.raises(DataError, match="misses closes"):
        ModelledChainSource(replace(frame, close=close)).chain("AAA", D)


def test_the_bundled_vix_reader() -> None:
    dates, values = vix()
    assert str(dates[0]) == "2014-01-03"
    assert values[0] == 13.76
    assert str(dates[-1]) == "2019-01-03"
    assert np.datetime64("2014-01-20") not in dates  # '.' on Martin Luther King day: no value
    assert np.all(np.diff(dates).astype(int) > 0)
    assert np.all(values > 0)


def test_a_long_replay_forgets_expired_contracts(monkeypatch: pytest.MonkeyPatch) -> None:
    from invest.runtime.options import modelled

    monkeypatch.setattr(modelled, "_CONTRACTS_KEPT", 10)
    frame = _frame()
    src = ModelledChainSource(frame)
    early = src.chain("AAA", date(2016, 1, 15))
    late = src.chain("AAA", D)
    assert all(key[1] >= D for key in src._contracts)  # only the later chain's series are left
    assert late == ModelledChainSource(frame).chain("AAA", D)
    assert src.chain("AAA", date(2016, 1, 15)) == early  # made again when asked


def test_strikes_are_plain_decimals_without_exponents() -> None:
    from invest.runtime.data.sample import SampleData
    from invest.runtime.options.modelled import ModelledChainSource

    bars = SampleData().load(["KO"], end=date(2016, 6, 15))
    chain = ModelledChainSource(bars).chain("KO", date(2016, 6, 15))
    assert all("E" not in str(q.contract.strike) for q in chain)


def test_a_series_on_its_expiry_day_is_quoted_at_its_intrinsic_value() -> None:
    """An exit sent the day before expiry fills on the expiry day: the series trades."""
    from decimal import Decimal

    from invest.runtime.data.sample import SampleData
    from invest.runtime.options.contracts import OptionContract
    from invest.runtime.options.modelled import ModelledChainSource

    day = date(2016, 6, 17)  # a monthly expiry Friday
    bars = SampleData().load(["KO"], end=day)
    spot = float(bars.close[-1, 0])
    itm = OptionContract("KO", day, Right.PUT, Decimal(40))
    otm = OptionContract("KO", day, Right.CALL, Decimal(40))
    gone = OptionContract("KO", date(2016, 6, 10), Right.PUT, Decimal(40))
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no division by a zero time to expiry
        quotes = {
            q.contract: q for q in ModelledChainSource(bars).quotes_for("KO", day, [itm, otm, gone])
        }
    assert set(quotes) == {itm, otm}
    assert quotes[itm].bid <= 40 - spot <= quotes[itm].ask
    assert quotes[otm].bid == 0.0
