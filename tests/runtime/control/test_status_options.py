"""`invest status` and Telegram's /status count an options account's option positions and orders.

An options account's stock rows hold only the shares an assignment brought, so the
stock counts alone said "0 positions, 0 open orders" with a spread open and its close
order working. The ledger is the options fixture's replay (a bear put spread open on
2016-03-31), flattened so that exactly one close order is open.
"""

from __future__ import annotations

from contextlib import closing
from datetime import date
from pathlib import Path

from invest.runtime.clock import FixedClock, nyse
from invest.runtime.control.api import VIEWER, Request
from invest.runtime.control.service import ControlService
from invest.runtime.control.status import collect_status, format_status
from invest.runtime.engine.options_account_cycle import flatten_options_account
from invest.runtime.ledger import Ledger, reads
from invest.runtime.notify.format import format_reply
from tests.runtime.engine.support import ny
from tests.runtime.options_ledger_support import build_options_ledger, fixture_settings

SPREADS = "spreads-weekly"
DAY = date(2016, 3, 31)
NOW = ny("2016-03-31", "19:00")


def _status(path: Path) -> dict[str, dict[str, object]]:
    with closing(reads.connect_readonly(path)) as conn:
        data = collect_status(conn, fixture_settings(), now=NOW, wall_now=NOW, calendar=nyse)
    return {str(a["account"]): a for a in data["accounts"]} | {"": {"text": format_status(data)}}


def test_status_counts_the_option_positions_and_the_open_option_orders(tmp_path: Path) -> None:
    path = tmp_path / "ledger.sqlite"
    build_options_ledger(path, DAY)
    ledger = Ledger(path)
    try:
        flatten_options_account(ledger, SPREADS, DAY, "test")  # one close open, the rest cancelled
    finally:
        ledger.close()
    rows = _status(path)
    spreads = rows[SPREADS]
    assert (spreads["option_positions"], spreads["open_option_orders"]) == (1, 1)
    assert (spreads["positions"], spreads["open_orders"]) == (0, 0)
    text = str(rows[""]["text"])
    line = next(x for x in text.splitlines() if x.startswith(f"{SPREADS}:"))
    assert line.endswith("0 positions, 0 open orders; 1 option position, 1 open option order")


def test_telegram_status_shows_the_option_counts(tmp_path: Path) -> None:
    path = tmp_path / "ledger.sqlite"
    build_options_ledger(path, DAY)
    clock = FixedClock(NOW)
    service = ControlService(
        path, None, settings=fixture_settings(), clock=clock, wall=clock, calendar=nyse
    )
    reply = service.handle(Request("status", {"account": SPREADS}, actor="telegram:1", role=VIEWER))
    assert reply.ok, reply.error
    text = format_reply(reply)
    assert "option_positions 1" in text or "option_positions: 1" in text


def test_the_flatten_confirmation_names_the_option_closes() -> None:
    from invest.runtime.control.service import flatten_what

    assert flatten_what(3, 0) == "sells all 3 positions"
    assert (
        flatten_what(0, 2)
        == "sells all 0 positions and closes all 2 option positions at the market"
    )
