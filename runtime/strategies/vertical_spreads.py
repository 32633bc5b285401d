"""Vertical spreads, by rules: pass 1 picks the spread type, pass 2 opens, closes or skips.

Pass 1 (:func:`spread_type`) reads the regime, the underlying's IV percentile and
its 25-delta skew, and takes the first row that matches:

    ==========================================  ===========  ===========
    IV percentile p, skew s                     ATTACK       DEFENSE
    ==========================================  ===========  ===========
    p unknown                                   (skip)       (skip)
    p >= condor_iv_percentile, s <= max skew    iron condor  iron condor
    p >= high_iv_percentile                     bull put     bear call
    otherwise                                   bull call    bear put
    ==========================================  ===========  ===========

Rich volatility is sold (credit spreads) and cheap volatility bought (debit
spreads), on the regime's side. The richest volatility is sold on both sides (an
iron condor), unless the skew is steep: downside puts far above upside calls are
the market pricing a one-way move, and the regime's row applies. An unknown skew
never opens a condor (the notes say so).

Pass 2, per underlying (the universe, then any other with an open spread):
- an open spread whose direction the regime contradicts (a bull spread in DEFENSE,
  a bear spread in ATTACK) is CLOSED with rule ``"strategy"``; condors and butterflies
  have no direction and are left to the monitors (take profit, stop, DTE);
- an underlying with a spread open gets no second one (after a close, the next
  cycle may open again, once the close has filled);
- otherwise OPEN_SPREAD of the pass-1 type when its selection passes the credit or
  debit rule, sized contracts = floor(free cash x max_allocation / max loss per
  contract), at most ``max_contracts``; SKIP with a reason when there is no chain,
  earnings fall within the blackout, the type is unknown or not allowed, the
  selection refuses, or free cash pays for no contract.

Candidates: every allowed type whose selection passed, sized alike (an LLM variant
may choose another allowed type); ``opens`` holds the rules' choice only.

Look-ahead: :meth:`VerticalSpreads.plan` reads nothing but its ``OptionsContext`` and
never changes the book.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from invest.runtime.config.options import SpreadsParams
from invest.runtime.domain import Regime
from invest.runtime.options.chain import OptionChain
from invest.runtime.options.plan import CloseProposal, OpenProposal, OptionsContext, OptionsPlan
from invest.runtime.options.selection import Selection, select
from invest.runtime.options.structures import StructureKind
from invest.runtime.strategies.options_common import (
    LABELS,
    contracts_for,
    earnings_gate,
    pct,
    proposal,
)

__all__ = ["SPREAD_KINDS", "TypePick", "VerticalSpreads", "spread_type"]

_K = StructureKind

#: Each spread kind's direction: +1 bullish, -1 bearish, 0 none (a range).
_DIRECTION = {
    _K.BULL_PUT: 1,
    _K.BULL_CALL: 1,
    _K.BEAR_CALL: -1,
    _K.BEAR_PUT: -1,
    _K.IRON_CONDOR: 0,
    _K.BUTTERFLY: 0,
}

#: The kinds this strategy opens and manages.
SPREAD_KINDS = frozenset(_DIRECTION)


@dataclass(frozen=True, slots=True)
class TypePick:
    """Pass 1's answer: the type (None: none) and the table row that gave it, in words."""

    kind: StructureKind | None
    row: str


def spread_type(
    regime: Regime, iv_percentile: float | None, skew: float | None, p: SpreadsParams
) -> TypePick:
    """The spread type for ``regime``, IV percentile and skew by the module's table."""
    if iv_percentile is None:
        return TypePick(None, "IV percentile unknown: no type")
    attack = regime is Regime.ATTACK
    if iv_percentile >= p.condor_iv_percentile and skew is not None and skew <= p.condor_max_skew:
        return TypePick(
            _K.IRON_CONDOR,
            f"IV pct {pct(iv_percentile)} >= {pct(p.condor_iv_percentile)} and skew {skew:+.3f} "
            f"<= {p.condor_max_skew:.3f}: sell both sides",
        )
    if iv_percentile >= p.high_iv_percentile:
        kind = _K.BULL_PUT if attack else _K.BEAR_CALL
        rich = f"IV pct {pct(iv_percentile)} >= {pct(p.high_iv_percentile)}"
        if iv_percentile >= p.condor_iv_percentile:
            rich += f" (no condor: skew {'unknown' if skew is None else f'{skew:+.3f}'})"
        return TypePick(kind, f"{regime.value} + {rich}: sell a {LABELS[kind]} (credit)")
    kind = _K.BULL_CALL if attack else _K.BEAR_PUT
    return TypePick(
        kind,
        f"{regime.value} + IV pct {pct(iv_percentile)} < {pct(p.high_iv_percentile)}: "
        f"buy a {LABELS[kind]} (debit)",
    )


class VerticalSpreads:
    """The vertical spreads strategy of one account (see the module docstring)."""

    name = "vertical_spreads"

    def __init__(self, params: SpreadsParams, universe: Sequence[str]) -> None:
        self.p = params
        self.universe = tuple(dict.fromkeys(s.upper() for s in universe))
        self.allowed = tuple(StructureKind(k) for k in params.allowed)

    def plan(self, ctx: OptionsContext) -> OptionsPlan:
        """The cycle's plan; reads only ``ctx`` and never changes ``ctx.book``."""
        opens: list[OpenProposal] = []
        closes: list[CloseProposal] = []
        candidates: list[OpenProposal] = []
        notes: list[str] = []
        info: dict[str, dict[str, Any]] = {}
        free_cash = ctx.free_cash
        for symbol in self._symbols(ctx):
            iv_pct, skew = ctx.iv_percentile.get(symbol), ctx.skew.get(symbol)
            pick = spread_type(ctx.regime, iv_pct, skew, self.p)
            row: dict[str, Any] = {
                "iv_percentile": iv_pct,
                "skew": skew,
                "type": None if pick.kind is None else pick.kind.value,
                "row": pick.row,
                "action": "skip",
            }
            info[symbol] = row
            held = [
                p
                for p in ctx.book.open_positions()
                if p.structure.underlying == symbol and p.structure.kind in SPREAD_KINDS
            ]
            if held:
                row["action"] = "hold"
                for pos in held:
                    close = self._contradicted(ctx.regime, pos.id, pos.structure.kind, symbol)
                    if close is None:
                        notes.append(
                            f"hold {LABELS[pos.structure.kind]} {symbol} x{pos.contracts} "
                            f"({pos.id}): one spread per underlying, the monitors watch it"
                        )
                    else:
                        closes.append(close)
                        row["action"] = "close"
                continue
            chain = ctx.chains.get(symbol)
            if chain is None:
                notes.append(f"skip {symbol}: no chain on {ctx.day}")
                continue
            gate = earnings_gate(ctx, symbol, self.p.earnings_blackout_days)
            if gate.note:
                notes.append(gate.note)
            if gate.blocked:
                continue
            passed = self._candidates(chain, free_cash, iv_pct, skew, pick)
            candidates.extend(c for c in passed.values() if c.contracts > 0)
            if pick.kind is None:
                notes.append(f"skip {symbol}: {pick.row}")
                continue
            if pick.kind not in self.allowed:
                notes.append(f"skip {symbol}: {pick.row}, but {pick.kind} is not allowed")
                continue
            sel = select(pick.kind, chain, self.p.selection)
            if not sel.ok:
                notes.append(f"skip {symbol}: {sel.reason}")
                continue
            choice = passed[pick.kind]
            if choice.contracts == 0:
                notes.append(
                    f"skip {symbol}: not enough free cash: one {LABELS[pick.kind]} risks "
                    f"{_risk(sel):,.2f}, and {pct(self.p.max_allocation)} of free cash "
                    f"{float(free_cash):,.0f} is {float(free_cash) * self.p.max_allocation:,.0f}"
                )
                continue
            opens.append(choice)
            row["action"] = "open_spread"
            free_cash -= _risk(sel) * choice.contracts
        context = {
            "strategy": self.name,
            "regime": ctx.regime.value,
            "allowed": [k.value for k in self.allowed],
            "underlyings": info,
        }
        return OptionsPlan(tuple(opens), tuple(closes), tuple(candidates), tuple(notes), context)

    def _symbols(self, ctx: OptionsContext) -> list[str]:
        held = sorted(
            {
                p.structure.underlying
                for p in ctx.book.open_positions()
                if p.structure.kind in SPREAD_KINDS
            }
            - set(self.universe)
        )
        return [*self.universe, *held]

    def _contradicted(
        self, regime: Regime, pos_id: str, kind: StructureKind, symbol: str
    ) -> CloseProposal | None:
        """A close of a spread whose direction the regime contradicts, else None."""
        direction = _DIRECTION[kind]
        if direction == 0 or (direction > 0) == (regime is Regime.ATTACK):
            return None
        view = "bullish" if direction > 0 else "bearish"
        return CloseProposal(
            pos_id,
            "strategy",
            f"close {LABELS[kind]} {symbol}: the regime is {regime.value}, against a {view} spread",
        )

    def _candidates(
        self,
        chain: OptionChain,
        free_cash: Decimal,
        iv_pct: float | None,
        skew: float | None,
        pick: TypePick,
    ) -> dict[StructureKind, OpenProposal]:
        """Every allowed type whose selection passed, sized against ``free_cash``."""
        out: dict[StructureKind, OpenProposal] = {}
        for kind in self.allowed:
            sel = select(kind, chain, self.p.selection)
            if not sel.ok:
                continue
            n = contracts_for(free_cash, self.p.max_allocation, _risk(sel), self.p.max_contracts)
            why = pick.row if kind is pick.kind else f"alternative to the rules' {pick.kind}"
            out[kind] = proposal(chain, sel, n, iv_percentile=iv_pct, skew=skew, why=why)
        return out


def _risk(sel: Selection) -> Decimal:
    """Money one contract can lose (its collateral: the max loss x multiplier)."""
    if sel.structure is None:
        return Decimal(0)
    return sel.structure.collateral(sel.net_premium)
