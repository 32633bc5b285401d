"""Typed settings of the engine process: halt trips and the loop's timings.

Both models sit in ``EngineConfig`` (``[engine.halt]`` and ``[engine.loop]`` in the
TOML file). :func:`engine_options` reads them from a ``Settings`` object and falls
back to the defaults for an object that does not carry them (a test's stand-in).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any

from pydantic import Field, model_validator

from invest.runtime.config.base import Frozen

__all__ = ["EngineLoop", "EngineOptions", "HaltRules", "Replay", "engine_options"]


class HaltRules(Frozen):
    """When the engine halts an account on its own. Only a ``resume`` command lifts a halt."""

    daily_loss_pct: float | None = Field(0.05, gt=0, lt=1)
    """HALT an account whose equity fell this far in one session (0.05 = 5%). None disables."""
    max_drawdown_pct: float | None = Field(0.30, gt=0, lt=1)
    """HALT an account whose equity fell this far below its peak. None disables.
    Set it above the risk profile's drawdown brake: the brake cuts the book first."""
    max_consecutive_errors: int = Field(3, ge=1, le=100)
    """HALT an account after this many runs in a row (cycles and monitor runs) failed with an
    unexpected error."""
    max_data_outages: int = Field(12, ge=1, le=1000)
    """HALT an account after this many runs in a row found its market data unreachable
    (12 monitor runs, 5 minutes apart, is an hour)."""
    max_broker_outages: int = Field(12, ge=1, le=1000)
    """HALT an account after this many runs in a row found its broker unreachable."""


class Replay(Frozen):
    """A replay clock: the real engine on past sessions, one due job per tick (tests, demos)."""

    start: date
    """First day of the replay; the clock starts there at midnight New York time."""
    tick_s: float = Field(0.2, gt=0, le=60)
    """Real seconds between two steps of the replay clock."""
    until: date | None = None
    """The clock stops advancing after this day (the engine then idles); None runs on."""


class EngineLoop(Frozen):
    """Timings of the engine process."""

    heartbeat_s: float = Field(30.0, gt=0, le=3600)
    """Seconds between two heartbeat rows (pid, time, version) written to the ledger."""
    heartbeat_log_s: float = Field(300.0, gt=0)
    """Seconds between two heartbeat lines in the log."""
    monitor_interval_s: float = Field(300.0, ge=30, le=23_400)
    """Seconds between two position-monitor runs (stops) while the exchange is open."""
    reconcile_interval_s: float = Field(1800.0, ge=10)
    """Seconds between two reconciliations of ledger and broker (one more at start-up)."""
    fault_retry_s: float = Field(60.0, gt=0, le=3600)
    """After a storage fault (disk full, read-only home, locked ledger) the account's cycle
    is retried this many seconds later, doubling on each further fault up to
    ``fault_retry_max_s``, and never later than its next scheduled cycle."""
    fault_retry_max_s: float = Field(1800.0, gt=0, le=21_600)
    """The longest wait between two retries of a cycle that met a storage fault."""
    misfire_grace_s: float = Field(21_600.0, ge=0)
    """A cycle missed by less than this (the engine was down) runs at once on start-up."""
    shutdown_grace_s: float = Field(60.0, gt=0, le=600)
    """On SIGTERM, the cycle in flight gets this long to finish before it is abandoned
    (its transaction rolls back)."""
    report_offset_min: int = Field(45, ge=0, le=600)
    """The daily report (and on the week's last session the weekly summary) is sent
    this many minutes after the close."""
    control_socket: bool = True
    """Listen on ``INVEST_HOME/engine.sock`` for the TUI, the CLI and other clients."""
    replay: Replay | None = None
    """Run on a replay clock instead of the system clock (tests and demos only)."""

    @model_validator(mode="after")
    def _retry_cap_not_below_first(self) -> EngineLoop:
        if self.fault_retry_max_s < self.fault_retry_s:
            raise ValueError(
                f"fault_retry_max_s ({self.fault_retry_max_s}) must be >= fault_retry_s "
                f"({self.fault_retry_s})"
            )
        return self

    @model_validator(mode="after")
    def _heartbeat_log_not_faster(self) -> EngineLoop:
        if self.heartbeat_log_s < self.heartbeat_s:
            raise ValueError(
                f"heartbeat_log_s ({self.heartbeat_log_s}) must be >= heartbeat_s ({self.heartbeat_s})"
            )
        return self


@dataclass(frozen=True, slots=True)
class EngineOptions:
    """The engine's settings, resolved."""

    halt: HaltRules
    loop: EngineLoop


def engine_options(settings: Any) -> EngineOptions:
    """Read ``settings.engine.halt`` and ``settings.engine.loop``, defaults where absent."""
    engine = getattr(settings, "engine", None)
    halt = getattr(engine, "halt", None)
    loop = getattr(engine, "loop", None)
    return EngineOptions(
        halt if isinstance(halt, HaltRules) else HaltRules(),
        loop if isinstance(loop, EngineLoop) else EngineLoop(),
    )
