"""The market context and the earnings outlook reach the gate's and the manager's pass-1 prompts."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import numpy as np

from invest.runtime.config import parse_config
from invest.runtime.config.context import ContextConfig
from invest.runtime.config.oracle import OracleConfig
from invest.runtime.data.sample import SampleData, vix
from invest.runtime.domain import AccountState, OrderIntent, Side
from invest.runtime.market import Market
from invest.runtime.options.earnings import StaticEarningsCalendar
from invest.runtime.oracle.accounts import build_gate
from invest.runtime.oracle.context import context_block, cycle_context, earnings_outlook
from invest.runtime.oracle.manager.prompts import analysis_messages
from tests.runtime.oracle.support import FakeLLMServer, completion

UNIVERSE = ["AAPL", "MSFT", "KO", "JNJ"]
STATE = AccountState("gated", Decimal(100_000))


def _market() -> Market:
    return Market(SampleData().load([*UNIVERSE, "SP500"], None, date(2020, 12, 31)))


MARKET = _market()


def _row(day: str) -> int:
    t = int(np.searchsorted(MARKET.dates, np.datetime64(day)))
    assert MARKET.iso(t) == day
    return t


def _vix_on(day: str) -> float:
    dates, values = vix()
    return float(values[dates == np.datetime64(day)][0])


def _calendar_file(tmp: Path) -> Path:
    path = tmp / "earnings.csv"
    path.write_text("symbol,date\nAAPL,2016-04-26\nAAPL,2016-07-26\nAAPL,2016-10-25\n")
    return path


def _gate_prompt(
    tmp: Path, server: FakeLLMServer, day: str, *, anonymise: bool = False
) -> dict[str, Any]:
    settings = parse_config(
        {
            "context": {"earnings": f"csv:{_calendar_file(tmp)}"},
            "accounts": {
                "gated": {
                    "universe": UNIVERSE,
                    "oracle": {
                        "base_url": server.url,
                        "model": "main",
                        "timeout_s": 2.0,
                        "anonymise": anonymise,
                    },
                }
            },
        }
    )
    now = lambda: datetime(2026, 11, 21, tzinfo=UTC)  # noqa: E731
    gate = build_gate(settings, "gated", tmp, now)
    assert gate is not None
    t = _row(day)
    buy = OrderIntent(
        "gated", "c1", "AAPL", Side.BUY, Decimal(10), Decimal(100), "top rank", "c1-AAPL"
    )
    try:
        gate.review([buy], MARKET, t, STATE, None, cycle_id="c1")
    finally:
        gate.close()
    body = server.chat_requests[-1].body
    assert body is not None
    prompt: dict[str, Any] = json.loads(body["messages"][-1]["content"])
    return prompt


def _server() -> FakeLLMServer:
    server = FakeLLMServer()
    verdict = {"symbol": "AAPL", "verdict": "APPROVE", "fraction": 1.0, "reason": "ok"}
    server.respond = lambda body: completion(json.dumps({"verdicts": [verdict]}))
    server.start()
    return server


def test_the_gate_prompt_carries_the_lagged_vix_and_the_earnings_due(tmp_path: Path) -> None:
    server = _server()
    try:
        prompt = _gate_prompt(tmp_path, server, "2016-07-20")
    finally:
        server.stop()
    assert prompt["market_context"] == [
        f"VIX {_vix_on('2016-07-19'):.1f} (2016-07-19 close)",
        "10-year yield: not available (not bundled with the sample data)",
        "dollar index: not available (not bundled with the sample data)",
    ]
    assert prompt["earnings"] == "earnings in the next 7 days: AAPL 2016-07-26"


def test_a_gate_prompt_on_a_day_without_vix_says_not_available(tmp_path: Path) -> None:
    server = _server()
    try:
        prompt = _gate_prompt(tmp_path, server, "2020-06-15")
    finally:
        server.stop()
    assert prompt["market_context"][0] == (
        "VIX: not available (last VIX close 2019-01-03 is more than 5 sessions old)"
    )
    server = _server()
    try:
        anon = _gate_prompt(tmp_path, server, "2020-06-15", anonymise=True)
    finally:
        server.stop()
    assert anon["market_context"][0] == (
        "VIX: not available (last VIX close [date] is more than 5 sessions old)"
    )
    # The calendar's last AAPL report is 2016-10-25: it cannot say for 2020.
    assert prompt["earnings"] == "earnings in the next 7 days: none known; unknown for AAPL"


def test_the_managers_analysis_prompt_carries_the_context_anonymised_without_dates() -> None:
    calendar = StaticEarningsCalendar({"AAPL": (date(2016, 7, 26),), "KO": ()})
    t = _row("2016-07-20")
    ctx = cycle_context(
        MARKET,
        t,
        STATE,
        UNIVERSE,
        indicators=("rsi_14",),
        context=ContextConfig(),
        calendar=calendar,
    )
    plain = json.loads(
        analysis_messages(
            ctx, OracleConfig(base_url="http://127.0.0.1:9/v1", model="main", anonymise=False)
        )[0][-1]["content"]
    )
    assert plain["market_context"][0] == f"VIX {_vix_on('2016-07-19'):.1f} (2016-07-19 close)"
    assert (
        plain["earnings"] == "earnings in the next 7 days: AAPL 2016-07-26; unknown for JNJ, MSFT"
    )
    anon = context_block(ctx, anonymise=True)
    assert anon["market_context"][0] == f"VIX {_vix_on('2016-07-19'):.1f} (day -1 close)"
    assert anon["earnings"] == (
        "earnings in the next 7 days: AAPL in 6 days; unknown for JNJ, MSFT"
    )
    assert "2016" not in json.dumps(anon)


def test_without_a_calendar_every_name_is_unknown_and_a_report_outside_the_window_is_not_shown() -> (
    None
):
    day = date(2016, 7, 20)
    assert earnings_outlook(None, ["MSFT", "AAPL"], day, 7).note == (
        "no earnings calendar configured"
    )
    calendar = StaticEarningsCalendar({"AAPL": (date(2016, 7, 28),)})
    assert earnings_outlook(calendar, ["AAPL"], day, 7).upcoming == ()
    assert earnings_outlook(calendar, ["AAPL"], day, 8).upcoming == (("AAPL", date(2016, 7, 28)),)
