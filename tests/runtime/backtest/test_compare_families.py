"""`invest compare` with no accounts: the ledger's accounts by model family, and pairs."""

from __future__ import annotations

import statistics
from datetime import date
from pathlib import Path

import pytest

from invest.runtime.backtest.compare import (
    FamilyComparison,
    account_figures,
    by_family,
    family_table,
    paired_table,
    strategy_key,
)
from invest.runtime.backtest.runner import replay
from invest.runtime.cli import main
from invest.runtime.config import load_config
from invest.runtime.cycle import AccountRuntime
from invest.runtime.data import open_source
from invest.runtime.errors import ConfigError
from invest.runtime.ledger import Ledger, LedgerSink
from invest.runtime.market import load_market

#: Two strategies, each in two families; the third family runs one of them.
CONFIG = """
[accounts.trend]
universe = ["AAPL", "JPM", "KO", "MSFT", "XOM", "PG"]
family = "qwen3-next"
[accounts.trend.trend_king]
top_n = 3

[accounts.trend-nemotron]
universe = ["AAPL", "JPM", "KO", "MSFT", "XOM", "PG"]
family = "nemotron"
[accounts.trend-nemotron.trend_king]
top_n = 2

[accounts.weekly]
universe = ["AAPL", "AMD", "CVX", "HD", "LLY", "WMT"]
schedule = "30 16 * * fri"
family = "qwen3-next"

[accounts.weekly-nemotron]
universe = ["AAPL", "AMD", "CVX", "HD", "LLY", "WMT"]
schedule = "30 16 * * mon"
family = "nemotron"

[accounts.trend-rules]
universe = ["AAPL", "JPM", "KO", "MSFT", "XOM", "PG"]
family = "rules"
risk = "conservative"

[accounts.unfamiliar]
universe = ["AAPL"]
"""


@pytest.fixture(scope="module")
def home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A config and a ledger holding 2022 replays of its accounts (all but weekly-nemotron)."""
    root = tmp_path_factory.mktemp("compare-families")
    (root / "config.toml").write_text(CONFIG)
    settings = load_config(root / "config.toml")
    source = open_source("sample", cache_dir=root / "cache")
    ledger = Ledger(root / "ledger.sqlite")
    for name in settings.accounts:
        if name == "weekly-nemotron":
            continue  # configured, never run: reported as missing
        acct = AccountRuntime.build(name, settings, paper=True)
        ledger.ensure_account(name, acct.config)
        with ledger.transaction():
            replay(
                acct, load_market(source, acct, None), date(2022, 1, 3), mirror=LedgerSink(ledger)
            )
    ledger.close()
    return root


def _families(home: Path) -> dict[str, str | None]:
    return {n: a.family for n, a in load_config(home / "config.toml").accounts.items()}


def test_strategy_key_drops_only_the_family_ending() -> None:
    assert strategy_key("weekly-balanced-nemotron", "nemotron") == "weekly-balanced"
    assert strategy_key("weekly-balanced", "qwen3-next") == "weekly-balanced"
    assert strategy_key("weekly-balanced-rules", "rules") == "weekly-balanced"
    assert strategy_key("nemotron-weekly", "nemotron") == "nemotron-weekly"
    assert strategy_key("-rules", "rules") == "-rules"


def test_families_hold_their_accounts_means_and_medians(home: Path) -> None:
    ledger = Ledger(home / "ledger.sqlite", readonly=True)
    cmp = by_family(ledger, _families(home))
    assert list(cmp.figures) == ["qwen3-next", "nemotron", "rules"]
    assert set(cmp.figures["qwen3-next"]) == {"trend", "weekly"}
    assert set(cmp.figures["nemotron"]) == {"trend-nemotron"}
    assert cmp.missing == ("weekly-nemotron",)
    header, rows = family_table(cmp)
    assert header[:4] == ["Family", "Accounts", "CAGR mean", "CAGR median"]
    qwen = rows[0]
    cagrs = [account_figures(ledger, a)["cagr"] for a in ("trend", "weekly")]
    assert cagrs[0] != cagrs[1]  # else a mean and a first value would look alike
    assert qwen[:3] == ["qwen3-next", "2", f"{statistics.fmean(cagrs):.1%}"]
    sharpes = [account_figures(ledger, a)["sharpe"] for a in ("trend", "weekly")]
    assert qwen[4] == f"{statistics.fmean(sharpes):.2f}"


def test_pairs_are_the_same_strategy_in_two_families(home: Path) -> None:
    ledger = Ledger(home / "ledger.sqlite", readonly=True)
    header, rows = paired_table(by_family(ledger, _families(home)))
    assert header == ["Strategy", "A", "B", "CAGR B - A", "Sharpe B - A", "Max DD B - A"]
    # weekly-nemotron never ran: only "trend" pairs; the rules twin pairs with both.
    assert [r[:3] for r in rows] == [
        ["trend", "qwen3-next", "nemotron"],
        ["trend", "qwen3-next", "rules"],
        ["trend", "nemotron", "rules"],
    ]
    a, b = account_figures(ledger, "trend"), account_figures(ledger, "trend-nemotron")
    assert a["sharpe"] != b["sharpe"]
    assert rows[0][3:] == [
        f"{b['cagr'] - a['cagr']:+.1%}",
        f"{b['sharpe'] - a['sharpe']:+.2f}",
        f"{b['max_drawdown'] - a['max_drawdown']:+.1%}",
    ]


def test_the_mean_of_several_pairs_is_a_row_of_its_own() -> None:
    fig = {"cagr": 0.10, "sharpe": 1.0, "max_drawdown": -0.10}
    cmp = FamilyComparison(
        {
            "x": {"a": fig, "b": fig},
            "y": {
                "a-y": {"cagr": 0.12, "sharpe": 1.5, "max_drawdown": -0.20},
                "b-y": {"cagr": 0.06, "sharpe": 0.5, "max_drawdown": -0.10},
            },
        }
    )
    _, rows = paired_table(cmp)
    assert rows == [
        ["a", "x", "y", "+2.0%", "+0.50", "-10.0%"],
        ["b", "x", "y", "-4.0%", "-0.50", "+0.0%"],
        ["mean of 2", "x", "y", "-1.0%", "+0.00", "-5.0%"],
    ]


def test_the_command_prints_families_pairs_and_missing(
    home: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("INVEST_HOME", str(home))
    monkeypatch.setenv("COLUMNS", "200")
    assert main(["compare", "--config", str(home / "config.toml")]) == 0
    out = capsys.readouterr().out
    assert "By model family" in out
    assert "The same strategy across families" in out
    assert "Not in the ledger yet: weekly-nemotron." in out
    assert "unfamiliar" not in out  # no family: in no group
    # the old form still works, now with CAGR
    assert main(["compare", "trend", "trend-nemotron", "--config", str(home / "config.toml")]) == 0
    assert "CAGR" in capsys.readouterr().out


def test_one_account_or_no_family_is_a_clear_error(
    home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("INVEST_HOME", str(home))
    assert main(["compare", "trend", "--config", str(home / "config.toml")]) == 2
    assert "two accounts (invest compare A B) or none" in capsys.readouterr().err
    plain = tmp_path / "plain.toml"
    plain.write_text('[accounts.trend]\nuniverse = ["AAPL"]\n')
    assert main(["compare", "--config", str(plain)]) == 2
    assert "no account in the config has a family" in capsys.readouterr().err
    with pytest.raises(ConfigError):
        by_family(Ledger(home / "ledger.sqlite", readonly=True), {"trend": None})
