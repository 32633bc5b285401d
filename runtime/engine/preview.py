"""The next cycle's preview: the dry run of one account on its latest bar, with its reasons.

It is :func:`~invest.runtime.engine.account_cycle.run_account_cycle` with ``dry_run=True``
(no planning of its own): the ledger is read, never written, the broker is the paper
one, and the records go to a memory sink. What it adds is the shape a person reads:
the regime, proposed targets against current weights, the orders with their reasons,
the clamps (risk rules and the LLM gate), and what would not trade and why. ``invest
preview`` (locally, or through a running engine) and Telegram ``/preview`` show it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import date, datetime
from typing import TYPE_CHECKING, Any

from invest.runtime.config import Settings
from invest.runtime.cycle import Gate
from invest.runtime.data.base import MarketData
from invest.runtime.domain import HaltState, OrderIntent
from invest.runtime.engine.account_cycle import CycleOutcome, StrategyFactory, run_account_cycle
from invest.runtime.explain import explain
from invest.runtime.ledger import Ledger
from invest.runtime.paths import Paths

if TYPE_CHECKING:
    from invest.runtime.oracle.accounts import Mode

__all__ = ["preview_account", "preview_accounts", "preview_text"]


def preview_accounts(
    names: Iterable[str],
    settings: Settings,
    paths: Paths,
    ledger: Ledger | None,
    *,
    source: Callable[[str], MarketData],
    oracle: Mode,
    now: Callable[[], datetime],
    end: date | None = None,
) -> list[dict[str, Any]]:
    """:func:`preview_account` of each of ``names``, with its LLM gate and manager built in
    ``oracle`` mode (and the gate closed after): ``invest preview``, the engine's preview
    op and the TUI all preview this way. ``source`` opens an account's market data."""
    previews = []
    for name in names:
        cfg = settings.account(name)
        gate = None
        if cfg.oracle is not None:  # no oracle: no import of the oracle package
            from invest.runtime.oracle.accounts import build_gate

            gate = build_gate(settings, name, paths.home, now, oracle, ledger)
        try:
            previews.append(
                preview_account(
                    name,
                    settings,
                    paths,
                    ledger,
                    source=source(name),
                    end=end,
                    gate=gate,
                    strategy=_manager(settings, name, paths, now, oracle),
                    oracle=oracle,
                )
            )
        finally:
            if gate is not None:
                gate.close()
    return previews


def _manager(
    settings: Settings, name: str, paths: Paths, now: Callable[[], datetime], mode: Mode
) -> StrategyFactory | None:
    """The llm_manager strategy in ``mode`` (over the preview's ledger), else None."""
    if settings.account(name).strategy != "llm_manager":
        return None  # what build_manager says too, without importing the oracle package
    from invest.runtime.strategies.llm_manager import build_manager

    return lambda known: build_manager(settings, name, paths.home, now, mode, known)


def preview_account(
    name: str,
    settings: Settings,
    paths: Paths,
    ledger: Ledger | None,
    *,
    source: MarketData | None = None,
    end: date | None = None,
    gate: Gate | None = None,
    strategy: StrategyFactory | None = None,
    oracle: str = "off",
) -> dict[str, Any]:
    """The dry run of ``name`` on the last bar up to ``end``, as a JSON-ready dict with ``text``.

    Args:
        ledger: the ledger, read only (None: plan from the config's starting cash).
        oracle: how the gate and strategy were built to ask the LLM (``off``, ``replay``:
            cached verdicts only, ``live``), shown for an account with an oracle.
    """
    out = run_account_cycle(
        name,
        settings,
        paths,
        ledger,
        dry_run=True,
        source=source,
        end=end,
        gate=gate,
        strategy=strategy,
    )
    rec = out.records[-1] if out.records else None
    day = out.day.isoformat()
    notes: list[str] = []
    known = ledger is not None and name in ledger.accounts()
    if known and ledger is not None:
        last = ledger.last_day(name)
        if last is not None and day < last:
            notes.append(
                f"the data ends on {day}, before the last session marked ({last}): "
                "a run would skip this cycle"
            )
        elif ledger.has_decision(out.cycle_id):
            notes.append(
                f"the cycle of {day} has run already: a run now places no new order "
                "(shown: the plan as it stands now)"
            )
    if settings.account(name).trades_options:
        return _options_preview(name, settings, out, rec, notes, oracle)
    open_orders = (
        {i.symbol: i for i, _ in ledger.open_orders(name)} if known and ledger is not None else {}
    )
    if out.halt is not HaltState.ACTIVE:
        notes.append(f"the account trades under {out.halt.value}: see the halt clamp")
    data: dict[str, Any] = {
        "account": name,
        "day": day,
        "cycle_id": out.cycle_id,
        "oracle": oracle if settings.account(name).oracle is not None else None,
        "halt": out.halt.value,
        "equity": round(out.equity, 2),
        "cash": float(out.state.cash),
        "regime": rec.get("regime") if rec else None,
        "weights": rec.get("weights", {}) if rec else {},
        "proposed": rec.get("proposed", {}) if rec else {},
        "targets": rec.get("targets", {}) if rec else {},
        "orders": rec.get("orders", []) if rec else [],
        "clamps": rec.get("clamps", []) if rec else [],
        "llm": rec.get("llm") if rec else None,
        "skipped": rec.get("skipped", []) if rec else [],
        "not_traded": _not_traded(rec, settings.risk_for(name).rebalance_band, open_orders)
        if rec
        else [],
        "notes": notes,
        "record": rec,
    }
    data["text"] = preview_text(data)
    return data


def _options_preview(
    name: str,
    settings: Settings,
    out: CycleOutcome,
    rec: dict[str, Any] | None,
    notes: list[str],
    oracle: str,
) -> dict[str, Any]:
    """The preview of an options account: its record's orders (whole structures) and reasons."""
    if out.halt is not HaltState.ACTIVE:
        notes.append(f"the account trades under {out.halt.value}: the monitors' exits only")
    data: dict[str, Any] = {
        "account": name,
        "day": out.day.isoformat(),
        "cycle_id": out.cycle_id,
        "oracle": oracle if settings.account(name).oracle is not None else None,
        "halt": out.halt.value,
        "equity": round(out.equity, 2),
        "cash": float(out.state.cash),
        "regime": rec.get("regime") if rec else None,
        "weights": {},
        "proposed": {},
        "targets": {},
        "orders": [_structure_order(o) for o in rec.get("orders", [])] if rec else [],
        "clamps": rec.get("clamps", []) if rec else [],
        "llm": None,
        "skipped": rec.get("skipped", []) if rec else [],
        "not_traded": [],
        "notes": notes,
        "record": rec,
    }
    head = f"next cycle of {name} on the bar of {data['day']}"
    lines = [head, *(f"  note: {n}" for n in notes)]
    lines.append(explain(rec) if rec else f"  nothing to decide (equity {data['equity']:,.2f})")
    data["text"] = "\n".join(lines)
    return data


def _structure_order(o: dict[str, Any]) -> dict[str, Any]:
    """An option order of the record with the keys a stock order's reader uses.

    ``symbol`` the underlying, ``side`` open or close, ``qty`` the contracts,
    ``ref_price`` the limit per share (None: a market exit), and the structure's kind
    and legs before the reason; the record's own keys are kept beside them.
    """
    return o | {
        "symbol": o["underlying"],
        "side": o["action"],
        "qty": str(o["contracts"]),
        "ref_price": o["limit"],
        "reason": f"{o['kind']} {o['legs']}: {o['reason']}",
    }


def _not_traded(
    rec: dict[str, Any], band: float, open_orders: dict[str, OrderIntent]
) -> list[dict[str, str]]:
    """Symbols held or proposed that get no order, each with why."""
    ordered = {o["symbol"] for o in rec.get("orders", [])}
    weights, proposed, targets = (
        rec.get("weights", {}),
        rec.get("proposed", {}),
        rec.get("targets", {}),
    )
    why: dict[str, list[str]] = {
        s: [
            f"an order placed earlier is open ({i.side.value} {i.quantity}): nothing new until it ends"
        ]
        for s, i in open_orders.items()
    }
    for c in rec.get("clamps", []):
        if c["symbol"] != "*":
            why.setdefault(c["symbol"], []).append(f"{c['rule']}: {c['reason']}")
    for s in rec.get("skipped", []):
        why.setdefault(s["symbol"], []).append(f"skipped: {s['reason']}")
    out = []
    for sym in sorted(weights.keys() | proposed.keys() | targets.keys() | why.keys()):
        if sym in ordered:
            continue
        held, want = float(weights.get(sym, 0.0)), float(targets.get(sym, 0.0))
        reasons = why.get(sym)
        if not reasons:
            if held == 0 and want == 0 and float(proposed.get(sym, 0.0)) == 0:
                continue
            if abs(want - held) < band:
                reasons = [f"held {held:.1%}, target {want:.1%}: within the rebalance band"]
            else:
                reasons = [f"held {held:.1%}, target {want:.1%}: no order"]
        out.append({"symbol": sym, "reason": "; ".join(reasons)})
    return out


def preview_text(data: dict[str, Any]) -> str:
    """The preview as text: the explanation record, weights against targets, what stays."""
    head = f"next cycle of {data['account']} on the bar of {data['day']}"
    if data["oracle"]:
        head += f" (LLM gate: {data['oracle']})"
    lines = [head, *(f"  note: {n}" for n in data["notes"])]
    rec = data.get("record")
    if rec is None:
        lines.append(f"  nothing to decide (equity {data['equity']:,.2f})")
        return "\n".join(lines)
    lines.append(explain(rec))
    syms = sorted(data["weights"].keys() | data["targets"].keys())
    if syms:
        lines.append(
            "  weights -> targets: "
            + ", ".join(
                f"{s} {data['weights'].get(s, 0.0):.1%}->{data['targets'].get(s, 0.0):.1%}"
                for s in syms
            )
        )
    for n in data["not_traded"]:
        if not any(s["symbol"] == n["symbol"] for s in data["skipped"]):
            lines.append(f"  no trade {n['symbol']}: {n['reason']}")
    return "\n".join(lines)
