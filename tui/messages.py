"""Messages that workers post to screens (one place, like posting and harlequin).

Thread workers never touch widgets: they post one of these, and the screen's
handler updates its widgets on the event loop.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from textual.message import Message

from invest.runtime.ledger.trades import ClosedTrade, PeriodPnl
from invest.runtime.ledger.views import AccountDetail, AccountSummary

from .data.daily import Preview
from .data.engine import EngineStatus
from .data.enrich import AccountExtras, Extras
from .data.logs import LogLine
from .data.options import OptionsData


@dataclass
class EngineStatusChanged(Message):
    """The engine answered a ping (or did not)."""

    status: EngineStatus


@dataclass
class DemoChecked(Message):
    """The config was read: the demo-data warning, or "" when every account has a live source."""

    notice: str


@dataclass
class ControlFinished(Message):
    """A steering request came back (or failed)."""

    op: str
    account: str | None
    ok: bool
    text: str


@dataclass
class LedgerFailed(Message):
    """The ledger could not be read."""

    error: str


@dataclass
class OverviewLoaded(Message):
    """Fresh overview rows from the ledger, and the latest decisions that placed orders."""

    summaries: list[AccountSummary]
    recent: list[dict[str, Any]]


@dataclass
class OverviewEnriched(Message):
    """Benchmark returns and next cycles, computed after the rows."""

    extras: dict[str, Extras]
    tz: str


@dataclass
class AccountLoaded(Message):
    """Fresh account data from the ledger."""

    detail: AccountDetail


@dataclass
class AccountEnriched(Message):
    """Benchmark curve, marks and stops of the account shown."""

    extras: AccountExtras
    tz: str


@dataclass
class BacktestTargets(Message):
    """Accounts and strategies the backtest screen offers."""

    choices: list[tuple[str, str]]


@dataclass
class BacktestProgress(Message):
    """Replay progress."""

    done: int
    total: int


@dataclass
class BacktestFinished(Message):
    """A replay ended (``cancelled``: stopped early, the result is partial).

    The metrics table and chart series are computed in the worker too.
    """

    result: Any
    cancelled: bool
    header: list[str]
    rows: list[list[str]]
    days: list[str]
    series: dict[str, list[float]]


@dataclass
class BacktestFailed(Message):
    """A replay could not run."""

    error: str


@dataclass
class BacktestSaved(Message):
    """The result folder was written."""

    files: list[Path]


@dataclass
class PacksLoaded(Message):
    """Model packs found."""

    packs: list[Any]


@dataclass
class PackVerified(Message):
    """The full check of one pack finished."""

    info: Any


@dataclass
class LogLinesRead(Message):
    """New log lines (``reset``: the file was rotated or truncated)."""

    lines: list[LogLine]
    reset: bool
    path: Path
    exists: bool


@dataclass
class TradesLoaded(Message):
    """Closed trades from the ledger (of ``account``, or every account when None)."""

    trades: list[ClosedTrade]
    account: str | None


@dataclass
class PnlLoaded(Message):
    """Per-period P&L rows (every account and the portfolio total)."""

    rows: list[PeriodPnl]
    period: str


@dataclass
class PreviewReady(Message):
    """The next cycle's dry run of every account."""

    preview: Preview


@dataclass
class ViewFailed(Message):
    """A daily view could not be computed: the one-line reason."""

    error: str


@dataclass
class OptionsLoaded(Message):
    """Option positions from the ledger: open with their marks, and closed."""

    data: OptionsData
