"""Mandates: the config, the risk engine's bucket step, bootstrap mode, and the cycle's record."""

from __future__ import annotations

import dataclasses
from datetime import date
from typing import Any

import numpy as np
import pytest
from pydantic import ValidationError

from invest.runtime.backtest.runner import replay
from invest.runtime.brokers.fills import FillModel
from invest.runtime.config import parse_config
from invest.runtime.config.mandate import MandateConfig, bucket_weights
from invest.runtime.cycle import AccountRuntime, MemorySink, run_cycle
from invest.runtime.data.sample import SampleData
from invest.runtime.domain import AccountState, Proposal, Side
from invest.runtime.errors import ConfigError
from invest.runtime.market import Market, load_market
from invest.runtime.risk.engine import RiskEngine, RiskResult
from invest.runtime.risk.mandate import hold_mandate
from tests.runtime.conftest import (
    account,
    columns,
    make_market,
    position,
    proposal,
    relaxed_risk,
    rising,
)

CORE = MandateConfig(buckets={"etf": 0.60, "stock": 0.30, "cash": 0.10}, band=0.05)
CLASSES = {"E": "etf", "A": "stock", "B": "stock", "C": "stock"}
CYCLE = "acct:2022-02-11"
N = 30
T = N - 1


def _market() -> Market:
    closes, syms = columns(
        E=rising(N, 85.5, 0.5),
        A=rising(N, 35.5, 0.5),
        B=rising(N, 17.1, 0.1),
        C=rising(N, 7.1, 0.1),
    )
    return make_market(closes, syms)


MARKET = _market()


def _engine(mandate: MandateConfig | None = CORE, **risk: Any) -> RiskEngine:
    return RiskEngine(
        "acct",
        relaxed_risk(**risk),
        FillModel(slippage_bps=0.0),
        mandate=mandate,
        asset_classes=CLASSES,
    )


def _mandate_clamps(res: RiskResult) -> dict[str, str]:
    return {c.symbol: c.reason for c in res.clamps if c.rule == "mandate"}


def _bought(res: RiskResult, market: Market) -> dict[str, float]:
    """Notional bought per symbol, at the row's close."""
    return {
        i.symbol: float(i.quantity) * market.price(i.symbol, T)
        for i in res.intents
        if i.side is Side.BUY
    }


# -- the config ----------------------------------------------------------------------------


def test_buckets_must_sum_to_one_and_the_error_says_the_sum() -> None:
    with pytest.raises(ValidationError, match=r"sum to 0\.9, not 1"):
        MandateConfig(buckets={"etf": 0.6, "stock": 0.2, "cash": 0.1})
    with pytest.raises(ValidationError, match='need a "cash" bucket'):
        MandateConfig(buckets={"etf": 0.6, "stock": 0.4})
    assert MandateConfig(buckets={"etf": 0.6, "stock": 0.3, "cash": 0.1}).cash == 0.1


def _settings(assets: dict[str, str], **account_kw: Any) -> Any:
    acct = {
        "universe": ["SP500", "AAPL", "MSFT"],
        "mandate": {"buckets": {"etf": 0.6, "stock": 0.3, "cash": 0.1}},
        **account_kw,
    }
    return parse_config({"assets": assets, "accounts": {"core": acct}})


def test_a_mandate_names_the_symbol_without_an_asset_class() -> None:
    with pytest.raises(ConfigError, match=r"MSFT has no asset class.*\[assets\]"):
        _settings({"SP500": "etf", "AAPL": "stock"})
    s = _settings({"sp500": "ETF", "AAPL": "stock", "MSFT": "stock"})
    assert s.assets == {"SP500": "etf", "AAPL": "stock", "MSFT": "stock"}
    assert s.account("core").mandate is not None
    with pytest.raises(ConfigError, match='"cash" is the reserved cash bucket'):
        _settings({"SP500": "cash", "AAPL": "stock", "MSFT": "stock"})


def test_bucket_weights_count_cash_as_what_the_symbols_leave() -> None:
    got = bucket_weights({"E": 0.5, "A": 0.2, "B": 0.1}, CLASSES, CORE)
    assert got == pytest.approx({"etf": 0.5, "stock": 0.3, "cash": 0.2})


# -- the bucket step ---------------------------------------------------------------------


def test_a_book_inside_its_band_is_not_touched() -> None:
    targets = {"E": 0.63, "A": 0.14, "B": 0.13}  # etf 63%, stock 27%, cash 10%
    out, clamps = hold_mandate(targets, CORE, CLASSES)
    assert out == targets
    assert clamps == []


def test_an_over_weight_bucket_is_scaled_to_its_target() -> None:
    out, clamps = hold_mandate({"E": 0.2, "A": 0.4, "B": 0.2}, CORE, CLASSES)
    # stock 60% > 30% + 5%: A and B keep their ratio at 30%; etf 20% stays, under-weight.
    assert out == pytest.approx({"E": 0.2, "A": 0.2, "B": 0.1})
    reasons = {c.symbol: c.reason for c in clamps}
    assert reasons["stock"] == "stock bucket 60.0% over its 30% target + 5% band: scaled to 30%"
    assert "etf bucket 20.0% under its 60% target - 5% band: stays under-weight" in reasons["etf"]
    assert all(c.rule == "mandate" for c in clamps)


def test_the_cash_bucket_is_a_floor_and_the_stricter_floor_wins() -> None:
    targets = {"E": 0.64, "A": 0.34}  # both within their bands, cash only 2%
    out, clamps = hold_mandate(targets, CORE, CLASSES)
    assert sum(out.values()) == pytest.approx(0.90)
    assert out["E"] / out["A"] == pytest.approx(0.64 / 0.34)
    assert [c.symbol for c in clamps] == ["cash"]
    assert "under its 10% floor" in clamps[0].reason
    out, _ = hold_mandate(targets, CORE, CLASSES, min_cash_pct=0.20)
    assert sum(out.values()) == pytest.approx(0.80)  # the profile's reserve is stricter


def test_a_symbol_without_a_bucket_gets_target_zero() -> None:
    out, clamps = hold_mandate({"E": 0.6, "X": 0.1}, CORE, {**CLASSES, "X": "bond"})
    assert out == {"E": 0.6}
    assert "a class the mandate has no bucket for" in _reasons(clamps)["X"]
    out, clamps = hold_mandate({"E": 0.6, "Y": 0.1}, CORE, CLASSES)
    assert out == {"E": 0.6}
    assert "no asset class" in _reasons(clamps)["Y"]


def _reasons(clamps: list[Any]) -> dict[str, str]:
    return {c.symbol: c.reason for c in clamps}


# -- in the risk engine ---------------------------------------------------------------------


def test_the_mandate_moves_the_orders_of_a_book_that_breaks_it() -> None:
    want = proposal(E=0.3, A=0.3, B=0.3)  # stock 60%: over its 30% + 5%
    with_mandate = _engine().plan(MARKET, T, CYCLE, account(10_000), want)
    without = _engine(None).plan(MARKET, T, CYCLE, account(10_000), want)
    assert _bought(without, MARKET) == pytest.approx({"E": 3000, "A": 3000, "B": 3000}, abs=100)
    assert _bought(with_mandate, MARKET) == pytest.approx(
        {"E": 3000, "A": 1500, "B": 1500}, abs=100
    )
    assert with_mandate.targets == pytest.approx({"E": 0.3, "A": 0.15, "B": 0.15})
    assert "stock" in _mandate_clamps(with_mandate)
    assert _mandate_clamps(without) == {}


def test_a_book_inside_the_mandate_gets_the_same_orders_as_without_one() -> None:
    want = proposal(E=0.6, A=0.15, B=0.15)
    a = _engine().plan(MARKET, T, CYCLE, account(10_000), want)
    b = _engine(None).plan(MARKET, T, CYCLE, account(10_000), want)
    assert a.intents == b.intents
    assert _mandate_clamps(a) == {}


class _Fixed:
    """A strategy that always proposes the same targets."""

    name = "fixed"

    def __init__(self, **targets: float) -> None:
        self.targets = targets

    def prepare(self, market: Market) -> None:
        pass

    def propose(self, t: int, state: AccountState) -> Proposal:
        return proposal(**self.targets)


def test_the_cycle_builds_the_mandate_from_the_config_and_records_its_clamps() -> None:
    settings = parse_config(
        {
            "assets": {"E": "etf", "A": "stock", "B": "stock", "C": "stock"},
            "accounts": {
                "core": {
                    "universe": ["E", "A", "B", "C"],
                    "benchmark": "E",
                    "risk": "loose",
                    "mandate": {"buckets": {"etf": 0.6, "stock": 0.3, "cash": 0.1}},
                }
            },
            "risk_profiles": {"loose": relaxed_risk().model_dump()},
        }
    )
    acct = AccountRuntime.build("core", settings, strategy=_Fixed(E=0.3, A=0.3, B=0.3))
    acct.strategy.prepare(MARKET)
    sink = MemorySink()
    res = run_cycle(acct, MARKET, T, sink)
    record = sink.decisions[-1]
    assert {"rule": "mandate", "symbol": "stock"} in [
        {k: c[k] for k in ("rule", "symbol")} for c in record["clamps"]
    ]
    assert _bought(res, MARKET) == pytest.approx({"E": 3000, "A": 1500, "B": 1500}, abs=100)


# -- bootstrap mode ------------------------------------------------------------------------


def _wide_market() -> Market:
    series = {f"S{j}": rising(N, 20.0 + j, 0.1) for j in range(12)}
    closes, syms = columns(**series)
    return make_market(closes, syms)


WIDE = _wide_market()
TWELVE = proposal(**{f"S{j}": 0.07 for j in range(12)})  # 12 buys wanted, 84% invested


def _plan(state: AccountState, **risk: Any) -> RiskResult:
    return _engine(None, max_trades_per_cycle=5, **risk).plan(WIDE, T, CYCLE, state, TWELVE)


def test_bootstrap_mode_multiplies_the_trade_cap_of_a_cash_heavy_account() -> None:
    on = _plan(account(10_000), bootstrap_cash_pct=0.80, bootstrap_trade_factor=2)
    off = _plan(account(10_000))
    assert len(on.intents) == 10
    assert len(off.intents) == 5
    boot = [c for c in on.clamps if c.rule == "bootstrap"]
    assert [c.symbol for c in boot] == ["*"]
    assert boot[0].reason == "cash 100.0% of equity > 80%: up to 10 trades this cycle (5 x2)"
    assert sum(c.rule == "max_trades" for c in on.clamps) == 2
    assert not any(c.rule == "bootstrap" for c in off.clamps)


def test_bootstrap_mode_stays_off_while_cash_is_under_its_edge() -> None:

    day = WIDE.day(T)
    held = account(1_000, position("S0", 500, 20.0, day))  # about 90% invested
    res = _plan(held, bootstrap_cash_pct=0.80)
    assert not any(c.rule == "bootstrap" for c in res.clamps)
    assert len(res.intents) <= 5


# -- the sample's ETF stand-in -------------------------------------------------------------


def test_an_account_holds_the_sample_index_as_its_etf_in_a_backtest() -> None:

    settings = parse_config(
        {
            "assets": {"SP500": "etf", "KO": "stock"},
            "risk_profiles": {"core": {"max_position_pct": 0.8}},
            "accounts": {
                "core": {
                    "universe": ["SP500", "KO"],
                    "schedule": "30 16 * * fri",
                    "risk": "core",
                    "trend_king": {"top_n": 2, "max_weight": 0.8},
                    "mandate": {"buckets": {"etf": 0.5, "stock": 0.1, "cash": 0.4}},
                }
            },
        }
    )
    acct = AccountRuntime.build("core", settings, paper=True)
    market = load_market(SampleData(), acct, date(2022, 12, 30))
    result = replay(acct, market, date(2021, 1, 4))
    bought = {f.symbol for f in result.fills if f.side is Side.BUY}
    assert "SP500" in bought  # the benchmark column trades like any other
    targets = [d["targets"] for d in result.decisions if d.get("targets")]
    assert targets
    assert max(t.get("SP500", 0.0) for t in targets) <= 0.55 + 1e-4  # its bucket + band
    assert max(sum(t.values()) for t in targets) <= 0.6 + 1e-3  # cash at its 40% floor
    assert any(c["rule"] == "mandate" for d in result.decisions for c in d["clamps"])


def test_a_mandate_account_decides_the_same_up_to_d_whatever_comes_after() -> None:
    # Point in time: the sample cut at D, and the sample whose closes after D are a
    # seeded random walk, give the same records, fills and equity up to D.

    cut = date(2021, 6, 30)
    source = SampleData()
    frame = source.load(("SP500", "KO", "MSFT", "XOM", "JPM"), None, date(2022, 6, 30))
    after = frame.dates > np.datetime64(cut, "D")
    close = frame.close.copy()
    steps = np.random.default_rng(3).normal(0.0, 0.03, size=(int(after.sum()), close.shape[1]))
    close[after] = close[~after][-1] * np.exp(np.cumsum(steps, axis=0))
    walked = dataclasses.replace(frame, close=close)
    settings = parse_config(
        {
            "assets": {
                "SP500": "etf",
                "KO": "stock",
                "MSFT": "stock",
                "XOM": "stock",
                "JPM": "stock",
            },
            "risk_profiles": {"boot": {"bootstrap_cash_pct": 0.8, "max_trades_per_cycle": 1}},
            "accounts": {
                "core": {
                    "universe": ["SP500", "KO", "MSFT", "XOM", "JPM"],
                    "risk": "boot",
                    "trend_king": {"top_n": 4},
                    "mandate": {"buckets": {"etf": 0.3, "stock": 0.4, "cash": 0.3}},
                }
            },
        }
    )
    runs = []
    for f in (frame.between(None, cut), walked):
        acct = AccountRuntime.build("core", settings, paper=True)
        runs.append(replay(acct, Market(f), date(2021, 1, 4)))
    upto = [
        (
            [d for d in r.decisions if d["day"] <= cut.isoformat()],
            [x.client_order_id for x in r.fills if x.day <= cut],
            list(r.equity[: sum(d <= cut for d in r.days)]),
        )
        for r in runs
    ]
    assert upto[0] == upto[1]
    rules = {c["rule"] for d in upto[0][0] for c in d["clamps"]}
    assert {"mandate", "bootstrap"} <= rules  # both parts ran before D
