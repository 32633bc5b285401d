"""``invest portfolio weights``: the weights of a universe by one construction method.

Wiring (in ``runtime/cli.py``)::

    from invest.runtime.portfolio_cli import add_portfolio_commands
    add_portfolio_commands(sub)   # sets the handler through set_defaults

Importing this module loads argparse only; the handler imports numpy, the data
source and the construction module when it runs, so ``invest --help`` stays light.
The covariance is the Ledoit-Wolf shrunk covariance of the trailing daily returns
up to ``--date`` (point in time), annualised by 252 sessions; ``mean_variance``
scores each name by its trailing mean daily return, annualised the same way.
"""

from __future__ import annotations

import argparse
import json
import math
from datetime import date

from invest.runtime.errors import ConfigError, DataError
from invest.runtime.paths import Paths

_METHODS = ("equal", "inverse_vol", "risk_parity", "min_variance", "mean_variance")
_SESSIONS_PER_YEAR = 252


def add_portfolio_commands(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Register ``invest portfolio weights`` (its handler is set with ``set_defaults``)."""
    portfolio = sub.add_parser("portfolio", help="portfolio construction tools")
    actions = portfolio.add_subparsers(dest="action", metavar="ACTION", required=True)
    p = actions.add_parser(
        "weights",
        help="long-only weights of a universe, their annual volatility and risk contributions",
        description=(
            "Weights of the --universe by --method, from the Ledoit-Wolf shrunk covariance "
            "of the --lookback daily returns up to --date (closes after it are not read), "
            "annualised by 252 sessions. Long-only, each name at most --cap, summing to "
            "1 - --cash-reserve. mean_variance uses each name's trailing mean return as its "
            "expected return."
        ),
    )
    p.add_argument("--method", required=True, choices=_METHODS)
    p.add_argument("--universe", required=True, metavar="A,B,...", help="comma-separated symbols")
    p.add_argument("--date", metavar="YYYY-MM-DD", help="the last session read (default: last)")
    p.add_argument(
        "--lookback", type=int, default=252, metavar="N", help="sessions of returns (252)"
    )
    p.add_argument("--cap", default="1", metavar="C", help="most weight per name (1 = no cap)")
    p.add_argument(
        "--cash-reserve", default="0", metavar="R", help="share kept in cash (default 0)"
    )
    p.add_argument(
        "--risk-aversion", default="1", metavar="L", help="mean_variance's risk aversion (1)"
    )
    p.add_argument("--data", metavar="SPEC", help="the data source (default: config)")
    p.add_argument("--json", action="store_true", help="print the result as JSON")
    p.set_defaults(handler=weights_command)


def weights_command(args: argparse.Namespace, paths: Paths) -> int:
    """``invest portfolio weights``: print the weights, the volatility and the contributions."""
    import numpy as np

    from invest.runtime.config import Settings, load_config
    from invest.runtime.data import open_source
    from invest.runtime.portfolio.construction import (
        ledoit_wolf,
        portfolio_vol,
        risk_contributions,
        trailing_returns,
        weights,
    )

    symbols = [s.strip().upper() for s in args.universe.split(",") if s.strip()]
    if not symbols or len(set(symbols)) != len(symbols):
        raise ConfigError(f"--universe must list distinct symbols, got {args.universe!r}")
    cap = _number("--cap", args.cap)
    cash = _number("--cash-reserve", args.cash_reserve)
    aversion = _number("--risk-aversion", args.risk_aversion)
    day = _day(args.date) if args.date else None
    settings = load_config(paths.config) if paths.config.exists() else Settings()
    spec = args.data or settings.engine.data
    bars = open_source(spec, cache_dir=paths.cache).load(symbols, end=day)
    if day is not None:  # point in time even if a source hands back later sessions
        bars = bars.between(None, day)
    if len(bars) == 0:
        raise ConfigError(f"{spec} has no bars of {', '.join(symbols)} up to {day or 'now'}")
    closes = bars.select(symbols).close
    try:
        returns = trailing_returns(closes, len(bars) - 1, args.lookback)
    except DataError as exc:  # name the columns a gap message gives by index
        raise DataError(f"{exc} (columns in order: {', '.join(symbols)})") from None
    cov_daily, shrinkage = ledoit_wolf(returns)
    cov = cov_daily * _SESSIONS_PER_YEAR
    scores = returns.mean(axis=0) * _SESSIONS_PER_YEAR
    w = weights(args.method, cov, scores=scores, cap=cap, cash_reserve=cash, risk_aversion=aversion)
    vol = portfolio_vol(w, cov)
    rc = risk_contributions(w, cov)
    as_of = bars.day(len(bars) - 1)
    rows = [
        {
            "symbol": s,
            "weight": float(w[i]),
            "vol": float(np.sqrt(cov[i, i])),
            "risk_contribution": float(rc[i]),
            "risk_share": float(rc[i] / vol) if vol > 0 else 0.0,
        }
        for i, s in enumerate(symbols)
    ]
    if args.json:
        out = {
            "method": args.method,
            "as_of": as_of.isoformat(),
            "lookback": args.lookback,
            "shrinkage": shrinkage,
            "cap": cap,
            "cash_reserve": cash,
            "annual_vol": vol,
            "weights": rows,
        }
        print(json.dumps(out, indent=2))
        return 0
    print(
        f"{args.method} weights as of {as_of}, {args.lookback} sessions of returns "
        f"(Ledoit-Wolf shrinkage {shrinkage:.3f}), cap {cap:.0%}, cash {cash:.0%}"
    )
    print(f"  {'symbol':<8} {'weight':>8} {'vol':>8} {'risk':>8} {'share':>7}")
    for r in rows:
        print(
            f"  {r['symbol']:<8} {r['weight']:>8.2%} {r['vol']:>8.2%} "
            f"{r['risk_contribution']:>8.2%} {r['risk_share']:>7.1%}"
        )
    print(f"expected annual volatility {vol:.2%}")
    return 0


def _number(flag: str, text: str) -> float:
    try:
        value = float(text.strip().removesuffix("%")) / (100.0 if text.strip().endswith("%") else 1)
    except ValueError:
        raise ConfigError(f"{flag} must be a number (0.1 or 10%), got {text!r}") from None
    if not math.isfinite(value):
        raise ConfigError(f"{flag} must be a finite number, got {text!r}")
    return value


def _day(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise ConfigError(f"--date must be YYYY-MM-DD, got {text!r}") from None
