"""The options screen's data: open option positions with their latest marks, and the closed ones.

Read through :mod:`invest.runtime.ledger.reads` (``option_positions``, ``option_marks``,
``option_outcomes``): the same rows as ``invest trades`` and Telegram ``/options``, so the
TUI holds no SQL. Blocks: the screen calls it from a thread worker.
"""

from __future__ import annotations

from contextlib import closing
from dataclasses import dataclass, field

from invest.runtime.ledger import reads
from invest.runtime.paths import Paths


@dataclass(frozen=True, slots=True)
class OpenOption:
    """An open position and its latest mark (None before its first mark)."""

    position: reads.OptionPositionRow
    mark: reads.OptionMarkRow | None


@dataclass(frozen=True, slots=True)
class OptionsData:
    """What the options screen shows, of one account or all (``account`` None)."""

    account: str | None
    open: list[OpenOption] = field(default_factory=list)
    closed: list[reads.OptionPositionRow] = field(default_factory=list)
    #: Position id -> how it ended (take_profit, stop_loss, auto_close, expiry, assignment ...).
    outcomes: dict[str, str] = field(default_factory=dict)


def option_positions(paths: Paths, account: str | None = None) -> OptionsData:
    """Open positions (soonest expiry first) with their marks, and closed ones (newest first).

    Raises:
        LedgerError: no ledger.
    """
    with closing(reads.connect_readonly(paths.ledger)) as conn:
        marks = {m.position_id: m for m in reads.option_marks(conn, account)}
        opened = [OpenOption(p, marks.get(p.id)) for p in reads.option_positions(conn, account)]
        closed = reads.option_positions(conn, account, closed=True)
        outcomes = reads.option_outcomes(conn, account)
    opened.sort(key=lambda o: (o.position.expiry, o.position.account, o.position.id))
    return OptionsData(account, opened, closed, outcomes)
