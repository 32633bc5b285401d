"""Reading manager-mode answers: the analysis and per-action validation."""

from __future__ import annotations

from decimal import Decimal

from invest.runtime.oracle import Action, MarketRegime
from invest.runtime.oracle.manager.parsing import parse_actions, parse_analysis

BUYABLE = {"AAPL", "MSFT", "NVDA"}
HELD = {"MSFT", "XOM"}


def test_an_analysis_is_read_with_drift_normalised() -> None:
    parsed = parse_analysis(
        '```json\n{"analysis": {"Market Regime": "bullish", "sectors": {"Tech": "+2", '
        '"Energy": -1, "Utilities": 5}, "health": "fine", "risks": "rates"}}\n```'
    )
    assert parsed.analysis is not None
    assert parsed.analysis.regime is MarketRegime.BULL
    assert parsed.analysis.sector_scores == {"Tech": 2.0, "Energy": -1.0}
    assert parsed.analysis.threats == ("rates",)
    assert any("Utilities" in p for p in parsed.problems)


def test_sector_scores_given_as_a_list_are_read() -> None:
    parsed = parse_analysis(
        '{"regime": "HIGH VOLATILITY", "sector_scores": [{"sector": "Tech", "score": 1}]}'
    )
    assert parsed.analysis is not None
    assert parsed.analysis.regime is MarketRegime.HIGH_VOLATILITY
    assert parsed.analysis.sector_scores == {"Tech": 1.0}


def test_an_analysis_without_a_known_regime_needs_repair() -> None:
    assert parse_analysis('{"regime": "spicy"}').needs_repair
    assert parse_analysis("the market is fine").needs_repair


def test_valid_actions_are_kept_and_each_bad_one_is_dropped_with_a_reason() -> None:
    text = """{"actions": [
      {"action": "buy", "ticker": "AAPL", "amount": "$2,500", "thesis": "breakout",
       "stop_loss": "8%", "take_profit": 20, "time_stop": "30 days"},
      {"action": "BUY", "symbol": "NVDA", "amount": "lots"},
      {"action": "SELL", "symbol": "MSFT"},
      {"action": "SELL", "symbol": "AAPL", "amount": 100},
      {"action": "BUY", "symbol": "TSLA", "amount": 100},
      {"action": "yolo", "symbol": "NVDA"},
      {"action": "HOLD", "symbol": "XOM"},
      {"action": "BUY", "symbol": "AAPL", "amount": 10}
    ]}"""
    parsed = parse_actions(text, buyable=BUYABLE, held=HELD)
    assert [(a.action, a.symbol) for a in parsed.actions] == [
        (Action.BUY, "AAPL"),
        (Action.SELL, "MSFT"),
        (Action.HOLD, "XOM"),
    ]
    buy = parsed.actions[0]
    assert buy.amount == Decimal("2500.00")
    assert (buy.stop_loss_pct, buy.take_profit_pct, buy.time_stop_days) == (0.08, 0.2, 30)
    assert parsed.actions[1].amount is None  # sell the whole position
    assert len(parsed.problems) == 5
    assert any("TSLA" in p and "not in the universe" in p for p in parsed.problems)
    assert any("AAPL: SELL" in p and "not held" in p for p in parsed.problems)
    assert not parsed.needs_repair


def test_wrong_types_drop_only_that_action() -> None:
    text = (
        '[{"action": "BUY", "symbol": "AAPL", "amount": 1000, "stop_loss_pct": "tight"},'
        ' {"action": "BUY", "symbol": "NVDA", "amount": 1000, "time_stop_days": 2.5},'
        ' {"action": "BUY", "symbol": "MSFT", "amount": 1000, "stop_loss_pct": -0.05}]'
    )
    parsed = parse_actions(text, buyable=BUYABLE, held=HELD)
    assert [a.symbol for a in parsed.actions] == ["MSFT"]
    assert parsed.actions[0].stop_loss_pct == 0.05


def test_a_buy_needs_a_positive_amount() -> None:
    parsed = parse_actions(
        '[{"action": "BUY", "symbol": "AAPL", "amount": 0}]', buyable=BUYABLE, held=HELD
    )
    assert parsed.actions == ()
    assert "positive amount" in parsed.problems[0]


def test_an_empty_action_list_is_a_valid_answer() -> None:
    parsed = parse_actions('{"actions": []}', buyable=BUYABLE, held=HELD)
    assert parsed.actions == ()
    assert not parsed.needs_repair


def test_an_answer_without_actions_needs_repair() -> None:
    assert parse_actions("hold everything", buyable=BUYABLE, held=HELD).needs_repair
