"""Point-in-time for the RL strategies: a decision at day D depends on no bar after D.

``test_lookahead.py`` proves it for trend_king. Here ``rl_ensemble`` and ``hybrid`` run
the bundled pack (its onnxruntime policies, their LSTM states, the observation) over a
short replay three ways: on the whole sample, on the sample cut at D, and on the
sample whose every close after D is a seeded random walk. Up to D the explanation
records, the fills and the equity must be the same.
"""

from __future__ import annotations

import dataclasses
from datetime import date
from typing import Any

import numpy as np
import numpy.typing as npt
import pytest

from invest.runtime.backtest.runner import BacktestResult, replay
from invest.runtime.config import parse_config
from invest.runtime.cycle import AccountRuntime
from invest.runtime.data.frame import BarFrame
from invest.runtime.data.sample import SampleData
from invest.runtime.market import Market

START = date(2019, 1, 2)  # the rows before it warm the features up
CUT = date(2019, 6, 28)
STRATEGIES = ("rl_ensemble", "hybrid")


def _frame() -> BarFrame:
    source = SampleData()
    return source.load(tuple(source.symbols()), None, None)  # the whole sample, to 2022


def _random_walk_after(frame: BarFrame, cut: date, seed: int = 7) -> BarFrame:
    """``frame`` with every close after ``cut`` replaced by a seeded random walk."""
    after = frame.dates > np.datetime64(cut, "D")
    assert after.any()
    assert (~after).any()
    close = frame.close.copy()
    rng = np.random.default_rng(seed)
    steps = rng.normal(0.0, 0.03, size=(int(after.sum()), close.shape[1]))
    base = close[~after][-1]
    close[after] = base * np.exp(np.cumsum(steps, axis=0))
    assert not np.allclose(close[after], frame.close[after])
    return dataclasses.replace(frame, close=close)


def _truncated(frame: BarFrame, cut: date) -> BarFrame:
    return frame.between(None, cut)


def _run(strategy: str, frame: BarFrame) -> BacktestResult:
    universe = [s for s in frame.symbols if s != "SP500"]
    settings = parse_config(
        {
            "accounts": {
                "acct": {
                    "strategy": strategy,
                    "universe": universe,
                    "schedule": "30 16 * * mon-fri",
                    "rl": {"pack": "default"},
                }
            }
        }
    )
    acct = AccountRuntime.build("acct", settings, paper=True)
    return replay(acct, Market(frame), START)


def _upto(
    r: BacktestResult, cut: date
) -> tuple[list[dict[str, Any]], list[str], npt.NDArray[np.float64]]:
    n = sum(d <= cut for d in r.days)
    decisions = [d for d in r.decisions if d["day"] <= cut.isoformat()]
    fills = [f.client_order_id for f in r.fills if f.day <= cut]
    return decisions, fills, np.asarray(r.equity[:n])


@pytest.fixture(scope="module")
def frame() -> BarFrame:
    return _frame()


@pytest.mark.parametrize("strategy", STRATEGIES)
def test_rl_decisions_up_to_a_day_ignore_every_later_price(frame: BarFrame, strategy: str) -> None:
    full = _run(strategy, frame)
    cut = _run(strategy, _truncated(frame, CUT))
    walk = _run(strategy, _random_walk_after(frame, CUT))

    expected = _upto(full, CUT)
    assert len(expected[0]) > 100  # about six months of daily cycles
    # Each record carries every policy's vote per symbol: the prefix compares what the
    # policies answered (observation and LSTM state), not only what was traded.
    votes = {tuple(v["votes"]) for d in expected[0] for v in d["rl"].values()}
    assert len(votes) > 1, "the policies' votes must vary before the cut"
    if strategy == "hybrid":  # the bundled pack's rl_ensemble holds: it never trades
        assert any(d["orders"] for d in expected[0]), "the replay must trade before the cut"
    for other in (cut, walk):
        decisions, fills, equity = _upto(other, CUT)
        assert decisions == expected[0]
        assert fills == expected[1]
        np.testing.assert_array_equal(equity, expected[2])
    # The walk really differs after the cut, so equal prefixes are not an accident.
    assert walk.decisions[-1] != full.decisions[-1] or not np.array_equal(walk.equity, full.equity)
