"""The LLM options variants against the loopback server, in hostile modes.

Whatever the model answers (or fails to), the plan's opens are the rules'
candidates with at most their contracts, and the rules' closes are all there.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from invest.runtime.config.oracle import UnavailablePolicy
from invest.runtime.options.plan import OptionsPlan, within_candidates
from invest.runtime.options.structures import StructureKind
from invest.runtime.oracle import MemoryStore, OracleConfig
from invest.runtime.oracle.options.menu import Menu, Verb
from invest.runtime.oracle.options.parsing import Decision, parse_actions, parse_type
from invest.runtime.oracle.options.prompts import TYPE_SYSTEM, WHEEL_SYSTEM
from invest.runtime.oracle.options.review import (
    LLMOptionsStrategy,
    OptionsOracle,
    OptionsReview,
    apply_review,
    build_llm_options,
)
from tests.runtime.oracle.options_support import (
    AAPL_BULL_PUT,
    AAPL_CSP,
    AAPL_ROLL,
    DTE_CLOSE,
    EXPIRING_PUT,
    MSFT_BULL_PUT,
    OLD_SPREAD,
    OTHER_SPREAD,
    ROLL_CLOSE,
    FakeRules,
    context,
    spreads_plan,
    wheel_plan,
)
from tests.runtime.oracle.support import (
    FakeLLMServer,
    FixedClock,
    Reply,
    ScriptedClient,
    completion,
    make_config,
)

BLOCK = UnavailablePolicy.parse("block")
ALLOW = UnavailablePolicy.parse("allow")


def _answer(**doc: Any) -> str:
    return json.dumps(doc)


def _actions(*items: dict[str, Any]) -> str:
    return json.dumps({"actions": list(items)})


def route(type_answer: str | Reply, actions_answer: str | Reply) -> Callable[..., Reply]:
    """Answer pass 1 (and its repair) with ``type_answer``, anything else with ``actions_answer``."""

    def respond(body: dict[str, Any]) -> Reply:
        first = body["messages"][0]["content"]
        chosen = type_answer if first == TYPE_SYSTEM else actions_answer
        return chosen if isinstance(chosen, Reply) else completion(chosen)

    return respond


@pytest.fixture
def variant(
    llm_server: FakeLLMServer,
    make_client: Callable[..., Any],
    store: MemoryStore,
    clock: FixedClock,
    tmp_path: Path,
) -> Callable[..., LLMOptionsStrategy]:
    def build(
        rules: FakeRules,
        *,
        replay_only: bool = False,
        fail_policy: UnavailablePolicy | None = None,
        **overrides: Any,
    ) -> LLMOptionsStrategy:
        config = make_config(llm_server, **overrides)
        client = make_client(config, replay_only=replay_only)
        oracle = OptionsOracle(
            config, client, store, account="acct", now=clock.now, audit_dir=tmp_path / "audit"
        )
        return LLMOptionsStrategy(rules, oracle, fail_policy)

    return build


def _opens(plan: OptionsPlan) -> list[tuple[str, int]]:
    return [(o.key, o.contracts) for o in plan.opens]


def _user_body(request: Any) -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads(request.body["messages"][1]["content"])
    return loaded


# -- spreads: two passes ----------------------------------------------------------------


def test_a_valid_shrink_opens_the_chosen_candidate_with_fewer_contracts(
    variant, llm_server
) -> None:
    llm_server.respond = route(
        _answer(spread_type="Bull Put Spread", reason="IV percentile 72: sell premium"),
        _actions(
            {"action": "OPEN_SPREAD", "candidate_id": "c1", "contracts": 1, "reason": "half size"}
        ),
    )
    strategy = variant(FakeRules(spreads_plan()))
    assert strategy.name == "vertical_spreads_llm"
    plan = strategy.plan(context(OLD_SPREAD))
    assert _opens(plan) == [(AAPL_BULL_PUT.key, 1)]
    assert plan.closes == (DTE_CLOSE,)
    assert within_candidates(plan, plan.candidates) == []
    record = plan.context["llm"]
    assert record["status"] == "decided"
    assert record["chosen_type"] == "bull_put"
    assert record["decisions"][0]["reason"] == "half size"
    assert "half size" in plan.opens[0].reason
    assert plan.context["trend"] == {"AAPL": {"mom_126": 0.12}}  # the rules' context kept
    # pass 2 showed only the chosen type's candidates, with the rules' contracts
    second = _user_body(llm_server.chat_requests[1])
    assert [(c["id"], c["type"], c["max_contracts"]) for c in second["candidates"]] == [
        ("c1", "bull_put", 2),
        ("c2", "bull_put", 1),
    ]


def test_pass_one_offers_only_the_types_among_the_candidates(variant, llm_server) -> None:
    llm_server.respond = route(_answer(spread_type="SKIP", reason="wait"), _actions())
    variant(FakeRules(spreads_plan())).plan(context())
    first = _user_body(llm_server.chat_requests[0])
    assert [t["type"] for t in first["allowed_types"]] == ["bull_put", "bear_call"]
    assert first["underlyings"]["AAPL"]["iv_percentile"] == 72.0
    assert first["rules_figures"] == {"trend": {"AAPL": {"mom_126": 0.12}}}


def test_a_type_not_allowed_is_refused_and_the_opens_follow_the_policy(variant, llm_server) -> None:
    llm_server.respond = route(_answer(spread_type="iron_condor", reason="range"), _actions())
    plan = variant(FakeRules(spreads_plan())).plan(context(OLD_SPREAD))
    assert plan.opens == ()
    assert plan.closes == (DTE_CLOSE,)
    assert "iron_condor is not allowed" in plan.context["llm"]["note"]
    assert plan.context["llm"]["policy"] == "block"
    assert len(llm_server.chat_requests) == 2  # the question and one repair, no pass 2


def test_skip_in_pass_one_opens_nothing_even_when_the_policy_would_allow(
    variant, llm_server
) -> None:
    llm_server.respond = route(_answer(spread_type="SKIP", reason="earnings week"), _actions())
    plan = variant(FakeRules(spreads_plan()), fail_policy=ALLOW).plan(context())
    assert plan.opens == ()
    assert plan.context["llm"]["status"] == "decided"
    assert len(llm_server.chat_requests) == 1  # nothing to open, no position to close


def test_an_invented_candidate_is_dropped(variant, llm_server) -> None:
    invented = "AAPL240719P00150000"
    llm_server.respond = route(
        _answer(spread_type="bull_put"),
        _actions(
            {"action": "OPEN_SPREAD", "candidate_id": "c9", "contracts": 1},
            {"action": "OPEN_SPREAD", "candidate_id": invented, "contracts": 1},
            {"action": "OPEN_SPREAD", "candidate_id": "c3", "contracts": 1},  # a bear call
        ),
    )
    plan = variant(FakeRules(spreads_plan())).plan(context())
    assert plan.opens == ()
    dropped = " | ".join(plan.context["llm"]["dropped"])
    assert "'c9': not a candidate shown" in dropped
    assert f"{invented!r}: not a candidate shown" in dropped
    assert "'c3': not a candidate shown" in dropped  # not of the chosen type
    assert any(n.startswith("LLM action dropped:") for n in plan.notes)


def test_a_larger_size_is_refused_and_the_other_actions_stand(variant, llm_server) -> None:
    llm_server.respond = route(
        _answer(spread_type="bull_put"),
        _actions(
            {"action": "OPEN_SPREAD", "candidate_id": "c1", "contracts": 5},
            {"action": "OPEN_SPREAD", "candidate_id": "c2", "contracts": "1"},
        ),
    )
    plan = variant(FakeRules(spreads_plan())).plan(context())
    assert _opens(plan) == [(MSFT_BULL_PUT.key, 1)]
    refused = "OPEN_SPREAD c1: 5 contracts > the rules' 2; a larger size is refused"
    assert refused in plan.context["llm"]["dropped"]


def test_the_model_opens_no_more_structures_than_the_rules_did(variant, llm_server) -> None:
    llm_server.respond = route(
        _answer(spread_type="bull_put"),
        _actions(
            {"action": "OPEN_SPREAD", "candidate_id": "c1"},
            {"action": "OPEN_SPREAD", "candidate_id": "c2"},
        ),
    )
    plan = variant(FakeRules(spreads_plan())).plan(context())
    assert _opens(plan) == [(AAPL_BULL_PUT.key, 2)]  # no size given: the rules' contracts
    assert "OPEN_SPREAD c2: more opens than the rules' 1" in plan.context["llm"]["dropped"]


def test_closes_a_known_position_and_drops_unknown_ones(variant, llm_server) -> None:
    llm_server.respond = route(
        _answer(spread_type="bull_put"),
        _actions(
            {"action": "SKIP", "reason": "nothing attractive"},
            {"action": "CLOSE", "position_id": "p2", "reason": "regime turned"},
            {"action": "CLOSE", "position_id": "p1"},  # the rules close it already
            {"action": "CLOSE", "position_id": "opt-made-up"},
        ),
    )
    plan = variant(FakeRules(spreads_plan())).plan(context(OLD_SPREAD, OTHER_SPREAD))
    assert plan.opens == ()
    assert plan.closes[0] == DTE_CLOSE
    assert [(c.position_id, c.rule) for c in plan.closes[1:]] == [(OTHER_SPREAD.id, "strategy")]
    assert "regime turned" in plan.closes[1].reason
    dropped = plan.context["llm"]["dropped"]
    assert "CLOSE p1: already closed by the rules (dte)" in dropped
    assert "CLOSE 'opt-made-up': not an open position, dropped" in dropped


# -- hostile servers: garbage, timeouts, down ------------------------------------------


@pytest.mark.parametrize(
    ("policy", "expected"),
    [
        (BLOCK, []),
        (ALLOW, [(AAPL_BULL_PUT.key, 2)]),
        (UnavailablePolicy.parse("shrink:0.5"), [(AAPL_BULL_PUT.key, 1)]),
    ],
)
def test_garbage_follows_the_fail_policy_and_keeps_the_closes(
    variant, llm_server, policy, expected
) -> None:
    llm_server.respond = lambda body: completion("Sure! I'd go with the bull put, it looks great.")
    plan = variant(FakeRules(spreads_plan()), fail_policy=policy).plan(context(OLD_SPREAD))
    assert _opens(plan) == expected
    assert plan.closes == (DTE_CLOSE,)
    assert plan.context["llm"]["status"] == "abstained"
    assert plan.context["llm"]["policy"] == policy.kind


def test_garbage_in_pass_two_follows_the_policy(variant, llm_server) -> None:
    llm_server.respond = route(_answer(spread_type="bull_put"), "{not json at all")
    plan = variant(FakeRules(spreads_plan())).plan(context(OLD_SPREAD))
    assert plan.opens == ()
    assert plan.closes == (DTE_CLOSE,)
    assert plan.context["llm"]["note"].startswith("answer unusable")


def test_a_server_that_is_down_blocks_the_opens_and_keeps_every_close(variant, llm_server) -> None:
    strategy = variant(FakeRules(spreads_plan()), max_retries=0)
    llm_server.stop()
    plan = strategy.plan(context(OLD_SPREAD, OTHER_SPREAD))
    assert plan.opens == ()
    assert plan.closes == (DTE_CLOSE,)
    assert plan.context["llm"]["note"].startswith("LLM unavailable")


def test_timeouts_with_allow_let_the_rules_opens_through(variant, llm_server) -> None:
    llm_server.respond = lambda body: Reply(delay_s=0.6, body={})
    strategy = variant(FakeRules(spreads_plan()), fail_policy=ALLOW, timeout_s=0.2, max_retries=0)
    plan = strategy.plan(context(OLD_SPREAD))
    assert _opens(plan) == [(AAPL_BULL_PUT.key, 2)]
    assert plan.closes == (DTE_CLOSE,)


def test_no_candidate_and_no_position_asks_nothing(variant, llm_server) -> None:
    rules = FakeRules(OptionsPlan())
    plan = variant(rules).plan(context())
    assert plan.opens == ()
    assert plan.closes == ()
    assert llm_server.chat_requests == []
    assert plan.context["llm"]["status"] == "nothing_to_review"


# -- the wheel: one pass ---------------------------------------------------------------


def test_the_wheel_checks_each_verb_against_its_candidate(variant, llm_server) -> None:
    llm_server.respond = lambda body: completion(
        _actions(
            {"action": "SELL_CALL", "candidate_id": "c1"},  # c1 is a put
            {"action": "SELL_CSP", "candidate_id": "c1", "contracts": 1},
            {"action": "roll", "candidate_id": "c3"},
        )
    )
    plan = variant(FakeRules(wheel_plan(), name="wheel")).plan(context(EXPIRING_PUT))
    assert _opens(plan) == [(AAPL_CSP.key, 1), (AAPL_ROLL.key, 1)]
    assert plan.closes == (ROLL_CLOSE,)
    assert (
        "SELL_CALL c1: that candidate opens with SELL_PUT, dropped"
        in (plan.context["llm"]["dropped"])
    )
    assert plan.context["llm"]["style"] == "wheel"
    request = llm_server.chat_requests[0].body
    assert request["messages"][0]["content"] == WHEEL_SYSTEM
    shown = json.loads(request["messages"][1]["content"])["candidates"]
    assert [(c["id"], c["action"]) for c in shown] == [
        ("c1", "SELL_PUT"),
        ("c2", "SELL_CALL"),
        ("c3", "ROLL"),
    ]
    assert shown[2]["roll_of"] == "p1"


def test_skipping_a_roll_still_closes_the_old_position(variant, llm_server) -> None:
    llm_server.respond = lambda body: completion(_actions({"action": "SKIP", "reason": "wait"}))
    plan = variant(FakeRules(wheel_plan(), name="wheel")).plan(context(EXPIRING_PUT))
    assert plan.opens == ()
    assert plan.closes == (ROLL_CLOSE,)


def test_prompts_hold_no_calendar_date_and_no_occ_symbol(variant, llm_server) -> None:
    llm_server.respond = route(_answer(spread_type="bull_put"), _actions({"action": "SKIP"}))
    variant(FakeRules(spreads_plan())).plan(context(OTHER_SPREAD))
    for request in llm_server.chat_requests:
        text = json.dumps(request.body["messages"])
        assert not re.search(r"20\d\d-\d\d-\d\d", text)
        assert not re.search(r"[A-Z]{1,6}\d{6}[CP]\d{8}", text)


# -- replay --------------------------------------------------------------------------------


def test_replay_answers_from_the_cache_and_a_miss_follows_the_policy(variant, llm_server) -> None:
    llm_server.respond = route(
        _answer(spread_type="bull_put"),
        _actions({"action": "OPEN_SPREAD", "candidate_id": "c2", "contracts": 1}),
    )
    live = variant(FakeRules(spreads_plan())).plan(context())
    asked = len(llm_server.chat_requests)
    replay = variant(FakeRules(spreads_plan()), replay_only=True)
    again = replay.plan(context())
    assert _opens(again) == _opens(live) == [(MSFT_BULL_PUT.key, 1)]
    assert len(llm_server.chat_requests) == asked  # nothing sent
    changed = replay.plan(context(OTHER_SPREAD))  # another prompt: not in the cache
    assert changed.opens == ()
    assert changed.context["llm"]["status"] == "abstained"
    assert len(llm_server.chat_requests) == asked


# -- the pure parts ----------------------------------------------------------------------


def test_the_defence_drops_every_open_outside_the_candidates() -> None:
    plan = spreads_plan()
    menu = Menu.build(plan, context().book)
    forged = OptionsReview(
        menu, "decided", "forged", decisions=(Decision(Verb.OPEN_SPREAD, "c1", 7),)
    )
    out = apply_review(plan, forged, ALLOW)
    assert out.opens == ()
    assert any("every open dropped" in n and "7 contracts > the rules' 2" in n for n in out.notes)
    fine = OptionsReview(menu, "decided", "ok", decisions=(Decision(Verb.OPEN_SPREAD, "c1", 2),))
    assert _opens(apply_review(plan, fine, ALLOW)) == [(AAPL_BULL_PUT.key, 2)]


def test_parse_actions_keeps_valid_items_among_malformed_ones() -> None:
    menu = Menu.build(spreads_plan(), context(OTHER_SPREAD).book).of_kind(StructureKind.BULL_PUT)
    text = (
        "<think>hmm</think> ```json\n"
        + _actions(
            "not an object",
            {"action": "BUY", "candidate_id": "c1"},
            {"action": "OPEN_SPREAD"},
            {"action": "OPEN_SPREAD", "candidate_id": "c1", "contracts": 1.5},
            {"action": "OPEN_SPREAD", "candidate_id": "c1", "contracts": 0},
            {"action": "open", "id": 2, "qty": 1, "why": "fine"},
            {"action": "OPEN_SPREAD", "candidate_id": "c2", "contracts": 1},
        )
        + "\n```"
    )
    parsed = parse_actions(text, menu)
    assert parsed.decisions == (Decision(Verb.OPEN_SPREAD, "c2", 1, "fine"),)
    assert parsed.decided
    assert not parsed.needs_repair
    assert len(parsed.problems) == 6
    assert parse_actions("nope", menu).fatal is not None


def test_parse_type_reads_names_and_refuses_the_rest() -> None:
    allowed = (StructureKind.BULL_PUT, StructureKind.BEAR_CALL)
    assert parse_type('{"spread_type": "Bear Call Spread"}', allowed).chosen is (
        StructureKind.BEAR_CALL
    )
    skip = parse_type('{"type": "skip", "reason": "calm"}', allowed)
    assert skip.chosen is None
    assert skip.fatal is None
    assert skip.reason == "calm"
    assert parse_type('{"spread_type": "straddle"}', allowed).fatal is not None
    assert parse_type('{"spread_type": "butterfly"}', allowed).fatal is not None
    assert parse_type("[1, 2]", allowed).fatal is not None


# -- self-consistency and the audit trail -------------------------------------------------


def test_samples_are_voted_and_the_size_is_the_median_low(variant, llm_server) -> None:
    types = {0: "bull_put", 1: "bull_put", 2: "bear_call"}
    actions = {
        0: _actions({"action": "OPEN_SPREAD", "candidate_id": "c1", "contracts": 2}),
        1: _actions({"action": "OPEN_SPREAD", "candidate_id": "c1", "contracts": 1}),
        2: _actions({"action": "OPEN_SPREAD", "candidate_id": "c2", "contracts": 1}),
    }

    def respond(body: dict[str, Any]) -> Reply:
        if body["messages"][0]["content"] == TYPE_SYSTEM:
            return completion(_answer(spread_type=types[body["seed"]]))
        return completion(actions[body["seed"]])

    llm_server.respond = respond
    plan = variant(FakeRules(spreads_plan()), self_consistency_k=3).plan(context())
    assert plan.context["llm"]["chosen_type"] == "bull_put"
    assert _opens(plan) == [(AAPL_BULL_PUT.key, 1)]  # c2 had 1 vote of 3
    assert len(llm_server.chat_requests) == 6


def test_a_split_vote_on_the_type_skips(variant, llm_server) -> None:
    types = {0: "bull_put", 1: "bear_call", 2: "SKIP"}
    llm_server.respond = lambda body: completion(_answer(spread_type=types[body["seed"]]))
    plan = variant(FakeRules(spreads_plan()), self_consistency_k=3, fail_policy=ALLOW).plan(
        context()
    )
    assert plan.opens == ()
    assert plan.context["llm"]["status"] == "decided"


def test_the_review_is_audited_to_the_store_and_a_cycle_file(
    variant, llm_server, store, tmp_path
) -> None:
    llm_server.respond = route(_answer(spread_type="bull_put"), _actions({"action": "SKIP"}))
    variant(FakeRules(spreads_plan())).plan(context())
    kinds = [r.kind for r in store.audit_records(f"acct:{context().day.isoformat()}:options")]
    assert kinds[0] == "options.start"
    assert kinds[-1] == "options.verdict"
    assert kinds.count("prompt") == 2
    assert kinds.count("response") == 2
    assert list((tmp_path / "audit").glob("*.json"))


def test_a_wheel_account_with_nothing_to_open_gets_the_wheel_question(variant, llm_server) -> None:
    llm_server.respond = lambda body: completion(
        _actions({"action": "CLOSE", "position_id": "p1", "reason": "take the profit"})
    )
    plan = variant(FakeRules(OptionsPlan(), name="wheel")).plan(context(EXPIRING_PUT))
    assert llm_server.chat_requests[0].body["messages"][0]["content"] == WHEEL_SYSTEM
    assert [c.position_id for c in plan.closes] == [EXPIRING_PUT.id]
    assert plan.context["llm"]["status"] == "decided"


# -- property: whatever the model answers ------------------------------------------------

VERBS = [
    "OPEN_SPREAD",
    "open",
    "SELL_PUT",
    "SELL_CALL",
    "ROLL",
    "CLOSE",
    "SKIP",
    "BUY",
    "",
    None,
    3,
]
REFS = ["c1", "c2", "c3", "C1", "c9", 1, 2, 7, "p1", "p2", "p9", OTHER_SPREAD.id, "opt-x", "", None]
SIZES = st.one_of(
    st.none(),
    st.integers(min_value=-5, max_value=10**9),
    st.floats(allow_nan=True, allow_infinity=True),
    st.sampled_from(["1", "2 contracts", "all", "1.5", "-1", "1e9", ""]),
)
ITEMS = st.one_of(
    st.fixed_dictionaries(
        {
            "action": st.sampled_from(VERBS),
            "candidate_id": st.sampled_from(REFS),
            "position_id": st.sampled_from(REFS),
            "contracts": SIZES,
        }
    ),
    st.sampled_from(["text", 5, None, [1, 2]]),
)
TYPES = st.sampled_from(["bull_put", "bear_call", "iron_condor", "SKIP", "", "bull put spread"])


@given(
    items=st.lists(ITEMS, max_size=8),
    kind=TYPES,
    wrap=st.booleans(),
    policy=st.sampled_from(["block", "allow", "shrink:0.5"]),
)
@settings(max_examples=150, deadline=None)
def test_no_answer_invents_enlarges_or_loses_a_close(
    items: list[Any], kind: str, wrap: bool, policy: str
) -> None:
    actions = json.dumps({"actions": items} if wrap else items)

    def answer(request: Any) -> str:
        is_type = request.messages[0]["content"] == TYPE_SYSTEM
        return json.dumps({"spread_type": kind}) if is_type else actions

    config = OracleConfig(on_unavailable=policy)
    oracle = OptionsOracle(
        config, ScriptedClient(answer), MemoryStore(), account="acct", now=FixedClock().now
    )
    rules_plan = spreads_plan()
    plan = LLMOptionsStrategy(FakeRules(rules_plan), oracle).plan(context(OLD_SPREAD, OTHER_SPREAD))
    assert within_candidates(plan, rules_plan.candidates) == []
    assert len(plan.opens) <= max(len(rules_plan.opens), 1)
    assert plan.closes[: len(rules_plan.closes)] == rules_plan.closes
    assert {c.position_id for c in plan.closes[len(rules_plan.closes) :]} <= {OTHER_SPREAD.id}


def test_a_position_the_rules_close_is_shown_with_its_legs(variant, llm_server) -> None:
    llm_server.respond = lambda body: completion(_actions({"action": "SKIP"}))
    variant(FakeRules(wheel_plan(), name="wheel")).plan(context(EXPIRING_PUT))
    shown = _user_body(llm_server.chat_requests[0])
    assert shown["open_positions"] == []
    [closing] = shown["closing_anyway"]
    assert (closing["id"], closing["rule"], closing["legs"], closing["dte"]) == (
        "p1",
        "roll",
        ["-1 put 175"],
        3,
    )


def test_built_for_an_account_a_later_replay_reads_the_answers_from_disk(
    llm_server, clock, tmp_path
) -> None:
    llm_server.respond = route(
        _answer(spread_type="bull_put"),
        _actions({"action": "OPEN_SPREAD", "candidate_id": "c1", "contracts": 1}),
    )
    config = make_config(llm_server)
    live = build_llm_options(FakeRules(spreads_plan()), config, "acct", tmp_path, now=clock.now)
    first = live.plan(context())
    live.close()
    asked = len(llm_server.chat_requests)
    llm_server.stop()
    replay = build_llm_options(
        FakeRules(spreads_plan()), config, "acct", tmp_path, now=clock.now, replay_only=True
    )
    again = replay.plan(context())
    replay.close()
    assert _opens(again) == _opens(first) == [(AAPL_BULL_PUT.key, 1)]
    assert len(llm_server.chat_requests) == asked
    assert list((tmp_path / "oracle" / "cycles").glob("*.json"))


def test_a_bug_on_the_llm_side_keeps_the_closes_and_applies_the_policy(variant) -> None:
    strategy = variant(FakeRules(spreads_plan()), fail_policy=ALLOW)

    def broken(*args: Any, **kwargs: Any) -> OptionsReview:
        raise RuntimeError("boom")

    strategy.oracle.review = broken  # type: ignore[method-assign]
    plan = strategy.plan(context(OLD_SPREAD))
    assert plan.closes == (DTE_CLOSE,)
    assert _opens(plan) == [(AAPL_BULL_PUT.key, 2)]
    assert plan.context["llm"]["status"] == "abstained"
