"""Sizing, the risk engine's step 4: vol target, fractional Kelly, fixed fraction.

Each rule clamps a book that breaks it and leaves one that does not alone, with
numbers computed by hand on two assets; each clamp reaches a cycle's explanation
record; the returns read at row t are rows <= t only.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from datetime import date, timedelta

import numpy as np
import pytest

from invest.runtime.backtest.runner import BacktestResult, replay
from invest.runtime.brokers.fills import FillModel
from invest.runtime.config import AccountConfig, parse_config
from invest.runtime.config.portfolio import PortfolioConfig
from invest.runtime.cycle import AccountRuntime, MemorySink, run_cycle
from invest.runtime.data.frame import BarFrame
from invest.runtime.data.sample import SampleData
from invest.runtime.domain import AccountState, Proposal, Regime
from invest.runtime.market import Market
from invest.runtime.portfolio.sizing import fixed_fraction, kelly, size, vol_target
from invest.runtime.risk.engine import RiskEngine
from tests.runtime.conftest import account, make_market, position, proposal, relaxed_risk

# Two names whose daily returns are orthogonal with equal variance a^2 and mean 0:
# the sample covariance is a^2 I already, so Ledoit-Wolf shrinks nothing and each
# name's annual vol is a sqrt(252).
A = 0.01
ORTHO = np.array([[A, A], [-A, A], [A, -A], [-A, -A]] * 10)
NAME_VOL = A * math.sqrt(252)  # 15.87%


def _book_vol(w1: float, w2: float) -> float:
    return NAME_VOL * math.sqrt(w1 * w1 + w2 * w2)


# -- vol target -------------------------------------------------------------------------


def test_vol_target_scales_a_riskier_book_down_by_hand() -> None:
    out, clamps = vol_target(
        {"X": 0.45, "Y": 0.45}, ["X", "Y"], ORTHO, target_vol=0.05, budget=0.95, cap=0.5
    )
    scale = 0.05 / _book_vol(0.45, 0.45)  # 0.05 / 10.10% = 0.495
    assert out == pytest.approx({"X": 0.45 * scale, "Y": 0.45 * scale}, rel=1e-12)
    assert [(c.rule, c.symbol) for c in clamps] == [("vol_target", "*")]
    assert "book vol 10.1% vs target 5.0%" in clamps[0].reason
    assert "exposure 90.0% x0.495 = 44.5%" in clamps[0].reason


def test_vol_target_scales_a_calmer_book_up_within_the_budget_and_cap() -> None:
    out, _ = vol_target(
        {"X": 0.3, "Y": 0.3}, ["X", "Y"], ORTHO, target_vol=0.10, budget=0.95, cap=0.5
    )
    scale = 0.10 / _book_vol(0.3, 0.3)  # 1.485: 89.1% invested, under the 95% budget
    assert out["X"] == pytest.approx(0.3 * scale, rel=1e-12)
    # A 20% target would need x2.97: stopped at the budget (95% / 60%).
    out, clamps = vol_target(
        {"X": 0.3, "Y": 0.3}, ["X", "Y"], ORTHO, target_vol=0.20, budget=0.95, cap=0.5
    )
    assert sum(out.values()) == pytest.approx(0.95, rel=1e-12)
    assert "no further" in clamps[0].reason
    # ... and at the cap per name when that binds first (0.5 / 0.4 < 0.95 / 0.6).
    out, _ = vol_target(
        {"X": 0.4, "Y": 0.2}, ["X", "Y"], ORTHO, target_vol=0.5, budget=0.95, cap=0.5
    )
    assert out == pytest.approx({"X": 0.5, "Y": 0.25}, rel=1e-12)


def test_vol_target_never_scales_up_while_the_brake_is_engaged() -> None:
    out, clamps = vol_target(
        {"X": 0.3, "Y": 0.3},
        ["X", "Y"],
        ORTHO,
        target_vol=0.2,
        budget=0.95,
        cap=0.5,
        allow_up=False,
    )
    assert (out, clamps) == ({"X": 0.3, "Y": 0.3}, [])


def test_vol_target_leaves_a_book_on_target_alone() -> None:
    w = 0.10 / NAME_VOL / math.sqrt(2)  # book vol exactly 10%
    book = {"X": w, "Y": w}
    out, clamps = vol_target(book, ["X", "Y"], ORTHO, target_vol=0.10, budget=0.95, cap=0.5)
    assert (out, clamps) == (book, [])


def test_vol_target_counts_the_covariance_between_names() -> None:
    together = np.column_stack([ORTHO[:, 0], ORTHO[:, 0]])  # perfectly correlated
    apart, _ = vol_target({"X": 0.4, "Y": 0.4}, ["X", "Y"], ORTHO, target_vol=0.05, budget=1, cap=1)
    same, _ = vol_target(
        {"X": 0.4, "Y": 0.4}, ["X", "Y"], together, target_vol=0.05, budget=1, cap=1
    )
    assert same["X"] < apart["X"]  # the same weights are riskier together: cut more


# -- Kelly --------------------------------------------------------------------------------

# X: mean 1e-4 a day, deviations +-0.02 (sample variance 0.0004 * 40/39): half Kelly
# is 0.5 * 1e-4 / var = 12.2%. Y: mean -1e-4: its Kelly weight is 0.
KX = np.tile([0.0201, -0.0199], 20)
KY = np.tile([0.0199, -0.0201], 20)
KELLY = np.column_stack([KX, KY])
HALF_KELLY_X = 0.5 * 1e-4 / (0.0004 * 40 / 39)


def test_kelly_cuts_each_name_to_its_fractional_kelly_weight_by_hand() -> None:
    out, clamps = kelly({"X": 0.3, "Y": 0.3}, ["X", "Y"], KELLY, fraction=0.5, cap=1.0)
    assert out["X"] == pytest.approx(HALF_KELLY_X, rel=1e-9)  # 12.2%
    assert out["Y"] == 0.0  # a negative mean: no Kelly weight at all
    assert [(c.rule, c.symbol) for c in clamps] == [("kelly", "X"), ("kelly", "Y")]
    assert clamps[0].reason.startswith("weight 30.0% cut to 12.2%: 0.5 x Kelly")


def test_kelly_leaves_a_name_under_its_kelly_weight_alone_and_honours_the_cap() -> None:
    out, clamps = kelly({"X": 0.1}, ["X", "Y"], KELLY, fraction=0.5, cap=1.0)
    assert (out, clamps) == ({"X": 0.1}, [])
    strong = np.column_stack([np.tile([0.03, -0.01], 20)])  # full Kelly far above 1
    out, clamps = kelly({"S": 0.9}, ["S"], strong, fraction=1.0, cap=0.6)
    assert out == {"S": 0.6}
    assert "at most 60%" in clamps[0].reason


# -- fixed fraction -------------------------------------------------------------------------


def test_fixed_fraction_cuts_only_the_names_above_it() -> None:
    out, clamps = fixed_fraction({"X": 0.25, "Y": 0.08}, fraction=0.1)
    assert out == {"X": 0.1, "Y": 0.08}
    assert [(c.rule, c.symbol) for c in clamps] == [("fixed_fraction", "X")]
    assert "25.0% cut to the fixed fraction 10.0%" in clamps[0].reason
    assert fixed_fraction({"Y": 0.08}, fraction=0.1) == ({"Y": 0.08}, [])


# -- reading the market point in time --------------------------------------------------------


def _walk(n: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return 100 * np.exp(np.cumsum(rng.normal(0.0005, 0.015, (n, 2)), axis=0))


@pytest.mark.parametrize("rule", ["vol_target", "kelly"])
def test_size_reads_rows_up_to_t_only(rule: str) -> None:
    """The closes truncated at t and the closes with a random-walk future size alike."""
    close, t = _walk(200, 3), 150
    future = close.copy()
    future[t + 1 :] = close[t] * _walk(200 - t - 1, 9) / 100
    cfg = PortfolioConfig(
        sizing=rule, target_vol=0.05, kelly_fraction=0.02, lookback=60, vol_lookback=60
    )  # type: ignore[arg-type]
    col = {"X": 0, "Y": 1}
    book = {"X": 0.5, "Y": 0.45}
    kw = {"budget": 0.95, "cap": 1.0}
    short = size(cfg, book, close[: t + 1], col, t, (), **kw)
    walk = size(cfg, book, future, col, t, (), **kw)
    assert short == walk
    assert short[1]  # the rule did act at t
    assert size(cfg, book, future, col, t + 30, (), **kw) != short


def test_size_says_when_the_returns_cannot_be_read() -> None:
    close = _walk(50, 3)
    vt = PortfolioConfig(sizing="vol_target", vol_lookback=63)
    out, clamps = size(vt, {"X": 0.5}, close, {"X": 0, "Y": 1}, 49, (), budget=1, cap=1)
    assert out == {"X": 0.5}
    assert clamps[0].rule == "vol_target"
    assert "not applied: 63 sessions" in clamps[0].reason
    close[30, 1] = np.nan
    kl = PortfolioConfig(sizing="kelly", lookback=20, kelly_fraction=0.01)
    out, clamps = size(kl, {"X": 0.5, "Y": 0.5}, close, {"X": 0, "Y": 1}, 49, (), budget=1, cap=1)
    assert out["Y"] == 0.5
    assert [(c.rule, c.symbol) for c in clamps if "not applied" in c.reason] == [("kelly", "Y")]


# -- the risk engine and the cycle -----------------------------------------------------------


@dataclass
class _Fixed:
    targets: dict[str, float]
    name: str = "fixed"

    def prepare(self, market: Market) -> None:
        """Nothing to precompute."""

    def propose(self, t: int, state: AccountState) -> Proposal:
        return Proposal(dict(self.targets), Regime.ATTACK, {})


def _two_names() -> Market:
    closes = _walk(120, 5)
    return make_market(closes, ("X", "Y"))


SIZINGS = [
    ("vol_target", {"target_vol": 0.05}),
    ("kelly", {"kelly_fraction": 0.01}),
    ("fixed_fraction", {"fixed_fraction": 0.1}),
]


@pytest.mark.parametrize(("rule", "params"), SIZINGS, ids=[s[0] for s in SIZINGS])
def test_each_sizing_clamp_lands_in_the_explanation_record(
    rule: str, params: dict[str, float]
) -> None:
    m = _two_names()
    settings = parse_config(
        {
            "accounts": {
                "a": {
                    "universe": ["X", "Y"],
                    "benchmark": "X",
                    "portfolio": {"sizing": rule, "lookback": 60, "vol_lookback": 60, **params},
                }
            }
        }
    )
    acct = AccountRuntime.build("a", settings, strategy=_Fixed({"X": 0.45, "Y": 0.45}), paper=True)
    assert acct.risk.portfolio == settings.account("a").portfolio  # build passed it on
    sink = MemorySink()
    res = run_cycle(acct, m, len(m) - 1, sink)
    record = sink.decisions[-1]
    mine = [c for c in record["clamps"] if c["rule"] == rule]
    assert mine
    assert all("not applied" not in c["reason"] for c in mine)
    assert sum(res.targets.values()) < 0.9  # the book was cut before the orders


def test_sizing_off_changes_nothing_and_on_cuts_the_buys() -> None:
    m = _two_names()
    t = len(m) - 1
    risk = relaxed_risk()
    fills = FillModel(slippage_bps=0.0)
    off = RiskEngine("acct", risk, fills, portfolio=PortfolioConfig())
    assert off.portfolio is None  # nothing runs per cycle
    on = RiskEngine("acct", risk, fills, portfolio=PortfolioConfig(sizing="fixed_fraction"))
    book = proposal(X=0.45, Y=0.45)
    a = off.plan(m, t, "acct:x", account(10_000), book)
    b = on.plan(m, t, "acct:x", account(10_000), book)
    assert a.targets == {"X": 0.45, "Y": 0.45}
    assert b.targets == {"X": 0.1, "Y": 0.1}
    assert sum(float(i.notional) for i in b.intents) == pytest.approx(2_000, rel=1e-4)


def test_vol_target_does_not_undo_the_drawdown_brake() -> None:
    m = _two_names()
    t = len(m) - 1
    held = position("X", 10, 10_000, m.day(t) - timedelta(days=400))  # deep under water
    state = account(1_000, held, peak_equity=100_000.0, brake=True)
    risk = relaxed_risk(drawdown_cut=0.5)
    cfg = PortfolioConfig(sizing="vol_target", target_vol=0.9, vol_lookback=60)
    res = RiskEngine("acct", risk, FillModel(), portfolio=cfg).plan(
        m, t, "acct:x", state, proposal(X=0.2, Y=0.2)
    )
    assert res.targets == pytest.approx({"X": 0.1, "Y": 0.1})
    assert "vol_target" not in {c.rule for c in res.clamps}


def test_an_account_sizes_nothing_unless_it_says_so() -> None:
    assert AccountConfig(universe=("X",)).portfolio.sizing == "none"


def test_every_portfolio_field_says_what_it_does() -> None:
    missing = [n for n, f in PortfolioConfig.model_fields.items() if not f.description]
    assert missing == []


# -- a whole replay, construction and sizing on, point in time ------------------------------

START, CUT, LAST = date(2019, 1, 2), date(2019, 6, 28), date(2019, 9, 30)
PIT = [
    ("min_variance", {"sizing": "vol_target", "target_vol": 0.08}),
    ("mean_variance", {"sizing": "kelly", "kelly_fraction": 0.05}),
]


def _replay(frame: BarFrame, construction: str, portfolio: dict[str, object]) -> BacktestResult:
    universe = [s for s in frame.symbols if s != "SP500"]
    section = {"construction": construction, **portfolio}
    settings = parse_config({"accounts": {"a": {"universe": universe, "portfolio": section}}})
    acct = AccountRuntime.build("a", settings, paper=True)
    return replay(acct, Market(frame), START)


@pytest.mark.parametrize(("construction", "portfolio"), PIT, ids=[p[0] for p in PIT])
def test_a_constructed_and_sized_replay_ignores_every_later_price(
    construction: str, portfolio: dict[str, object]
) -> None:
    """The sample cut at D and the sample with a random-walk future decide alike up to D."""
    source = SampleData()
    frame = source.load(tuple(source.symbols()), None, LAST)
    after = frame.dates > np.datetime64(CUT, "D")
    close = frame.close.copy()
    steps = np.random.default_rng(7).normal(0.0, 0.03, (int(after.sum()), close.shape[1]))
    close[after] = close[~after][-1] * np.exp(np.cumsum(steps, axis=0))
    cut = _replay(frame.between(None, CUT), construction, portfolio)
    walk = _replay(dataclasses.replace(frame, close=close), construction, portfolio)
    upto = [d for d in walk.decisions if d["day"] <= CUT.isoformat()]
    assert len(cut.decisions) == len(upto) > 100
    assert cut.decisions == upto
    rule = str(portfolio["sizing"])
    assert any(c["rule"] == rule for d in upto for c in d["clamps"])  # sizing acted
    assert any(d["orders"] for d in upto)
    assert not any("fell back" in n for d in upto for n in d["notes"])  # constructed
    n = len(cut.days)
    np.testing.assert_array_equal(cut.equity, walk.equity[:n])
