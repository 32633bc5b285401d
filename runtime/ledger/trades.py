"""Closed trades and per-period P&L, derived from the ledger's fills and equity rows.

Pure functions over plain rows (read by :mod:`invest.runtime.ledger.reads`), so the
CLI, the control service (Telegram) and tests share one derivation.

A closed trade is one sell fill paired against the position it reduces, valued at
the position's average cost exactly as
:meth:`invest.runtime.domain.AccountState.apply_fill` does: realised P&L is
``money((price - avg_cost) * quantity) - fees`` of the sell, buys move the average
cost, and a partial sell is a (partly) closed trade of its own. The entry day is
the day the position was opened (its first buy since it was last flat), as
:class:`~invest.runtime.domain.Position` keeps it.
"""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from invest.runtime.domain import Fill, Side, money

__all__ = [
    "PERIODS",
    "TOTAL",
    "ClosedTrade",
    "PeriodPnl",
    "closed_trades",
    "period_key",
    "period_pnl",
]

#: The periods of :func:`period_pnl`.
PERIODS = ("day", "week", "month")
#: The name of the portfolio total in :func:`period_pnl`'s rows.
TOTAL = "total"


@dataclass(frozen=True, slots=True)
class ClosedTrade:
    """A sell against the position it reduced: what was realised, after how long, and why.

    Attributes:
        closed: True when the sell left the position flat; False for a partial close.
        entry_price: the position's average cost at the sell.
        pnl: realised P&L of the sell, fees included (the account's own accounting).
        pnl_pct: ``pnl`` over the cost of the shares sold.
        holding_days: calendar days from ``entry_day`` to ``exit_day``.
        reason: why it was sold (the sell's reason: a stop, a rebalance, a flatten).
    """

    account: str
    symbol: str
    entry_day: date
    exit_day: date
    quantity: Decimal
    entry_price: Decimal
    exit_price: Decimal
    pnl: Decimal
    pnl_pct: float
    holding_days: int
    reason: str
    closed: bool

    def as_dict(self) -> dict[str, str | float | int | bool]:
        """Plain JSON-ready dict (money and quantities as strings, exact)."""
        return {
            "account": self.account,
            "symbol": self.symbol,
            "entry_day": self.entry_day.isoformat(),
            "exit_day": self.exit_day.isoformat(),
            "quantity": str(self.quantity),
            "entry_price": str(self.entry_price.quantize(Decimal("0.0001"))),
            "exit_price": str(self.exit_price),
            "pnl": str(self.pnl),
            "pnl_pct": round(self.pnl_pct, 6),
            "holding_days": self.holding_days,
            "reason": self.reason,
            "closed": self.closed,
        }


@dataclass(slots=True)
class _Open:
    quantity: Decimal
    avg_cost: Decimal
    opened: date


def closed_trades(fills: Iterable[Fill]) -> list[ClosedTrade]:
    """Every sell of ``fills`` as a closed trade, oldest first (per account and symbol).

    Raises:
        ValueError: a sell for more than the fills before it hold (a damaged ledger).
    """
    book: dict[tuple[str, str], _Open] = {}
    out: list[ClosedTrade] = []
    for f in fills:
        key = (f.account, f.symbol)
        pos = book.get(key)
        if f.side is Side.BUY:
            if pos is None:
                book[key] = _Open(f.quantity, f.price, f.day)
            else:
                total = pos.quantity + f.quantity
                pos.avg_cost = (pos.avg_cost * pos.quantity + f.price * f.quantity) / total
                pos.quantity = total
            continue
        if pos is None or f.quantity > pos.quantity:
            held = pos.quantity if pos else 0
            raise ValueError(
                f"{f.account}: sell of {f.quantity} {f.symbol} on {f.day} exceeds the "
                f"holding of {held} its fills give: run `invest doctor`"
            )
        pnl = money((f.price - pos.avg_cost) * f.quantity) - f.fees
        cost = pos.avg_cost * f.quantity
        pos.quantity -= f.quantity
        out.append(
            ClosedTrade(
                account=f.account,
                symbol=f.symbol,
                entry_day=pos.opened,
                exit_day=f.day,
                quantity=f.quantity,
                entry_price=pos.avg_cost,
                exit_price=f.price,
                pnl=pnl,
                pnl_pct=float(pnl / cost) if cost else 0.0,
                holding_days=(f.day - pos.opened).days,
                reason=f.reason,
                closed=pos.quantity == 0,
            )
        )
        if pos.quantity == 0:
            del book[key]
    return out


def period_key(day: date, period: str) -> str:
    """The label of the period ``day`` falls in: ``2022-06-14``, ``2022-W24`` or ``2022-06``.

    Raises:
        ValueError: ``period`` is not one of :data:`PERIODS`.
    """
    if period == "day":
        return day.isoformat()
    if period == "week":
        year, week, _ = day.isocalendar()
        return f"{year}-W{week:02d}"
    if period == "month":
        return f"{day.year}-{day.month:02d}"
    raise ValueError(f"unknown period {period!r}: use one of {', '.join(PERIODS)}")


@dataclass(frozen=True, slots=True)
class PeriodPnl:
    """One account's (or the portfolio's) P&L over one period.

    Attributes:
        account: the account, or ``"total"`` for the sum over every account.
        period: the period's label (:func:`period_key`).
        start: equity at the last mark before the period (the start cash before the first).
        end: equity at the period's last mark.
    """

    account: str
    period: str
    start: float
    end: float

    @property
    def pnl(self) -> float:
        """End minus start."""
        return self.end - self.start

    @property
    def pct(self) -> float | None:
        """P&L over the start equity (None when it was 0)."""
        return self.pnl / self.start if self.start else None

    def as_dict(self) -> dict[str, str | float | None]:
        """Plain JSON-ready dict, money rounded to cents."""
        pct = self.pct
        return {
            "account": self.account,
            "period": self.period,
            "start": round(self.start, 2),
            "end": round(self.end, 2),
            "pnl": round(self.pnl, 2),
            "pct": None if pct is None else round(pct, 6),
        }


def period_pnl(
    curves: Mapping[str, Sequence[tuple[str, float]]],
    start_cash: Mapping[str, float],
    period: str,
    limit: int | None = None,
) -> list[PeriodPnl]:
    """Each account's P&L per period, and the portfolio total, newest period first.

    Args:
        curves: (ISO day, equity) rows of each account, oldest first.
        start_cash: each account's start cash: the start of its first period.
        period: ``day``, ``week`` (ISO weeks) or ``month``.
        limit: keep only the latest ``limit`` periods.

    Each period has one row per account marked in it, then a ``total`` row. The
    total sums, over every account marked in or before the period, the equity at
    its last mark up to the period's end against its last mark before the period
    (so an account with no mark in a week still counts at its last value).

    Raises:
        ValueError: an unknown ``period``.
    """
    if period not in PERIODS:
        raise ValueError(f"unknown period {period!r}: use one of {', '.join(PERIODS)}")
    # account -> period -> (start, end), periods in order
    per: dict[str, dict[str, tuple[float, float]]] = {}
    for account, rows in curves.items():
        spans: dict[str, tuple[float, float]] = {}
        before = float(start_cash.get(account, rows[0][1] if rows else 0.0))
        for day, equity in rows:
            key = period_key(date.fromisoformat(day), period)
            start = spans[key][0] if key in spans else before
            spans[key] = (start, float(equity))
            before = float(equity)
        per[account] = spans
    ordered = {account: sorted(spans) for account, spans in per.items()}
    keys = sorted({k for spans in per.values() for k in spans})
    if limit is not None:
        keys = keys[-limit:] if limit > 0 else []
    out: list[PeriodPnl] = []
    for key in reversed(keys):
        total_start = total_end = 0.0
        counted = False
        for account in sorted(per):
            spans = per[account]
            if key in spans:
                start, end = spans[key]
                out.append(PeriodPnl(account, key, start, end))
            else:
                order = ordered[account]
                i = bisect_left(order, key)
                if i == 0:
                    continue  # not marked yet
                start = end = spans[order[i - 1]][1]
            total_start += start
            total_end += end
            counted = True
        if counted:
            out.append(PeriodPnl(TOTAL, key, total_start, total_end))
    return out
