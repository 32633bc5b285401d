"""The restructuring and the speed work must not change a single trade.

`invest backtest` of trend_king 1990-2022 and of hybrid (the bundled pack)
2015-2022 must write exactly the trades.csv committed under tests/fixtures/golden.
A change that moves a trade on purpose regenerates them with
``INVEST_UPDATE_GOLDEN=1 pytest tests/runtime/backtest/test_golden_trades.py``
and says why in its commit.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from invest.runtime.cli import main

GOLDEN = Path(__file__).parents[2] / "fixtures" / "golden"
CASES = [
    ("trend_king", "1990-01-02", "2022-12-30", "trend_king-1990-2022.trades.csv"),
    ("hybrid", "2015-01-02", "2022-12-30", "hybrid-2015-2022.trades.csv"),
]


@pytest.mark.parametrize(("strategy", "start", "end", "golden"), CASES, ids=[c[0] for c in CASES])
def test_backtest_writes_the_golden_trades(
    tmp_path: Path, strategy: str, start: str, end: str, golden: str
) -> None:
    out = tmp_path / strategy
    argv = ["backtest", "--strategy", strategy, "--start", start, "--end", end, "--out", str(out)]
    assert main(argv) == 0
    written = (out / "trades.csv").read_text()
    if os.environ.get("INVEST_UPDATE_GOLDEN") == "1":
        (GOLDEN / golden).write_text(written)
    expected = (GOLDEN / golden).read_text()
    assert written.count("\n") > 100
    assert written == expected
