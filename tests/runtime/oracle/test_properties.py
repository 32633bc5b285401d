"""Property tests: whatever a model answers, parsing never raises and the gate never enlarges."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from invest.runtime.config.oracle import UnavailablePolicy
from invest.runtime.oracle import GateOracle, MemoryStore, OracleConfig, OracleContext
from invest.runtime.oracle.gate.parsing import parse_gate
from invest.runtime.oracle.gate.review import apply_verdicts
from invest.runtime.oracle.manager.parsing import parse_actions, parse_analysis
from invest.runtime.oracle.schemas import Action
from tests.runtime.oracle.support import ScriptedClient

SYMBOLS = ["AAPL", "MSFT", "NVDA", "TSLA", "$aapl", "msft ", "", "BRK.B", "X" * 30]
VERDICTS = [
    "APPROVE",
    "approve",
    "Approved",
    "SHRINK",
    "shrink",
    "reduce",
    "VETO",
    "veto",
    "reject",
    "maybe",
    "",
    1,
    None,
    True,
    ["VETO"],
]
NUMBERS = st.one_of(
    st.floats(allow_nan=True, allow_infinity=True),
    st.integers(-(10**20), 10**20),
    st.sampled_from(["50%", "150%", "0.5", "-1", "1.5", "1e400", "$1,000", "2k", "nan", "", "½"]),
    st.text(max_size=8),
    st.none(),
    st.booleans(),
)
JSON_SCALARS = st.one_of(
    st.none(), st.booleans(), st.integers(), st.floats(allow_nan=False), st.text(max_size=20)
)
JSON_VALUES = st.recursive(
    JSON_SCALARS,
    lambda inner: st.one_of(
        st.lists(inner, max_size=4), st.dictionaries(st.text(max_size=10), inner, max_size=4)
    ),
    max_leaves=8,
)
VERDICT_ITEM = st.fixed_dictionaries(
    {
        "symbol": st.sampled_from(SYMBOLS),
        "verdict": st.sampled_from(VERDICTS),
    },
    optional={
        "fraction": NUMBERS,
        "percent": NUMBERS,
        "amount": NUMBERS,
        "reason": st.one_of(st.text(max_size=30), JSON_VALUES),
        "headline_ids": st.one_of(st.lists(st.text(max_size=6), max_size=3), JSON_SCALARS),
        "Ticker": st.sampled_from(SYMBOLS),
        "decision": st.sampled_from(VERDICTS),
    },
)
ACTION_ITEM = st.fixed_dictionaries(
    {
        "action": st.sampled_from(["BUY", "sell", "HOLD", "exit", "short", None, 3]),
        "symbol": st.sampled_from(SYMBOLS),
    },
    optional={
        "amount": st.one_of(st.integers(1, 10**6), NUMBERS),
        "stop_loss_pct": NUMBERS,
        "take_profit_pct": NUMBERS,
        "time_stop_days": NUMBERS,
        "thesis": JSON_VALUES,
    },
)


def _documents(item: st.SearchStrategy[dict[str, Any]]) -> st.SearchStrategy[Any]:
    items = st.lists(st.one_of(item, JSON_VALUES), max_size=6)
    return st.one_of(
        items.map(lambda xs: {"verdicts": xs}),
        items.map(lambda xs: {"actions": xs}),
        items,
        st.dictionaries(st.sampled_from(SYMBOLS), st.one_of(item, st.sampled_from(VERDICTS[:9]))),
        JSON_VALUES,
    )


GATE_DOCS = _documents(VERDICT_ITEM)
ACTION_DOCS = _documents(ACTION_ITEM)


@st.composite
def answers(draw: st.DrawFn, documents: st.SearchStrategy[Any]) -> str:
    """Model-like answers: JSON wrapped in prose, fences or think blocks, truncated, or garbage."""
    text = json.dumps(draw(documents), allow_nan=True)
    form = draw(st.integers(0, 6))
    if form == 1:
        text = f"```json\n{text}\n```"
    elif form == 2:
        text = f"<think>{draw(st.text(max_size=30))}</think>{text}"
    elif form == 3:
        text = text[: draw(st.integers(0, len(text)))]
    elif form == 4:
        text = f"{draw(st.text(max_size=20))} {text} {draw(st.text(max_size=20))}"
    elif form == 5:
        text = draw(
            st.text(alphabet=st.sampled_from('{}[]":,0123456789.-eE truefalsn\\'), max_size=80)
        )
    elif form == 6:
        text = draw(st.text(max_size=120))
    return text


PROPOSED = st.dictionaries(
    st.sampled_from(["AAPL", "MSFT", "NVDA", "BRK.B"]),
    st.decimals(min_value=Decimal("0.01"), max_value=Decimal("1000000"), places=2),
    min_size=1,
)
POLICIES = st.sampled_from(["block", "allow", "shrink:0.5", "shrink:0"]).map(
    UnavailablePolicy.parse
)


def _check_never_enlarges(proposed: dict[str, Decimal], allowed: dict[str, Decimal]) -> None:
    assert set(allowed) == set(proposed), "the gate added or lost a symbol"
    for symbol, notional in allowed.items():
        assert Decimal(0) <= notional <= proposed[symbol], f"{symbol} was enlarged"


@settings(max_examples=1000, deadline=None)
@given(text=answers(GATE_DOCS), proposed=PROPOSED, policy=POLICIES)
def test_gate_parsing_never_raises_and_never_enlarges_an_order(
    text: str, proposed: dict[str, Decimal], policy: UnavailablePolicy
) -> None:
    parsed = parse_gate(text, proposed, {"h1"})
    assert set(parsed.verdicts) <= set(proposed)
    outcome = apply_verdicts(proposed, parsed.verdicts, policy)
    _check_never_enlarges(proposed, outcome.allowed)
    assert len(outcome.records) == len(proposed)


@settings(max_examples=1000, deadline=None)
@given(text=answers(ACTION_DOCS))
def test_manager_parsing_never_raises_and_keeps_only_allowed_trades(text: str) -> None:
    parse_analysis(text)
    parsed = parse_actions(text, buyable={"AAPL", "NVDA"}, held={"MSFT"})
    for action in parsed.actions:
        if action.action is Action.BUY:
            assert action.symbol in {"AAPL", "NVDA"}
            assert action.amount is not None
            assert action.amount > 0
        if action.action is Action.SELL:
            assert action.symbol == "MSFT"
    assert len({a.symbol for a in parsed.actions}) == len(parsed.actions)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(first=answers(GATE_DOCS), repair=answers(GATE_DOCS), proposed=PROPOSED)
def test_the_whole_gate_never_enlarges_whatever_the_model_says(
    first: str, repair: str, proposed: dict[str, Decimal]
) -> None:
    replies = iter([first, repair])
    client = ScriptedClient(lambda _: next(replies))
    oracle = GateOracle(
        OracleConfig(on_unavailable="allow"),
        client,
        MemoryStore(),
        account="acct",
        now=lambda: datetime(2024, 6, 12, tzinfo=UTC),
    )
    context = OracleContext(datetime(2024, 6, 12, tzinfo=UTC))
    result = oracle.review(proposed, context, cycle_id="c1")
    _check_never_enlarges(proposed, result.allowed)
    assert len(client.calls) <= 2
