"""Majority vote: the most chosen action wins, confidence is its share, doubt means HOLD."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import numpy.typing as npt

from invest.runtime.policy.vote import NO_VOTE, Action, Vote, majority_vote

S, H, B = Action.SELL, Action.HOLD, Action.BUY


def _logits(*per_symbol: Sequence[Action]) -> npt.NDArray[np.float32]:
    """(P, B, 3) logits where policy p picks per_symbol[b][p] for symbol b."""
    n_pol = len(per_symbol[0])
    out = np.zeros((n_pol, len(per_symbol), 3), np.float32)
    for b, acts in enumerate(per_symbol):
        for p, a in enumerate(acts):
            out[p, b, [S, H, B].index(a)] = 1.0 + p  # different scales: only argmax counts
    return out


def test_the_majority_action_wins_with_its_vote_share_as_confidence() -> None:
    (v,) = majority_vote(_logits([B, B, B, S, H]), min_confidence=0.6)
    assert v == Vote(B, 0.6, (B, B, B, S, H))


def test_each_symbol_is_voted_on_separately() -> None:
    votes = majority_vote(_logits([B] * 5, [S, S, S, S, B], [H, H, H, B, B]), 0.6)
    assert [(v.action, v.confidence) for v in votes] == [(B, 1.0), (S, 0.8), (H, 0.6)]


def test_a_tie_for_the_most_votes_is_a_hold() -> None:
    (v,) = majority_vote(_logits([B, B, S, S, H]), min_confidence=0.1)
    assert v.action is H
    assert v.confidence == 0.4
    (even,) = majority_vote(_logits([B, S]), min_confidence=0.1)
    assert even.action is H


def test_below_min_confidence_the_decision_is_hold_and_at_it_the_winner_stands() -> None:
    logits = _logits([B, B, B, S, H])
    assert majority_vote(logits, min_confidence=0.61)[0].action is H
    assert majority_vote(logits, min_confidence=0.6)[0].action is B
    two_of_three = _logits([S, S, B])
    assert majority_vote(two_of_three, min_confidence=0.6)[0].action is S
    low = majority_vote(two_of_three, min_confidence=0.7)[0]
    assert (low.action, low.confidence) == (H, 2 / 3)


def test_a_policy_with_non_finite_logits_votes_hold() -> None:
    logits = _logits([B, B, B])
    logits[0, 0, 0] = np.nan
    (v,) = majority_vote(logits, 0.5)
    assert v.votes == (H, B, B)
    assert v.action is B


def test_the_record_form_is_plain_json_data() -> None:
    (v,) = majority_vote(_logits([B, B, S]), 0.5)
    assert v.as_dict() == {"action": "BUY", "confidence": 0.6667, "votes": ["BUY", "BUY", "SELL"]}
    assert v.share(S) == 1 / 3
    assert NO_VOTE.as_dict() == {"action": "HOLD", "confidence": 0.0, "votes": []}
    assert NO_VOTE.share(B) == 0.0
