"""One live session of an options account against the ledger: ``invest run`` and the engine.

    restore (ledger): AccountState, the OptionBook (open and closed positions), the open
        option orders (the paper broker's queue: an order decided on a session fills
        at the next run's chain), the IV history (recomputed point-in-time, below)
    -> the Market up to ``end`` -> the chain source of the config (``chain_source``)
    -> run_options_session: settle, monitors' exits, (a cycle) the plan, record, mark
       -> save_state                                    (one ledger transaction)

It is :func:`~invest.runtime.options_cycle.run_options_session`, the backtest's own
session, so a live paper account and a replay of the same days give the same book
and cash (``tests/runtime/engine/test_options_live.py`` holds them equal).

Why the paper broker's "send" is inside the transaction: the paper options broker
keeps no state of its own between runs, its queue IS the ledger's open option orders,
so recording an order and queuing it are one write. ``broker = "alpaca"`` goes through
:class:`~invest.runtime.engine.options_broker.VenueOptionsBroker`: the orders are
committed ``pending`` first and sent after the commit, as the stock cycle does, and
the outbox is resolved by client id before each cycle.

Idempotent: the client ids are derived from the cycle id (``account:day``), so a
second run on the same bar records no order the first one did; and once the day's
record is in the ledger the plan is not asked again (the monitors still run: their
exits carry the same ids, so they are never sent twice either).

The IV history (the IV percentile's window) is recomputed each run from the chain
source on the account's scheduled sessions of the window, exactly the readings a
replay would have kept: pure, nothing to store or migrate. A venue chain cannot be
asked for a past day, so with ``alpaca`` or ``yfinance`` the percentile stays unknown
(None) until a stored history exists (left for later; the strategies treat None as
"no reading").
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import date, timedelta

from invest.runtime.brokers.options_fills import OptionFillModel
from invest.runtime.brokers.options_paper import PaperOptionsBroker
from invest.runtime.config import Settings
from invest.runtime.config.engine import HaltRules
from invest.runtime.cycle import MemorySink
from invest.runtime.data import open_source
from invest.runtime.data.base import MarketData
from invest.runtime.domain import AccountState, Ack, HaltState, OrderStatus, money, worst
from invest.runtime.engine.options_broker import (
    OptionOrdersApi,
    VenueOptionsBroker,
    resolve_option_outbox,
)
from invest.runtime.engine.options_sink import OptionsLedgerSink
from invest.runtime.engine.outcome import CycleOutcome, trip
from invest.runtime.errors import ConfigError
from invest.runtime.ledger import Ledger, reads
from invest.runtime.ledger import engine_state as repo
from invest.runtime.market import Market
from invest.runtime.options.chain import ChainSource
from invest.runtime.options.plan import OptionOrder, OptionsStrategy, OrderAction, option_order_id
from invest.runtime.options_cycle import (
    OptionsAccount,
    options_market,
    run_options_session,
    warm_iv_history,
)
from invest.runtime.paths import Paths
from invest.runtime.risk.engine import RiskResult
from invest.runtime.schedule import fires_on
from invest.runtime.secrets import Secrets, load_secrets

__all__ = [
    "OptionsFlatten",
    "OptionsLedgerSink",
    "alpaca_option_orders",
    "cancel_option_orders",
    "chain_source",
    "flatten_options_account",
    "restore_options_account",
    "run_options_account_cycle",
]

logger = logging.getLogger(__name__)


def chain_source(
    name: str, settings: Settings, market: Market, secrets: Secrets | None = None
) -> ChainSource:
    """The chain source of ``name``'s ``options.chain_source`` (see the config's docstring).

    Raises:
        ConfigError: an Alpaca chain without the keys.
    """
    cfg = settings.account(name)
    opts = cfg.options
    if opts is None:
        raise ConfigError(f"account {name!r} is not an options account (no options section)")
    if opts.chain_source == "modelled":
        from invest.runtime.data.sample import vix
        from invest.runtime.options.modelled import ModelledChainSource

        use_vix = market.frame.source.startswith("sample") and opts.chain.vix == "premium"
        return ModelledChainSource(market.frame, opts.chain, vix=vix() if use_vix else None)
    if opts.chain_source == "yfinance":
        from invest.runtime.adapters.yahoo.options import YahooOptionChainSource

        return YahooOptionChainSource()
    from invest.runtime.adapters.alpaca.options import AlpacaOptionChainSource

    key = secrets.alpaca_api_key if secrets is not None else None
    secret = secrets.alpaca_secret_key if secrets is not None else None
    if key is None or secret is None:
        raise ConfigError(
            f"accounts.{name}.options.chain_source = 'alpaca' needs ALPACA_API_KEY and "
            "ALPACA_SECRET_KEY in the secrets file (`invest setup`)"
        )
    return AlpacaOptionChainSource(key, secret)


def restore_options_account(
    name: str,
    settings: Settings,
    market: Market,
    chains: ChainSource,
    ledger: Ledger | None,
    *,
    state: AccountState | None = None,
    strategy: OptionsStrategy | None = None,
    tz: str = "America/New_York",
    api: OptionOrdersApi | None = None,
) -> OptionsAccount:
    """The options account as the ledger left it, ready to run the market's last session.

    The book and the open option orders come from ``ledger`` (None: a fresh account);
    the IV history is rebuilt from ``chains`` on the scheduled sessions before the last
    one (see the module's docstring). With ``api`` (a venue's option orders) the
    broker is a :class:`VenueOptionsBroker` over the ledger's open orders; without,
    the paper options broker with them queued.
    """
    acct = OptionsAccount.build(name, settings, chains, strategy=strategy, state=state)
    stored = ledger.open_option_orders(name) if ledger is not None else []
    if ledger is not None:
        acct.book = ledger.load_book(name)
    if api is not None:
        acct.broker = VenueOptionsBroker(api, stored)
    elif stored:
        acct.broker = PaperOptionsBroker(
            acct.chains,
            OptionFillModel.from_config(acct.options.risk),
            [(s.order, s.day) for s in stored],
        )
    t = len(market) - 1
    lo = market.frame.row_from(market.day(t) - timedelta(days=acct.options.iv_history_days))
    rows = list(range(lo, t))
    if rows and acct.options.chain_source == "modelled":
        fired = fires_on(acct.config.schedule, tz, [market.day(r) for r in rows])
        warm_iv_history(acct, market, [r for r, f in zip(rows, fired, strict=True) if f])
    return acct


def alpaca_option_orders(name: str, settings: Settings, secrets: Secrets | None) -> OptionOrdersApi:
    """The Alpaca option orders of account ``name`` (over its stock broker's client).

    Raises:
        ConfigError: a key is missing.
    """
    from invest.runtime.adapters.alpaca.option_orders import AlpacaOptionOrders
    from invest.runtime.cycle import alpaca_broker

    return AlpacaOptionOrders.of(alpaca_broker(name, settings, [], secrets))


def run_options_account_cycle(
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
    strategy: OptionsStrategy | None = None,
    secrets: Secrets | None = None,
    option_orders: OptionOrdersApi | None = None,
) -> CycleOutcome:
    """Run one session of options account ``name`` on the last bar up to ``end``.

    The same arguments and outcome as
    :func:`~invest.runtime.engine.account_cycle.run_account_cycle`, which calls this
    for an options account. ``monitor_only`` runs the settlement, the monitors' exits
    and the mark (the engine's monitor jobs); a halted or reducing account does the
    same (exits only, never an open). ``outcome.option_orders`` holds the option
    orders recorded by this run.

    ``option_orders`` stands in for Alpaca's option orders (tests); None builds them
    from the secrets for a ``broker = "alpaca"`` account. A dry run never sends.

    Raises:
        ConfigError: no such account, not an options account, or Alpaca keys missing.
        DataError: the data or the chain cannot be loaded.
        TemporaryBrokerError: the venue could not be asked about the outbox.
    """
    cfg = settings.account(name)
    writing = ledger is not None and not dry_run
    venue = writing and cfg.broker == "alpaca"
    if venue and secrets is None:
        secrets = load_secrets(paths.secrets)
    source = source or open_source(cfg.data or settings.engine.data, cache_dir=paths.cache)
    known: Ledger | None = None
    if ledger is not None and not dry_run:
        ledger.ensure_account(name, cfg)
        known = ledger
    elif ledger is not None and name in ledger.accounts():
        known = ledger
    state = known.load_state(name) if known is not None else None
    state = state or AccountState(name, money(cfg.cash))
    market = options_market(source, settings, name, end, state=state, live=True)
    if secrets is None and cfg.options is not None and cfg.options.chain_source == "alpaca":
        secrets = load_secrets(paths.secrets)
    chains = chain_source(name, settings, market, secrets)
    api: OptionOrdersApi | None = None
    if venue and known is not None:
        api = option_orders or alpaca_option_orders(name, settings, secrets)
        # Orders recorded with no answer (a crash between the commit and the send, a lost
        # answer): looked up by client id before anything is planned.
        resolve_option_outbox(known, api, name)
    acct = restore_options_account(
        name,
        settings,
        market,
        chains,
        known,
        state=state,
        strategy=strategy,
        tz=settings.engine.timezone,
        api=api,
    )
    t = len(market) - 1
    day = market.day(t)
    cycle_id = f"{name}:{day.isoformat()}"
    engine_state = repo.engine_halt(ledger.conn)[0] if ledger is not None else HaltState.ACTIVE
    halt = worst(state.halt, engine_state)
    last = known.last_day(name) if known is not None else None
    if writing and last is not None and day.isoformat() < last:
        why = f"the data ends on {day}, before the last session marked ({last})"
        logger.warning("%s: cycle skipped: %s", name, why)
        return CycleOutcome(name, day, cycle_id, RiskResult(), 0.0, state, halt, skipped=why)
    # Once the day's record is in, a run does not plan again; a dry run (a preview)
    # shows the plan as it stands.
    done = writing and known is not None and known.has_decision(cycle_id)
    cycle = not monitor_only and halt is HaltState.ACTIVE and not done
    if not writing:
        sink = MemorySink()
        res = run_options_session(acct, market, t, sink, cycle=cycle)
        return _outcome(acct, day, cycle_id, sink, res.equity, halt, monitor_only, dry_run=True)
    assert ledger is not None
    conn = ledger.conn
    previous = next(
        (e for d, e, _ in reads.equity_rows(conn, name, 5) if d < day.isoformat()), None
    )
    sink = MemorySink(OptionsLedgerSink(ledger))
    tripped = ""
    with ledger.transaction():
        res = run_options_session(acct, market, t, sink, cycle=cycle)
        if rules is not None:
            tripped = trip(
                ledger,
                acct.state,
                rules,
                res.equity,
                previous,
                new=last is None or day.isoformat() > last,
            )
        ledger.save_state(acct.state, day.isoformat())
    if isinstance(acct.broker, VenueOptionsBroker):
        # Committed: only now may the orders reach the venue; each answer is its own
        # transaction, and a crash before it leaves the order for resolve_option_outbox.
        acct.broker.send(sink)
    out = _outcome(acct, day, cycle_id, sink, res.equity, halt, monitor_only)
    out.previous_equity = previous
    out.tripped = tripped
    latest = ledger.decisions(name, 1)
    out.latest = latest[0] if latest else None
    return out


def _outcome(
    acct: OptionsAccount,
    day: date,
    cycle_id: str,
    sink: MemorySink,
    equity: float,
    halt: HaltState,
    monitor_only: bool,
    *,
    dry_run: bool = False,
) -> CycleOutcome:
    return CycleOutcome(
        acct.name,
        day,
        cycle_id,
        RiskResult(equity=equity),
        equity,
        acct.state,
        halt,
        monitor_only=monitor_only,
        dry_run=dry_run,
        fills=sink.fills,
        cancelled=sink.cancelled,
        records=sink.decisions,
        latest=sink.decisions[-1] if sink.decisions else None,
        option_orders=list(sink.option_orders.values()),
    )


def cancel_option_orders(ledger: Ledger, name: str, reason: str) -> int:
    """Cancel every open option order of paper account ``name`` (a halt's cancel); how many.

    The paper options broker's queue is the ledger's open orders, so marking them
    cancelled is the cancellation: the next run queues none of them.
    """
    sink = OptionsLedgerSink(ledger)
    orders = ledger.open_option_orders(name)
    with ledger.transaction():
        for stored in orders:
            sink.option_cancel(stored.order.client_order_id, reason)
    return len(orders)


@dataclass(frozen=True, slots=True)
class OptionsFlatten:
    """What a flatten of an options account did (see :func:`flatten_options_account`).

    Attributes:
        cancelled: the open orders cancelled (opens and limit closes).
        closes: the market closes recorded and sent now.
        working: market closes already open (a monitor's exit, an earlier flatten),
            left to fill rather than cancelled and sent again.
        not_cancelled: open orders a venue could not be asked to cancel (Alpaca's option
            orders have no cancel yet): day orders, they end at the close.
        shares: the shares the account still holds (an assignment's), by symbol.
    """

    cancelled: int
    closes: tuple[OptionOrder, ...]
    working: tuple[OptionOrder, ...]
    not_cancelled: tuple[OptionOrder, ...]
    shares: dict[str, int]


def _market_close(order: OptionOrder) -> bool:
    return order.action is OrderAction.CLOSE and order.limit_premium is None


def flatten_options_account(
    ledger: Ledger,
    name: str,
    day: date,
    actor: str,
    *,
    api: OptionOrdersApi | None = None,
) -> OptionsFlatten:
    """The kill switch of options account ``name``: cancel, close every position at the market, HALT.

    The open orders are cancelled (the paper queue is the ledger's; a venue's, with
    ``api``, cannot be cancelled yet and is listed instead), except market closes,
    which already do what a flatten asks. Every open position without one gets a
    market CLOSE order (rule ``flatten``), recorded ``pending`` in the outbox and
    committed with the halt, then answered: the paper broker's queue is the ledger,
    so it is answered in the same transaction and fills at the next session's chain
    (a HALTED account still settles and runs its monitors); a venue's orders are sent
    after the commit (:class:`VenueOptionsBroker`), as the cycle sends. A second
    flatten finds every position closing and sends nothing.

    The shares an assignment brought are NOT sold: an options account has no stock
    order path (the options session only settles shares), so they are returned in
    ``shares`` for the reply and the log to name.
    """
    sink = OptionsLedgerSink(ledger)
    reason = f"flattened by {actor}"
    stored = [s.order for s in ledger.open_option_orders(name)]
    working = [o for o in stored if _market_close(o)]
    rest = [o for o in stored if not _market_close(o)]
    not_cancelled = rest if api is not None else []
    cancelled = [] if api is not None else rest
    # With a venue any close still open there closes its position already: none twice.
    closing = {o.position_id for o in (stored if api is not None else working)}
    prefix = f"{name}:{day.isoformat()}:flatten"
    cycle_id = f"{prefix}{reads.option_flatten_cycles(ledger.conn, name, prefix) + 1}"
    closes = [
        OptionOrder(
            account=name,
            cycle_id=cycle_id,
            action=OrderAction.CLOSE,
            position_id=p.id,
            structure=p.structure,
            contracts=p.contracts,
            limit_premium=None,
            reason=reason,
            client_order_id=option_order_id(name, cycle_id, p.id, OrderAction.CLOSE),
            rule="flatten",
        )
        for p in ledger.load_book(name).open_positions()
        if p.id not in closing
    ]
    state = ledger.load_state(name)
    shares = (
        {s: int(p.quantity) for s, p in state.positions.items() if p.quantity > 0}
        if state is not None
        else {}
    )
    with ledger.transaction():  # the outbox: recorded and committed with the halt
        for order in cancelled:
            sink.option_cancel(order.client_order_id, f"flatten by {actor}")
        fresh = [o for o in closes if sink.option_order(o)]
        if api is None:  # the paper queue is the ledger: queued is answered
            for o in fresh:
                sink.option_answer(Ack(o.client_order_id, OrderStatus.SUBMITTED, o.client_order_id))
        ledger.event(
            name,
            "flatten",
            {
                "actor": actor,
                "option_orders": len(fresh),
                "cancelled": len(cancelled),
                "shares_left": shares,
            },
        )
        if repo.account_halt(ledger.conn, name) is not HaltState.HALTED:
            ledger.set_halt(name, HaltState.HALTED, reason)
    if api is not None and fresh:
        venue = VenueOptionsBroker(api, [])
        venue.submit(fresh, day)
        venue.send(sink)
    if shares:
        logger.warning(
            "%s: flatten leaves %s: an options account has no stock order path; "
            "sell them at the broker",
            name,
            ", ".join(f"{q} {s}" for s, q in sorted(shares.items())),
        )
    if not_cancelled:
        logger.warning(
            "%s: %d open option order(s) at the venue not cancelled (no cancel yet); "
            "day orders, they end at the close",
            name,
            len(not_cancelled),
        )
    return OptionsFlatten(
        len(cancelled), tuple(fresh), tuple(working), tuple(not_cancelled), shares
    )
