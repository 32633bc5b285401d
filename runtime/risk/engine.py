"""RiskEngine: turns a proposal into order intents that obey every hard rule.

Order of application (each change leaves a :class:`Clamp` with its reason):
1. halt state: HALTED makes no orders, REDUCING makes sells only;
2. position monitors: stop-loss, take-profit, time stop force full exits;
3. drawdown brake: the whole book is scaled by ``drawdown_cut``;
4. caps: max position weight and the cash reserve;
5. mandate (an account with one): buckets by asset class (:mod:`.mandate`);
6. sizing (the account's ``portfolio.sizing``: vol target, fractional Kelly or
   fixed fraction, :mod:`invest.runtime.portfolio.sizing`; off by default, and then
   it costs nothing per cycle);
7. VaR limit (``var_limit_pct``, off by default): each buy, largest first, is shrunk
   until the book with it keeps its 1-day VaR within the limit, or blocked;
8. buy filters: usable data, price and liquidity floors, correlation warning;
9. trades: tolerance band, minimum holding period, anti-leverage sizing
   (buys come from settled cash minus the reserve, never from pending sales),
   and the cap on trades per cycle (times ``bootstrap_trade_factor`` while cash is
   over ``bootstrap_cash_pct`` of equity: bootstrap mode).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date
from decimal import ROUND_DOWN, Decimal

import numpy as np
import numpy.typing as npt

from invest.runtime.brokers.fills import FillModel
from invest.runtime.config import RiskProfile
from invest.runtime.config.mandate import MandateConfig
from invest.runtime.config.portfolio import PortfolioConfig
from invest.runtime.domain import (
    CENT,
    AccountState,
    Clamp,
    HaltState,
    OrderIntent,
    Proposal,
    Side,
    client_order_id,
    floor_qty,
)
from invest.runtime.features import log_returns
from invest.runtime.market import Market
from invest.runtime.portfolio import sizing
from invest.runtime.risk import monitors, rules
from invest.runtime.risk.mandate import hold_mandate

CORR_WINDOW = 60
#: The VaR limit and the monitors need this many complete days (every name of the
#: book with a return) in their window; fewer and the figure is not measured.
MIN_VAR_DAYS = 20


@dataclass(slots=True)
class RiskResult:
    """What the risk engine decided for one cycle."""

    intents: list[OrderIntent] = field(default_factory=list)
    clamps: list[Clamp] = field(default_factory=list)
    targets: dict[str, float] = field(default_factory=dict)
    equity: float = 0.0
    drawdown: float = 0.0
    #: The book's monitors (:meth:`RiskEngine.monitors`) when the caller asked for them.
    risk: dict[str, float | None] | None = None


@dataclass(slots=True)
class _Trade:
    symbol: str
    side: Side
    qty: Decimal
    price: float
    value: float
    reason: str
    forced: bool = False


def _simple_returns(market: Market) -> npt.NDArray[np.float64]:
    """Daily simple returns of every column, computed once per Market.

    Row r is close[r] / close[r - 1] - 1 (row 0 and any row next to a missing or bad
    close are NaN): a row reads its own close and the one before, never a later one.
    """

    def compute() -> npt.NDArray[np.float64]:
        close = market.close
        out = np.full(close.shape, np.nan)
        with np.errstate(divide="ignore", invalid="ignore"):
            out[1:] = close[1:] / close[:-1] - 1.0
        return out

    every: npt.NDArray[np.float64] = market.derived(("simple_returns",), compute)
    return every


def _window(market: Market, t: int, cols: list[int], lookback: int) -> npt.NDArray[np.float64]:
    """The trailing ``lookback`` rows of returns through row ``t`` for ``cols``, complete rows only.

    A day on which any of the names has no return (not listed yet, a missing or bad
    close) is dropped for all of them, so every figure is on the same days.
    """
    rets = _simple_returns(market)[max(1, t - lookback + 1) : t + 1, cols]
    ok = np.isfinite(rets).all(axis=1)
    window: npt.NDArray[np.float64] = rets if ok.all() else rets[ok]
    return window


def _equity(market: Market, t: int, state: AccountState) -> float:
    """``state.equity(market.marks(state.positions, t))`` in one pass: the same sum, in order."""
    value = float(state.cash)
    marks, col, floats = market.mark_row(t), market.col, state.floats
    for sym, pos in state.positions.items():
        j = col.get(sym)
        p = marks[j] if j is not None else math.nan
        q, a = floats(pos)
        value += q * (p if p == p else a)
    return value


class RiskEngine:
    """Applies a :class:`RiskProfile` to proposals of one account."""

    def __init__(
        self,
        account: str,
        risk: RiskProfile,
        fills: FillModel,
        *,
        mandate: MandateConfig | None = None,
        asset_classes: Mapping[str, str] | None = None,
        portfolio: PortfolioConfig | None = None,
    ) -> None:
        self.account = account
        self.risk = risk
        self.fills = fills
        #: The account's buckets by asset class (None: no mandate step).
        self.mandate = mandate
        #: symbol -> asset class, for the mandate.
        self.asset_classes: Mapping[str, str] = asset_classes or {}
        #: The sizing step's settings; None when sizing is off (nothing runs per cycle).
        self.portfolio = portfolio if portfolio is not None and portfolio.sizing != "none" else None

    def exits(self, market: Market, t: int, state: AccountState) -> list[_Trade]:
        """Forced full exits from the position monitors at row ``t``.

        A position whose bar at ``t`` is not a price (missing, zero, negative, not
        finite, or not in the data at all) is not checked: a stop never fires on a
        bad price (invariant 8); see plan's "data" clamp.
        """
        if not state.positions:
            return []
        day = market.day(t)
        out = []
        every = market.all_good(t)
        marks, col = market.mark_row(t), market.col
        for sym, pos in state.positions.items():
            if not (every and sym in col) and not market.tradable(sym, t):
                continue
            price = marks[col[sym]]  # market.price(sym, t): a good close, tradable() said so
            q, avg = state.floats(pos)
            hit = rules.exit_reason(pos, price, day, self.risk, avg)
            if hit:
                value = q * price
                out.append(
                    _Trade(sym, Side.SELL, pos.quantity, price, value, f"{hit[0]}: {hit[1]}", True)
                )
        return out

    def plan(
        self,
        market: Market,
        t: int,
        cycle_id: str,
        state: AccountState,
        proposal: Proposal | None,
        pending: set[str] = frozenset(),  # type: ignore[assignment]
        reserved: float = 0.0,
        *,
        risk_monitors: bool = False,
    ) -> RiskResult:
        """Order intents for row ``t``. ``proposal`` None means monitors only.

        Args:
            market: the bars, read at row ``t`` and before.
            t: the row (session) of this cycle.
            cycle_id: identifies the cycle; part of each client order id.
            state: cash, positions and halt state; peak equity and brake are updated.
            proposal: the strategy's targets, or None for the position monitors only.
            pending: symbols with an open order; they are left alone this cycle.
            reserved: cash already committed to open buys; it is not spent twice.
            risk_monitors: also measure the book's VaR, CVaR and concentration
                (:meth:`monitors`) into ``RiskResult.risk``; off, they cost nothing.
        """
        equity = _equity(market, t, state)
        if state.brake:
            state.peak_equity = rules.high_water(
                equity, equity - float(state.cash), state.peak_equity, True, self.risk
            )
        elif equity > state.peak_equity:  # high_water without the brake: new highs only
            state.peak_equity = equity
        state.brake, dd = rules.drawdown_brake(equity, state.peak_equity, state.brake, self.risk)
        res = RiskResult(equity=equity, drawdown=dd)
        if state.halt is HaltState.HALTED:
            res.clamps.append(
                Clamp("halt", "*", "account HALTED: no orders until a resume command")
            )
            return res
        unknown = self._unknown(market, state, proposal, res)
        unknown |= self._bad_bars(market, t, state, unknown, res)
        trades = [x for x in self.exits(market, t, state) if x.symbol not in pending]
        exited = {x.symbol for x in trades}
        for x in trades:
            res.clamps.append(Clamp(x.reason.split(":")[0], x.symbol, x.reason))
        if proposal is not None:
            targets = self._targets(proposal, state, exited | unknown, res)
            if self.portfolio is not None:
                targets = self._size(market, t, state, targets, res)
            skip = exited | pending | unknown
            trades += self._rebalance(market, t, state, targets, equity, skip, res, reserved)
        cap = self.risk.max_trades_per_cycle
        if proposal is not None and self.risk.bootstrap_cash_pct is not None:
            cap = self._bootstrap_cap(state, res, reserved)
        res.intents = self._intents(trades, cycle_id, res, cap)
        if risk_monitors:
            res.risk = self.monitors(market, t, state, res)
        return res

    def _bootstrap_cap(self, state: AccountState, res: RiskResult, reserved: float) -> int:
        # Bootstrap mode: while free cash (settled, less open buys) is over the edge, the
        # cycle may place bootstrap_trade_factor times the orders, to deploy it faster.
        cap, edge = self.risk.max_trades_per_cycle, self.risk.bootstrap_cash_pct
        if edge is None or res.equity <= 0:
            return cap
        share = (float(state.cash) - reserved) / res.equity
        if share <= edge:
            return cap
        factor = self.risk.bootstrap_trade_factor
        res.clamps.append(
            Clamp(
                "bootstrap",
                "*",
                f"cash {share:.1%} of equity > {edge:.0%}: up to {cap * factor} trades "
                f"this cycle ({cap} x{factor})",
            )
        )
        return cap * factor

    @staticmethod
    def _unknown(
        market: Market, state: AccountState, proposal: Proposal | None, res: RiskResult
    ) -> set[str]:
        # Symbols held or wanted that the market data lacks entirely: bad input skips the
        # symbol for this cycle, with its reason, instead of failing the whole cycle.
        col = market.col.keys()
        if (
            not market.missing
            and col >= state.positions.keys()
            and (proposal is None or col >= proposal.targets.keys())
        ):
            return set()  # the common case: every name is in the data
        names = state.positions.keys() | (
            [s for s, w in proposal.targets.items() if w > 0] if proposal else ()
        )
        out = names - market.col.keys()
        if market.missing:
            out |= names & market.missing
        for s in sorted(out):
            res.clamps.append(
                Clamp("data", s, f"{s} is not in the market data: skipped, valued at cost")
            )
        return out

    @staticmethod
    def _bad_bars(
        market: Market, t: int, state: AccountState, known: set[str], res: RiskResult
    ) -> set[str]:
        # Held symbols whose bar at t is not a price (invariant 8): no stop, no trade; the
        # mark carries the last good close. Wanted ones are caught by the usable filter.
        if market.all_good(t):  # every symbol in the data has a price at t
            return set()
        out = {s for s in state.positions if s not in known and not market.tradable(s, t)}
        for s in sorted(out):
            res.clamps.append(
                Clamp("data", s, f"{market.why_unusable(s, t)}: no stop or trade this cycle")
            )
        return out

    def _targets(
        self, proposal: Proposal, state: AccountState, skip: set[str], res: RiskResult
    ) -> dict[str, float]:
        targets = {s: w for s, w in proposal.targets.items() if w > 0 and s not in skip}
        if state.brake:
            cut = self.risk.drawdown_cut
            res.clamps.append(
                Clamp(
                    "drawdown_brake",
                    "*",
                    f"drawdown {res.drawdown:.1%} past -{self.risk.drawdown_brake_pct:.0%}: book x{cut:g}",
                )
            )
            targets = {s: w * cut for s, w in targets.items()}
        targets, clamps = rules.cap_weights(targets, self.risk)
        res.clamps += clamps
        if self.mandate is not None:
            targets, clamps = hold_mandate(
                targets, self.mandate, self.asset_classes, self.risk.min_cash_pct
            )
            res.clamps += clamps
        res.targets = targets
        return targets

    def _size(
        self,
        market: Market,
        t: int,
        state: AccountState,
        targets: dict[str, float],
        res: RiskResult,
    ) -> dict[str, float]:
        # Step 6, sizing: within the invested budget and the per-name cap; never scaled
        # up while the drawdown brake is engaged (that would undo it), nor under a
        # mandate (a uniform scale-up would push a bucket past the band it was held to).
        assert self.portfolio is not None
        targets, clamps = sizing.size(
            self.portfolio,
            targets,
            market.close,
            market.col,
            t,
            state.positions,
            budget=1.0 - self.risk.min_cash_pct,
            cap=self.risk.max_position_pct,
            allow_up=not state.brake and self.mandate is None,
        )
        res.clamps += clamps
        res.targets = targets
        return targets

    def _rebalance(
        self,
        market: Market,
        t: int,
        state: AccountState,
        targets: dict[str, float],
        equity: float,
        skip: set[str],
        res: RiskResult,
        reserved: float = 0.0,
    ) -> list[_Trade]:
        sells: list[_Trade] = []
        buys: list[_Trade] = []
        band = self.risk.rebalance_band * equity
        day = market.day(t)
        marks, col = market.mark_row(t), market.col
        for sym in sorted(targets.keys() | state.positions.keys()):
            if sym in skip:
                continue
            price = marks[col[sym]]  # market.price(sym, t)
            if not math.isfinite(price) or price <= 0:
                continue
            pos = state.positions.get(sym)
            held = state.floats(pos)[0] * price if pos else 0.0
            want = targets.get(sym, 0.0) * equity
            delta = want - held
            if pos and want == 0:
                sells.append(self._sell(pos.quantity, sym, price, held, "target 0"))
            elif abs(delta) >= band and delta < 0 and pos:
                qty = min(floor_qty(-delta / price, self.fills.fractional), pos.quantity)
                if qty > 0:
                    sells.append(self._sell(qty, sym, price, -delta, f"trim to {targets[sym]:.1%}"))
            elif delta > 0 and (pos is None or delta >= band):
                # The band is a tolerance for resizing a holding; a new position opens at
                # any size (a 20-name equal-weight book holds 4.75% slots, under a 5% band).
                buys.append(
                    _Trade(sym, Side.BUY, Decimal(0), price, delta, f"target {targets[sym]:.1%}")
                )
        sells = [s for s in sells if self._old_enough(state, s, day, res)]
        if state.halt is HaltState.REDUCING and buys:
            res.clamps.append(Clamp("halt", "*", "account REDUCING: sells only"))
            buys = []
        if self.risk.var_limit_pct is not None and buys:
            buys = self._var_limit(market, t, state, sells, buys, equity, res)
        buys = self._size_buys(market, t, state, buys, equity, res, reserved)
        return sells + buys

    def _book(self, market: Market, t: int, state: AccountState, equity: float) -> dict[str, float]:
        """The held weights at row ``t`` (fractions of equity), names with a price only."""
        marks, col = market.mark_row(t), market.col
        out = {}
        for s, pos in state.positions.items():
            j = col.get(s)
            if j is not None and math.isfinite(marks[j]):
                out[s] = state.floats(pos)[0] * marks[j] / equity
        return out

    def _var_limit(
        self,
        market: Market,
        t: int,
        state: AccountState,
        sells: list[_Trade],
        buys: list[_Trade],
        equity: float,
        res: RiskResult,
    ) -> list[_Trade]:
        """Step 5: shrink each buy, largest first, so the book keeps its VaR within the limit.

        The book is today's holdings less this cycle's sells plus the buys already
        allowed; the returns are each name's trailing ``var_lookback`` days through row
        ``t``, complete days only (see :func:`_window`). A buy whose window has fewer
        than ``MIN_VAR_DAYS`` complete days is blocked: an unmeasurable risk is not
        within a limit.
        """
        limit, level, lookback = (
            self.risk.var_limit_pct,
            self.risk.var_level,
            self.risk.var_lookback,
        )
        assert limit is not None  # the caller checked
        clamp_of = (
            monitors.var_limit_clamp
            if self.risk.var_method == "historical"
            else monitors.parametric_var_limit_clamp
        )
        book = self._book(market, t, state, equity) if equity > 0 else {}
        for x in sells:
            book[x.symbol] = book.get(x.symbol, 0.0) - x.value / equity
        book = {s: w for s, w in book.items() if w > 1e-12}
        out = []
        for b in sorted(buys, key=lambda x: -x.value):
            names = sorted(book.keys() | {b.symbol})
            window = _window(market, t, [market.col[s] for s in names], lookback)
            if len(window) < MIN_VAR_DAYS:
                res.clamps.append(
                    Clamp(
                        "var_limit",
                        b.symbol,
                        f"only {len(window)} complete days of returns in the last {lookback} "
                        f"(need {MIN_VAR_DAYS}): VaR not measurable, buy blocked",
                    )
                )
                continue
            want = b.value / equity
            rets = {s: window[:, i] for i, s in enumerate(names)}
            allowed, clamp = clamp_of(book, b.symbol, want, rets, limit, level)
            if clamp is not None:
                value = allowed * equity
                res.clamps.append(
                    Clamp(
                        clamp.rule,
                        clamp.symbol,
                        f"{clamp.reason}; {b.value:,.2f} -> {value:,.2f}",
                    )
                )
                b.value = value
            if b.value < 0.01:
                continue
            book[b.symbol] = book.get(b.symbol, 0.0) + allowed
            out.append(b)
        return out

    def monitors(
        self, market: Market, t: int, state: AccountState, res: RiskResult
    ) -> dict[str, float | None]:
        """The book's risk at row ``t`` for the explanation record (1-day, historical).

        var95, var99, cvar95, cvar99 on the trailing ``var_lookback`` complete days of
        the held names (None with fewer than ``MIN_VAR_DAYS``), largest, top3 and hhi of
        the held weights, and the drawdown the brake sees. An empty book is all zeros.
        """
        book = self._book(market, t, state, res.equity) if res.equity > 0 else {}
        book = {s: w for s, w in book.items() if w > 0}
        out: dict[str, float | None]
        if not book:
            out = dict.fromkeys(("var95", "var99", "cvar95", "cvar99"), 0.0)
            out |= {"largest": 0.0, "top3": 0.0, "hhi": 0.0}
        else:
            names = list(book)
            window = _window(market, t, [market.col[s] for s in names], self.risk.var_lookback)
            weights = np.array([book[s] for s in names])
            if len(window) >= MIN_VAR_DAYS:
                out = dict(monitors.book_risk(weights, window))
            else:
                largest, top3, hhi = monitors.concentration(weights)
                out = dict.fromkeys(("var95", "var99", "cvar95", "cvar99"))
                out |= {"largest": largest, "top3": top3, "hhi": hhi}
        out["drawdown"] = res.drawdown
        return out

    @staticmethod
    def _sell(qty: Decimal, sym: str, price: float, value: float, why: str) -> _Trade:
        return _Trade(sym, Side.SELL, qty, price, value, why)

    def _old_enough(self, state: AccountState, trade: _Trade, day: date, res: RiskResult) -> bool:
        held_days = (day - state.positions[trade.symbol].opened).days
        if held_days >= self.risk.min_holding_days:
            return True
        res.clamps.append(
            Clamp(
                "min_holding",
                trade.symbol,
                f"held {held_days} < {self.risk.min_holding_days} days: sell waits",
            )
        )
        return False

    def _size_buys(
        self,
        market: Market,
        t: int,
        state: AccountState,
        buys: list[_Trade],
        equity: float,
        res: RiskResult,
        reserved: float = 0.0,
    ) -> list[_Trade]:
        if not buys:
            return []
        # Anti-leverage: only settled cash minus the reserve; pending sale proceeds do not count.
        budget = float(state.cash) - self.risk.min_cash_pct * equity - reserved
        out = []
        for b in sorted(buys, key=lambda x: -x.value):
            why = self._blocked(market, t, b.symbol)
            if why:
                res.clamps.append(Clamp(why[0], b.symbol, why[1]))
                continue
            notional = min(b.value, budget)
            if notional < b.value:
                res.clamps.append(
                    Clamp(
                        "cash",
                        b.symbol,
                        f"buy {b.value:,.2f} cut to {max(notional, 0):,.2f} of settled cash",
                    )
                )
            if notional <= 0:
                continue
            px = self.fills.price(Side.BUY, b.price)
            qty = floor_qty(notional / px, self.fills.fractional)
            # Fees (commission, minimum commission) come out of the same budget.
            cents = Decimal(str(budget)).quantize(CENT, rounding=ROUND_DOWN)
            qty = self.fills.affordable_qty(qty, px, cents) if qty > 0 else qty
            if qty <= 0:
                continue
            b.qty, b.value = qty, float(qty) * b.price
            budget -= float(qty) * px + float(self.fills.fees(float(qty) * px))
            out.append(b)
            self._warn_correlation(market, t, state, b.symbol, res)
        return out

    def _blocked(self, market: Market, t: int, sym: str) -> tuple[str, str] | None:
        j = market.col[sym]
        if not market.usable[t, j]:
            return "data", market.why_unusable(sym, t)
        vol = market.frame.volume
        dv = None
        if vol is not None:
            lo = max(0, t - 19)
            traded = vol[lo : t + 1, j] * market.close[lo : t + 1, j]
            seen = traded[np.isfinite(traded)]
            # No volume at all in the window counts as no volume data: the floor is skipped.
            dv = float(seen.mean()) if len(seen) else None
        why = rules.liquidity_reason(market.price(sym, t), dv, market.frame.adjusted, self.risk)
        return ("liquidity", why) if why else None

    def _warn_correlation(
        self, market: Market, t: int, state: AccountState, sym: str, res: RiskResult
    ) -> None:
        held = [market.col[s] for s in state.positions if s != sym and s in market.col]
        if not held:
            return
        lo = max(0, t - CORR_WINDOW)
        cols = [market.col[sym], *held]
        # Row r of the whole-history returns is close[r] over close[r - 1]: rows lo+1..t
        # are the returns inside close[lo : t + 1], computed once per Market.
        every = market.derived(("log_returns",), lambda: log_returns(market.close))
        rets = every[lo + 1 : t + 1, cols]
        found = rules.correlated_with(
            rets, 0, list(range(1, len(cols))), self.risk.correlation_warn
        )
        for i, c in found:
            k = cols[i]
            res.clamps.append(
                Clamp(
                    "correlation",
                    sym,
                    f"warning: 60-day correlation {c:.2f} with {market.symbols[k]}",
                )
            )

    def _intents(
        self, trades: list[_Trade], cycle_id: str, res: RiskResult, cap: int
    ) -> list[OrderIntent]:
        if not trades:
            return []
        forced = [x for x in trades if x.forced]
        rest = sorted(
            (x for x in trades if not x.forced), key=lambda x: (x.side is Side.BUY, -x.value)
        )
        room = max(cap - len(forced), 0)
        for x in rest[room:]:
            res.clamps.append(
                Clamp("max_trades", x.symbol, f"over {cap} trades per cycle: {x.side} dropped")
            )
        return [
            OrderIntent(
                self.account,
                cycle_id,
                x.symbol,
                x.side,
                x.qty,
                Decimal(str(round(x.price, 6))),
                x.reason,
                client_order_id(self.account, cycle_id, x.symbol, x.side),
            )
            for x in forced + rest[:room]
        ]
