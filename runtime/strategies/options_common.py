"""What the option strategies share: the earnings gate, sizing, and a proposal's words and figures.

Used by :mod:`invest.runtime.strategies.wheel` and
:mod:`invest.runtime.strategies.vertical_spreads`. Every function reads only its
arguments (the cycle's :class:`~invest.runtime.options.plan.OptionsContext` and its
chains), so a strategy built on them reads nothing but ``ctx``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from decimal import ROUND_FLOOR, Decimal

from invest.runtime.options.analytics import quote_delta, quote_iv
from invest.runtime.options.chain import OptionChain, OptionQuote
from invest.runtime.options.earnings import in_blackout
from invest.runtime.options.plan import OpenProposal, OptionsContext
from invest.runtime.options.selection import Selection
from invest.runtime.options.structures import Structure, StructureKind

__all__ = [
    "LABELS",
    "Gate",
    "contracts_for",
    "earnings_gate",
    "pct",
    "proposal",
    "strike_text",
]

#: Short names the reasons use.
LABELS: Mapping[StructureKind, str] = {
    StructureKind.CASH_SECURED_PUT: "CSP",
    StructureKind.COVERED_CALL: "CC",
    StructureKind.BULL_CALL: "bull call",
    StructureKind.BEAR_PUT: "bear put",
    StructureKind.BULL_PUT: "bull put",
    StructureKind.BEAR_CALL: "bear call",
    StructureKind.IRON_CONDOR: "iron condor",
    StructureKind.BUTTERFLY: "butterfly",
}


@dataclass(frozen=True, slots=True)
class Gate:
    """The earnings answer for one underlying: ``blocked`` and the note a plan carries (or None)."""

    blocked: bool
    note: str | None


def earnings_gate(ctx: OptionsContext, symbol: str, days: int) -> Gate:
    """Whether ``symbol`` is in its earnings blackout on ``ctx.day``, and what to note.

    Unknown earnings (no calendar, or the calendar cannot say) do not block: the
    note says the entry goes ahead without knowing, as the issue asks a report to.
    """
    if ctx.earnings is None:
        return Gate(False, f"{symbol}: earnings unknown (no earnings calendar), proceeding")
    state = in_blackout(ctx.earnings, symbol, ctx.day, days)
    if state is True:
        when = ctx.earnings.next_earnings(symbol, ctx.day)
        return Gate(
            True,
            f"skip {symbol}: earnings on {when}, within the {days}-day blackout from {ctx.day}",
        )
    if state is None:
        return Gate(False, f"{symbol}: earnings unknown on {ctx.day}, proceeding")
    return Gate(False, None)


def contracts_for(free_cash: Decimal, share: float, per_unit: Decimal, cap: int) -> int:
    """floor(free_cash x share / per_unit), between 0 and ``cap`` (0 when per_unit <= 0 or no cash)."""
    if per_unit <= 0 or free_cash <= 0:
        return 0
    budget = free_cash * Decimal(repr(share))
    n = int((budget / per_unit).to_integral_value(rounding=ROUND_FLOOR))
    return max(0, min(n, cap))


def pct(value: float | None) -> str:
    """A 0..1 share as "64%", or "unknown"."""
    return "unknown" if value is None else f"{value:.0%}"


def strike_text(q: OptionQuote) -> str:
    """ "55P", "57.5C": the strike without trailing zeros and the right's letter."""
    return f"{float(q.contract.strike):g}{'C' if q.contract.right.value == 'call' else 'P'}"


def _legs_text(structure: Structure, quotes: tuple[OptionQuote, ...]) -> str:
    by_symbol = {q.contract.symbol: q for q in quotes}
    if len(structure.legs) == 1:
        return strike_text(by_symbol[structure.legs[0].contract.symbol])
    return "/".join(
        f"{'+' if leg.quantity > 0 else '-'}{f'{abs(leg.quantity)}x' if abs(leg.quantity) > 1 else ''}"
        f"{strike_text(by_symbol[leg.contract.symbol])}"
        for leg in structure.legs
    )


def _anchor(structure: Structure, quotes: tuple[OptionQuote, ...]) -> OptionQuote:
    """The quote whose delta describes the structure: its first short leg (a debit spread's long)."""
    by_symbol = {q.contract.symbol: q for q in quotes}
    legs = structure.legs
    pick = next((leg for leg in legs if leg.is_short == structure.is_credit), legs[0])
    return by_symbol[pick.contract.symbol]


def proposal(
    chain: OptionChain,
    sel: Selection,
    contracts: int,
    *,
    iv_percentile: float | None,
    skew: float | None,
    why: str,
    roll_of: str | None = None,
) -> OpenProposal:
    """An :class:`OpenProposal` of a passed selection, its reason and score written out.

    The reason reads like "CSP KO 55P 2022-07-15 (30 DTE), delta -0.30, credit 1.12,
    IV pct 64%: <why>"; the score holds delta, iv, iv_percentile, skew, dte, premium.
    """
    structure = sel.structure
    if structure is None:
        raise ValueError(f"a proposal needs a passed selection, not a refusal: {sel.reason}")
    q = _anchor(structure, sel.quotes)
    expiry = q.contract.expiry
    dte = q.contract.dte(chain.as_of)
    delta = quote_delta(chain, q)
    iv = quote_iv(chain, q)
    premium = sel.net_premium
    words = [
        f"{LABELS[structure.kind]} {structure.underlying} {_legs_text(structure, sel.quotes)} "
        f"{expiry} ({dte} DTE)",
        f"delta {delta:+.2f}" if delta is not None else "delta unknown",
        f"{'credit' if premium >= 0 else 'debit'} {abs(premium):.2f}",
        f"IV pct {pct(iv_percentile)}",
    ]
    if skew is not None:
        words.append(f"skew {skew:+.3f}")
    score: dict[str, float] = {"dte": float(dte), "premium": premium}
    for name, value in (
        ("delta", delta),
        ("iv", iv),
        ("iv_percentile", iv_percentile),
        ("skew", skew),
    ):
        if value is not None:
            score[name] = float(value)
    return OpenProposal(
        structure,
        contracts,
        premium,
        sel.quotes,
        ", ".join(words) + f": {why}",
        score,
        roll_of,
    )
