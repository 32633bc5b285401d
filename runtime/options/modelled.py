"""The backtest's modelled option chain, built point-in-time from an underlying's closes.

No historical option quotes ship with the appliance, so a backtest prices its own:
for ``chain(symbol, day)`` only the closes up to ``day`` are read.

- **Expiries**: the next ``weekly_expiries`` Fridays (only from the day weeklies were
  listed for that kind of underlying) and the next ``monthly_expiries`` third Fridays;
  an expiry Friday that is an NYSE holiday moves to the session before (Good Friday
  monthlies expire on the Thursday), from :func:`invest.runtime.clock.nyse`.
- **ATM IV**: realised volatility of the last ``realised_vol_window`` daily log
  returns (root mean square, x sqrt(252)), times ``1 + vol_risk_premium``. Where VIX
  has a close on the previous session, the premium is the market's instead: the
  ratio VIX / (the index's realised vol over the same window, ending on that
  session), clipped, times the underlying's own realised vol; for the index itself
  that is VIX. VIX is a 30-day implied vol of the S&P 500, so it prices the
  market's fear, not a stock's own: applying its ratio to each stock's realised vol
  keeps the stocks' ordering and carries the regime. The previous session's VIX is
  used because its close is printed after the equity close a backtest decides on.
- **Smile**: ATM IV x (1 - slope x z), with the standardised moneyness
  ``z = ln(strike / forward) / (ATM IV x sqrt(t))``, ``put_skew`` below the forward and
  ``call_skew`` above, clipped to ``[min_iv, max_iv]``. In ``z`` a 25-delta strike sits
  near -0.67 / +0.67 at every expiry and every volatility, so one slope gives a
  plausible skew for a weekly and a quarterly alike (in plain log-moneyness a
  weekly's smile would be flat). The term structure is flat (one ATM IV).
- **Prices**: Black-Scholes-Merton at the constant ``rate`` and ``dividend_yield``,
  all strikes and expiries of one right in one vectorised call; bid and ask are the
  mid -+ half of ``max(spread_fraction x mid, min_spread)``, the bid floored and the
  ask raised to the tick, the bid never below 0.

The quotes carry the model IV, delta, gamma, and, as venues quote them, theta per
calendar day and vega per volatility point (per 0.01).
"""

from __future__ import annotations

import calendar as _calendar
import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal

import numpy as np

from invest.runtime.clock import TradingCalendar, nyse
from invest.runtime.config.options import DEFAULT_MODELLED_CHAIN, ModelledChainConfig, StrikeBand
from invest.runtime.data.frame import BarFrame, DateArray, FloatArray
from invest.runtime.errors import DataError
from invest.runtime.options.chain import OptionChain, OptionQuote
from invest.runtime.options.contracts import OptionContract, Right
from invest.runtime.options.pricing import greeks, year_fraction

__all__ = [
    "ModelledChainSource",
    "expiries",
    "is_monthly",
    "strike_grid",
    "third_friday",
]

TRADING_DAYS = 252
#: Contracts kept for reuse before the expired ones are dropped (each is about 300 bytes).
_CONTRACTS_KEPT = 100_000


def _strike(value: float) -> Decimal:
    """A strike as a plain decimal: 70 not 7E+1 (normalize() writes exponents), 22.5 not 22.500."""
    d = Decimal(f"{value:.3f}").normalize()
    return d.quantize(Decimal(1)) if d == d.to_integral_value() else d


def third_friday(year: int, month: int) -> date:
    """The third Friday of a month (the standard monthly expiry before any holiday shift)."""
    first = date(year, month, 1)
    return first + timedelta(days=(_calendar.FRIDAY - first.weekday()) % 7 + 14)


def is_monthly(expiry: date) -> bool:
    """True when ``expiry`` is its month's third Friday, or the Thursday before it (holiday)."""
    friday = third_friday(expiry.year, expiry.month)
    return expiry in (friday, friday - timedelta(days=1))


def _on_session(friday: date, cal: TradingCalendar) -> date:
    """The Friday, or the last session before it when the exchange is closed that day."""
    return friday if cal.is_session(friday) else cal.previous_session(friday)


def expiries(
    as_of: date, *, weeklies: int, monthlies: int, weeklies_from: date, cal: TradingCalendar
) -> list[date]:
    """The listed expiries after ``as_of``: weekly Fridays (from ``weeklies_from``) and monthlies."""
    out: set[date] = set()
    year, month = as_of.year, as_of.month
    found = 0
    while found < monthlies:
        exp = _on_session(third_friday(year, month), cal)
        if exp > as_of:
            out.add(exp)
            found += 1
        year, month = (year + 1, 1) if month == 12 else (year, month + 1)
    friday = as_of + timedelta(days=(_calendar.FRIDAY - as_of.weekday()) % 7 or 7)
    for _ in range(weeklies):
        exp = _on_session(friday, cal)
        if friday >= weeklies_from and exp > as_of:
            out.add(exp)
        friday += timedelta(days=7)
    return sorted(out)


def _band_edges(bands: tuple[StrikeBand, ...]) -> list[tuple[float, float, float]]:
    """(low, high, step) per band; the low of the first band is 0, the last high infinity."""
    edges, low = [], 0.0
    for band in bands:
        high = math.inf if band.below is None else band.below
        edges.append((low, high, band.step))
        low = high
    return edges


def strike_grid(lo: float, hi: float, bands: tuple[StrikeBand, ...]) -> FloatArray:
    """Listed strikes in ``[lo, hi]``: multiples of each band's step inside the band, rising."""
    parts = []
    for low, high, step in _band_edges(bands):
        a, b = max(low, lo), min(high, hi)
        if a > b:
            continue
        first = math.ceil(a / step - 1e-9) * step
        n = math.floor((b - first) / step + 1e-9) + 1
        pts = first + step * np.arange(max(n, 0))
        parts.append(pts[(pts > 0) & (pts < high)])
    if not parts:
        return np.empty(0)
    out: FloatArray = np.round(np.concatenate(parts), 3).astype(np.float64)
    return out


def _step_at(price: float, bands: tuple[StrikeBand, ...]) -> float:
    for low, high, step in _band_edges(bands):
        if low <= price < high:
            return step
    return bands[-1].step


def _grid_around(
    spot: float, lo: float, hi: float, each_side: int, bands: tuple[StrikeBand, ...]
) -> FloatArray:
    """The grid over ``[lo, hi]``, widened until ``each_side`` strikes lie below and above spot."""
    lo, hi = min(lo, spot), max(hi, spot)
    grid = strike_grid(lo, hi, bands)
    for _ in range(100):
        below = int(np.count_nonzero(grid < spot))
        above = int(np.count_nonzero(grid > spot))
        if (below >= each_side or lo <= 0) and above >= each_side:
            break
        if below < each_side and lo > 0:
            lo = max(lo - each_side * _step_at(lo, bands), 0.0)
        if above < each_side:
            hi = hi + each_side * _step_at(hi, bands)
        grid = strike_grid(lo, hi, bands)
    return grid


def _rms_vol(closes: FloatArray) -> float:
    """Annualised root-mean-square of daily log returns (zero mean, as VIX-style estimates are)."""
    r = np.diff(np.log(closes))
    return float(np.sqrt(np.mean(r * r) * TRADING_DAYS))


@dataclass(frozen=True, slots=True)
class _Layout:
    """One day's chain before pricing: one entry per listed (expiry, strike)."""

    as_of: date
    spot: float
    atm: float
    how: str
    expiries: list[date]
    strikes: FloatArray
    t: FloatArray
    iv: FloatArray


class ModelledChainSource:
    """A :class:`~invest.runtime.options.chain.ChainSource` that models chains from bars.

    Args:
        bars: the underlyings' daily closes (and the VIX index's when VIX is used).
        config: the model's parameters.
        vix: VIX closes as ``(dates, values in points)``, e.g.
            :func:`invest.runtime.data.sample.vix`; None: never used.
        calendar: the exchange calendar for holiday-shifted expiries (default NYSE).
    """

    name = "modelled"

    def __init__(
        self,
        bars: BarFrame,
        config: ModelledChainConfig = DEFAULT_MODELLED_CHAIN,
        *,
        vix: tuple[DateArray, FloatArray] | None = None,
        calendar: TradingCalendar | None = None,
    ) -> None:
        self.bars = bars
        self.config = config
        self._vix = vix if config.vix == "premium" else None
        self._calendar = calendar
        self._contracts: dict[tuple[str, date, Right, float], OptionContract] = {}
        self._expiries: dict[tuple[date, bool], list[date]] = {}

    @property
    def calendar(self) -> TradingCalendar:
        if self._calendar is None:
            self._calendar = nyse()
        return self._calendar

    # -- the pieces, each point-in-time ---------------------------------------

    def _closes(self, symbol: str, row: int, what: str) -> FloatArray:
        """The ``window + 1`` closes of ``symbol`` ending at ``row`` (all present)."""
        n = self.config.realised_vol_window + 1
        col = self.bars.index_of(symbol)
        if row + 1 < n:
            raise DataError(
                f"{what}: {symbol} has {row + 1} sessions up to {self.bars.day(row)}, the modelled "
                f"chain needs {n} (realised_vol_window + 1)"
            )
        closes = self.bars.close[row + 1 - n : row + 1, col]
        if not np.all(np.isfinite(closes) & (closes > 0)):
            raise DataError(
                f"{what}: {symbol} misses closes in the {n} sessions up to {self.bars.day(row)}; "
                "the modelled chain needs every one for its realised volatility"
            )
        return closes

    def _vix_ratio(self, row: int) -> float | None:
        """VIX / the index's realised vol on the previous session, clipped; None without VIX."""
        cfg = self.config
        if self._vix is None or row < 1 or cfg.vix_index_symbol not in self.bars.symbols:
            return None
        dates, values = self._vix
        prev = self.bars.dates[row - 1]
        i = int(np.searchsorted(dates, prev))
        if i == len(dates) or dates[i] != prev or not math.isfinite(float(values[i])):
            return None
        try:
            rv = _rms_vol(self._closes(cfg.vix_index_symbol, row - 1, "VIX premium"))
        except DataError:
            return None
        if rv <= 0:
            return None
        return min(max(float(values[i]) / 100 / rv, cfg.vix_ratio_min), cfg.vix_ratio_max)

    def atm_iv(self, underlying: str, as_of: date) -> tuple[float, str]:
        """ATM IV of ``underlying`` on ``as_of`` and how it was made (for the chain's notes)."""
        row = self._row(underlying, as_of)
        return self._atm(underlying, row)

    def _atm(self, underlying: str, row: int) -> tuple[float, str]:
        cfg = self.config
        rv = _rms_vol(self._closes(underlying, row, f"modelled chain of {underlying}"))
        ratio = self._vix_ratio(row)
        if ratio is None:
            iv, how = (
                rv * (1 + cfg.vol_risk_premium),
                f"RV {rv:.4f} x (1 + VRP {cfg.vol_risk_premium})",
            )
        else:
            iv, how = rv * ratio, f"RV {rv:.4f} x VIX/RV({cfg.vix_index_symbol}) {ratio:.3f}"
        return min(max(iv, cfg.min_iv), cfg.max_iv), how

    def _row(self, underlying: str, as_of: date) -> int:
        row = self.bars.row_for(as_of)
        col = self.bars.index_of(underlying)
        if row < 0 or self.bars.day(row) != as_of or not math.isfinite(self.bars.close[row, col]):
            raise DataError(
                f"no bar for {underlying} on {as_of}: the modelled chain needs that day's close"
            )
        return row

    def _listed_expiries(self, underlying: str, as_of: date) -> list[date]:
        index = underlying.upper() in self.config.index_symbols
        key = (as_of, index)
        if key not in self._expiries:
            cfg = self.config
            self._expiries[key] = expiries(
                as_of,
                weeklies=cfg.weekly_expiries,
                monthlies=cfg.monthly_expiries,
                weeklies_from=cfg.weeklies_from_index if index else cfg.weeklies_from_stocks,
                cal=self.calendar,
            )
        return self._expiries[key]

    def _contracts_for(
        self, underlying: str, right: Right, exps: list[date], strikes: FloatArray
    ) -> list[OptionContract]:
        """The contracts of the rows, made once per source and reused by later chains."""
        out = []
        book = self._contracts
        for exp, strike in zip(exps, strikes.tolist(), strict=True):
            key = (underlying, exp, right, strike)
            found = book.get(key)
            if found is None:
                found = OptionContract(underlying, exp, right, _strike(strike))
                book[key] = found
            out.append(found)
        return out

    # -- the chain ------------------------------------------------------------

    def chain(self, underlying: str, as_of: date) -> OptionChain:
        """The modelled chain of ``underlying`` at the close of ``as_of``.

        Raises:
            DataError: no close for ``underlying`` on ``as_of``, or too few closes before it.
        """
        return self.chains(underlying, [as_of])[0]

    def chains(self, underlying: str, days: Sequence[date]) -> list[OptionChain]:
        """The chains of ``underlying`` on each of ``days``, priced together.

        Each chain is exactly ``chain(underlying, day)`` (each day reads its own past
        only); pricing the days' rows in one call per right saves numpy's per-call
        cost, which at about 150 quotes a chain is as large as the arithmetic.

        Raises:
            DataError: as :meth:`chain`, for the first day that fails.
        """
        layouts = [self._layout(underlying, day) for day in days]
        if not layouts:
            return []
        if len(self._contracts) > _CONTRACTS_KEPT:  # a long replay: forget expired series
            first = min(days)
            self._contracts = {k: c for k, c in self._contracts.items() if k[1] >= first}
        cfg = self.config
        spot = np.concatenate([np.full(len(lay.strikes), lay.spot) for lay in layouts])
        strikes = np.concatenate([lay.strikes for lay in layouts])
        tt = np.concatenate([lay.t for lay in layouts])
        iv = np.concatenate([lay.iv for lay in layouts])
        ends = np.cumsum([len(lay.strikes) for lay in layouts]).tolist()
        columns: list[tuple[Right, list[list[float]]]] = []
        for right in (Right.CALL, Right.PUT):
            g = greeks(right, spot, strikes, tt, iv, rate=cfg.rate, div=cfg.dividend_yield)
            bid, ask = self._bid_ask(np.asarray(g.price, dtype=np.float64))
            arrays = (
                bid,
                ask,
                iv,
                np.asarray(g.delta, dtype=np.float64),
                np.asarray(g.gamma, dtype=np.float64),
                np.asarray(g.theta, dtype=np.float64) / 365,
                np.asarray(g.vega, dtype=np.float64) / 100,
            )
            columns.append((right, [a.tolist() for a in arrays]))
        out = []
        lo = 0
        for lay, hi in zip(layouts, ends, strict=True):
            quotes: list[OptionQuote] = []
            nones = [None] * (hi - lo)
            for right, lists in columns:
                contracts = self._contracts_for(underlying, right, lay.expiries, lay.strikes)
                b, a, v, d, gm, th, vg = (c[lo:hi] for c in lists)
                # positional, in the quote's field order (contract, bid, ask, last, iv, delta,
                # gamma, theta, vega): making the quotes is most of a chain's cost
                quotes.extend(map(OptionQuote, contracts, b, a, nones, v, d, gm, th, vg))
            out.append(self._assemble(underlying, lay, tuple(quotes)))
            lo = hi
        return out

    def _layout(self, underlying: str, as_of: date) -> _Layout:
        """Spot, ATM IV, the listed (expiry, strike) rows and their IVs on ``as_of``."""
        cfg = self.config
        row = self._row(underlying, as_of)
        spot = float(self.bars.close[row, self.bars.index_of(underlying)])
        atm, how = self._atm(underlying, row)
        exps = self._listed_expiries(underlying, as_of)
        days = np.array([(e - as_of).days for e in exps], dtype=np.float64)
        t = np.asarray(year_fraction(days), dtype=np.float64)
        reach = cfg.strike_range_sd * atm * np.sqrt(t)  # log-distance listed per expiry
        grid = _grid_around(
            spot,
            spot * math.exp(-float(reach.max())),
            spot * math.exp(float(reach.max())),
            cfg.min_strikes_each_side,
            cfg.strike_grid,
        )
        below = np.searchsorted(grid, spot, side="left")  # strikes < spot end here
        above = np.searchsorted(grid, spot, side="right")  # strikes > spot start here
        idx = np.arange(len(grid))
        each = cfg.min_strikes_each_side
        near = (idx >= below - each) & (idx < above + each)
        listed = (np.abs(np.log(grid / spot))[None, :] <= reach[:, None]) | near[None, :]
        e_i, k_i = np.nonzero(listed)  # one row per (expiry, strike) listed
        strikes, tt = grid[k_i], t[e_i]
        iv = self._smile(spot, atm, strikes, tt)
        return _Layout(as_of, spot, atm, how, [exps[e] for e in e_i.tolist()], strikes, tt, iv)

    def _smile(self, spot: float, atm: float, strikes: FloatArray, tt: FloatArray) -> FloatArray:
        """The IV of each (strike, years to expiry): ATM IV x (1 - slope x z), clipped."""
        cfg = self.config
        forward = spot * np.exp((cfg.rate - cfg.dividend_yield) * tt)
        # At t = 0 (a series on its expiry day) the price is intrinsic whatever the IV: z = 0.
        root = np.sqrt(tt)
        safe = np.where(root > 0, root, 1.0)
        z = np.where(root > 0, np.log(strikes / forward) / (atm * safe), 0.0)
        slope = np.where(z < 0, cfg.put_skew, cfg.call_skew)
        iv: FloatArray = np.clip(atm * (1 - slope * z), cfg.min_iv, cfg.max_iv)
        return iv

    def quotes_for(
        self, underlying: str, as_of: date, contracts: Sequence[OptionContract]
    ) -> tuple[OptionQuote, ...]:
        """Quotes of given contracts of ``underlying`` on ``as_of``, priced as the chain's.

        A series stays listed until it expires, while the chain lists only the strikes
        near today's spot: a contract opened weeks ago can fall outside that band. This
        prices such contracts (held, or in an order) by the same model, so that they can
        still be marked and closed. Contracts that expired before ``as_of`` are left out;
        on its expiry day a series still trades (priced at t = 0: its intrinsic value),
        so an exit sent the day before can fill.

        Raises:
            DataError: as :meth:`chain`.
        """
        live = [c for c in contracts if c.underlying == underlying and c.expiry >= as_of]
        if not live:
            return ()
        cfg = self.config
        row = self._row(underlying, as_of)
        spot = float(self.bars.close[row, self.bars.index_of(underlying)])
        atm, _ = self._atm(underlying, row)
        days = np.array([(c.expiry - as_of).days for c in live], dtype=np.float64)
        tt = np.asarray(year_fraction(days), dtype=np.float64)
        strikes = np.array([float(c.strike) for c in live], dtype=np.float64)
        iv = self._smile(spot, atm, strikes, tt)
        out = []
        for right in (Right.CALL, Right.PUT):
            pick = np.array([c.right is right for c in live])
            if not pick.any():
                continue
            g = greeks(
                right,
                spot,
                strikes[pick],
                tt[pick],
                iv[pick],
                rate=cfg.rate,
                div=cfg.dividend_yield,
            )
            bid, ask = self._bid_ask(np.atleast_1d(np.asarray(g.price, dtype=np.float64)))
            cols = [
                np.atleast_1d(np.asarray(a, dtype=np.float64)).tolist()
                for a in (g.delta, g.gamma, g.theta, g.vega)
            ]
            chosen = [c for c, k in zip(live, pick.tolist(), strict=True) if k]
            for i, c in enumerate(chosen):
                out.append(
                    OptionQuote(
                        c,
                        bid[i].item(),
                        ask[i].item(),
                        None,
                        float(iv[pick][i]),
                        cols[0][i],
                        cols[1][i],
                        cols[2][i] / 365,
                        cols[3][i] / 100,
                    )
                )
        return tuple(out)

    def _assemble(
        self, underlying: str, lay: _Layout, quotes: tuple[OptionQuote, ...]
    ) -> OptionChain:
        cfg = self.config
        notes = (
            "modelled chain: not observed quotes; Black-Scholes-Merton on the underlying's closes",
            f"ATM IV {lay.atm:.4f} = {lay.how}, clipped to [{cfg.min_iv}, {cfg.max_iv}]",
            f"skew: ATM IV x (1 - s x z), z = ln(K/F) / (ATM IV x sqrt(t)), s = {cfg.put_skew} "
            f"below the forward, {cfg.call_skew} above",
            f"rate {cfg.rate} (constant), dividend yield {cfg.dividend_yield} (adjusted closes)",
            f"bid/ask: mid -+ max({cfg.spread_fraction} x mid, {cfg.min_spread}) / 2, tick {cfg.tick}",
            f"expiries: {cfg.weekly_expiries} weekly (where listed), {cfg.monthly_expiries} monthly; "
            f"strikes +- {cfg.strike_range_sd} sd on the listed grid",
            "greeks: theta per calendar day, vega per volatility point",
        )
        return OptionChain(
            underlying=underlying,
            as_of=lay.as_of,
            spot=lay.spot,
            quotes=quotes,
            source="modelled",
            modelled=True,
            notes=notes,
        )

    def _bid_ask(self, mid: FloatArray) -> tuple[FloatArray, FloatArray]:
        """Bid and ask around the model mid: the bid floored, the ask raised to the tick."""
        cfg = self.config
        half = np.maximum(cfg.spread_fraction * mid, cfg.min_spread) / 2
        bid = np.floor((mid - half) / cfg.tick + 1e-9) * cfg.tick
        ask = np.ceil((mid + half) / cfg.tick - 1e-9) * cfg.tick
        bid_out: FloatArray = np.round(np.maximum(bid, 0.0), 6).astype(np.float64)
        ask_out: FloatArray = np.round(ask, 6).astype(np.float64)
        return bid_out, ask_out
