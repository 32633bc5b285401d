"""Features: hand-computed values, pure-python references, causality, NaN handling, spec."""

from __future__ import annotations

import hashlib
import json
import math
import statistics
from collections.abc import Callable, Sequence

import numpy as np
import numpy.typing as npt
import pandas as pd
import pytest

from invest.runtime import features as F
from invest.runtime.data.sample import SampleData

FloatArray = npt.NDArray[np.float64]
NAN = math.nan


# --------------------------------------------------------------------------- helpers


def random_walk(t: int, n: int, seed: int = 0, start: float = 100.0) -> FloatArray:
    """Positive prices following a geometric random walk, shape (t, n)."""
    rng = np.random.default_rng(seed)
    steps = rng.normal(0.0003, 0.02, (t, n))
    return start * np.exp(np.cumsum(steps, axis=0))


def with_gaps(close: FloatArray, seed: int = 1) -> FloatArray:
    """A copy with a late-listed column, scattered missing bars and one longer gap."""
    out = close.copy()
    rng = np.random.default_rng(seed)
    out[rng.random(out.shape) < 0.01] = np.nan
    if out.shape[1] > 1:
        out[:137, 1] = np.nan  # listed later
    out[300:305, 0] = np.nan  # a week of missing bars
    return out


def sample_close() -> FloatArray:
    """Real closes of two stocks and the index from the bundled sample."""
    close: FloatArray = SampleData().load(["AAPL", "MSFT", "SP500"]).close
    return close


def naive_windows(
    x: Sequence[float], window: int, fn: Callable[[Sequence[float]], float]
) -> list[float]:
    """``fn`` over each trailing window; NaN during warm-up or if the window has a NaN."""
    out = []
    for t in range(len(x)):
        win = list(x[max(0, t - window + 1) : t + 1])
        ok = len(win) == window and not any(math.isnan(v) for v in win)
        out.append(fn(win) if ok else NAN)
    return out


def ema_reference(values: Sequence[float], span: int) -> list[float]:
    """Textbook EMA, alpha = 2 / (span + 1), seeded with the first value."""
    alpha = 2.0 / (span + 1.0)
    out = [values[0]]
    for v in values[1:]:
        out.append(alpha * v + (1.0 - alpha) * out[-1])
    return out


def wilder_average_reference(values: Sequence[float], period: int) -> list[float]:
    """Wilder's average: simple mean of the first ``period`` values, then recursive."""
    out = [NAN] * len(values)
    avg = sum(values[:period]) / period
    out[period - 1] = avg
    for i in range(period, len(values)):
        avg = (avg * (period - 1) + values[i]) / period
        out[i] = avg
    return out


def wilder_rsi_reference(closes: Sequence[float], period: int) -> list[float]:
    """Straightforward Wilder RSI, as in "New Concepts in Technical Trading Systems"."""
    out = [NAN] * len(closes)
    changes = [closes[i] - closes[i - 1] for i in range(1, len(closes))]
    gains = [max(d, 0.0) for d in changes]
    losses = [max(-d, 0.0) for d in changes]
    avg_gain = sum(gains[:period]) / period
    avg_loss = sum(losses[:period]) / period
    for i in range(period, len(closes)):
        if i > period:
            avg_gain = (avg_gain * (period - 1) + gains[i - 1]) / period
            avg_loss = (avg_loss * (period - 1) + losses[i - 1]) / period
        if avg_loss == 0:
            out[i] = 100.0 if avg_gain > 0 else 50.0
        else:
            out[i] = 100.0 - 100.0 / (1.0 + avg_gain / avg_loss)
    return out


def assert_same(actual: FloatArray, expected: FloatArray | Sequence[float] | float) -> None:
    """Equal within 1e-12 (relative) with NaN in exactly the same places."""
    np.testing.assert_allclose(actual, np.asarray(expected, dtype=np.float64), rtol=1e-12, atol=0)


# --------------------------------------------------------------------------- known values


def test_log_returns_match_hand_computed_values() -> None:
    close = np.array([1.0, 2.0, 4.0, 2.0])
    assert_same(F.log_returns(close), [NAN, math.log(2), math.log(2), -math.log(2)])
    assert_same(F.log_returns(close, periods=2), [NAN, NAN, math.log(4), 0.0])


def test_momentum_on_doubling_prices_is_one_per_step() -> None:
    close = np.array([1.0, 2.0, 4.0])
    assert_same(F.momentum(close, 1), [NAN, 1.0, 1.0])
    assert_same(F.momentum(close, 2), [NAN, NAN, 3.0])


def test_rolling_mean_matches_hand_computed_values() -> None:
    x = np.array([1.0, 2.0, 3.0, 4.0, 5.0])
    assert_same(F.rolling_mean(x, 3), [NAN, NAN, 2.0, 3.0, 4.0])
    assert_same(F.rolling_mean(x, 1), x)
    assert_same(F.rolling_mean(x, 5), [NAN, NAN, NAN, NAN, 3.0])
    assert np.isnan(F.rolling_mean(x, 6)).all()


def test_rolling_std_matches_statistics_stdev() -> None:
    x = [2.0, 4.0, 4.0, 4.0, 5.0, 5.0, 7.0, 9.0, 3.5, 1.25]
    expected = naive_windows(x, 4, statistics.stdev)
    assert_same(F.rolling_std(np.array(x), 4), expected)
    expected_pop = naive_windows(x, 4, statistics.pstdev)
    assert_same(F.rolling_std(np.array(x), 4, ddof=0), expected_pop)


def test_rolling_max_and_drawdown_match_hand_computed_values() -> None:
    close = np.array([1.0, 2.0, 1.0, 3.0, 1.5])
    assert_same(F.rolling_max(close, 3), [NAN, NAN, 2.0, 3.0, 3.0])
    assert_same(F.drawdown(close, 3), [NAN, NAN, -0.5, 0.0, -0.5])


def test_sma_distance_matches_hand_computed_values() -> None:
    close = np.array([1.0, 1.0, 1.0, 2.0])
    assert_same(F.sma_distance(close, 2), [NAN, 0.0, 0.0, 2.0 / 1.5 - 1.0])


def test_zscore_matches_hand_computed_values() -> None:
    x = np.array([1.0, 2.0, 3.0, 3.0, 3.0])
    z = F.zscore(x, 3)
    assert_same(z[:3], [NAN, NAN, (3.0 - 2.0) / 1.0])
    assert_same(z[3], (3.0 - 8.0 / 3.0) / statistics.stdev([2.0, 3.0, 3.0]))
    assert z[4] == 0.0  # constant window: the value is the mean


def test_volatility_is_the_rolling_std_of_daily_log_returns() -> None:
    close = random_walk(120, 2, seed=3)
    vol = F.volatility(close, 20)
    assert_same(vol, F.rolling_std(F.log_returns(close), 20))
    assert np.isnan(vol[:20]).all()
    assert np.isfinite(vol[20:]).all()
    r = np.log(close[1:21, 0] / close[:20, 0])
    assert vol[20, 0] == pytest.approx(statistics.stdev(r.tolist()), rel=1e-12)
    assert_same(F.volatility(close, 20, annualised=True), vol * math.sqrt(252))


def test_risk_adjusted_momentum_is_momentum_over_volatility_scaled_to_the_horizon() -> None:
    close = random_walk(300, 3, seed=4)
    ram = F.risk_adjusted_momentum(close, 126, 20)
    expected = F.momentum(close, 126) / (F.volatility(close, 20) * math.sqrt(126))
    assert_same(ram, expected)
    # The ranking is the same as ranking by 6-month return over 20-day volatility.
    plain = F.momentum(close, 126) / F.volatility(close, 20)
    t = 299
    assert list(np.argsort(ram[t])) == list(np.argsort(plain[t]))


def test_risk_adjusted_momentum_is_nan_when_there_is_no_volatility() -> None:
    close = np.concatenate([np.linspace(50.0, 100.0, 130), np.full(25, 100.0)])
    ram = F.risk_adjusted_momentum(close, 126, 20)
    assert np.isnan(ram[-1])  # 20 unchanged closes: zero volatility, ratio undefined
    assert np.isfinite(ram[135])


def test_bollinger_position_is_one_half_when_the_close_equals_the_mean() -> None:
    close = np.array([1.0, 3.0, 2.0, 2.0, 2.0, 2.0])
    pos = F.bollinger_position(close, 3, 2.0)
    assert np.isnan(pos[:2]).all()
    assert pos[2] == pytest.approx(0.5, abs=1e-15)  # mean of 1, 3, 2 is 2
    assert pos[5] == 0.5  # constant window: zero-width band


def test_bollinger_position_matches_the_band_formula() -> None:
    close = np.array([1.0, 2.0, 3.0])
    sd = statistics.pstdev([1.0, 2.0, 3.0])
    lower, upper = 2.0 - 2.0 * sd, 2.0 + 2.0 * sd
    pos = F.bollinger_position(close, 3, 2.0)
    assert pos[2] == pytest.approx((3.0 - lower) / (upper - lower), rel=1e-12)
    sample_sd = statistics.stdev([1.0, 2.0, 3.0])
    pos1 = F.bollinger_position(close, 3, 1.0, ddof=1)
    assert pos1[2] == pytest.approx((3.0 - (2.0 - sample_sd)) / (2 * sample_sd), rel=1e-12)


# --------------------------------------------------------------------------- references


@pytest.mark.parametrize("window", [1, 2, 5, 20, 60, 199])
def test_rolling_statistics_match_a_naive_window_loop_on_data_with_gaps(window: int) -> None:
    x = with_gaps(random_walk(700, 3, seed=window))
    mean, mx = F.rolling_mean(x, window), F.rolling_max(x, window)
    std = F.rolling_std(x, window, ddof=0)
    for j in range(x.shape[1]):
        col = x[:, j].tolist()
        assert_same(mean[:, j], naive_windows(col, window, statistics.fmean))
        assert_same(mx[:, j], naive_windows(col, window, max))
        expected_std = naive_windows(col, window, lambda w: float(np.std(w)))
        np.testing.assert_allclose(std[:, j], expected_std, rtol=1e-9, atol=1e-12)
    if window > 1:
        sample = F.rolling_std(x, window)
        expected = naive_windows(x[:, 0].tolist(), window, statistics.stdev)
        np.testing.assert_allclose(sample[:, 0], expected, rtol=1e-9)


def test_rolling_std_keeps_full_precision_far_from_zero() -> None:
    # A one-pass sum-of-squares formula loses every digit here (1e16 * eps ~ 2).
    rng = np.random.default_rng(5)
    x = 1e8 + rng.normal(0.0, 1.0, 500)
    expected = naive_windows(x.tolist(), 20, lambda w: float(np.std(w, ddof=1)))
    np.testing.assert_allclose(F.rolling_std(x, 20), expected, rtol=1e-7)


def test_a_constant_series_has_exactly_zero_std_and_zero_zscore() -> None:
    x = np.full(100, 0.1)
    assert (F.rolling_std(x, 20)[19:] == 0.0).all()
    assert (F.zscore(x, 20)[19:] == 0.0).all()
    assert F.rolling_mean(x, 20)[19:] == pytest.approx(0.1, rel=1e-15)


def test_ema_matches_a_pure_python_reference_seeded_with_the_first_value() -> None:
    close = random_walk(3000, 2, seed=6)
    for span in (1, 2, 9, 12, 26, 200):
        got = F.ema(close, span)
        for j in range(2):
            np.testing.assert_allclose(
                got[:, j], ema_reference(close[:, j].tolist(), span), rtol=1e-12
            )


def test_ema_agrees_with_pandas_ewm_without_adjustment() -> None:
    close = random_walk(500, 3, seed=7)
    expected = pd.DataFrame(close).ewm(span=12, adjust=False).mean().to_numpy()
    np.testing.assert_allclose(F.ema(close, 12), expected, rtol=1e-12)


def test_wilder_smooth_matches_a_pure_python_reference() -> None:
    rng = np.random.default_rng(8)
    x = rng.random(3000)
    for period in (1, 2, 14, 50):
        np.testing.assert_allclose(
            F.wilder_smooth(x, period), wilder_average_reference(x.tolist(), period), rtol=1e-12
        )


def test_rsi_matches_wilder_reference_values() -> None:
    close = random_walk(4000, 3, seed=9)
    for period in (2, 14, 30):
        got = F.rsi(close, period)
        for j in range(3):
            expected = wilder_rsi_reference(close[:, j].tolist(), period)
            np.testing.assert_allclose(got[:, j], expected, rtol=1e-10, atol=1e-10)
    assert np.isnan(F.rsi(close, 14)[:14]).all()
    assert np.isfinite(F.rsi(close, 14)[14:]).all()


def test_rsi_is_100_on_gains_only_0_on_losses_only_and_50_when_flat() -> None:
    up = np.arange(1.0, 40.0)
    assert (F.rsi(up, 14)[14:] == 100.0).all()
    assert (F.rsi(up[::-1].copy(), 14)[14:] == 0.0).all()
    assert (F.rsi(np.full(40, 7.0), 14)[14:] == 50.0).all()


def test_rsi_matches_a_textbook_hand_computation() -> None:
    # period 2 on 1, 2, 1.5, 2.5: changes +1, -0.5, +1.
    rsi = F.rsi(np.array([1.0, 2.0, 1.5, 2.5]), 2)
    assert np.isnan(rsi[:2]).all()
    assert rsi[2] == pytest.approx(100 * 0.5 / (0.5 + 0.25), rel=1e-12)  # gains 1, 0; losses 0, .5
    gain, loss = (0.5 * 1 + 1.0) / 2, (0.25 * 1 + 0.0) / 2
    assert rsi[3] == pytest.approx(100 * gain / (gain + loss), rel=1e-12)


def test_macd_matches_a_pure_python_ema_reference_normalised_by_close() -> None:
    close = random_walk(1500, 2, seed=10)
    line, signal, hist = F.macd(close, 12, 26, 9)
    for j in range(2):
        c = close[:, j].tolist()
        fast, slow = ema_reference(c, 12), ema_reference(c, 26)
        raw_line = [a - b for a, b in zip(fast, slow, strict=True)]
        raw_signal = ema_reference(raw_line, 9)
        exp_line = [
            v / p if i >= 25 else NAN for i, (v, p) in enumerate(zip(raw_line, c, strict=True))
        ]
        exp_signal = [
            v / p if i >= 33 else NAN for i, (v, p) in enumerate(zip(raw_signal, c, strict=True))
        ]
        exp_hist = [
            (a - b) / p if i >= 33 else NAN
            for i, (a, b, p) in enumerate(zip(raw_line, raw_signal, c, strict=True))
        ]
        np.testing.assert_allclose(line[:, j], exp_line, rtol=1e-9, atol=1e-15)
        np.testing.assert_allclose(signal[:, j], exp_signal, rtol=1e-9, atol=1e-15)
        np.testing.assert_allclose(hist[:, j], exp_hist, rtol=1e-9, atol=1e-14)


def test_natr_without_highs_and_lows_is_wilder_average_of_close_to_close_moves() -> None:
    close = random_walk(400, 1, seed=11)[:, 0]
    moves = np.abs(np.diff(close))
    expected = [NAN] + [
        a / p for a, p in zip(wilder_average_reference(moves.tolist(), 14), close[1:], strict=True)
    ]
    np.testing.assert_allclose(F.natr(close), expected, rtol=1e-10)


def test_natr_with_highs_and_lows_uses_the_true_range() -> None:
    close = np.array([10.0, 11.0, 10.5, 12.0])
    high = np.array([10.5, 11.5, 11.2, 12.1])
    low = np.array([9.5, 10.2, 9.0, 10.9])
    # True ranges from row 1: max(1.3, 1.5, .2) = 1.5; max(2.2, .2, 2.0) = 2.2; max(1.2, 1.6, .4).
    natr = F.natr(close, high, low, period=2)
    assert np.isnan(natr[:2]).all()
    assert natr[2] == pytest.approx((1.5 + 2.2) / 2 / 10.5, rel=1e-12)
    assert natr[3] == pytest.approx(((1.5 + 2.2) / 2 + 1.6) / 2 / 12.0, rel=1e-12)


# --------------------------------------------------------------------------- causality


PREFIXES = (1, 2, 19, 20, 21, 26, 34, 60, 61, 127, 199, 200, 251, 252, 253, 897, 1197, 2000)


@pytest.mark.parametrize("source", ["sample", "gaps"])
def test_features_on_a_prefix_equal_the_first_rows_of_the_full_computation(source: str) -> None:
    close = sample_close() if source == "sample" else with_gaps(random_walk(2500, 4, seed=12))
    full = F.compute_features(close).values
    for k in (*PREFIXES, len(close) - 1):
        part = F.compute_features(close[:k]).values
        assert part.shape == (k, close.shape[1], len(F.FEATURE_NAMES))
        assert np.array_equal(part, full[:k], equal_nan=True), f"prefix {k} differs"


def test_every_public_function_is_causal_on_prefixes() -> None:
    close = with_gaps(random_walk(1500, 3, seed=13))
    functions: dict[str, Callable[[FloatArray], FloatArray]] = {
        "log_returns": lambda c: F.log_returns(c, 5),
        "rolling_mean": lambda c: F.rolling_mean(c, 50),
        "rolling_std": lambda c: F.rolling_std(c, 20),
        "rolling_max": lambda c: F.rolling_max(c, 252),
        "zscore": lambda c: F.zscore(c, 20),
        "volatility": lambda c: F.volatility(c, 60),
        "volatility_ratio": F.volatility_ratio,
        "momentum": F.momentum,
        "risk_adjusted_momentum": F.risk_adjusted_momentum,
        "ema": lambda c: F.ema(c, 26),
        "wilder_smooth": lambda c: F.wilder_smooth(c, 14),
        "rsi": F.rsi,
        "macd_hist": lambda c: F.macd(c)[2],
        "bollinger_position": F.bollinger_position,
        "sma_distance": lambda c: F.sma_distance(c, 200),
        "drawdown": F.drawdown,
        "natr": F.natr,
    }
    for name, fn in functions.items():
        full = fn(close)
        for k in PREFIXES:
            assert np.array_equal(fn(close[:k]), full[:k], equal_nan=True), f"{name} at {k}"


def test_changing_the_future_never_changes_past_features() -> None:
    close = random_walk(1200, 3, seed=14)
    base = F.compute_features(close).values
    rng = np.random.default_rng(15)
    for k in (100, 500, 1100):
        altered = close.copy()
        altered[k:] *= np.exp(rng.normal(0.0, 0.3, altered[k:].shape))
        values = F.compute_features(altered).values
        assert np.array_equal(values[:k], base[:k], equal_nan=True)
        assert not np.array_equal(values[k:], base[k:], equal_nan=True)


# --------------------------------------------------------------------------- missing data


def test_a_nan_bar_blanks_every_window_touching_it_and_nothing_else() -> None:
    x = np.arange(1.0, 41.0)
    x[10] = np.nan
    mean = F.rolling_mean(x, 5)
    assert np.isnan(mean[10:15]).all()
    assert np.isfinite(mean[4:10]).all()
    assert np.isfinite(mean[15:]).all()
    std = F.rolling_std(x, 5)
    assert np.isnan(std[10:15]).all()
    assert np.isfinite(std[15:]).all()
    vol = F.volatility(x, 5)  # returns at rows 10 and 11 touch the missing bar
    assert np.isnan(vol[10:16]).all()
    assert np.isfinite(vol[16:]).all()


def test_recursive_averages_skip_a_missing_bar_and_carry_their_state() -> None:
    x = random_walk(200, 1, seed=16)[:, 0]
    gap = x.copy()
    gap[[50, 120, 121]] = np.nan
    kept = np.isfinite(gap)
    averages: list[Callable[[FloatArray], FloatArray]] = [
        lambda v: F.ema(v, 12),
        lambda v: F.wilder_smooth(v, 14),
    ]
    for fn in averages:
        got = fn(gap)
        assert np.isnan(got[~kept]).all()
        np.testing.assert_allclose(got[kept], fn(x[kept]), rtol=1e-12)


def test_missing_and_late_listed_symbols_do_not_crash_and_stay_nan_only_where_needed() -> None:
    close = random_walk(700, 3, seed=17)
    close[:400, 1] = np.nan  # listed at row 400
    close[500, 2] = np.nan
    fs = F.compute_features(close)
    valid = fs.valid()
    assert valid[F.WARMUP_ROWS :, 0].all()
    assert not valid[: 400 + F.WARMUP_ROWS, 1].any()
    assert valid[400 + F.WARMUP_ROWS :, 1].all()
    assert not valid[500, 2]
    assert valid[500 + F.WARMUP_ROWS :, 2].all()  # every window has moved past the gap


def test_non_positive_and_infinite_prices_are_treated_as_missing() -> None:
    close = random_walk(80, 1, seed=18)[:, 0]
    bad = close.copy()
    bad[30], bad[40], bad[50] = 0.0, -5.0, np.inf
    marked = close.copy()
    marked[[30, 40, 50]] = np.nan
    for fn in (F.log_returns, lambda c: F.sma_distance(c, 5), F.rsi, F.bollinger_position):
        assert np.array_equal(fn(bad), fn(marked), equal_nan=True)


def test_an_all_missing_column_gives_nan_features() -> None:
    close = random_walk(300, 2, seed=19)
    close[:, 1] = np.nan
    values = F.compute_features(close).values
    assert np.isnan(values[:, 1]).all()
    assert np.isfinite(values[F.WARMUP_ROWS :, 0]).all()


# --------------------------------------------------------------------------- feature set


def test_compute_features_has_the_spec_shape_dtype_and_names() -> None:
    close = sample_close()
    fs = F.compute_features(close)
    assert fs.values.shape == (len(close), 3, len(F.FEATURE_NAMES))
    assert fs.shape == fs.values.shape
    assert fs.values.dtype == np.float32
    assert fs.names == F.FEATURE_NAMES
    assert fs.version == F.FEATURE_SPEC_VERSION == "1"
    assert not fs.values.flags.writeable
    assert not fs.ohlc


def test_sample_features_are_complete_exactly_from_the_warm_up_row() -> None:
    fs = F.compute_features(sample_close())
    valid = fs.valid()
    assert F.WARMUP_ROWS == 251
    assert valid[F.WARMUP_ROWS :].all()
    assert not valid[F.WARMUP_ROWS - 1].any()
    assert np.isnan(fs.values[0]).all()


def test_features_are_clipped_to_the_documented_range() -> None:
    close = random_walk(400, 2, seed=20)
    close[300:, 0] *= 1e6  # a absurd jump: momentum of a million
    values = F.compute_features(close).values
    finite = values[np.isfinite(values)]
    assert finite.max() <= F.CLIP
    assert finite.min() >= -F.CLIP
    mom = values[:, 0, F.FEATURE_NAMES.index("mom_126")]
    assert mom[300] == F.CLIP


def test_features_do_not_depend_on_the_price_level() -> None:
    close = sample_close()[:1500]
    a = F.compute_features(close).values
    b = F.compute_features(close * 1234.5).values
    assert np.array_equal(np.isnan(a), np.isnan(b))
    np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-5)


def test_feature_columns_equal_the_public_functions() -> None:
    close = with_gaps(random_walk(800, 3, seed=21))
    fs = F.compute_features(close)
    r = F.log_returns(close)
    rsi = F.rsi(close, 14)
    expected = {
        "ret_1": r,
        "ret_5": F.log_returns(close, 5),
        "ret_21": F.log_returns(close, 21),
        "vol_20": F.volatility(close, 20),
        "vol_ratio_20_60": F.volatility_ratio(close, 20, 60),
        "mom_126": F.momentum(close, 126),
        "ram_126_20": F.risk_adjusted_momentum(close, 126, 20),
        "rsi_14": (rsi - 50.0) / 50.0,
        "macd_hist_norm": F.macd(close, 12, 26, 9)[2],
        "bb_pos_20": F.bollinger_position(close, 20, 2.0),
        "dist_sma_50": F.sma_distance(close, 50),
        "dist_sma_200": F.sma_distance(close, 200),
        "drawdown_252": F.drawdown(close, 252),
        "natr_14": F.natr(close, period=14),
    }
    assert tuple(expected) == F.FEATURE_NAMES
    for name, want in expected.items():
        clipped = np.clip(want, -F.CLIP, F.CLIP).astype(np.float32)
        np.testing.assert_allclose(fs.feature(name), clipped, rtol=1e-6, atol=1e-7, err_msg=name)


def test_highs_and_lows_change_only_natr_and_the_spec_hash() -> None:
    close = random_walk(400, 2, seed=22)
    high, low = close * 1.01, close * 0.99
    plain = F.compute_features(close)
    ohlc = F.compute_features(close, high, low, volume=np.ones_like(close))
    natr = F.FEATURE_NAMES.index("natr_14")
    others = [i for i in range(len(F.FEATURE_NAMES)) if i != natr]
    assert np.array_equal(plain.values[..., others], ohlc.values[..., others], equal_nan=True)
    assert not np.array_equal(plain.values[..., natr], ohlc.values[..., natr], equal_nan=True)
    assert ohlc.ohlc
    assert not plain.ohlc
    assert ohlc.spec_hash == F.spec_hash(ohlc=True) != plain.spec_hash == F.spec_hash()


def test_feature_set_accessors_return_views_of_the_tensor() -> None:
    close = random_walk(300, 2, seed=23)
    fs = F.compute_features(close)
    assert fs.index("rsi_14") == F.FEATURE_NAMES.index("rsi_14")
    assert np.array_equal(fs.feature("rsi_14"), fs.values[:, :, fs.index("rsi_14")], equal_nan=True)
    assert fs.observation(299).shape == (2, len(F.FEATURE_NAMES))
    assert np.array_equal(fs.observation(299), fs.values[299])
    with pytest.raises(KeyError, match="unknown feature"):
        fs.index("price")


def test_a_feature_set_rejects_values_that_do_not_match_its_names() -> None:
    with pytest.raises(ValueError, match="shape"):
        F.FeatureSet(values=np.zeros((3, 2, 5), dtype=np.float32))
    with pytest.raises(ValueError, match="float32"):
        F.FeatureSet(values=np.zeros((3, 2, len(F.FEATURE_NAMES))))


# --------------------------------------------------------------------------- spec


def test_spec_dict_describes_every_feature_in_order() -> None:
    spec = F.spec_dict()
    assert spec["version"] == F.FEATURE_SPEC_VERSION
    assert spec["names"] == list(F.FEATURE_NAMES)
    assert [f["name"] for f in spec["features"]] == list(F.FEATURE_NAMES)
    assert spec["clip"] == F.CLIP
    assert spec["warmup_rows"] == F.WARMUP_ROWS
    assert spec["inputs"] == ["close"]
    assert F.spec_dict(ohlc=True)["inputs"] == [
        "close",
        "high",
        "low",
    ]
    json.dumps(spec)  # plain JSON data


def test_spec_hash_is_stable_and_is_the_sha256_of_the_canonical_json() -> None:
    canonical = json.dumps(F.spec_dict(), sort_keys=True, separators=(",", ":"))
    assert F.spec_hash() == hashlib.sha256(canonical.encode()).hexdigest() == F.spec_hash()
    assert len(F.spec_hash()) == 64


PINNED_SPEC_HASH_V1 = "c8ec094d3803ac57fb45f25c5177c72f1e10ba7f1ba503555f88f53246530dc2"


def test_spec_hash_is_pinned_so_any_change_to_the_spec_is_deliberate() -> None:
    # Changing a name, order or parameter changes this hash: bump FEATURE_SPEC_VERSION too.
    assert F.spec_hash() == PINNED_SPEC_HASH_V1


# --------------------------------------------------------------------------- arguments


def test_one_dimensional_input_gives_one_dimensional_output() -> None:
    close = random_walk(100, 1, seed=24)
    for fn in (F.log_returns, F.rsi, F.bollinger_position, F.volatility, lambda c: F.macd(c)[0]):
        one = fn(close[:, 0])
        assert one.shape == (100,)
        assert np.array_equal(one, fn(close)[:, 0], equal_nan=True)


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda: F.rolling_mean(np.ones(5), 0), "window must be at least 1"),
        (lambda: F.rolling_std(np.ones(5), 1), "must exceed ddof"),
        (lambda: F.rolling_std(np.ones(5), 3, ddof=-1), "must exceed ddof"),
        (lambda: F.zscore(np.ones(5), 1), "must exceed ddof"),
        (lambda: F.volatility(np.ones(5), 1), "window must be at least 2"),
        (lambda: F.momentum(np.ones(5), 0), "lookback must be at least 1"),
        (lambda: F.log_returns(np.ones(5), 0), "periods must be at least 1"),
        (lambda: F.ema(np.ones(5), 0), "span must be at least 1"),
        (lambda: F.wilder_smooth(np.ones(5), 0), "period must be at least 1"),
        (lambda: F.rsi(np.ones(5), 0), "period must be at least 1"),
        (lambda: F.macd(np.ones(5), 26, 12, 9), "must be shorter than slow"),
        (lambda: F.bollinger_position(np.ones(5), 3, 0.0), "num_std must be positive"),
        (lambda: F.natr(np.ones(5), high=np.ones(5)), "both high and low"),
        (lambda: F.rolling_mean(np.ones((2, 2, 2)), 1), "1-D"),
        (lambda: F.compute_features(np.ones(5)), r"shape \(T, N\)"),
        (
            lambda: F.compute_features(np.ones((5, 2)), volume=np.ones((5, 3))),
            "volume has shape",
        ),
    ],
)
def test_invalid_arguments_raise_value_error(call: Callable[[], object], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        call()
