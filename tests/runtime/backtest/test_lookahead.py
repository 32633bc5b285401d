"""Point-in-time: a decision at day D must not depend on any bar after D."""

from __future__ import annotations

from datetime import date

import numpy as np
import pytest

from invest.runtime.backtest.runner import BacktestResult, replay
from invest.runtime.config import parse_config
from invest.runtime.cycle import AccountRuntime
from invest.runtime.data.sample import SampleData
from invest.runtime.market import Market

START = date(1996, 1, 2)
CUTS = [date(1998, 10, 8), date(2000, 9, 29), date(2008, 10, 10), date(2020, 3, 23)]


def _run(end: date | None) -> BacktestResult:
    source = SampleData()
    universe = [s for s in source.symbols() if s != "SP500"]
    settings = parse_config(
        {"accounts": {"tk": {"universe": universe, "schedule": "30 16 * * mon-fri"}}}
    )
    acct = AccountRuntime.build("tk", settings)
    return replay(acct, Market(source.load(acct.symbols(), None, end)), START)


@pytest.fixture(scope="module")
def full() -> BacktestResult:
    return _run(None)


@pytest.mark.parametrize("cut", CUTS, ids=str)
def test_decisions_up_to_a_day_do_not_change_when_later_data_exists(
    full: BacktestResult, cut: date
) -> None:
    short = _run(cut)
    upto = cut.isoformat()
    expected = [d for d in full.decisions if d["day"] <= upto]
    assert len(short.decisions) == len(expected) > 100
    assert short.decisions == expected
    n = len(short.days)
    np.testing.assert_array_equal(short.equity, full.equity[:n])
    assert [f.client_order_id for f in short.fills] == [
        f.client_order_id for f in full.fills if f.day <= cut
    ]
