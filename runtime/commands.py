"""Handlers of the ``invest`` subcommands: thin glue from arguments to library calls."""

from __future__ import annotations

import argparse
import json
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING

from invest.runtime.errors import ConfigError, DataError, InvestError, LedgerError
from invest.runtime.paths import Paths, example_config

if TYPE_CHECKING:
    from rich.console import Console
    from rich.progress import Progress
    from rich.table import Table

    from invest.runtime.backtest.compare import FamilyComparison
    from invest.runtime.backtest.runner import BacktestResult
    from invest.runtime.config import Settings
    from invest.runtime.cycle import AccountRuntime, Sink
    from invest.runtime.data.base import MarketData
    from invest.runtime.ledger import Ledger
    from invest.runtime.ledger.reads import OptionPositionRow
    from invest.runtime.ledger.trades import ClosedTrade
    from invest.runtime.market import Market
    from invest.runtime.oracle.accounts import Mode
    from invest.runtime.oracle.gate.cycle import CycleGate
    from invest.runtime.oracle.store import Store
    from invest.runtime.strategies.base import Strategy


@cache
def _console(stderr: bool) -> Console:
    """The rich console of results (stdout) or diagnostics (stderr), made on first use."""
    from rich.console import Console

    return Console(stderr=stderr, highlight=False)


def _out() -> Console:
    return _console(False)


def _err() -> Console:
    return _console(True)


@contextmanager
def _progress(label: str) -> Iterator[Progress]:
    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

    bar = Progress(
        TextColumn(label),
        BarColumn(),
        TextColumn("{task.percentage:>3.0f}%"),
        TimeElapsedColumn(),
        console=_err(),
        transient=True,
    )
    with bar:
        yield bar


def _replay(
    acct: AccountRuntime,
    market_data: MarketData,
    start: date | None,
    end: date | None,
    tz: str,
    mirror: Sink | None = None,
    market: Market | None = None,
) -> BacktestResult:
    from invest.runtime.backtest.runner import replay
    from invest.runtime.market import load_market

    market = market or load_market(market_data, acct, end)
    with _progress(f"{acct.name:<18}") as bar:
        task = bar.add_task("", total=1)
        return replay(
            acct,
            market,
            start,
            tz,
            progress=lambda i, n: bar.update(task, completed=i, total=n),
            mirror=mirror,
        )


def _table(title: str, header: list[str], rows: list[list[str]]) -> Table:
    from rich.table import Table

    t = Table(title=title, title_justify="left")
    for i, h in enumerate(header):
        t.add_column(h, justify="left" if i == 0 else "right")
    for r in rows:
        t.add_row(*r)
    return t


def _settings(paths: Paths) -> Settings:
    from invest.runtime.config import load_config

    return load_config(paths.config)


def _source(spec: str, paths: Paths) -> MarketData:
    from invest.runtime.data import open_source

    return open_source(spec, cache_dir=paths.cache)


#: The demo's LLM-gated account: trend-daily's rules with an LLM gate on its buys. It is
#: built here, not in the example config: its verdicts are recorded, so it is no account
#: to trade with, and the example config stays the one a user starts from.
DEMO_GATED = "gated-daily"
#: The gate's model name in the demo: the answers come from a test server, not a model.
DEMO_GATE_MODEL = "recorded-test-server"
#: The bundled cache covers 2022 (the quick demo's year); the gated account replays it only.
DEMO_GATE_START = date(2022, 1, 3)
#: Where the demo starts the options accounts' replay: three years (the 2020 crash, its
#: rebound, 2022's fall) keep the demo quick; the options replay prices a chain per
#: underlying per session, about 2 s a year against 0.5 s for the stock accounts'.
DEMO_OPTIONS_START = date(2020, 1, 2)
#: Package data under ``invest.runtime/examples``: {"about", "model", "answers": {hash: answer}}.
DEMO_VERDICTS = "demo_verdicts.json"
DEMO_GATE_LABEL = (
    f"{DEMO_GATED}: trend-daily's rules with an LLM gate on its buys (veto or shrink). "
    "Its verdicts are replayed (--oracle replay) from answers RECORDED FROM A DETERMINISTIC "
    "LOCAL TEST SERVER (scripts/record_demo_verdicts.py), not a real model. They cover 2022, "
    "so this account replays 2022 only; a buy without a recorded verdict goes ahead "
    "unreviewed (on_unavailable = allow)."
)


def demo_settings(settings: Settings, base_url: str = "http://127.0.0.1:9/v1") -> Settings:
    """The example accounts plus the demo's gated account (:data:`DEMO_GATED`).

    ``base_url`` is only asked when recording (scripts/record_demo_verdicts.py); the demo
    replays the bundled cache and sends nothing.
    """
    from invest.runtime.config import parse_config

    # Only what was set: a default written out again can read as set twice (an options
    # account's selection is refused in options.wheel once options.selection holds it).
    data = settings.model_dump(mode="json", exclude_unset=True)
    gated = dict(data["accounts"]["trend-daily"])
    gated["oracle"] = {
        "provider": "openai",
        "base_url": base_url,
        "model": DEMO_GATE_MODEL,
        "max_retries": 0,
        "on_unavailable": "allow",
    }
    data["accounts"][DEMO_GATED] = gated
    return parse_config(data, "invest demo")


def demo_verdicts() -> dict[str, dict[str, object]]:
    """The bundled recorded answers: prompt hash -> cached answer (see :data:`DEMO_VERDICTS`).

    Raises:
        ConfigError: the file is missing or unreadable (a broken install).
    """
    from importlib import resources

    path = resources.files("invest.runtime") / "examples" / DEMO_VERDICTS
    try:
        answers: dict[str, dict[str, object]] = json.loads(path.read_text(encoding="utf-8"))[
            "answers"
        ]
    except (OSError, ValueError, KeyError, TypeError) as e:
        raise ConfigError(
            f"the demo's recorded verdicts ({DEMO_VERDICTS}) cannot be read ({e}): "
            "reinstall the package or rerun scripts/record_demo_verdicts.py"
        ) from e
    return answers


def demo(args: argparse.Namespace, paths: Paths) -> int:
    """Replay the bundled data through the example accounts into a ledger, and explain."""
    from invest.runtime.config import load_config
    from invest.runtime.ledger.lock import WriterLock

    settings = demo_settings(load_config(example_config()))
    ledger_path = Path(args.ledger) if args.ledger else paths.ledger
    with WriterLock(ledger_path, "invest demo"):  # one writer: the engine, a run, a demo
        return _demo(args, paths, settings, ledger_path)


def _demo(args: argparse.Namespace, paths: Paths, settings: Settings, ledger_path: Path) -> int:
    """The demo, under the ledger's writer lock."""
    import tempfile

    from invest.runtime.cycle import AccountRuntime
    from invest.runtime.ledger import DEMO_EVENT, Ledger, LedgerSink, remove_ledger

    _check_demo_target(ledger_path)
    remove_ledger(ledger_path)  # the demo ledger is rebuilt from scratch each time
    ledger = Ledger(ledger_path)
    ledger.event(None, DEMO_EVENT, {"note": "replayed by `invest demo`: not trading"})
    source = _source("sample", paths)
    start = date(2022, 1, 3) if args.quick else None
    _out().print(
        f"[bold]Invest demo[/]: replaying the bundled S&P 500 sample ({'2022' if args.quick else '1990-2022'}) "
        "through the live cycle with the paper broker. Offline.\n"
    )
    _out().print(f"[yellow]{DEMO_GATE_LABEL}[/]\n", soft_wrap=True)
    for name in settings.accounts:
        if settings.account(name).trades_options:
            _demo_options(name, settings, ledger, source, start or DEMO_OPTIONS_START)
            continue
        gated = name == DEMO_GATED
        with tempfile.TemporaryDirectory(prefix="invest-demo-oracle-") as home:
            # The per-cycle audit files go to a throwaway folder; the ledger keeps the rest.
            gate = demo_gate(settings, ledger, Path(home)) if gated else None
            acct = AccountRuntime.build(name, settings, packs_dir=paths.packs, gate=gate)
            ledger.ensure_account(name, acct.config)
            with ledger.transaction():
                r = _replay(
                    acct,
                    source,
                    DEMO_GATE_START if gated else start,
                    None,
                    settings.engine.timezone,
                    mirror=LedgerSink(ledger),
                )
                ledger.save_state(acct.state, r.days[-1].isoformat())
            if gate is not None:
                gate.close()
        _in_sample(acct, r, paths)  # before the account's summary
        _print_result(r, decisions=5)
        if gated:
            for line in gate_summary(r):
                _out().print(line, markup=False, soft_wrap=True)
    _out().print(
        f"Ledger written to {ledger_path}. Open it with `invest` (TUI) or query it with sqlite3."
    )
    ledger.close()
    for note in r.notes:
        _out().print(f"[dim]Note: {note}[/]")
    return 0


def _demo_options(
    name: str, settings: Settings, ledger: Ledger, source: MarketData, start: date | None
) -> None:
    """Replay options account ``name`` into the demo ledger (the options session, modelled chains).

    The records go through the live path's ledger sink (:class:`OptionsLedgerSink`),
    so the ledger holds what `invest run` would have written day by day: option
    orders, fills and positions, the assignments' stock fills with their order rows,
    the decisions and the equity.
    """
    from invest.runtime.backtest.options_runner import (
        modelled_account,
        options_market,
        replay_options,
    )
    from invest.runtime.backtest.report import count_rows
    from invest.runtime.engine.options_account_cycle import OptionsLedgerSink

    market = options_market(source, settings, name, None)
    acct = modelled_account(name, settings, market)
    ledger.ensure_account(name, acct.config)
    with ledger.transaction(), _progress(f"{name:<18}") as bar:
        task = bar.add_task("", total=1)
        r = replay_options(
            acct,
            market,
            start,
            settings.engine.timezone,
            progress=lambda i, n: bar.update(task, completed=i, total=n),
            mirror=OptionsLedgerSink(ledger),
        )
        ledger.save_state(acct.state, r.days[-1].isoformat())
    _print_result(r, decisions=3)
    if r.counts is not None:
        _out().print(_table(f"{name}: what the options did", ["Count", "N"], count_rows(r.counts)))


def demo_gate(settings: Settings, ledger: Ledger, home: Path) -> CycleGate:
    """The gated account's gate: replay only, over the bundled answers put in the ledger's cache.

    Verdicts, prompts and answers are audited in the ledger's llm tables, as in a real run.
    """
    from invest.runtime.clock import SystemClock
    from invest.runtime.oracle.gate.cycle import build_cycle_gate
    from invest.runtime.oracle.ledger_store import LedgerOracleStore

    cfg = settings.account(DEMO_GATED).oracle
    assert cfg is not None  # demo_settings gives it one
    store = LedgerOracleStore(ledger.conn)
    with ledger.transaction():
        for key, answer in demo_verdicts().items():
            store.cache_put(key, answer)
    return build_cycle_gate(
        cfg, DEMO_GATED, home, now=SystemClock().now, replay_only=True, store=store
    )


def gate_summary(r: BacktestResult) -> list[str]:
    """What the gate did in a replay: verdict counts, misses and one example reason."""
    verdicts = [(d["day"], v) for d in r.decisions if d.get("llm") for v in d["llm"]["verdicts"]]
    recorded = [(day, v) for day, v in verdicts if v["source"] == "llm"]
    counts = Counter(str(v["verdict"]) for _, v in recorded)
    missed = len(verdicts) - len(recorded)
    lines = [
        f"LLM gate of {r.account} (recorded test-server verdicts, not a real model): "
        f"{len(verdicts)} proposed buy(s) reviewed: {counts['VETO']} vetoed, "
        f"{counts['SHRINK']} shrunk, {counts['APPROVE']} approved; {missed} without a "
        "recorded verdict went ahead unreviewed (on_unavailable = allow)."
    ]
    lowered = [(day, v) for day, v in recorded if v["verdict"] != "APPROVE"]
    if lowered:
        day, v = lowered[-1]
        lines.append(f"  e.g. {day} {v['symbol']} {v['verdict']}: {v['reason']}")
    if missed and not recorded:
        lines.append(
            "  No recorded verdict matched: the prompts changed since the cache was recorded; "
            "rerun scripts/record_demo_verdicts.py"
        )
    return lines


def _check_demo_target(path: Path) -> None:
    """Refuse to overwrite a ledger that the demo did not write.

    Raises:
        ConfigError: ``path`` holds a trading ledger, or a file that is not a ledger.
    """
    from invest.runtime.ledger import Ledger

    if not path.exists():
        return
    try:
        ledger = Ledger(path, readonly=True)
    except LedgerError as e:
        raise ConfigError(
            f"{path} exists and is not a demo ledger ({e}); the demo never overwrites it: "
            "pass --ledger PATH to write the demo elsewhere"
        ) from e
    try:
        if ledger.is_demo() or ledger.is_empty():
            return
        if _replayed_sample_only(ledger):
            # Written by a demo from before the marker existed: only replayed sample days,
            # and no engine ever ran on it. Trading on live data writes later days.
            _out().print(
                f"[dim]{path} holds only replayed sample history (an earlier demo): rebuilt.[/]"
            )
            return
        names = ", ".join(ledger.accounts()) or "orders and fills"
    finally:
        ledger.close()
    raise ConfigError(
        f"{path} is a trading ledger ({names}); the demo never overwrites it: "
        "pass --ledger PATH to write the demo elsewhere"
    )


def _replayed_sample_only(ledger: Ledger) -> bool:
    """No engine ever ran on ``ledger`` and nothing in it is later than the bundled sample."""
    from invest.runtime.data.sample import SampleData

    last = ledger.latest_day()
    if last is None or ledger.engine_ever_ran():
        return False
    sample = SampleData().load(("SP500",))
    return date.fromisoformat(last) <= sample.day(len(sample) - 1)


def _print_result(r: BacktestResult, decisions: int) -> None:
    from invest.runtime.backtest.report import summary_rows
    from invest.runtime.explain import explain

    trades = [d for d in r.decisions if d["orders"]]
    _out().print(
        f"[bold]{r.account}[/]: {len(r.days)} sessions {r.days[0]} .. {r.days[-1]}, "
        f"{len(r.decisions)} cycles, {len(r.fills)} fills, {r.seconds:.2f} s"
    )
    if decisions:
        _out().print(f"Last {min(decisions, len(trades))} decisions with trades, and why:")
        for rec in trades[-decisions:]:
            _out().print(explain(rec), markup=False)
    header, rows = summary_rows(r)
    _out().print(_table(f"{r.account} against both benchmarks", header, rows))


def _adhoc_settings(
    args: argparse.Namespace, settings: Settings, source: MarketData
) -> tuple[Settings, str]:
    """A settings object with one account built from --strategy/--universe/--benchmark/--cash."""
    from invest.runtime.config import with_adhoc_account

    benchmark = (args.benchmark or "SP500").upper()
    if args.universe:
        universe = [s.strip().upper() for s in args.universe.split(",") if s.strip()]
    else:
        universe = [s for s in source.symbols() if s != benchmark]
        if not universe:
            raise ConfigError(
                "--universe is required for this data source (it cannot list its symbols)"
            )
    return with_adhoc_account(
        settings, args.strategy or "trend_king", universe, benchmark, args.cash
    )


def account_settings(
    args: argparse.Namespace, paths: Paths
) -> tuple[Settings, str, str, MarketData]:
    """Settings, account name, data spec and source of a replay command.

    ``--account`` takes the account from the config, with ``--cash``/``--universe``/
    ``--benchmark`` overriding its values; otherwise ``--strategy`` builds an ad-hoc
    account (:func:`_adhoc_settings`). ``invest backtest`` and ``invest robustness`` share it.
    """
    from invest.runtime.config import parse_config

    if args.cash is not None and not args.cash > 0:
        # Checked here, not by the account model: its error would name the account's key.
        raise ConfigError(f"--cash must be more than 0 (got {args.cash:g}): the starting cash")
    settings = _settings(paths) if args.account else _settings_or_default(paths)
    spec = args.data or settings.engine.data
    source = _source(spec, paths)
    if not args.account:
        settings, name = _adhoc_settings(args, settings, source)
        return settings, name, spec, source
    settings.account(args.account)
    name = args.account
    over: dict[str, object] = {
        k: v for k, v in (("cash", args.cash), ("benchmark", args.benchmark)) if v is not None
    }
    if args.universe:
        over["universe"] = [s.strip().upper() for s in args.universe.split(",")]
    if over:
        data = settings.model_dump(mode="json")
        data["accounts"][name].update(over)
        settings = parse_config(data, "command line")
    return settings, name, spec, source


def replay_window(args: argparse.Namespace) -> tuple[date | None, date | None]:
    """``--start`` and ``--end`` as days.

    Raises:
        ConfigError: a bad date, or ``--start`` after ``--end``.
    """
    from invest.runtime.config import parse_day

    start, end = parse_day(args.start, "--start"), parse_day(args.end, "--end")
    if start is not None and end is not None and start > end:
        raise ConfigError(f"--start {start} is after --end {end}: swap them")
    return start, end


def backtest(args: argparse.Namespace, paths: Paths) -> int:
    """``invest backtest``: replay, write the four files, print the summary."""
    from invest.runtime.backtest.report import report_dict
    from invest.runtime.cycle import AccountRuntime
    from invest.runtime.market import load_market

    start, end = replay_window(args)
    settings, name, spec, source = account_settings(args, paths)
    if settings.account(name).trades_options:
        return _backtest_options(args, paths, settings, name, spec, source, end)
    store = _recorded_store(args, paths)
    gate = _gate(settings, name, paths, args.oracle, store=store)
    acct = AccountRuntime.build(
        name,
        settings,
        packs_dir=paths.packs,
        gate=gate,
        strategy=_strategy(settings, name, paths, args.oracle, store=store),
        paper=True,  # a backtest never touches a broker
    )
    try:
        market = load_market(source, acct, end)
        problems = _data_errors(market, spec, strict=args.strict, json_out=args.json)
        r = _replay(acct, source, start, end, settings.engine.timezone, market=market)
    finally:
        if gate is not None:
            gate.close()
    in_sample = _in_sample(acct, r, paths, json_out=args.json)
    r.notes = in_sample + r.notes + problems
    _write_files(r, args, paths, settings, name, spec)
    if args.json:
        print(json.dumps(report_dict(r), indent=2))
    else:
        _print_result(r, decisions=0)
        for note in r.notes[len(in_sample) :]:  # the in-sample ones came before the table
            _out().print(f"[dim]Note: {note}[/]")
    return 0


def _backtest_options(
    args: argparse.Namespace,
    paths: Paths,
    settings: Settings,
    name: str,
    spec: str,
    source: MarketData,
    end: date | None,
) -> int:
    """``invest backtest`` of an options account: the options cycle on modelled chains."""
    from invest.runtime.backtest.options_runner import (
        modelled_account,
        options_market,
        replay_options,
    )
    from invest.runtime.backtest.report import count_rows, report_dict
    from invest.runtime.clock import SystemClock
    from invest.runtime.strategies import build_options_strategy

    market = options_market(source, settings, name, end)
    problems = _data_errors(market, spec, strict=args.strict, json_out=args.json)
    # --oracle as for the stock accounts: off the rules version, replay the cache only.
    strategy = build_options_strategy(
        settings.account(name),
        mode=args.oracle,
        name=name,
        home=paths.home,
        now=SystemClock().now,
        store=_recorded_store(args, paths),
    )
    start, _ = replay_window(args)
    try:
        acct = modelled_account(name, settings, market, strategy=strategy)
        with _progress(f"{name:<18}") as bar:
            task = bar.add_task("", total=1)
            r = replay_options(
                acct,
                market,
                start,
                settings.engine.timezone,
                progress=lambda i, n: bar.update(task, completed=i, total=n),
            )
    finally:
        close = getattr(strategy, "close", None)
        if close is not None:
            close()  # the LLM variant's client
    r.notes += problems
    _write_files(r, args, paths, settings, name, spec)
    if args.json:
        print(json.dumps(report_dict(r), indent=2))
        return 0
    _print_result(r, decisions=0)
    if r.counts is not None:
        _out().print(_table(f"{name}: what the options did", ["Count", "N"], count_rows(r.counts)))
    for note in r.notes:
        _out().print(f"[dim]Note: {note}[/]", soft_wrap=True)
    return 0


def _backtest_out(args: argparse.Namespace, paths: Paths, name: str) -> Path:
    """``--out``, else a fresh folder under INVEST_HOME/reports/backtests (``invest web`` lists it).

    The folder's time is UTC (``clock.SystemClock``), as the ledger's times are.
    """
    if args.out:
        return Path(args.out)
    from invest.runtime.clock import SystemClock

    return paths.backtest_out(name, SystemClock().now())


def _write_files(
    r: BacktestResult,
    args: argparse.Namespace,
    paths: Paths,
    settings: Settings,
    name: str,
    spec: str,
) -> None:
    """The oracle notes and run parameters, then the four files and report.html.

    report.html is left out with ``--no-html``; without matplotlib (the ``reports``
    extra) there is none and one line says how to get it: the backtest and its four
    files stand without it.
    """
    from invest.runtime.backtest.report import run_params, write_html, write_outputs

    r.notes += _oracle_notes(settings, name, r, args.oracle)
    r.params = run_params(settings, name, spec, args.start, args.end)
    out = _backtest_out(args, paths, name)
    for p in write_outputs(r, out):
        _err().print(f"wrote {p}")
    if args.no_html:
        return
    from invest.runtime.reports.charts import ReportsExtraMissing

    try:
        path = write_html(r, out)
    except ReportsExtraMissing as e:
        _err().print(f"no report.html: {e}", markup=False)
        return
    _err().print(f"wrote {path}")


def _in_sample(
    acct: AccountRuntime, r: BacktestResult, paths: Paths, *, json_out: bool = False
) -> list[str]:
    """Say, before the results, which replayed sessions the account's model pack trained on.

    Returns:
        The notes (also for the report), empty for a run outside the pack's training
        span or an account without a pack.
    """
    from invest.runtime.backtest.insample import in_sample_notes

    if not r.days:
        return []
    notes = in_sample_notes(acct.config, r.days[0], r.days[-1], paths.packs)
    for note in notes:
        (_err() if json_out else _out()).print(f"[yellow]Note: {note}[/]", soft_wrap=True)
    return notes


def _data_errors(market: Market, spec: str, *, strict: bool, json_out: bool) -> list[str]:
    """Validate the backtest's data; print its errors before the results, one line per kind.

    Bad bars are not traded or marked (the Market masks them), but the figures rest on
    data with holes: the user is told before the table, and the notes of the report
    say it again.

    Raises:
        DataError: ``strict`` and the data has validation errors.
    """
    from invest.runtime.clock import nyse, today_in_new_york
    from invest.runtime.data.validate import validate_frame

    report = validate_frame(market.frame, market.rules, nyse(), today=today_in_new_york())
    lines = report.error_lines()
    if not lines:
        return []
    if strict:
        kinds = Counter(str(i.kind) for i in report.errors)
        raise DataError(
            f"--strict: the data from {spec} has {len(report.errors)} validation error(s) ("
            + ", ".join(f"{k} {n}" for k, n in kinds.items())
            + f"); see `invest data validate --data {spec}`"
        )
    head = (
        f"Warning: the data from {spec} has {len(report.errors)} validation error(s); "
        "those bars are not traded or marked, and the figures below rest on the rest "
        f"(`invest data validate --data {spec}` for all):"
    )
    (_err() if json_out else _out()).print(
        "\n".join([head, *(f"  {x}" for x in lines)]), markup=False, soft_wrap=True
    )
    return [head, *lines]


def _recorded_store(args: argparse.Namespace, paths: Paths) -> Store | None:
    """``--oracle-answers FILE``: the recorded answers over the data folder's oracle store.

    Raises:
        ConfigError: the file cannot be read as recorded answers, or ``--oracle off``.
    """
    path = getattr(args, "oracle_answers", None)
    if path is None:
        return None
    if args.oracle == "off":
        raise ConfigError("--oracle-answers needs --oracle replay (or live): not --oracle off")
    from invest.runtime.oracle.store import JsonFileStore, RecordedAnswers, load_recorded_answers

    try:
        answers = load_recorded_answers(Path(path))
    except ValueError as e:
        raise ConfigError(str(e)) from None
    return RecordedAnswers(JsonFileStore(paths.home / "oracle"), answers)


def _gate(
    settings: Settings,
    name: str,
    paths: Paths,
    mode: Mode,
    ledger: Ledger | None = None,
    store: Store | None = None,
) -> CycleGate | None:
    """The account's LLM gate, or None (no oracle configured, or ``--oracle off``)."""
    if settings.account(name).oracle is None:
        return None  # what build_gate says too, without importing the oracle package
    from invest.runtime.clock import SystemClock
    from invest.runtime.oracle.accounts import build_gate

    return build_gate(settings, name, paths.home, SystemClock().now, mode, ledger, store)


def _strategy(
    settings: Settings,
    name: str,
    paths: Paths,
    mode: Mode,
    ledger: Ledger | None = None,
    store: Store | None = None,
) -> Strategy | None:
    """The llm_manager strategy of an account (it needs the ledger and the clock), else None."""
    if settings.account(name).strategy != "llm_manager":
        return None  # what build_manager says too, without importing the oracle package
    from invest.runtime.clock import SystemClock
    from invest.runtime.strategies.llm_manager import build_manager

    return build_manager(settings, name, paths.home, SystemClock().now, mode, ledger, store)


def _oracle_notes(settings: Settings, name: str, r: BacktestResult, mode: str) -> list[str]:
    cfg = settings.account(name).oracle
    if cfg is None or mode == "off" or not r.days:
        return []
    from invest.runtime.oracle.anonymise import cutoff_check

    warning = cutoff_check(r.days[0], r.days[-1], cfg.knowledge_cutoff).warning
    return [warning] if warning else []


def _settings_or_default(paths: Paths) -> Settings:
    from invest.runtime.config import Settings, load_config

    return load_config(paths.config) if paths.config.exists() else Settings()


def _set_aside_demo(paths: Paths) -> None:
    from invest.runtime.ledger import set_aside_demo

    moved = set_aside_demo(paths.ledger)
    if moved is not None:
        _out().print(f"[yellow]The demo's ledger moved to {moved}; starting a fresh ledger.[/]")


def _run_one(name: str, settings: Settings, paths: Paths, dry_run: bool) -> None:
    """One cycle of ``name`` on the latest bar, from the persisted state.

    The cycle is the engine's own (:func:`~invest.runtime.engine.account_cycle.run_account_cycle`).
    While an engine runs, a real run is sent to it over the control socket: it is the
    ledger's only writer. A dry run reads the ledger (when there is one) and writes
    nothing: its LSTM states go to a memory overlay and its records to a memory sink.
    """
    from invest.runtime.ledger import Ledger, demo_ledger_at
    from invest.runtime.ledger.engine_state import run_refusal
    from invest.runtime.ledger.lock import WriterLock

    if dry_run:
        # The demo's replayed positions are no state to start a real cycle from.
        known = paths.ledger.exists() and not demo_ledger_at(paths.ledger)
        ledger = Ledger(paths.ledger, readonly=True) if known else None
        try:
            _cycle(name, settings, paths, ledger, dry_run=True)
        finally:
            if ledger is not None:
                ledger.close()
        return
    if _run_in_engine(name, paths):
        return
    # No engine answered: this process writes, under the ledger's one writer lock. An
    # engine holding it (--no-socket, or a socket that did not answer) refuses at once;
    # another `invest run` is waited for, and this cycle then finds its work done.
    with WriterLock(paths.ledger, "invest run"):
        _set_aside_demo(paths)
        ledger = Ledger(paths.ledger)
        try:
            refused = run_refusal(ledger.conn, name)
            if refused:
                raise InvestError(f"run refused: {refused}")
            _cycle(name, settings, paths, ledger, dry_run=False)
        finally:
            ledger.close()


def _cycle(
    name: str, settings: Settings, paths: Paths, ledger: Ledger | None, *, dry_run: bool
) -> None:
    """Run one cycle of ``name`` on ``ledger`` and print its explanation."""
    from invest.runtime.config.engine import engine_options
    from invest.runtime.engine.account_cycle import run_account_cycle
    from invest.runtime.explain import explain, headline

    cfg = settings.account(name)
    gate = _gate(settings, name, paths, "live", ledger)
    try:
        done = run_account_cycle(
            name,
            settings,
            paths,
            ledger,
            dry_run=dry_run,
            source=_source(cfg.data or settings.engine.data, paths),
            rules=engine_options(settings).halt,
            gate=gate,
            strategy=lambda known: _strategy(settings, name, paths, "live", known),
        )
    finally:
        if gate is not None:
            gate.close()
    text = (
        explain(done.latest)
        if done.latest
        else headline({"day": done.day.isoformat(), "account": name, "equity": done.result.equity})
    )
    _out().print(("[dry run] " if dry_run else "") + text, markup=False)


def _run_in_engine(name: str, paths: Paths) -> bool:
    """Ask a running engine to run the cycle; False when no engine listens."""
    from invest.runtime.control.api import TRADER, EngineNotRunning, Request
    from invest.runtime.control.socket import SOCKET_NAME, ControlClient

    try:
        reply = ControlClient(paths.home / SOCKET_NAME, timeout=2.0).request(
            Request("run", {"account": name}, actor="cli", role=TRADER), timeout=600.0
        )
    except EngineNotRunning:
        return False
    if not reply.ok:
        raise InvestError(reply.error)
    _out().print(reply.data["text"], markup=False)
    return True


def _say_demo_ledger(paths: Paths, dry_run: bool) -> None:
    """Before a dry run: say so when the ledger is the demo's, which it does not start from."""
    from invest.runtime.ledger import demo_ledger_at

    if dry_run and paths.ledger.exists() and demo_ledger_at(paths.ledger):
        _out().print(
            f"[dry run] {paths.ledger} is the demo's ledger (replayed history, not trading): "
            "each account plans from its starting cash in the config, as a first real run would",
            markup=False,
            soft_wrap=True,
        )


def run(args: argparse.Namespace, paths: Paths) -> int:
    """``invest run ACCOUNT``: one cycle now, on the latest bar of the account's data."""
    settings = _settings(paths)
    _say_demo_ledger(paths, args.dry_run)
    _run_one(args.account, settings, paths, args.dry_run)
    return 0


def run_all(args: argparse.Namespace, paths: Paths) -> int:
    """``invest run-all``: one cycle of every account."""
    settings = _settings(paths)
    _say_demo_ledger(paths, args.dry_run)
    for name in settings.accounts:
        _run_one(name, settings, paths, args.dry_run)
    return 0


def config_check(args: argparse.Namespace, paths: Paths) -> int:
    """``invest config check [PATH]``: validate and summarise."""
    from invest.runtime.config import load_config

    path = Path(args.path) if args.path else paths.config
    s = load_config(path)
    _out().print(f"{path}: OK, {len(s.accounts)} account(s)")
    for name, a in s.accounts.items():
        _out().print(
            f"  {name}: {a.strategy}, {len(a.universe)} symbols, risk {a.risk}, schedule '{a.schedule}', "
            f"cash {a.cash:,.2f}, broker {a.broker}"
        )
    return 0


def data_validate(args: argparse.Namespace, paths: Paths) -> int:
    """``invest data validate``: print the validation report; exit 1 when errors were found."""
    from invest.runtime.clock import nyse, today_in_new_york
    from invest.runtime.data.validate import ValidationRules, validate_frame

    settings = _settings_or_default(paths)
    source = _source(args.data or settings.engine.data, paths)
    symbols = (
        [s.strip().upper() for s in args.symbols.split(",")]
        if args.symbols
        else list(source.symbols())
    )
    if not symbols:
        raise ConfigError("--symbols is required for this data source (it cannot list its symbols)")
    report = validate_frame(
        source.load(symbols), ValidationRules(), nyse(), today=today_in_new_york()
    )
    if args.json:
        print(json.dumps(report.report_dict(), indent=2, default=str))
    else:
        _out().print(report.format(), markup=False)
    return 0 if report.ok else 1


def show_paths(args: argparse.Namespace, paths: Paths) -> int:
    """``invest paths``."""
    print(paths.describe())
    return 0


def llm_check(args: argparse.Namespace, paths: Paths) -> int:
    """``invest llm check``: ``/models`` plus a one-token chat completion per model.

    Every model of the fallback chain must answer a completion: ``/models`` alone said
    OK for a server whose chat endpoint always answered 500.
    """
    from invest.runtime.oracle.client.http import probe_chat, probe_endpoint

    settings = _settings(paths)
    rows = [(n, a.oracle) for n, a in settings.accounts.items() if a.oracle is not None]
    if not rows:
        _out().print("no account has an oracle section: nothing to check")
        return 0
    failed = 0
    for name, cfg in rows:
        assert cfg is not None
        health = probe_endpoint(cfg)
        probes = probe_chat(cfg) if health.ok else []
        ok = health.ok and all(p.ok for p in probes)
        failed += not ok
        _out().print(
            f"{name}: {cfg.provider} {cfg.api_base} models {', '.join(cfg.models)}: "
            f"{'OK' if ok else 'FAIL'} ({health.detail})",
            markup=False,
        )
        for p in probes:
            _out().print(f"  {p.model}: {'OK' if p.ok else 'FAIL'} ({p.detail})", markup=False)
    return 1 if failed else 0


def compare(args: argparse.Namespace, paths: Paths) -> int:
    """``invest compare A B``: two accounts from the ledger, side by side.

    ``invest compare``: every account of the config with a ``family``, by family (means,
    medians, and the same strategy's paired differences across families); with
    ``--reports DIR...`` over backtest reports instead of the ledger.
    """
    from invest.runtime.backtest import compare as cmp
    from invest.runtime.ledger import Ledger

    if (args.a is None) != (args.b is None) or (args.a is not None and args.reports):
        raise ConfigError(
            "compare takes two accounts (invest compare A B) or none (every account by "
            "family, from the ledger or from --reports DIR...)"
        )
    if args.reports:
        _print_families(cmp.by_family_reports([Path(d) for d in args.reports]))
        return 0
    ledger = Ledger(paths.ledger, readonly=True)
    if args.a is not None:
        header, rows = cmp.compare_accounts(ledger, args.a, args.b)
        _out().print(_table(f"{args.a} vs {args.b}", header, rows))
        return 0
    settings = _settings(paths)
    _print_families(cmp.by_family(ledger, {n: a.family for n, a in settings.accounts.items()}))
    return 0


def _print_families(result: FamilyComparison) -> None:
    from invest.runtime.backtest import compare as cmp

    _out().print(_table("By model family", *cmp.family_table(result)))
    header, rows = cmp.paired_table(result)
    if rows:
        _out().print(_table("The same strategy across families", header, rows))
    else:
        _out().print("No strategy runs in two families (NAME and NAME-FAMILY pair up).")
    if result.missing:
        _out().print(f"[dim]Not in the ledger yet: {', '.join(result.missing)}.[/]", soft_wrap=True)


def trades(args: argparse.Namespace, paths: Paths) -> int:
    """``invest trades [ACCOUNT]``: closed trades with realised P&L, newest first; then the
    closed option positions (legs, premiums, settlement, fees, realised P&L, outcome).
    ``--json``: one list, each row with its ``type`` (``stock`` or ``option``)."""
    from contextlib import closing

    from invest.runtime.ledger import reads

    with closing(reads.connect_readonly(paths.ledger)) as conn:
        rows = reads.closed_trade_rows(conn, args.account, args.limit)
        options = reads.option_positions(conn, args.account, closed=True)[: args.limit]
        outcomes = reads.option_outcomes(conn, args.account)
    if args.json:
        print(
            json.dumps(
                [{"type": "stock", **t.as_dict()} for t in rows]
                + [p.closed_dict(outcomes.get(p.id, p.outcome or "")) for p in options],
                indent=2,
            )
        )
        return 0
    if not rows and not options:
        _out().print(f"no closed trades{f' in {args.account}' if args.account else ''} yet")
        return 0
    if rows:
        _stock_trades_table(rows)
    if options:
        _option_trades_table(options, outcomes)
    return 0


def _stock_trades_table(rows: list[ClosedTrade]) -> None:
    from decimal import Decimal

    from rich import box
    from rich.markup import escape
    from rich.table import Table

    total = sum((t.pnl for t in rows), Decimal(0))
    table = Table(
        title=f"Closed trades, newest first: {len(rows)}, realised {total:+,.2f}",
        title_justify="left",
        caption="* partly closed; price in is the average cost; days held since the entry",
        caption_justify="left",
        box=box.SIMPLE_HEAD,
        show_edge=False,
        pad_edge=False,
        collapse_padding=True,
    )
    for i, h in enumerate(("exit", "account", "symbol", "qty", "in", "out", "P&L", "%")):
        table.add_column(h, justify="left" if i < 3 else "right", no_wrap=True)
    table.add_column("days", justify="right", no_wrap=True)
    table.add_column("reason", min_width=12)
    for t in rows:
        table.add_row(
            t.exit_day.isoformat(),
            escape(t.account),
            escape(t.symbol) + ("" if t.closed else "*"),
            f"{t.quantity.normalize():f}",
            f"{t.entry_price:,.2f}",
            f"{t.exit_price:,.2f}",
            f"{t.pnl:+,.2f}",
            f"{t.pnl_pct:+.2%}",
            str(t.holding_days),
            escape(t.reason),
        )
    _out().print(table)


def _option_trades_table(rows: list[OptionPositionRow], outcomes: dict[str, str]) -> None:
    """Closed option positions: legs in words, premiums in and out, settlement, fees, P&L."""
    from decimal import Decimal

    from rich import box
    from rich.markup import escape
    from rich.table import Table

    from invest.runtime.explain import leg_words

    total = sum((p.realised or Decimal(0) for p in rows), Decimal(0))
    title = f"Closed option positions, newest first: {len(rows)}, realised {total:+,.2f}"
    if _out().width < 150:  # too narrow for eleven columns: three lines per position
        _out().print(title, markup=False, soft_wrap=True)
        for p in rows:
            outcome = outcomes.get(p.id, p.outcome or "")
            _out().print(
                f"{p.closed} {p.account} {p.underlying} {p.kind} x{p.contracts}: "
                f"P&L {p.realised or 0:+,.2f}, {outcome}\n"
                f"  legs {leg_words(p.legs_text())}\n"
                f"  premium in {p.premium_in:,.2f}, out {p.premium_out:,.2f}, "
                f"settled {p.settlement:+,.2f}, fees {p.fees:,.2f}",
                markup=False,
                soft_wrap=True,
            )
        return
    table = Table(
        title=title,
        title_justify="left",
        caption="premium in: sold legs; out: bought legs; settled: cash at expiry (+ in)",
        caption_justify="left",
        box=box.SIMPLE_HEAD,
        show_edge=False,
        pad_edge=False,
        collapse_padding=True,
    )
    for i, h in enumerate(("closed", "account", "under", "kind", "legs")):
        table.add_column(h, justify="left", no_wrap=i < 4, min_width=10 if i == 4 else None)
    for h in ("in", "out", "settled", "fees", "P&L"):
        table.add_column(h, justify="right", no_wrap=True)
    table.add_column("outcome", no_wrap=True)
    for p in rows:
        table.add_row(
            p.closed or "",
            escape(p.account),
            escape(p.underlying),
            p.kind,
            escape(leg_words(p.legs_text())),
            f"{p.premium_in:,.2f}",
            f"{p.premium_out:,.2f}",
            f"{p.settlement:+,.2f}",
            f"{p.fees:,.2f}",
            f"{p.realised or 0:+,.2f}",
            escape(outcomes.get(p.id, p.outcome or "")),
        )
    _out().print(table)


def pnl(args: argparse.Namespace, paths: Paths) -> int:
    """``invest pnl --period day|week|month``: P&L per period per account, with the total."""
    from contextlib import closing

    from invest.runtime.ledger import reads
    from invest.runtime.ledger.trades import TOTAL

    with closing(reads.connect_readonly(paths.ledger)) as conn:
        rows = reads.period_rows(conn, args.period, args.account, args.limit)
    if args.account:  # one account: its own rows are the total
        rows = [r for r in rows if r.account != TOTAL]
    if args.json:
        print(json.dumps([r.as_dict() for r in rows], indent=2))
        return 0
    if not rows:
        _out().print("no session marked yet: run `invest demo` or start the engine")
        return 0
    table = []
    for r in rows:
        pct = r.pct
        name = "[bold]portfolio total[/]" if r.account == TOTAL else r.account
        table.append(
            [
                r.period,
                name,
                f"{r.start:,.2f}",
                f"{r.end:,.2f}",
                f"{r.pnl:+,.2f}",
                "-" if pct is None else f"{pct:+.2%}",
            ]
        )
    header = [args.period, "account", "start", "end", "P&L", "P&L %"]
    _out().print(_table(f"P&L per {args.period}, newest first", header, table))
    return 0


def research_run(args: argparse.Namespace, paths: Paths) -> int:
    """``invest research run NAME``: screen, rank with the LLM, save the watchlist."""
    from invest.runtime.clock import SystemClock
    from invest.runtime.market import Market
    from invest.runtime.research.agent import run_research

    settings = _settings(paths)
    cfg = settings.research.get(args.name)
    if cfg is None:
        known = ", ".join(settings.research) or "none"
        raise ConfigError(
            f"no research section named {args.name!r} in the config (research: {known})"
        )
    source = _source(cfg.data or settings.engine.data, paths)
    market = Market(source.load(list(cfg.symbols)))
    wl = run_research(cfg, args.name, market, paths.home, now=SystemClock().now)
    if args.json:
        print(json.dumps(wl.as_dict(), indent=2, default=str))
        return 0
    _out().print(
        f"{wl.name} {wl.day} ({wl.source}): {', '.join(wl.symbols) or 'nothing passed the screen'}"
    )
    for sym in wl.symbols:
        _out().print(f"  {sym}: {wl.reasons.get(sym, '')}", markup=False)
    if wl.note:
        _out().print(f"[dim]{wl.note}[/]")
    return 0


def preview(args: argparse.Namespace, paths: Paths) -> int:
    """``invest preview [ACCOUNT]``: the next cycle's dry run of each account, with its reasons.

    A running engine answers it (on the bar its next cycle reads, between its jobs);
    otherwise it runs here on the ledger opened read-only, exactly as ``invest run
    --dry-run`` plans. Nothing is written either way; ``--oracle`` (default ``replay``)
    keeps an LLM gate to cached verdicts, so a preview spends no LLM budget unless asked.
    """
    settings = _settings(paths)
    if args.account is not None:
        settings.account(args.account)  # an unknown account: the config's one-line error
    data = _preview_in_engine(args, paths)
    if data is None:
        if not args.json:
            _say_demo_ledger(paths, True)
        data = _preview_here(args, settings, paths)
    if args.json:
        _out().print_json(json.dumps(data["previews"], default=str))
    else:
        _out().print(data["text"], markup=False, soft_wrap=True)
    return 0


def _preview_in_engine(args: argparse.Namespace, paths: Paths) -> dict[str, object] | None:
    """The engine's preview over the control socket; None when no engine listens."""
    from invest.runtime.control.api import VIEWER, EngineNotRunning, Request
    from invest.runtime.control.socket import SOCKET_NAME, ControlClient

    request = {"oracle": args.oracle} | ({"account": args.account} if args.account else {})
    try:
        reply = ControlClient(paths.home / SOCKET_NAME, timeout=2.0).request(
            Request("preview", request, actor="cli", role=VIEWER), timeout=600.0
        )
    except EngineNotRunning:
        return None
    if not reply.ok:
        raise InvestError(reply.error)
    return reply.data


def _preview_here(args: argparse.Namespace, settings: Settings, paths: Paths) -> dict[str, object]:
    """Each account's preview in this process, on the ledger opened read-only."""
    from invest.runtime.clock import SystemClock
    from invest.runtime.engine.preview import preview_accounts
    from invest.runtime.ledger import Ledger, demo_ledger_at

    # The demo's replayed positions are no state to plan from (as for a dry run).
    known = paths.ledger.exists() and not demo_ledger_at(paths.ledger)
    ledger = Ledger(paths.ledger, readonly=True) if known else None
    try:
        previews = preview_accounts(
            [args.account] if args.account else list(settings.accounts),
            settings,
            paths,
            ledger,
            source=lambda n: _source(settings.account(n).data or settings.engine.data, paths),
            oracle=args.oracle,
            now=SystemClock().now,
        )
    finally:
        if ledger is not None:
            ledger.close()
    return {"previews": previews, "text": "\n\n".join(str(p["text"]) for p in previews)}
