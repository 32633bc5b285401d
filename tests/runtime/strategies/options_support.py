"""Support for the option strategies' tests: modelled chains of the bundled sample, contexts, books."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date
from decimal import Decimal
from functools import lru_cache

from invest.runtime.config.options import ModelledChainConfig, StrikeBand
from invest.runtime.data.frame import BarFrame
from invest.runtime.data.sample import SampleData, vix
from invest.runtime.domain import AccountState, Fill, Regime, Side
from invest.runtime.options.book import LegFill, OptionAction, OptionBook, OptionFill
from invest.runtime.options.chain import OptionChain
from invest.runtime.options.earnings import EarningsCalendar
from invest.runtime.options.modelled import ModelledChainSource
from invest.runtime.options.plan import OptionsContext
from invest.runtime.options.structures import Structure

ACCOUNT = "acct"


#: $1 strikes up to $100: KO and PG listed them (the default grid's $5 from $25 up
#: leaves a $36 stock one strike each side of the money, too coarse to pick by delta).
FINE_GRID = ModelledChainConfig(
    strike_grid=(StrikeBand(below=100.0, step=1.0), StrikeBand(below=None, step=5.0))
)


@lru_cache(maxsize=1)
def _source() -> ModelledChainSource:
    bars = SampleData().load(["KO", "PG", "SP500"])
    return ModelledChainSource(bars, FINE_GRID, vix=vix())


def sample_bars() -> BarFrame:
    """The bundled sample's bars the chains are modelled from (KO, PG, SP500)."""
    return _source().bars


@lru_cache(maxsize=256)
def chain(symbol: str, day: date) -> OptionChain:
    """The modelled chain of a bundled-sample symbol at ``day``'s close."""
    return _source().chain(symbol, day)


def state_with(cash: float, shares: Mapping[str, int] | None = None) -> AccountState:
    """An account with ``cash`` and ``shares`` bought at 1.00 (fills, as the ledger would)."""
    state = AccountState(ACCOUNT, Decimal(repr(cash)))
    for symbol, n in (shares or {}).items():
        state.cash += Decimal(n)
        fill = Fill(
            f"buy-{symbol}",
            ACCOUNT,
            symbol,
            Side.BUY,
            Decimal(n),
            Decimal(1),
            Decimal(0),
            date(2016, 1, 4),
        )
        state.apply_fill(fill)
    return state


def open_in_book(
    book: OptionBook,
    state: AccountState,
    structure: Structure,
    contracts: int,
    prices: list[float],
    day: date,
    pos_id: str,
) -> None:
    """Open ``contracts`` x ``structure`` at ``prices`` (one per leg) in ``book``, no fees."""
    legs = tuple(
        LegFill(leg.contract.symbol, leg.quantity * contracts, price)
        for leg, price in zip(structure.legs, prices, strict=True)
    )
    fill = OptionFill(f"fill-{pos_id}", ACCOUNT, pos_id, OptionAction.OPEN, legs, Decimal(0), day)
    book.open(fill, structure, contracts, state)


def context(
    chains: Mapping[str, OptionChain],
    day: date,
    *,
    state: AccountState | None = None,
    book: OptionBook | None = None,
    regime: Regime = Regime.ATTACK,
    iv_percentile: Mapping[str, float | None] | None = None,
    skew: Mapping[str, float | None] | None = None,
    earnings: EarningsCalendar | None = None,
) -> OptionsContext:
    """The context a cycle would build: free cash and free shares from the book."""
    state = state or state_with(100_000)
    book = book or OptionBook(ACCOUNT)
    symbols = set(state.positions) | set(chains)
    return OptionsContext(
        account=ACCOUNT,
        day=day,
        regime=regime,
        chains=dict(chains),
        book=book,
        shares={s: p.quantity for s, p in state.positions.items()},
        free_shares={s: book.free_shares(s, state) for s in symbols},
        cash=state.cash,
        free_cash=state.cash - book.reserved_cash(),
        equity=float(state.cash),
        iv_percentile=dict(iv_percentile or {}),
        skew=dict(skew or {}),
        earnings=earnings,
    )
