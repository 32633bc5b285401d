"""``invest status``: each account's state, halt, last and next cycle, and the engine's heartbeat.

Reads the ledger read-only (it never needs the engine). ``--heartbeat-max-age N``
is the Docker HEALTHCHECK: it reads only the heartbeat row, prints one line and
exits 1 when the engine stopped, never beat, or last beat more than N seconds ago.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Callable
from contextlib import closing
from datetime import date, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from invest.runtime.clock import NEW_YORK
from invest.runtime.domain import worst
from invest.runtime.errors import InvestError
from invest.runtime.freshness import SAMPLE_LAST_BAR, advice, data_spec, freshness, is_sample
from invest.runtime.ledger import engine_state as repo
from invest.runtime.ledger import reads

if TYPE_CHECKING:
    # pydantic, numpy and APScheduler: only a status with accounts to schedule needs them.
    from invest.runtime.clock import TradingCalendar
    from invest.runtime.config import Settings

__all__ = [
    "check_heartbeat",
    "collect_status",
    "format_control",
    "format_status",
    "heartbeat_info",
]


def heartbeat_info(conn: sqlite3.Connection, wall_now: datetime) -> dict[str, Any] | None:
    """The heartbeat row as a dict with its age in seconds, or None."""
    hb = repo.heartbeat(conn)
    if hb is None:
        return None
    return {
        "pid": hb.pid,
        "version": hb.version,
        "started_at": hb.started_at.isoformat(),
        "beat_at": hb.beat_at.isoformat(),
        "clock_at": hb.clock_at.isoformat(),
        "age_s": round(hb.age(wall_now), 1),
        "stopped_at": hb.stopped_at.isoformat() if hb.stopped_at else None,
    }


def check_heartbeat(ledger: Path, max_age: float, wall_now: datetime) -> tuple[bool, str]:
    """Whether the engine is alive: a heartbeat newer than ``max_age`` seconds and no clean stop."""
    try:
        with closing(reads.connect_readonly(ledger)) as conn:
            hb = heartbeat_info(conn, wall_now)
    except (InvestError, sqlite3.Error) as e:
        return False, f"unhealthy: {e}"
    if hb is None:
        return False, "unhealthy: no heartbeat (the engine never ran on this ledger)"
    if hb["stopped_at"]:
        return False, f"unhealthy: the engine stopped at {hb['stopped_at']}"
    if hb["age_s"] > max_age:
        return False, f"unhealthy: last heartbeat {hb['age_s']:.0f} s ago (limit {max_age:g} s)"
    return True, f"healthy: heartbeat {hb['age_s']:.0f} s ago (pid {hb['pid']}, {hb['version']})"


def _next_cycle(
    name: str, settings: Settings | None, calendar: TradingCalendar | None, now: datetime
) -> str | None:
    if settings is None or calendar is None or name not in settings.accounts:
        return None
    from invest.runtime.timing import next_fire

    cfg = settings.accounts[name]
    fire = next_fire(cfg.schedule, settings.engine.timezone, calendar, now)
    return fire.at.isoformat() if fire else None


def _data(
    spec: str | None,
    last_bar: str | None,
    calendar: TradingCalendar | None,
    now: datetime,
) -> dict[str, Any]:
    """The account's data: its source, its last bar and that bar's age in sessions.

    ``last_bar`` is the last session the account was marked on (every cycle marks the
    last bar it read); an account on the bundled sample with none yet is judged by the
    sample's last bar. ``data`` is the one line that status, the TUI and Telegram show.
    """
    demo = is_sample(spec)
    day = date.fromisoformat(last_bar) if last_bar else (SAMPLE_LAST_BAR if demo else None)
    age = freshness(day, now, calendar) if day is not None and calendar is not None else None
    source = "the bundled sample (demo data)" if demo else (spec or "unknown source")
    if age is not None:
        text = f"{source}: {age.describe()}"
        if age.stale:
            text += f"; {advice(spec, day)}" if day is not None else ""
    elif day is not None:
        text = f"{source}: last bar {day}"
    else:
        text = f"{source}: no bar read yet"
    return {
        "data_source": spec,
        "demo_data": demo,
        "last_bar": day.isoformat() if day is not None else None,
        "data_age": age.sessions if age is not None else None,
        "data_stale": age.stale if age is not None else None,
        "data": text,
    }


def _plural(n: int, word: str) -> str:
    return f"{n} {word}" + ("" if n == 1 else "s")


def _account(
    conn: sqlite3.Connection,
    name: str,
    engine_state: Any,
    next_cycle: str | None,
    options: bool = False,
) -> dict[str, Any]:
    own = repo.account_halt(conn, name)
    row = repo.engine_account(conn, name)
    eq = reads.equity_rows(conn, name, 2)
    equity = eq[0][1] if eq else None
    change = eq[0][1] - eq[1][1] if len(eq) > 1 else None
    counts = reads.account_status_row(conn, name)
    return {
        "account": name,
        "halt": own.value,
        "halt_reason": repo.halt_reason(conn, name) if own.value != "ACTIVE" else "",
        "effective": worst(own, engine_state).value,
        "paused": row.paused,
        "equity": round(equity, 2) if equity is not None else None,
        "cash": round(eq[0][2], 2) if eq else None,
        "day": eq[0][0] if eq else None,
        "day_pnl": round(change, 2) if change is not None else None,
        "day_pnl_pct": round(change / eq[1][1], 6) if change is not None and eq[1][1] else None,
        "positions": counts.positions,
        "open_orders": counts.open_orders,
        # An options account's book: its stock rows hold only an assignment's shares.
        "options": options or bool(counts.option_positions or counts.open_option_orders),
        "option_positions": counts.option_positions,
        "open_option_orders": counts.open_option_orders,
        "last_day": counts.last_day,
        "last_cycle": cycle[0] if (cycle := reads.last_cycle(conn, name)) else None,
        "last_cycle_at": row.last_cycle_at,
        "last_cycle_id": row.last_cycle_id,
        "next_cycle": next_cycle,
        "failures": {
            "errors": row.errors,
            "data_outages": row.data_outages,
            "broker_outages": row.broker_outages,
        },
        "last_error": row.last_error,
        "risk": _risk(conn, name),
    }


def _risk(conn: sqlite3.Connection, name: str) -> dict[str, Any] | None:
    """The account's risk snapshot (``control.risk_view``); None for a ledger it cannot read."""
    from invest.runtime.control.risk_view import ledger_risk

    try:
        return ledger_risk(conn, name).as_dict()
    except ValueError:  # an equity row <= 0: status still shows the rest
        return None


def collect_status(
    conn: sqlite3.Connection,
    settings: Settings | None,
    *,
    now: datetime,
    wall_now: datetime,
    calendar: Callable[[], TradingCalendar] | None = None,
    live: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Everything ``invest status`` shows, as a JSON-safe dict.

    Args:
        conn: a (read-only) ledger connection.
        settings: the config, for the next cycle of each account; None leaves it out.
        now: the time the next cycles are computed from.
        wall_now: the real time, for the heartbeat's age.
        calendar: returns the exchange calendar (built only when needed).
        live: the running engine's snapshot; its next cycles win over the computed ones.
    """
    engine_state, reason = repo.engine_halt(conn)
    names = reads.account_names(conn)
    configured = list(settings.accounts) if settings else []
    live_accounts = (live or {}).get("accounts", {})
    cal = (
        calendar() if calendar is not None and settings is not None and not live_accounts else None
    )
    # The data's age needs the calendar whenever there is an account to judge.
    age_cal = cal or (calendar() if calendar is not None and (names or configured) else None)
    demo = reads.is_demo(conn)
    accounts = []
    for name in names:
        nxt = live_accounts.get(name, {}).get("next_cycle") or _next_cycle(name, settings, cal, now)
        options = (
            settings is not None
            and name in settings.accounts
            and settings.accounts[name].trades_options
        )
        row = _account(conn, name, engine_state, nxt, options)
        # A demo ledger was replayed on the bundled sample, whatever the config says now.
        spec = "sample" if demo else (data_spec(settings, name) if settings else None)
        row.update(_data(spec, row["day"], age_cal, now))
        accounts.append(row)
    for name in configured:
        if name not in names:
            assert settings is not None
            row = {"account": name, "state": "not started (no ledger rows yet)"}
            row.update(_data(data_spec(settings, name), None, age_cal, now))
            accounts.append(row)
    return {
        "engine": {
            "halt": engine_state.value,
            "reason": reason,
            "heartbeat": heartbeat_info(conn, wall_now),
            "in_flight": (live or {}).get("in_flight"),
        },
        "accounts": accounts,
    }


def _when(iso: str | None) -> str:
    if not iso:
        return "-"
    return datetime.fromisoformat(iso).astimezone(NEW_YORK).strftime("%Y-%m-%d %H:%M %Z")


def format_status(data: dict[str, Any]) -> str:
    """The status as text, one block per account."""
    eng = data["engine"]
    hb = eng["heartbeat"]
    if hb is None:
        life = "never ran"
    elif hb["stopped_at"]:
        life = f"stopped at {_when(hb['stopped_at'])}"
    else:
        life = f"pid {hb['pid']} {hb['version']}, heartbeat {hb['age_s']:.0f} s ago"
    lines = [f"engine: {life}; {eng['halt']}" + (f" ({eng['reason']})" if eng["reason"] else "")]
    for a in data["accounts"]:
        if "state" in a:
            lines.append(f"{a['account']}: {a['state']}")
            if a.get("data"):
                lines.append(f"  data: {a['data']}")
            continue
        halt = a["effective"] + (" paused" if a["paused"] else "")
        if a["halt_reason"]:
            halt += f" ({a['halt_reason']})"
        eq = f"{a['equity']:,.2f}" if a["equity"] is not None else "-"
        pnl = (
            f" {a['day_pnl']:+,.2f} ({a['day_pnl_pct']:+.2%})"
            if a["day_pnl_pct"] is not None
            else ""
        )
        book = ""
        if a.get("options"):  # an engine of an earlier version answers without it
            book = (
                f"; {_plural(a['option_positions'], 'option position')}, "
                f"{_plural(a['open_option_orders'], 'open option order')}"
            )
        lines.append(
            f"{a['account']}: {halt}; equity {eq} on {a['day'] or '-'}{pnl}; "
            f"{a['positions']} positions, {a['open_orders']} open orders{book}"
        )
        # The day of the latest decision, as the TUI shows it; the engine's run time if it ran it.
        ran = f" (ran {_when(a['last_cycle_at'])})" if a["last_cycle_at"] else ""
        lines.append(f"  last cycle {a['last_cycle'] or '-'}{ran}, next {_when(a['next_cycle'])}")
        if a.get("data"):  # an engine of an earlier version answers without it
            lines.append(f"  data: {a['data']}")
        if a.get("risk"):  # the same
            from invest.runtime.risk.snapshot import RiskSnapshot, risk_lines

            var, book = risk_lines(RiskSnapshot.from_dict(a["risk"]), forward=False)
            lines.append(f"  risk: {var}")
            lines.append(f"  book: {book}")
        f = a["failures"]
        if any(f.values()):
            lines.append(
                f"  failing: {f['errors']} errors, {f['data_outages']} data and "
                f"{f['broker_outages']} broker outages in a row: {a['last_error']}"
            )
    return "\n".join(lines)


def format_control(op: str, data: dict[str, Any], actor: str) -> str:
    """One line for the engine's answer to halt, pause, resume or resume_all.

    ``actor`` is who asked (the engine's audit event names the same user).
    """
    by = f" (by {actor})"
    if op == "pause":
        return (
            f"paused {data['account']}: its scheduled cycles are skipped, its stops still run{by}"
        )
    if op == "resume":
        line = f"resumed {data['account']}: {data['halt']}, not paused{by}"
        if data.get("engine_halt", "ACTIVE") != "ACTIVE":
            line += f"; the engine itself is still {data['engine_halt']} (`invest resume --all`)"
        return line
    if op == "resume_all":
        names = ", ".join(data.get("accounts", [])) or "no accounts"
        return f"resumed the engine and every account ({names}): {data['engine_halt']}{by}"
    if op == "halt":
        target = "the engine" if data["halted"] == "engine" else data["halted"]
        counts: dict[str, int] = data.get("cancelled", {})
        done = sum(n for n in counts.values() if n >= 0)
        failed = [name for name, n in counts.items() if n < 0]
        line = f"halted {target}: {done} open order(s) cancelled{by}"
        if failed:
            line += f"; could not cancel the orders of {', '.join(failed)} (see the engine log)"
        return line
    return f"{op}: {as_json(data)}"


def as_json(data: dict[str, Any]) -> str:
    """Pretty JSON."""
    return json.dumps(data, indent=2, default=str)
