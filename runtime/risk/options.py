"""The options risk rules as pure functions: what an open may be, and which positions must go.

:func:`check_open` sizes one proposed open under the hard rules, in a fixed order,
each change explained by a :class:`~invest.runtime.domain.Clamp`:
1. defined risk only (refuse): the book's own payoff check;
2. the earnings blackout (refuse inside it); an underlying the calendar does not
   know is ALLOWED with an ``earnings_unknown`` clamp, so reports can say that the
   blackout was not checked (refusing would stop every backtest whose data has no
   earnings dates; allowing silently would hide it);
3. max open spreads (refuse at the limit);
4. covered calls only on held, unreserved shares (shrink to them);
5. collateral plus the cash reserve: shrink to what ``cash - reserved - reserve x
   equity`` pays at the book's own per-unit need (:func:`~invest.runtime.options.book.cash_need`).

:func:`monitor` names the positions to close now: a stop, a take profit, or a spread
at DTE <= ``auto_close_dte``. These exits wait for nothing (no model, no LLM): they
are what the cycle sends first. Nothing here reads a clock, a file or the network.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from decimal import ROUND_FLOOR

from invest.runtime.config.options_risk import OptionsRiskConfig
from invest.runtime.domain import AccountState, Clamp, money
from invest.runtime.options.book import (
    OptionBook,
    OptionPosition,
    cash_need,
    unrealised,
    worst_settlement,
)
from invest.runtime.options.earnings import EarningsCalendar, in_blackout
from invest.runtime.options.structures import Structure, StructureKind

__all__ = ["SPREADS", "OptionExit", "check_open", "monitor"]

#: The kinds that count as spreads (max open spreads, auto-close before expiry).
SPREADS = frozenset(
    {
        StructureKind.BULL_CALL,
        StructureKind.BEAR_PUT,
        StructureKind.BULL_PUT,
        StructureKind.BEAR_CALL,
        StructureKind.IRON_CONDOR,
        StructureKind.BUTTERFLY,
    }
)

_EPS = 1e-9


@dataclass(frozen=True, slots=True)
class OptionExit:
    """A position the monitors close now: which rule, and why in words."""

    position_id: str
    rule: str
    reason: str


def check_open(
    structure: Structure,
    contracts: int,
    est_premium: float,
    state: AccountState,
    book: OptionBook,
    cfg: OptionsRiskConfig,
    equity: float,
    calendar: EarningsCalendar | None,
    as_of: date,
) -> tuple[int, list[Clamp]]:
    """How many of ``contracts`` units of ``structure`` may open, and every rule that cut them.

    ``est_premium`` is the expected net premium per share per unit (> 0 credit);
    ``calendar`` None means no earnings calendar at all (every date unknown).
    """
    symbol = structure.underlying
    clamps: list[Clamp] = []
    if contracts <= 0 or _refused(structure, book, cfg, calendar, as_of, clamps):
        return 0, clamps

    per_unit = structure.shares_reserved
    if per_unit:
        free = book.free_shares(symbol, state)
        fit = int((free / per_unit).to_integral_value(rounding=ROUND_FLOOR)) if free > 0 else 0
        if fit < contracts:
            reason = (
                f"{free} {symbol} shares held and unreserved cover {fit} covered calls, "
                f"not {contracts}"
            )
            clamps.append(Clamp("covered_shares", symbol, reason))
            contracts = fit
            if contracts == 0:
                return 0, clamps

    # Per unit, every contract of every leg pays the fee (a butterfly's body twice).
    fee = money(cfg.fee_per_contract * sum(abs(leg.quantity) for leg in structure.legs))
    need = cash_need(structure, est_premium, fee)
    room = state.cash - book.reserved_cash() - money(cfg.cash_reserve * equity)
    if need > 0:
        fit = max(int((room / need).to_integral_value(rounding=ROUND_FLOOR)), 0)
        if fit < contracts:
            reason = (
                f"{need} of collateral and fees per unit; free cash {state.cash - book.reserved_cash()} "
                f"less the {cfg.cash_reserve:.0%} reserve ({money(cfg.cash_reserve * equity)}) "
                f"pays for {fit}, not {contracts}"
            )
            clamps.append(Clamp("collateral", symbol, reason))
            contracts = fit
    return contracts, clamps


def _refused(
    structure: Structure,
    book: OptionBook,
    cfg: OptionsRiskConfig,
    calendar: EarningsCalendar | None,
    as_of: date,
    clamps: list[Clamp],
) -> bool:
    """Rules 1-3 (defined risk, earnings, spread count): True refuses the open outright."""
    symbol = structure.underlying
    if worst_settlement(structure) is None:
        clamps.append(Clamp("defined_risk", symbol, f"{structure.kind} has undefined risk"))
        return True
    days = cfg.earnings_blackout_days
    if days > 0:
        inside = in_blackout(calendar, symbol, as_of, days) if calendar is not None else None
        if inside:
            reason = f"earnings within {days} days of {as_of}: no new {structure.kind}"
            clamps.append(Clamp("earnings_blackout", symbol, reason))
            return True
        if inside is None:
            reason = f"no earnings date known for {symbol}: the {days}-day blackout was not checked"
            clamps.append(Clamp("earnings_unknown", symbol, reason))
    if structure.kind in SPREADS:
        count = sum(1 for p in book.open_positions() if p.structure.kind in SPREADS)
        if count >= cfg.max_open_spreads:
            reason = f"{count} spreads open, the limit is {cfg.max_open_spreads}"
            clamps.append(Clamp("max_open_spreads", symbol, reason))
            return True
    return False


def monitor(
    book: OptionBook, marks: Mapping[str, float], day: date, cfg: OptionsRiskConfig
) -> list[OptionExit]:
    """The open positions to close now, at most one exit each (stop, take profit, DTE).

    ``marks`` are per-share prices by OCC symbol. A position with a leg not in
    ``marks`` skips the stop and the take profit (they need a price), never the DTE rule.
    """
    out: list[OptionExit] = []
    for pos in book.open_positions():
        found = _priced_exit(pos, marks, cfg)
        if found is None and pos.structure.kind in SPREADS:
            dte = (pos.expiry - day).days
            if dte <= cfg.auto_close_dte:
                found = ("auto_close", f"{dte} days to expiry <= {cfg.auto_close_dte}")
        if found is not None:
            out.append(OptionExit(pos.id, *found))
    return out


def _priced_exit(
    pos: OptionPosition, marks: Mapping[str, float], cfg: OptionsRiskConfig
) -> tuple[str, str] | None:
    if any(leg.contract.symbol not in marks for leg in pos.structure.legs):
        return None
    gain = unrealised(pos, marks)
    structure, premium = pos.structure, pos.open_premium
    covered = structure.kind is StructureKind.COVERED_CALL
    if cfg.stop_loss is not None and not covered:  # a covered call's shares cover it
        if cfg.stop_basis == "max_loss":
            basis, name = structure.max_loss(premium), "max loss"
        else:
            basis, name = abs(premium), "credit" if premium > 0 else "debit"
        level = cfg.stop_loss * basis
        if basis > 0 and -gain >= level - _EPS:
            return "stop_loss", (
                f"loss {-gain:.2f}/share >= {cfg.stop_loss:.0%} of the {name} {basis:.2f}"
            )
    if cfg.take_profit is not None:
        top = premium if covered else structure.max_gain(premium)
        if math.isfinite(top) and top > 0 and gain >= cfg.take_profit * top - _EPS:
            return "take_profit", (
                f"gain {gain:.2f}/share >= {cfg.take_profit:.0%} of the max gain {top:.2f}"
            )
    return None
