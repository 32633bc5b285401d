"""Gate mode: verdicts only ever lower proposed buys, and an absent model follows the policy."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from invest.runtime.oracle import (
    GateOracle,
    GateVerdict,
    MemoryStore,
    NewsDigest,
    OracleConfig,
    OracleContext,
    UnavailablePolicy,
    Verdict,
    apply_verdicts,
    vote,
)
from invest.runtime.oracle.gate.review import allowed_notional
from tests.runtime.oracle.support import (
    CYCLE_TIME,
    SECRET,
    FakeLLMServer,
    FixedClock,
    Reply,
    ScriptedClient,
    completion,
    make_config,
    sample_context,
)

PROPOSED = {"AAPL": Decimal("1000.00"), "NVDA": Decimal("500.00")}
BLOCK = UnavailablePolicy.parse("block")


def _aapl_headline_id(context: OracleContext) -> str:
    return context.news.for_symbol("AAPL")[0].id


def _good_answer(context: OracleContext) -> str:
    return json.dumps(
        {
            "verdicts": [
                {
                    "symbol": "AAPL",
                    "verdict": "APPROVE",
                    "reason": "earnings beat",
                    "headline_ids": [_aapl_headline_id(context)],
                },
                {"symbol": "NVDA", "verdict": "SHRINK", "fraction": 0.5, "reason": "extended"},
            ]
        }
    )


@pytest.fixture
def gate_for(
    llm_server: FakeLLMServer,
    make_client: Callable[..., Any],
    store: MemoryStore,
    clock: FixedClock,
    tmp_path: Path,
) -> Callable[..., GateOracle]:
    def build(replay_only: bool = False, **overrides: Any) -> GateOracle:
        config = make_config(llm_server, **overrides)
        client = make_client(config, replay_only=replay_only)
        return GateOracle(
            config, client, store, account="acct", now=clock.now, audit_dir=tmp_path / "audit"
        )

    return build


# -- the pure core ----------------------------------------------------------------------


def test_a_symbol_without_a_verdict_follows_the_policy() -> None:
    outcome = apply_verdicts(PROPOSED, {}, UnavailablePolicy.parse("shrink:0.5"))
    assert outcome.allowed == {"AAPL": Decimal("500.00"), "NVDA": Decimal("250.00")}
    assert {r.source for r in outcome.records} == {"policy"}
    assert all(r.verdict is Verdict.SHRINK for r in outcome.records)


def test_shrunk_amounts_round_down_to_cents() -> None:
    assert allowed_notional(Decimal("333.33"), 0.5) == Decimal("166.66")
    assert allowed_notional(Decimal("10.00"), float("nan")) == Decimal(0)
    assert allowed_notional(Decimal("10.00"), 7.0) == Decimal("10.00")


def test_verdicts_on_symbols_not_proposed_never_reach_the_result() -> None:
    extra = GateVerdict(symbol="TSLA", verdict=Verdict.APPROVE, fraction=1.0)
    outcome = apply_verdicts(PROPOSED, {"TSLA": extra}, BLOCK)
    assert set(outcome.allowed) == set(PROPOSED)


def test_a_vote_takes_the_majority_and_ties_go_to_caution() -> None:
    approve = GateVerdict(symbol="AAPL", verdict=Verdict.APPROVE, fraction=1.0)
    veto = GateVerdict(symbol="AAPL", verdict=Verdict.VETO, fraction=0.0)
    shrink = GateVerdict(symbol="AAPL", verdict=Verdict.SHRINK, fraction=0.3)
    assert vote([{"AAPL": approve}, {"AAPL": approve}, {"AAPL": veto}])[
        "AAPL"
    ] == approve.model_copy(update={"reason": " (2/3 samples)"})
    assert vote([{"AAPL": approve}, {"AAPL": veto}])["AAPL"].verdict is Verdict.VETO
    assert vote([{"AAPL": shrink}, {"AAPL": approve}])["AAPL"].verdict is Verdict.SHRINK


# -- against a local OpenAI-compatible server ------------------------------------------


def test_a_good_answer_approves_and_shrinks_with_cited_headlines(gate_for, llm_server) -> None:
    context = sample_context()
    llm_server.answer(_good_answer(context))
    result = gate_for().review(PROPOSED, context, cycle_id="c1")
    assert result.status == "reviewed"
    assert result.allowed == {"AAPL": Decimal("1000.00"), "NVDA": Decimal("250.00")}
    aapl = next(r for r in result.records if r.symbol == "AAPL")
    assert aapl.headlines == ("Apple (AAPL) beats estimates",)
    assert aapl.reason == "earnings beat"
    assert result.usage.total_tokens == 120
    assert result.models == ("main",)
    assert len(llm_server.chat_requests) == 1


@pytest.mark.parametrize(
    "wrap",
    [
        lambda s: f"<think>\nThe user wants JSON. {{maybe}}\n</think>\n{s}",
        lambda s: f"Here is my review:\n```json\n{s}\n```\nGood luck!",
        lambda s: f"Sure. {s}",
    ],
    ids=["think", "fenced", "prose"],
)
def test_wrapped_answers_are_understood(gate_for, llm_server, wrap) -> None:
    context = sample_context()
    llm_server.answer(wrap(_good_answer(context)))
    result = gate_for().review(PROPOSED, context, cycle_id="c1")
    assert result.status == "reviewed"
    assert result.allowed["NVDA"] == Decimal("250.00")


def test_truncated_json_falls_back_to_the_next_model(gate_for, llm_server) -> None:
    context = sample_context()
    llm_server.queue(
        completion('{"verdicts": [{"symbol": "AAPL", "verdict": "APPR'),
        completion(_good_answer(context), model="backup"),
    )
    result = gate_for().review(PROPOSED, context, cycle_id="c1")
    assert result.status == "reviewed"
    assert result.models == ("backup",)
    assert [(r.body or {})["model"] for r in llm_server.chat_requests] == ["main", "backup"]


def test_truncated_json_is_repaired_once_when_no_fallback_is_left(gate_for, llm_server) -> None:
    context = sample_context()
    llm_server.answer('{"verdicts": [{"symbol": "AAPL", "verdict": "APPR', _good_answer(context))
    result = gate_for(fallback_models=()).review(PROPOSED, context, cycle_id="c1")
    assert result.status == "reviewed"
    repair = llm_server.chat_requests[1].body or {}
    assert repair["messages"][-2]["role"] == "assistant"
    assert "could not be used" in repair["messages"][-1]["content"]


def test_an_answer_that_stays_unusable_blocks_new_buys(gate_for, llm_server) -> None:
    llm_server.answer('{"verdicts": [{"symbol": "AAPL", "verd', "I cannot answer that.")
    result = gate_for(fallback_models=()).review(PROPOSED, sample_context(), cycle_id="c1")
    assert result.status == "abstained"
    assert result.allowed == {"AAPL": Decimal(0), "NVDA": Decimal(0)}
    assert len(llm_server.chat_requests) == 2  # one answer, one repair, no more


def test_a_partial_answer_is_completed_by_the_repair(gate_for, llm_server) -> None:
    llm_server.answer(
        '{"verdicts": [{"symbol": "AAPL", "verdict": "VETO"}]}',
        '{"verdicts": [{"symbol": "AAPL", "verdict": "APPROVE"}, '
        '{"symbol": "NVDA", "verdict": "SHRINK", "fraction": 0.2}]}',
    )
    result = gate_for().review(PROPOSED, sample_context(), cycle_id="c1")
    assert result.status == "reviewed"
    # the first answer's verdicts stand; the repair only fills what was missing
    assert result.allowed == {"AAPL": Decimal(0), "NVDA": Decimal("100.00")}


def test_wrong_types_lose_only_their_symbol(gate_for, llm_server) -> None:
    llm_server.answer(
        '{"verdicts": [{"symbol": "AAPL", "verdict": ["APPROVE"]}, '
        '{"symbol": "NVDA", "verdict": "APPROVE", "fraction": "100%"}]}'
    )
    result = gate_for(repair=False).review(PROPOSED, sample_context(), cycle_id="c1")
    assert result.status == "partial"
    assert result.allowed == {"AAPL": Decimal(0), "NVDA": Decimal("500.00")}
    assert next(r for r in result.records if r.symbol == "AAPL").source == "policy"


def test_an_unknown_symbol_is_never_added(gate_for, llm_server) -> None:
    llm_server.answer(
        '{"verdicts": [{"symbol": "TSLA", "verdict": "APPROVE"}, '
        '{"symbol": "AAPL", "verdict": "APPROVE"}, {"symbol": "NVDA", "verdict": "VETO"}]}'
    )
    result = gate_for().review(PROPOSED, sample_context(), cycle_id="c1")
    assert set(result.allowed) == {"AAPL", "NVDA"}
    assert result.allowed["AAPL"] == Decimal("1000.00")


def test_an_attempt_to_enlarge_orders_never_enlarges_them(gate_for, llm_server) -> None:
    llm_server.answer(
        '{"verdicts": [{"symbol": "AAPL", "verdict": "SHRINK", "fraction": 1.5}, '
        '{"symbol": "NVDA", "verdict": "APPROVE", "amount": 5000}]}'
    )
    result = gate_for(repair=False).review(PROPOSED, sample_context(), cycle_id="c1")
    assert result.allowed == {"AAPL": Decimal(0), "NVDA": Decimal("500.00")}


@pytest.mark.parametrize(
    ("policy", "expected"),
    [
        ("block", {"AAPL": Decimal(0), "NVDA": Decimal(0)}),
        ("allow", PROPOSED),
        ("shrink:0.5", {"AAPL": Decimal("500.00"), "NVDA": Decimal("250.00")}),
    ],
)
def test_slow_answers_past_the_timeout_follow_on_unavailable(
    gate_for, llm_server, policy, expected
) -> None:
    llm_server.queue(Reply(delay_s=0.5, body={}), Reply(delay_s=0.5, body={}))
    oracle = gate_for(timeout_s=0.2, max_retries=0, on_unavailable=policy)
    result = oracle.review(PROPOSED, sample_context(), cycle_id="c1")
    assert result.status == "abstained"  # timed out: no answer was read (no wall-clock budget)
    assert result.allowed == expected
    assert "timeout" in result.note


def test_429_then_success_reviews_normally(gate_for, llm_server, sleeps) -> None:
    context = sample_context()
    llm_server.queue(
        Reply(429, {}, headers={"Retry-After": "2"}), completion(_good_answer(context))
    )
    result = gate_for().review(PROPOSED, context, cycle_id="c1")
    assert result.status == "reviewed"
    assert sleeps == [2.0]


def test_500s_everywhere_block_new_buys(gate_for, llm_server) -> None:
    llm_server.queue(*[Reply(500, {"error": "down"}) for _ in range(4)])
    result = gate_for().review(PROPOSED, sample_context(), cycle_id="c1")
    assert result.status == "abstained"
    assert set(result.allowed.values()) == {Decimal(0)}
    assert "LLM unavailable" in result.note


def test_past_the_daily_budget_the_oracle_abstains_without_a_request(
    gate_for, llm_server, store
) -> None:
    store.usage_add("acct", CYCLE_TIME.date(), 5_000, 0.0)
    result = gate_for(budget_tokens_per_day=1_000).review(PROPOSED, sample_context(), cycle_id="c1")
    assert result.status == "abstained"
    assert "budget" in result.note
    assert llm_server.chat_requests == []


def test_the_budget_counts_the_tokens_spent_and_rolls_over_daily(
    gate_for, llm_server, store, clock
) -> None:
    context = sample_context()
    llm_server.answer(_good_answer(context))
    gate = gate_for(budget_tokens_per_day=100)
    gate.review(PROPOSED, context, cycle_id="c1")
    assert store.usage_get("acct", CYCLE_TIME.date()).tokens == 120
    assert gate.review({"MSFT": Decimal(10)}, context, cycle_id="c2").status == "abstained"
    clock.advance(days=1)
    llm_server.answer('{"verdicts": [{"symbol": "MSFT", "verdict": "VETO"}]}')
    assert gate.review({"MSFT": Decimal(10)}, context, cycle_id="c3").status == "reviewed"


def test_a_cached_replay_gives_identical_verdicts_with_zero_http_calls(
    gate_for, llm_server
) -> None:
    context = sample_context()
    llm_server.answer(_good_answer(context))
    first = gate_for().review(PROPOSED, context, cycle_id="c1")
    calls = len(llm_server.requests)
    replay = gate_for(replay_only=True).review(PROPOSED, context, cycle_id="c1-replay")
    assert len(llm_server.requests) == calls
    assert replay.allowed == first.allowed
    assert replay.records == first.records
    assert replay.usage.total_tokens == 0


def test_replay_only_without_a_cached_answer_abstains(gate_for, llm_server) -> None:
    result = gate_for(replay_only=True).review(PROPOSED, sample_context(), cycle_id="c1")
    assert result.status == "abstained"
    assert "replay only" in result.note
    assert llm_server.requests == []


def test_self_consistency_takes_the_majority_of_k_samples(gate_for, llm_server) -> None:
    approve = '{"verdicts": [{"symbol": "AAPL", "verdict": "APPROVE"}, {"symbol": "NVDA", "verdict": "APPROVE"}]}'
    veto = '{"verdicts": [{"symbol": "AAPL", "verdict": "VETO"}, {"symbol": "NVDA", "verdict": "APPROVE"}]}'
    llm_server.answer(approve, veto, veto)
    result = gate_for(self_consistency_k=3).review(PROPOSED, sample_context(), cycle_id="c1")
    assert result.allowed == {"AAPL": Decimal(0), "NVDA": Decimal("500.00")}
    bodies = [r.body or {} for r in llm_server.chat_requests]
    assert [b["seed"] for b in bodies] == [0, 1, 2]
    assert {b["temperature"] for b in bodies} == {0.7}


def test_everything_is_audited_to_the_store_and_a_cycle_file_without_the_key(
    gate_for, llm_server, store, tmp_path
) -> None:
    context = sample_context()
    llm_server.answer(_good_answer(context))
    gate_for().review(PROPOSED, context, cycle_id="2024-06-12T20:00/acct")
    kinds = [r.kind for r in store.audit_records("2024-06-12T20:00/acct")]
    assert kinds == ["gate.start", "prompt", "response", "parse", "verdict"]
    files = list((tmp_path / "audit").glob("*.json"))
    assert len(files) == 1
    written = json.loads(files[0].read_text())
    assert [r["kind"] for r in written] == kinds
    assert written[2]["data"]["content"] == _good_answer(context)
    assert SECRET not in files[0].read_text()
    assert SECRET not in json.dumps([r.as_dict() for r in store.audit])


def test_the_prompt_holds_no_calendar_date_and_prices_rebased_to_100(gate_for, llm_server) -> None:
    context = sample_context()
    llm_server.answer(_good_answer(context))
    gate_for().review(PROPOSED, context, cycle_id="c1")
    prompt = (llm_server.chat_requests[0].body or {})["messages"][1]["content"]
    without_ids = re.sub(r"[0-9a-f]{12}", "<id>", prompt)
    assert not re.search(r"\b(19|20)\d\d\b|-\d\d-\d\d", without_ids)
    body = json.loads(prompt)
    assert body["today"] == "day 0"
    assert body["symbols"]["AAPL"]["closes"][0] == 100.0
    assert {h["day"] for h in body["headlines"]} == {-1}
    assert [b["symbol"] for b in body["proposed_buys"]] == ["AAPL", "NVDA"]


def test_the_same_context_gives_the_same_prompt_hash(gate_for, llm_server, store) -> None:
    llm_server.answer("{}", "{}")
    gate = gate_for(repair=False)
    gate.review(PROPOSED, sample_context(), cycle_id="c1")
    gate.review(dict(reversed(PROPOSED.items())), sample_context(), cycle_id="c2")
    hashes = [
        r.data["prompt_hash"]
        for cycle in ("c1", "c2")
        for r in store.audit_records(cycle)
        if r.kind == "prompt"
    ]
    assert len(hashes) == 2
    assert hashes[0] == hashes[1]
    assert len(llm_server.chat_requests) == 1  # the second one was a cache hit


def test_nothing_proposed_means_no_request(gate_for, llm_server) -> None:
    result = gate_for().review({}, sample_context(), cycle_id="c1")
    assert result.status == "nothing_to_review"
    assert llm_server.requests == []


def test_a_non_positive_proposal_is_a_caller_bug(gate_for) -> None:
    with pytest.raises(ValueError, match="positive"):
        gate_for().review({"AAPL": Decimal(-5)}, sample_context(), cycle_id="c1")


def test_an_unexpected_error_inside_the_oracle_follows_the_policy(store, clock) -> None:
    def explode(_: object) -> str:
        raise RuntimeError("bug")

    gate = GateOracle(
        OracleConfig(on_unavailable="shrink:0.5"),
        ScriptedClient(explode),
        store,
        account="acct",
        now=clock.now,
    )
    result = gate.review(PROPOSED, sample_context(), cycle_id="c1")
    assert result.status == "abstained"
    assert result.allowed == {"AAPL": Decimal("500.00"), "NVDA": Decimal("250.00")}


def test_without_news_the_prompt_and_the_result_say_so(gate_for, llm_server) -> None:
    context = sample_context(news=NewsDigest.empty("rss: no feed could be read"))
    llm_server.answer(
        '{"verdicts": [{"symbol": "AAPL", "verdict": "APPROVE"}, {"symbol": "NVDA", "verdict": "APPROVE"}]}'
    )
    result = gate_for().review(PROPOSED, context, cycle_id="c1")
    body = json.loads((llm_server.chat_requests[0].body or {})["messages"][1]["content"])
    assert body["headlines"] == []
    assert body["news_note"] == "no news available: rss: no feed could be read"
    assert result.news_note == body["news_note"]
    assert result.status == "reviewed"
