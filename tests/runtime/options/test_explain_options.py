"""An options session's explanation record as text, on records of a real short backtest."""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest

from invest.runtime.backtest.options_runner import modelled_account, options_market, replay_options
from invest.runtime.config import Settings, load_config
from invest.runtime.data.sample import SampleData
from invest.runtime.explain import explain, headline, leg_words

from ..options_ledger_support import EXAMPLE


@pytest.fixture(scope="module")
def records() -> dict[str, list[dict[str, Any]]]:
    settings: Settings = load_config(EXAMPLE)
    out = {}
    for name in ("wheel-weekly", "spreads-weekly"):
        market = options_market(SampleData(), settings, name, date(2016, 6, 30))
        acct = modelled_account(name, settings, market)
        out[name] = replay_options(acct, market, date(2016, 1, 4)).decisions
    return out


def _with(recs: list[dict[str, Any]], key: str) -> dict[str, Any]:
    return next(r for r in recs if r[key])


def test_an_open_says_its_strikes_dte_premium_and_reason(
    records: dict[str, list[dict[str, Any]]],
) -> None:
    rec = _with(records["spreads-weekly"], "opens")
    o = rec["opens"][0]
    text = explain(rec)
    first, *rest = text.splitlines()
    assert first == headline(rec)
    assert f"OPEN {o['kind']} {o['underlying']} x{o['contracts']}" in first
    (line,) = [x for x in rest if x.startswith(f"  open {o['kind']}")]
    # the strikes and the expiry from the OCC legs, the DTE from the record's day
    assert leg_words(o["legs"], rec["day"]) in line
    assert "DTE)" in line
    side = "credit" if o["score"]["premium"] > 0 else "debit"
    assert f"{side} {abs(o['score']['premium']):.2f}/sh" in line
    assert line.endswith(o["reason"])
    # the readings of the day, and the modelled chain said
    u = o["underlying"]
    assert any(x.startswith(f"  {u}: IV pct") and "modelled chain" in x for x in rest)
    assert any(x.startswith("  risk earnings_unknown") for x in rest)


def test_exits_name_their_rule_and_held_positions_their_nearest_trigger(
    records: dict[str, list[dict[str, Any]]],
) -> None:
    recs = records["wheel-weekly"] + records["spreads-weekly"]
    rec = _with(recs, "exits")
    e = rec["exits"][0]
    text = explain(rec)
    assert f"  exit [{e['rule']}] {e['kind']} {e['underlying']}" in text
    assert e["reason"] in text
    held = _with(recs, "positions")
    p = held["positions"][0]
    lines = [x for x in explain(held).splitlines() if x.startswith(f"  held {p['kind']}")]
    assert lines
    assert f"{p['dte']} DTE" in lines[0]
    assert "; nearest: " in lines[0]


def test_one_symbol_keeps_only_its_part(records: dict[str, list[dict[str, Any]]]) -> None:
    rec = next(
        r for r in records["wheel-weekly"] if len({o["underlying"] for o in r["orders"]}) > 1
    )
    u = rec["orders"][0]["underlying"]
    other = next(o["underlying"] for o in rec["orders"] if o["underlying"] != u)
    body = explain(rec, u).splitlines()[1:]
    assert any(f" {u} " in x for x in body)
    assert not any(f" {other} " in x or x.startswith(f"  {other}:") for x in body)


def test_the_llm_verdict_is_told_when_the_record_has_one(
    records: dict[str, list[dict[str, Any]]],
) -> None:
    rec = _with(records["spreads-weekly"], "opens")
    assert "LLM" not in explain(rec)
    llm = {
        "status": "decided",
        "note": "",
        "chosen_type": "bull_put",
        "type_reason": "skew is steep",
        "decisions": [{"action": "OPEN_SPREAD", "ref": "c1", "contracts": 2, "reason": "cheap"}],
        "dropped": ["CLOSE p9: no such position"],
    }
    text = explain(rec | {"context": {**rec["context"], "llm": llm}})
    assert "  LLM decided" in text
    assert "    type bull_put: skew is steep" in text
    assert "    OPEN_SPREAD c1 x2: cheap" in text
    assert "    dropped: CLOSE p9: no such position" in text
    # a top-level "llm" block reads the same
    assert explain(rec | {"llm": llm}) == text


def test_leg_words_reads_occ_symbols() -> None:
    assert leg_words("-1 KO160617P00035000", "2016-06-14") == "-1 35P 2016-06-17 (3 DTE)"
    assert (
        leg_words("+1 SPY160617C00210000 -1 SPY160624C00212500")
        == "+1 210C 2016-06-17 / -1 212.5C 2016-06-24"
    )
    assert leg_words("+100 KO") == "+100 KO"
