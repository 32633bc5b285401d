"""ControlService: the one implementation of :class:`~invest.runtime.control.api.Control`.

Read ops open the ledger read-only, on the caller's thread (the socket server's,
or the Telegram bot's). Write ops are checked here (role, arguments, the flatten
confirmation) and then queued to the engine's thread, which is the ledger's only
writer; ``handle`` waits for the result (up to ``write_timeout_s``) unless the
request says ``"wait": false``, which answers ``{"queued": true}`` at once. From
async code (the Telegram bot), call ``handle`` in a worker thread. ``flatten`` takes two calls: the first returns a token valid for 60 s,
the second (same actor, same account, with ``confirm=<token>``) executes it.
``preview`` is a read op (viewers may ask) that the engine's thread answers: the dry
run of the next cycle, which writes nothing.
"""

from __future__ import annotations

import logging
import secrets
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import Future
from concurrent.futures import TimeoutError as FutureTimeout
from contextlib import closing, contextmanager
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any, Protocol

from invest.runtime import __version__
from invest.runtime.clock import Clock, SystemClock, TradingCalendar, nyse
from invest.runtime.config import Settings
from invest.runtime.control.api import READ_OPS, ROLES, WRITE_OPS, Reply, Request, allowed
from invest.runtime.control.options_view import options_view
from invest.runtime.control.risk_view import risk_view
from invest.runtime.errors import InvestError
from invest.runtime.explain import explain
from invest.runtime.ledger import reads
from invest.runtime.ledger.trades import PERIODS

__all__ = ["ControlService", "EngineHandle"]

logger = logging.getLogger(__name__)

_SEARCH_DEPTH = 500


class EngineHandle(Protocol):
    """What the control service needs from a running engine."""

    def submit(self, request: Request) -> Future[Reply]:
        """Queue a write request for the engine's thread."""
        ...

    def live(self) -> dict[str, Any]:
        """A thread-safe snapshot of the schedule (next cycles, the job in flight)."""
        ...


@dataclass(frozen=True, slots=True)
class _Pending:
    account: str
    actor: str
    expires: float


class ControlService:
    """Answers control requests over a ledger, with an optional running engine.

    Args:
        ledger_path: the ledger file (read-only here).
        engine: the running engine; None answers read ops only (write ops: an error).
        settings: the config, for next cycles when no engine runs.
        clock: the engine's time (next cycles).
        wall: the real time (heartbeat age).
        authorize: the effective role of a request; by default the role it names.
        token_ttl_s: how long a flatten confirmation token stays valid.
        write_timeout_s: how long a write request may wait for the engine's thread.
        calendar: returns the exchange calendar.
        monotonic: the timer of token expiry (tests inject one).
    """

    def __init__(
        self,
        ledger_path: Path,
        engine: EngineHandle | None = None,
        *,
        settings: Settings | None = None,
        clock: Clock | None = None,
        wall: Clock | None = None,
        authorize: Callable[[Request], str] | None = None,
        token_ttl_s: float = 60.0,
        write_timeout_s: float = 300.0,
        calendar: Callable[[], TradingCalendar] = nyse,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self.ledger_path = Path(ledger_path)
        self.engine = engine
        self.settings = settings
        self.clock = clock or SystemClock()
        self.wall = wall or SystemClock()
        self.authorize = authorize or (lambda r: r.role)
        self.token_ttl_s = token_ttl_s
        self.write_timeout_s = write_timeout_s
        self.calendar = calendar
        self._monotonic = monotonic
        self._tokens: dict[str, _Pending] = {}
        self._lock = threading.Lock()

    # -- entry -----------------------------------------------------------------------------

    def handle(self, request: Request) -> Reply:
        """Check the role, then answer; never raises."""
        if request.op not in READ_OPS and request.op not in WRITE_OPS:
            known = ", ".join(sorted(READ_OPS | WRITE_OPS))
            return Reply(False, error=f"unknown op {request.op!r} (known: {known})")
        role = self.authorize(request)
        if role not in ROLES or not allowed(role, request.op):
            return Reply(
                False,
                error=f"denied: {request.op} needs the trader role ({request.actor} is {role})",
            )
        try:
            if request.op in READ_OPS:
                return Reply(True, self._read(request))
            return self._write(request)
        except InvestError as e:
            return Reply(False, error=str(e))
        except (sqlite3.Error, ValueError, KeyError, TypeError) as e:
            logger.warning("control %s failed: %s", request.op, e)
            return Reply(False, error=f"{request.op} failed: {type(e).__name__}: {e}")

    @contextmanager
    def _conn(self) -> Iterator[sqlite3.Connection]:
        with closing(reads.connect_readonly(self.ledger_path)) as conn:
            yield conn

    # -- reads -------------------------------------------------------------------------------

    def _read(self, request: Request) -> dict[str, Any]:
        op, args = request.op, request.args
        if op == "ping":
            live = self.engine.live() if self.engine else {}
            return {
                "pong": True,
                "version": __version__,
                "engine": bool(self.engine),
                "pid": live.get("pid"),
            }
        if op == "preview":
            return self._preview(request)
        with self._conn() as conn:
            if op == "status":
                return self._status(conn)
            if op == "positions":
                return {
                    "positions": {a: reads.positions(conn, a) for a in self._accounts(conn, args)}
                }
            if op == "pnl":
                if args.get("period"):
                    return self._periods(conn, args)
                pnl = {a: self._pnl(conn, a) for a in self._accounts(conn, args)}
                return {"pnl": pnl, "portfolio": _portfolio(pnl)}
            if op == "trades":
                limit = _int(args.get("n", args.get("limit", 10)), 1, 500)
                one = self._one(conn, args)
                return {
                    "trades": reads.recent_fills(conn, one, limit),
                    "closed": [t.as_dict() for t in reads.closed_trade_rows(conn, one, limit)],
                }
            if op == "options":
                return options_view(conn, self._one(conn, args))
            if op == "risk":
                return risk_view(conn, self._one(conn, args))
            if op == "regime":
                return {"regime": {a: self._regime(conn, a) for a in self._accounts(conn, args)}}
            if op == "why":
                return self._why(conn, args)
            return self._report(conn)

    def _preview(self, request: Request) -> dict[str, Any]:
        """The next cycle's dry run, asked of the engine's thread (it writes nothing)."""
        if self.engine is None:
            raise InvestError("preview needs the running engine: run `invest preview` instead")
        forwarded = Request("preview", dict(request.args), request.actor, request.role)
        try:
            reply = self.engine.submit(forwarded).result(timeout=self.write_timeout_s)
        except FutureTimeout:
            raise InvestError(
                f"the engine did not answer preview within {self.write_timeout_s:g} s"
            ) from None
        if not reply.ok:
            raise InvestError(reply.error)
        return reply.data

    def _status(self, conn: sqlite3.Connection) -> dict[str, Any]:
        from invest.runtime.control.status import collect_status  # lazy: the calendar, cron

        live = self.engine.live() if self.engine else None
        data = collect_status(
            conn,
            self.settings,
            now=self.clock.now(),
            wall_now=self.wall.now(),
            calendar=self.calendar,
            live=live,
        )
        data["engine"]["running"] = self.engine is not None
        return data

    @staticmethod
    def _names(conn: sqlite3.Connection) -> list[str]:
        return reads.account_names(conn)

    def _one(self, conn: sqlite3.Connection, args: dict[str, Any]) -> str | None:
        name = args.get("account")
        if name in (None, ""):
            return None
        if name not in self._names(conn):
            raise InvestError(f"no account {name!r} in the ledger")
        return str(name)

    def _accounts(self, conn: sqlite3.Connection, args: dict[str, Any]) -> list[str]:
        one = self._one(conn, args)
        return [one] if one else self._names(conn)

    @staticmethod
    def _pnl(conn: sqlite3.Connection, account: str) -> dict[str, Any]:
        row = reads.pnl_row(conn, account)
        eq = reads.equity_rows(conn, account, 2)
        base = row.start_cash
        equity = eq[0][1] if eq else base
        unrealised = sum(p["unrealised"] for p in reads.positions(conn, account))
        peak = row.peak_equity
        return {
            "day": eq[0][0] if eq else None,
            "equity": round(equity, 2),
            "day_pnl": round(eq[0][1] - eq[1][1], 2) if len(eq) > 1 else None,
            "total_pnl": round(equity - base, 2),
            "total_pct": round(equity / base - 1, 6) if base else None,
            "realised": row.realised if row.realised is not None else 0.0,
            "unrealised": round(unrealised, 2),
            "drawdown": round(1 - equity / peak, 6) if peak else 0.0,
        }

    def _periods(self, conn: sqlite3.Connection, args: dict[str, Any]) -> dict[str, Any]:
        period = str(args["period"])
        if period not in PERIODS:
            raise InvestError(f"unknown period {period!r}: use one of {', '.join(PERIODS)}")
        limit = _int(args.get("n", args.get("limit", 7)), 1, 400)
        rows = reads.period_rows(conn, period, self._one(conn, args), limit)
        return {"period": period, "periods": [r.as_dict() for r in rows]}

    @staticmethod
    def _regime(conn: sqlite3.Connection, account: str) -> dict[str, Any] | None:
        row = reads.latest_regime(conn, account)
        return {"day": row[0], "regime": row[1]} if row else None

    def _why(self, conn: sqlite3.Connection, args: dict[str, Any]) -> dict[str, Any]:
        symbol = str(args.get("symbol") or "").upper()
        if not symbol:
            raise InvestError("why needs a symbol, e.g. why AAPL")
        ranked = None
        for rec in reads.decisions(conn, self._one(conn, args), _SEARCH_DEPTH):
            if _mentions(rec, symbol):
                return _why_reply(rec, symbol)
            if ranked is None and symbol in (rec.get("scores") or {}):
                ranked = rec
        if ranked is not None:
            return _why_reply(ranked, symbol)
        return {"symbol": symbol, "text": f"no recent decision mentions {symbol}"}

    def _report(self, conn: sqlite3.Connection) -> dict[str, Any]:
        from invest.runtime.control.reports import daily_report, weekly_summary

        names = self._names(conn)
        latest = reads.latest_equity_day(conn)
        if latest is None:
            return {"text": "no session marked yet", "accounts": []}
        day = date.fromisoformat(latest)
        at = self.clock.now()
        daily, weekly = daily_report(conn, names, day, at), weekly_summary(conn, names, day, at)
        return {
            "day": day.isoformat(),
            "text": daily.text() + "\n\n" + weekly.text(),
            "daily": daily.as_dict(),
            "weekly": weekly.as_dict(),
        }

    # -- writes ------------------------------------------------------------------------------

    def _write(self, request: Request) -> Reply:
        if self.engine is None:
            return Reply(False, error="the engine is not running: write commands need it")
        args = {k: v for k, v in request.args.items() if k not in ("confirm", "confirmed")}
        if request.op == "flatten":
            step = self._flatten_step(request)
            if step is not None:
                return step
            args["confirmed"] = True
        wait = args.pop("wait", True) is not False
        forwarded = Request(request.op, args, request.actor, request.role)
        if not wait:
            self.engine.submit(forwarded)
            return Reply(True, {"queued": True, "op": request.op})
        try:
            return self.engine.submit(forwarded).result(timeout=self.write_timeout_s)
        except FutureTimeout:
            return Reply(
                False,
                error=f"the engine did not answer {request.op} within {self.write_timeout_s:g} s",
            )

    def _flatten_step(self, request: Request) -> Reply | None:
        account = str(request.args.get("account") or "")
        if not account:
            return Reply(False, error="flatten needs an account")
        now = self._monotonic()
        token = request.args.get("confirm")
        with self._lock:
            self._tokens = {t: p for t, p in self._tokens.items() if p.expires > now}
            if token:
                pending = self._tokens.pop(str(token), None)
                if pending is None:
                    return Reply(
                        False, error="the confirmation token is unknown or expired: ask again"
                    )
                if pending.account != account or pending.actor != request.actor:
                    return Reply(
                        False,
                        error="the confirmation token was issued for another account or actor",
                    )
                return None
        with self._conn() as conn:
            if account not in self._names(conn):
                return Reply(False, error=f"no account {account!r} in the ledger")
            held = reads.positions(conn, account)
            option_positions, _ = reads.option_counts(conn, account)
        token = secrets.token_urlsafe(9)
        with self._lock:
            self._tokens[token] = _Pending(account, request.actor, now + self.token_ttl_s)
        return Reply(
            True,
            {
                "confirm": token,
                "expires_in_s": self.token_ttl_s,
                "account": account,
                "positions": held,
                "option_positions": option_positions,
                "message": f"flatten {flatten_what(len(held), option_positions)} of {account} "
                f"and halts it: send flatten again with confirm={token} within "
                f"{self.token_ttl_s:g} s",
            },
        )


def _int(value: Any, lo: int, hi: int) -> int:
    try:
        n = int(value)
    except (TypeError, ValueError):
        raise InvestError(f"not a number: {value!r}") from None
    return max(lo, min(hi, n))


def _portfolio(pnl: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """The total of every account's equity and P&L (the portfolio across accounts)."""
    equity = sum(p["equity"] for p in pnl.values())
    total = sum(p["total_pnl"] for p in pnl.values())
    days = [p["day_pnl"] for p in pnl.values() if p["day_pnl"] is not None]
    base = equity - total
    return {
        "accounts": len(pnl),
        "equity": round(equity, 2),
        "day_pnl": round(sum(days), 2) if days else None,
        "total_pnl": round(total, 2),
        "total_pct": round(total / base, 6) if base else None,
    }


def _why_reply(rec: dict[str, Any], symbol: str) -> dict[str, Any]:
    return {
        "symbol": symbol,
        "account": rec["account"],
        "day": rec["day"],
        "text": explain(rec, symbol),
        "record": rec,
    }


def _mentions(rec: dict[str, Any], symbol: str) -> bool:
    for key in ("targets", "weights", "proposed"):
        if symbol in (rec.get(key) or {}):
            return True
    for key in ("orders", "clamps", "skipped"):
        if any(item.get("symbol") == symbol for item in rec.get(key) or []):
            return True
    return False


def flatten_what(positions: int, option_positions: int) -> str:
    """What a flatten does, in words: "sells all 3 positions", plus the option closes."""
    what = f"sells all {positions} positions"
    if option_positions:
        what += f" and closes all {option_positions} option positions at the market"
    return what
