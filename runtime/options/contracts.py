"""Option contracts, their OCC symbols and the legs of a multi-leg position.

The OCC symbol is the root, the expiry as YYMMDD, C or P, and the strike in
thousandths on eight digits: ``AAPL240119C00190000``. The OCC standard pads the
root to six characters with spaces; Alpaca and most feeds drop the padding. This
module writes the unpadded form and reads both.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from enum import StrEnum

from invest.runtime.errors import ConfigError


class Right(StrEnum):
    """The holder's right: to buy (call) or to sell (put) the underlying."""

    CALL = "call"
    PUT = "put"


class Style(StrEnum):
    """When the holder may exercise. US equity options are American."""

    AMERICAN = "american"
    EUROPEAN = "european"


#: Root (1-6 letters, digits or dots, optionally space-padded), YYMMDD, C/P, strike x 1000.
_OCC = re.compile(r"^(?P<root>[A-Z0-9.]{1,6}) *(?P<date>\d{6})(?P<right>[CP])(?P<strike>\d{8})$")


def is_occ_symbol(symbol: str) -> bool:
    """True when ``symbol`` reads as an OCC option symbol (padded or not), not a stock ticker."""
    return _OCC.match(symbol.strip().upper()) is not None


@dataclass(frozen=True, slots=True, order=True)
class OptionContract:
    """One listed option series.

    Attributes:
        underlying: the underlying symbol (the OCC root).
        expiry: the last trading day (the Friday of a weekly or monthly expiry).
        right: call or put.
        strike: the strike price.
        multiplier: shares delivered per contract (100 for US equity options).
        style: American or European exercise.
    """

    underlying: str
    expiry: date
    right: Right
    strike: Decimal
    multiplier: int = 100
    style: Style = Style.AMERICAN

    def __post_init__(self) -> None:
        if self.strike <= 0:
            raise ConfigError(
                f"option strike must be positive, got {self.strike} for {self.underlying}"
            )
        if self.multiplier <= 0:
            raise ConfigError(f"option multiplier must be positive, got {self.multiplier}")
        if self.strike * 1000 != (self.strike * 1000).to_integral_value():
            raise ConfigError(
                f"option strike {self.strike} has more than 3 decimals (OCC cannot write it)"
            )

    @property
    def symbol(self) -> str:
        """The OCC symbol without padding, as Alpaca writes it."""
        thousandths = int(self.strike * 1000)
        flag = "C" if self.right is Right.CALL else "P"
        return f"{self.underlying}{self.expiry:%y%m%d}{flag}{thousandths:08d}"

    @classmethod
    def from_occ(
        cls, symbol: str, *, multiplier: int = 100, style: Style = Style.AMERICAN
    ) -> OptionContract:
        """Read an OCC symbol (padded or not); a clear error names what is wrong."""
        match = _OCC.match(symbol.strip().upper())
        if match is None:
            raise ConfigError(
                f"{symbol!r} is not an OCC option symbol: expected ROOT + YYMMDD + C|P + 8-digit strike x 1000, "
                "e.g. AAPL240119C00190000"
            )
        raw = match["date"]
        try:
            expiry = date(2000 + int(raw[:2]), int(raw[2:4]), int(raw[4:]))
        except ValueError:
            raise ConfigError(f"{symbol!r}: {raw} is not a valid YYMMDD expiry") from None
        return cls(
            underlying=match["root"],
            expiry=expiry,
            right=Right.CALL if match["right"] == "C" else Right.PUT,
            strike=Decimal(int(match["strike"])) / 1000,
            multiplier=multiplier,
            style=style,
        )

    def dte(self, on: date) -> int:
        """Calendar days from ``on`` to the expiry (0 on the expiry day, negative after)."""
        return (self.expiry - on).days

    def intrinsic(self, spot: float) -> float:
        """Value per share if exercised at ``spot`` now."""
        strike = float(self.strike)
        return max(spot - strike, 0.0) if self.right is Right.CALL else max(strike - spot, 0.0)


@dataclass(frozen=True, slots=True)
class Leg:
    """One leg of a position or order: ``quantity`` contracts, positive long, negative short."""

    contract: OptionContract
    quantity: int

    def __post_init__(self) -> None:
        if self.quantity == 0:
            raise ConfigError(f"a leg needs a non-zero quantity ({self.contract.symbol})")

    @property
    def is_short(self) -> bool:
        return self.quantity < 0
