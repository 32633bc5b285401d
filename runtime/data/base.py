"""The MarketData interface that every provider implements."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from typing import Protocol, runtime_checkable

from invest.runtime.data.frame import BarFrame


@runtime_checkable
class MarketData(Protocol):
    """A source of daily bars.

    Implementations: ``sample`` (bundled), ``csv:PATH``, ``yfinance``, ``alpaca``.
    A provider returns bars up to ``end`` only; the cycle never asks for more.
    """

    name: str

    def symbols(self) -> tuple[str, ...]:
        """Symbols this source can serve without a network call (empty if unknown)."""
        ...

    def load(
        self, symbols: Sequence[str], start: date | None = None, end: date | None = None
    ) -> BarFrame:
        """Load daily bars for ``symbols`` between ``start`` and ``end`` inclusive.

        Raises:
            DataError: a symbol is unknown or the source cannot be parsed.
            DataUnavailableError: the provider cannot be reached.
        """
        ...
