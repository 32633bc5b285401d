"""``invest options greeks`` (one option's BSM price and greeks, or its implied volatility)
and ``invest options chain`` (a chain with its ATM IV, skew and IV percentile).

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
from typing import TYPE_CHECKING, Any

from invest.runtime.errors import ConfigError, DataError
from invest.runtime.paths import Paths

if TYPE_CHECKING:
    from datetime import date

    from invest.runtime.options.chain import OptionChain, OptionQuote
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
    c = actions.add_parser(
        "chain",
        help="an option chain around the spot, with its ATM IV, 25-delta skew and IV percentile",
        description=(
            "The chain of SYMBOL: modelled from the config's data source as of --date (the "
            "backtests' chain: realised vol with a premium, VIX where the data has it, a skew, "
            "listed strikes and expiries), or the current chain of a venue (--source alpaca or "
            "yfinance). The IV percentile is the share of the trailing year's modelled ATM IVs "
            "below today's (modelled chains only: no IV history is kept for venue chains)."
        ),
    )
    c.add_argument("symbol", metavar="SYMBOL", help="the underlying, e.g. SP500 or AAPL")
    c.add_argument(
        "--source",
        choices=("modelled", "alpaca", "yfinance"),
        default="modelled",
        help="where the chain comes from (default: modelled, offline)",
    )
    c.add_argument(
        "--date", metavar="YYYY-MM-DD", help="modelled: the session (default: the last bar)"
    )
    c.add_argument(
        "--expiries", type=int, default=2, metavar="N", help="how many expiries to show (2)"
    )
    c.add_argument(
        "--strikes", type=int, default=5, metavar="N", help="strikes each side of the spot (5)"
    )
    c.add_argument("--data", metavar="SPEC", help="modelled: the data source (default: config)")
    c.add_argument("--json", action="store_true", help="print the chain as JSON")
    c.set_defaults(handler=chain_command)


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


def chain_command(args: argparse.Namespace, paths: Paths) -> int:
    """``invest options chain SYMBOL``: print a chain around the spot and its analytics."""
    from invest.runtime.options import analytics

    if args.expiries < 1 or args.strikes < 1:
        raise ConfigError("--expiries and --strikes must be at least 1")
    chain, history = _load_chain(args, paths)
    expiries = chain.expiries()[: args.expiries]
    if not expiries:
        raise ConfigError(f"the {chain.source} chain of {chain.underlying} lists no expiry")
    first = expiries[0]
    atm = analytics.atm_iv(chain, first)
    try:
        skew: float | None = analytics.skew(chain, first)
    except Exception:  # a thin chain may have no 25-delta strike on one side
        skew = None
    pct = (
        analytics.iv_percentile(history, atm, window=len(history)) if history is not None else None
    )
    rows = [_expiry_rows(chain, e, args.strikes) for e in expiries]
    if args.json:
        out = {
            "underlying": chain.underlying,
            "as_of": chain.as_of.isoformat(),
            "spot": chain.spot,
            "source": chain.source,
            "modelled": chain.modelled,
            "atm_iv": atm,
            "skew_25d": skew,
            "iv_percentile_1y": pct,
            "notes": list(chain.notes),
            "expiries": [
                {"expiry": e.isoformat(), "strikes": r} for e, r in zip(expiries, rows, strict=True)
            ],
        }
        print(json.dumps(out, indent=2))
        return 0
    kind = "modelled" if chain.modelled else f"{chain.source} (live)"
    print(f"{chain.underlying} {chain.as_of} spot {chain.spot:,.2f}: {kind} chain")
    line = f"ATM IV {atm:.1%} ({first})"
    line += f", 25-delta skew {skew:+.1%}" if skew is not None else ", 25-delta skew n/a"
    line += f", IV percentile {pct:.0%} of the last year" if pct is not None else ""
    print(line)
    for expiry, strikes in zip(expiries, rows, strict=True):
        print(f"\nexpiry {expiry} ({(expiry - chain.as_of).days} days)")
        print(
            f"  {'call bid/ask':>16} {'iv':>6} {'delta':>6}  {'strike':>9}  {'put bid/ask':>16} {'iv':>6} {'delta':>6}"
        )
        for r in strikes:
            print(f"  {_side(r['call'])}  {r['strike']:>9,.2f}  {_side(r['put'])}")
    if chain.modelled:
        print("\nmodelled, not observed: " + "; ".join(chain.notes))
    return 0


def _load_chain(args: argparse.Namespace, paths: Paths) -> tuple[OptionChain, list[float] | None]:
    """The chain, and for a modelled one the trailing year of its ATM IVs (before the day)."""
    from datetime import timedelta

    from invest.runtime.clock import today_in_new_york
    from invest.runtime.config import Settings, load_config
    from invest.runtime.options import analytics

    settings = load_config(paths.config) if paths.config.exists() else Settings()
    symbol = args.symbol.upper()
    if args.source == "yfinance":
        from invest.runtime.adapters.yahoo.options import YahooOptionChainSource

        return YahooOptionChainSource().chain(symbol, today_in_new_york()), None
    if args.source == "alpaca":
        from invest.runtime.adapters.alpaca.options import AlpacaOptionChainSource
        from invest.runtime.paths import resolve_secrets
        from invest.runtime.secrets import load_secrets

        secrets = load_secrets(resolve_secrets(paths.home))
        source = AlpacaOptionChainSource.from_config(
            settings.engine.alpaca, secrets.alpaca_api_key, secrets.alpaca_secret_key
        )
        try:
            return source.chain(symbol, today_in_new_york()), None
        finally:
            source.close()
    from invest.runtime.config.options import DEFAULT_MODELLED_CHAIN
    from invest.runtime.data import open_source
    from invest.runtime.options.modelled import ModelledChainSource

    spec = args.data or settings.engine.data
    day = _day(args.date) if args.date else None
    start = None if day is None else day - timedelta(days=800)
    wanted = [symbol]
    index = DEFAULT_MODELLED_CHAIN.vix_index_symbol
    data = open_source(spec, cache_dir=paths.cache)
    if index != symbol and index in data.symbols():
        wanted.append(index)
    bars = data.load(wanted, start=start, end=day)
    if len(bars) == 0:
        raise ConfigError(f"{spec} has no bars of {symbol} up to {day or 'now'}")
    vix = None
    if spec.lower() == "sample":
        from invest.runtime.data.sample import vix as bundled_vix

        vix = bundled_vix()
    modelled = ModelledChainSource(bars, vix=vix)
    days = [bars.day(i) for i in range(len(bars))]
    as_of = days[-1] if day is None else max(d for d in days if d <= day)
    # The trailing year before the day, on days with enough closes for the realised vol.
    window = DEFAULT_MODELLED_CHAIN.realised_vol_window
    usable = [d for d in days[window:] if d < as_of][-252:]
    history: list[float] = []
    try:
        chains = modelled.chains(symbol, usable) if usable else []
    except DataError:  # a day the model cannot price (e.g. a tiny adjusted price): day by day
        chains = []
    for past in chains:
        expiries = past.expiries()
        try:
            history.append(analytics.atm_iv(past, expiries[0]))
        except (DataError, IndexError):  # no strike brackets the spot that day
            continue
    return modelled.chain(symbol, as_of), history or None


def _day(text: str) -> date:
    from datetime import date

    try:
        return date.fromisoformat(text)
    except ValueError:
        raise ConfigError(f"--date must be YYYY-MM-DD, got {text!r}") from None


def _expiry_rows(chain: OptionChain, expiry: date, around: int) -> list[dict[str, Any]]:
    """The ``around`` strikes each side of the spot, each with its call and put."""
    from invest.runtime.options import analytics
    from invest.runtime.options.contracts import Right

    calls = {q.contract.strike: q for q in chain.side(expiry, Right.CALL)}
    puts = {q.contract.strike: q for q in chain.side(expiry, Right.PUT)}
    strikes = sorted(set(calls) | set(puts))
    below = [k for k in strikes if float(k) <= chain.spot][-around:]
    above = [k for k in strikes if float(k) > chain.spot][:around]

    def side(q: OptionQuote | None) -> dict[str, float | None] | None:
        if q is None:
            return None
        return {
            "bid": q.bid,
            "ask": q.ask,
            "iv": analytics.quote_iv(chain, q),
            "delta": analytics.quote_delta(chain, q),
        }

    return [
        {"strike": float(k), "call": side(calls.get(k)), "put": side(puts.get(k))}
        for k in below + above
    ]


def _side(q: dict[str, float | None] | None) -> str:
    if q is None:
        return f"{'-':>16} {'':>6} {'':>6}"
    iv, delta = q["iv"], q["delta"]
    return (
        f"{q['bid']:>7.2f}/{q['ask']:<8.2f} "
        f"{'n/a' if iv is None else f'{iv:.1%}':>6} "
        f"{'n/a' if delta is None else f'{delta:+.2f}':>6}"
    )
