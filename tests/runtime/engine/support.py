"""Builders of the engine and control tests: settings, paths, an engine on a temp ledger.

The two accounts trade the bundled sample (real 2022 prices): ``daily`` runs every
session after the close, ``weekly`` on Fridays with defensive names for DEFENSE.
"""

from __future__ import annotations

import subprocess
import time
from collections.abc import Callable
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pytest

from invest.runtime.clock import NEW_YORK, FixedClock, nyse
from invest.runtime.config import Settings, parse_config
from invest.runtime.config.engine import EngineLoop, EngineOptions, HaltRules, Replay
from invest.runtime.data.base import MarketData
from invest.runtime.engine.engine import Engine
from invest.runtime.events import FanOut, MemoryNotifier
from invest.runtime.ledger import Ledger
from invest.runtime.paths import Paths

UNIVERSE = ["AAPL", "AMD", "BAC", "CVX", "HD", "JPM", "LLY", "MRK", "MSFT", "XOM"]
DEFENSIVE = ["JNJ", "KO", "PEP", "PG", "WMT"]


def config_dict() -> dict[str, Any]:
    """Two accounts on the sample data."""
    return {
        "accounts": {
            "daily": {
                "strategy": "trend_king",
                "universe": UNIVERSE,
                "schedule": "30 16 * * mon-fri",
                "cash": 10_000,
                "trend_king": {"top_n": 3},
            },
            "weekly": {
                "strategy": "trend_king",
                "universe": UNIVERSE,
                "schedule": "30 16 * * fri",
                "risk": "conservative",
                "cash": 10_000,
                "trend_king": {"top_n": 3, "defensive": DEFENSIVE},
            },
        }
    }


#: engine.alpaca of a ``daily`` account on a loopback fake: a fake never needs a retry,
#: and a cycle's dozen requests must not wait on the rate limiter.
ALPACA_FAKE = {"retries": 0, "backoff_s": 0, "rate_limit_per_min": 140, "burst": 50}


def settings(*, churn: bool = False, alpaca: bool = False) -> Settings:
    """The two-account settings; ``churn`` makes ``daily`` rebalance at every cycle (many orders).

    ``alpaca``: ``daily`` trades through the Alpaca broker (``weekly`` stays on paper).
    """
    data = config_dict()
    if alpaca:
        data["accounts"]["daily"]["broker"] = "alpaca"
        data["engine"] = {"alpaca": dict(ALPACA_FAKE)}
    if churn:
        data["risk_profiles"] = {
            "churn": {"rebalance_band": 0.0, "min_holding_days": 0, "max_position_pct": 0.4}
        }
        data["accounts"]["daily"]["risk"] = "churn"
    return parse_config(data, "test")


def paths(home: Path) -> Paths:
    """Paths with everything under ``home``."""
    return Paths(home / "config.toml", "test", home, "test")


def ny(day: str, hhmm: str = "00:00") -> datetime:
    """A New York time as an aware UTC datetime."""
    h, m = (int(x) for x in hhmm.split(":"))
    d = date.fromisoformat(day)
    return datetime(d.year, d.month, d.day, h, m, tzinfo=NEW_YORK).astimezone(UTC)


def options(
    *,
    halt: HaltRules | None = None,
    replay: Replay | None = None,
    **loop: Any,
) -> EngineOptions:
    """Engine options; the loop without a socket and with slow monitors unless told."""
    base: dict[str, Any] = {"control_socket": False, "monitor_interval_s": 10_800.0}
    base.update(loop)
    return EngineOptions(halt or HaltRules(), EngineLoop(replay=replay, **base))


def make_engine(
    home: Path,
    clock: FixedClock,
    *,
    opts: EngineOptions | None = None,
    cfg: Settings | None = None,
    sources: Callable[[str], MarketData] | None = None,
    start: bool = True,
    option_orders: Callable[[str], Any] | None = None,
) -> tuple[Engine, MemoryNotifier]:
    """An engine over ``home/ledger.sqlite`` on ``clock``, its events kept in memory."""
    memory = MemoryNotifier()
    ledger = Ledger(home / "ledger.sqlite", now=clock.now)
    engine = Engine(
        cfg or settings(),
        paths(home),
        ledger,
        clock=clock,
        options=opts or options(),
        notifier=FanOut([memory], threaded=False),
        calendar=nyse(),
        wall=clock,
        sources=sources,
        option_orders=option_orders,
    )
    if start:
        engine.start()
    return engine, memory


def drive(engine: Engine, clock: FixedClock, until: datetime) -> int:
    """Run every job due up to ``until``, moving ``clock`` from one due time to the next."""
    steps = 0
    while True:
        nxt = engine.next_due()
        if nxt is None or nxt > until:
            clock.set(max(clock.now(), until))
            engine.step(wait=False)
            return steps
        clock.set(max(clock.now(), nxt))
        engine.step(wait=False)
        steps += 1


def two_weeks(home: Path) -> FixedClock:
    """Two weeks of both accounts (positions, fills, decisions) in ``home/ledger.sqlite``.

    Returns:
        The clock, where the two weeks end (2022-06-14 18:00 New York); the engine is stopped.
    """
    clock = FixedClock(ny("2022-06-01", "08:00"))
    engine, _ = make_engine(home, clock)
    drive(engine, clock, ny("2022-06-14", "18:00"))
    engine.shutdown()
    return clock


class FailingData:
    """A market data source that raises ``error`` on every load."""

    name = "failing"

    def __init__(self, error: Exception) -> None:
        self.error = error
        self.calls = 0

    def symbols(self) -> tuple[str, ...]:
        """None known."""
        return ()

    def load(self, symbols: Any, start: Any = None, end: Any = None) -> Any:
        """Raise the error."""
        self.calls += 1
        raise self.error


def wait_for_output(proc: subprocess.Popen[str], text: str, timeout: float) -> list[str]:
    """The child's output lines up to the first holding ``text``; kill it and fail after ``timeout``."""
    seen: list[str] = []
    deadline = time.monotonic() + timeout
    assert proc.stdout is not None
    while time.monotonic() < deadline:
        line = proc.stdout.readline()
        if not line:
            break
        seen.append(line)
        if text in line:
            return seen
    proc.kill()
    proc.wait()
    pytest.fail(f"no {text!r} within {timeout} s:\n" + "".join(seen[-20:]))
