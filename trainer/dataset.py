"""Market arrays prepared once for training and evaluation.

Features come from :func:`invest.runtime.features.compute_features`, the same module the
runtime serves them from, so a policy trains on exactly what it will see. The optional
market context block (a recipe's ``context``) comes from the runtime's own builder,
:func:`invest.runtime.policy.observe.context_block` over
:func:`invest.runtime.context.context_table` of the same bars, with the ``[context]``
source the runtime's replays use for the sample ("auto": the bundled sample's VIX).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date

import numpy as np
import numpy.typing as npt

from invest.runtime.context import SERIES, context_table
from invest.runtime.data.sample import SampleData
from invest.runtime.features import compute_features
from invest.runtime.market import Market
from invest.runtime.policy.observe import context_block

__all__ = ["MarketArrays", "load_market_arrays"]


@dataclass(frozen=True)
class MarketArrays:
    """Closes and observation features of many symbols, as read-only numpy arrays.

    Attributes:
        dates: session dates, ``datetime64[D]``, shape ``(T,)``.
        symbols: the ``N`` traded symbols.
        close: closes, ``(T, N)`` float64, NaN where missing.
        features: ``(T, N, F)`` float32 with NaN replaced by 0 (the observation's features).
        valid: ``(T, N)``: every raw feature finite (warm-up over, no gap).
        days: ``(T,)`` int64 day numbers (days since 1970-01-01), for ``days_held``.
        index_close: closes of the benchmark index, ``(T,)``, or None.
        features_raw: ``(T, N, F)`` float64 features with NaN kept (the portfolio
            env's observations; :mod:`~invest.runtime.policy.contract` handles NaN).
        index_features: ``(T, F)`` float64 features of the index, or None.
        context_keys: the context series of :attr:`context` (empty: no context block).
        context: ``(T, 2 * len(context_keys))`` float64 context block by row
            (:func:`~invest.runtime.policy.contract.context_features`), or None.
    """

    dates: npt.NDArray[np.datetime64]
    symbols: tuple[str, ...]
    close: npt.NDArray[np.float64]
    features: npt.NDArray[np.float32]
    valid: npt.NDArray[np.bool_]
    days: npt.NDArray[np.int64]
    index_close: npt.NDArray[np.float64] | None = None
    features_raw: npt.NDArray[np.float64] | None = None
    index_features: npt.NDArray[np.float64] | None = None
    context_keys: tuple[str, ...] = ()
    context: npt.NDArray[np.float64] | None = None

    @classmethod
    def build(
        cls,
        dates: npt.NDArray[np.datetime64],
        symbols: Sequence[str],
        close: npt.NDArray[np.float64],
        index_close: npt.NDArray[np.float64] | None = None,
        context: tuple[tuple[str, ...], npt.NDArray[np.float64]] | None = None,
    ) -> MarketArrays:
        """Compute features once and freeze everything.

        Args:
            dates: session dates, shape ``(T,)``.
            symbols: column names, ``N`` of them.
            close: closes, shape ``(T, N)``.
            index_close: benchmark closes, shape ``(T,)``, or None.
            context: the declared series and their context block ``(T, 2 * k)``, or None.
        """
        close = np.array(close, dtype=np.float64)
        raw = compute_features(close).values
        valid = np.isfinite(raw).all(axis=2) & np.isfinite(close) & (close > 0)
        features = np.nan_to_num(raw, nan=0.0).astype(np.float32)
        days = np.asarray(dates, dtype="datetime64[D]").astype(np.int64)
        raw64 = np.asarray(raw, dtype=np.float64)
        arrays: list[np.ndarray] = [close, features, valid, days, raw64]
        index_features = None
        if index_close is not None:
            index_close = np.array(index_close, dtype=np.float64)
            index_features = np.asarray(
                compute_features(index_close[:, None]).values[:, 0, :], np.float64
            )
            arrays += [index_close, index_features]
        keys: tuple[str, ...] = ()
        block = None
        if context is not None:
            keys, block = context[0], np.array(context[1], dtype=np.float64)
            arrays.append(block)
        for a in arrays:
            a.setflags(write=False)
        return cls(
            dates=np.asarray(dates, dtype="datetime64[D]"),
            symbols=tuple(symbols),
            close=close,
            features=features,
            valid=valid,
            days=days,
            index_close=index_close,
            features_raw=raw64,
            index_features=index_features,
            context_keys=keys,
            context=block,
        )

    @property
    def n_features(self) -> int:
        """``F``, the number of features per symbol."""
        return int(self.features.shape[2])

    def rows(self, start: date | None, end: date | None) -> tuple[int, int]:
        """Row range ``[lo, hi)`` of the sessions between ``start`` and ``end`` (inclusive)."""
        lo = 0 if start is None else int(np.searchsorted(self.dates, np.datetime64(start, "D")))
        hi = (
            len(self.dates)
            if end is None
            else int(np.searchsorted(self.dates, np.datetime64(end, "D"), side="right"))
        )
        return lo, hi

    def year_rows(self, year: int) -> tuple[int, int]:
        """Row range ``[lo, hi)`` of the sessions of calendar ``year``."""
        return self.rows(date(year, 1, 1), date(year, 12, 31))

    def day(self, row: int) -> date:
        """Session ``row`` as a date."""
        return date.fromisoformat(str(self.dates[row]))


def load_market_arrays(
    symbols: Sequence[str] | None,
    index_symbol: str | None = "SP500",
    context: Sequence[str] = (),
) -> MarketArrays:
    """Load the bundled sample and prepare it.

    Args:
        symbols: tickers to trade; None takes every stock of the sample.
        index_symbol: benchmark index column, or None.
        context: market context series to build the observation's context block of
            (``contract.CONTEXT_SERIES`` keys); empty for none.

    Returns:
        The prepared arrays.

    Raises:
        DataError: a symbol is not in the sample.
        ValueError: a context series is unknown, or the data never has a value of it.
    """
    source = SampleData()
    if symbols is None:
        symbols = [s for s in source.symbols() if s != index_symbol]
    wanted = [*symbols, index_symbol] if index_symbol else list(symbols)
    frame = source.load(wanted)
    n = len(symbols)
    index_close = frame.close[:, n] if index_symbol else None
    block = None
    if context:
        keys = tuple(context)
        # The runtime's builder over the runtime's Market of the same bars: one code path.
        table = context_table(Market(frame))
        values = context_block(table, keys)
        for j, key in enumerate(keys):
            if not values[:, 2 * j + 1].any():
                last = table.at(len(table.dates) - 1).readings()
                reason = last[[spec.key for spec in SERIES].index(key)].text()
                raise ValueError(
                    f"context series {key!r} has no value in the training data "
                    f"({table.source} source; {reason}): drop it from the recipe's context"
                )
        block = (keys, values)
    return MarketArrays.build(frame.dates, symbols, frame.close[:, :n], index_close, block)
