"""The risk engine's VaR limit (step 5) and the book's monitors in the explanation record."""

from __future__ import annotations

import re
from datetime import timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import pytest

from invest.runtime.brokers.fills import FillModel
from invest.runtime.brokers.paper import PaperBroker
from invest.runtime.config import AccountConfig, RiskProfile
from invest.runtime.cycle import AccountRuntime, MemorySink, run_cycle
from invest.runtime.domain import AccountState, Proposal, Regime, Side
from invest.runtime.engine.account_cycle import run_account_cycle
from invest.runtime.ledger import Ledger, reads
from invest.runtime.market import Market
from invest.runtime.risk.engine import RiskEngine, RiskResult
from invest.runtime.risk.monitors import historical_var, portfolio_returns
from tests.runtime.conftest import account, engine, make_market, position, proposal, relaxed_risk
from tests.runtime.engine.support import ny, paths, settings

N = 301  # sessions: 300 returns
T = N - 1
CYCLE = "acct:var"


def _walk(rng: np.random.Generator, sigma: float, n: int = N) -> npt.NDArray[np.float64]:
    rets = rng.normal(0.0005, sigma, n - 1)
    return 100.0 * np.concatenate([[1.0], np.cumprod(1.0 + rets)])


@pytest.fixture(scope="module")
def calm_wild() -> Market:
    """CALM moves 0.5% a day, WILD 4%: 300 seeded returns each."""
    rng = np.random.default_rng(16)
    closes = np.column_stack([_walk(rng, 0.005), _walk(rng, 0.04)])
    return make_market(closes, ("CALM", "WILD"))


def _rets(market: Market, sym: str, t: int, lookback: int) -> npt.NDArray[np.float64]:
    """The test's own returns: close over the close before, rows t-lookback+1 .. t."""
    c = market.close[:, market.col[sym]]
    return c[t - lookback + 1 : t + 1] / c[t - lookback : t] - 1.0


def _half_calm(market: Market) -> AccountState:
    """10,000 of equity: half in CALM, half cash."""
    price = float(market.close[T, market.col["CALM"]])
    qty = 5_000 / price
    return account(5_000, position("CALM", qty, price, market.day(T) - timedelta(days=365)))


def _var_risk(**kw: Any) -> RiskProfile:
    return relaxed_risk(var_limit_pct=0.02, var_level=0.99, **kw)


# -- the limit moves the buy -------------------------------------------------------------------


def test_the_var_limit_shrinks_a_buy_and_the_record_shows_the_numbers(calm_wild: Market) -> None:
    state = _half_calm(calm_wild)
    res = engine(_var_risk()).plan(calm_wild, T, CYCLE, state, proposal(CALM=0.5, WILD=0.4))
    (buy,) = [i for i in res.intents if i.side is Side.BUY]
    assert buy.symbol == "WILD"
    price = float(calm_wild.close[T, calm_wild.col["WILD"]])
    allowed = float(buy.quantity) * price / res.equity
    # The test's own VaR of the book with the allowed buy and with a bit more of it.
    m = np.column_stack([_rets(calm_wild, "CALM", T, 250), _rets(calm_wild, "WILD", T, 250)])
    full = historical_var(portfolio_returns([0.5, 0.4], m), 0.99)
    assert full > 0.02
    assert 0.0 < allowed < 0.4
    assert historical_var(portfolio_returns([0.5, allowed], m), 0.99) <= 0.02 + 1e-9
    assert historical_var(portfolio_returns([0.5, allowed + 5e-4], m), 0.99) > 0.02
    (clamp,) = [c for c in res.clamps if c.rule == "var_limit"]
    assert clamp.symbol == "WILD"
    assert clamp.reason.startswith(f"VaR 99% 1-day would be {full:.2%} > 2.00%: buy shrunk from")
    # ... and the money: the 4,000.00 wanted and what is left, which the order buys.
    shrunk = re.search(r"; 4,000\.00 -> ([\d,]+\.\d\d)$", clamp.reason)
    assert shrunk is not None
    assert float(shrunk.group(1).replace(",", "")) == pytest.approx(allowed * res.equity, abs=0.01)


def test_the_same_cycle_without_the_limit_buys_the_full_amount(calm_wild: Market) -> None:
    state = _half_calm(calm_wild)
    res = engine(relaxed_risk()).plan(calm_wild, T, CYCLE, state, proposal(CALM=0.5, WILD=0.4))
    (buy,) = [i for i in res.intents if i.side is Side.BUY]
    price = float(calm_wild.close[T, calm_wild.col["WILD"]])
    assert float(buy.quantity) * price == pytest.approx(4_000, abs=0.01)
    assert "var_limit" not in {c.rule for c in res.clamps}


def test_the_parametric_method_gives_its_own_answer(calm_wild: Market) -> None:
    hist = engine(_var_risk()).plan(
        calm_wild, T, CYCLE, _half_calm(calm_wild), proposal(CALM=0.5, WILD=0.4)
    )
    norm = engine(_var_risk(var_method="parametric")).plan(
        calm_wild, T, CYCLE, _half_calm(calm_wild), proposal(CALM=0.5, WILD=0.4)
    )
    assert [c.rule for c in hist.clamps] == ["var_limit"]
    (n,) = [c for c in norm.clamps if c.rule == "var_limit"]
    assert n.reason.startswith("normal VaR 99%")
    assert hist.intents[-1].quantity != norm.intents[-1].quantity


def test_a_shorter_lookback_reads_fewer_days(calm_wild: Market) -> None:
    long = engine(_var_risk()).plan(
        calm_wild, T, CYCLE, _half_calm(calm_wild), proposal(CALM=0.5, WILD=0.4)
    )
    short = engine(_var_risk(var_lookback=60)).plan(
        calm_wild, T, CYCLE, _half_calm(calm_wild), proposal(CALM=0.5, WILD=0.4)
    )
    assert long.intents[-1].quantity != short.intents[-1].quantity


def test_a_sell_this_cycle_makes_room_for_the_buy(calm_wild: Market) -> None:
    # The book the limit measures is after this cycle's sells: selling CALM lowers the VaR.
    keep = engine(_var_risk()).plan(
        calm_wild, T, CYCLE, _half_calm(calm_wild), proposal(CALM=0.5, WILD=0.4)
    )
    sell = engine(_var_risk()).plan(calm_wild, T, CYCLE, _half_calm(calm_wild), proposal(WILD=0.4))
    assert [i.side for i in sell.intents] == [Side.SELL, Side.BUY]
    assert sell.intents[-1].quantity > keep.intents[-1].quantity


def test_a_buy_without_enough_history_is_blocked_with_the_reason() -> None:
    rng = np.random.default_rng(3)
    closes = np.column_stack([_walk(rng, 0.01, 60), _walk(rng, 0.01, 60)])
    closes[:45, 1] = np.nan  # NEW listed 15 sessions ago: 14 returns
    market = make_market(closes, ("OLD", "NEW"))
    res = engine(_var_risk()).plan(market, 59, CYCLE, account(10_000), proposal(OLD=0.3, NEW=0.3))
    assert [i.symbol for i in res.intents] == ["OLD"]
    (clamp,) = [c for c in res.clamps if c.rule == "var_limit"]
    assert clamp.symbol == "NEW"
    assert "only 14 complete days" in clamp.reason
    assert "blocked" in clamp.reason


def test_the_limit_decides_on_data_through_the_cycle_row_only(calm_wild: Market) -> None:
    # The data truncated at D and the data with a random-walk future after D give the
    # same orders, clamps and monitors at D.
    d = 260
    cut = make_market(calm_wild.close[: d + 1], calm_wild.symbols)
    rng = np.random.default_rng(99)
    future = calm_wild.close.copy()
    # A falling walk: any row after D that leaked in would be the book's worst day.
    steps = rng.normal(-0.3, 0.05, (N - d - 1, 2))
    future[d + 1 :] = future[d] * np.cumprod(1 + steps, axis=0)
    walk = make_market(future, calm_wild.symbols)
    out = []
    for market in (cut, walk):
        price = float(market.close[d, 0])
        state = account(5_000, position("CALM", 5_000 / price, price, market.day(d)))
        res = engine(_var_risk()).plan(
            market, d, CYCLE, state, proposal(CALM=0.5, WILD=0.4), risk_monitors=True
        )
        out.append((res.intents, res.clamps, res.risk))
    assert any(c.rule == "var_limit" for c in out[0][1])
    assert out[0] == out[1]


# -- the monitors --------------------------------------------------------------------------------


def _hand_market() -> Market:
    """A has 100 returns of +0.1% but five losses; B gains 0.1% every day."""
    ra = np.full(100, 0.001)
    ra[[10, 30, 50, 70, 90]] = [-0.05, -0.01, -0.03, -0.04, -0.02]
    rb = np.full(100, 0.001)
    closes = np.column_stack(
        [
            100 * np.concatenate([[1.0], np.cumprod(1 + ra)]),
            50 * np.concatenate([[1.0], np.cumprod(1 + rb)]),
        ]
    )
    return make_market(closes, ("A", "B"))


def test_the_book_var_and_cvar_match_a_hand_computation() -> None:
    market = _hand_market()
    t = 100
    pa, pb = float(market.close[t, 0]), float(market.close[t, 1])
    # 10,000 of equity: 40% in A, 20% in B, 40% cash.
    state = account(4_000, position("A", 4_000 / pa, pa, market.day(t)))
    state.positions["B"] = position("B", 2_000 / pb, pb, market.day(t))
    res = engine(relaxed_risk(var_lookback=100)).plan(
        market, t, CYCLE, state, None, risk_monitors=True
    )
    assert res.risk is not None
    # The book's day is 0.4 rA + 0.2 rB. Its five worst, by hand, ascending:
    # 0.4 x (-0.05, -0.04, -0.03, -0.02, -0.01) + 0.2 x 0.001.
    worst = [0.4 * r + 0.0002 for r in (-0.05, -0.04, -0.03, -0.02, -0.01)]
    assert res.risk["var99"] == pytest.approx(-worst[0], abs=1e-12)  # k = ceil(100 x 1%) = 1
    assert res.risk["cvar99"] == pytest.approx(-worst[0], abs=1e-12)
    assert res.risk["var95"] == pytest.approx(-worst[4], abs=1e-12)  # k = 5: the 5th worst
    assert res.risk["cvar95"] == pytest.approx(-sum(worst) / 5, abs=1e-12)  # their mean
    assert res.risk["largest"] == pytest.approx(0.4)
    assert res.risk["top3"] == pytest.approx(0.6)
    assert res.risk["hhi"] == pytest.approx((2 / 3) ** 2 + (1 / 3) ** 2)
    assert res.risk["drawdown"] == res.drawdown


def test_an_empty_book_has_zero_risk_and_monitors_are_off_by_default() -> None:
    market = _hand_market()
    res = engine(relaxed_risk()).plan(market, 100, CYCLE, account(10_000), None)
    assert res.risk is None
    res = engine(relaxed_risk()).plan(market, 100, CYCLE, account(10_000), None, risk_monitors=True)
    assert res.risk == dict.fromkeys(
        ("var95", "var99", "cvar95", "cvar99", "largest", "top3", "hhi", "drawdown"), 0.0
    )


class _Fixed:
    name = "fixed"

    def __init__(self, targets: dict[str, float]) -> None:
        self.targets = targets

    def prepare(self, market: Market) -> None:
        """Nothing to prepare."""

    def propose(self, t: int, state: AccountState) -> Proposal:
        """The fixed targets."""
        return Proposal(dict(self.targets), Regime.ATTACK, {})


def _runtime(market: Market, state: AccountState) -> AccountRuntime:
    return AccountRuntime(
        name="acct",
        config=AccountConfig(universe=market.symbols, benchmark="A", cash=10_000.0),
        strategy=_Fixed({"A": 0.4, "B": 0.2}),  # type: ignore[arg-type]
        risk=RiskEngine("acct", relaxed_risk(var_lookback=100), FillModel(slippage_bps=0)),
        broker=PaperBroker(FillModel(slippage_bps=0)),
        state=state,
    )


def test_a_live_cycle_records_the_risk_and_a_backtest_cycle_does_not() -> None:
    market = _hand_market()
    t = 100
    pa = float(market.close[t, 0])
    state = account(6_000, position("A", 4_000 / pa, pa, market.day(t)))
    live, replay = MemorySink(), MemorySink()
    run_cycle(_runtime(market, state), market, t, live, outbox=[])
    res: RiskResult = run_cycle(_runtime(market, state), market, t, replay)
    assert res.risk is None
    assert "risk" not in replay.decisions[0]
    risk = live.decisions[0]["risk"]
    assert set(risk) == {"var95", "var99", "cvar95", "cvar99", "largest", "top3", "hhi", "drawdown"}
    assert risk["var99"] == round(0.4 * 0.05, 6)  # A alone at 40%: its worst day, -5%
    assert risk["largest"] == 0.4
    # The caller may ask in a replay too.
    asked = MemorySink()
    run_cycle(_runtime(market, state), market, t, asked, risk_monitors=True)
    assert asked.decisions[0]["risk"] == risk


def test_decimal_quantities_are_measured_at_the_mark() -> None:
    # The book's weights come from quantity x today's mark over equity, not the cost.
    market = _hand_market()
    t = 100
    state = account(6_000, position("A", Decimal(40), Decimal(1), market.day(t)))
    res = engine(relaxed_risk()).plan(market, t, CYCLE, state, None, risk_monitors=True)
    assert res.risk is not None
    pa = float(market.close[t, 0])
    assert res.risk["largest"] == pytest.approx(40 * pa / (6_000 + 40 * pa))


def test_the_live_path_writes_the_risk_into_the_ledger_and_a_dry_run_does_not(
    tmp_path: Path,
) -> None:
    cfg = settings()
    ledger = Ledger(tmp_path / "ledger.sqlite")
    ledger.ensure_account("daily", cfg.account("daily"))
    for day in ("2021-06-03", "2021-06-04"):  # the second settles the first's buys
        run_account_cycle("daily", cfg, paths(tmp_path), ledger, end=ny(day).date())
    latest, first = reads.decisions(ledger.conn, "daily", 2)
    assert first["risk"]["var99"] == 0.0  # an empty book on the first day
    risk = latest["risk"]
    assert risk["var99"] > 0.0
    assert risk["cvar99"] >= risk["var99"] >= risk["var95"] > 0.0
    assert risk["largest"] == pytest.approx(max(latest["weights"].values()), abs=1e-4)
    dry = run_account_cycle(
        "daily", cfg, paths(tmp_path), ledger, dry_run=True, end=ny("2021-06-07").date()
    )
    assert dry.latest is not None
    assert "risk" not in dry.latest
    ledger.close()
