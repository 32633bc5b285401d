"""One session of an options account, the same for a backtest and (next) a live run.

    settle   broker fills of earlier orders -> book.open / book.close (the sink records
             each fill); then book.settle for expiries <= today at today's spots
             (assignment and called-away stock fills -> the account's shares, the sink)
    monitors risk.options.monitor on today's mids -> market close orders, SENT FIRST:
             they never wait for a strategy or an LLM
    plan     (cycle days only) strategy.plan(ctx), ctx point-in-time: today's chains,
             the IV percentile in a trailing ATM IV history the cycle keeps, the skew,
             free cash = cash - what the book reserves, free shares
    closes   the plan's closes, at a limit (natural prices, less the tolerance)
    opens    each through risk.options.check_open (clamps kept), at a limit
    record   orders recorded (sink.option_order) then sent; the explanation record
    mark     equity = cash + shares x spot + the book marked at mid

A strategy that raises is caught: the exits are already sent, the plan is empty and
the record says why. An options account never goes through the stock cycle, so the
shares an assignment brings are never rebalanced by a stock strategy.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal
from typing import Any, Protocol, cast

from invest.runtime.brokers.options_fills import OptionFillModel
from invest.runtime.brokers.options_paper import OptionOrderFill, PaperOptionsBroker
from invest.runtime.config import AccountConfig, Settings
from invest.runtime.config.options_account import OptionsAccountConfig
from invest.runtime.cycle import Sink
from invest.runtime.data.base import MarketData
from invest.runtime.domain import AccountState, Ack, Clamp, OrderStatus, Regime, money
from invest.runtime.errors import ConfigError, DataError
from invest.runtime.market import Market, load_market
from invest.runtime.options.analytics import atm_iv, iv_percentile, skew
from invest.runtime.options.book import (
    OptionAction,
    OptionBook,
    OptionPosition,
    cash_need,
    position_id,
)
from invest.runtime.options.chain import ChainSource, OptionChain, OptionQuote
from invest.runtime.options.contracts import OptionContract
from invest.runtime.options.earnings import EarningsCalendar, StaticEarningsCalendar
from invest.runtime.options.marks import OptionMark, mark_position
from invest.runtime.options.plan import (
    CloseProposal,
    MarksSink,
    OpenProposal,
    OptionOrder,
    OptionsContext,
    OptionsPlan,
    OptionsSink,
    OptionsStrategy,
    OrderAction,
    option_order_id,
    within_candidates,
)
from invest.runtime.options.structures import StructureKind
from invest.runtime.regime import label
from invest.runtime.risk.options import SPREADS, check_open, monitor
from invest.runtime.strategies import build_options_strategy

__all__ = [
    "DayChains",
    "OptionsAccount",
    "OptionsBroker",
    "OptionsCycleSink",
    "SessionResult",
    "options_market",
    "run_options_session",
    "warm_iv_history",
]


class OptionsCycleSink(Sink, OptionsSink, Protocol):
    """A sink for an options account: the stock records (shares, decisions, equity) and the option ones."""


class _PricesOnDemand(Protocol):
    def quotes_for(
        self, underlying: str, as_of: date, contracts: Sequence[OptionContract]
    ) -> tuple[OptionQuote, ...]: ...


class DayChains:
    """A :class:`ChainSource` that keeps the current session's chains (and failures).

    The broker's fills, the marks, the monitors and the strategy read the same chain
    of a day; it is built once. A new day forgets the previous one.

    A modelled chain lists only the strikes near today's spot, while a real series
    stays listed until it expires: the contracts the account holds or has orders in
    (:meth:`hold`) that today's chain lacks are priced by the source's own model
    (``quotes_for``, where it has one) and added, with a note. Without that, a spread
    whose strikes the market left behind could never be marked or closed.
    """

    def __init__(self, source: ChainSource) -> None:
        self.source = source
        self.name = source.name
        self._day: date | None = None
        self._chains: dict[str, OptionChain | DataError] = {}
        self._mids: dict[str, dict[str, float]] = {}
        self._held: dict[str, list[OptionContract]] = {}

    def hold(self, as_of: date, contracts: Iterable[OptionContract]) -> None:
        """The contracts to keep quoting on ``as_of`` (legs held or in open orders)."""
        if as_of != self._day:
            self._day, self._chains, self._mids = as_of, {}, {}
        self._held = {}
        for c in contracts:
            self._held.setdefault(c.underlying, []).append(c)

    def _with_held(self, chain: OptionChain) -> OptionChain:
        held = self._held.get(chain.underlying)
        if not held or not hasattr(self.source, "quotes_for"):
            return chain
        pricer = cast("_PricesOnDemand", self.source)
        listed = {q.contract.symbol for q in chain.quotes}
        missing = list({c.symbol: c for c in held if c.symbol not in listed}.values())
        if not missing:
            return chain
        extra = pricer.quotes_for(chain.underlying, chain.as_of, missing)
        if not extra:
            return chain
        note = (
            f"{len(extra)} series listed earlier and now outside the strike band, held or in "
            "an order, priced on demand by the same model"
        )
        return dataclasses.replace(chain, quotes=chain.quotes + extra, notes=(*chain.notes, note))

    def chain(self, underlying: str, as_of: date) -> OptionChain:
        """The chain of ``underlying`` on ``as_of`` (built once a day).

        Raises:
            DataError: the source has none (the same error again on a second ask).
        """
        if as_of != self._day:
            self._day, self._chains, self._mids = as_of, {}, {}
        got = self._chains.get(underlying)
        if got is None:
            try:
                got = self._with_held(self.source.chain(underlying, as_of))
            except DataError as e:
                got = e
            self._chains[underlying] = got
        if isinstance(got, DataError):
            raise got
        return got

    def mids(self, underlying: str, as_of: date) -> dict[str, float]:
        """Mid per OCC symbol of the day's chain; empty when there is no chain."""
        self.chain_or_none(underlying, as_of)
        if underlying not in self._mids:
            got = self._chains[underlying]
            self._mids[underlying] = (
                {} if isinstance(got, DataError) else {q.contract.symbol: q.mid for q in got}
            )
        return self._mids[underlying]

    def chain_or_none(self, underlying: str, as_of: date) -> OptionChain | None:
        try:
            return self.chain(underlying, as_of)
        except DataError:
            return None


class OptionsBroker(Protocol):
    """What the session asks of a broker of option orders: the paper one, or a venue's.

    :class:`~invest.runtime.brokers.options_paper.PaperOptionsBroker` is the model;
    the live path wraps a venue's orders in the same shape
    (``engine.options_broker.VenueOptionsBroker``).
    """

    name: str

    def submit(self, orders: Sequence[OptionOrder], day: date) -> list[Ack]: ...

    def open_orders(self) -> list[OptionOrder]: ...

    def take_cancelled(self) -> list[tuple[OptionOrder, str]]: ...

    def cancel(self, order: OptionOrder, reason: str) -> None: ...

    def poll(self, day: date) -> list[OptionOrderFill]: ...


@dataclass
class OptionsAccount:
    """Everything one options account needs to run sessions."""

    name: str
    config: AccountConfig
    options: OptionsAccountConfig
    strategy: OptionsStrategy
    broker: OptionsBroker
    chains: DayChains
    state: AccountState
    book: OptionBook
    earnings: EarningsCalendar | None = None
    #: Per underlying, (session, ATM IV) read on the cycle days, oldest first.
    iv_history: dict[str, list[tuple[date, float]]] = field(default_factory=dict)
    #: Position id -> the rule of the close that filled (take_profit, stop_loss, roll ...).
    close_rules: dict[str, str] = field(default_factory=dict)
    #: Position id -> the clamps of its opening order (e.g. earnings_unknown).
    open_clamps: dict[str, tuple[str, ...]] = field(default_factory=dict)
    #: Client id of an open order in flight -> its clamps' rules.
    _order_clamps: dict[str, tuple[str, ...]] = field(default_factory=dict)
    #: Position id -> its last value at mid (used on a day without a chain).
    _values: dict[str, float] = field(default_factory=dict)

    @classmethod
    def build(
        cls,
        name: str,
        settings: Settings,
        chains: ChainSource,
        *,
        strategy: OptionsStrategy | None = None,
        state: AccountState | None = None,
    ) -> OptionsAccount:
        """Assemble an options account from its config over ``chains``.

        Raises:
            ConfigError: no such account, not an options account, or its earnings CSV is bad.
        """
        cfg = settings.account(name)
        opts = cfg.options
        if opts is None:
            raise ConfigError(f"account {name!r} is not an options account (no options section)")
        earnings = None
        if opts.earnings is not None:
            try:
                earnings = StaticEarningsCalendar.from_csv(opts.earnings)
            except (OSError, ValueError, DataError) as e:
                raise ConfigError(f"accounts.{name}.options.earnings: {e}") from e
        day_chains = DayChains(chains)
        return cls(
            name=name,
            config=cfg,
            options=opts,
            strategy=strategy or build_options_strategy(cfg),
            broker=PaperOptionsBroker(day_chains, OptionFillModel.from_config(opts.risk)),
            chains=day_chains,
            state=state or AccountState(name, money(cfg.cash)),
            book=OptionBook(name),
            earnings=earnings,
        )

    def regime_symbol(self) -> str:
        return self.config.trend_king.regime_symbol or self.config.benchmark

    def symbols(self) -> tuple[str, ...]:
        """Every symbol the account reads: the underlyings, the benchmark and the regime index."""
        return tuple(
            dict.fromkeys((*self.config.universe, self.config.benchmark, self.regime_symbol()))
        )


def warm_iv_history(acct: OptionsAccount, market: Market, rows: Sequence[int]) -> None:
    """Rebuild ``acct.iv_history`` from its chain source on the cycle sessions ``rows``.

    The readings a replay keeps on its cycle days (:func:`_vol_readings`: the ATM IV
    at the expiry nearest ``iv_target_dte``), taken again on each run from a chain
    source that can price a past day (the modelled one), so a live run and a replay
    over the same days see the same IV percentile, and nothing is stored. Rows
    without a chain are skipped, as a replay skips them.
    """
    for t in rows:
        day = market.day(t)
        for u in acct.config.universe:
            chain = acct.chains.chain_or_none(u, day)
            if chain is not None:
                _vol_readings(acct, u, chain, day)


@dataclass(frozen=True, slots=True)
class SessionResult:
    """The end of one session: equity, cash and the cash the book reserves."""

    equity: float
    cash: float
    reserved: float


def run_options_session(
    acct: OptionsAccount,
    market: Market,
    t: int,
    sink: OptionsCycleSink,
    *,
    cycle: bool,
    explain: bool = True,
) -> SessionResult:
    """Run session ``t`` of ``acct``: settle, monitors, (on a cycle day) the plan, mark.

    ``cycle`` False runs only the settlement, the monitors and the mark (the days
    between the account's scheduled cycles).
    """
    day = market.day(t)
    cycle_id = f"{acct.name}:{market.iso(t)}"
    notes: list[str] = []
    acct.chains.hold(
        day,
        (
            leg.contract
            for s in (
                *(p.structure for p in acct.book.open_positions()),
                *(o.structure for o in acct.broker.open_orders()),
            )
            for leg in s.legs
        ),
    )
    changed = _settle(acct, market, t, day, cycle_id, sink, notes)
    marks = _marks(acct, day)
    exits = monitor(acct.book, marks, day, acct.options.risk)
    exit_orders = [
        _close_order(acct, cycle_id, acct.book.position(e.position_id), None, e.reason, e.rule)
        for e in exits
    ]
    _send(acct, exit_orders, day, sink)  # first: nothing below may delay them
    closing = {o.position_id for o in exit_orders}
    plan = OptionsPlan()
    opens: list[OptionOrder] = []
    closes: list[OptionOrder] = []
    clamps: list[Clamp] = []
    skipped: list[dict[str, str]] = []
    ctx: OptionsContext | None = None
    if cycle:
        equity_now = _equity(acct, market, t, marks)
        ctx, skipped = _context(acct, market, t, day, equity_now)
        try:
            plan = acct.strategy.plan(ctx)
        except Exception as e:  # a strategy's bug or an LLM's failure never stops the exits
            notes.append(f"strategy {acct.strategy.name} failed: {type(e).__name__}: {e}")
        for problem in within_candidates(plan, plan.candidates):
            notes.append(f"open dropped: {problem}")
        bad = set(problem_keys(plan))
        closes = _closes(acct, cycle_id, day, plan.closes, closing, notes)
        closing |= {o.position_id for o in closes}
        opens, clamps = _opens(
            acct,
            cycle_id,
            day,
            [o for o in plan.opens if o.key not in bad],
            {o.position_id for o in exit_orders},
            marks,
            equity_now,
            notes,
        )
        _send(acct, [*closes, *opens], day, sink)
    if changed:
        sink.option_positions(acct.name, changed)
    equity = _equity(acct, market, t, marks)
    reserved = float(acct.book.reserved_cash())
    # The marks go to a sink that keeps them (the ledger's) and into a record; a replay
    # into memory writes neither on most days, and pays nothing for them then.
    keeps = isinstance(sink, MarksSink) and getattr(sink, "keeps_marks", True)
    recorded = explain and bool(cycle or exit_orders or changed)
    position_marks = _position_marks(acct, day) if keeps or recorded else []
    if keeps:
        cast("MarksSink", sink).option_marks(acct.name, day, position_marks)
    if recorded:
        sink.decision(
            _record(
                acct,
                day,
                cycle_id,
                ctx,
                plan,
                exit_orders,
                closes,
                opens,
                clamps,
                skipped,
                notes,
                positions=position_marks,
            )
            | {"equity": round(equity, 2), "cash": float(acct.state.cash), "reserved": reserved}
        )
    sink.equity(acct.name, market.iso(t), equity, float(acct.state.cash))
    return SessionResult(equity, float(acct.state.cash), reserved)


def problem_keys(plan: OptionsPlan) -> list[str]:
    """Keys of the plan's opens that are not allowed by its own candidates."""
    allowed = {c.key: c.contracts for c in plan.candidates}
    return [
        o.key
        for o in plan.opens
        if o.key not in allowed or o.contracts > allowed[o.key] or o.contracts <= 0
    ]


# -- settle -------------------------------------------------------------------


def _settle(
    acct: OptionsAccount,
    market: Market,
    t: int,
    day: date,
    cycle_id: str,
    sink: OptionsCycleSink,
    notes: list[str],
) -> list[OptionPosition]:
    """Book the broker's fills, then settle what expires today; the positions changed."""
    changed: list[OptionPosition] = []
    for done in acct.broker.poll(day):
        order, fill = done.order, done.fill
        try:
            if order.action is OrderAction.OPEN:
                pos = acct.book.open(fill, order.structure, order.contracts, acct.state)
                acct.open_clamps[pos.id] = acct._order_clamps.pop(order.client_order_id, ())
            else:
                pos = acct.book.close(fill, acct.state)
                acct.close_rules[pos.id] = order.rule
        except ValueError as e:  # e.g. cash moved since the order: the book refuses
            acct.broker.cancel(order, f"refused at the fill on {day}: {e}")
            continue
        sink.option_answer(Ack(order.client_order_id, OrderStatus.FILLED, order.client_order_id))
        sink.option_fill(fill)
        changed.append(pos)
    for order, reason in acct.broker.take_cancelled():
        acct._order_clamps.pop(order.client_order_id, None)
        sink.option_answer(
            Ack(order.client_order_id, OrderStatus.CANCELLED, order.client_order_id, reason)
        )
        notes.append(f"{order.action} {order.structure.kind} {order.position_id}: {reason}")
    due = [p for p in acct.book.open_positions() if p.expiry <= day]
    if due:
        spots = {p.structure.underlying: market.price(p.structure.underlying, t) for p in due}
        try:
            settled = acct.book.settle(day, spots, acct.state, cycle_id)
        except ValueError as e:  # no spot today: tried again tomorrow (expiry <= day)
            notes.append(f"settlement postponed: {e}")
            settled = []
        for s in settled:
            sink.option_fill(s.fill)
            if s.stock is not None:
                sink.fill(s.stock)
            changed.append(acct.book.position(s.fill.position_id))
    return changed


# -- marks, context -----------------------------------------------------------


def _marks(acct: OptionsAccount, day: date) -> dict[str, float]:
    """Mids of the legs of the open positions, from today's chains (absent: no chain)."""
    out: dict[str, float] = {}
    for u in {p.structure.underlying for p in acct.book.open_positions()}:
        out.update(acct.chains.mids(u, day))
    return out


def _position_values(acct: OptionsAccount, marks: Mapping[str, float]) -> dict[str, float]:
    """Each open position's value at mid; the last known one when a leg has no mid today."""
    out: dict[str, float] = {}
    for pos in acct.book.open_positions():
        legs = pos.structure.legs
        if all(leg.contract.symbol in marks for leg in legs):
            value = sum(leg.quantity * marks[leg.contract.symbol] for leg in legs)
            acct._values[pos.id] = value * pos.contracts * pos.structure.multiplier
        out[pos.id] = acct._values.get(pos.id, 0.0)
    return out


def _equity(acct: OptionsAccount, market: Market, t: int, marks: Mapping[str, float]) -> float:
    """Cash + shares at the last good close + the option positions at mid."""
    shares = 0.0
    for sym, p in acct.state.positions.items():
        px = market.price(sym, t) if sym in market.col else float("nan")
        shares += float(p.quantity) * (px if px == px else float(p.avg_cost))
    return float(acct.state.cash) + shares + sum(_position_values(acct, marks).values())


def _position_marks(acct: OptionsAccount, day: date) -> list[OptionMark]:
    """Each open position marked at today's quotes under the monitors' thresholds.

    Called after :func:`_position_values` (through :func:`_equity`), so a position
    without quotes today shows its last known value.
    """
    quotes: dict[str, OptionQuote] = {}
    spots: dict[str, float] = {}
    out = []
    for pos in acct.book.open_positions():
        u = pos.structure.underlying
        if u not in spots:
            chain = acct.chains.chain_or_none(u, day)
            spots[u] = chain.spot if chain is not None else float("nan")
            if chain is not None:
                wanted = {
                    leg.contract
                    for p in acct.book.open_positions()
                    if p.structure.underlying == u
                    for leg in p.structure.legs
                }
                # An OCC symbol is formatted on each read: match on the expiry first (cheap),
                # then the contract, and format only the few held.
                expiries = {c.expiry for c in wanted}
                quotes.update(
                    {
                        q.contract.symbol: q
                        for q in chain.quotes
                        if q.contract.expiry in expiries and q.contract in wanted
                    }
                )
        spot = spots[u]
        out.append(
            mark_position(
                pos,
                quotes,
                day,
                acct.options.risk,
                auto_close=pos.structure.kind in SPREADS,
                spot=spot if spot == spot else None,
                last_value=acct._values.get(pos.id),
            )
        )
    return out


def _expiry_near(chain: OptionChain, day: date, target: int) -> date | None:
    exps = [e for e in chain.expiries() if e > day]
    return min(exps, key=lambda e: abs((e - day).days - target)) if exps else None


def _context(
    acct: OptionsAccount, market: Market, t: int, day: date, equity: float
) -> tuple[OptionsContext, list[dict[str, str]]]:
    """What the strategy sees today (nothing after ``day``), and the underlyings skipped."""
    chains: dict[str, OptionChain] = {}
    skipped: list[dict[str, str]] = []
    pct: dict[str, float | None] = {}
    skews: dict[str, float | None] = {}
    for u in acct.config.universe:
        try:
            chain = acct.chains.chain(u, day)
        except DataError as e:
            skipped.append({"symbol": u, "reason": str(e)})
            continue
        chains[u] = chain
        pct[u], skews[u] = _vol_readings(acct, u, chain, day)
    tk = acct.config.trend_king
    codes, _ = market.regime(acct.regime_symbol(), tk.sma_window, tk.hysteresis)
    shares = {s: p.quantity for s, p in acct.state.positions.items()}
    free_shares = {s: acct.book.free_shares(s, acct.state) for s in shares}
    free_cash = acct.state.cash - acct.book.reserved_cash()
    ctx = OptionsContext(
        account=acct.name,
        day=day,
        regime=label(int(codes[t])),
        chains=chains,
        book=acct.book,
        shares=shares,
        free_shares=free_shares,
        cash=acct.state.cash,
        free_cash=free_cash,
        equity=equity,
        iv_percentile=pct,
        skew=skews,
        earnings=acct.earnings,
    )
    return ctx, skipped


def _vol_readings(
    acct: OptionsAccount, u: str, chain: OptionChain, day: date
) -> tuple[float | None, float | None]:
    """Today's IV percentile (in the kept history) and skew of ``u``; records today's ATM IV.

    The history holds only readings of earlier cycle days, so a value never depends
    on anything after ``day``.
    """
    opts = acct.options
    expiry = _expiry_near(chain, day, opts.iv_target_dte)
    if expiry is None:
        return None, None
    try:
        today = atm_iv(chain, expiry)
    except DataError:
        return None, None
    try:
        sk: float | None = skew(chain, expiry)
    except DataError:
        sk = None
    history = acct.iv_history.setdefault(u, [])
    since = day - timedelta(days=opts.iv_history_days)
    window = [v for d, v in history if since <= d < day]
    p = iv_percentile(window, today, len(window)) if len(window) >= opts.iv_min_history else None
    if not history or history[-1][0] < day:
        history.append((day, today))
        while history and history[0][0] < since:
            history.pop(0)
    return p, sk


# -- orders ---------------------------------------------------------------------


def _limit(estimate: float, tolerance: float) -> float:
    """The worst net premium an order accepts: the estimate, worse by ``tolerance`` of it."""
    return round(estimate - tolerance * abs(estimate), 4)


def _close_order(
    acct: OptionsAccount,
    cycle_id: str,
    pos: OptionPosition,
    limit: float | None,
    reason: str,
    rule: str,
) -> OptionOrder:
    return OptionOrder(
        account=acct.name,
        cycle_id=cycle_id,
        action=OrderAction.CLOSE,
        position_id=pos.id,
        structure=pos.structure,
        contracts=pos.contracts,
        limit_premium=limit,
        reason=reason,
        client_order_id=option_order_id(acct.name, cycle_id, pos.id, OrderAction.CLOSE),
        rule=rule,
    )


def _closes(
    acct: OptionsAccount,
    cycle_id: str,
    day: date,
    proposals: Sequence[CloseProposal],
    closing: set[str],
    notes: list[str],
) -> list[OptionOrder]:
    """The plan's closes as limit orders at today's natural prices, less the tolerance."""
    out = []
    for c in proposals:
        try:
            pos = acct.book.position(c.position_id)
        except KeyError as e:
            notes.append(f"close skipped: {e.args[0]}")
            continue
        if not pos.is_open or pos.id in closing:
            notes.append(f"close of {pos.id} skipped: closed already or closing")
            continue
        chain = acct.chains.chain_or_none(pos.structure.underlying, day)
        natural = 0.0
        for leg in pos.structure.legs:
            q = chain.quote(leg.contract) if chain is not None else None
            if q is None:
                notes.append(f"close of {pos.id} skipped: {leg.contract.symbol} not quoted")
                break
            # Closing reverses the leg: a long leg is sold at the bid, a short one bought at the ask.
            natural += leg.quantity * (q.bid if leg.quantity > 0 else q.ask)
        else:
            limit = _limit(natural, acct.options.limit_tolerance)
            out.append(_close_order(acct, cycle_id, pos, limit, c.reason, c.rule))
    return out


def _opens(
    acct: OptionsAccount,
    cycle_id: str,
    day: date,
    proposals: Sequence[OpenProposal],
    exiting: set[str],
    marks: Mapping[str, float],
    equity: float,
    notes: list[str],
) -> tuple[list[OptionOrder], list[Clamp]]:
    """The plan's opens sized by the risk rules, one after the other.

    Each open is sized at its limit, the worst premium it accepts, so that whatever
    fill the limit lets through keeps the cash reserve. Each later open is checked
    against the cash the earlier ones of this cycle commit, and with the reserve the
    monitors' exits release (less their buy-back at mid): the broker fills closes
    first, and an exit (a market order) always fills. A strategy's close (a roll's)
    is a limit order that may not fill, so its reserve is not counted on.
    """
    risk = acct.options.risk
    values = _position_values(acct, marks)
    released = sum(
        (acct.book.position(p).reserved + money(values.get(p, 0.0)) for p in exiting),
        Decimal(0),
    )
    committed = Decimal(0)
    orders: list[OptionOrder] = []
    clamps: list[Clamp] = []
    for o in proposals:
        limit = _limit(o.est_premium, acct.options.limit_tolerance)
        room = dataclasses.replace(acct.state, cash=acct.state.cash - committed + released)
        n, why = check_open(
            o.structure,
            o.contracts,
            limit,
            room,
            acct.book,
            risk,
            equity,
            acct.earnings,
            day,
        )
        clamps += why
        if n <= 0:
            notes.append(f"open {o.kind} {o.key} refused by the risk rules")
            continue
        pid = position_id(acct.name, cycle_id, o.structure)
        order = OptionOrder(
            account=acct.name,
            cycle_id=cycle_id,
            action=OrderAction.OPEN,
            position_id=pid,
            structure=o.structure,
            contracts=n,
            limit_premium=limit,
            reason=o.reason,
            client_order_id=option_order_id(acct.name, cycle_id, pid, OrderAction.OPEN),
            rule="roll" if o.roll_of else "",
        )
        fee = money(risk.fee_per_contract * sum(abs(leg.quantity) for leg in o.structure.legs))
        committed += cash_need(o.structure, limit, fee) * n
        acct._order_clamps[order.client_order_id] = tuple(c.rule for c in why)
        orders.append(order)
    return orders, clamps


def _send(
    acct: OptionsAccount, orders: Sequence[OptionOrder], day: date, sink: OptionsCycleSink
) -> None:
    """The outbox: record each order, then send the fresh ones and record the answers."""
    for order in orders:
        if not sink.option_order(order):
            continue
        (ack,) = acct.broker.submit([order], day)
        sink.option_answer(ack)


# -- the explanation record --------------------------------------------------------


def legs_text(order_or_pos: OptionOrder | OptionPosition) -> str:
    """Legs as ``"-1 KO220715P00055000 +1 ..."`` (quantity per unit, OCC symbol)."""
    return " ".join(
        f"{leg.quantity:+d} {leg.contract.symbol}" for leg in order_or_pos.structure.legs
    )


def _order_dict(o: OptionOrder) -> dict[str, Any]:
    return {
        "action": o.action.value,
        "kind": o.structure.kind.value,
        "underlying": o.structure.underlying,
        "legs": legs_text(o),
        "contracts": o.contracts,
        "limit": o.limit_premium,
        "position_id": o.position_id,
        "rule": o.rule,
        "reason": o.reason,
        "client_order_id": o.client_order_id,
    }


def _record(
    acct: OptionsAccount,
    day: date,
    cycle_id: str,
    ctx: OptionsContext | None,
    plan: OptionsPlan,
    exits: Sequence[OptionOrder],
    closes: Sequence[OptionOrder],
    opens: Sequence[OptionOrder],
    clamps: Sequence[Clamp],
    skipped: list[dict[str, str]],
    notes: list[str],
    *,
    positions: Sequence[OptionMark] = (),
) -> dict[str, Any]:
    chains = ctx.chains.values() if ctx is not None else ()
    # What varies by day of each chain: its source, spot and (modelled) the ATM IV's
    # making; the model's fixed parameters are in the report's notes once.
    about = {
        c.underlying: {
            "source": c.source,
            "modelled": c.modelled,
            "spot": c.spot,
            "notes": [n for n in c.notes if n.startswith("ATM IV") or "on demand" in n],
        }
        for c in chains
    }
    proposed = {o.key: o for o in plan.opens}
    return {
        "account": acct.name,
        "cycle_id": cycle_id,
        "day": day.isoformat(),
        "strategy": acct.strategy.name,
        "regime": ctx.regime.value if ctx is not None else None,
        "chains": about,
        "iv_percentile": dict(ctx.iv_percentile) if ctx is not None else {},
        "skew": dict(ctx.skew) if ctx is not None else {},
        "notes": [*plan.notes, *notes],
        "exits": [_order_dict(o) for o in exits],
        "closes": [_order_dict(o) for o in closes],
        "opens": [
            _order_dict(o)
            | {
                "proposed_contracts": proposed[k].contracts if (k := _key(o)) in proposed else None,
                "score": dict(proposed[k].score) if k in proposed else {},
            }
            for o in opens
        ],
        "clamps": [{"rule": c.rule, "symbol": c.symbol, "reason": c.reason} for c in clamps],
        "orders": [_order_dict(o) for o in (*exits, *closes, *opens)],
        "skipped": skipped,
        "context": _plain(plan.context),
        # The open positions after today's fills and settlements, marked at mid (see options.marks).
        "positions": [m.as_dict() for m in positions],
    }


def _key(o: OptionOrder) -> str:
    return "|".join(f"{leg.quantity}x{leg.contract.symbol}" for leg in o.structure.legs)


def _plain(value: Any) -> Any:
    """``value`` with only JSON types (a plan's context may hold enums, dates, tuples)."""
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, (str, int, float, bool)) or value is None:
        return value
    if isinstance(value, Regime):
        return value.value
    return str(value)


#: Rule names of the reports: the monitors' own, the strategy's, and expiry outcomes.
EXIT_RULES = ("take_profit", "stop_loss", "auto_close", "roll", "strategy", "expiry")


def outcome_rule(acct: OptionsAccount, pos: OptionPosition) -> str:
    """How ``pos`` ended, as a report names it: a close's rule, "expiry", "assignment", "called away"."""
    if pos.outcome is OptionAction.CLOSE:
        return acct.close_rules.get(pos.id, "strategy") or "strategy"
    if pos.outcome is OptionAction.EXPIRE:
        return "expiry"
    if pos.outcome is OptionAction.ASSIGN:
        return (
            "assignment" if pos.structure.kind is StructureKind.CASH_SECURED_PUT else "called away"
        )
    return "open"


@dataclass(frozen=True, slots=True)
class _Reader:
    """What :func:`load_market` needs of an options account before its chains exist."""

    names: tuple[str, ...]
    state: AccountState

    def symbols(self) -> tuple[str, ...]:
        return self.names


def options_market(
    source: MarketData,
    settings: Settings,
    name: str,
    end: date | None,
    *,
    state: AccountState | None = None,
    live: bool = False,
) -> Market:
    """The Market of options account ``name`` up to ``end``: underlyings, benchmark, regime
    index, and the shares of ``state`` (default: the account's starting cash, no shares).

    ``live`` (``invest run``, the engine) makes bad input skip a symbol, as for stocks.
    """
    cfg = settings.account(name)
    regime = cfg.trend_king.regime_symbol or cfg.benchmark
    names = tuple(dict.fromkeys((*cfg.universe, cfg.benchmark, regime)))
    held = state if state is not None else AccountState(name, money(cfg.cash))
    return load_market(source, _Reader(names, held), end, live=live)
