"""Backtest outputs: report.json, equity.csv, trades.csv, decisions.jsonl, and a summary table."""

from __future__ import annotations

import csv
import json
import math
from pathlib import Path
from typing import Any

from invest.runtime.backtest.metrics import Metrics
from invest.runtime.backtest.runner import BacktestResult
from invest.runtime.config import Settings
from invest.runtime.ledger.trades import closed_trades
from invest.runtime.reports.html import write_file
from invest.runtime.reports.tearsheet import Tearsheet, tearsheet_html

#: trades.csv of an options account: stock fills (assignments, calls away) and one row
#: per option position (closed, or still open at the end).
TRADE_COLUMNS = (
    "date",
    "type",
    "symbol",
    "side",
    "quantity",
    "price",
    "fees",
    "reason",
    "opened",
    "closed",
    "kind",
    "legs",
    "contracts",
    "premium_in",
    "premium_out",
    "settlement",
    "realised_pnl",
    "outcome",
    "exit_rule",
)

COLUMNS = (
    ("total_return", "Total return", "pct"),
    ("cagr", "CAGR", "pct"),
    ("volatility", "Volatility", "pct"),
    ("sharpe", "Sharpe", "num"),
    ("sortino", "Sortino", "num"),
    ("max_drawdown", "Max drawdown", "pct"),
    ("calmar", "Calmar", "num"),
    ("turnover", "Turnover / yr", "num"),
    ("exposure", "Exposure", "pct"),
    ("win_rate", "Win rate", "pct"),
)


def run_params(
    settings: Settings, name: str, data: str, start: str | None, end: str | None
) -> dict[str, Any]:
    """``BacktestResult.params`` of a replay of account ``name``: what report.json records."""
    return {
        "account": name,
        "data": data,
        "start": start,
        "end": end,
        "config": settings.account(name).model_dump(mode="json"),
        "risk": settings.risk_for(name).model_dump(mode="json"),
        "fills": settings.engine.fills.model_dump(mode="json"),
    }


def report_dict(r: BacktestResult) -> dict[str, Any]:
    """The content of report.json."""
    return {
        "account": r.account,
        "params": r.params,
        "start": r.days[0].isoformat() if r.days else None,
        "end": r.days[-1].isoformat() if r.days else None,
        "sessions": len(r.days),
        "final_equity": round(float(r.equity[-1]), 2) if len(r.equity) else None,
        "metrics": r.metrics.as_dict(),
        "benchmarks": {
            r.benchmark_keys[0]: r.benchmark_metrics.as_dict(),
            r.benchmark_keys[1]: r.equal_weight_metrics.as_dict(),
        },
        "fills": len(r.fills),
        "cycles": len(r.decisions),
        **({"options": r.counts} if r.counts is not None else {}),
        "notes": r.notes,
        "seconds": round(r.seconds, 3),
    }


def write_outputs(r: BacktestResult, out: Path) -> list[Path]:
    """Write the four result files into ``out`` and return their paths."""
    out.mkdir(parents=True, exist_ok=True)
    paths = [out / n for n in ("report.json", "equity.csv", "trades.csv", "decisions.jsonl")]
    paths[0].write_text(json.dumps(report_dict(r), indent=2) + "\n")
    with paths[1].open("w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["date", "equity", "benchmark", "equal_weight"])
        for d, e, b, q in zip(r.days, r.equity, r.benchmark, r.equal_weight, strict=True):
            w.writerow([d.isoformat(), f"{e:.2f}", f"{b:.2f}", f"{q:.2f}"])
    with paths[2].open("w", newline="") as fh:
        if r.option_trades is not None:
            # An options account: its stock fills and one row per option position.
            dw = csv.DictWriter(fh, fieldnames=TRADE_COLUMNS, restval="")
            dw.writeheader()
            dw.writerows(r.option_trades)
        else:
            w = csv.writer(fh)
            w.writerow(["date", "symbol", "side", "quantity", "price", "fees", "reason"])
            for f in r.fills:
                w.writerow(
                    [
                        f.day.isoformat(),
                        f.symbol,
                        f.side.value,
                        f.quantity,
                        f.price,
                        f.fees,
                        f.reason,
                    ]
                )
    # One encoder for all records and one write: the bytes of a json.dumps(rec,
    # separators=(",", ":")) line per record. A record is a tree of plain dicts and
    # lists made fresh by the cycle, so the circular-reference check has nothing to find.
    encode = json.JSONEncoder(separators=(",", ":"), check_circular=False).encode
    with paths[3].open("w") as fh:
        fh.write("".join([encode(rec) + "\n" for rec in r.decisions]))
    return paths


def format_metric(v: float | int, kind: str) -> str:
    """A figure of the summary table: ``pct`` as a percentage (signed when negative), else 0.00."""
    if isinstance(v, float) and math.isnan(v):
        return "-"
    return f"{v:+.1%}" if kind == "pct" and v < 0 else f"{v:.1%}" if kind == "pct" else f"{v:.2f}"


def summary_rows(r: BacktestResult) -> tuple[list[str], list[list[str]]]:
    """Header and rows comparing the strategy with both benchmarks."""
    cols: list[tuple[str, Metrics]] = [
        (r.account, r.metrics),
        (r.benchmark_labels[0], r.benchmark_metrics),
        (r.benchmark_labels[1], r.equal_weight_metrics),
    ]
    header = ["Metric", *(c[0] for c in cols)]
    rows = [
        [label, *(format_metric(getattr(m, key), kind) for _, m in cols)]
        for key, label, kind in COLUMNS
    ]
    rows.append(
        ["Final equity", *(f"{float(x[-1]):,.0f}" for x in (r.equity, r.benchmark, r.equal_weight))]
    )
    return header, rows


def count_rows(counts: dict[str, Any]) -> list[list[str]]:
    """An options account's counts (report.json's ``options``) as (what, how many) rows."""
    rows = [[f"Opened: {kind}", str(n)] for kind, n in counts["opens"].items()]
    rows += [
        ["Assignments", str(counts["assignments"])],
        ["Called away", str(counts["calls_away"])],
        ["Rolls (ordered / filled)", f"{counts['rolls']} / {counts['rolls_filled']}"],
    ]
    rows += [[f"Exits: {rule}", str(n)] for rule, n in counts["exits"].items()]
    rows += [
        ["Opens with earnings unknown", str(counts["earnings_unknown_opens"])],
        ["Still open at the end", str(counts["still_open"])],
        ["Orders cancelled (limit, no quote)", str(counts["cancelled_orders"])],
    ]
    return rows


def metrics_rows(
    report: dict[str, Any], labels: tuple[str, str]
) -> tuple[list[str], list[list[str]]]:
    """The summary table built from report.json's dict (the same figures as :func:`summary_rows`).

    The tearsheet shows this table, so its cells are report.json's values formatted by
    :func:`format_metric`; a value report.json writes as null (not applicable) shows "-".
    """
    keys = list(report["benchmarks"])
    cols = [
        (report["account"], report["metrics"]),
        (labels[0], report["benchmarks"][keys[0]]),
        (labels[1], report["benchmarks"][keys[1]]),
    ]
    header = ["Metric", *(c[0] for c in cols)]
    rows = [
        [label, *(format_metric(math.nan if m[key] is None else m[key], kind) for _, m in cols)]
        for key, label, kind in COLUMNS
    ]
    return header, rows


def trade_rows(r: BacktestResult) -> tuple[list[str], list[list[str]], tuple[int, ...]]:
    """The tearsheet's trade list: closed trades (or option positions) with P&L and exit reason.

    Returns:
        Header, rows and the free-text columns.
    """
    if r.option_trades is not None:
        header = [
            "Opened",
            "Closed",
            "Kind",
            "Symbol",
            "Contracts",
            "Realised P&L",
            "Outcome",
            "Exit",
        ]
        rows = [
            [
                str(t.get("opened") or t.get("date") or ""),
                str(t.get("closed") or ""),
                str(t.get("kind") or t.get("type") or ""),
                str(t.get("symbol") or ""),
                str(t.get("contracts") or t.get("quantity") or ""),
                _money(t.get("realised_pnl")),
                str(t.get("outcome") or ""),
                str(t.get("exit_rule") or t.get("reason") or ""),
            ]
            for t in r.option_trades
        ]
        return header, rows, (7,)
    header = [
        "Entry",
        "Exit",
        "Symbol",
        "Quantity",
        "Entry price",
        "Exit price",
        "P&L",
        "P&L %",
        "Exit reason",
    ]
    rows = [
        [
            t.entry_day.isoformat(),
            t.exit_day.isoformat(),
            t.symbol,
            f"{t.quantity:f}",
            f"{t.entry_price:,.2f}",
            f"{t.exit_price:,.2f}",
            f"{t.pnl:,.2f}",
            f"{t.pnl_pct:+.1%}",
            t.reason,
        ]
        for t in closed_trades(r.fills)
    ]
    return header, rows, (8,)


def _money(v: Any) -> str:
    if v is None or v == "":
        return ""
    return f"{float(v):,.2f}"


def tearsheet(r: BacktestResult) -> Tearsheet:
    """What report.html shows of ``r``: report.json's dict, the series, the tables."""
    report = report_dict(r)
    header, rows, text = trade_rows(r)
    return Tearsheet(
        report=report,
        days=r.days,
        equity=r.equity,
        cash=r.cash,
        benchmark=r.benchmark,
        equal_weight=r.equal_weight,
        benchmark_labels=r.benchmark_labels,
        metrics=metrics_rows(report, r.benchmark_labels),
        trades=(header, rows),
        reason_columns=text,
        decisions=r.decisions,
        counts=count_rows(r.counts) if r.counts is not None else None,
        reserved=r.reserved,
    )


def write_html(r: BacktestResult, out: Path) -> Path:
    """Write report.html (the tearsheet) into ``out`` from the values of report.json.

    Raises:
        ReportsExtraMissing: matplotlib (the ``reports`` extra) is not installed.
    """
    return write_file(out / "report.html", tearsheet_html(tearsheet(r)))
