"""Closed trades and per-period P&L from a tiny ledger: the account's own accounting."""

from __future__ import annotations

from contextlib import closing
from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest

from invest.runtime.domain import AccountState
from invest.runtime.errors import LedgerError
from invest.runtime.ledger import reads
from invest.runtime.ledger.trades import period_key, period_pnl
from tests.runtime.trades_support import build, fills


@pytest.fixture
def ledger(tmp_path: Path) -> Path:
    return build(tmp_path / "ledger.sqlite")


def test_sells_pair_against_the_average_cost_with_partial_closes_and_reasons(
    ledger: Path,
) -> None:
    with closing(reads.connect_readonly(ledger)) as conn:
        trades = reads.closed_trade_rows(conn)
    assert [(t.account, t.symbol, t.exit_day.isoformat()) for t in trades] == [
        ("alpha", "AAA", "2024-04-02"),
        ("alpha", "AAA", "2024-03-11"),
        ("beta", "BBB", "2024-03-07"),
    ]
    last, partial, beta = trades
    # alpha bought 10 @ 100 and 10 @ 110: average cost 105, opened on the first buy.
    assert (partial.entry_price, partial.entry_day) == (Decimal(105), date(2024, 3, 4))
    assert (partial.quantity, partial.exit_price, partial.pnl) == (5, 120, Decimal("74.00"))
    assert (partial.closed, partial.holding_days) == (False, 7)
    assert partial.reason == "take profit +14.3%"
    assert partial.pnl_pct == pytest.approx(74 / 525)
    assert (last.closed, last.quantity, last.pnl) == (True, 15, Decimal("-76.00"))
    assert (last.holding_days, last.reason) == (29, "stop loss -4.8%")
    assert (beta.pnl, beta.holding_days) == (Decimal("-3.00"), 2)
    assert beta.reason == "rebalance: out of the top 5"


def test_realised_pnl_of_the_trades_is_the_accounts_own(ledger: Path) -> None:
    states = {
        "alpha": AccountState("alpha", Decimal(10_000)),
        "beta": AccountState("beta", Decimal(5_000)),
    }
    for f in fills():
        states[f.account].apply_fill(f)
    with closing(reads.connect_readonly(ledger)) as conn:
        for name, state in states.items():
            trades = reads.closed_trade_rows(conn, name)
            assert sum(t.pnl for t in trades) == state.realised_pnl


def test_limit_keeps_the_newest_and_an_unknown_account_is_named(ledger: Path) -> None:
    with closing(reads.connect_readonly(ledger)) as conn:
        assert [t.exit_day.isoformat() for t in reads.closed_trade_rows(conn, limit=1)] == [
            "2024-04-02"
        ]
        with pytest.raises(
            LedgerError, match=r"no account 'gamma' in the ledger \(accounts: alpha, beta\)"
        ):
            reads.closed_trade_rows(conn, "gamma")


def test_periods_start_from_the_last_mark_before_and_total_every_account(ledger: Path) -> None:
    with closing(reads.connect_readonly(ledger)) as conn:
        weeks = [r.as_dict() for r in reads.period_rows(conn, "week")]
    assert [(r["account"], r["period"]) for r in weeks] == [
        ("alpha", "2024-W14"),
        ("beta", "2024-W14"),
        ("total", "2024-W14"),
        ("alpha", "2024-W11"),
        ("total", "2024-W11"),  # beta has no mark that week: it counts at its last value
        ("alpha", "2024-W10"),
        ("beta", "2024-W10"),
        ("total", "2024-W10"),
    ]
    alpha10, beta10, total10 = weeks[5:]
    assert (alpha10["start"], alpha10["end"], alpha10["pnl"]) == (10_000.0, 10_100.0, 100.0)
    assert (beta10["start"], beta10["end"], beta10["pnl"]) == (5_000.0, 4_997.0, -3.0)
    assert (total10["start"], total10["end"]) == (15_000.0, 15_097.0)
    total11 = weeks[4]
    assert (total11["start"], total11["end"], total11["pnl"]) == (15_097.0, 15_147.0, 50.0)
    assert total11["pct"] == pytest.approx(50 / 15_097, abs=1e-6)
    total14 = weeks[2]
    assert (total14["start"], total14["end"]) == (15_147.0, 14_910.0)


def test_months_days_and_one_account(ledger: Path) -> None:
    with closing(reads.connect_readonly(ledger)) as conn:
        months = reads.period_rows(conn, "month", account="beta")
        days = reads.period_rows(conn, "day", limit=2)
    assert [(r.account, r.period, r.start, r.end) for r in months] == [
        ("beta", "2024-04", 4997.0, 5010.0),
        ("total", "2024-04", 4997.0, 5010.0),
        ("beta", "2024-03", 5000.0, 4997.0),
        ("total", "2024-03", 5000.0, 4997.0),
    ]
    assert [r.period for r in days if r.account == "total"] == ["2024-04-02", "2024-03-12"]


def test_a_bad_period_is_named() -> None:
    with pytest.raises(ValueError, match="unknown period 'year': use one of day, week, month"):
        period_pnl({}, {}, "year")
    assert period_key(date(2024, 12, 30), "week") == "2025-W01"
