"""The engine's write operations (pause, resume, halt, resume_all, flatten, run), on its own thread.

``preview`` runs here too (on the engine's thread, between its jobs) but writes
nothing: it reads the ledger through a read-only connection and is not audited.

The control service checks roles and the flatten confirmation, then queues the
request here. Each operation writes the ledger in a transaction, leaves a
``control`` audit event naming the actor, and tells the notifiers.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, cast

from invest.runtime.control.api import Reply, Request
from invest.runtime.domain import HaltState
from invest.runtime.engine.actions import cancel_open_orders, flatten
from invest.runtime.engine.options_account_cycle import (
    cancel_option_orders,
    flatten_options_account,
)
from invest.runtime.errors import InvestError
from invest.runtime.events import Halted, OptionOrderSent, OrderSent, Resumed
from invest.runtime.explain import explain, headline
from invest.runtime.ledger import engine_state as repo
from invest.runtime.ledger import reads
from invest.runtime.timing import last_completed_session

if TYPE_CHECKING:
    from datetime import date

    from invest.runtime.engine.engine import Engine
    from invest.runtime.options.plan import OptionOrder
    from invest.runtime.oracle.accounts import Mode

__all__ = ["execute"]

logger = logging.getLogger(__name__)

Op = Callable[["Engine", Request], dict[str, Any]]


class OpError(InvestError):
    """A write request cannot be executed (bad arguments, unknown account); nothing changed."""


def execute(engine: Engine, request: Request) -> Reply:
    """Run one write request on the engine's thread; never raises."""
    op = _OPS.get(request.op)
    if op is None:
        return Reply(False, error=f"unknown write op {request.op!r}")
    try:
        data = op(engine, request)
    except InvestError as e:
        reply = Reply(False, error=str(e))
    except Exception as e:  # an op must answer, whatever went wrong
        logger.exception("control op %s failed", request.op)
        reply = Reply(False, error=f"{type(e).__name__}: {e}")
    else:
        reply = Reply(True, data)
    if request.op not in _READS:
        _audit(engine, request, reply)
    return reply


def _audit(engine: Engine, request: Request, reply: Reply) -> None:
    args = {k: v for k, v in request.args.items() if k not in ("confirm", "confirmed")}
    detail = {"op": request.op, "args": args, "actor": request.actor, "ok": reply.ok}
    if not reply.ok:
        detail["error"] = reply.error
    try:
        with engine.ledger.transaction():
            engine.ledger.event(args.get("account"), "control", detail)
    except Exception:  # the audit must not hide the reply
        logger.exception("cannot write the audit event of %s", request.op)
    logger.info(
        "control %s by %s: %s", request.op, request.actor, "ok" if reply.ok else reply.error
    )


def _account(engine: Engine, request: Request, required: bool = True) -> str | None:
    name = request.args.get("account")
    if name is None or name == "":
        if required:
            raise OpError(f"{request.op} needs an account ({', '.join(engine.accounts)})")
        return None
    if name not in engine.accounts:
        raise OpError(f"no account {name!r} (accounts: {', '.join(engine.accounts) or 'none'})")
    return str(name)


def _resume_account(engine: Engine, name: str, actor: str) -> None:
    conn = engine.ledger.conn
    rows = reads.equity_rows(conn, name, 1)
    with engine.ledger.transaction():
        repo.update_engine_account(
            conn,
            name,
            engine.ledger.ts(),
            paused=0,
            errors=0,
            data_outages=0,
            broker_outages=0,
            trip_peak=rows[0][1] if rows else None,
        )
        if repo.account_halt(conn, name) is not HaltState.ACTIVE:
            engine.ledger.set_halt(name, HaltState.ACTIVE, f"resumed by {actor}")


def _pause(engine: Engine, request: Request) -> dict[str, Any]:
    name = _account(engine, request)
    assert name is not None
    with engine.ledger.transaction():
        repo.update_engine_account(engine.ledger.conn, name, engine.ledger.ts(), paused=1)
    return {"account": name, "paused": True}


def _resume(engine: Engine, request: Request) -> dict[str, Any]:
    name = _account(engine, request)
    assert name is not None
    _resume_account(engine, name, request.actor)
    engine.notifier.notify(Resumed(at=engine.clock.now(), account=name, actor=request.actor))
    state, _ = repo.engine_halt(engine.ledger.conn)
    return {
        "account": name,
        "halt": HaltState.ACTIVE.value,
        "paused": False,
        "engine_halt": state.value,
    }


def _cancel_all(engine: Engine, name: str, reason: str) -> int:
    try:
        cfg = engine.settings.account(name)
        if cfg.trades_options and cfg.broker == "alpaca":
            # The Alpaca option orders adapter has no cancel yet; the orders are day
            # orders and end at the close. Marking them cancelled here would desync.
            logger.warning(
                "%s: open option orders at Alpaca are not cancelled (no cancel yet)", name
            )
            return -1
        if cfg.trades_options:
            return cancel_option_orders(engine.ledger, name, reason)
        return len(cancel_open_orders(engine.ledger, engine.build(name), reason))
    except Exception:
        logger.exception("%s: cannot cancel the open orders", name)
        return -1


def _halt(engine: Engine, request: Request) -> dict[str, Any]:
    name = _account(engine, request, required=False)
    reason = str(request.args.get("reason") or f"halted by {request.actor}")
    conn = engine.ledger.conn
    with engine.ledger.transaction():
        if name is None:
            repo.set_engine_halt(conn, HaltState.HALTED, reason, engine.ledger.ts())
            engine.ledger.event(None, "halt", {"state": HaltState.HALTED.value, "reason": reason})
        else:
            engine.ledger.set_halt(name, HaltState.HALTED, reason)
    targets = engine.accounts if name is None else [name]
    cancelled = {n: _cancel_all(engine, n, reason) for n in targets}
    engine.notifier.notify(
        Halted(
            at=engine.clock.now(),
            account=name,
            state=HaltState.HALTED,
            reason=reason,
            actor=request.actor,
        )
    )
    return {"halted": name or "engine", "cancelled": cancelled}


def _resume_all(engine: Engine, request: Request) -> dict[str, Any]:
    conn = engine.ledger.conn
    reason = f"resumed by {request.actor}"
    with engine.ledger.transaction():
        repo.set_engine_halt(conn, HaltState.ACTIVE, reason, engine.ledger.ts())
        engine.ledger.event(None, "halt", {"state": HaltState.ACTIVE.value, "reason": reason})
    for name in engine.accounts:
        _resume_account(engine, name, request.actor)
    engine.notifier.notify(Resumed(at=engine.clock.now(), account=None, actor=request.actor))
    return {"engine_halt": HaltState.ACTIVE.value, "accounts": list(engine.accounts)}


def _flatten(engine: Engine, request: Request) -> dict[str, Any]:
    if request.args.get("confirmed") is not True:
        raise OpError("flatten needs a confirmation: ask the control service for a token first")
    name = _account(engine, request)
    assert name is not None
    day = last_completed_session(engine.calendar, engine.clock.now())
    if engine.settings.account(name).trades_options:
        return _flatten_options(engine, name, day, request.actor)
    sent = flatten(engine.ledger, engine.build(name), day, request.actor)
    at = engine.clock.now()
    for i in sent:
        engine.notifier.notify(OrderSent.of(i, at))
    engine.notifier.notify(
        Halted(
            at=at,
            account=name,
            state=HaltState.HALTED,
            reason=f"flattened by {request.actor}",
            actor=request.actor,
        )
    )
    return {
        "account": name,
        "orders": [{"symbol": i.symbol, "quantity": str(i.quantity)} for i in sent],
    }


def _legs(order: OptionOrder) -> str:
    """``"-1 KO160311P00040000 +1 ..."``: each leg's quantity per unit and OCC symbol."""
    return " ".join(f"{leg.quantity:+d} {leg.contract.symbol}" for leg in order.structure.legs)


def _flatten_options(engine: Engine, name: str, day: date, actor: str) -> dict[str, Any]:
    """An options account's flatten: its positions closed at the market, its shares named."""
    venue = engine.settings.account(name).broker == "alpaca"
    api = engine.option_orders(name) if venue else None
    done = flatten_options_account(engine.ledger, name, day, actor, api=api)
    at = engine.clock.now()
    orders = [
        {
            "client_order_id": o.client_order_id,
            "position_id": o.position_id,
            "kind": o.structure.kind.value,
            "legs": _legs(o),
            "contracts": o.contracts,
        }
        for o in done.closes
    ]
    for o in done.closes:
        engine.notifier.notify(
            OptionOrderSent(
                at=at,
                account=name,
                client_order_id=o.client_order_id,
                action=o.action.value,
                structure=o.structure.kind.value,
                legs=_legs(o),
                contracts=o.contracts,
                limit_premium=o.limit_premium,
                reason=o.reason,
                cycle_id=o.cycle_id,
            )
        )
    engine.notifier.notify(
        Halted(
            at=at,
            account=name,
            state=HaltState.HALTED,
            reason=f"flattened by {actor}",
            actor=actor,
        )
    )
    notes = []
    if done.working:
        notes.append(f"{len(done.working)} market close(s) already open, left to fill")
    if done.not_cancelled:
        notes.append(
            f"{len(done.not_cancelled)} open option order(s) at the broker not cancelled "
            "(no cancel yet; day orders, they end at the close)"
        )
    if done.shares:
        held = ", ".join(f"{q} {s}" for s, q in sorted(done.shares.items()))
        notes.append(
            f"shares not sold: {held} (an options account has no stock order path yet; "
            "sell them at the broker)"
        )
    return {
        "account": name,
        "orders": [],
        "option_orders": orders,
        "cancelled": done.cancelled,
        "shares_left": done.shares,
        "notes": notes,
    }


def _run(engine: Engine, request: Request) -> dict[str, Any]:
    name = _account(engine, request)
    assert name is not None
    # A cycle of a HALTED account would place nothing (the risk engine's halt clamp) but
    # would still mark a session and write decisions: refuse it here, for every door.
    refused = repo.run_refusal(engine.ledger.conn, name)
    if refused:
        raise OpError(f"run refused: {refused}")
    out, error = engine.run_account(name)
    if out is None:
        raise OpError(f"the cycle of {name} failed: {error}")
    text = (
        explain(out.latest)
        if out.latest
        else headline({"day": out.day.isoformat(), "account": name, "equity": out.equity})
    )
    return {
        "account": name,
        "day": out.day.isoformat(),
        "equity": round(out.equity, 2),
        "orders": len(out.sent) + len(out.option_orders),
        "skipped": out.skipped,
        "text": text,
    }


def _preview(engine: Engine, request: Request) -> dict[str, Any]:
    """The dry run of one account (or each) on the bar its next cycle reads; writes nothing."""
    from invest.runtime.engine.preview import preview_accounts
    from invest.runtime.ledger import Ledger

    one = _account(engine, request, required=False)
    mode = str(request.args.get("oracle") or "replay")
    if mode not in ("off", "replay", "live"):
        raise OpError(f"unknown oracle mode {mode!r}: use off, replay or live")
    ledger = Ledger(engine.ledger.path, readonly=True)
    try:
        previews = preview_accounts(
            [one] if one else list(engine.accounts),
            engine.settings,
            engine.paths,
            ledger,
            source=engine._source,
            oracle=cast("Mode", mode),
            now=engine.clock.now,
            end=last_completed_session(engine.calendar, engine.clock.now()),
        )
    finally:
        ledger.close()
    return {"previews": previews, "text": "\n\n".join(p["text"] for p in previews)}


_READS = frozenset({"preview"})

_OPS: dict[str, Op] = {
    "pause": _pause,
    "resume": _resume,
    "halt": _halt,
    "resume_all": _resume_all,
    "flatten": _flatten,
    "run": _run,
    "preview": _preview,
}
