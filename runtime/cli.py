"""The ``invest`` command. With no arguments it opens the TUI; subcommands are for scripting.

Errors from our exception tree print as one line on stderr (exit 2), with the
traceback only under ``--debug``. Results go to stdout, diagnostics to stderr.
"""

from __future__ import annotations

import argparse
import importlib
import importlib.util
import logging
import sqlite3
import sys
from collections.abc import Callable, Sequence

from invest.runtime import __version__
from invest.runtime.engine.cli import add_engine_commands
from invest.runtime.errors import InvestError, LedgerError, OptionalDependencyError
from invest.runtime.faults import storage_fault
from invest.runtime.options_cli import add_options_commands
from invest.runtime.paths import Paths
from invest.runtime.policy.cli import add_models_commands
from invest.runtime.portfolio_cli import add_portfolio_commands
from invest.runtime.service import add_service_commands

logger = logging.getLogger("invest")

Handler = Callable[[argparse.Namespace, Paths], int]
#: Subcommands that parse their own arguments (their modules are heavy to import).
DELEGATED = ("train", "robustness")


def _add_backtest(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("backtest", help="replay history through the live cycle and write a report")
    who = p.add_mutually_exclusive_group()
    who.add_argument("--account", help="an account from the config")
    who.add_argument("--strategy", help="a strategy by name, with default parameters (trend_king)")
    p.add_argument("--data", help="sample | csv:PATH | yfinance | alpaca (default: the config's)")
    p.add_argument(
        "--universe", help="comma-separated symbols (default: every symbol of the source)"
    )
    p.add_argument("--benchmark", help="benchmark and regime index symbol (default SP500)")
    p.add_argument("--start", help="first session to trade, YYYY-MM-DD (earlier data warms up)")
    p.add_argument("--end", help="last session, YYYY-MM-DD")
    p.add_argument("--cash", type=float, help="starting cash")
    p.add_argument(
        "--out",
        help="directory for report.json, equity.csv, trades.csv, decisions.jsonl and report.html "
        "(default: a new INVEST_HOME/reports/backtests/<account>-<UTC time>/, which `invest web` "
        "lists)",
    )
    p.add_argument("--json", action="store_true", help="print report.json instead of the table")
    p.add_argument(
        "--no-html",
        action="store_true",
        help="leave out report.html (the tearsheet of charts and tables)",
    )
    p.add_argument(
        "--strict",
        action="store_true",
        help="refuse to run when the data has validation errors (see `invest data validate`)",
    )
    p.add_argument(
        "--oracle",
        choices=("live", "replay", "off"),
        default="live",
        help="accounts with an LLM oracle: ask it (answers are cached by prompt), replay "
        "cached verdicts only (free, reproducible; a miss follows on_unavailable), or skip it",
    )
    p.add_argument(
        "--oracle-answers",
        metavar="FILE",
        help="a file of recorded answers the LLM accounts read before the cache (e.g. "
        "runtime/examples/orchestrator_llm_cache.json with --oracle replay)",
    )


def _positive(text: str) -> int:
    """An argparse type: a whole number of at least 1."""
    try:
        n = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if n < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, not {n}")
    return n


def _add_views(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """``invest trades`` and ``invest pnl``: daily views read from the ledger."""
    p = sub.add_parser(
        "trades",
        help="closed trades from the ledger: realised P&L, holding days, exit reason",
    )
    p.add_argument("account", nargs="?", help="one account (default: every account)")
    p.add_argument("--limit", type=_positive, default=20, help="newest N trades (default 20)")
    p.add_argument("--json", action="store_true", help="print the trades as JSON")
    p = sub.add_parser(
        "pnl", help="P&L per day, week or month from the ledger, with the total of every account"
    )
    p.add_argument(
        "--period", choices=("day", "week", "month"), default="day", help="(default: day)"
    )
    p.add_argument("--account", help="one account (default: every account and their total)")
    p.add_argument("--limit", type=_positive, default=10, help="newest N periods (default 10)")
    p.add_argument("--json", action="store_true", help="print the rows as JSON")


def _add_setup(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """``invest setup``: the guided first run (runtime/setup.py, imported when it runs)."""
    p = sub.add_parser(
        "setup",
        help="guided first run: data source, accounts, keys; tests each live, writes config and secrets",
    )
    p.add_argument(
        "--non-interactive",
        action="store_true",
        help="ask nothing: flags and INVEST_SETUP_* variables (keys: variables only)",
    )
    p.add_argument("--template", help="accounts: trend | hybrid | gated (default trend)")
    p.add_argument("--data", help="market data: yfinance | alpaca | sample (default yfinance)")
    p.add_argument("--broker", help="paper (simulated, default) | alpaca (Alpaca's paper account)")
    p.add_argument("--cash", help="starting cash of each account (default 10000)")
    p.add_argument("--telegram-chat", help="the Telegram chat id the bot serves")
    p.add_argument("--llm-url", help="OpenAI-compatible LLM base URL (template gated)")
    p.add_argument("--llm-model", help="the LLM model (default qwen3-8b)")
    p.add_argument("--skip-checks", action="store_true", help="write without asking any service")
    p.add_argument("--force", action="store_true", help="write even when a check fails")


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of ``invest``."""
    parser = argparse.ArgumentParser(
        prog="invest",
        description="Self-hosted autonomous portfolio manager. No arguments: open the TUI.",
    )
    parser.add_argument("--version", action="version", version=f"invest {__version__}")
    _add_global_options(parser, default=None)
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    p = sub.add_parser(
        "demo", help="replay the bundled data through the example accounts (offline)"
    )
    p.add_argument("--quick", action="store_true", help="replay only the last year")
    p.add_argument("--ledger", help="ledger file to write (default: INVEST_HOME/ledger.sqlite)")
    _add_backtest(sub)
    _add_delegated(
        sub, "robustness", "Monte Carlo noise, block bootstrap, a crash and crisis replays"
    )
    p = sub.add_parser("run", help="run one cycle of an account now")
    p.add_argument("account")
    p.add_argument("--dry-run", action="store_true", help="decide and print, write nothing")
    p = sub.add_parser("run-all", help="run one cycle of every account now")
    p.add_argument("--dry-run", action="store_true", help="decide and print, write nothing")
    p = sub.add_parser(
        "preview", help="the next cycle: each account's dry run on the latest bar, with reasons"
    )
    p.add_argument("account", nargs="?", help="one account (default: every account)")
    p.add_argument("--json", action="store_true", help="print the previews as JSON")
    p.add_argument(
        "--oracle",
        choices=("off", "replay", "live"),
        default="replay",
        help="accounts with an LLM oracle: cached verdicts only (default: spends no LLM "
        "budget; a miss follows on_unavailable), ask it (spends budget), or skip it",
    )

    cfg = sub.add_parser("config", help="configuration")
    cfg_sub = cfg.add_subparsers(dest="action", metavar="ACTION", required=True)
    c = cfg_sub.add_parser("check", help="validate a config file")
    c.add_argument("path", nargs="?", help="file to check (default: the resolved config)")
    data = sub.add_parser("data", help="market data")
    data_sub = data.add_subparsers(dest="action", metavar="ACTION", required=True)
    v = data_sub.add_parser(
        "validate", help="check bars for gaps, bad prices, stale series and jumps"
    )
    v.add_argument("--data", help="source (default: the config's)")
    v.add_argument("--symbols", help="comma-separated symbols (default: all of the source)")
    v.add_argument("--json", action="store_true", help="print the report as JSON")
    sub.add_parser("paths", help="print where config, ledger, cache and packs live")
    web = sub.add_parser(
        "web", help="serve the TUI in a browser (textual-serve; login: INVEST_WEB_TOKEN)"
    )
    web.add_argument("--host", default="127.0.0.1", help="bind address (default: loopback only)")
    web.add_argument("--port", type=int, default=8000)
    llm = sub.add_parser("llm", help="the LLM oracle")
    llm.add_subparsers(dest="action", metavar="ACTION", required=True).add_parser(
        "check", help="probe every configured LLM endpoint"
    )
    res = sub.add_parser("research", help="research watchlists (rules screen, then LLM ranking)")
    res_run = res.add_subparsers(dest="action", metavar="ACTION", required=True).add_parser(
        "run", help="build today's watchlist of a [research.NAME] section"
    )
    res_run.add_argument("name")
    res_run.add_argument("--json", action="store_true", help="print the watchlist as JSON")
    _add_views(sub)
    _add_setup(sub)
    cmp_ = sub.add_parser(
        "compare",
        help="compare two accounts from the ledger, or (no accounts) every account by model family",
    )
    cmp_.add_argument("a", nargs="?", help="account A (with B: the two side by side)")
    cmp_.add_argument("b", nargs="?", help="account B")
    cmp_.add_argument(
        "--reports",
        nargs="+",
        metavar="DIR",
        help="by family over backtests: the --out folders of `invest backtest --account`",
    )
    add_models_commands(sub)
    add_engine_commands(sub)
    add_options_commands(sub)
    add_portfolio_commands(sub)
    _add_delegated(
        sub, "train", "walk-forward RecurrentPPO training and ONNX export (extra `train`)"
    )
    add_service_commands(sub)
    _add_global_options_to(sub)
    return parser


def _add_global_options(parser: argparse.ArgumentParser, *, default: object) -> None:
    """``--config`` and ``--debug``: on ``invest`` itself and again on every subcommand."""
    parser.add_argument(
        "--config",
        default=default,
        help="config file (default: $INVEST_CONFIG, /etc/invest, ~/.config/invest)",
    )
    parser.add_argument(
        "--debug",
        action="store_true",
        default=argparse.SUPPRESS if default is argparse.SUPPRESS else False,
        help="print paths, debug logs and tracebacks",
    )


def _add_global_options_to(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Accept the global options after a subcommand too (``invest status --config X``).

    A subcommand's defaults would overwrite the values given before its name, so its
    copies default to SUPPRESS: absent, they leave the namespace alone. The delegated
    commands parse their own arguments (``train --config`` is the training config).
    """
    seen: set[int] = set()
    for name, p in sub.choices.items():
        if name in DELEGATED or id(p) in seen:
            continue
        seen.add(id(p))
        _add_global_options(p, default=argparse.SUPPRESS)
        for action in p._actions:
            if isinstance(action, argparse._SubParsersAction):
                _add_global_options_to(action)


def _add_delegated(
    sub: argparse._SubParsersAction[argparse.ArgumentParser], name: str, text: str
) -> None:
    """A subcommand of :data:`DELEGATED`: its handler parses everything after its name."""
    p = sub.add_parser(name, help=text, add_help=False)
    p.add_argument("rest", nargs=argparse.REMAINDER)


def _open_tui(args: argparse.Namespace, paths: Paths) -> int:
    try:
        # importlib keeps textual out of invest.runtime's import graph (layering contract).
        tui = importlib.import_module("invest.tui.app")
    except ModuleNotFoundError as e:
        print(f"the TUI is not available ({e.name} missing); try `invest --help`", file=sys.stderr)
        return 2
    return int(tui.main(paths))


def _train(args: argparse.Namespace, paths: Paths) -> int:
    # importlib keeps the trainer out of invest.runtime's import graph (layering contract);
    # its parser loads without torch, so --help and a bad option answer without the extra.
    trainer = importlib.import_module("invest.trainer.cli")
    trainer.build_parser().parse_args(list(args.rest))
    if importlib.util.find_spec("torch") is None or importlib.util.find_spec("sb3_contrib") is None:
        raise OptionalDependencyError(
            "`invest train` needs the train extra: pip install torch==2.13.0 'invest-appliance[train]'"
            " (install a CPU build of torch first on machines without a GPU)"
        )
    return int(trainer.main(list(args.rest)))


def _robustness(args: argparse.Namespace, paths: Paths) -> int:
    # Its own parser, imported only when used: it pulls in the whole backtester.
    from invest.runtime.robustness_cli import add_robustness_command

    parser = argparse.ArgumentParser(prog="invest")
    add_robustness_command(parser.add_subparsers(dest="command"))
    ns = parser.parse_args(["robustness", *args.rest])
    return int(ns.handler(ns, paths))


def _web(args: argparse.Namespace, paths: Paths) -> int:
    # importlib keeps textual out of invest.runtime's import graph (layering contract).
    web = importlib.import_module("invest.tui.web")
    return int(web.main(paths, args.host, args.port))


def _setup(args: argparse.Namespace, paths: Paths) -> int:
    from invest.runtime.setup import main as setup_main  # pydantic and httpx load only here

    return int(setup_main(args, paths))


def _handlers() -> dict[str, Handler]:
    from invest.runtime import commands

    return {
        "demo": commands.demo,
        "backtest": commands.backtest,
        "run": commands.run,
        "run-all": commands.run_all,
        "preview": commands.preview,
        "config": commands.config_check,
        "data": commands.data_validate,
        "paths": commands.show_paths,
        "llm": commands.llm_check,
        "compare": commands.compare,
        "trades": commands.trades,
        "pnl": commands.pnl,
        "research": commands.research_run,
        "train": _train,
        "robustness": _robustness,
        "web": _web,
        "setup": _setup,
    }


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``invest`` console script."""
    parser = build_parser()
    args, extra = parser.parse_known_args(argv)
    if extra and args.command not in DELEGATED:
        parser.error(f"unrecognized arguments: {' '.join(extra)}")
    if args.command in DELEGATED:
        args.rest = [*extra, *args.rest]
    if args.command == "robustness":
        # Its parser is built when it runs; the global options are taken out here.
        globals_ = argparse.ArgumentParser(add_help=False, allow_abbrev=False)
        _add_global_options(globals_, default=argparse.SUPPRESS)
        args, args.rest = globals_.parse_known_args(args.rest, namespace=args)
    from invest.runtime.logs import CONSOLE_FORMAT, setup_logging

    setup_logging(
        level=logging.DEBUG if args.debug else logging.WARNING,
        stream=sys.stderr,
        fmt=CONSOLE_FORMAT,
        keep_existing=True,
    )
    paths = Paths.resolve(args.config)
    if args.debug and args.command != "paths":  # `paths` prints them as its result
        print(paths.describe(), file=sys.stderr)
    try:
        if args.command is None:
            return _open_tui(args, paths)
        handler = getattr(args, "handler", None) or _handlers()[args.command]
        return int(handler(args, paths))
    except (InvestError, sqlite3.Error, OSError) as e:
        # A full disk, a read-only home or a locked ledger is one line, whichever layer
        # met it first; any other OS or SQLite error is a bug and keeps its traceback.
        fault = storage_fault(e, paths.ledger) if not isinstance(e, InvestError) else None
        if isinstance(e, LedgerError):
            fault = storage_fault(e, paths.ledger)
        if args.debug or (fault is None and not isinstance(e, InvestError)):
            raise
        print(f"error: {fault or e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
