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
        """Plain dict for the explanation record."""
        if not self.probs:
            return {"action": None, "confidence": 0.0, "level": None, "votes": []}
        top = max(self.probs)
        return {
            "action": self.action.value,
            "confidence": round(top, 4),
            "level": round(self.level, 4),
            "p": [round(p, 4) for p in self.probs],
            "votes": [ACTION_TEXT[a] for a in self.votes],
        }


#: The decision for a symbol whose policies did not run (no usable bar).
NO_VOTE = Vote((), float("nan"), ())


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
