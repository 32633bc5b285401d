"""Build an account's oracle from its settings: the gate of its cycle, or a bare oracle.

Shared by `invest run`/`invest backtest` and the engine, so both audit to the same
place: with a ledger, prompts, answers, verdicts and token usage go into the ledger
(``LedgerOracleStore``) and one JSON file per cycle under ``home/oracle/cycles``;
without one (backtests), into JSON files under ``home/oracle``. The llm_manager
strategy is built on the same pieces by
:func:`~invest.runtime.strategies.llm_manager.build_manager`.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Literal

from invest.runtime.config import Settings
from invest.runtime.config.oracle import OracleConfig
from invest.runtime.oracle.client.protocol import LLMClient
from invest.runtime.oracle.gate.cycle import CycleGate, build_cycle_gate
from invest.runtime.oracle.gate.review import GateOracle
from invest.runtime.oracle.manager.decide import ManagerOracle
from invest.runtime.oracle.store import Store

if TYPE_CHECKING:
    from invest.runtime.ledger import Ledger

#: How a run uses the LLM: ask it, replay cached answers only, or leave it out.
Mode = Literal["live", "replay", "off"]


def ledger_oracle_store(ledger: Ledger | None) -> Store | None:
    """The oracle store over ``ledger``, or None (then JSON files under ``home/oracle``)."""
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
    store: Store | None = None,
) -> CycleGate | None:
    """The account's gate, or None (no oracle, manager mode, or ``mode == "off"``).

    ``store`` overrides where answers are cached and audited (default: the ledger's
    store, or JSON files under ``home/oracle``).
    """
    cfg = settings.account(name).oracle
    if cfg is None or mode == "off" or cfg.mode != "gate":
        return None
    return build_cycle_gate(
        cfg,
        name,
        home,
        now=now,
        replay_only=mode == "replay",
        store=store or ledger_oracle_store(ledger),
        context=settings.context,
    )


def build_oracle(
    config: OracleConfig,
    client: LLMClient,
    store: Store,
    *,
    account: str,
    now: Callable[[], datetime],
    audit_dir: Path | None = None,
) -> GateOracle | ManagerOracle:
    """The oracle of ``config.mode``: a :class:`GateOracle` or a :class:`ManagerOracle`."""
    cls = GateOracle if config.mode == "gate" else ManagerOracle
    return cls(config, client, store, account=account, now=now, audit_dir=audit_dir)
