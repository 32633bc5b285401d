"""An option chain at one moment, and the interface of the sources that give one.

A chain is a snapshot: the underlying's spot and one quote per listed contract,
as of a date. Live sources (Alpaca's options data, yfinance) carry the venue's
bid/ask and, where the venue gives them, its implied volatility and greeks. The
backtest's modelled chain builds the same type point-in-time from the underlying's
bars and says so in ``source`` and ``modelled``.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date
from typing import Protocol

from invest.runtime.options.contracts import OptionContract, Right


@dataclass(frozen=True, slots=True)
class OptionQuote:
    """One contract's quote. Prices are per share (multiply by the multiplier per contract).

    ``iv`` and the greeks are the source's own when it gives them, else ``None``
    (the pricing module computes them from the mid when needed). Units are the venues'
    (Alpaca's snapshots, the modelled chain): ``iv`` a decimal (0.25), ``delta`` and
    ``gamma`` per share, ``theta`` per calendar day, ``vega`` per vol point (0.01).
    """

    contract: OptionContract
    bid: float
    ask: float
    last: float | None = None
    iv: float | None = None
    delta: float | None = None
    gamma: float | None = None
    theta: float | None = None
    vega: float | None = None
    open_interest: int | None = None
    volume: int | None = None

    @property
    def mid(self) -> float:
        """The mid of bid and ask (the ask alone when there is no bid)."""
        if self.bid <= 0:
            return self.ask
        return (self.bid + self.ask) / 2

    @property
    def spread(self) -> float:
        return self.ask - self.bid


@dataclass(frozen=True, slots=True)
class OptionChain:
    """Every quoted contract of one underlying, as of ``as_of``.

    Attributes:
        underlying: the underlying symbol.
        as_of: the session the snapshot belongs to.
        spot: the underlying's price used for the snapshot.
        quotes: the quotes, any order.
        source: ``"alpaca"``, ``"yfinance"`` or ``"modelled"``.
        modelled: True when the quotes are modelled, not observed (reports say so).
        notes: anything the source wants a report to carry (e.g. the model's parameters).
    """

    underlying: str
    as_of: date
    spot: float
    quotes: tuple[OptionQuote, ...]
    source: str
    modelled: bool = False
    notes: tuple[str, ...] = field(default=())

    def __iter__(self) -> Iterator[OptionQuote]:
        return iter(self.quotes)

    def __len__(self) -> int:
        return len(self.quotes)

    def expiries(self) -> list[date]:
        """The listed expiries, soonest first."""
        return sorted({q.contract.expiry for q in self.quotes})

    def side(self, expiry: date, right: Right) -> list[OptionQuote]:
        """The quotes of one expiry and right, by strike."""
        rows = [q for q in self.quotes if q.contract.expiry == expiry and q.contract.right is right]
        return sorted(rows, key=lambda q: q.contract.strike)

    def quote(self, contract: OptionContract) -> OptionQuote | None:
        """The quote of ``contract`` (matched by OCC symbol), or None when it is not listed."""
        symbol = contract.symbol
        for q in self.quotes:
            if q.contract.symbol == symbol:
                return q
        return None


class ChainSource(Protocol):
    """Anything that gives an option chain: a venue adapter or the modelled chain."""

    name: str

    def chain(self, underlying: str, as_of: date) -> OptionChain:
        """The chain of ``underlying`` as of ``as_of``.

        Raises:
            DataUnavailableError: the source has no chain for it (a clear message says why).
        """
        ...
