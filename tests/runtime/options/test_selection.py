"""Selection on a modelled chain: the expiry window, strikes by delta, every spread and its rules."""

from __future__ import annotations

from datetime import date

import numpy as np
import pytest

from invest.runtime.clock import nyse
from invest.runtime.config.options import SelectionConfig, WidthRule
from invest.runtime.data.frame import BarFrame
from invest.runtime.errors import ConfigError
from invest.runtime.options.analytics import quote_delta
from invest.runtime.options.chain import OptionChain
from invest.runtime.options.contracts import Right
from invest.runtime.options.modelled import ModelledChainSource, is_monthly
from invest.runtime.options.selection import by_delta, pick_expiry, select
from invest.runtime.options.structures import StructureKind

D = date(2016, 6, 15)
LENIENT = SelectionConfig(min_dte=20, max_dte=50, min_credit_fraction=0.05, max_debit_fraction=0.95)


@pytest.fixture(scope="module")
def chain() -> OptionChain:
    dates = nyse().sessions(date(2016, 1, 4), D)
    rng = np.random.default_rng(7)
    close = 2000 * np.exp(np.cumsum(rng.normal(0, 0.01, len(dates))))
    frame = BarFrame(dates=dates.copy(), symbols=("SP500",), close=close[:, None], source="t")
    return ModelledChainSource(frame).chain("SP500", D)


def test_pick_expiry_in_the_window(chain: OptionChain) -> None:
    dtes = {e: (e - D).days for e in chain.expiries()}
    nearest = pick_expiry(chain, 20, 50)
    assert nearest is not None
    assert nearest == min(e for e, d in dtes.items() if 20 <= d <= 50)
    monthly = pick_expiry(chain, 5, 50, prefer="monthly")
    assert monthly is not None
    assert is_monthly(monthly)
    assert monthly != pick_expiry(chain, 5, 50)  # a weekly is nearer
    assert pick_expiry(chain, 400, 500) is None
    refused = select("bull_put", chain, SelectionConfig(min_dte=400, max_dte=500))
    assert not refused.ok
    assert "no expiry of SP500 with 400..500 days" in refused.reason


def test_by_delta_picks_the_nearest_delta(chain: OptionChain) -> None:
    exp = pick_expiry(chain, 20, 50)
    assert exp is not None
    for right, target in [(Right.PUT, 0.30), (Right.CALL, 0.16), (Right.CALL, 0.5)]:
        q = by_delta(chain, exp, right, target)
        assert q is not None
        gaps = [abs(abs(quote_delta(chain, o) or 0) - target) for o in chain.side(exp, right)]
        assert abs(abs(q.delta or 0) - target) == min(gaps)
        assert abs(abs(q.delta or 0) - target) < 0.05


@pytest.mark.parametrize("kind", list(StructureKind))
def test_every_kind_is_built_from_a_modelled_chain(chain: OptionChain, kind: StructureKind) -> None:
    picked = select(kind, chain, LENIENT)
    assert picked.ok, picked.reason
    assert picked.structure is not None
    assert picked.structure.kind is kind
    exp = pick_expiry(chain, 20, 50)
    assert {q.contract.expiry for q in picked.quotes} == {exp}
    assert {q.contract.symbol for q in picked.quotes} == {
        leg.contract.symbol for leg in picked.structure.legs
    }
    assert (picked.net_premium > 0) is picked.structure.is_credit


def test_credit_spreads_take_the_short_strike_by_delta_and_the_width_in_strikes(
    chain: OptionChain,
) -> None:
    picked = select("bull_put", chain, LENIENT)
    short, long = picked.quotes
    exp = short.contract.expiry
    assert short == by_delta(chain, exp, Right.PUT, LENIENT.credit_short_delta)
    puts = [q.contract.strike for q in chain.side(exp, Right.PUT)]
    assert puts.index(short.contract.strike) - puts.index(long.contract.strike) == 2
    wide = select("bull_put", chain, LENIENT.model_copy(update={"width": WidthRule(value=4)}))
    assert wide.quotes[1].contract.strike < long.contract.strike


def test_width_in_percent_of_spot(chain: OptionChain) -> None:
    cfg = LENIENT.model_copy(update={"width": WidthRule(unit="percent", value=5)})
    picked = select("bear_call", chain, cfg)
    short, long = picked.quotes
    target = float(short.contract.strike) + 0.05 * chain.spot
    calls = [float(q.contract.strike) for q in chain.side(short.contract.expiry, Right.CALL)]
    assert float(long.contract.strike) == min(calls, key=lambda k: abs(k - target))


def test_the_credit_rule_refuses_and_says_why(chain: OptionChain) -> None:
    strict = LENIENT.model_copy(update={"min_credit_fraction": 0.9})
    for kind in ("bull_put", "bear_call", "iron_condor"):
        assert select(kind, chain, LENIENT).ok
        refused = select(kind, chain, strict)
        assert not refused.ok
        assert refused.structure is None
        assert "is below 0.9 x width" in refused.reason
        assert refused.net_premium == select(kind, chain, LENIENT).net_premium


def test_the_debit_rule_refuses_and_says_why(chain: OptionChain) -> None:
    strict = LENIENT.model_copy(update={"max_debit_fraction": 0.01})
    for kind in ("bull_call", "bear_put", "butterfly"):
        assert select(kind, chain, LENIENT).ok
        refused = select(kind, chain, strict)
        assert not refused.ok
        assert "is above 0.01 x width" in refused.reason


def test_no_strike_at_the_width_is_a_refusal(chain: OptionChain) -> None:
    far = LENIENT.model_copy(update={"width": WidthRule(value=500)})
    refused = select("bull_put", chain, far)
    assert not refused.ok
    assert "no strike 500 strikes below" in refused.reason


def test_natural_prices_are_stricter_than_mid(chain: OptionChain) -> None:
    natural = select("bull_put", chain, LENIENT)
    mid = select("bull_put", chain, LENIENT.model_copy(update={"price_at": "mid"}))
    assert natural.quotes == mid.quotes
    assert natural.net_premium < mid.net_premium
    debit_natural = select("bull_call", chain, LENIENT)
    debit_mid = select("bull_call", chain, LENIENT.model_copy(update={"price_at": "mid"}))
    assert debit_natural.net_premium < debit_mid.net_premium  # a larger debit


def test_unknown_kind_is_a_clear_error(chain: OptionChain) -> None:
    with pytest.raises(ConfigError, match="unknown structure kind 'strangle'"):
        select("strangle", chain)
