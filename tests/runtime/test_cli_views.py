"""`invest trades` and `invest pnl`: closed trades and per-period P&L from the ledger."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from invest.runtime.cli import main
from invest.runtime.paths import Paths
from tests.runtime.trades_support import build


@pytest.fixture
def ledger(monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("COLUMNS", "160")  # one line per row in the captured table
    return build(Paths.resolve(None).ledger)


def test_trades_prints_each_closed_trade_with_pnl_days_and_reason(
    ledger: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["trades"]) == 0
    out = capsys.readouterr().out
    assert "realised -5.00" in out
    stop = next(line for line in out.splitlines() if "stop loss" in line)
    assert stop.split()[:10] == [
        "2024-04-02", "alpha", "AAA", "15", "105.00", "100.00", "-76.00", "-4.83%", "29", "stop",
    ]  # fmt: skip
    assert "AAA*" in out  # the partial close
    assert "rebalance: out of the top 5" in out


def test_trades_json_of_one_account_with_a_limit(
    ledger: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["trades", "alpha", "--limit", "1", "--json"]) == 0
    (trade,) = json.loads(capsys.readouterr().out)
    assert trade == {
        "type": "stock",
        "account": "alpha",
        "symbol": "AAA",
        "entry_day": "2024-03-04",
        "exit_day": "2024-04-02",
        "quantity": "15",
        "entry_price": "105.0000",
        "exit_price": "100",
        "pnl": "-76.00",
        "pnl_pct": pytest.approx(-76 / 1575, abs=1e-6),
        "holding_days": 29,
        "reason": "stop loss -4.8%",
        "closed": True,
    }


def test_pnl_per_week_has_a_portfolio_total_row(
    ledger: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["pnl", "--period", "week"]) == 0
    lines = capsys.readouterr().out.splitlines()
    totals = [line.replace("│", " ").split() for line in lines if "portfolio total" in line]
    assert [t[0] for t in totals] == ["2024-W14", "2024-W11", "2024-W10"]
    assert totals[-1][-4:] == ["15,000.00", "15,097.00", "+97.00", "+0.65%"]


def test_pnl_json_of_one_account_has_no_total(
    ledger: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["pnl", "--period", "month", "--account", "beta", "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert [(r["account"], r["period"], r["pnl"]) for r in rows] == [
        ("beta", "2024-04", 13.0),
        ("beta", "2024-03", -3.0),
    ]


def test_an_unknown_account_or_a_bad_limit_is_one_line(
    ledger: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["trades", "gamma"]) == 2
    assert capsys.readouterr().err == (
        "error: no account 'gamma' in the ledger (accounts: alpha, beta)\n"
    )
    with pytest.raises(SystemExit):
        main(["pnl", "--limit", "0"])
    assert "--limit: must be at least 1, not 0" in capsys.readouterr().err


def test_without_a_ledger_the_views_say_how_to_get_one(capsys: pytest.CaptureFixture[str]) -> None:
    assert not Paths.resolve(None).ledger.exists()
    assert main(["pnl"]) == 2
    assert "run `invest demo` or start the engine" in capsys.readouterr().err
    assert os.environ["INVEST_HOME"]
