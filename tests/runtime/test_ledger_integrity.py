"""check_integrity: a sound ledger passes, and each kind of damage is named."""

from __future__ import annotations

import shutil
import sqlite3
from pathlib import Path

import pytest

from invest.runtime.ledger.integrity import check_integrity

DEMO = Path(__file__).parents[1] / "fixtures" / "ledger" / "demo.sqlite"


@pytest.fixture
def ledger(tmp_path: Path) -> Path:
    path = tmp_path / "ledger.sqlite"
    shutil.copy(DEMO, path)
    return path


def _sql(path: Path, sql: str) -> None:
    with sqlite3.connect(path) as conn:
        conn.execute(sql)


def test_the_demo_ledger_is_sound(ledger: Path) -> None:
    assert check_integrity(ledger) == []


def test_a_second_fill_of_a_paper_order_is_named(ledger: Path) -> None:
    _sql(
        ledger,
        "INSERT INTO fills (client_order_id, seq, account, symbol, side, quantity, price, fees, day, reason) "
        "SELECT client_order_id, seq + 1, account, symbol, side, quantity, price, fees, day, reason "
        "FROM fills WHERE side = 'buy' ORDER BY id DESC LIMIT 1",
    )
    problems = check_integrity(ledger)
    assert any("fills on the paper broker" in p for p in problems), problems
    assert any("filled" in p and "of an order for" in p for p in problems), problems
    assert any("fills sum to" in p for p in problems), problems
    assert any("start cash and fills give" in p for p in problems), problems


def _buy_filled_at(ledger: Path, price_factor: float, broker: str) -> list[str]:
    """The last buy filled at ``price_factor`` x its price, for the same dollars, on ``broker``."""
    with sqlite3.connect(ledger) as conn:
        conn.execute(
            "UPDATE accounts SET config_json = json_set(config_json, '$.broker', ?)", [broker]
        )
        conn.execute(
            "UPDATE fills SET price = CAST(price AS REAL) * ?, "
            "quantity = printf('%.9f', CAST(quantity AS REAL) / ? * 0.999) "
            "WHERE id = (SELECT max(id) FROM fills WHERE side = 'buy')",
            [price_factor, price_factor],
        )
    return [p for p in check_integrity(ledger) if p.startswith("order ")]


def test_an_alpaca_dollar_buy_may_fill_more_shares_than_planned_not_more_dollars(
    ledger: Path,
) -> None:
    # Alpaca buys go as dollar amounts: a price below the reference buys more shares.
    assert _buy_filled_at(ledger, 0.9, "alpaca") == []


def test_an_alpaca_buy_past_its_dollars_is_named(ledger: Path) -> None:
    _sql(ledger, "UPDATE fills SET quantity = CAST(quantity AS REAL) * 1.5 WHERE side = 'buy'")
    problems = _buy_filled_at(ledger, 0.9, "alpaca")
    assert problems
    assert all("buy" in p and "$" in p for p in problems), problems


def test_a_paper_buy_of_more_shares_than_planned_is_named(ledger: Path) -> None:
    problems = _buy_filled_at(ledger, 0.9, "paper")
    assert len(problems) == 1, problems
    assert "of an order for" in problems[0]


def test_a_position_off_its_fills_is_named(ledger: Path) -> None:
    _sql(
        ledger,
        "UPDATE positions SET quantity = quantity * 2 WHERE rowid = (SELECT min(rowid) FROM positions)",
    )
    assert [p for p in check_integrity(ledger) if "fills sum to" in p]


def test_cash_off_its_fills_is_named(ledger: Path) -> None:
    _sql(ledger, "UPDATE account_state SET cash = cash + 1")
    assert any("cash is" in p for p in check_integrity(ledger))


def test_an_orphan_fill_is_named(ledger: Path) -> None:
    _sql(
        ledger,
        "UPDATE fills SET client_order_id = 'inv-nobody' WHERE id = (SELECT min(id) FROM fills)",
    )
    assert any("has no order row" in p for p in check_integrity(ledger))


def test_a_file_that_is_not_sqlite_is_one_problem(tmp_path: Path) -> None:
    bad = tmp_path / "ledger.sqlite"
    bad.write_bytes(b"not a database" * 100)
    [problem] = check_integrity(bad)
    assert "ledger" in problem
    assert check_integrity(tmp_path / "missing.sqlite") == [
        f"no ledger at {tmp_path / 'missing.sqlite'}"
    ]
