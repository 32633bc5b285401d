"""`invest trades` on a ledger with option positions: a section of closed option positions
(kind, legs, premiums, settlement, fees, realised P&L, outcome), and rows of type "option"
in --json."""

from __future__ import annotations

import json
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

import pytest

from invest.runtime import commands
from invest.runtime.cli import main
from invest.runtime.ledger import reads
from invest.runtime.paths import Paths
from tests.runtime.options_ledger_support import VIEWS_END, build_options_ledger


@pytest.fixture
def ledger(monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    monkeypatch.setenv("COLUMNS", "200")  # one line per row in the captured table
    commands._console.cache_clear()
    path = Paths.resolve(None).ledger
    build_options_ledger(path, VIEWS_END)
    yield path
    commands._console.cache_clear()


def _closed(path: Path, account: str | None = None) -> list[reads.OptionPositionRow]:
    conn = reads.connect_readonly(path)
    try:
        return reads.option_positions(conn, account, closed=True)
    finally:
        conn.close()


def test_json_lists_each_closed_option_position_with_its_money_and_outcome(
    ledger: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["trades", "--json", "--limit", "500"]) == 0
    rows = json.loads(capsys.readouterr().out)
    options = [r for r in rows if r["type"] == "option"]
    stocks = [r for r in rows if r["type"] == "stock"]
    closed = _closed(ledger)
    assert [r["id"] for r in options] == [p.id for p in closed]
    assert stocks  # the wheel's assigned shares, called away, are a closed stock trade
    for r in options:
        money = {k: Decimal(r[k]) for k in ("premium_in", "premium_out", "settlement", "fees")}
        assert Decimal(r["realised"]) == (
            money["premium_in"] - money["premium_out"] + money["settlement"] - money["fees"]
        )
    outcomes = {r["outcome"] for r in options}
    assert {"take_profit", "auto_close", "expiry", "assignment", "called away"} <= outcomes
    spread = next(r for r in options if r["kind"] == "bull_call")
    assert len(spread["legs"].split()) == 4  # two legs: quantity and OCC symbol each


def test_the_table_has_a_section_of_option_positions(
    ledger: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["trades", "spreads-weekly", "--limit", "3"]) == 0
    out = capsys.readouterr().out
    newest = _closed(ledger, "spreads-weekly")[:3]
    total = sum((p.realised or Decimal(0) for p in newest), Decimal(0))
    assert f"Closed option positions, newest first: 3, realised {total:+,.2f}" in out
    line = next(x for x in out.splitlines() if x.startswith(VIEWS_END.replace(day=15).isoformat()))
    assert line.split()[:4] == ["2016-06-15", "spreads-weekly", "SP500", "bull_call"]
    assert "2110C" in line
    assert line.split()[-1] == "auto_close"
    assert f"{newest[0].realised:+,.2f}" in line
    assert "wheel-weekly" not in out


def test_a_narrow_terminal_gets_lines_per_option_position(
    ledger: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("COLUMNS", "80")
    commands._console.cache_clear()  # the console is made once per process, at its width
    assert main(["trades", "spreads-weekly", "--limit", "1"]) == 0
    lines = capsys.readouterr().out.splitlines()
    p = _closed(ledger, "spreads-weekly")[0]
    i = lines.index(
        f"2016-06-15 spreads-weekly SP500 bull_call x4: P&L {p.realised:+,.2f}, auto_close"
    )
    assert lines[i + 1] == "  legs +4 2110C / -4 2130C 2016-06-17"
    assert lines[i + 2].startswith(f"  premium in {p.premium_in:,.2f}, out ")
    assert lines[i + 2].endswith(f"fees {p.fees:,.2f}")
    assert all(len(x) <= 80 for x in lines)
