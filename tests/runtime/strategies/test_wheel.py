"""The wheel by rules on modelled chains of the bundled sample: puts, calls, rolls, skips."""

from __future__ import annotations

import copy
from datetime import date, timedelta
from decimal import Decimal

import pytest

from invest.runtime.config.options import SelectionConfig, WheelParams
from invest.runtime.options.book import LegFill, OptionAction, OptionBook, OptionFill
from invest.runtime.options.contracts import Right
from invest.runtime.options.earnings import StaticEarningsCalendar
from invest.runtime.options.plan import OptionsContext, OptionsPlan, within_candidates
from invest.runtime.options.structures import StructureKind, cash_secured_put, covered_call
from invest.runtime.strategies.options_common import LABELS
from invest.runtime.strategies.wheel import Wheel
from tests.runtime.strategies.options_support import (
    ACCOUNT,
    chain,
    context,
    open_in_book,
    sample_bars,
    state_with,
)

D = date(2016, 6, 15)  # KO 35.98, PG 67.83; expiries 06-17, 06-24, 07-01, 07-08, 07-15, 08-19
IVP = {"KO": 0.6, "PG": 0.6}


def wheel(**kw: object) -> Wheel:
    return Wheel(WheelParams.model_validate(kw), ["KO"])


def notes(plan: OptionsPlan) -> str:
    return "\n".join(plan.notes)


def test_a_cash_secured_put_when_flat() -> None:
    ctx = context({"KO": chain("KO", D)}, D, state=state_with(20_000), iv_percentile=IVP)
    plan = wheel().plan(ctx)
    assert [o.kind for o in plan.opens] == [StructureKind.CASH_SECURED_PUT]
    put = plan.opens[0]
    contract = put.structure.legs[0].contract
    assert contract.right is Right.PUT
    assert float(contract.strike) < chain("KO", D).spot
    assert 5 <= contract.dte(D) <= 45
    assert put.reason.startswith(f"CSP KO {float(contract.strike):g}P {contract.expiry} (")
    for word in ("DTE", "delta -0.", "credit", "IV pct 60%"):
        assert word in put.reason
    assert {"delta", "iv", "iv_percentile", "dte", "premium"} <= set(put.score)
    assert put.score["delta"] < 0
    assert put.est_premium > 0
    assert within_candidates(plan, plan.candidates) == []
    assert not plan.closes
    assert plan.context["underlyings"]["KO"]["action"] == "sell_csp"


def test_candidates_hold_the_later_expiry_and_opens_are_among_them() -> None:
    ctx = context({"KO": chain("KO", D)}, D, state=state_with(20_000), iv_percentile=IVP)
    plan = wheel(alt_expiries=2).plan(ctx)
    expiries = [c.structure.legs[0].contract.expiry for c in plan.candidates]
    assert len(set(expiries)) == 3
    assert expiries[0] == plan.opens[0].structure.legs[0].contract.expiry
    assert within_candidates(plan, plan.candidates) == []
    assert len(wheel(alt_expiries=0, alt_delta_step=0).plan(ctx).candidates) == 1


def test_contracts_respect_free_cash() -> None:
    ko = chain("KO", D)
    for cash, share in ((20_000, 0.5), (20_000, 1.0), (100_000, 0.5), (8_000, 1.0)):
        ctx = context({"KO": ko}, D, state=state_with(cash), iv_percentile=IVP)
        plan = wheel(max_allocation=share, max_contracts=50).plan(ctx)
        put = plan.opens[0]
        strike = put.structure.legs[0].contract.strike
        assert put.contracts == int(cash * share // (float(strike) * 100))
        assert put.structure.collateral(put.est_premium) * put.contracts <= Decimal(cash) * Decimal(
            repr(share)
        )
    capped = wheel(max_contracts=3).plan(context({"KO": ko}, D, state=state_with(1_000_000)))
    assert capped.opens[0].contracts == 3


def test_too_little_free_cash_skips_and_says_so() -> None:
    ctx = context({"KO": chain("KO", D)}, D, state=state_with(3_000), iv_percentile=IVP)
    plan = wheel().plan(ctx)
    assert not plan.opens
    assert not plan.candidates
    assert "not enough free cash" in notes(plan)


def test_free_cash_is_shared_across_the_universe() -> None:
    chains = {"KO": chain("KO", D), "PG": chain("PG", D)}
    ctx = context(chains, D, state=state_with(20_000), iv_percentile=IVP)
    plan = Wheel(WheelParams(max_allocation=1.0), ["KO", "PG"]).plan(ctx)
    spent = sum(o.structure.collateral(o.est_premium) * o.contracts for o in plan.opens)
    assert spent <= Decimal(20_000)
    # KO alone takes 5 x 3,500 = 17,500, leaving PG no 6,500 put.
    assert [o.structure.underlying for o in plan.opens] == ["KO"]
    assert "skip CSP PG: not enough free cash" in notes(plan)


def test_covered_calls_after_assignment() -> None:
    state = state_with(5_000, {"KO": 250})
    ctx = context({"KO": chain("KO", D)}, D, state=state, iv_percentile=IVP)
    plan = wheel().plan(ctx)
    assert [o.kind for o in plan.opens] == [StructureKind.COVERED_CALL]
    call = plan.opens[0]
    assert call.contracts == 2  # 250 shares: two whole lots
    contract = call.structure.legs[0].contract
    assert contract.right is Right.CALL
    assert float(contract.strike) > chain("KO", D).spot
    assert call.reason.startswith("CC KO ")
    assert "credit" in call.reason
    assert within_candidates(plan, plan.candidates) == []


def test_no_covered_call_without_a_whole_lot() -> None:
    state = state_with(20_000, {"KO": 60})
    ctx = context({"KO": chain("KO", D)}, D, state=state, iv_percentile=IVP)
    plan = wheel().plan(ctx)
    assert StructureKind.COVERED_CALL not in {o.kind for o in plan.opens}
    assert "no covered call on KO: 60 free shares are not a whole lot of 100" in notes(plan)


def test_shares_under_an_open_call_get_no_second_call_nor_a_put() -> None:
    ko = chain("KO", D)
    state = state_with(20_000, {"KO": 100})
    book = OptionBook(ACCOUNT)
    q = next(q for q in ko.side(date(2016, 7, 15), Right.CALL) if float(q.contract.strike) == 38)
    open_in_book(book, state, covered_call(q.contract), 1, [q.bid], D, "cc-1")
    plan = wheel().plan(context({"KO": ko}, D, state=state, book=book, iv_percentile=IVP))
    assert not plan.opens
    assert not plan.closes
    assert "hold CC KO 38C 2016-07-15 x1" in notes(plan)


def _tested_put(strike: float, expiry: date) -> tuple[OptionBook, OptionsContext]:
    ko = chain("KO", D)
    state = state_with(20_000)
    book = OptionBook(ACCOUNT)
    q = next(q for q in ko.side(expiry, Right.PUT) if float(q.contract.strike) == strike)
    open_in_book(
        book, state, cash_secured_put(q.contract), 1, [q.bid], D - timedelta(days=20), "csp-1"
    )
    return book, context({"KO": ko}, D, state=state, book=book, iv_percentile=IVP)


def test_a_tested_put_near_expiry_is_rolled_for_a_credit() -> None:
    book, ctx = _tested_put(37, date(2016, 6, 17))  # spot 35.98 < 37, 2 DTE
    plan = wheel().plan(ctx)
    assert [(c.position_id, c.rule) for c in plan.closes] == [("csp-1", "roll")]
    assert len(plan.opens) == 1
    new = plan.opens[0]
    assert new.roll_of == "csp-1"
    assert new.kind is StructureKind.CASH_SECURED_PUT
    assert new.structure.legs[0].contract.expiry > date(2016, 6, 17)
    old_quote = chain("KO", D).quote(book.position("csp-1").structure.legs[0].contract)
    assert old_quote is not None
    assert new.est_premium - old_quote.ask >= 0.01
    assert "net credit" in new.reason
    assert "roll of CSP KO 37P" in plan.closes[0].reason
    assert within_candidates(plan, plan.candidates) == []


def test_no_roll_when_the_rule_does_not_fire() -> None:
    _, ctx = _tested_put(37, date(2016, 6, 17))
    later = wheel(roll_dte=1).plan(ctx)
    assert not later.closes
    assert not later.opens
    assert "hold CSP KO 37P 2016-06-17 x1: 2 DTE" in notes(later)
    dear = wheel(min_roll_credit=5.0).plan(ctx)
    assert not dear.closes
    assert not dear.opens
    assert "no roll to 2016-06-24 pays a net credit of 5.00" in notes(dear)
    _, safe = _tested_put(35, date(2016, 6, 17))  # spot above the strike: not tested
    held = wheel().plan(safe)
    assert not held.closes
    assert "not tested" in notes(held)


def test_earnings_blackout_skips_and_says_so() -> None:
    ko = chain("KO", D)
    soon = StaticEarningsCalendar.from_mapping({"KO": [D + timedelta(days=3)]})
    plan = wheel().plan(context({"KO": ko}, D, iv_percentile=IVP, earnings=soon))
    assert not plan.opens
    assert "skip KO: earnings on 2016-06-18, within the 7-day blackout" in notes(plan)
    later = StaticEarningsCalendar.from_mapping(
        {"KO": [D - timedelta(days=60), D + timedelta(days=30)]}
    )
    plan = wheel().plan(context({"KO": ko}, D, iv_percentile=IVP, earnings=later))
    assert len(plan.opens) == 1
    assert "earnings" not in notes(plan)


def test_unknown_earnings_proceed_with_a_note() -> None:
    ko = chain("KO", D)
    other = StaticEarningsCalendar.from_mapping({"PG": [D + timedelta(days=3)]})
    plan = wheel().plan(context({"KO": ko}, D, iv_percentile=IVP, earnings=other))
    assert len(plan.opens) == 1
    assert "KO: earnings unknown on 2016-06-15, proceeding" in notes(plan)
    plan = wheel().plan(context({"KO": ko}, D, iv_percentile=IVP))
    assert len(plan.opens) == 1
    assert "no earnings calendar" in notes(plan)


@pytest.mark.parametrize(("ivp", "opens"), [(0.1, 0), (0.19, 0), (0.2, 1), (0.9, 1), (None, 1)])
def test_a_low_iv_percentile_skips(ivp: float | None, opens: int) -> None:
    plan = wheel().plan(context({"KO": chain("KO", D)}, D, iv_percentile={"KO": ivp}))
    assert len(plan.opens) == opens
    if not opens:
        assert "is below 20%, the premium is too thin" in notes(plan)


def test_no_chain_or_no_expiry_skips_with_the_reason() -> None:
    plan = wheel().plan(context({}, D, iv_percentile=IVP))
    assert not plan.opens
    assert "skip CSP KO: no chain on 2016-06-15" in notes(plan)
    far = SelectionConfig(min_dte=200, max_dte=300)
    plan = wheel(selection=far).plan(context({"KO": chain("KO", D)}, D, iv_percentile=IVP))
    assert not plan.opens
    assert "no expiry with 200..300 DTE" in notes(plan)


def test_the_strategy_never_changes_the_book() -> None:
    book, ctx = _tested_put(37, date(2016, 6, 17))
    before = copy.deepcopy(book.open_positions())
    reserved = book.reserved_cash()
    plan = wheel().plan(ctx)
    assert plan.closes  # it did decide something about the position
    assert book.open_positions() == before
    assert book.reserved_cash() == reserved


def test_the_wheel_turns_on_the_sample() -> None:
    """Weekly cycles on KO through 2008-09 with the book applied: put, assignment, calls, called away, put."""
    bars = sample_bars()
    col = bars.index_of("KO")
    state, book = state_with(10_000), OptionBook(ACCOUNT)
    strategy = Wheel(WheelParams(max_allocation=1.0), ["KO"])
    events: list[str] = []
    days = [d for d in bars.dates.tolist() if date(2008, 6, 1) <= d <= date(2009, 6, 30)]
    for i, day in enumerate(days):
        spot = float(bars.close[bars.row_for(day), col])
        events += [s.fill.reason.split(" at ")[0] for s in book.settle(day, {"KO": spot}, state)]
        if day.weekday() != 3:  # Thursdays, as the seed's wheel account
            continue
        ko = chain("KO", day)
        plan = strategy.plan(context({"KO": ko}, day, state=state, book=book, iv_percentile=IVP))
        assert within_candidates(plan, plan.candidates) == []
        for close in plan.closes:
            pos = book.position(close.position_id)
            q = ko.quote(pos.structure.legs[0].contract)
            assert q is not None
            legs = (LegFill(q.contract.symbol, pos.contracts, q.ask),)
            fill = OptionFill(f"c{i}", ACCOUNT, pos.id, OptionAction.CLOSE, legs, Decimal(0), day)
            book.close(fill, state)
            events.append(close.rule)
        for o in plan.opens:
            pid = f"p{i}-{o.kind}"
            legs = (LegFill(o.quotes[0].contract.symbol, -o.contracts, o.quotes[0].bid),)
            fill = OptionFill(f"o{i}", ACCOUNT, pid, OptionAction.OPEN, legs, Decimal(0), day)
            book.open(fill, o.structure, o.contracts, state)
            events.append(LABELS[o.kind])
        assert state.cash >= book.reserved_cash()
    assert events[0] == "CSP"
    assigned = events.index("assignment")
    assert events[assigned + 1] == "CC"
    called = events.index("called away")
    assert called > assigned
    assert "CSP" in events[called:]
    assert "CSP" not in events[assigned:called]  # calls only while the shares are held
    assert "roll" in events


def test_a_tested_covered_call_is_rolled_up_or_out_for_a_credit() -> None:
    ko = chain("KO", D)
    state = state_with(5_000, {"KO": 100})
    book = OptionBook(ACCOUNT)
    q = next(q for q in ko.side(date(2016, 6, 17), Right.CALL) if float(q.contract.strike) == 35)
    open_in_book(book, state, covered_call(q.contract), 1, [q.bid], D - timedelta(days=20), "cc-1")
    ctx = context({"KO": ko}, D, state=state, book=book, iv_percentile=IVP)
    plan = wheel().plan(ctx)  # spot 35.98 > 35 at 2 DTE
    assert [(c.position_id, c.rule) for c in plan.closes] == [("cc-1", "roll")]
    (new,) = plan.opens
    assert new.kind is StructureKind.COVERED_CALL
    assert new.roll_of == "cc-1"
    assert new.structure.legs[0].contract.strike >= q.contract.strike
    assert new.est_premium - q.ask >= 0.01
    held = wheel(min_roll_credit=3.0).plan(ctx)
    assert not held.opens
    assert "being called away is the wheel's next step" in notes(held)
