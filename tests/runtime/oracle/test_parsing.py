"""Extracting JSON from model answers and reading gate verdicts item by item."""

from __future__ import annotations

from decimal import Decimal

import pytest

from invest.runtime.oracle import Verdict
from invest.runtime.oracle import normalise as nz
from invest.runtime.oracle.extract import extract_json, strip_think
from invest.runtime.oracle.gate.parsing import parse_gate

PROPOSED = {"AAPL": Decimal("1000"), "MSFT": Decimal("500")}


def test_think_blocks_are_stripped_even_when_the_opening_tag_is_missing() -> None:
    assert strip_think('<think>{"no": 1}</think>\n{"yes": 1}') == '{"yes": 1}'
    assert strip_think('reasoning...</think>{"yes": 1}') == '{"yes": 1}'
    assert strip_think('{"yes": 1}<think>unfinished') == '{"yes": 1}'


def test_json_inside_a_think_block_is_never_used() -> None:
    assert extract_json('<think>{"verdicts": [1]}</think> no answer') is None


@pytest.mark.parametrize(
    "text",
    [
        '{"a": 1}',
        'Sure! ```json\n{"a": 1}\n``` Hope this helps.',
        '```\n{"a": 1}\n```',
        'Here is my answer: {"a": 1} -- done',
        '<think>let me see { not json</think>{"a": 1}',
        '{"a": 1,}',
    ],
)
def test_fenced_bare_and_wrapped_json_is_found(text: str) -> None:
    assert extract_json(text) == {"a": 1}


def test_the_first_balanced_object_wins_and_braces_in_strings_do_not_count() -> None:
    text = 'x {"note": "a } inside", "n": 1} and then {"n": 2}'
    assert extract_json(text) == {"note": "a } inside", "n": 1}


@pytest.mark.parametrize("text", ["", "no json here", '{"verdicts": [', "{{{{", None, 42])
def test_text_without_json_gives_none(text: object) -> None:
    assert extract_json(text) is None


@pytest.mark.parametrize(
    ("value", "expected"),
    [("0.5", 0.5), ("50%", 0.5), (0.25, 0.25), ("$1,200", 1200.0), ("+1", 1.0), ("2k", 2000.0)],
)
def test_string_numbers_are_read(value: object, expected: float) -> None:
    assert nz.number(value) == pytest.approx(expected)


@pytest.mark.parametrize("value", [True, None, "nan", "inf", "1e999", "half", [], float("nan")])
def test_things_that_are_not_numbers_give_none(value: object) -> None:
    assert nz.number(value) is None


def test_a_good_answer_gives_one_verdict_per_symbol() -> None:
    text = (
        '{"verdicts": [{"symbol": "AAPL", "verdict": "APPROVE", "reason": "strong", '
        '"headline_ids": ["h1"]}, {"symbol": "MSFT", "verdict": "SHRINK", "fraction": 0.4}]}'
    )
    parsed = parse_gate(text, PROPOSED, {"h1"})
    assert not parsed.needs_repair
    assert parsed.verdicts["AAPL"].verdict is Verdict.APPROVE
    assert parsed.verdicts["AAPL"].fraction == 1.0
    assert parsed.verdicts["AAPL"].headline_ids == ("h1",)
    assert parsed.verdicts["MSFT"].fraction == 0.4


def test_common_drift_is_normalised() -> None:
    text = (
        '[{"Ticker": "aapl", "Decision": "shrink", "Fraction": "50%", "rationale": "news"},'
        ' {"stock": "$MSFT", "decision": "rejected"}]'
    )
    parsed = parse_gate(text, PROPOSED)
    assert parsed.verdicts["AAPL"].verdict is Verdict.SHRINK
    assert parsed.verdicts["AAPL"].fraction == 0.5
    assert parsed.verdicts["AAPL"].reason == "news"
    assert parsed.verdicts["MSFT"].verdict is Verdict.VETO
    assert parsed.verdicts["MSFT"].fraction == 0.0


def test_a_symbol_keyed_object_is_understood() -> None:
    parsed = parse_gate(
        '{"AAPL": "veto", "MSFT": {"verdict": "shrink", "fraction": "0.5"}}', PROPOSED
    )
    assert parsed.verdicts["AAPL"].verdict is Verdict.VETO
    assert parsed.verdicts["MSFT"].fraction == 0.5


def test_one_bad_item_is_dropped_and_never_takes_the_good_ones_with_it() -> None:
    text = (
        '{"verdicts": [{"symbol": "AAPL", "verdict": 17}, "garbage", '
        '{"symbol": "MSFT", "verdict": "APPROVE"}]}'
    )
    parsed = parse_gate(text, PROPOSED)
    assert set(parsed.verdicts) == {"MSFT"}
    assert parsed.missing == ("AAPL",)
    assert parsed.needs_repair
    assert any("AAPL: unknown verdict" in p for p in parsed.problems)
    assert any("not an object" in p for p in parsed.problems)


def test_a_verdict_on_a_symbol_that_was_not_proposed_is_ignored() -> None:
    text = '{"verdicts": [{"symbol": "TSLA", "verdict": "APPROVE"}]}'
    parsed = parse_gate(text, PROPOSED)
    assert parsed.verdicts == {}
    assert "TSLA: not a proposed buy, ignored" in parsed.problems


def test_shrink_above_one_would_enlarge_and_is_rejected() -> None:
    parsed = parse_gate('[{"symbol": "AAPL", "verdict": "SHRINK", "fraction": 1.5}]', PROPOSED)
    assert "AAPL" not in parsed.verdicts
    assert any("would enlarge" in p for p in parsed.problems)


def test_approve_with_a_bigger_amount_is_capped_at_the_proposed_order() -> None:
    parsed = parse_gate('[{"symbol": "AAPL", "verdict": "APPROVE", "amount": 5000}]', PROPOSED)
    assert parsed.verdicts["AAPL"].fraction == 1.0
    assert any("capped" in p for p in parsed.problems)


def test_approve_with_a_smaller_amount_becomes_a_shrink() -> None:
    parsed = parse_gate('[{"symbol": "AAPL", "verdict": "approve", "amount": "$250"}]', PROPOSED)
    assert parsed.verdicts["AAPL"].verdict is Verdict.SHRINK
    assert parsed.verdicts["AAPL"].fraction == 0.25


def test_shrink_without_a_fraction_is_rejected() -> None:
    parsed = parse_gate('[{"symbol": "AAPL", "verdict": "SHRINK"}]', PROPOSED)
    assert parsed.missing == ("AAPL", "MSFT")


def test_two_verdicts_for_one_symbol_keep_the_smaller_size() -> None:
    text = '[{"symbol": "AAPL", "verdict": "APPROVE"}, {"symbol": "AAPL", "verdict": "VETO"}]'
    assert parse_gate(text, PROPOSED).verdicts["AAPL"].verdict is Verdict.VETO


def test_cited_ids_that_were_never_shown_are_dropped() -> None:
    text = '[{"symbol": "AAPL", "verdict": "VETO", "headline_ids": ["h1", "made-up"]}]'
    parsed = parse_gate(text, PROPOSED, {"h1"})
    assert parsed.verdicts["AAPL"].headline_ids == ("h1",)
    assert any("never shown" in p for p in parsed.problems)


def test_truncated_json_keeps_only_the_complete_verdicts() -> None:
    text = '{"verdicts": [{"symbol": "AAPL", "verdict": "VETO"}, {"symbol": "MSFT", "verd'
    parsed = parse_gate(text, PROPOSED)
    assert set(parsed.verdicts) == {"AAPL"}
    assert parsed.missing == ("MSFT",)


def test_an_answer_without_json_is_fatal_and_asks_for_repair() -> None:
    parsed = parse_gate("I would approve both.", PROPOSED)
    assert parsed.fatal is not None
    assert parsed.needs_repair
    assert parsed.missing == ("AAPL", "MSFT")
