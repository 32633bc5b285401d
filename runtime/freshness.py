"""How old an account's market data is: completed NYSE sessions since its last bar.

One pure function, :func:`freshness`, used by the engine's cycle log, ``invest
status`` (and so the TUI and Telegram, which read status over the control
channel) and ``invest doctor``. Data is *stale* when more than
:data:`STALE_AFTER` sessions have closed since its last bar: a daily source
normally lags by one session at most.

The bundled sample ends on :data:`SAMPLE_LAST_BAR`: an account on it runs on
demo data, and every message about it says how to configure a live source.
"""

from __future__ import annotations

import sqlite3
from contextlib import closing
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING

from invest.runtime.clock import NEW_YORK, SystemClock, nyse
from invest.runtime.errors import InvestError
from invest.runtime.layout import Check
from invest.runtime.ledger import reads

if TYPE_CHECKING:
    from invest.runtime.clock import TradingCalendar
    from invest.runtime.config import Settings

__all__ = [
    "SAMPLE_LAST_BAR",
    "STALE_AFTER",
    "Freshness",
    "advice",
    "check_data",
    "check_freshness",
    "completed_sessions_since",
    "data_spec",
    "freshness",
    "is_sample",
]

#: Data whose last bar is more than this many completed sessions old is stale.
STALE_AFTER = 3
#: The last session of the bundled sample (``tests/runtime/test_freshness.py`` holds it true).
SAMPLE_LAST_BAR = date(2022, 12, 28)


@dataclass(frozen=True, slots=True)
class Freshness:
    """The age of a source's last bar.

    Attributes:
        last_bar: the session of the last bar.
        sessions: NYSE sessions that closed after ``last_bar`` up to now.
        stale: more than ``STALE_AFTER`` of them.
    """

    last_bar: date
    sessions: int
    stale: bool

    @property
    def level(self) -> str:
        """``fresh`` or ``stale``."""
        return "stale" if self.stale else "fresh"

    def describe(self) -> str:
        """``last bar 2022-12-28, 990 sessions old (stale)``."""
        unit = "session" if self.sessions == 1 else "sessions"
        return f"last bar {self.last_bar}, {self.sessions} {unit} old ({self.level})"


def completed_sessions_since(last_bar: date, now: datetime, calendar: TradingCalendar) -> int:
    """NYSE sessions after ``last_bar`` whose close is at or before ``now``.

    Dates outside the calendar are clamped to it (a bar older than the calendar counts
    from its first session), so this never raises for an old or future ``last_bar``.
    """
    today = now.astimezone(NEW_YORK).date()
    start = max(last_bar + timedelta(days=1), calendar.start)
    end = min(today, calendar.end)
    if start > end:
        return 0
    n = len(calendar.sessions(start, end))
    if n and calendar.is_session(end) and end == today and now < calendar.session_close(end):
        n -= 1  # today's session is still trading: its bar cannot be there yet
    return n


def freshness(
    last_bar: date, now: datetime, calendar: TradingCalendar, *, limit: int = STALE_AFTER
) -> Freshness:
    """How stale data ending on ``last_bar`` is at ``now`` (stale: more than ``limit`` sessions)."""
    n = completed_sessions_since(last_bar, now, calendar)
    return Freshness(last_bar, n, n > limit)


def is_sample(spec: str | None) -> bool:
    """True for the bundled sample (demo data)."""
    return spec == "sample"


def data_spec(settings: Settings, account: str) -> str | None:
    """The account's data source (its own ``data``, else ``engine.data``); None if unknown."""
    cfg = settings.accounts.get(account)
    return None if cfg is None else (cfg.data or settings.engine.data)


def advice(spec: str | None, last_bar: date) -> str:
    """What to do about stale data from ``spec``: one sentence."""
    if is_sample(spec):
        return (
            f"the bundled sample ends {SAMPLE_LAST_BAR} (demo data): set data = "
            '"yfinance" or "alpaca" under [engine] (or the account) in the config'
        )
    where = f"the {spec} source" if spec else "the data source"
    return (
        f"{where} has no bar after {last_bar}: check that it is updated "
        "(`invest data validate`) and that the engine reaches it"
    )


def check_freshness(
    settings: Settings,
    ledger: sqlite3.Connection | None,
    now: datetime,
    calendar: TradingCalendar,
) -> Check:
    """``invest doctor``'s ``data`` check: WARN when an account's data is stale.

    The last bar is the last session the account was marked on (a demo ledger's
    replayed days do not count); an account on the bundled sample with no live cycle
    yet is judged by the sample's last bar. Others with no cycle yet are not judged.
    """
    if not settings.accounts:
        return Check("data", "SKIP", "no accounts")
    demo = ledger is None or reads.is_demo(ledger)
    known = set() if demo or ledger is None else set(reads.account_names(ledger))
    stale: list[str] = []
    fresh: list[str] = []
    fixes: list[str] = []
    for name in settings.accounts:
        spec = data_spec(settings, name)
        rows = reads.equity_rows(ledger, name, 1) if ledger is not None and name in known else []
        if rows:
            last = date.fromisoformat(rows[0][0])
        elif is_sample(spec):
            last = SAMPLE_LAST_BAR
        else:
            fresh.append(f"{name}: no cycle yet")
            continue
        f = freshness(last, now, calendar)
        demo_note = " on the bundled sample (demo data)" if is_sample(spec) else ""
        line = f"{name}{demo_note}: {f.describe()}"
        if f.stale:
            stale.append(line)
            if (fix := advice(spec, last)) not in fixes:
                fixes.append(fix)
        else:
            fresh.append(line)
    if stale:
        return Check("data", "WARN", "; ".join(stale + fresh), "; ".join(fixes))
    return Check("data", "OK", "; ".join(fresh))


def check_data(
    settings: Settings,
    ledger: Path,
    now: datetime | None = None,
    calendar: TradingCalendar | None = None,
) -> Check:
    """:func:`check_freshness` on the ledger file ``ledger`` (read-only; absent: no cycle yet).

    A ledger that cannot be read is judged as absent: the ``ledger`` check names its fault.
    """
    now = now or SystemClock().now()
    try:
        cal = calendar or nyse()
        if ledger.is_file():
            try:
                with closing(reads.connect_readonly(ledger)) as conn:
                    return check_freshness(settings, conn, now, cal)
            except (sqlite3.Error, InvestError):
                pass
        return check_freshness(settings, None, now, cal)
    except InvestError as e:  # the calendar cannot be built
        return Check("data", "SKIP", f"cannot judge the data's age: {e}")
