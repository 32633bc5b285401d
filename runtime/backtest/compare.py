"""A/B comparison: two accounts side by side, or every account by model family.

Two accounts (``invest compare A B``, from the ledger): return, drawdown, Sharpe, win
rate and veto rate of each and B minus A. By family (``invest compare``: the ledger's
accounts with a family in the config; ``--reports DIR...``: backtest reports, each
with the family its account had): each family's mean and median CAGR, Sharpe and max
drawdown over its accounts, then the paired differences of the same strategy run by
two families. Accounts pair by name: NAME-FAMILY is strategy NAME
in FAMILY, and a bare NAME is NAME in its own family, so ``weekly-balanced``
(qwen3-next) pairs with ``weekly-balanced-nemotron`` and ``weekly-balanced-rules``.
"""

from __future__ import annotations

import json
import math
import statistics
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from itertools import combinations
from pathlib import Path

import numpy as np

from invest.runtime.backtest.metrics import curve_metrics, round_trip_pnls
from invest.runtime.backtest.report import COLUMNS, format_metric
from invest.runtime.errors import ConfigError, LedgerError
from invest.runtime.ledger import Ledger

Table = tuple[list[str], list[list[str]]]


def _veto_rate(ledger: Ledger, account: str) -> float:
    reviewed = vetoed = 0
    for rec in ledger.decisions(account, limit=1_000_000):
        for v in (rec.get("llm") or {}).get("verdicts", []):
            reviewed += 1
            vetoed += str(v.get("verdict", "")).upper() == "VETO"
    return vetoed / reviewed if reviewed else float("nan")


def account_figures(ledger: Ledger, account: str) -> dict[str, float]:
    """Total return, CAGR, max drawdown, Sharpe, win rate and LLM veto rate of one account."""
    if account not in ledger.accounts():
        raise LedgerError(f"account {account!r} is not in the ledger {ledger.path}")
    equity = np.array([e for _, e in ledger.equity_curve(account)], dtype=float)
    m = curve_metrics(equity)
    trips = round_trip_pnls(ledger.fills(account))
    return {
        "total_return": m.total_return,
        "cagr": m.cagr,
        "max_drawdown": m.max_drawdown,
        "sharpe": m.sharpe,
        "win_rate": sum(p > 0 for p in trips) / len(trips) if trips else float("nan"),
        "veto_rate": _veto_rate(ledger, account),
        "sessions": float(len(equity)),
    }


#: compare's figures that the backtest table has not: key, label, kind.
_OWN = (("veto_rate", "LLM veto rate", "pct"), ("sessions", "Sessions", "count"))


def _fmt(v: float, kind: str, *, diff: bool = False) -> str:
    if np.isnan(v):
        return "-"
    if kind == "count":
        return f"{v:+.0f}" if diff else f"{v:.0f}"
    if diff:  # a difference always shows its sign
        return f"{v:+.1%}" if kind == "pct" else f"{v:+.2f}"
    return format_metric(v, kind)


def compare_accounts(ledger: Ledger, a: str, b: str) -> Table:
    """Header and rows: each figure for A, for B, and B minus A.

    Labels and formats are the backtest table's (:data:`report.COLUMNS`), in its order.
    """
    fa, fb = account_figures(ledger, a), account_figures(ledger, b)
    shown = [c for c in COLUMNS if c[0] in fa] + list(_OWN)
    rows = [
        [label, _fmt(fa[k], kind), _fmt(fb[k], kind), _fmt(fb[k] - fa[k], kind, diff=True)]
        for k, label, kind in shown
    ]
    return ["", a, b, "B - A"], rows


#: The figures compared across families: key, label, kind (the backtest table's).
FAMILY_FIGURES = (
    ("cagr", "CAGR", "pct"),
    ("sharpe", "Sharpe", "num"),
    ("max_drawdown", "Max DD", "pct"),
)


@dataclass(frozen=True, slots=True)
class FamilyComparison:
    """The ledger's accounts by family, and what could not be compared.

    Attributes:
        figures: family -> account -> its figures (:func:`account_figures`), families
            and accounts in the config's order.
        missing: accounts with a family that are not in the ledger yet.
    """

    figures: Mapping[str, Mapping[str, Mapping[str, float]]]
    missing: tuple[str, ...] = ()


def strategy_key(account: str, family: str) -> str:
    """The strategy an account runs, for pairing: its name without a ``-FAMILY`` ending."""
    suffix = f"-{family}"
    return account[: -len(suffix)] if account.endswith(suffix) and account != suffix else account


def by_family(ledger: Ledger, families: Mapping[str, str | None]) -> FamilyComparison:
    """Figures of every account of ``families`` (account -> family, from the config).

    Raises:
        ConfigError: no account has a family.
        LedgerError: none of them is in the ledger.
    """
    named = _named(families)
    known = set(ledger.accounts())
    figures = {a: account_figures(ledger, a) for a in named if a in known}
    missing = tuple(a for a in named if a not in known)
    if not figures:
        raise LedgerError(
            f"none of the accounts with a family is in the ledger {ledger.path} yet "
            f"({', '.join(missing)}): run them first, or compare backtests with --reports"
        )
    return _grouped(figures, named, missing)


def report_figures(folder: Path) -> tuple[str, str | None, dict[str, float]]:
    """Account, family and figures of one ``invest backtest --out`` folder (its report.json).

    Raises:
        ConfigError: the folder holds no readable report.json of an account.
    """
    path = folder / "report.json"
    try:
        report = json.loads(path.read_text(encoding="utf-8"))
        params, metrics = report["params"], report["metrics"]
        account, config = str(params["account"]), params.get("config") or {}
        figures = {
            k: math.nan if metrics.get(k) is None else float(metrics[k])
            for k in ("total_return", "cagr", "max_drawdown", "sharpe", "win_rate")
        }
    except (OSError, ValueError, KeyError, TypeError) as e:
        raise ConfigError(
            f"{folder}: no readable report.json ({e}): pass the --out folder of an "
            "`invest backtest --account NAME`"
        ) from None
    figures["veto_rate"] = math.nan
    figures["sessions"] = float(report.get("sessions", math.nan))
    family = config.get("family")
    return account, None if family is None else str(family), figures


def by_family_reports(folders: Sequence[Path]) -> FamilyComparison:
    """Figures of backtest reports by the family each report's account had.

    Raises:
        ConfigError: a folder is no backtest report, two hold the same account, or no
            account has a family.
    """
    figures: dict[str, Mapping[str, float]] = {}
    families: dict[str, str | None] = {}
    for folder in folders:
        account, family, figs = report_figures(folder)
        if account in figures:
            raise ConfigError(f"two reports of account {account!r}: pass one folder per account")
        figures[account], families[account] = figs, family
    named = _named(families)
    return _grouped({a: f for a, f in figures.items() if a in named}, named, ())


def _named(families: Mapping[str, str | None]) -> dict[str, str]:
    named = {a: f for a, f in families.items() if f is not None}
    if not named:
        raise ConfigError(
            'no account in the config has a family: set family = "NAME" on the accounts '
            "to compare (e.g. qwen3-next, nemotron, rules), or name two: invest compare A B"
        )
    return named


def _grouped(
    figures: Mapping[str, Mapping[str, float]], named: Mapping[str, str], missing: tuple[str, ...]
) -> FamilyComparison:
    """``figures`` by family, families and accounts in ``named``'s order."""
    grouped: dict[str, dict[str, Mapping[str, float]]] = {}
    for account, family in named.items():
        if account in figures:
            grouped.setdefault(family, {})[account] = figures[account]
    return FamilyComparison(grouped, missing)


def family_table(cmp: FamilyComparison) -> Table:
    """One row per family: its accounts, then the mean and median of each figure."""
    header = ["Family", "Accounts"]
    for _, label, _ in FAMILY_FIGURES:
        header += [f"{label} mean", f"{label} median"]
    rows = []
    for family, accounts in cmp.figures.items():
        row = [family, str(len(accounts))]
        for key, _, kind in FAMILY_FIGURES:
            values = [f[key] for f in accounts.values() if not np.isnan(f[key])]
            if values:
                row += [_fmt(statistics.fmean(values), kind), _fmt(statistics.median(values), kind)]
            else:
                row += ["-", "-"]
        rows.append(row)
    return header, rows


def paired_table(cmp: FamilyComparison) -> Table:
    """The same strategy in two families: B minus A of each figure, then their mean.

    Families pair in the config's order (A before B); a strategy only one of the two
    families runs is left out. Empty rows: no strategy runs in two families.
    """
    keyed = {
        family: {strategy_key(a, family): f for a, f in accounts.items()}
        for family, accounts in cmp.figures.items()
    }
    header = ["Strategy", "A", "B"] + [f"{label} B - A" for _, label, _ in FAMILY_FIGURES]
    rows: list[list[str]] = []
    for fa, fb in combinations(keyed, 2):
        common = [s for s in keyed[fa] if s in keyed[fb]]
        diffs: dict[str, list[float]] = {k: [] for k, _, _ in FAMILY_FIGURES}
        for s in common:
            row = [s, fa, fb]
            for key, _, kind in FAMILY_FIGURES:
                d = keyed[fb][s][key] - keyed[fa][s][key]
                row.append(_fmt(d, kind, diff=True))
                if not np.isnan(d):
                    diffs[key].append(d)
            rows.append(row)
        if len(common) > 1:
            mean = [f"mean of {len(common)}", fa, fb]
            for key, _, kind in FAMILY_FIGURES:
                vals = diffs[key]
                mean.append(_fmt(statistics.fmean(vals), kind, diff=True) if vals else "-")
            rows.append(mean)
    return header, rows
