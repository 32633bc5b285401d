"""Provider ``alpaca``: daily bars from Alpaca's market data API (alpaca-py).

One ``GET /v2/stocks/bars`` per load (alpaca-py follows ``next_page_token``
pages), ``timeframe=1Day``, ``adjustment=all`` by default so the frame says
``adjusted=True``, feed ``iex`` by default (the free plan; ``sip`` needs a
subscription). A daily bar's timestamp is midnight New York time, so the
session date is taken in ``America/New_York``.

Keys come from the constructor (the config layer fills them from the
environment or the secrets file); they are kept masked and never put in a
message or a log line. alpaca-py is imported at first use: importing it is slow.

Error mapping at this edge: HTTP 401/403/429/5xx, connection errors and
anything unexpected from the client -> :class:`DataUnavailableError`; HTTP
400/404/422 (a malformed symbol, bad parameters) and a symbol without bars ->
:class:`DataError`.
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping, Sequence
from datetime import date, datetime, time
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

import numpy as np
import pandas as pd

from invest.runtime.adapters.alpaca.parsing import api_message
from invest.runtime.data.frame import BarFrame
from invest.runtime.errors import ConfigError, DataError, DataUnavailableError

if TYPE_CHECKING:
    from pydantic import SecretStr

NEW_YORK = ZoneInfo("America/New_York")
FEEDS = ("iex", "sip", "delayed_sip", "otc", "boats", "overnight")
ADJUSTMENTS = ("raw", "split", "dividend", "all")
EARLIEST = date(2000, 1, 1)  # start=None asks from here; Alpaca serves what it has
ALPACA_FIELDS = {"open": "o", "high": "h", "low": "l", "close": "c", "volume": "v"}


class _Secret:
    """A string that does not show itself in repr, str or tracebacks."""

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value

    def reveal(self) -> str:
        return self._value

    def __repr__(self) -> str:
        return "_Secret('**********')"

    __str__ = __repr__


def _secret(value: str | SecretStr | None) -> _Secret | None:
    if value is None:
        return None
    raw = value if isinstance(value, str) else value.get_secret_value()
    return _Secret(raw) if raw else None


def frame_from_alpaca(
    bars: Mapping[str, Sequence[Mapping[str, Any]]],
    symbols: Sequence[str],
    *,
    adjusted: bool = True,
    source: str = "alpaca",
) -> BarFrame:
    """Turn the ``bars`` object of ``GET /v2/stocks/bars`` (all pages merged) into a BarFrame.

    ``bars`` maps a symbol to its bars ``{"t", "o", "h", "l", "c", "v", ...}``.
    Symbols are matched upper-cased; the frame keeps the caller's spelling.

    Raises:
        DataError: a symbol has no bars, or a bar lacks a field.
    """
    upper = {k.upper(): v for k, v in bars.items()}
    empty = [s for s in symbols if not upper.get(s.upper())]
    if empty:
        raise DataError(
            f"Alpaca returned no bars for {', '.join(empty)}; check the symbol (Alpaca writes "
            f"share classes with a dot, e.g. BRK.B) and the date range"
        )
    per_symbol: list[tuple[np.ndarray, dict[str, np.ndarray]]] = []
    for sym in symbols:
        rows = upper[sym.upper()]
        try:
            stamps = pd.to_datetime([r["t"] for r in rows], utc=True)
            cols = {
                name: np.array([r[key] for r in rows], dtype=np.float64)
                for name, key in ALPACA_FIELDS.items()
            }
        except (KeyError, TypeError, ValueError) as e:
            raise DataError(f"Alpaca bars for {sym} are malformed: {e!r}") from e
        days = stamps.tz_convert(NEW_YORK).normalize().tz_localize(None)
        day_arr = days.to_numpy().astype("datetime64[D]")
        if len(np.unique(day_arr)) != len(day_arr):
            raise DataError(f"Alpaca returned two bars for one session of {sym}")
        per_symbol.append((day_arr, cols))
    return BarFrame.aligned(symbols, per_symbol, adjusted=adjusted, source=source)


class AlpacaData:
    """Provider ``alpaca`` (see the module docstring).

    Args:
        api_key: Alpaca key id (``str`` or pydantic ``SecretStr``).
        secret_key: Alpaca secret (``str`` or ``SecretStr``).
        feed: ``iex`` (default, free), ``sip`` (paid) or another Alpaca feed.
        adjustment: ``all`` (default; the frame is adjusted), ``split``,
            ``dividend`` or ``raw`` (the frame is unadjusted).
        url_override: base URL instead of ``https://data.alpaca.markets``
            (tests and proxies).
        retry_attempts: retries of a 429/504 answer (alpaca-py's default: 3).
        retry_wait_s: seconds between those retries (alpaca-py's default: 3).

    Raises:
        ConfigError: a key is missing, or the feed or adjustment is unknown.
    """

    name = "alpaca"

    def __init__(
        self,
        api_key: str | SecretStr | None = None,
        secret_key: str | SecretStr | None = None,
        *,
        feed: str = "iex",
        adjustment: str = "all",
        url_override: str | None = None,
        retry_attempts: int | None = None,
        retry_wait_s: int | None = None,
    ) -> None:
        key, secret = _secret(api_key), _secret(secret_key)
        if key is None or secret is None:
            raise ConfigError(
                "the alpaca data source needs an API key id and a secret key; "
                "set them in the secrets file or the environment"
            )
        if feed not in FEEDS:
            raise ConfigError(f"unknown Alpaca feed {feed!r}; use one of: {', '.join(FEEDS)}")
        if adjustment not in ADJUSTMENTS:
            raise ConfigError(
                f"unknown Alpaca adjustment {adjustment!r}; use one of: {', '.join(ADJUSTMENTS)}"
            )
        self._key = key
        self._secret = secret
        self.feed = feed
        self.adjustment = adjustment
        self.url_override = url_override
        self.retry_attempts = retry_attempts
        self.retry_wait_s = retry_wait_s
        self._client: Any = None

    def __repr__(self) -> str:
        return f"AlpacaData(feed={self.feed!r}, adjustment={self.adjustment!r})"

    def symbols(self) -> tuple[str, ...]:
        """Unknown without a network call: empty."""
        return ()

    def close(self) -> None:
        """Close the HTTP session (the provider reopens one when used again)."""
        if self._client is not None:
            self._client._session.close()
            self._client = None

    def load(
        self, symbols: Sequence[str], start: date | None = None, end: date | None = None
    ) -> BarFrame:
        """Daily bars of ``symbols`` between ``start`` and ``end`` inclusive.

        ``start=None`` asks from 2000 (Alpaca serves what it has, years fewer
        than Yahoo); ``end=None`` up to now.

        Raises:
            DataError: a symbol has no bars or is malformed.
            DataUnavailableError: Alpaca cannot be reached, refuses the keys or
                the feed, or rate-limits.
        """
        if not symbols:
            return BarFrame(
                dates=np.array([], dtype="datetime64[D]"),
                symbols=(),
                close=np.empty((0, 0)),
                adjusted=self.adjustment != "raw",
                source=self.name,
            )
        bars = self._fetch(symbols, start, end)
        frame = frame_from_alpaca(
            bars, symbols, adjusted=self.adjustment != "raw", source=self.name
        )
        return frame.between(start, end)

    def _fetch(
        self, symbols: Sequence[str], start: date | None, end: date | None
    ) -> Mapping[str, Sequence[Mapping[str, Any]]]:
        """The network call: all pages of ``GET /v2/stocks/bars``, raw JSON bars by symbol."""
        with warnings.catch_warnings():
            # alpaca-py imports websockets.legacy, deprecated upstream; nothing to do here.
            warnings.filterwarnings(
                "ignore", message=r"websockets\.legacy is deprecated", category=DeprecationWarning
            )
            from alpaca.common.exceptions import APIError
            from alpaca.data.enums import Adjustment, DataFeed
            from alpaca.data.requests import StockBarsRequest
            from alpaca.data.timeframe import TimeFrame

        request = StockBarsRequest(
            symbol_or_symbols=[s.upper() for s in symbols],
            timeframe=TimeFrame.Day,
            start=datetime.combine(start or EARLIEST, time(0, 0), tzinfo=NEW_YORK),
            end=(
                datetime.combine(end, time(23, 59, 59), tzinfo=NEW_YORK)
                if end is not None
                else None
            ),
            adjustment=Adjustment(self.adjustment),
            feed=DataFeed(self.feed),
        )
        try:
            raw = self._get_client().get_stock_bars(request)
        except APIError as e:
            raise self._translate(e) from e
        except Exception as e:
            raise DataUnavailableError(
                f"Alpaca market data request failed: {type(e).__name__}: {e}"
            ) from e
        if not isinstance(raw, Mapping):
            raise DataUnavailableError(f"Alpaca returned an unexpected answer: {type(raw)}")
        return raw

    def _get_client(self) -> Any:
        if self._client is None:
            from alpaca.data.historical.stock import StockHistoricalDataClient

            self._client = data_client(
                StockHistoricalDataClient,
                self._key,
                self._secret,
                self.url_override,
                self.retry_attempts,
                self.retry_wait_s,
            )
        return self._client

    def _translate(self, err: Any) -> DataError:
        return data_error(
            err,
            refused="the market data request",
            rejected="the bars request",
            plan=f"the {self.feed!r} feed",
        )


def data_client(
    cls: Any,
    key: _Secret,
    secret: _Secret,
    url_override: str | None,
    retry_attempts: int | None,
    retry_wait_s: float | None,
) -> Any:
    """An alpaca-py historical data client (stock or option) returning raw JSON."""
    client = cls(
        api_key=key.reveal(),
        secret_key=secret.reveal(),
        raw_data=True,
        url_override=url_override,
    )
    # alpaca-py reads its retry settings from constants; its data clients have no
    # arguments for them.
    if retry_attempts is not None:
        client._retry = retry_attempts
    if retry_wait_s is not None:
        client._retry_wait = retry_wait_s
    return client


def data_error(err: Any, *, refused: str, rejected: str, plan: str) -> DataError:
    """The :class:`DataError` for an alpaca-py ``APIError`` of a market data request.

    Args:
        refused: what was refused ("the market data request").
        rejected: what was rejected on a bad request ("the bars request").
        plan: what the plan must include ("the 'iex' feed").
    """
    status = err.status_code
    text = api_message(err)
    if status in (401, 403):
        return DataUnavailableError(
            f"Alpaca refused {refused} (HTTP {status}: {text}); check the API key and "
            f"secret, and that your plan includes {plan}"
        )
    if status == 429:
        return DataUnavailableError(f"Alpaca rate limit hit (HTTP 429: {text}); retry later")
    if status in (400, 404, 422):
        return DataError(f"Alpaca rejected {rejected} (HTTP {status}): {text}")
    return DataUnavailableError(f"Alpaca market data unavailable (HTTP {status}): {text}")
