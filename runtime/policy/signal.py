"""The RL ensemble as a signal: one step per cycle for every symbol, with carried state.

Shared by the ``rl_ensemble`` and ``hybrid`` strategies. Each :meth:`PolicySignal.decide`
builds the observation batch at row ``t``, loads each symbol's LSTM state saved before
that session, runs every policy once on the symbols with a usable bar (one session
run per policy, the symbols' states stacked), averages their probabilities, and
saves the new states (a reset marker for the symbols without a usable bar, so their
next step starts a new episode).

The policies step once per *cycle*: a weekly account's policies see weekly steps. They
are trained on daily steps, so accounts that use them should run daily.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

from invest.runtime.config.context import ContextConfig
from invest.runtime.domain import AccountState
from invest.runtime.market import Market
from invest.runtime.policy.contract import Normaliser
from invest.runtime.policy.ensemble import Ensemble, zero_state
from invest.runtime.policy.observe import Observer
from invest.runtime.policy.state import LstmState, StateSpec, StateStore
from invest.runtime.policy.vote import NO_VOTE, Vote, combine, records


@dataclass(frozen=True)
class Decisions:
    """The ensemble's decisions at one row.

    Attributes:
        votes: every symbol's :class:`Vote`, in the signal's symbol order.
        weights: ``(B,)`` each symbol's weight in the book when it decided.
        logits: ``(P, A)`` logits of each symbol that was stepped.
        notes: the observation's notes (a declared context series unknown at this row).
    """

    votes: dict[str, Vote]
    weights: npt.NDArray[np.float64]
    logits: dict[str, npt.NDArray[np.float32]] = field(default_factory=dict)
    notes: tuple[str, ...] = ()

    def record(self) -> dict[str, dict[str, object]]:
        """``Proposal.extra["rl"]``: ``{symbol: {"action", "confidence", "level", "p", "votes"}}``."""
        return records(self.votes)


class PolicySignal:
    """An ensemble's view of a fixed list of symbols, carrying LSTM state per symbol.

    Args:
        ensemble: the policies (an :class:`~invest.runtime.policy.ensemble.OnnxEnsemble`).
        symbols: the symbols voted on (the account's universe), the batch order.
        store: where LSTM states live between cycles.
        index_symbol: the market index every symbol's observation includes.
        context: the ``[context]`` section, read when the pack declares a context block.
    """

    def __init__(
        self,
        ensemble: Ensemble,
        symbols: Sequence[str],
        store: StateStore,
        index_symbol: str,
        *,
        context: ContextConfig | None = None,
    ) -> None:
        self.ensemble = ensemble
        self.context = context
        self.symbols = tuple(symbols)
        self.store = store
        self.index_symbol = index_symbol
        self.normaliser: Normaliser = ensemble.normaliser
        self.spec = StateSpec(ensemble.sha, ensemble.n_policies, ensemble.layers, ensemble.hidden)

    def prepare(self, market: Market) -> None:
        """Compute the features of ``market`` (once; memoised on it)."""
        self._market = market
        self._observer = Observer(
            market, self.symbols, self.index_symbol, self.normaliser, self.context
        )

    def decide(self, t: int, state: AccountState) -> Decisions:
        """Step every policy once at row ``t`` and combine, for account ``state.name``.

        Calling it again for the same session gives the same decisions: states are
        loaded from before that session.
        """
        day = self._market.day(t).isoformat()
        ob = self._observer.observe(t, state)
        live = np.flatnonzero(ob.usable)
        names = [self.symbols[i] for i in live]
        saved = self.store.load(state.name, self.spec, names, before=day)
        h, c = zero_state(self.ensemble, len(live))
        start = np.ones(len(live), dtype=np.float32)
        for k, sym in enumerate(names):
            if (s := saved.get(sym)) is not None:
                h[:, :, k], c[:, :, k], start[k] = s.h, s.c, 0.0
        votes: dict[str, Vote] = dict.fromkeys(self.symbols, NO_VOTE)
        new: dict[str, LstmState | None] = dict.fromkeys(self.symbols)
        logits: dict[str, npt.NDArray[np.float32]] = {}
        if len(live):
            res = self.ensemble.step(ob.obs[live], h, c, start)
            for k, (sym, vote) in enumerate(zip(names, combine(res.logits), strict=True)):
                # Views into this step's fresh output arrays: nothing writes to them later.
                votes[sym] = vote
                logits[sym] = res.logits[:, k]
                new[sym] = LstmState(res.h[:, :, k], res.c[:, :, k])
        self.store.save(state.name, self.spec, day, new)
        return Decisions(votes, ob.weights, logits, ob.notes)
