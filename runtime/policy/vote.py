"""Majority vote of an ensemble's policies, per symbol.

Each policy's action is ``argmax(logits)``. The ensemble's action is the one most
policies chose; its confidence is that vote share. A tie for the most votes, or a
share below ``min_confidence``, gives HOLD.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Any

import numpy as np
import numpy.typing as npt

from invest.runtime.policy.manifest import ACTIONS


class Action(StrEnum):
    """Action of a policy or of the ensemble (index order = the policies' action space)."""

    SELL = "SELL"
    HOLD = "HOLD"
    BUY = "BUY"


#: Actions by index of the logits' last axis.
BY_INDEX: tuple[Action, ...] = tuple(Action(a) for a in ACTIONS)
_HOLD = BY_INDEX.index(Action.HOLD)
#: Plain strings of the actions (``Action.value`` is a descriptor call, paid per symbol per cycle).
_TEXT: dict[Action, str] = {a: a.value for a in Action}


@dataclass(frozen=True, slots=True)
class Vote:
    """The ensemble's decision for one symbol.

    Attributes:
        action: the decision (HOLD after a tie or below ``min_confidence``).
        confidence: vote share of the most chosen action (0 when nobody voted).
        votes: each policy's action, in pack order (empty when the symbol had no
            usable bar and the policies were not run).
    """

    action: Action
    confidence: float
    votes: tuple[Action, ...]

    def as_dict(self) -> dict[str, Any]:
        """Plain dict for the explanation record."""
        return {
            "action": _TEXT[self.action],
            "confidence": round(self.confidence, 4),
            "votes": [_TEXT[v] for v in self.votes],
        }

    def share(self, action: Action) -> float:
        """Share of the policies that chose ``action``."""
        return self.votes.count(action) / len(self.votes) if self.votes else 0.0


#: The decision for a symbol whose policies did not run (no usable bar).
NO_VOTE = Vote(Action.HOLD, 0.0, ())


def policy_actions(logits: npt.NDArray[np.float32]) -> npt.NDArray[np.intp]:
    """Each policy's action index, shape ``(P, B)``, from logits of shape ``(P, B, A)``.

    A policy whose logits for a symbol are not all finite votes HOLD for it.
    """
    acts = np.argmax(logits, axis=-1)
    return np.where(np.isfinite(logits).all(axis=-1), acts, _HOLD)


def majority_vote(logits: npt.NDArray[np.float32], min_confidence: float) -> list[Vote]:
    """The ensemble's vote for each of B symbols.

    Args:
        logits: shape ``(P, B, A)``: P policies, B symbols, A actions.
        min_confidence: vote share the winner needs; below it the decision is HOLD.

    Returns:
        One :class:`Vote` per symbol, in batch order.
    """
    n_pol, batch, n_act = logits.shape
    acts = policy_actions(logits)
    counts = np.zeros((batch, n_act), dtype=np.int64)
    np.add.at(counts, (np.arange(batch)[None, :], acts), 1)
    best = counts.max(axis=1)
    winners = np.argmax(counts, axis=1)
    tied = (counts == best[:, None]).sum(axis=1) > 1
    out = []
    # Plain lists: indexing numpy scalars per symbol dominated the vote.
    for top, win, tie, column in zip(
        best.tolist(), winners.tolist(), tied.tolist(), acts.T.tolist(), strict=True
    ):
        share = top / n_pol if n_pol else 0.0
        action = Action.HOLD if tie or share < min_confidence else BY_INDEX[win]
        out.append(Vote(action, share, tuple(BY_INDEX[a] for a in column)))
    return out
