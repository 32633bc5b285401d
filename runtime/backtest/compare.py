"""A/B comparison of two accounts from the ledger: return, drawdown, win rate, veto rate."""

from __future__ import annotations

import numpy as np

from invest.runtime.backtest.metrics import curve_metrics, round_trip_pnls
from invest.runtime.backtest.report import COLUMNS, format_metric
from invest.runtime.errors import LedgerError
from invest.runtime.ledger import Ledger


def _veto_rate(ledger: Ledger, account: str) -> float:
    reviewed = vetoed = 0
    for rec in ledger.decisions(account, limit=1_000_000):
        for v in (rec.get("llm") or {}).get("verdicts", []):
            reviewed += 1
            vetoed += str(v.get("verdict", "")).upper() == "VETO"
    return vetoed / reviewed if reviewed else float("nan")


def account_figures(ledger: Ledger, account: str) -> dict[str, float]:
    """Total return, max drawdown, win rate and LLM veto rate of one account."""
    if account not in ledger.accounts():
        raise LedgerError(f"account {account!r} is not in the ledger {ledger.path}")
    equity = np.array([e for _, e in ledger.equity_curve(account)], dtype=float)
    m = curve_metrics(equity)
    trips = round_trip_pnls(ledger.fills(account))
    return {
        "total_return": m.total_return,
        "max_drawdown": m.max_drawdown,
        "sharpe": m.sharpe,
        "win_rate": sum(p > 0 for p in trips) / len(trips) if trips else float("nan"),
        "veto_rate": _veto_rate(ledger, account),
        "sessions": float(len(equity)),
    }


#: compare's figures that the backtest table has not: key, label, kind.
_OWN = (("veto_rate", "LLM veto rate", "pct"), ("sessions", "Sessions", "count"))


def compare_accounts(ledger: Ledger, a: str, b: str) -> tuple[list[str], list[list[str]]]:
    """Header and rows: each figure for A, for B, and B minus A.

    Labels and formats are the backtest table's (:data:`report.COLUMNS`), in its order.
    """
    fa, fb = account_figures(ledger, a), account_figures(ledger, b)

    def fmt(v: float, kind: str, *, diff: bool = False) -> str:
        if np.isnan(v):
            return "-"
        if kind == "count":
            return f"{v:+.0f}" if diff else f"{v:.0f}"
        if diff:  # a difference always shows its sign
            return f"{v:+.1%}" if kind == "pct" else f"{v:+.2f}"
        return format_metric(v, kind)

    shown = [c for c in COLUMNS if c[0] in fa] + list(_OWN)
    rows = [
        [label, fmt(fa[k], kind), fmt(fb[k], kind), fmt(fb[k] - fa[k], kind, diff=True)]
        for k, label, kind in shown
    ]
    return ["", a, b, "B - A"], rows
