"""``invest options greeks``: one option's BSM price and greeks, or its implied volatility.

Wiring (in ``runtime/cli.py``)::

    from invest.runtime.options_cli import add_options_commands
    add_options_commands(sub)   # sets the handler through set_defaults

Importing this module loads argparse only; the handler imports numpy and the
pricing module when it runs, so ``invest --help`` stays light. Numbers are read
as text and checked by the handler, so every bad value is one ``error:`` line
(exit 2) from the CLI's own error path rather than argparse's usage block.
"""

from __future__ import annotations

import argparse
import json
import math
from typing import TYPE_CHECKING

from invest.runtime.errors import ConfigError
from invest.runtime.paths import Paths

if TYPE_CHECKING:
    from invest.runtime.options.pricing import Greeks

#: A plain decimal above these is almost surely a percentage typed without "%".
_MAX_PLAIN = {"--vol": 5.0, "--rate": 1.0, "--div": 1.0}

_RATE_HELP = "a decimal (0.2) or a percentage (20%%)"


def add_options_commands(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Register ``invest options greeks`` (its handler is set with ``set_defaults``)."""
    options = sub.add_parser("options", help="option pricing tools (Black-Scholes-Merton)")
    actions = options.add_subparsers(dest="action", metavar="ACTION", required=True)
    p = actions.add_parser(
        "greeks",
        help="price, delta, gamma, vega, theta and rho of one option; --price gives its implied vol",
        description=(
            "Black-Scholes-Merton value of a European option with a continuous dividend yield, "
            "and its greeks (vega per 1.00 of vol and per vol point, theta per year and per "
            "calendar day, rho per 1.00 of rate). With --price, the implied volatility of that "
            "price and the greeks at it. Time is ACT/365: --days calendar days. Vol, rate and "
            "div are decimals (0.2) or percentages (20%)."
        ),
    )
    p.add_argument("--type", required=True, choices=("call", "put"), dest="right")
    p.add_argument("--spot", required=True, metavar="S", help="the underlying's price")
    p.add_argument("--strike", required=True, metavar="K", help="the strike")
    p.add_argument(
        "--days", required=True, metavar="D", help="calendar days to expiry (0.5 = half a day)"
    )
    p.add_argument(
        "--vol", metavar="V", help=f"volatility per year, {_RATE_HELP}; needed without --price"
    )
    p.add_argument(
        "--rate",
        default="0",
        metavar="R",
        help=f"risk-free rate, continuous, {_RATE_HELP} (default 0)",
    )
    p.add_argument(
        "--div", default="0", metavar="Q", help=f"dividend yield, {_RATE_HELP} (default 0)"
    )
    p.add_argument(
        "--price", metavar="P", help="an observed option price per share: print its implied vol"
    )
    p.add_argument("--json", action="store_true", help="print the result as JSON")
    p.set_defaults(handler=greeks_command)


def greeks_command(args: argparse.Namespace, paths: Paths) -> int:
    """``invest options greeks``: print the greeks (and the implied vol with ``--price``)."""
    from invest.runtime.options.pricing import greeks, implied_vol, year_fraction

    spot = _number("--spot", args.spot)
    strike = _number("--strike", args.strike)
    days = _number("--days", args.days)
    rate = _decimal_rate("--rate", args.rate)
    div = _decimal_rate("--div", args.div)
    vol = None if args.vol is None else _decimal_rate("--vol", args.vol)
    observed = None if args.price is None else _number("--price", args.price)
    if spot <= 0 or strike <= 0:
        raise ConfigError(f"--spot and --strike must be positive, got {spot:g} and {strike:g}")
    if days < 0:
        raise ConfigError(f"--days must be >= 0 (calendar days to expiry), got {days:g}")
    if vol is not None and vol < 0:
        raise ConfigError(f"--vol must be >= 0, got {args.vol}")
    if vol is None and observed is None:
        raise ConfigError("give --vol (to price the option) or --price (to read its implied vol)")
    t = float(year_fraction(days))
    result: dict[str, object] = {
        "type": args.right,
        "spot": spot,
        "strike": strike,
        "days": days,
        "t_years": t,
        "rate": rate,
        "div": div,
    }
    blocks: list[tuple[str, Greeks]] = []
    if vol is not None:
        at_vol = greeks(args.right, spot, strike, t, vol, rate, div)
        result["vol"] = vol
        result["greeks"] = _as_dict(at_vol)
        blocks.append((f"at vol {vol:.2%}", at_vol))
    if observed is not None:
        iv = implied_vol(args.right, observed, spot, strike, t, rate, div)
        at_iv = greeks(args.right, spot, strike, t, iv, rate, div)
        result["price"] = observed
        result["implied_vol"] = iv
        result["greeks_at_implied_vol"] = _as_dict(at_iv)
        blocks.append((f"at the implied vol {iv:.4%} of price {observed:g}", at_iv))
    if args.json:
        print(json.dumps(result, indent=2))
        return 0
    print(
        f"{args.right} spot {spot:g} strike {strike:g}, {days:g} days (t = {t:.6f} years), "
        f"rate {rate:.2%}, div {div:.2%}"
    )
    for title, g in blocks:
        print(title)
        print(_table(g))
    return 0


def _number(flag: str, text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise ConfigError(f"{flag} must be a number, got {text!r}") from None
    if not math.isfinite(value):
        raise ConfigError(f"{flag} must be a finite number, got {text!r}")
    return value


def _decimal_rate(flag: str, text: str) -> float:
    """``0.2`` or ``20%`` as 0.2; a plain number too large to be a decimal is refused."""
    stripped = text.strip()
    if stripped.endswith("%"):
        return _number(flag, stripped[:-1]) / 100.0
    value = _number(flag, stripped)
    if abs(value) > _MAX_PLAIN[flag]:
        raise ConfigError(
            f"{flag} {text} reads as {value:.0%}: write a decimal ({value / 100:g}) "
            f"or a percentage ({value:g}%)"
        )
    return value


def _as_dict(g: Greeks) -> dict[str, float]:
    return {
        "price": float(g.price),
        "delta": float(g.delta),
        "gamma": float(g.gamma),
        "vega": float(g.vega),
        "vega_per_point": float(g.vega_per_point),
        "theta": float(g.theta),
        "theta_per_day": float(g.theta_per_day),
        "rho": float(g.rho),
    }


def _table(g: Greeks) -> str:
    d = _as_dict(g)
    rows = [
        ("price", f"{d['price']:.4f}", ""),
        ("delta", f"{d['delta']:.4f}", ""),
        ("gamma", f"{d['gamma']:.4f}", ""),
        ("vega", f"{d['vega']:.4f}", f"per 1.00 vol; {d['vega_per_point']:.4f} per vol point"),
        ("theta", f"{d['theta']:.4f}", f"per year; {d['theta_per_day']:.4f} per calendar day"),
        ("rho", f"{d['rho']:.4f}", "per 1.00 rate"),
    ]
    return "\n".join(f"  {name:<6} {value:>12}  {note}".rstrip() for name, value, note in rows)
