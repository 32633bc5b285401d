"""The Strategy interface: market + account state at row t -> Proposal (target weights)."""

from __future__ import annotations

from typing import Protocol

from invest.runtime.domain import AccountState, Proposal
from invest.runtime.market import Market


class Strategy(Protocol):
    """Decision logic of an account. It proposes; the risk engine disposes.

    ``prepare`` is called once per Market (once per backtest, once per live
    cycle) and may precompute point-in-time arrays. ``propose`` must read only
    rows ``<= t`` of them.
    """

    name: str

    def prepare(self, market: Market) -> None:
        """Precompute what ``propose`` needs for this market."""
        ...

    def propose(self, t: int, state: AccountState) -> Proposal:
        """Target weights (of equity) at row ``t``, with scores and regime."""
        ...
