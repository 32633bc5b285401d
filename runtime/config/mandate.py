"""Mandates: an account's target split by asset class (buckets), and the symbols' classes.

A mandate says how an account's equity is split between asset classes, cash included:
core-satellite is ``{etf = 0.60, stock = 0.30, cash = 0.10}``. The classes are free
lowercase names; each symbol's class comes from the config's ``[assets]`` table
(``SPY = "etf"``, ``AAPL = "stock"``); ``cash`` is reserved for the cash bucket. The risk
engine holds the buckets (``risk.mandate``); the LLM manager is shown them.

On the bundled sample there are no ETFs: the index series ``SP500`` stands in for an
S&P 500 ETF (``SP500 = "etf"``), tradable like any column of the data.

Pure python: the bucket sums here are shared by the risk engine and the oracle context.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Mapping

from pydantic import Field, field_validator

from invest.runtime.config.base import Frozen

__all__ = ["CASH", "MandateConfig", "bucket_weights", "check_asset_classes", "missing_classes"]

#: The reserved name of the cash bucket.
CASH = "cash"
_CLASS = re.compile(r"^[a-z][a-z0-9_-]{0,29}$")


class MandateConfig(Frozen):
    """An account's target split of equity by asset class; the risk engine holds it.

    A bucket above its target plus ``band`` is scaled down to its target; the cash
    bucket is a floor on cash (the risk profile's ``min_cash_pct`` still holds: the
    stricter wins); a bucket below its target minus ``band`` is left under-weight with a
    note, since the risk engine never buys what the strategy did not ask for.
    """

    buckets: dict[str, float]
    """Target fraction of equity per asset class, "cash" included; they sum to 1 (e.g. {etf = 0.60, stock = 0.30, cash = 0.10})."""
    band: float = Field(0.05, ge=0, lt=1)
    """Tolerance: a bucket may drift within its target +- band before the risk engine acts (0.05 = 5 points)."""

    @field_validator("buckets")
    @classmethod
    def _valid_buckets(cls, v: dict[str, float]) -> dict[str, float]:
        for name, w in v.items():
            if not _CLASS.match(name):
                raise ValueError(
                    f"bucket {name!r}: an asset class is a lowercase name (letters, digits, - _)"
                )
            if not (math.isfinite(w) and 0 <= w <= 1):
                raise ValueError(f"bucket {name!r}: target {w} must be between 0 and 1")
        if CASH not in v:
            raise ValueError('buckets need a "cash" bucket (cash = 0.0 for none)')
        total = math.fsum(v.values())
        if abs(total - 1) > 1e-9:
            raise ValueError(f"bucket targets sum to {total:.6g}, not 1: make them add up to 1")
        return v

    @property
    def cash(self) -> float:
        """The cash bucket's target."""
        return self.buckets[CASH]

    def classes(self) -> tuple[str, ...]:
        """The invested buckets' classes (every bucket but cash), sorted."""
        return tuple(sorted(c for c in self.buckets if c != CASH))


def check_asset_classes(v: Mapping[str, str]) -> dict[str, str]:
    """Upper-case symbols, lowercase class names, ``cash`` refused (the ``[assets]`` table)."""
    out: dict[str, str] = {}
    for sym, cls in v.items():
        name = cls.strip().lower()
        if not _CLASS.match(name):
            raise ValueError(
                f"assets.{sym}: class {cls!r} must be a lowercase name (letters, digits, - _)"
            )
        if name == CASH:
            raise ValueError(f'assets.{sym}: "cash" is the reserved cash bucket, not a class')
        out[sym.strip().upper()] = name
    return out


def missing_classes(symbols: Iterable[str], classes: Mapping[str, str]) -> list[str]:
    """The symbols of ``symbols`` that ``classes`` gives no asset class, in order."""
    return [s for s in dict.fromkeys(symbols) if s not in classes]


def bucket_weights(
    weights: Mapping[str, float], classes: Mapping[str, str], mandate: MandateConfig
) -> dict[str, float]:
    """Weight of each bucket of ``mandate`` in a book of symbol ``weights`` (of equity).

    Cash is what the symbols leave (1 - their sum). A symbol of a class the mandate has
    no bucket for counts in none (the risk engine caps such a class at 0 first).
    """
    out = dict.fromkeys(mandate.buckets, 0.0)
    for sym, w in weights.items():
        c = classes.get(sym)
        if c is not None and c in out and c != CASH:
            out[c] += w
    out[CASH] = 1.0 - math.fsum(weights.values())
    return out
