"""The kill switch of an options account: `invest flatten` closes every option position.

The ledgers are the options fixture's replays (tests/runtime/options_ledger_support.py)
stopped on a day with the book to flatten: the wheel on 2016-03-09 holds a cash-secured
put, a covered call and the 200 PFE shares an assignment brought; the spreads account
on 2016-03-31 holds a bear put spread with no exit open.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import date
from pathlib import Path
from typing import Any

import pytest

from invest.runtime.clock import FixedClock, nyse
from invest.runtime.config import Settings
from invest.runtime.control.api import TRADER, Request
from invest.runtime.control.service import ControlService
from invest.runtime.data.sample import SampleData
from invest.runtime.domain import HaltState
from invest.runtime.engine.options_account_cycle import (
    flatten_options_account,
    run_options_account_cycle,
)
from invest.runtime.events import Halted, OptionOrderSent
from invest.runtime.ledger import Ledger
from invest.runtime.ledger import engine_state as repo
from invest.runtime.options.book import OptionAction
from tests.runtime.engine.support import drive, make_engine, ny, paths
from tests.runtime.options_ledger_support import ACCOUNTS, build_options_ledger, fixture_settings

WHEEL, SPREADS = ACCOUNTS
#: The wheel's day: a put and a covered call open, 200 PFE shares held.
WHEEL_DAY = date(2016, 3, 9)
#: The spreads account's day: a bear put spread open, no close order open.
SPREADS_DAY = date(2016, 3, 31)
SOURCE = SampleData()


def _settings() -> Settings:
    """The fixture's config with only the two options accounts."""
    s = fixture_settings()
    return s.model_copy(update={"accounts": {n: s.accounts[n] for n in ACCOUNTS}})


@pytest.fixture
def home(tmp_path: Path) -> Path:
    return tmp_path


def _ledger(home: Path, day: date) -> Ledger:
    build_options_ledger(home / "ledger.sqlite", day)
    return Ledger(home / "ledger.sqlite")


@pytest.fixture
def wheel(home: Path) -> Iterator[Ledger]:
    led = _ledger(home, WHEEL_DAY)
    yield led
    led.close()


def _orders(ledger: Ledger, name: str) -> dict[str, tuple[str, str, str | None]]:
    """client id -> (status, rule, limit) of the account's option orders."""
    rows = ledger.conn.execute(
        "SELECT client_order_id, status, rule, limit_premium FROM option_orders WHERE account = ?",
        [name],
    )
    return {r[0]: (r[1], r[2], r[3]) for r in rows}


def _flatten_events(ledger: Ledger, name: str) -> list[dict[str, Any]]:
    rows = ledger.conn.execute(
        "SELECT detail_json FROM events WHERE account = ? AND kind = 'flatten' ORDER BY id",
        [name],
    )
    return [json.loads(r[0]) for r in rows]


def _next_session(home: Path, ledger: Ledger, name: str, day: date) -> Any:
    """The account's next session as the engine's cycle job runs it (not monitor-only)."""
    return run_options_account_cycle(name, _settings(), paths(home), ledger, source=SOURCE, end=day)


def test_flatten_of_a_wheel_closes_the_put_and_the_call_and_names_the_shares(
    home: Path, wheel: Ledger
) -> None:
    held = {p.id: p.structure.kind.value for p in wheel.load_book(WHEEL).open_positions()}
    assert sorted(held.values()) == ["cash_secured_put", "covered_call"]
    before = _orders(wheel, WHEEL)
    still_open = {c for c, (st, _, _) in before.items() if st in ("pending", "submitted")}
    assert still_open, "the fixture's replay leaves opens in the queue"

    done = flatten_options_account(wheel, WHEEL, WHEEL_DAY, "test")

    assert {o.position_id for o in done.closes} == set(held)
    assert all(o.limit_premium is None and o.rule == "flatten" for o in done.closes)
    assert {o.reason for o in done.closes} == {"flattened by test"}
    after = _orders(wheel, WHEEL)
    # recorded in the outbox and answered by the paper queue (the ledger)
    assert {after[o.client_order_id] for o in done.closes} == {("submitted", "flatten", None)}
    # the opens that were queued are cancelled: they would buy back what is closed
    assert {after[c][0] for c in still_open} == {"cancelled"}
    assert done.cancelled == len(still_open)
    assert done.shares == {"PFE": 200}
    assert repo.account_halt(wheel.conn, WHEEL) is HaltState.HALTED
    assert [d["shares_left"] for d in _flatten_events(wheel, WHEEL)] == [{"PFE": 200}]

    # the same day again: every position has its market close open, nothing is sent
    again = flatten_options_account(wheel, WHEEL, WHEEL_DAY, "test")
    assert again.closes == ()
    assert {o.client_order_id for o in again.working} == {o.client_order_id for o in done.closes}
    assert _orders(wheel, WHEEL) == after

    # the next session of the HALTED account settles the closes; it opens nothing
    out = _next_session(home, wheel, WHEEL, date(2016, 3, 10))
    assert out.halt is HaltState.HALTED
    assert out.option_orders == []
    assert wheel.load_book(WHEEL).open_positions() == []
    final = _orders(wheel, WHEEL)
    assert {final[o.client_order_id][0] for o in done.closes} == {"filled"}
    assert {c for c, (st, _, _) in final.items() if st in ("pending", "submitted")} == set()
    state = wheel.load_state(WHEEL)
    assert state is not None
    assert {s: int(p.quantity) for s, p in state.positions.items()} == {"PFE": 200}

    # a flatten after that finds nothing to close
    last = flatten_options_account(wheel, WHEEL, date(2016, 3, 10), "test")
    assert (last.closes, last.working, last.cancelled) == ((), (), 0)
    assert last.shares == {"PFE": 200}


def test_flatten_of_a_spreads_account_closes_the_spread(home: Path) -> None:
    ledger = _ledger(home, SPREADS_DAY)
    try:
        (spread,) = ledger.load_book(SPREADS).open_positions()
        assert spread.structure.kind.value == "bear_put"
        done = flatten_options_account(ledger, SPREADS, SPREADS_DAY, "test")
        (close,) = done.closes
        assert close.position_id == spread.id
        assert close.contracts == spread.contracts
        assert close.structure == spread.structure
        assert done.shares == {}
        assert repo.account_halt(ledger.conn, SPREADS) is HaltState.HALTED
        assert flatten_options_account(ledger, SPREADS, SPREADS_DAY, "test").closes == ()

        out = _next_session(home, ledger, SPREADS, date(2016, 4, 1))
        assert out.option_orders == []
        assert ledger.load_book(SPREADS).open_positions() == []
        closed = ledger.load_book(SPREADS).position(spread.id)
        assert (closed.closed, closed.outcome) == (date(2016, 4, 1), OptionAction.CLOSE)
        (reason,) = ledger.conn.execute(
            "SELECT reason FROM option_fills WHERE client_order_id = ?", [close.client_order_id]
        ).fetchone()
        assert reason == "flattened by test"
    finally:
        ledger.close()


def test_the_engine_flattens_an_options_account_after_a_confirmation(home: Path) -> None:
    build_options_ledger(home / "ledger.sqlite", WHEEL_DAY)
    clock = FixedClock(ny(WHEEL_DAY.isoformat(), "19:00"))
    s = _settings()
    engine, memory = make_engine(home, clock, cfg=s, sources=lambda spec: SOURCE)
    service = ControlService(
        home / "ledger.sqlite", engine, settings=s, clock=clock, wall=clock, calendar=nyse
    )

    def ask(**args: Any) -> dict[str, Any]:
        reply = service.handle(Request("flatten", args, actor="telegram:42", role=TRADER))
        assert reply.ok, reply.error
        return reply.data

    try:
        held = {p.id for p in engine.ledger.load_book(WHEEL).open_positions()}
        first = ask(account=WHEEL)
        assert first["confirm"]
        assert _flatten_events(engine.ledger, WHEEL) == [], "nothing before the confirmation"
        done = ask(account=WHEEL, confirm=first["confirm"])
        assert {o["position_id"] for o in done["option_orders"]} == held
        assert {o["kind"] for o in done["option_orders"]} == {"cash_secured_put", "covered_call"}
        assert done["shares_left"] == {"PFE": 200}
        assert any("shares not sold: 200 PFE" in n for n in done["notes"])
        assert repo.account_halt(engine.ledger.conn, WHEEL) is HaltState.HALTED
        assert any(isinstance(e, Halted) and e.account == WHEEL for e in memory.events)
        sent = [e for e in memory.events if isinstance(e, OptionOrderSent)]
        assert [e.client_order_id for e in sent] == [
            o["client_order_id"] for o in done["option_orders"]
        ]
        assert all(e.text().startswith(f"{WHEEL}: CLOSE ") for e in sent)
        assert all("at market (flattened by telegram:42)" in e.text() for e in sent)

        # the HALTED account's jobs still run the settlement: the closes fill at the next
        # session (03-10), which the monitor job reads once it is complete (on 03-11)
        drive(engine, clock, ny("2016-03-11", "18:00"))
        assert engine.ledger.last_day(WHEEL) == "2016-03-10"
        assert engine.ledger.load_book(WHEEL).open_positions() == []
        flat = {
            c: st for c, (st, rule, _) in _orders(engine.ledger, WHEEL).items() if rule == "flatten"
        }
        assert set(flat) == {o["client_order_id"] for o in done["option_orders"]}
        assert set(flat.values()) == {"filled"}

        again = ask(account=WHEEL, confirm=ask(account=WHEEL)["confirm"])
        assert again["option_orders"] == []
    finally:
        engine.shutdown()


def test_a_venue_gets_the_closes_after_the_commit_and_keeps_its_open_orders(
    wheel: Ledger,
) -> None:
    from tests.runtime.engine.test_options_live import FakeVenue

    venue = FakeVenue(wheel, fixture_settings())  # asserts each order is committed pending first
    queued = {c for c, (st, _, _) in _orders(wheel, WHEEL).items() if st == "submitted"}
    done = flatten_options_account(wheel, WHEEL, WHEEL_DAY, "test", api=venue)
    assert venue.sent == [o.client_order_id for o in done.closes]
    assert len(done.closes) == 2
    after = _orders(wheel, WHEEL)
    assert {after[c][0] for c in venue.sent} == {"submitted"}
    # Alpaca's option orders have no cancel yet: the venue's open orders are named, not
    # marked cancelled in the ledger (that would desync it from the venue)
    assert done.cancelled == 0
    assert {o.client_order_id for o in done.not_cancelled} == queued
    assert {after[c][0] for c in queued} == {"submitted"}
    assert flatten_options_account(wheel, WHEEL, WHEEL_DAY, "test", api=venue).closes == ()
    assert len(venue.sent) == 2
