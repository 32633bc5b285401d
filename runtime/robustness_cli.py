"""``invest robustness``: Monte Carlo noise, block bootstrap, a crash and crisis replays.

Wiring (in ``runtime/cli.py``)::

    from invest.runtime.robustness_cli import add_robustness_command
    add_robustness_command(sub)   # sets the handler through set_defaults

The account comes from ``--account`` (config) or ``--strategy`` (default
parameters), exactly as for ``invest backtest``. The Monte Carlo window is
``--start``/``--end``, by default the last five years of the data; the crisis
replays use their own fixed windows (see ``backtest.robustness.CRISES``).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from datetime import date
from pathlib import Path
from typing import cast

from invest.runtime.backtest.insample import notes_for_spans
from invest.runtime.backtest.robustness import (
    CRASH,
    DEFAULT_YEARS,
    DERISK_SESSIONS,
    NOISE,
    PARTS,
    BootstrapKind,
    Job,
    NoiseKind,
    default_window,
)
from invest.runtime.backtest.robustness_report import (
    Options,
    RobustnessReport,
    report_dict,
    run_robustness,
    summary_markdown,
    write_report,
)
from invest.runtime.config import AccountConfig, parse_day
from invest.runtime.cycle import AccountRuntime
from invest.runtime.data.frame import BarFrame
from invest.runtime.errors import DataError
from invest.runtime.paths import Paths


def add_robustness_command(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Register ``invest robustness`` (its handler is set with ``set_defaults(handler=...)``)."""
    p = sub.add_parser(
        "robustness",
        help="Monte Carlo price noise, block bootstrap, a -20%% crash and crisis replays",
        description=(
            # argparse %-formats a help string, but a description only when it holds
            # "%(prog)": a single % here.
            "Re-run the real backtest on N noisy price paths (+-0.1%), bootstrap the daily "
            "returns by blocks, inject a one-day crash, and replay the 2000, 2008, 2020 and 2022 "
            "crises. More than 5% losing paths flags overfitting."
        ),
    )
    who = p.add_mutually_exclusive_group()
    who.add_argument("--account", help="an account from the config")
    who.add_argument("--strategy", help="a strategy by name, with default parameters (trend_king)")
    p.add_argument("--data", help="sample | csv:PATH | yfinance | alpaca (default: the config's)")
    p.add_argument(
        "--universe", help="comma-separated symbols (default: every symbol of the source)"
    )
    p.add_argument("--benchmark", help="benchmark and regime index symbol (default SP500)")
    p.add_argument("--cash", type=float, help="starting cash")
    p.add_argument("--start", help="first session of the window (default: 5 years before --end)")
    p.add_argument("--end", help="last session of the window (default: the last of the data)")
    p.add_argument(
        "--paths", type=int, default=1000, help="Monte Carlo paths and bootstrap resamples (1000)"
    )
    p.add_argument(
        "--block-days", type=int, default=21, help="bootstrap block length in sessions (21)"
    )
    p.add_argument(
        "--bootstrap", choices=("fixed", "stationary"), default="fixed", help="block scheme (fixed)"
    )
    p.add_argument(
        "--noise", type=float, default=NOISE, help=f"price noise bound ({NOISE} = 0.1%%)"
    )
    p.add_argument(
        "--noise-dist",
        choices=("uniform", "normal"),
        default="uniform",
        help="noise distribution (uniform; normal is clipped to the bound)",
    )
    p.add_argument(
        "--workers",
        type=int,
        help="processes for the Monte Carlo (default: the CPUs this process may use)",
    )
    p.add_argument("--seed", type=int, default=0, help="random seed (0)")
    p.add_argument(
        "--crash-date",
        help="session of the stress crash (default: first >50%% invested session after the window's middle)",
    )
    p.add_argument(
        "--crash",
        type=float,
        default=CRASH,
        help=f"one-day crash of the stress test ({CRASH} = -20%%)",
    )
    p.add_argument(
        "--derisk-sessions",
        type=int,
        default=DERISK_SESSIONS,
        help=f"sessions allowed to de-risk after the crash ({DERISK_SESSIONS})",
    )
    p.add_argument(
        "--parts", default=",".join(PARTS), help=f"which parts to run ({','.join(PARTS)})"
    )
    p.add_argument(
        "--out",
        help="directory for report.json, summary.md, mc_paths.csv, mc_fan.csv and report.html "
        "(default: INVEST_HOME/reports/robustness-ACCOUNT)",
    )
    p.add_argument(
        "--no-html",
        action="store_true",
        help="leave out report.html (the page of the fan, histograms, stress and crisis charts)",
    )
    p.add_argument("--json", action="store_true", help="print report.json instead of the summary")
    p.add_argument(
        "--strict", action="store_true", help="exit 1 when a check fails (overfit, not de-risked)"
    )
    p.set_defaults(handler=robustness)


def robustness(args: argparse.Namespace, paths: Paths) -> int:
    """``invest robustness``: run the checks, write the report, print the summary."""
    # lazy: the command layer pulls in rich
    from invest.runtime.commands import account_settings, replay_window

    start, end = replay_window(args)
    settings, name, spec, source = account_settings(args, paths)
    options = Options(
        paths=args.paths,
        seed=args.seed,
        noise=args.noise,
        noise_kind=cast(NoiseKind, args.noise_dist),
        block_days=args.block_days,
        bootstrap=cast(BootstrapKind, args.bootstrap),
        workers=args.workers,
        crash_day=parse_day(args.crash_date, "--crash-date"),
        crash=args.crash,
        derisk_sessions=args.derisk_sessions,
        parts=tuple(p.strip() for p in args.parts.split(",") if p.strip()),
    )
    acct = AccountRuntime.build(name, settings, packs_dir=paths.packs, paper=True)
    frame = source.load(acct.symbols(), None, None)  # whole history: warm-up and crises
    if len(frame) == 0:
        raise DataError(f"no data from {source.name} for {', '.join(acct.symbols())}")
    start, end = default_window(frame, start, end)
    job = Job(name, settings, start, settings.engine.timezone, paths.packs)
    say = (lambda line: print(line, file=sys.stderr)) if not args.json else None
    in_sample = _in_sample(settings.account(name), frame, start, end, options, paths)
    for note in in_sample:
        print(f"Note: {note}", file=sys.stderr)
    t0 = time.perf_counter()
    last = [0.0]

    def progress(done: int, total: int) -> None:
        now = time.perf_counter() - t0
        if say and (done == total or now - last[0] >= 5):
            last[0] = now
            say(
                f"  Monte Carlo {done}/{total} paths, {now:.0f} s, {done / max(now, 1e-9):.1f} paths/s"
            )

    rep = run_robustness(job, frame, end, options, spec, say, progress)
    rep.in_sample = in_sample
    rep.notes.append(
        f"Window {start} .. {end}"
        + ("" if args.start else f" (default: the last {DEFAULT_YEARS} years of the data)")
    )
    out = Path(args.out) if args.out else paths.home / "reports" / f"robustness-{name}"
    for p in write_report(rep, out):
        print(f"wrote {p}", file=sys.stderr)
    if not args.no_html:
        _write_html(rep, out)
    if args.json:
        print(json.dumps(report_dict(rep), indent=2))
    else:
        print(summary_markdown(rep), end="")
    return 1 if args.strict and rep.flagged else 0


def _write_html(rep: RobustnessReport, out: Path) -> None:
    """Write report.html; without matplotlib (the ``reports`` extra) say how to get it."""
    from invest.runtime.backtest.robustness_report import write_html
    from invest.runtime.reports.charts import ReportsExtraMissing

    try:
        path = write_html(rep, out)
    except ReportsExtraMissing as e:
        print(f"no report.html: {e}", file=sys.stderr)
        return
    print(f"wrote {path}", file=sys.stderr)


def _in_sample(
    account: AccountConfig,
    frame: BarFrame,
    start: date,
    end: date,
    options: Options,
    paths: Paths,
) -> list[str]:
    """In-sample notes for the window and, when they run, the crisis replays in the data."""
    spans = [(start, end)]
    if "crises" in options.parts and len(frame):
        first, last = frame.day(0), frame.day(len(frame) - 1)
        spans += [(c.start, c.end) for c in options.crises if c.start <= last and c.end >= first]
    return notes_for_spans(account, spans, paths.packs)
