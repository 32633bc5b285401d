"""Backtests from the TUI: the same replay as ``invest backtest``, in a thread worker.

Everything heavy (config models, data sources with pandas, the replay loop and,
for RL strategies, onnxruntime) is imported inside these functions, when the
backtest screen first needs them.
"""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

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
    """A fresh results folder under INVEST_HOME/reports/backtests (``invest web`` lists it)."""
    return paths.backtest_out(result.account, now)


def save(result: BacktestResult, out: Path) -> list[Path]:
    """Write report.json, equity.csv, trades.csv, decisions.jsonl and report.html into ``out``.

    Without matplotlib (the ``reports`` extra) the four files are written and report.html
    is left out, as ``invest backtest`` does.
    """
    from invest.runtime.backtest.report import write_html, write_outputs
    from invest.runtime.reports.charts import ReportsExtraMissing

    files = write_outputs(result, out)
    with contextlib.suppress(ReportsExtraMissing):
        files.append(write_html(result, out))
    return files


#: The port ``invest web`` listens on by default (``tui.web.DEFAULT_PORT``, kept light here).
WEB_PORT = 8000


def last_report(paths: Paths) -> Path | None:
    """The newest ``report.html`` under INVEST_HOME/reports/backtests, or None."""
    base = paths.reports / "backtests"
    if not base.is_dir():
        return None
    found = [p for p in base.glob("*/report.html") if p.is_file()]
    return max(found, key=lambda p: (p.stat().st_mtime, str(p))) if found else None


def web_url(paths: Paths, report: Path) -> str | None:
    """The report's address through ``invest web`` on its default port, or None when it is
    not under INVEST_HOME/reports (``invest web`` serves only that folder)."""
    try:
        rel = report.resolve().relative_to(paths.reports.resolve())
    except (ValueError, OSError):
        return None
    return f"http://127.0.0.1:{WEB_PORT}/reports/{quote(rel.as_posix())}"


def remote_session(environ: Mapping[str, str], platform: str = sys.platform) -> str | None:
    """Why a browser on this machine is not the user's, or None on a desktop.

    "SSH" (``SSH_CONNECTION``), "invest web" (its sessions' ``INVEST_ACTOR``), or "headless"
    on Linux without ``DISPLAY`` or ``WAYLAND_DISPLAY``: there :mod:`webbrowser` would start
    a console browser (lynx, w3m) in the terminal the TUI is drawing in.
    """
    if environ.get("SSH_CONNECTION"):
        return "SSH"
    if environ.get("INVEST_ACTOR", "").startswith("web"):
        return "invest web"
    if platform not in ("darwin", "win32") and not (
        environ.get("DISPLAY") or environ.get("WAYLAND_DISPLAY")
    ):
        return "headless"
    return None


def open_report(
    paths: Paths,
    report: Path,
    environ: Mapping[str, str],
    opener: Callable[[str], bool],
    platform: str = sys.platform,
) -> str:
    """Open ``report`` in this machine's browser on a desktop; the line to show either way.

    Over SSH (``SSH_CONNECTION``), inside ``invest web`` or on a box without a display
    (:func:`remote_session`) a browser here is not the user's, so the line gives the
    ``invest web`` address instead.
    """
    url = web_url(paths, report)
    via = (
        f"open {url} through `invest web` (over SSH: ssh -L {WEB_PORT}:127.0.0.1:{WEB_PORT})"
        if url
        else f"copy it to your computer ({report} is outside {paths.reports}, "
        "which `invest web` serves)"
    )
    remote = remote_session(environ, platform)
    if remote is not None:
        return f"{report}: in this {remote} session, {via}"
    if opener(report.as_uri()):
        return f"opened {report}"
    return f"{report}: no browser here; {via}"


def curves(result: Any) -> tuple[list[str], dict[str, list[float]]]:
    """Days and the three equity series of a result, for the chart."""
    days = [d.isoformat() for d in result.days]
    return days, {
        result.account: [float(x) for x in result.equity],
        "index": [float(x) for x in result.benchmark],
        "equal weight": [float(x) for x in result.equal_weight],
    }
