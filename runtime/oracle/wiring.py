"""Build an account's LLM pieces from its config: the gate, or the llm_manager strategy.

Shared by `invest run`/`invest backtest` and the engine, so both audit to the same
place: with a ledger, prompts, answers, verdicts and token usage go into the ledger
(``LedgerOracleStore``) and one JSON file per cycle under ``home/oracle/cycles``;
without one (backtests), into JSON files under ``home/oracle``.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Literal

from invest.runtime.config import Settings
from invest.runtime.errors import ConfigError

if TYPE_CHECKING:
    from invest.runtime.ledger import Ledger
    from invest.runtime.oracle.cycle_gate import CycleGate
    from invest.runtime.oracle.store import Store
    from invest.runtime.strategies.base import Strategy

Mode = Literal["live", "replay", "off"]


def _store(ledger: Ledger | None) -> Store | None:
    if ledger is None:
        return None
    from invest.runtime.oracle.ledger_store import LedgerOracleStore

    return LedgerOracleStore(ledger.conn, readonly=ledger.readonly)


def build_gate(
    settings: Settings,
    name: str,
    home: Path,
    now: Callable[[], datetime],
    mode: Mode = "live",
    ledger: Ledger | None = None,
) -> CycleGate | None:
    """The account's gate, or None (no oracle, manager mode, or ``mode == "off"``)."""
    cfg = settings.account(name).oracle
    if cfg is None or mode == "off" or cfg.mode != "gate":
        return None
    from invest.runtime.oracle.cycle_gate import build_cycle_gate

    return build_cycle_gate(
        cfg, name, home, now=now, replay_only=mode == "replay", store=_store(ledger)
    )


def build_manager(
    settings: Settings,
    name: str,
    home: Path,
    now: Callable[[], datetime],
    mode: Mode = "live",
    ledger: Ledger | None = None,
) -> Strategy | None:
    """The llm_manager strategy of an account (it needs the ledger and the clock), else None.

    Raises:
        ConfigError: an llm_manager account asked to run with ``--oracle off``.
    """
    cfg = settings.account(name)
    if cfg.strategy != "llm_manager":
        return None
    if mode == "off":
        raise ConfigError(f"accounts.{name}: llm_manager needs its LLM (--oracle live or replay)")
    from invest.runtime.oracle.research import load_watchlist
    from invest.runtime.strategies.llm_manager import build_llm_manager, past_decisions

    research = home / "research"
    wl = cfg.watchlist
    return build_llm_manager(
        cfg,
        name,
        home,
        now=now,
        replay_only=mode == "replay",
        store=_store(ledger),
        history=(lambda d: past_decisions(ledger.decisions(name, 200), before=d))
        if ledger
        else None,
        watchlist=(lambda d: load_watchlist(research, wl, as_of=d)) if wl else None,
    )
