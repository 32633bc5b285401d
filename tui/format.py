"""Number and time formatting shared by the screens (plain text plus a colour hint)."""

from __future__ import annotations

import contextlib
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from rich.text import Text

DASH = "-"


def money(x: float | None) -> str:
    """``12,345.67`` or a dash."""
    return DASH if x is None else f"{x:,.2f}"


def signed(x: float | None) -> Text:
    """``+12.30`` in green or ``-4.00`` in red (the sign carries it in monochrome)."""
    if x is None:
        return Text(DASH)
    return Text(f"{x:+,.2f}", style="green" if x > 0 else "red" if x < 0 else "")


def pct(x: float | None, colour: bool = True) -> Text:
    """``+1.2%`` coloured by sign, or a dash."""
    if x is None:
        return Text(DASH)
    style = ("green" if x > 0 else "red" if x < 0 else "") if colour else ""
    return Text(f"{x:+.1%}", style=style)


def when(dt: datetime | None, tz: str | None = None) -> str:
    """``2022-12-29 16:30`` in ``tz`` (the engine's timezone), or a dash."""
    if dt is None:
        return DASH
    if tz:
        with contextlib.suppress(KeyError, ValueError):
            dt = dt.astimezone(ZoneInfo(tz))
    return f"{dt:%Y-%m-%d %H:%M}"


HALT_STYLE = {"ACTIVE": "green", "REDUCING": "yellow", "HALTED": "bold red"}
REGIME_STYLE = {"ATTACK": "green", "DEFENSE": "yellow"}


_SEVERITY = {"ACTIVE": 0, "REDUCING": 1, "HALTED": 2}


def worst(*states: str) -> str:
    """The most restrictive halt state of ``states``."""
    return max(states, key=lambda s: _SEVERITY.get(s, 0))


def parse_when(value: object) -> datetime | None:
    """An ISO timestamp from the engine, or None."""
    if not isinstance(value, str):
        return None
    try:
        return datetime.fromisoformat(value)
    except ValueError:
        return None


def halt(state: str, paused: bool = False) -> Text:
    """The halt state, with ``paused`` when the engine says so."""
    label = f"{state} paused" if paused else state
    return Text(label, style=HALT_STYLE.get(state, ""))


def regime(value: str | None) -> Text:
    """ATTACK or DEFENSE, coloured; a dash when unknown."""
    return Text(value or DASH, style=REGIME_STYLE.get(value or "", ""))


def _order(o: dict[str, Any]) -> str:
    """A stock order as ``BUY PG``; an option order (options records) as ``OPEN KO bull_put``."""
    if "side" in o:
        return f"{o['side'].upper()} {o['symbol']}"
    return f"{str(o.get('action', '?')).upper()} {o.get('underlying', '?')} {o.get('kind', '')}"


def orders(rec: dict[str, Any], most: int = 3) -> str:
    """``BUY PG, SELL KO +2``: the orders of an explanation record, or a dash."""
    found = rec.get("orders") or []
    text = ", ".join(_order(o) for o in found[:most])
    if len(found) > most:
        text += f" +{len(found) - most}"
    return text or DASH
