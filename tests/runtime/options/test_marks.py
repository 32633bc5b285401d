"""Marks of open option positions: value, P&L, greeks, and the triggers restated as levels."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from invest.runtime.domain import AccountState, Position, money
from invest.runtime.options.book import OptionBook
from invest.runtime.options.chain import OptionQuote
from invest.runtime.options.marks import mark_position, nearest
from invest.runtime.options.structures import bull_call, bull_put, covered_call
from invest.runtime.risk.options import SPREADS, monitor

from .test_options_risk import DAY, EXP, C, P, book_with, cfg


def _book(fee: float = 0.0) -> tuple[OptionBook, str]:
    """A 95/90 bull put of 2 contracts opened at a 1.50 credit (sold 2.00, bought 0.50)."""
    state = AccountState("a", money(100_000))
    book = book_with(state, (bull_put(P(95), P(90)), 2, [0.5, 2.0]), fee=fee)
    (pos,) = book.open_positions()
    return book, pos.id


def _quotes(long_mid: float, short_mid: float, *, greeks: bool = True) -> dict[str, OptionQuote]:
    def q(k: int, mid: float, delta: float, theta: float) -> OptionQuote:
        g = {"delta": delta, "gamma": 0.01, "theta": theta, "vega": 0.05} if greeks else {}
        return OptionQuote(P(k), mid - 0.05, mid + 0.05, **g)  # type: ignore[arg-type]

    return {
        P(90).symbol: q(90, long_mid, -0.10, -0.02),
        P(95).symbol: q(95, short_mid, -0.30, -0.05),
    }


def test_value_pnl_and_greeks_of_a_credit_spread() -> None:
    book, pid = _book(fee=0.65)
    pos = book.position(pid)
    day = DAY + timedelta(days=2)
    m = mark_position(pos, _quotes(0.40, 1.20), day, cfg(), auto_close=True, spot=97.0)
    # value: (+1 x 0.40 - 1 x 1.20) x 2 contracts x 100 = -160 (buying it back costs 160)
    assert m.value == pytest.approx(-160.0)
    # cash so far: +400 - 100 - 4 legs x 0.65 fees = 297.40; unrealised = 297.40 - 160
    assert m.unrealised == pytest.approx(137.40)
    assert m.dte == (EXP - day).days
    # delta: (+1 x -0.10 - 1 x -0.30) x 200 = +40 shares; theta (-0.02 + 0.05) x 200 = +6/day
    assert m.delta == pytest.approx(40.0)
    assert m.theta == pytest.approx(6.0)
    assert m.gamma == pytest.approx(0.0)
    assert m.spot == 97.0
    assert m.priced
    rules = {t.rule: t for t in m.triggers}
    # take profit at 50% of the 1.50 max gain: unit value -0.75, x 200 = -150; now -160
    assert rules["take_profit"].at == pytest.approx(-150.0)
    assert rules["take_profit"].distance == pytest.approx(10.0)
    # stop at 100% of the 3.50 max loss: unit value -3.5 - 1.5 = -5.00, x 200 = -1000
    assert rules["stop_loss"].at == pytest.approx(-1000.0)
    assert rules["stop_loss"].distance == pytest.approx(840.0)
    assert rules["auto_close"].distance == (EXP - day).days - 3
    assert nearest(m.triggers) is rules["take_profit"]
    assert rules["take_profit"].text() == "take profit at -150.00, 10.00 away"
    as_json = m.as_dict()
    assert as_json["triggers"][0]["rule"] == "take_profit"


def test_no_quote_keeps_the_last_value_and_only_the_dte_rule() -> None:
    book, pid = _book()
    quotes = _quotes(0.4, 1.2)
    del quotes[P(95).symbol]
    m = mark_position(book.position(pid), quotes, DAY, cfg(), auto_close=True, last_value=-170.0)
    assert not m.priced
    assert m.value == -170.0
    assert m.delta is None
    assert [t.rule for t in m.triggers] == ["auto_close"]
    # without greeks in the quotes the value is there, the greeks are not
    m2 = mark_position(
        book.position(pid), _quotes(0.4, 1.2, greeks=False), DAY, cfg(), auto_close=True
    )
    assert m2.value == pytest.approx(-160.0)
    assert m2.delta is None


def test_covered_calls_have_no_stop_and_the_dte_rule_follows_the_flag() -> None:
    state = AccountState("a", money(100_000))
    state.positions["XYZ"] = Position("XYZ", Decimal(100), Decimal(90), DAY)
    book = book_with(state, (covered_call(C(100)), 1, [1.0]))
    (pos,) = book.open_positions()
    quotes = {C(100).symbol: OptionQuote(C(100), 0.55, 0.65)}
    m = mark_position(pos, quotes, DAY, cfg(), auto_close=pos.structure.kind in SPREADS)
    assert [t.rule for t in m.triggers] == ["take_profit"]
    # take profit at 50% of the 1.00 premium: value -0.50 x 100; now -0.60 x 100
    assert m.triggers[0].at == pytest.approx(-50.0)
    assert m.triggers[0].distance == pytest.approx(10.0)
    # switching the rules off removes their triggers
    off = mark_position(pos, quotes, DAY, cfg(take_profit=None), auto_close=False)
    assert off.triggers == ()


@settings(max_examples=200, deadline=None)
@given(
    long_mid=st.floats(0.0, 5.0),
    short_mid=st.floats(0.0, 6.0),
    days=st.integers(0, 11),
    stop=st.sampled_from([0.5, 1.0]),
    basis=st.sampled_from(["max_loss", "credit"]),
    debit=st.booleans(),
)
def test_a_trigger_is_due_exactly_when_the_monitor_fires_it(
    long_mid: float, short_mid: float, days: int, stop: float, basis: str, debit: bool
) -> None:
    state = AccountState("a", money(1_000_000))
    structure = bull_call(C(95), C(100)) if debit else bull_put(P(95), P(90))
    prices = [3.0, 1.0] if debit else [0.5, 2.0]
    book = book_with(state, (structure, 3, prices))
    (pos,) = book.open_positions()
    c0, c1 = (leg.contract for leg in structure.legs)
    quotes = {
        c0.symbol: OptionQuote(c0, long_mid, long_mid),
        c1.symbol: OptionQuote(c1, short_mid, short_mid),
    }
    marks = {s: q.mid for s, q in quotes.items()}
    rules = cfg(stop_loss=stop, stop_basis=basis)
    day = DAY + timedelta(days=days)
    m = mark_position(pos, quotes, day, rules, auto_close=structure.kind in SPREADS)
    # the monitor allows 1e-9 per share; a distance in that band is left out
    assume(all(not 1e-9 < t.distance < 1e-6 for t in m.triggers))
    due = {t.rule for t in m.triggers if t.distance <= 1e-9}
    clear = {t.rule for t in m.triggers if t.distance >= 1e-6}
    fired = {e.rule for e in monitor(book, marks, day, rules)}
    # the monitor reports at most one exit: the stop first, then the take profit, then DTE
    first_due = next((r for r in ("stop_loss", "take_profit", "auto_close") if r in due), None)
    if first_due is not None:
        assert fired == {first_due}
    assert not (fired & clear)
    if len(clear) == len(m.triggers):
        assert fired == set()
