"""Chain source ``yfinance``: the current option chain from Yahoo Finance through yfinance.

``Ticker.options`` lists the expiries; ``Ticker.option_chain(expiry)`` gives one
expiry's calls and puts as DataFrames (``contractSymbol, strike, lastPrice, bid,
ask, volume, openInterest, impliedVolatility, contractSize...``) and the
underlying's quote, whose ``regularMarketPrice`` is the spot. One HTTP request
per expiry: ``max_expiries`` (soonest first) bounds them.

Yahoo gives IV (as a fraction) but no greeks: they stay None (the pricing module
computes them). An IV under 0.001 is Yahoo's placeholder for "not computed" and
is read as None. Quotes follow the alpaca source's rule: no ask -> dropped, no bid
-> kept with bid 0, crossed -> dropped, counted in ``notes``. Mini options
(``contractSize`` other than ``REGULAR``) are dropped too.

Yahoo gives only the current chain: ``as_of`` must be today or the last session
(:func:`~invest.runtime.adapters.current.require_current`); a backtest gets a
:class:`DataUnavailableError` saying to use the modelled chain.

Error mapping: an exception out of yfinance (network, rate limit) ->
:class:`DataUnavailableError`; no expiries listed (unknown symbol, no options)
-> :class:`DataError`; a chain where nothing has an ask (Yahoo shows 0/0 outside
market hours at times) -> :class:`DataUnavailableError`.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from datetime import date
from typing import TYPE_CHECKING, Any

import pandas as pd

from invest.runtime.adapters.current import require_current
from invest.runtime.errors import ConfigError, DataError, DataUnavailableError
from invest.runtime.options.chain import OptionChain, OptionQuote
from invest.runtime.options.contracts import OptionContract

if TYPE_CHECKING:
    from invest.runtime.clock import Clock, TradingCalendar

#: Below this, Yahoo's impliedVolatility is a placeholder (it writes 1e-05), not a volatility.
MIN_IV = 0.001


def _float(value: Any) -> float | None:
    if value is None or isinstance(value, str):
        return None
    number = float(value)
    return None if math.isnan(number) else number


def _int(value: Any) -> int | None:
    number = _float(value)
    return None if number is None else int(number)


def chain_from_yfinance(
    sides: Iterable[pd.DataFrame],
    underlying: str,
    as_of: date,
    spot: float,
    *,
    source: str = "yfinance",
) -> OptionChain:
    """Turn ``option_chain(...)``'s ``calls`` and ``puts`` frames into one chain.

    Raises:
        DataError: a ``contractSymbol`` is not an OCC symbol, or a column is missing.
        DataUnavailableError: no contract has an ask.
    """
    quotes: list[OptionQuote] = []
    no_ask = crossed = mini = listed = 0
    for frame in sides:
        missing = {"contractSymbol", "bid", "ask"} - set(frame.columns)
        if missing:
            raise DataError(f"yfinance option chain lacks the columns {sorted(missing)}")
        for row in frame.to_dict("records"):
            listed += 1
            try:
                contract = OptionContract.from_occ(str(row["contractSymbol"]))
            except ConfigError as e:
                raise DataError(f"yfinance option chain of {underlying}: {e}") from e
            if row.get("contractSize", "REGULAR") not in ("REGULAR", None):
                mini += 1
                continue
            bid = _float(row["bid"]) or 0.0
            ask = _float(row["ask"]) or 0.0
            if ask <= 0:
                no_ask += 1
                continue
            if bid > ask:
                crossed += 1
                continue
            iv = _float(row.get("impliedVolatility"))
            quotes.append(
                OptionQuote(
                    contract=contract,
                    bid=bid,
                    ask=ask,
                    last=_float(row.get("lastPrice")),
                    iv=iv if iv is not None and iv >= MIN_IV else None,
                    open_interest=_int(row.get("openInterest")),
                    volume=_int(row.get("volume")),
                )
            )
    if not quotes:
        raise DataUnavailableError(
            f"Yahoo shows no ask on any of the {listed} listed options of {underlying} "
            f"(it shows 0/0 outside market hours at times); retry during the session"
        )
    notes = []
    if no_ask:
        notes.append(f"{no_ask} contracts without an ask dropped")
    if crossed:
        notes.append(f"{crossed} crossed quotes (bid above ask) dropped")
    if mini:
        notes.append(f"{mini} mini contracts dropped")
    return OptionChain(
        underlying=underlying,
        as_of=as_of,
        spot=spot,
        quotes=tuple(quotes),
        source=source,
        notes=tuple(notes),
    )


def _yf_ticker(symbol: str) -> Any:
    import yfinance as yf  # lazy: slow import, and only this source needs it

    return yf.Ticker(symbol)


@contextmanager
def _quiet() -> Iterator[None]:
    """yfinance 1.x trips pandas deprecation warnings inside its own code: silence them.

    yfinance is imported first: its import puts a filter of its own at the front of
    the list, which would outrank ours if the import happened inside the block.
    """
    import yfinance  # noqa: F401

    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", category=DeprecationWarning, module=r"yfinance\b")
        warnings.filterwarnings("ignore", category=FutureWarning, module=r"yfinance\b")
        yield


class YahooOptionChainSource:
    """Chain source ``yfinance`` (see the module docstring).

    Args:
        max_expiries: how many expiries to fetch, soonest first (one request each).
        ticker_factory: builds a ``yfinance.Ticker`` for a symbol (tests give one
            whose HTTP layer replays recorded answers).
        clock, calendar: what "today" and "the last session" are (tests).

    Raises:
        ConfigError: ``max_expiries`` is under 1.
    """

    name = "yfinance"

    def __init__(
        self,
        *,
        max_expiries: int = 6,
        ticker_factory: Callable[[str], Any] | None = None,
        clock: Clock | None = None,
        calendar: TradingCalendar | None = None,
    ) -> None:
        if max_expiries < 1:
            raise ConfigError(f"max_expiries must be 1 or more, got {max_expiries}")
        self.max_expiries = max_expiries
        self._ticker = ticker_factory or _yf_ticker
        self._clock = clock
        self._calendar = calendar

    def __repr__(self) -> str:
        return f"YahooOptionChainSource(max_expiries={self.max_expiries})"

    def chain(self, underlying: str, as_of: date) -> OptionChain:
        """The current chain of ``underlying``: its ``max_expiries`` soonest expiries from ``as_of``.

        Raises:
            DataUnavailableError: ``as_of`` is not today or the last session; Yahoo
                cannot be reached or rate-limits; nothing has an ask.
            DataError: Yahoo lists no options for ``underlying``.
        """
        require_current(as_of, source="Yahoo", clock=self._clock, calendar=self._calendar)
        symbol = underlying.strip().upper()
        if not symbol:
            raise DataError("an option chain needs an underlying symbol, got ''")
        with _quiet():
            try:
                ticker = self._ticker(symbol)
                listed = tuple(ticker.options)
            except Exception as e:
                raise DataUnavailableError(
                    f"Yahoo option expiries of {symbol} unavailable: {type(e).__name__}: {e}"
                ) from e
            expiries = [e for e in listed if date.fromisoformat(e) >= as_of][: self.max_expiries]
            if not expiries:
                raise DataError(
                    f"Yahoo lists no options of {symbol} expiring from {as_of}; check the "
                    f"ticker (Yahoo writes share classes with a dash, e.g. BRK-B)"
                )
            sides: list[pd.DataFrame] = []
            spot: float | None = None
            for expiry in expiries:
                try:
                    calls, puts, quote = ticker.option_chain(expiry)
                except Exception as e:
                    raise DataUnavailableError(
                        f"Yahoo option chain of {symbol} {expiry} unavailable: "
                        f"{type(e).__name__}: {e}"
                    ) from e
                sides += [f for f in (calls, puts) if f is not None]
                spot = spot or _float((quote or {}).get("regularMarketPrice"))
        if spot is None or spot <= 0:
            raise DataUnavailableError(f"Yahoo gave no price of {symbol} with its option chain")
        return chain_from_yfinance(sides, symbol, as_of, spot, source=self.name)
