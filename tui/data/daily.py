"""The daily views' data: closed trades, per-period P&L, and the next cycle's preview.

Trades and P&L are read through :mod:`invest.runtime.ledger.reads` (the same derivation
as ``invest trades`` and ``invest pnl``). The preview asks a running engine over the
control channel (op ``preview``, the bar its next cycle reads) and, when none answers,
runs the dry run here on the ledger opened read-only, as ``invest preview`` does.
Every function blocks: screens call them from thread workers.
"""

from __future__ import annotations

from contextlib import closing
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Final

from invest.runtime.ledger import reads
from invest.runtime.ledger.trades import ClosedTrade, PeriodPnl
from invest.runtime.paths import Paths

from .engine import EngineDownError, EngineLink

if TYPE_CHECKING:
    pass

#: How many periods the P&L view shows (a year of sessions, of weeks, of months).
PERIOD_LIMIT = {"day": 60, "week": 52, "month": 36}
#: The preview's LLM mode: cached verdicts only, so a look spends no LLM budget.
ORACLE: Final = "replay"
#: Seconds to wait for the engine's preview (it runs between the engine's jobs).
ENGINE_TIMEOUT_S = 120.0


def closed_trades(paths: Paths, account: str | None = None) -> list[ClosedTrade]:
    """The closed trades of ``account`` (None: every account), newest exit first.

    Raises:
        LedgerError: no ledger, an unknown account, or fills that sell more than they buy.
    """
    with closing(reads.connect_readonly(paths.ledger)) as conn:
        return reads.closed_trade_rows(conn, account)


def period_pnl(paths: Paths, period: str) -> list[PeriodPnl]:
    """Each account's P&L per ``period`` and the portfolio total, newest period first.

    Raises:
        LedgerError: no ledger.
        ValueError: an unknown period.
    """
    with closing(reads.connect_readonly(paths.ledger)) as conn:
        return reads.period_rows(conn, period, None, PERIOD_LIMIT.get(period))


@dataclass(frozen=True, slots=True)
class Preview:
    """The next cycle of each account, and where it was computed.

    Attributes:
        previews: one dict per account (:func:`invest.runtime.engine.preview.preview_account`).
        source: ``engine`` or ``local`` (no engine answered: run in the TUI's process).
        note: what the reader should know about the run ("" when nothing).
    """

    previews: list[dict[str, Any]]
    source: str
    note: str = ""


def preview(link: EngineLink, paths: Paths) -> Preview:
    """Ask the engine for the preview of every account; run it here when none answers.

    Raises:
        InvestError: the engine refused, or the local run failed (config, data, ledger).
    """
    from invest.runtime.errors import InvestError

    try:
        reply = link.send("preview", timeout=ENGINE_TIMEOUT_S, oracle=ORACLE)
    except EngineDownError:
        return preview_here(paths)
    if not reply.ok:
        raise InvestError(f"the engine's preview failed: {reply.error}")
    found = reply.data.get("previews")
    return Preview(list(found) if isinstance(found, list) else [], "engine")


def preview_here(paths: Paths) -> Preview:
    """Every account's preview in this process, composed as ``invest preview`` composes it
    (the same runtime calls: config, data source, LLM gate and manager, ledger read-only)."""
    from invest.runtime.clock import SystemClock
    from invest.runtime.config import load_config
    from invest.runtime.data import open_source
    from invest.runtime.engine.preview import preview_accounts
    from invest.runtime.ledger import Ledger, demo_ledger_at

    settings = load_config(paths.config)
    # The demo's replayed positions are no state to plan from (as for `invest preview`).
    demo = paths.ledger.exists() and demo_ledger_at(paths.ledger)
    ledger = Ledger(paths.ledger, readonly=True) if paths.ledger.exists() and not demo else None
    note = "engine not running: computed here, on the ledger read-only"
    if demo:
        note = (
            "engine not running: computed here; the ledger is the demo's (replayed history), "
            "so each account plans from its starting cash, as a first real run would"
        )
    try:
        out = preview_accounts(
            list(settings.accounts),
            settings,
            paths,
            ledger,
            source=lambda n: open_source(
                settings.account(n).data or settings.engine.data, cache_dir=paths.cache
            ),
            oracle=ORACLE,
            now=SystemClock().now,
        )
    finally:
        if ledger is not None:
            ledger.close()
    return Preview(out, "local", note)
