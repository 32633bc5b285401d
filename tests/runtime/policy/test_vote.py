"""combine: the policies' probabilities are averaged; the expected level is the target."""

from __future__ import annotations

import math

import numpy as np
import pytest

from invest.runtime.policy.vote import NO_VOTE, Action, combine

OUT, EQ, OVER = Action.OUT, Action.EQUAL, Action.OVER


def _logits(*per_symbol: list[list[float]]) -> np.ndarray:
    """(P, B, 3) logits from per-symbol lists of each policy's logits."""
    return np.transpose(np.asarray(per_symbol, np.float32), (1, 0, 2))


def test_the_mean_probability_and_expected_level_decide_not_the_argmax_count() -> None:
    # two policies lean OVER a little, one is sure of OUT: the majority would say OVER
    lean = math.log(0.4 / 0.3)  # softmax -> (0.3, 0.3, 0.4)
    (v,) = combine(_logits([[0.0, 0.0, lean], [0.0, 0.0, lean], [50.0, 0.0, 0.0]]))
    assert v.probs == pytest.approx(((0.3 + 0.3 + 1.0) / 3, 0.2, 0.8 / 3))
    assert v.action is OUT
    assert v.p_out == pytest.approx(0.5333, abs=1e-4)
    assert v.level == pytest.approx(0.2 + 2 * 0.8 / 3)
    assert v.votes == (2, 2, 0)  # each policy's argmax, for people to read
    assert v.ran


def test_each_symbol_is_combined_separately() -> None:
    sure = {OUT: [50.0, 0, 0], EQ: [0, 50.0, 0], OVER: [0, 0, 50.0]}
    votes = combine(
        _logits([sure[OVER]] * 4, [sure[OUT]] * 4, [sure[EQ], sure[EQ], sure[OVER], sure[OUT]])
    )
    assert [v.level for v in votes] == pytest.approx([2.0, 0.0, 1.0])
    assert [v.action for v in votes] == [OVER, OUT, EQ]
    assert votes[2].probs == pytest.approx((0.25, 0.5, 0.25))


def test_the_scale_of_the_logits_matters_unlike_a_vote_count() -> None:
    (soft,) = combine(_logits([[0.0, 0.0, 0.1]] * 3))
    (hard,) = combine(_logits([[0.0, 0.0, 10.0]] * 3))
    assert soft.votes == hard.votes == (2, 2, 2)
    assert soft.level == pytest.approx(1.0, abs=0.1)
    assert hard.level == pytest.approx(2.0, abs=1e-3)


def test_a_policy_with_non_finite_logits_counts_as_uniform() -> None:
    (v,) = combine(_logits([[50.0, 0, 0], [np.nan, 0, 0], [0, 0, np.inf]]))
    assert v.probs == pytest.approx(((1 + 2 / 3) / 3, (2 / 3) / 3, (2 / 3) / 3))
    assert np.isfinite(v.level)


def test_the_record_form_is_plain_json_data() -> None:
    (v,) = combine(_logits([[50.0, 0, 0], [0, 50.0, 0], [0, 50.0, 0], [0, 0, 50.0]]))
    assert v.as_dict() == {
        "action": "EQUAL",
        "confidence": 0.5,
        "level": 1.0,
        "p": [0.25, 0.5, 0.25],
        "votes": ["OUT", "EQUAL", "EQUAL", "OVER"],
    }


def test_no_vote_is_a_symbol_that_did_not_run() -> None:
    assert not NO_VOTE.ran
    assert NO_VOTE.p_out == 0.0
    assert NO_VOTE.action is EQ
    assert math.isnan(NO_VOTE.level)
    assert NO_VOTE.as_dict() == {"action": None, "confidence": 0.0, "level": None, "votes": []}
