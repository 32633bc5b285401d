"""The example config's commented options of the portfolio layer load and run when uncommented.

A person enables them by deleting the ``# ``; each must then parse and backtest, or
the example teaches a config that fails.
"""

from __future__ import annotations

import json
import re
from importlib import resources
from pathlib import Path

import pytest

from invest.runtime.cli import main
from invest.runtime.config import load_config

#: The commented lines (and tables) of the example that this test turns on.
KEYS = (
    "var_limit_pct",
    "var_level",
    "var_method",
    "bootstrap_cash_pct",
    "bootstrap_trade_factor",
    "regime_model",
    "vix_filter",
    r"\[accounts\.trend-daily\.portfolio\]",
    "construction",
    "sizing",
    "target_vol",
    r"\[accounts\.trend-daily\.dynamic_universe\]",
    "top_n = 10",
)


def uncommented() -> str:
    text = (resources.files("invest.runtime") / "examples" / "config.toml").read_text()
    for key in KEYS:
        text, n = re.subn(rf"^# ({key})", r"\1", text, count=1, flags=re.M)
        assert n == 1, f"the example no longer has a commented {key!r}"
    return text


def test_the_portfolio_options_of_the_example_run_when_uncommented(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "config.toml"
    path.write_text(uncommented())
    acct = load_config(path).account("trend-daily")
    assert acct.portfolio.construction == "min_variance"
    assert acct.trend_king.regime_model == "hmm"
    assert acct.dynamic_universe is not None
    monkeypatch.setenv("INVEST_HOME", str(tmp_path / "home"))
    out = tmp_path / "out"
    argv = ["backtest", "--config", str(path), "--account", "trend-daily", "--start", "2016-01-04"]
    assert main([*argv, "--end", "2016-12-30", "--out", str(out), "--json"]) == 0
    records = [json.loads(x) for x in (out / "decisions.jsonl").read_text().splitlines()]
    notes = [n for r in records for n in r["notes"]]
    assert any(n.startswith("HMM P(attack)") for n in notes)
    assert any(n.startswith("universe ") for n in notes)
    assert any(n.startswith("VIX ") for n in notes)
    rules = {c["rule"] for r in records for c in r["clamps"]}
    assert "vol_target" in rules
