"""Marks of open option positions: value, P&L, DTE, net greeks and the distance to each exit.

One :class:`OptionMark` per open position and session, for the explanation record,
the ledger's ``option_marks`` table, the TUI's options screen and Telegram ``/options``.

- *value*: the position at mid in money, signed as cash to close it would flow
  (a long structure is worth > 0, a credit structure < 0: buying it back costs).
- *unrealised*: premiums in - premiums out + settlement - fees + value, so that a
  close at mid with no further fee realises exactly this.
- *greeks*: each leg's quote greek x its quantity per unit x contracts x multiplier
  (delta and gamma in shares, theta in money per calendar day, vega in money per
  vol point). The option legs only: a covered call's shares are not in its delta.
  None when a leg has no quote or its source gives no greek.
- *triggers*: the monitors' rules (``risk.options.monitor``) restated as levels:
  the value at which the take profit and the stop fire, how far the value is from
  it (> 0: not yet), and the days left before the DTE auto-close. The levels are
  the monitor's inequalities solved for the value, so a distance <= 0 is exactly
  when the monitor closes the position (a test holds the two equal).
  ``remaining`` is the share of the way from the open to the trigger still to go
  (1 at the open, 0 when it fires) and ranks the rules for "the nearest".

This module imports no risk module (layer 2): the thresholds come in as a config
and the kinds that auto-close as a set.
"""

from __future__ import annotations

import math
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from datetime import date
from typing import Any

from invest.runtime.config.options_risk import OptionsRiskConfig
from invest.runtime.options.book import OptionPosition
from invest.runtime.options.chain import OptionQuote
from invest.runtime.options.structures import StructureKind

__all__ = ["OptionMark", "Trigger", "mark_position", "nearest"]

_GREEKS = ("delta", "gamma", "theta", "vega")


@dataclass(frozen=True, slots=True)
class Trigger:
    """How far one exit rule is from firing.

    Attributes:
        rule: ``take_profit``, ``stop_loss`` or ``auto_close`` (the monitor's names).
        at: the position value (money, at mid) at which it fires; None for ``auto_close``.
        distance: money between the value now and ``at`` (> 0: not yet), or days
            before the auto-close (> 0: not yet).
        unit: ``"$"`` or ``"days"``.
        remaining: the share of the way from the open still to go (1 at the open, <= 0 fired).
    """

    rule: str
    at: float | None
    distance: float
    unit: str
    remaining: float

    def text(self) -> str:
        """In words, e.g. ``"take profit at -50.00, 30.00 away"`` or ``"auto-close in 4 days"``."""
        name = self.rule.replace("_", " ")
        if self.unit == "days":
            if self.distance <= 0:
                return "auto-close due"
            return f"auto-close in {self.distance:.0f} day{'s' if self.distance != 1 else ''}"
        if self.distance <= 0:
            return f"{name} due (at {self.at:,.2f})"
        return f"{name} at {self.at:,.2f}, {self.distance:,.2f} away"

    def as_dict(self) -> dict[str, Any]:
        return {
            "rule": self.rule,
            "at": None if self.at is None else round(self.at, 2),
            "distance": round(self.distance, 2),
            "unit": self.unit,
            "remaining": round(self.remaining, 4),
        }


@dataclass(frozen=True, slots=True)
class OptionMark:
    """One open position marked on ``day`` (see the module docstring for the units).

    ``priced`` is False when a leg had no quote today: ``value`` is then the last
    known one (or None), and only the DTE rule has a distance.
    """

    account: str
    position_id: str
    day: date
    kind: str
    underlying: str
    contracts: int
    dte: int
    spot: float | None
    value: float | None
    unrealised: float | None
    delta: float | None
    gamma: float | None
    theta: float | None
    vega: float | None
    priced: bool
    triggers: tuple[Trigger, ...]

    def as_dict(self) -> dict[str, Any]:
        """Plain JSON types, for the explanation record."""

        def r(x: float | None, n: int = 2) -> float | None:
            return None if x is None else round(x, n)

        return {
            "position_id": self.position_id,
            "kind": self.kind,
            "underlying": self.underlying,
            "contracts": self.contracts,
            "dte": self.dte,
            "spot": r(self.spot),
            "value": r(self.value),
            "unrealised": r(self.unrealised),
            "delta": r(self.delta),
            "gamma": r(self.gamma, 4),
            "theta": r(self.theta),
            "vega": r(self.vega),
            "priced": self.priced,
            "triggers": [t.as_dict() for t in self.triggers],
        }


def nearest(triggers: Collection[Trigger]) -> Trigger | None:
    """The trigger with the least of its way left to go (None when there is none)."""
    return min(triggers, key=lambda t: t.remaining, default=None)


def mark_position(
    pos: OptionPosition,
    quotes: Mapping[str, OptionQuote],
    day: date,
    cfg: OptionsRiskConfig,
    *,
    auto_close: bool,
    spot: float | None = None,
    last_value: float | None = None,
) -> OptionMark:
    """Mark ``pos`` on ``day`` from ``quotes`` (by OCC symbol) under the monitor's thresholds.

    ``auto_close``: whether the DTE rule applies to this kind (the monitor's spreads).
    ``last_value``: the value to show when a leg is not quoted today.
    """
    legs = pos.structure.legs
    scale = pos.contracts * pos.structure.multiplier
    got = [quotes.get(leg.contract.symbol) for leg in legs]
    priced = all(q is not None for q in got)
    cash = float(pos.premium_in - pos.premium_out + pos.settlement - pos.fees)
    greeks: dict[str, float | None] = dict.fromkeys(_GREEKS)
    unit_value: float | None = None
    if priced:
        present = [q for q in got if q is not None]
        unit_value = sum(leg.quantity * q.mid for leg, q in zip(legs, present, strict=True))
        for g in _GREEKS:
            vals = [getattr(q, g) for q in present]
            if all(v is not None for v in vals):
                greeks[g] = scale * sum(
                    leg.quantity * float(v) for leg, v in zip(legs, vals, strict=True)
                )
    value = unit_value * scale if unit_value is not None else last_value
    dte = (pos.expiry - day).days
    triggers: list[Trigger] = []
    if unit_value is not None:
        triggers += _priced_triggers(pos, unit_value, scale, cfg)
    if auto_close:
        span = (pos.expiry - pos.opened).days - cfg.auto_close_dte
        left = dte - cfg.auto_close_dte
        triggers.append(Trigger("auto_close", None, float(left), "days", _share(left, span)))
    return OptionMark(
        account=pos.account,
        position_id=pos.id,
        day=day,
        kind=pos.structure.kind.value,
        underlying=pos.structure.underlying,
        contracts=pos.contracts,
        dte=dte,
        spot=spot,
        value=value,
        unrealised=None if value is None else cash + value,
        delta=greeks["delta"],
        gamma=greeks["gamma"],
        theta=greeks["theta"],
        vega=greeks["vega"],
        priced=priced,
        triggers=tuple(triggers),
    )


def _share(left: float, span: float) -> float:
    """``left`` as a share of ``span`` (a span of 0 or less: 0 when due, else 1)."""
    if span <= 0:
        return 1.0 if left > 0 else 0.0
    return left / span


def _priced_triggers(
    pos: OptionPosition, unit_value: float, scale: int, cfg: OptionsRiskConfig
) -> list[Trigger]:
    """The stop and the take profit as value levels: the monitor's tests solved for the value.

    The monitor compares ``gain = open_premium + unit_value`` per share: a stop fires
    when ``-gain >= level``, i.e. ``unit_value <= -level - open_premium``; a take profit
    when ``gain >= tp x top``, i.e. ``unit_value >= tp x top - open_premium``.
    """
    structure, premium = pos.structure, pos.open_premium
    covered = structure.kind is StructureKind.COVERED_CALL
    open_value = -premium  # the unit's value at the open price
    out: list[Trigger] = []
    if cfg.take_profit is not None:
        top = premium if covered else structure.max_gain(premium)
        if math.isfinite(top) and top > 0:
            at = cfg.take_profit * top - premium
            out.append(
                Trigger(
                    "take_profit",
                    at * scale,
                    (at - unit_value) * scale,
                    "$",
                    _share(at - unit_value, at - open_value),
                )
            )
    if cfg.stop_loss is not None and not covered:  # the monitor has no stop for covered calls
        basis = structure.max_loss(premium) if cfg.stop_basis == "max_loss" else abs(premium)
        if basis > 0:
            at = -cfg.stop_loss * basis - premium
            out.append(
                Trigger(
                    "stop_loss",
                    at * scale,
                    (unit_value - at) * scale,
                    "$",
                    _share(unit_value - at, open_value - at),
                )
            )
    return out
