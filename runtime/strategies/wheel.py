"""The wheel, by rules: sell cash-secured puts until assigned, then covered calls; hold, roll or skip.

Per underlying (the account's universe, then any other underlying with an open
wheel position), in order:

1. Each open cash-secured put or covered call is held, or ROLLED when it is tested
   (spot below the put's strike, above the call's) with ``roll_dte`` days or fewer
   to go: it is bought back (a close with rule ``"roll"``) and the same kind is sold
   at the next expiry of the DTE window, at the target delta if that pays a net
   credit of at least ``min_roll_credit`` over the buy-back at the ask, else at the
   same strike if that does. No credit, no roll: the put is held into assignment
   (the call into being called away), which is the wheel's own next step.
2. Free shares of a whole lot or more (after an assignment): covered calls at the
   call delta, one per whole lot, at most ``max_contracts``. Fewer than a lot: no call.
3. No wheel position and no whole lot: a cash-secured put at the put delta, sized
   contracts = floor(free cash x max_allocation / (strike x 100)), at most
   ``max_contracts``; free cash is what the plan's earlier opens left.

A new put or call is skipped, with its reason in the notes, when: there is no
chain, earnings fall within the blackout (unknown earnings proceed, and the notes
say so), the IV percentile is below ``min_iv_percentile``, no expiry lies in the
DTE window, the selection refuses, or free cash pays for no contract.

Candidates: the rules' choice plus the neighbouring deltas (``alt_delta_step``) and
the later expiries (``alt_expiries``) that passed, each sized alike, so an LLM
variant can choose among them; ``opens`` holds the rules' choice only.

Look-ahead: :meth:`Wheel.plan` reads nothing but its ``OptionsContext`` (the
chains as of ``ctx.day``, the book, cash and shares, the IV readings and the
earnings calendar queried at ``ctx.day``) and never changes the book.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from typing import Any

from invest.runtime.config.options import WheelParams
from invest.runtime.options.book import OptionPosition
from invest.runtime.options.chain import OptionChain
from invest.runtime.options.contracts import Right
from invest.runtime.options.plan import CloseProposal, OpenProposal, OptionsContext, OptionsPlan
from invest.runtime.options.selection import Selection, pick_expiry, select
from invest.runtime.options.structures import StructureKind, cash_secured_put, covered_call
from invest.runtime.strategies.options_common import (
    LABELS,
    contracts_for,
    earnings_gate,
    pct,
    proposal,
    strike_text,
)

__all__ = ["Wheel"]

_CSP, _CC = StructureKind.CASH_SECURED_PUT, StructureKind.COVERED_CALL
_WHEEL_KINDS = (_CSP, _CC)


@dataclass
class _Plan:
    """The plan being written, and the free cash its opens have left."""

    free_cash: Decimal
    opens: list[OpenProposal] = field(default_factory=list)
    closes: list[CloseProposal] = field(default_factory=list)
    candidates: list[OpenProposal] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    info: dict[str, dict[str, Any]] = field(default_factory=dict)

    def note(self, text: str | None) -> None:
        if text:
            self.notes.append(text)


class Wheel:
    """The wheel strategy of one account (see the module docstring)."""

    name = "wheel"

    def __init__(self, params: WheelParams, universe: Sequence[str]) -> None:
        self.p = params
        self.universe = tuple(dict.fromkeys(s.upper() for s in universe))

    def plan(self, ctx: OptionsContext) -> OptionsPlan:
        """The cycle's plan; reads only ``ctx`` and never changes ``ctx.book``."""
        work = _Plan(ctx.free_cash)
        for symbol in self._symbols(ctx):
            self._underlying(ctx, symbol, work)
        context = {
            "strategy": self.name,
            "regime": ctx.regime.value,
            "free_cash": float(ctx.free_cash),
            "underlyings": work.info,
        }
        return OptionsPlan(
            tuple(work.opens),
            tuple(work.closes),
            tuple(work.candidates),
            tuple(work.notes),
            context,
        )

    def _symbols(self, ctx: OptionsContext) -> list[str]:
        held = sorted(
            {
                p.structure.underlying
                for p in ctx.book.open_positions()
                if p.structure.kind in _WHEEL_KINDS
            }
            - set(self.universe)
        )
        return [*self.universe, *held]

    def _underlying(self, ctx: OptionsContext, symbol: str, work: _Plan) -> None:
        chain = ctx.chains.get(symbol)
        positions = [
            p
            for p in ctx.book.open_positions()
            if p.structure.underlying == symbol and p.structure.kind in _WHEEL_KINDS
        ]
        info: dict[str, Any] = {
            "iv_percentile": ctx.iv_percentile.get(symbol),
            "skew": ctx.skew.get(symbol),
            "positions": [f"{LABELS[p.structure.kind]} x{p.contracts}" for p in positions],
            "action": "hold" if positions else "skip",
        }
        work.info[symbol] = info
        for pos in positions:
            if self._manage(ctx, chain, pos, work):
                info["action"] = "roll"
        free = ctx.free_shares.get(symbol, Decimal(0))
        lot = _lot(chain)
        lots = int(free // lot) if free > 0 else 0
        if lots >= 1:
            info["state"] = "shares"
            if self._open(ctx, symbol, _CC, chain, work, lots=lots):
                info["action"] = "sell_cc"
            return
        if free > 0:
            work.note(
                f"no covered call on {symbol}: {free} free shares are not a whole lot of {lot}"
            )
        if positions:
            info["state"] = "open"
            return
        info["state"] = "flat"
        if self._open(ctx, symbol, _CSP, chain, work):
            info["action"] = "sell_csp"

    # -- a new put or covered call ----------------------------------------------

    def _open(
        self,
        ctx: OptionsContext,
        symbol: str,
        kind: StructureKind,
        chain: OptionChain | None,
        work: _Plan,
        lots: int = 0,
    ) -> bool:
        """Propose the rules' put (or calls on ``lots`` lots) and its alternatives; False: skipped."""
        label = LABELS[kind]
        p, cfg = self.p, self.p.selection
        if chain is None:
            work.note(f"skip {label} {symbol}: no chain on {ctx.day}")
            return False
        gate = earnings_gate(ctx, symbol, p.earnings_blackout_days)
        work.note(gate.note)
        if gate.blocked:
            return False
        iv_pct = ctx.iv_percentile.get(symbol)
        skew = ctx.skew.get(symbol)
        if iv_pct is None:
            work.note(f"{symbol}: IV percentile unknown, {label} not filtered by it")
        elif iv_pct < p.min_iv_percentile:
            work.note(
                f"skip {label} {symbol}: IV percentile {pct(iv_pct)} is below "
                f"{pct(p.min_iv_percentile)}, the premium is too thin"
            )
            return False
        expiry = pick_expiry(chain, cfg.min_dte, cfg.max_dte, cfg.prefer)
        if expiry is None:
            work.note(
                f"skip {label} {symbol}: no expiry with {cfg.min_dte}..{cfg.max_dte} DTE on {ctx.day}"
            )
            return False
        sel = select(kind, chain, cfg, expiry=expiry)
        if not sel.ok:
            work.note(f"skip {label} {symbol}: {sel.reason}")
            return False
        n = self._size(sel, lots, work.free_cash)
        if n == 0:
            strike = float(sel.quotes[0].contract.strike)
            work.note(
                f"skip {label} {symbol}: not enough free cash: one {strike:g} put secures "
                f"{strike * _lot(chain):,.0f}, and {pct(p.max_allocation)} of free cash "
                f"{float(work.free_cash):,.0f} is {float(work.free_cash) * p.max_allocation:,.0f}"
            )
            return False
        why = (
            f"{'sell covered calls on ' + str(lots) + ' free lots' if kind is _CC else 'flat: sell a put'}"
            f" at |delta| {_target(kind, self.p):.2f}, nearest expiry in {cfg.min_dte}..{cfg.max_dte} DTE"
        )
        choice = proposal(chain, sel, n, iv_percentile=iv_pct, skew=skew, why=why)
        work.opens.append(choice)
        work.candidates.append(choice)
        seen = {choice.key}
        for alt_sel, alt_why in self._alternatives(chain, kind, expiry):
            if not alt_sel.ok:
                continue
            alt_n = self._size(alt_sel, lots, work.free_cash)
            alt = proposal(chain, alt_sel, alt_n, iv_percentile=iv_pct, skew=skew, why=alt_why)
            if alt_n > 0 and alt.key not in seen:
                seen.add(alt.key)
                work.candidates.append(alt)
        if kind is _CSP:
            work.free_cash -= _collateral(sel) * n
        return True

    def _size(self, sel: Selection, lots: int, free_cash: Decimal) -> int:
        if sel.kind is _CC:
            return min(lots, self.p.max_contracts)
        return contracts_for(
            free_cash, self.p.max_allocation, _collateral(sel), self.p.max_contracts
        )

    def _alternatives(
        self, chain: OptionChain, kind: StructureKind, expiry: date
    ) -> list[tuple[Selection, str]]:
        """The neighbouring deltas at ``expiry`` and the target delta at later expiries."""
        p, cfg = self.p, self.p.selection
        name = "wheel_put_delta" if kind is _CSP else "wheel_call_delta"
        target = _target(kind, p)
        out: list[tuple[Selection, str]] = []
        if p.alt_delta_step > 0:
            for d in (target - p.alt_delta_step, target + p.alt_delta_step):
                if 0 < d < 1:
                    alt_cfg = cfg.model_copy(update={name: d})
                    out.append(
                        (
                            select(kind, chain, alt_cfg, expiry=expiry),
                            f"alternative at |delta| {d:.2f}",
                        )
                    )
        later = [
            e
            for e in chain.expiries()
            if e > expiry and cfg.min_dte <= (e - chain.as_of).days <= cfg.max_dte
        ]
        for e in later[: p.alt_expiries]:
            out.append((select(kind, chain, cfg, expiry=e), f"alternative expiry {e}"))
        return out

    # -- an open put or call: hold or roll --------------------------------------

    def _manage(
        self, ctx: OptionsContext, chain: OptionChain | None, pos: OptionPosition, work: _Plan
    ) -> bool:
        """Hold ``pos`` (a note says why) or propose its roll; True when rolled."""
        p, cfg = self.p, self.p.selection
        kind = pos.structure.kind
        contract = pos.structure.legs[0].contract
        label = f"{LABELS[kind]} {pos.structure.underlying} {float(contract.strike):g}"
        label += f"{'P' if kind is _CSP else 'C'} {contract.expiry} x{pos.contracts}"
        dte = contract.dte(ctx.day)
        if chain is None:
            work.note(f"hold {label}: no chain on {ctx.day} to roll from")
            return False
        spot, strike = chain.spot, float(contract.strike)
        tested = spot < strike if kind is _CSP else spot > strike
        if not tested or dte > p.roll_dte:
            side = "below" if spot < strike else "above"
            work.note(
                f"hold {label}: {dte} DTE, spot {spot:.2f} {side} the strike "
                f"({'tested' if tested else 'not tested'}; rolls at {p.roll_dte} DTE or fewer when tested)"
            )
            return False
        gate = earnings_gate(ctx, pos.structure.underlying, p.earnings_blackout_days)
        work.note(gate.note)
        if gate.blocked:
            work.note(f"hold {label}: tested, but no roll into the earnings blackout")
            return False
        old = chain.quote(contract)
        if old is None:
            work.note(f"hold {label}: tested, but {contract.symbol} has no quote to buy back")
            return False
        buy_back = old.ask if cfg.price_at == "natural" else old.mid
        later = [
            e
            for e in chain.expiries()
            if e > contract.expiry and cfg.min_dte <= (e - ctx.day).days <= cfg.max_dte
        ]
        if not later:
            work.note(
                f"hold {label}: tested, but no later expiry with {cfg.min_dte}..{cfg.max_dte} DTE "
                "to roll to"
            )
            return False
        expiry = later[0]
        best: float | None = None
        for sel, how in (
            (select(kind, chain, cfg, expiry=expiry), f"|delta| {_target(kind, p):.2f}"),
            (_same_strike(chain, kind, strike, expiry, cfg.price_at), "the same strike"),
        ):
            if not sel.ok:
                continue
            net = sel.net_premium - buy_back
            best = net if best is None else max(best, net)
            if net < p.min_roll_credit:
                continue
            need = _collateral(sel) * pos.contracts
            room = work.free_cash + pos.collateral
            if kind is _CSP and need > room:
                continue
            new = sel.quotes[0]
            why = (
                f"roll of {label}: tested (spot {spot:.2f}, strike {strike:g}) at {dte} DTE <= "
                f"{p.roll_dte}; buy back at {buy_back:.2f}, sell {strike_text(new)} {expiry} "
                f"({how}) for {sel.net_premium:.2f}, net credit {net:.2f}"
            )
            opened = proposal(
                chain,
                sel,
                pos.contracts,
                iv_percentile=ctx.iv_percentile.get(pos.structure.underlying),
                skew=ctx.skew.get(pos.structure.underlying),
                why=why,
                roll_of=pos.id,
            )
            work.closes.append(CloseProposal(pos.id, "roll", why))
            work.opens.append(opened)
            work.candidates.append(opened)
            if kind is _CSP:
                work.free_cash += pos.collateral - need
            return True
        found = "no selection passed" if best is None else f"the best nets {best:.2f}"
        work.note(
            f"hold {label}: tested at {dte} DTE, but no roll to {expiry} pays a net credit of "
            f"{p.min_roll_credit:.2f} or more within free cash ({found}); "
            f"{'assignment' if kind is _CSP else 'being called away'} is the wheel's next step"
        )
        return False


def _target(kind: StructureKind, p: WheelParams) -> float:
    return p.selection.wheel_put_delta if kind is _CSP else p.selection.wheel_call_delta


def _lot(chain: OptionChain | None) -> int:
    """Shares per contract: the chain's multiplier (100 when no chain says otherwise)."""
    if chain is not None and chain.quotes:
        return chain.quotes[0].contract.multiplier
    return 100


def _collateral(sel: Selection) -> Decimal:
    """Cash one unit secures: strike x multiplier for a put, none for a covered call."""
    if sel.structure is None:
        return Decimal(0)
    return sel.structure.collateral(sel.net_premium)


def _same_strike(
    chain: OptionChain, kind: StructureKind, strike: float, expiry: date, price_at: str
) -> Selection:
    """The same-strike option at ``expiry`` as a selection (a roll "out" only)."""
    right = Right.PUT if kind is _CSP else Right.CALL
    for q in chain.side(expiry, right):
        if float(q.contract.strike) == strike:
            price = q.bid if price_at == "natural" else q.mid
            build = cash_secured_put if kind is _CSP else covered_call
            if price <= 0:
                return Selection(kind, None, (q,), price, f"{kind} {strike:g}: no bid to sell into")
            return Selection(
                kind, build(q.contract), (q,), price, f"{kind} {strike:g} at {price_at}"
            )
    return Selection(kind, None, (), 0.0, f"{kind}: no {strike:g} {right} on {expiry}")
