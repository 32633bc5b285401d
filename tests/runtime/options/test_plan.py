from dataclasses import replace
from datetime import date
from decimal import Decimal

import pytest

from invest.runtime.options.contracts import OptionContract, Right
from invest.runtime.options.plan import (
    OpenProposal,
    OptionOrder,
    OptionsPlan,
    OrderAction,
    option_order_id,
    within_candidates,
)
from invest.runtime.options.structures import bull_put, cash_secured_put

EXPIRY = date(2022, 7, 15)


def put(strike: int) -> OptionContract:
    return OptionContract("SPY", EXPIRY, Right.PUT, Decimal(strike))


CSP = OpenProposal(cash_secured_put(put(380)), 2, 4.1, (), "csp at 0.30 delta")
SPREAD = OpenProposal(bull_put(put(380), put(375)), 3, 1.2, (), "bull put")


def test_an_llm_plan_may_choose_and_shrink_but_never_invent_or_enlarge() -> None:
    candidates = (CSP, SPREAD)
    assert within_candidates(OptionsPlan(opens=(replace(SPREAD, contracts=1),)), candidates) == []
    bigger = within_candidates(OptionsPlan(opens=(replace(SPREAD, contracts=4),)), candidates)
    assert bigger == [f"bull_put {SPREAD.key}: 4 contracts > the rules' 3"]
    invented = OpenProposal(bull_put(put(385), put(375)), 1, 2.0, (), "made up")
    assert (
        "not among the rules' candidates"
        in within_candidates(OptionsPlan(opens=(invented,)), candidates)[0]
    )


def test_option_order_ids_are_stable_and_distinct_per_action() -> None:
    a = option_order_id("wheel", "wheel:2022-06-01", "pos-1", OrderAction.OPEN)
    assert a == option_order_id("wheel", "wheel:2022-06-01", "pos-1", OrderAction.OPEN)
    assert a != option_order_id("wheel", "wheel:2022-06-01", "pos-1", OrderAction.CLOSE)
    with pytest.raises(ValueError, match="contracts > 0"):
        OptionOrder("w", "c", OrderAction.OPEN, "p", CSP.structure, 0, 1.0, "r", a)
