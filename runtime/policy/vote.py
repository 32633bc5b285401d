"""The ensemble's decision per symbol: its policies' probabilities, averaged.

Each policy gives a probability for each target level (``OUT``, ``EQUAL``, ``OVER``,
see :mod:`~invest.runtime.policy.contract`). The ensemble averages them; the
*expected level* under that mean is what ``rl_ensemble`` targets, and the mean
probability of ``OUT`` is what lets ``hybrid`` veto a trend_king pick. Nothing
here takes an argmax for a decision: argmax labels of near-uniform policies are
initialisation noise, and an average of probabilities is what the trainer's
stochastic policies were optimised for. Each policy's argmax is kept only as a
readable "vote" in the explanation record.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

import numpy as np
import numpy.typing as npt

from invest.runtime.policy.contract import ACTIONS, expected_level, softmax


class Action(StrEnum):
    """A target level, by index of the policies' action space."""

    OUT = "OUT"
    EQUAL = "EQUAL"
    OVER = "OVER"


#: Actions by index of the logits' last axis.
BY_INDEX: tuple[Action, ...] = tuple(Action(a) for a in ACTIONS)
OUT = BY_INDEX.index(Action.OUT)
#: Plain strings of the actions (``Action.value`` is a descriptor call, paid per symbol per cycle).
ACTION_TEXT: tuple[str, ...] = tuple(a.value for a in BY_INDEX)


@dataclass(frozen=True, slots=True)
class Vote:
    """The ensemble's view of one symbol.

    Attributes:
        probs: mean probability of each action over the policies (empty when the
            symbol had no usable bar and the policies were not run).
        level: expected target level under ``probs`` (NaN when not run).
        votes: each policy's most likely action, in pack order (for people to read).
    """

    probs: tuple[float, ...]
    level: float
    votes: tuple[int, ...]

    @property
    def ran(self) -> bool:
        """True when the policies stepped on this symbol."""
        return bool(self.probs)

    @property
    def p_out(self) -> float:
        """Mean probability of ``OUT`` (0 when not run)."""
        return self.probs[OUT] if self.probs else 0.0

    @property
    def action(self) -> Action:
        """The action with the highest mean probability (``EQUAL`` when not run)."""
        if not self.probs:
            return Action.EQUAL
        return BY_INDEX[max(range(len(self.probs)), key=self.probs.__getitem__)]

    def as_dict(self) -> dict[str, Any]:
        """Plain dict for the explanation record (see :func:`records`)."""
        return records({"": self})[""]


#: The decision for a symbol whose policies did not run (no usable bar).
NO_VOTE = Vote((), float("nan"), ())


def records(votes: Mapping[str, Vote]) -> dict[str, dict[str, Any]]:
    """The explanation record of each symbol's vote: action, confidence, level, p, votes.

    Probabilities and levels are rounded to 4 decimals in one numpy call for all the
    symbols (a ``round`` per value was a tenth of an RL replay). A symbol the policies
    did not run on gets ``action``/``level`` None and no ``p``.
    """
    ran = [(s, v) for s, v in votes.items() if v.ran]
    done: dict[str, dict[str, Any]] = {}
    if ran:
        probs = np.array([v.probs for _, v in ran])
        extra = np.column_stack([probs.max(axis=1), [v.level for _, v in ran]])
        p4, e4 = np.round(probs, 4).tolist(), np.round(extra, 4).tolist()
        for (s, v), p, (confidence, level) in zip(ran, p4, e4, strict=True):
            done[s] = {
                "action": v.action.value,
                "confidence": confidence,
                "level": level,
                "p": p,
                "votes": [ACTION_TEXT[a] for a in v.votes],
            }
    return {
        s: done[s] if v.ran else {"action": None, "confidence": 0.0, "level": None, "votes": []}
        for s, v in votes.items()
    }


def combine(logits: npt.NDArray[np.float32]) -> list[Vote]:
    """The ensemble's view of each of B symbols.

    Args:
        logits: shape ``(P, B, A)``: P policies, B symbols, A actions. A policy whose
            logits for a symbol are not all finite counts as uniform for it.

    Returns:
        One :class:`Vote` per symbol, in batch order.
    """
    probs = softmax(logits)  # (P, B, A)
    mean = probs.mean(axis=0)  # (B, A)
    levels = expected_level(mean)
    argmax = np.argmax(probs, axis=-1).T  # (B, P)
    # Plain lists: indexing numpy scalars per symbol dominated the cycle.
    return [
        Vote(tuple(p), lv, tuple(a))
        for p, lv, a in zip(mean.tolist(), levels.tolist(), argmax.tolist(), strict=True)
    ]
