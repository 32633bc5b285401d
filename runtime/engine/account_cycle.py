"""One cycle of one account against the ledger: what ``invest run`` and the engine both call.

    load state, open orders and exit plans (ledger) -> load data up to ``end`` ->
    resolve the outbox (orders recorded with no broker answer: asked by client id) ->
    settle -> run_cycle -> mark -> halt trips -> save_state and exit plans
                                                              (one ledger transaction)
    -> send the new orders -> the broker's answers (a second transaction each)

A dry run reads the ledger (when there is one) and writes nothing: its LSTM
states go to a memory overlay and its records to a memory sink. The account
trades under the worse of its own halt state and the engine-wide one; its own
state is what is saved.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import date
from typing import Any, cast

from invest.runtime.config import Settings
from invest.runtime.config.engine import HaltRules
from invest.runtime.cycle import AccountRuntime, Gate, MemorySink, mark, run_cycle, send, settle
from invest.runtime.data import open_source
from invest.runtime.data.base import MarketData
from invest.runtime.domain import HaltState, OrderIntent, worst
from invest.runtime.engine.options_account_cycle import run_options_account_cycle
from invest.runtime.engine.options_broker import OptionOrdersApi
from invest.runtime.engine.outcome import CycleOutcome, trip
from invest.runtime.engine.reconcile import resolve_outbox
from invest.runtime.ledger import Ledger, LedgerSink, reads
from invest.runtime.ledger import engine_state as repo
from invest.runtime.market import Market, load_market
from invest.runtime.options.plan import OptionsStrategy
from invest.runtime.paths import Paths
from invest.runtime.policy.state import LedgerStateStore, MemoryStateStore
from invest.runtime.risk.engine import RiskResult
from invest.runtime.secrets import Secrets, load_secrets
from invest.runtime.strategies.base import Strategy

__all__ = ["CycleOutcome", "StrategyFactory", "run_account_cycle"]

StrategyFactory = Callable[[Ledger | None], Strategy | OptionsStrategy | None]
"""Builds an account's strategy when the config alone cannot (``llm_manager`` needs the
ledger and the clock; an options account's LLM variant); it gets the ledger when the
account is in it, and returns None to build the strategy from the config."""

logger = logging.getLogger(__name__)


def run_account_cycle(
    name: str,
    settings: Settings,
    paths: Paths,
    ledger: Ledger | None,
    *,
    dry_run: bool = False,
    monitor_only: bool = False,
    source: MarketData | None = None,
    end: date | None = None,
    rules: HaltRules | None = None,
    gate: Gate | None = None,
    strategy: StrategyFactory | None = None,
    secrets: Secrets | None = None,
    option_orders: OptionOrdersApi | None = None,
) -> CycleOutcome:
    """Run one cycle of ``name`` on the last bar up to ``end``, from the persisted state.

    Args:
        name: the account.
        settings: the config.
        paths: where the packs and the data cache live.
        ledger: the ledger (read-only for a dry run); None for a dry run without one.
        dry_run: decide and record in memory only.
        monitor_only: run the position monitors (stops) instead of the strategy.
        source: the market data; None opens the account's (``data`` or ``engine.data``).
        end: the last session the cycle may read; None reads everything the source has.
        rules: halt trips checked after the cycle (daily loss, drawdown); None checks none.
        gate: the account's LLM gate (it may only drop or shrink buys); None for none.
        strategy: builds the strategy (see :data:`StrategyFactory`); None: from the config.
        secrets: the broker keys; None reads ``paths.secrets`` when the account uses
            Alpaca. A dry run always uses the paper broker.
        option_orders: an Alpaca options account's option orders (tests); None: built
            from the keys.

    Returns:
        What the cycle did.

    Raises:
        ConfigError: no such account, or an Alpaca account without its keys.
        DataError: the data cannot be loaded (DataUnavailableError: the source is down).
        LedgerError: the ledger is unusable.
    """
    cfg = settings.account(name)
    if cfg.trades_options:  # the options session: see options_account_cycle
        built = strategy(ledger) if strategy is not None else None
        return run_options_account_cycle(
            name,
            settings,
            paths,
            ledger,
            dry_run=dry_run,
            monitor_only=monitor_only,
            source=source,
            end=end,
            rules=rules,
            strategy=cast("OptionsStrategy | None", built),
            secrets=secrets,
            option_orders=option_orders,
        )
    source = source or open_source(cfg.data or settings.engine.data, cache_dir=paths.cache)
    writing = ledger is not None and not dry_run
    # The ledger when it holds the account (a write run creates it first), else None.
    known: Ledger | None = None
    if ledger is not None and not dry_run:
        ledger.ensure_account(name, cfg)
        known = ledger
    elif ledger is not None and name in ledger.accounts():
        known = ledger
    base = LedgerStateStore(known.conn) if known is not None else None
    if secrets is None and writing and cfg.broker == "alpaca":
        secrets = load_secrets(paths.secrets)
    acct = AccountRuntime.build(
        name,
        settings,
        known.load_state(name) if known is not None else None,
        known.open_orders(name) if known is not None else (),
        packs_dir=paths.packs,
        state_store=base if writing else MemoryStateStore(base=base),
        gate=gate,
        strategy=cast("Strategy | None", strategy(known)) if strategy is not None else None,
        secrets=secrets,
        paper=not writing,  # a dry run never sends anything to a broker
    )
    if known is not None:
        from invest.runtime.ledger.exit_plans import load_exit_plans

        acct.state.exit_plans = load_exit_plans(known.conn, name)
    market = load_market(source, acct, end, live=True)
    acct.strategy.prepare(market)
    t = len(market) - 1
    engine_state = repo.engine_halt(ledger.conn)[0] if ledger is not None else HaltState.ACTIVE
    if ledger is None or not writing:
        return _dry(acct, market, t, engine_state, monitor_only)
    return _live(acct, market, t, ledger, engine_state, monitor_only, rules)


def _outcome(
    acct: AccountRuntime, market: Market, t: int, monitor_only: bool, **kw: Any
) -> CycleOutcome:
    day = market.day(t)
    cycle_id = f"{acct.name}:{day.isoformat()}" + (":monitor" if monitor_only else "")
    base: dict[str, Any] = {"result": RiskResult(), "equity": 0.0, "halt": acct.state.halt}
    base.update(kw)
    return CycleOutcome(
        acct.name, day, cycle_id, state=acct.state, monitor_only=monitor_only, **base
    )


def _dry(
    acct: AccountRuntime, market: Market, t: int, engine_state: HaltState, monitor_only: bool
) -> CycleOutcome:
    own = acct.state.halt
    acct.state.halt = worst(own, engine_state)
    sink = MemorySink()
    settle(acct, market, t, sink)
    result = run_cycle(acct, market, t, sink, monitor_only=monitor_only)
    halt, acct.state.halt = acct.state.halt, own
    return _outcome(
        acct,
        market,
        t,
        monitor_only,
        result=result,
        equity=result.equity,
        halt=halt,
        dry_run=True,
        sent=sink.sent,
        fills=sink.fills,
        cancelled=sink.cancelled,
        records=sink.decisions,
        latest=sink.decisions[-1] if sink.decisions else None,
    )


def _live(
    acct: AccountRuntime,
    market: Market,
    t: int,
    ledger: Ledger,
    engine_state: HaltState,
    monitor_only: bool,
    rules: HaltRules | None,
) -> CycleOutcome:
    day = market.day(t).isoformat()
    last = ledger.last_day(acct.name)
    if last is not None and day < last:
        # The data ends before the last session this account was marked on (a stale
        # source, a clock set back): marking it would rewrite history.
        why = f"the data ends on {day}, before the last session marked ({last})"
        logger.warning("%s: cycle skipped: %s", acct.name, why)
        return _outcome(acct, market, t, monitor_only, skipped=why)
    conn = ledger.conn
    previous = next((e for d, e, _ in reads.equity_rows(conn, acct.name, 5) if d < day), None)
    own = acct.state.halt
    sink = MemorySink(LedgerSink(ledger))
    tripped = ""
    # Orders an earlier run recorded but has no broker answer for (it died between its
    # commit and the send, or the answer was lost): asked by client id before planning.
    resolve_outbox(ledger, acct.broker, acct.name)
    outbox: list[OrderIntent] = []
    with ledger.transaction():
        acct.state.halt = worst(own, engine_state)
        settle(acct, market, t, sink)
        result = run_cycle(acct, market, t, sink, monitor_only=monitor_only, outbox=outbox)
        equity = mark(acct, market, t, sink)
        halt, acct.state.halt = acct.state.halt, own
        if rules is not None:
            tripped = trip(
                ledger, acct.state, rules, equity, previous, new=last is None or day > last
            )
        ledger.save_state(acct.state, day)
        from invest.runtime.ledger.exit_plans import save_exit_plans

        save_exit_plans(ledger.conn, acct.name, acct.state.exit_plans)
        repo.save_marks(conn, acct.name, day, market.marks(acct.state.positions, t))
    # Committed: only now may the orders reach the broker. Each answer is its own
    # transaction; a crash before it leaves the order in the outbox for resolve_outbox.
    send(acct, outbox, market.day(t), sink)
    latest = ledger.decisions(acct.name, 1)
    return _outcome(
        acct,
        market,
        t,
        monitor_only,
        result=result,
        equity=equity,
        halt=halt,
        previous_equity=previous,
        sent=sink.sent,
        fills=sink.fills,
        cancelled=sink.cancelled,
        records=sink.decisions,
        latest=latest[0] if latest else None,
        tripped=tripped,
    )
