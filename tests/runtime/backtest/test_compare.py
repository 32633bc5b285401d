"""`invest compare A B` reads two accounts from the ledger."""

from __future__ import annotations

from pathlib import Path

import pytest

from invest.runtime.backtest.compare import account_figures
from invest.runtime.cli import main
from invest.runtime.errors import LedgerError
from invest.runtime.ledger import Ledger


def test_compare_prints_both_accounts_and_their_difference(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("INVEST_HOME", str(tmp_path))
    assert main(["demo", "--quick"]) == 0
    capsys.readouterr()
    assert main(["compare", "trend-daily", "defensive-weekly"]) == 0
    text = capsys.readouterr().out
    assert "B - A" in text
    # the backtest table's labels, never the raw keys
    for label in ("Total return", "Max drawdown", "Sharpe", "Win rate", "LLM veto rate"):
        assert label in text
    assert "max_drawdown" not in text
    assert "total_return" not in text
    figures = account_figures(Ledger(tmp_path / "ledger.sqlite", readonly=True), "trend-daily")
    assert figures["sessions"] == 249
    assert -1 < figures["max_drawdown"] <= 0


def test_compare_with_an_unknown_account_is_a_clear_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("INVEST_HOME", str(tmp_path))
    assert main(["demo", "--quick"]) == 0
    assert main(["compare", "trend-daily", "nope"]) == 2
    assert "account 'nope' is not in the ledger" in capsys.readouterr().err
    with pytest.raises(LedgerError):
        account_figures(Ledger(tmp_path / "ledger.sqlite", readonly=True), "nope")
