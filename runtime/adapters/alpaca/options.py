"""Chain source ``alpaca``: the option chain from Alpaca's options data API (alpaca-py).

One chain is ``GET /v1beta1/options/snapshots/{underlying}`` (alpaca-py's
``OptionHistoricalDataClient.get_option_chain``; alpaca-py follows the
``next_page_token`` pages, 1000 snapshots each) plus the underlying's latest
trade, ``GET /v2/stocks/trades/latest``, for the spot. Each snapshot carries the
latest quote (bid/ask), the latest trade, and, where Alpaca computed them, the
implied volatility and the greeks; they are carried as they come.

Quotes: a contract with no ask (no quote, or ``ap`` 0) is dropped: nobody offers
it, so it can be neither bought nor valued. A contract with an ask but no bid is
kept with bid 0 (it can be bought, not sold; :attr:`OptionQuote.mid` then reads
the ask). A crossed quote (bid above ask) is dropped as bad data. The chain's
``notes`` say how many were dropped and why.

The chain is a live snapshot: ``as_of`` must be today or the last session
(:func:`~invest.runtime.adapters.current.require_current`). alpaca-py is imported
at first use. Errors map as in :mod:`invest.runtime.adapters.alpaca.data`:
HTTP 401/403/429/5xx and connection failures -> :class:`DataUnavailableError`;
HTTP 400/404/422 and an underlying with no listed options -> :class:`DataError`.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from datetime import date, timedelta
from typing import TYPE_CHECKING, Any

from invest.runtime.adapters.alpaca.data import _secret, data_client, data_error
from invest.runtime.adapters.current import require_current
from invest.runtime.errors import ConfigError, DataError, DataUnavailableError
from invest.runtime.options.chain import OptionChain, OptionQuote
from invest.runtime.options.contracts import OptionContract

if TYPE_CHECKING:
    from pydantic import SecretStr

    from invest.runtime.clock import Clock, TradingCalendar
    from invest.runtime.config.alpaca import AlpacaConfig

OPTIONS_FEEDS = ("indicative", "opra")
STOCK_FEEDS = ("iex", "sip", "delayed_sip", "otc", "boats", "overnight")


def _number(raw: Mapping[str, Any] | None, key: str) -> float | None:
    if not raw:
        return None
    value = raw.get(key)
    return float(value) if isinstance(value, int | float) else None


def chain_from_alpaca(
    snapshots: Mapping[str, Mapping[str, Any]],
    underlying: str,
    as_of: date,
    spot: float,
    *,
    source: str = "alpaca",
) -> OptionChain:
    """Turn the ``snapshots`` of the option chain endpoint (all pages merged) into a chain.

    ``snapshots`` maps an OCC symbol to ``{"latestQuote": {"bp", "ap", ...},
    "latestTrade": {"p", ...}, "impliedVolatility": float, "greeks": {"delta",
    "gamma", "rho", "theta", "vega"}}``; any part may be missing.

    Raises:
        DataError: a key is not an OCC symbol of ``underlying``, or nothing is quoted.
    """
    quotes: list[OptionQuote] = []
    no_ask = crossed = 0
    for symbol, snap in sorted(snapshots.items()):
        try:
            contract = OptionContract.from_occ(symbol)
        except ConfigError as e:
            raise DataError(f"Alpaca's chain of {underlying}: {e}") from e
        if contract.underlying != underlying.upper():
            raise DataError(f"Alpaca's chain of {underlying} lists {symbol}, another underlying")
        quote = snap.get("latestQuote")
        bid = _number(quote, "bp") or 0.0
        ask = _number(quote, "ap") or 0.0
        if ask <= 0:
            no_ask += 1
            continue
        if bid > ask:
            crossed += 1
            continue
        greeks = snap.get("greeks")
        quotes.append(
            OptionQuote(
                contract=contract,
                bid=bid,
                ask=ask,
                last=_number(snap.get("latestTrade"), "p"),
                iv=_number(snap, "impliedVolatility"),
                delta=_number(greeks, "delta"),
                gamma=_number(greeks, "gamma"),
                theta=_number(greeks, "theta"),
                vega=_number(greeks, "vega"),
            )
        )
    if not quotes:
        raise DataError(
            f"Alpaca has no quoted option of {underlying} ({len(snapshots)} contracts listed, "
            f"{no_ask} without an ask); check the symbol and the expiry window"
        )
    notes = []
    if no_ask:
        notes.append(f"{no_ask} contracts without an ask dropped")
    if crossed:
        notes.append(f"{crossed} crossed quotes (bid above ask) dropped")
    return OptionChain(
        underlying=underlying.upper(),
        as_of=as_of,
        spot=spot,
        quotes=tuple(quotes),
        source=source,
        notes=tuple(notes),
    )


class AlpacaOptionChainSource:
    """Chain source ``alpaca`` (see the module docstring).

    Args:
        api_key: Alpaca key id (``str`` or pydantic ``SecretStr``).
        secret_key: Alpaca secret.
        feed: options feed, ``indicative`` (free, delayed) or ``opra`` (paid).
        stock_feed: feed of the underlying's latest trade (``iex`` is free).
        max_dte: only expiries up to this many days after ``as_of`` (None: all;
            a whole chain of a big name is thousands of contracts and many pages).
        url_override: base URL instead of ``https://data.alpaca.markets`` (tests, proxies).
        retry_attempts: retries of a 429/504 answer (alpaca-py's default: 3).
        retry_wait_s: seconds between those retries (alpaca-py's default: 3).
        clock, calendar: what "today" and "the last session" are (tests).

    Raises:
        ConfigError: a key is missing, a feed is unknown, or ``max_dte`` is negative.
    """

    name = "alpaca"

    def __init__(
        self,
        api_key: str | SecretStr | None = None,
        secret_key: str | SecretStr | None = None,
        *,
        feed: str = "indicative",
        stock_feed: str = "iex",
        max_dte: int | None = 60,
        url_override: str | None = None,
        retry_attempts: int | None = None,
        retry_wait_s: int | None = None,
        clock: Clock | None = None,
        calendar: TradingCalendar | None = None,
    ) -> None:
        key, secret = _secret(api_key), _secret(secret_key)
        if key is None or secret is None:
            raise ConfigError(
                "the alpaca option chain source needs an API key id and a secret key; "
                "set them in the secrets file or the environment"
            )
        if feed not in OPTIONS_FEEDS:
            raise ConfigError(
                f"unknown Alpaca options feed {feed!r}; use one of: {', '.join(OPTIONS_FEEDS)}"
            )
        if stock_feed not in STOCK_FEEDS:
            raise ConfigError(
                f"unknown Alpaca feed {stock_feed!r}; use one of: {', '.join(STOCK_FEEDS)}"
            )
        if max_dte is not None and max_dte < 0:
            raise ConfigError(f"max_dte must be 0 or more days, got {max_dte}")
        self._key = key
        self._secret = secret
        self.feed = feed
        self.stock_feed = stock_feed
        self.max_dte = max_dte
        self.url_override = url_override
        self.retry_attempts = retry_attempts
        self.retry_wait_s = retry_wait_s
        self._clock = clock
        self._calendar = calendar
        self._clients: dict[str, Any] = {}

    @classmethod
    def from_config(
        cls,
        config: AlpacaConfig,
        api_key: str | SecretStr | None,
        secret_key: str | SecretStr | None,
        **kwargs: Any,
    ) -> AlpacaOptionChainSource:
        """A source with ``[engine.alpaca]``'s ``options_feed`` and ``feed``."""
        return cls(api_key, secret_key, feed=config.options_feed, stock_feed=config.feed, **kwargs)

    def __repr__(self) -> str:
        return f"AlpacaOptionChainSource(feed={self.feed!r}, max_dte={self.max_dte})"

    def close(self) -> None:
        """Close the HTTP sessions (the source reopens them when used again)."""
        for client in self._clients.values():
            client._session.close()
        self._clients.clear()

    def chain(self, underlying: str, as_of: date) -> OptionChain:
        """The current chain of ``underlying``, expiries from ``as_of`` to ``as_of + max_dte``.

        Raises:
            DataUnavailableError: ``as_of`` is not today or the last session; Alpaca
                cannot be reached, refuses the keys or the feed, or rate-limits.
            DataError: Alpaca rejects the request or lists no quoted option.
        """
        require_current(as_of, source="Alpaca", clock=self._clock, calendar=self._calendar)
        symbol = underlying.strip().upper()
        if not symbol:
            raise DataError("an option chain needs an underlying symbol, got ''")
        snapshots = self._fetch_chain(symbol, as_of)
        if not snapshots:
            window = f" expiring by {as_of + timedelta(days=self.max_dte)}" if self.max_dte else ""
            raise DataError(
                f"Alpaca lists no options of {symbol}{window}; check the symbol "
                f"(options exist for most US stocks and ETFs) or widen max_dte"
            )
        return chain_from_alpaca(snapshots, symbol, as_of, self._spot(symbol), source=self.name)

    # -- the network calls ---------------------------------------------------

    def _fetch_chain(self, symbol: str, as_of: date) -> Mapping[str, Mapping[str, Any]]:
        with _quiet():
            from alpaca.data.enums import OptionsFeed
            from alpaca.data.requests import OptionChainRequest

        request = OptionChainRequest(
            underlying_symbol=symbol,
            feed=OptionsFeed(self.feed),
            expiration_date_gte=as_of,
            expiration_date_lte=(
                as_of + timedelta(days=self.max_dte) if self.max_dte is not None else None
            ),
        )
        raw = self._call("option", "get_option_chain", request, f"the option chain of {symbol}")
        if not isinstance(raw, Mapping):
            raise DataUnavailableError(f"Alpaca returned an unexpected answer: {type(raw)}")
        return raw

    def _spot(self, symbol: str) -> float:
        with _quiet():
            from alpaca.data.enums import DataFeed
            from alpaca.data.requests import StockLatestTradeRequest

        request = StockLatestTradeRequest(symbol_or_symbols=symbol, feed=DataFeed(self.stock_feed))
        raw = self._call("stock", "get_stock_latest_trade", request, f"the last trade of {symbol}")
        trade = raw.get(symbol) if isinstance(raw, Mapping) else None
        price = _number(trade, "p")
        if price is None or price <= 0:
            raise DataError(f"Alpaca has no last trade of {symbol} to price its option chain")
        return price

    def _call(self, kind: str, method: str, request: Any, what: str) -> Any:
        with _quiet():
            from alpaca.common.exceptions import APIError
        try:
            return getattr(self._client(kind), method)(request)
        except APIError as e:
            raise self._translate(e, what) from e
        except Exception as e:
            raise DataUnavailableError(
                f"Alpaca request for {what} failed: {type(e).__name__}: {e}"
            ) from e

    def _client(self, kind: str) -> Any:
        if kind not in self._clients:
            with _quiet():
                from alpaca.data.historical.option import OptionHistoricalDataClient
                from alpaca.data.historical.stock import StockHistoricalDataClient

            cls = OptionHistoricalDataClient if kind == "option" else StockHistoricalDataClient
            self._clients[kind] = data_client(
                cls,
                self._key,
                self._secret,
                self.url_override,
                self.retry_attempts,
                self.retry_wait_s,
            )
        return self._clients[kind]

    def _translate(self, err: Any, what: str) -> DataError:
        return data_error(
            err,
            refused=what,
            rejected=f"the request for {what}",
            plan=f"the {self.feed!r} options feed (indicative is free)",
        )


@contextmanager
def _quiet() -> Iterator[None]:
    """Silence alpaca-py's import-time warning about ``websockets.legacy`` (upstream's)."""
    with warnings.catch_warnings():
        warnings.filterwarnings(
            "ignore", message=r"websockets\.legacy is deprecated", category=DeprecationWarning
        )
        yield
