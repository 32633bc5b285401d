"""What the engine does for one account or one report: the bodies of its jobs.

Functions over the :class:`~invest.runtime.engine.engine.Engine`, run on its thread:
failure and success bookkeeping (the trips count here), the events of a cycle,
reconciliation of every account, and the daily and weekly reports.
"""

from __future__ import annotations

import logging
from datetime import date, datetime, timedelta
from typing import TYPE_CHECKING, Any

from invest.runtime.clock import NEW_YORK
from invest.runtime.control.reports import daily_report, weekly_summary
from invest.runtime.domain import HaltState
from invest.runtime.engine.account_cycle import CycleOutcome
from invest.runtime.engine.halt import Failures, classify
from invest.runtime.engine.reconcile import (
    apply_reconciliation,
    compare,
    ledger_view,
    reconciling_broker,
    resolve_outbox,
)
from invest.runtime.engine.report_files import write_reports
from invest.runtime.events import (
    CycleSummary,
    ErrorEvent,
    Event,
    Halted,
    OrderFilled,
    OrderRejected,
    OrderSent,
    StopTriggered,
)
from invest.runtime.freshness import advice, data_spec, freshness, is_sample
from invest.runtime.ledger import engine_state as repo
from invest.runtime.ledger import reads
from invest.runtime.logs import kv
from invest.runtime.timing import is_week_end

if TYPE_CHECKING:
    from invest.runtime.engine.engine import Engine

__all__ = [
    "STOP_RULES",
    "cycle_events",
    "reconcile_accounts",
    "record_failure",
    "record_success",
    "send_reports",
]

logger = logging.getLogger("invest.runtime.engine.engine")

#: Exit reasons of the position monitors (the risk engine's rule names).
STOP_RULES = frozenset({"stop_loss", "take_profit", "time_stop"})


def record_failure(engine: Engine, name: str, error: Exception) -> None:
    """Count a failed run of ``name`` by kind; HALT the account when a limit is reached."""
    kind = classify(error)
    ledger = engine.ledger
    conn = ledger.conn
    row = repo.engine_account(conn, name)
    failures = Failures(row.errors, row.data_outages, row.broker_outages).add(kind)
    trip = failures.trip(engine.options.halt)
    text = f"{type(error).__name__}: {error}"
    halted = False
    with ledger.transaction():
        repo.update_engine_account(
            conn, name, ledger.ts(), last_error=text[:500], **{kind: failures.count(kind)}
        )
        ledger.event(name, "cycle_error", {"kind": kind, "error": text[:500]})
        if trip and repo.account_halt(conn, name) is not HaltState.HALTED:
            ledger.set_halt(name, HaltState.HALTED, trip)
            halted = True
    if kind == "errors":
        logger.error("%s: cycle failed", name, exc_info=error, extra=kv(kind=kind))
    else:
        logger.warning("%s: cycle failed: %s", name, text, extra=kv(kind=kind))
    at = engine.clock.now()
    engine.notifier.notify(
        ErrorEvent(
            at=at,
            account=name,
            error=type(error).__name__,
            message=str(error)[:500],
            consecutive=failures.count(kind),
        )
    )
    if halted and trip:
        engine.notifier.notify(Halted(at=at, account=name, state=HaltState.HALTED, reason=trip))


def record_success(engine: Engine, out: CycleOutcome) -> None:
    """Reset the failure counts, note the cycle, log it and tell the notifiers."""
    values: dict[str, Any] = {"errors": 0, "data_outages": 0, "broker_outages": 0}
    if not out.monitor_only:
        values.update(last_cycle_at=engine.clock.now().isoformat(), last_cycle_id=out.cycle_id)
    with engine.ledger.transaction():
        repo.update_engine_account(engine.ledger.conn, out.account, engine.ledger.ts(), **values)
    busy = (
        out.sent
        or out.option_orders
        or out.fills
        or out.cancelled
        or out.skipped
        or not out.monitor_only
    )
    age = freshness(out.day, engine.clock.now(), engine.calendar)
    spec = data_spec(engine.settings, out.account)
    logger.log(
        logging.INFO if busy else logging.DEBUG,
        "cycle done",
        extra=kv(
            account=out.account,
            cycle=out.cycle_id,
            equity=round(out.equity, 2),
            orders=len(out.sent) + len(out.option_orders),
            fills=len(out.fills),
            halt=out.halt.value,
            skipped=out.skipped or None,
            last_bar=out.day.isoformat(),
            data_age=age.sessions,
        ),
    )
    if age.stale and not out.monitor_only:
        demo = " (the bundled sample: demo data)" if is_sample(spec) else ""
        logger.warning(
            "%s: data is stale%s: %s; %s",
            out.account,
            demo,
            age.describe(),
            advice(spec, out.day),
            extra=kv(account=out.account, source=spec, last_bar=out.day.isoformat()),
        )
    cancelled = dict(out.cancelled)
    rows = reads.order_rows(engine.ledger.conn, out.account) if cancelled else {}
    symbols = {c: str(r["symbol"]) for c, r in rows.items() if c in cancelled}
    for event in cycle_events(out, engine.clock.now(), symbols):
        engine.notifier.notify(event)


def cycle_events(out: CycleOutcome, at: datetime, symbols: dict[str, str]) -> list[Event]:
    """The events of one cycle: orders sent (and stops), fills, rejections, summary, trip.

    Args:
        out: what the cycle did.
        at: when (the engine clock).
        symbols: the symbol of each cancelled order, by client order id.
    """
    name = out.account
    events: list[Event] = []
    for i in out.sent:
        events.append(OrderSent.of(i, at))
        rule = i.reason.split(":")[0]
        if rule in STOP_RULES:
            events.append(
                StopTriggered(
                    at=at,
                    account=name,
                    symbol=i.symbol,
                    rule=rule,
                    reason=i.reason,
                    client_order_id=i.client_order_id,
                )
            )
    events += [
        OrderFilled(
            at=at,
            account=name,
            client_order_id=f.client_order_id,
            symbol=f.symbol,
            side=f.side.value,
            quantity=f.quantity,
            price=f.price,
            fees=f.fees,
            day=f.day,
            reason=f.reason,
        )
        for f in out.fills
    ]
    events += [
        OrderRejected(
            at=at, account=name, client_order_id=c, symbol=symbols.get(c, "?"), reason=why
        )
        for c, why in out.cancelled
    ]
    if not out.monitor_only or out.sent or out.option_orders or out.fills or out.cancelled:
        events.append(
            CycleSummary(
                at=at,
                account=name,
                cycle_id=out.cycle_id,
                day=out.day,
                equity=out.equity,
                monitor_only=out.monitor_only,
                record=out.records[-1] if out.records else {},
            )
        )
    if out.tripped:
        events.append(Halted(at=at, account=name, state=HaltState.HALTED, reason=out.tripped))
    return events


def reconcile_accounts(engine: Engine) -> None:
    """Reconcile every account with its broker; a failure counts like a failed cycle."""
    conn = engine.ledger.conn
    now = engine.clock.now()
    today = now.astimezone(NEW_YORK).date()
    for name in engine.accounts:
        if engine.settings.account(name).trades_options:
            # The paper options broker's orders live in the ledger: nothing to compare.
            if engine.settings.account(name).broker == "alpaca":
                reconcile_options_account(engine, name, today, now)
            continue
        try:
            acct = engine.build(name)
            resolve_outbox(engine.ledger, acct.broker, name)  # answers first: see reconcile
            rb = reconciling_broker(acct.broker, conn, name)
            if rb is None:
                logger.warning("%s: broker %s cannot be reconciled", name, acct.broker.name)
                continue
            synced = repo.engine_account(conn, name).synced_at
            since = datetime.fromisoformat(synced) if synced else now - timedelta(days=7)
            rec = compare(
                ledger_view(conn, name),
                rb.open_orders(),
                rb.fills_since(since),
                rb.positions(),
                today,
            )
            apply_reconciliation(engine.ledger, rec, now.isoformat())
        except Exception as e:  # a broker outage at reconciliation counts like a failed cycle
            record_failure(engine, name, e)
            continue
        if not rec.ok:
            reason = "reconciliation: " + "; ".join(rec.mismatches[:3])
            engine.notifier.notify(
                Halted(at=now, account=name, state=HaltState.HALTED, reason=reason)
            )


def reconcile_options_account(engine: Engine, name: str, today: date, now: datetime) -> None:
    """An Alpaca options account: answer its outbox, then compare its legs with Alpaca's.

    An unexplained difference HALTs the account, as the stock reconciliation does; a
    failure to ask counts like a failed cycle.
    """
    from invest.runtime.engine.options_broker import option_mismatches, resolve_option_outbox

    conn = engine.ledger.conn
    try:
        api = engine.option_orders(name)
        resolve_option_outbox(engine.ledger, api, name)
        synced = repo.engine_account(conn, name).synced_at
        since = (datetime.fromisoformat(synced) if synced else now - timedelta(days=7)).date()
        found = option_mismatches(engine.ledger, api, name, today, since)
    except Exception as e:
        record_failure(engine, name, e)
        return
    if not found:
        return
    reason = "option reconciliation: " + "; ".join(found[:3])
    with engine.ledger.transaction():
        engine.ledger.set_halt(name, HaltState.HALTED, reason)
    logger.error("%s: HALTED: %s", name, reason)
    engine.notifier.notify(Halted(at=now, account=name, state=HaltState.HALTED, reason=reason))


def send_reports(engine: Engine, day: date) -> None:
    """Send the daily report of ``day`` (and the weekly summary on a week's end), once."""
    conn = engine.ledger.conn
    if reads.daily_report_sent(conn, day):
        return
    at = engine.clock.now()
    engine.notifier.notify(daily_report(conn, engine.accounts, day, at))
    if is_week_end(engine.calendar, day):
        engine.notifier.notify(weekly_summary(conn, engine.accounts, day, at))
    with engine.ledger.transaction():
        engine.ledger.event(None, "daily_report", {"day": day.isoformat()})
    # After the alert and its ledger mark: a page that fails never sends the alert twice.
    write_reports(engine, day)
