"""Halt states and the rules that trip them, as pure functions.

An account trades under the *worse* of its own state and the engine-wide state
(ACTIVE < REDUCING < HALTED). Trips set HALTED on their own: a daily loss or a
drawdown past the limits (checked after each cycle, in its transaction), and N
failures in a row of one kind (unexpected errors, data outages, broker outages),
counted in the ledger so that a crash loop still trips. Only a ``resume``
command lifts a halt; a restart never does.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from invest.runtime.config.engine import HaltRules
from invest.runtime.errors import DataUnavailableError, TemporaryBrokerError

__all__ = ["FailureKind", "Failures", "classify", "loss_trip"]

FailureKind = str
"""``errors`` (unexpected), ``data_outages`` or ``broker_outages``: the ledger's counter names."""


def loss_trip(rules: HaltRules, equity: float, previous: float | None, peak: float) -> str | None:
    """Why the account must halt after a cycle (daily loss or drawdown), or None.

    Args:
        rules: the thresholds.
        equity: equity after the cycle.
        previous: equity at the previous session's mark (None on the first session).
        peak: the highest equity seen (the risk engine keeps it).
    """
    if rules.daily_loss_pct is not None and previous and previous > 0:
        loss = (previous - equity) / previous
        if loss >= rules.daily_loss_pct:
            return f"daily loss {loss:.1%} >= {rules.daily_loss_pct:.1%}"
    if rules.max_drawdown_pct is not None and peak > 0:
        dd = 1.0 - equity / peak
        if dd >= rules.max_drawdown_pct:
            return f"drawdown {dd:.1%} from the peak {peak:,.2f} >= {rules.max_drawdown_pct:.1%}"
    return None


def classify(error: BaseException) -> FailureKind:
    """Which counter a failed cycle adds to."""
    if isinstance(error, DataUnavailableError):
        return "data_outages"
    if isinstance(error, TemporaryBrokerError):
        return "broker_outages"
    return "errors"


@dataclass(frozen=True, slots=True)
class Failures:
    """Failures in a row of one account, per kind (persisted in ``engine_accounts``)."""

    errors: int = 0
    data_outages: int = 0
    broker_outages: int = 0

    def add(self, kind: FailureKind) -> Failures:
        """These counts after one more failure of ``kind`` (the other kinds are kept)."""
        return replace(self, **{kind: self.count(kind) + 1})

    def count(self, kind: FailureKind) -> int:
        """The count of ``kind``."""
        return int(getattr(self, kind))

    def trip(self, rules: HaltRules) -> str | None:
        """Why these counts halt the account, or None."""
        limits = (
            ("errors", rules.max_consecutive_errors, "cycles failed"),
            ("data_outages", rules.max_data_outages, "data outages"),
            ("broker_outages", rules.max_broker_outages, "broker outages"),
        )
        for kind, limit, what in limits:
            if self.count(kind) >= limit:
                return f"{self.count(kind)} {what} in a row (limit {limit})"
        return None
