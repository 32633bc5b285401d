"""Backtests from the TUI: the same replay as ``invest backtest``, in a thread worker.

Everything heavy (config models, data sources with pandas, the replay loop and,
for RL strategies, onnxruntime) is imported inside these functions, when the
backtest screen first needs them.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from invest.runtime.errors import ConfigError
from invest.runtime.paths import Paths

if TYPE_CHECKING:
    from invest.runtime.backtest.runner import BacktestResult
    from invest.runtime.config import Settings

STRATEGIES = ("trend_king", "rl_ensemble", "hybrid")
SOURCES = ("sample", "yfinance", "alpaca")


@dataclass(frozen=True, slots=True)
class BacktestSpec:
    """What to replay.

    Attributes:
        target: ``account:NAME`` (an account of the config) or ``strategy:NAME``.
        start: first session to trade (ISO day), or None for the whole history.
        end: last session (ISO day), or None for the end of the data.
        data: the data source (``sample``, ``csv:PATH``, ``yfinance``, ``alpaca``);
            None uses the config's.
    """

    target: str
    start: str | None = None
    end: str | None = None
    data: str | None = None


def _settings(paths: Paths) -> Settings:
    from invest.runtime.config import Settings, load_config  # lazy: pydantic-settings

    return load_config(paths.config) if paths.config.exists() else Settings()


def targets(paths: Paths) -> list[tuple[str, str]]:
    """(label, value) choices: the config's accounts, then the strategies with defaults."""
    try:
        accounts = list(_settings(paths).accounts)
    except ConfigError:
        accounts = []
    return [(f"account {a}", f"account:{a}") for a in accounts] + [
        (f"strategy {s}", f"strategy:{s}") for s in STRATEGIES
    ]


def _adhoc(settings: Settings, strategy: str, symbols: tuple[str, ...]) -> tuple[Settings, str]:
    """Settings with one account running ``strategy`` on every symbol of the source."""
    from invest.runtime.config import with_adhoc_account

    if strategy not in STRATEGIES:
        raise ConfigError(f"unknown strategy {strategy!r} (one of {', '.join(STRATEGIES)})")
    benchmark = "SP500"
    universe = [s for s in symbols if s != benchmark]
    if not universe:
        raise ConfigError("this data source cannot list its symbols: backtest an account instead")
    return with_adhoc_account(settings, strategy, universe, benchmark, source="TUI backtest")


def run_backtest(
    spec: BacktestSpec,
    paths: Paths,
    progress: Callable[[int, int], None],
    cancelled: Callable[[], bool],
) -> BacktestResult:
    """Load the data and replay; a cancelled run returns the partial result.

    Raises:
        InvestError: bad config, unknown account or strategy, data or pack errors.
    """
    from invest.runtime.backtest.report import run_params
    from invest.runtime.backtest.runner import replay
    from invest.runtime.config import parse_day
    from invest.runtime.cycle import AccountRuntime
    from invest.runtime.data import open_source
    from invest.runtime.market import load_market

    settings = _settings(paths)
    data = spec.data or settings.engine.data
    source = open_source(data, cache_dir=paths.cache)
    kind, _, name = spec.target.partition(":")
    if kind == "account":
        settings.account(name)
    else:
        settings, name = _adhoc(settings, name, source.symbols())
    start, end = parse_day(spec.start, "start"), parse_day(spec.end, "end")
    acct = AccountRuntime.build(name, settings, packs_dir=paths.packs, paper=True)
    market = load_market(source, acct, end)
    result = replay(
        acct, market, start, settings.engine.timezone, progress=progress, cancelled=cancelled
    )
    result.params = {**run_params(settings, name, data, spec.start, spec.end), "source": "tui"}
    return result


def summary(result: BacktestResult) -> tuple[list[str], list[list[str]]]:
    """The metrics table: the strategy against both benchmarks."""
    from invest.runtime.backtest.report import summary_rows

    return summary_rows(result)


def default_out(paths: Paths, result: BacktestResult, now: datetime) -> Path:
    """A fresh results folder under INVEST_HOME/backtests."""
    return paths.home / "backtests" / f"{result.account}-{now:%Y%m%d-%H%M%S}"


def save(result: BacktestResult, out: Path) -> list[Path]:
    """Write report.json, equity.csv, trades.csv and decisions.jsonl into ``out``."""
    from invest.runtime.backtest.report import write_outputs

    return write_outputs(result, out)


def curves(result: Any) -> tuple[list[str], dict[str, list[float]]]:
    """Days and the three equity series of a result, for the chart."""
    days = [d.isoformat() for d in result.days]
    return days, {
        result.account: [float(x) for x in result.equity],
        "index": [float(x) for x in result.benchmark],
        "equal weight": [float(x) for x in result.equal_weight],
    }
