"""Hand-built option plans for the LLM variants' tests: candidates, an open book, a fake rules strategy.

Built from the structure builders directly, so these tests do not depend on the
rules strategies (they land in parallel).
"""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

from invest.runtime.domain import Regime
from invest.runtime.options.book import OptionBook, OptionPosition
from invest.runtime.options.chain import OptionChain, OptionQuote
from invest.runtime.options.contracts import OptionContract, Right
from invest.runtime.options.plan import CloseProposal, OpenProposal, OptionsContext, OptionsPlan
from invest.runtime.options.structures import (
    Structure,
    bear_call,
    bull_put,
    cash_secured_put,
    covered_call,
)

DAY = date(2024, 6, 12)
EXPIRY = DAY + timedelta(days=35)
NEAR = DAY + timedelta(days=3)


def contract(sym: str, right: Right, strike: int, expiry: date = EXPIRY) -> OptionContract:
    return OptionContract(sym, expiry, right, Decimal(strike))


def proposal(
    structure: Structure, contracts: int, premium: float, roll_of: str | None = None
) -> OpenProposal:
    return OpenProposal(
        structure=structure,
        contracts=contracts,
        est_premium=premium,
        quotes=(),
        reason=f"rules: {structure.kind} on {structure.underlying} expiring {EXPIRY}",
        score={"delta": -0.2, "iv_percentile": 72.0},
        roll_of=roll_of,
    )


def position(pos_id: str, structure: Structure, contracts: int = 1) -> OptionPosition:
    return OptionPosition(
        id=pos_id,
        account="acct",
        structure=structure,
        contracts=contracts,
        opened=DAY - timedelta(days=20),
        open_premium=1.2,
        collateral=Decimal("380"),
        reserved=Decimal("500"),
        shares_reserved=0,
    )


P, C = Right.PUT, Right.CALL

AAPL_BULL_PUT = proposal(bull_put(contract("AAPL", P, 180), contract("AAPL", P, 175)), 2, 1.1)
MSFT_BULL_PUT = proposal(bull_put(contract("MSFT", P, 400), contract("MSFT", P, 390)), 1, 2.0)
AAPL_BEAR_CALL = proposal(bear_call(contract("AAPL", C, 210), contract("AAPL", C, 215)), 3, 0.9)
OLD_SPREAD = position(
    "opt-old-spread", bull_put(contract("AAPL", P, 170, NEAR), contract("AAPL", P, 165, NEAR))
)
OTHER_SPREAD = position(
    "opt-other-spread", bear_call(contract("MSFT", C, 450), contract("MSFT", C, 460))
)
DTE_CLOSE = CloseProposal("opt-old-spread", "dte", "3 days to expiry")


def spreads_plan() -> OptionsPlan:
    """Three candidates of two types, the rules open one, and close one position for DTE."""
    return OptionsPlan(
        opens=(AAPL_BULL_PUT,),
        closes=(DTE_CLOSE,),
        candidates=(AAPL_BULL_PUT, MSFT_BULL_PUT, AAPL_BEAR_CALL),
        notes=("rules: high IV, bull put",),
        context={"trend": {"AAPL": {"mom_126": 0.12}}, "asof": DAY.isoformat()},
    )


def chain(sym: str, spot: float) -> OptionChain:
    quotes = tuple(
        OptionQuote(contract(sym, right, strike, exp), bid=1.0, ask=1.2)
        for exp in (NEAR, EXPIRY)
        for right in (P, C)
        for strike in (165, 170, 175, 180, 210, 215, 390, 400, 450, 460)
    )
    return OptionChain(sym, DAY, spot, quotes, "modelled", modelled=True)


def context(*positions: OptionPosition) -> OptionsContext:
    return OptionsContext(
        account="acct",
        day=DAY,
        regime=Regime.ATTACK,
        chains={"AAPL": chain("AAPL", 195.0), "MSFT": chain("MSFT", 420.0)},
        book=OptionBook("acct", positions),
        shares={"AAPL": Decimal(100)},
        free_shares={"AAPL": Decimal(100)},
        cash=Decimal("20000"),
        free_cash=Decimal("15000"),
        equity=40000.0,
        iv_percentile={"AAPL": 72.0, "MSFT": None},
        skew={"AAPL": 0.031, "MSFT": 0.02},
    )


# -- the wheel --------------------------------------------------------------------------

AAPL_CSP = proposal(cash_secured_put(contract("AAPL", P, 180)), 1, 2.5)
AAPL_CC = proposal(covered_call(contract("AAPL", C, 210)), 1, 1.4)
EXPIRING_PUT = position("opt-expiring-put", cash_secured_put(contract("AAPL", P, 175, NEAR)))
AAPL_ROLL = proposal(cash_secured_put(contract("AAPL", P, 175)), 1, 1.9, roll_of=EXPIRING_PUT.id)
ROLL_CLOSE = CloseProposal(EXPIRING_PUT.id, "roll", "rolled out")


def wheel_plan() -> OptionsPlan:
    return OptionsPlan(
        opens=(AAPL_CSP, AAPL_ROLL),
        closes=(ROLL_CLOSE,),
        candidates=(AAPL_CSP, AAPL_CC, AAPL_ROLL),
    )


class FakeRules:
    """A rules strategy that returns a fixed plan and counts its calls."""

    def __init__(self, plan: OptionsPlan, name: str = "vertical_spreads") -> None:
        self.name = name
        self._plan = plan
        self.calls = 0

    def plan(self, ctx: OptionsContext) -> OptionsPlan:
        self.calls += 1
        return self._plan
