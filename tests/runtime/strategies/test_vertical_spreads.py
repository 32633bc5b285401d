"""Vertical spreads by rules on modelled chains of the bundled sample: the type table, open, close, skip."""

from __future__ import annotations

import copy
from datetime import date, timedelta
from decimal import Decimal

import pytest
from pydantic import ValidationError

from invest.runtime.config.options import SelectionConfig, SpreadsParams
from invest.runtime.domain import Regime
from invest.runtime.options.book import OptionBook
from invest.runtime.options.earnings import StaticEarningsCalendar
from invest.runtime.options.plan import OptionsContext, OptionsPlan, within_candidates
from invest.runtime.options.selection import select
from invest.runtime.options.structures import StructureKind
from invest.runtime.strategies.vertical_spreads import VerticalSpreads, spread_type
from tests.runtime.strategies.options_support import (
    ACCOUNT,
    chain,
    context,
    open_in_book,
    state_with,
)

D = date(2016, 6, 15)
K = StructureKind
ATTACK, DEFENSE = Regime.ATTACK, Regime.DEFENSE
#: 20..50 DTE and credit/debit rules loose enough for $2-wide spreads on a $36 stock.
LENIENT = SelectionConfig(min_dte=20, max_dte=50, min_credit_fraction=0.05, max_debit_fraction=0.95)
ALL = ("bull_call", "bear_put", "bull_put", "bear_call", "iron_condor", "butterfly")


def spreads(**kw: object) -> VerticalSpreads:
    kw.setdefault("selection", LENIENT)
    return VerticalSpreads(SpreadsParams.model_validate(kw), ["KO"])


def ctx_for(
    ivp: float | None,
    regime: Regime = ATTACK,
    skew: float | None = 0.05,
    cash: float = 20_000,
    **kw: object,
) -> OptionsContext:
    return context(
        {"KO": chain("KO", D)},
        D,
        state=state_with(cash),
        regime=regime,
        iv_percentile={"KO": ivp},
        skew={"KO": skew},
        **kw,  # type: ignore[arg-type]
    )


def notes(plan: OptionsPlan) -> str:
    return "\n".join(plan.notes)


@pytest.mark.parametrize(
    ("regime", "ivp", "skew", "kind"),
    [
        (ATTACK, 0.30, 0.05, K.BULL_CALL),
        (ATTACK, 0.60, 0.05, K.BULL_PUT),
        (ATTACK, 0.90, 0.05, K.IRON_CONDOR),
        (ATTACK, 0.90, 0.20, K.BULL_PUT),  # a steep skew: the regime's row
        (ATTACK, 0.90, None, K.BULL_PUT),  # an unknown skew never opens a condor
        (DEFENSE, 0.30, 0.05, K.BEAR_PUT),
        (DEFENSE, 0.60, 0.05, K.BEAR_CALL),
        (DEFENSE, 0.90, 0.05, K.IRON_CONDOR),
        (DEFENSE, 0.90, 0.20, K.BEAR_CALL),
    ],
)
def test_each_regime_and_iv_cell_opens_its_type(
    regime: Regime, ivp: float, skew: float | None, kind: StructureKind
) -> None:
    plan = spreads().plan(ctx_for(ivp, regime, skew))
    assert [o.kind for o in plan.opens] == [kind]
    row = plan.context["underlyings"]["KO"]
    assert row["type"] == kind.value
    assert row["iv_percentile"] == ivp
    assert row["skew"] == skew
    assert row["action"] == "open_spread"
    assert plan.context["regime"] == regime.value
    assert within_candidates(plan, plan.candidates) == []
    reason = plan.opens[0].reason
    assert reason.startswith(f"{kind.value.replace('_', ' ')} KO ")
    for word in ("DTE", "delta", f"IV pct {ivp:.0%}", row["row"]):
        assert word in reason


def test_the_thresholds_move_the_type() -> None:
    p = SpreadsParams()
    assert spread_type(ATTACK, 0.49, 0.05, p).kind is K.BULL_CALL
    assert spread_type(ATTACK, 0.50, 0.05, p).kind is K.BULL_PUT
    assert spread_type(ATTACK, 0.79, 0.05, p).kind is K.BULL_PUT
    assert spread_type(ATTACK, 0.80, 0.05, p).kind is K.IRON_CONDOR
    assert spread_type(ATTACK, 0.80, 0.13, p).kind is K.BULL_PUT
    assert spread_type(ATTACK, 0.80, 0.13, p.model_copy(update={"condor_max_skew": 0.2})).kind is (
        K.IRON_CONDOR
    )
    assert spread_type(
        DEFENSE, 0.49, 0.05, p.model_copy(update={"high_iv_percentile": 0.4})
    ).kind is (K.BEAR_CALL)
    unknown = spread_type(ATTACK, None, 0.05, p)
    assert unknown.kind is None
    assert "unknown" in unknown.row


def test_unknown_iv_percentile_skips_with_the_reason() -> None:
    plan = spreads().plan(ctx_for(None))
    assert not plan.opens
    assert "skip KO: IV percentile unknown: no type" in notes(plan)


def test_candidates_are_every_allowed_type_that_passed() -> None:
    plan = spreads(allowed=ALL).plan(ctx_for(0.6))
    assert {c.kind for c in plan.candidates} == {StructureKind(k) for k in ALL}
    assert [o.kind for o in plan.opens] == [K.BULL_PUT]
    narrow = spreads(allowed=("bull_call", "bear_put")).plan(ctx_for(0.6))
    assert not narrow.opens
    assert "but bull_put is not allowed" in notes(narrow)
    assert {c.kind for c in narrow.candidates} == {K.BULL_CALL, K.BEAR_PUT}


def test_a_refused_selection_skips_with_its_reason() -> None:
    strict = LENIENT.model_copy(update={"min_credit_fraction": 0.9})
    plan = spreads(selection=strict).plan(ctx_for(0.6))
    assert not plan.opens
    assert "skip KO: bull_put" in notes(plan)
    assert "is below 0.9 x width" in notes(plan)


def test_contracts_respect_free_cash() -> None:
    for cash, share in ((1_000, 0.25), (1_000, 1.0), (5_000, 0.5)):
        plan = spreads(max_allocation=share, max_contracts=500).plan(ctx_for(0.6, cash=cash))
        (put,) = plan.opens
        risk = put.structure.collateral(put.est_premium)
        assert put.contracts == int(Decimal(cash) * Decimal(repr(share)) // risk)
        assert risk * put.contracts <= Decimal(cash) * Decimal(repr(share))
    poor = spreads().plan(ctx_for(0.6, cash=100))
    assert not poor.opens
    assert "skip KO: not enough free cash" in notes(poor)
    assert spreads(max_contracts=2).plan(ctx_for(0.6)).opens[0].contracts == 2


def _book_with(kind: StructureKind) -> tuple[OptionBook, OptionsContext, OptionsContext]:
    ko = chain("KO", D)
    sel = select(kind, ko, LENIENT)
    assert sel.structure is not None
    state = state_with(20_000)
    book = OptionBook(ACCOUNT)
    prices = []
    for leg in sel.structure.legs:
        q = ko.quote(leg.contract)
        assert q is not None
        prices.append(q.bid if leg.is_short else q.ask)
    open_in_book(book, state, sel.structure, 1, prices, D - timedelta(days=5), "sp-1")
    make = dict(state=state, book=book, iv_percentile={"KO": 0.6}, skew={"KO": 0.05})
    attack = context({"KO": ko}, D, regime=ATTACK, **make)  # type: ignore[arg-type]
    defense = context({"KO": ko}, D, regime=DEFENSE, **make)  # type: ignore[arg-type]
    return book, attack, defense


def test_a_spread_the_regime_contradicts_is_closed() -> None:
    _, attack, defense = _book_with(K.BULL_PUT)
    turned = spreads().plan(defense)
    assert [(c.position_id, c.rule) for c in turned.closes] == [("sp-1", "strategy")]
    assert "the regime is DEFENSE, against a bullish spread" in turned.closes[0].reason
    assert not turned.opens  # one spread per underlying: the next cycle may open
    same = spreads().plan(attack)
    assert not same.closes
    assert not same.opens
    assert "hold bull put KO x1 (sp-1)" in notes(same)
    _, _, bear_in_defense = _book_with(K.BEAR_CALL)
    assert not spreads().plan(bear_in_defense).closes


def test_a_condor_is_never_closed_by_the_regime() -> None:
    _, attack, defense = _book_with(K.IRON_CONDOR)
    assert not spreads().plan(attack).closes
    assert not spreads().plan(defense).closes


def test_earnings_blackout_skips_and_unknown_proceeds() -> None:
    soon = StaticEarningsCalendar.from_mapping({"KO": [D + timedelta(days=2)]})
    plan = spreads().plan(ctx_for(0.6, earnings=soon))
    assert not plan.opens
    assert not plan.candidates
    assert "skip KO: earnings on 2016-06-17, within the 7-day blackout" in notes(plan)
    other = StaticEarningsCalendar.from_mapping({"PG": [D]})
    plan = spreads().plan(ctx_for(0.6, earnings=other))
    assert len(plan.opens) == 1
    assert "KO: earnings unknown on 2016-06-15, proceeding" in notes(plan)


def test_no_chain_skips() -> None:
    plan = spreads().plan(context({}, D, iv_percentile={"KO": 0.6}))
    assert not plan.opens
    assert "skip KO: no chain on 2016-06-15" in notes(plan)


def test_the_strategy_never_changes_the_book() -> None:
    book, _, defense = _book_with(K.BULL_PUT)
    before = copy.deepcopy(book.open_positions())
    reserved = book.reserved_cash()
    plan = spreads().plan(defense)
    assert plan.closes
    assert book.open_positions() == before
    assert book.reserved_cash() == reserved


def test_free_cash_is_shared_across_the_universe() -> None:
    chains = {"KO": chain("KO", D), "PG": chain("PG", D)}
    ivp = {"KO": 0.3, "PG": 0.3}
    params = SpreadsParams(selection=LENIENT, max_allocation=1.0, max_contracts=1000)
    both = VerticalSpreads(params, ["KO", "PG"])
    plan = both.plan(context(chains, D, state=state_with(1_000), iv_percentile=ivp))
    spent = sum(o.structure.collateral(o.est_premium) * o.contracts for o in plan.opens)
    assert spent <= Decimal(1_000)
    assert [o.structure.underlying for o in plan.opens] == ["KO"]
    assert "skip PG: not enough free cash" in notes(plan)


def test_params_refuse_a_table_out_of_order() -> None:
    with pytest.raises(ValidationError, match="condor_iv_percentile"):
        SpreadsParams(high_iv_percentile=0.7, condor_iv_percentile=0.6)
    with pytest.raises(ValidationError, match="allowed lists a type twice"):
        SpreadsParams(allowed=("bull_put", "bull_put"))
    with pytest.raises(ValidationError, match="allowed"):
        SpreadsParams(allowed=("straddle",))  # type: ignore[arg-type]
