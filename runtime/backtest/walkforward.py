"""Per-fold replays of the runtime strategies, for the walk-forward report and the promotion gate.

``invest train`` trains one ensemble per test year Y (on data through Y-1). For each
Y, :func:`replay_year` replays year Y through the live cycle (strategy, risk engine,
paper broker, costs) once per strategy: ``trend_king`` (no fitting: out of sample by
construction), ``rl_ensemble`` and ``hybrid`` with fold Y's pack. Each replay starts
from fresh cash on the year's first session, with all earlier history loaded as
warm-up. The result keeps what a promotion gate needs, not just a total return:

* the *daily* equity of each strategy, and of the equal-weight buy-and-hold and the
  index measured in the same run (:class:`~invest.runtime.backtest.runner.BacktestResult`);
* :class:`RLStats` from rl_ensemble's decision records: per symbol-day the action
  with the highest mean probability, and the policies' distribution entropy (each
  policy's, measured as they step; the entropy of the mean ``p`` when only records
  are at hand);
* rl_ensemble's exposure (invested share of equity) over the year;
* how many trades hybrid made that trend_king did not, and the reverse (0 means the
  policies' vetoes changed no decision that year).

Nothing here fits or judges: ``invest.trainer.gate`` chains the years and applies the
thresholds.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from invest.runtime.backtest.runner import BacktestResult, replay
from invest.runtime.config import Settings, parse_config
from invest.runtime.cycle import AccountRuntime
from invest.runtime.data.base import MarketData
from invest.runtime.domain import Fill
from invest.runtime.market import Market
from invest.runtime.policy.contract import ACTIONS, softmax
from invest.runtime.policy.ensemble import Ensemble, StepResult, as_ensemble
from invest.runtime.policy.pack import Pack, load_pack, resolve_pack
from invest.runtime.policy.state import MemoryStateStore
from invest.runtime.strategies import rl_strategy
from invest.runtime.strategies.base import Strategy

FloatArray = npt.NDArray[np.float64]

#: The strategies replayed per fold, in report order.
STRATEGIES: tuple[str, ...] = ("trend_king", "rl_ensemble", "hybrid")
#: Buy-and-hold curves measured in the same run (from trend_king's replay).
BENCHMARKS: tuple[str, ...] = ("equal_weight", "index")
#: Every series a :class:`YearReplay` may hold.
SERIES: tuple[str, ...] = (*STRATEGIES, *BENCHMARKS)
_ACCOUNT = "wf"
_LOG_A = math.log(len(ACTIONS))


@dataclass(frozen=True)
class RLStats:
    """What rl_ensemble's policies said over one replay.

    Attributes:
        symbol_days: symbol-days on which the policies stepped.
        actions: per action (``ACTIONS`` order), symbol-days on which it had the
            highest mean probability.
        entropy: mean distribution entropy in nats over those symbol-days (``log 3``
            is uniform); None when no policy stepped.
        entropy_source: ``policies`` (each policy's own distribution, averaged) or
            ``mean`` (the entropy of the ensemble's mean probabilities, an upper
            bound of the former, when only the records were available).
    """

    symbol_days: int
    actions: tuple[int, ...]
    entropy: float | None
    entropy_source: str = "policies"

    @property
    def top_share(self) -> float | None:
        """Share of symbol-days of the most frequent action (None without any)."""
        return max(self.actions) / self.symbol_days if self.symbol_days else None

    @property
    def entropy_ratio(self) -> float | None:
        """Mean entropy over the uniform distribution's (1.0 = uniform)."""
        return None if self.entropy is None else self.entropy / _LOG_A

    def as_dict(self) -> dict[str, Any]:
        """Plain dict for JSON."""
        return {
            "symbol_days": self.symbol_days,
            "actions": dict(zip(ACTIONS, self.actions, strict=True)),
            "top_share": _round(self.top_share),
            "entropy": _round(self.entropy),
            "entropy_ratio": _round(self.entropy_ratio),
            "entropy_source": self.entropy_source,
        }


@dataclass(frozen=True)
class YearReplay:
    """One test year replayed through the runtime.

    Attributes:
        year: the test year.
        days: its sessions.
        equity: daily equity per series (:data:`SERIES`; a strategy that was not
            replayed, rl_ensemble and hybrid without a pack, is absent).
        rl: rl_ensemble's :class:`RLStats` (None without a pack).
        exposure: rl_ensemble's mean invested share of equity over the year.
        budget: the investable share of equity (1 - the risk profile's cash reserve):
            the most any strategy can hold.
        trade_diff: trades (fills by day, symbol, side, quantity) that hybrid and
            trend_king do not share, both ways; 0 means identical trading.
        trades: fills per strategy.
    """

    year: int
    days: tuple[date, ...]
    equity: dict[str, FloatArray]
    rl: RLStats | None = None
    exposure: float | None = None
    budget: float = 1.0
    trade_diff: int | None = None
    trades: dict[str, int] = field(default_factory=dict)

    def returns(self, name: str) -> FloatArray | None:
        """Daily returns of series ``name`` (None when it was not replayed)."""
        eq = self.equity.get(name)
        if eq is None:
            return None
        prev = eq[:-1]
        out: FloatArray = np.divide(np.diff(eq), prev, out=np.zeros(len(prev)), where=prev > 0)
        return out

    def total_return(self, name: str) -> float | None:
        """Total return of series ``name`` over the year (None when it was not replayed)."""
        eq = self.equity.get(name)
        if eq is None or len(eq) == 0 or eq[0] <= 0:
            return None
        return float(eq[-1] / eq[0] - 1.0)

    def as_dict(self) -> dict[str, Any]:
        """Plain dict for JSON: totals and statistics (the daily curves are left out)."""
        return {
            "year": self.year,
            "first": self.days[0].isoformat() if self.days else None,
            "last": self.days[-1].isoformat() if self.days else None,
            "sessions": len(self.days),
            "total_return": {s: _round(self.total_return(s)) for s in SERIES if s in self.equity},
            "rl": self.rl.as_dict() if self.rl else None,
            "exposure": _round(self.exposure),
            "budget": _round(self.budget),
            "trade_diff": self.trade_diff,
            "trades": dict(self.trades),
        }


def _round(x: float | None, nd: int = 6) -> float | None:
    return None if x is None or not math.isfinite(x) else round(float(x), nd)


# ------------------------------------------------------------------------ statistics


def entropy(p: npt.ArrayLike) -> FloatArray:
    """Entropy in nats of each distribution along the last axis (0 log 0 = 0)."""
    q = np.asarray(p, dtype=np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        terms = np.where(q > 0, -q * np.log(q), 0.0)
    out: FloatArray = terms.sum(axis=-1)
    return out


def rl_stats(
    decisions: Iterable[Mapping[str, Any]], policy_entropy: tuple[float, int] | None = None
) -> RLStats:
    """Statistics of the ``rl`` records of a replay's decisions.

    Args:
        decisions: explanation records; their ``rl`` entry maps each symbol to its
            vote (``p``: the mean probabilities; a symbol not stepped has none).
        policy_entropy: ``(sum, count)`` of each policy's entropy per symbol-day, from
            :class:`EntropyMeter`; None uses the entropy of the mean ``p``.
    """
    counts = [0] * len(ACTIONS)
    probs: list[list[float]] = []
    for rec in decisions:
        for vote in (rec.get("rl") or {}).values():
            p = vote.get("p") if isinstance(vote, Mapping) else None
            if not p:
                continue
            counts[max(range(len(p)), key=p.__getitem__)] += 1
            probs.append(list(p))
    n = len(probs)
    if policy_entropy is not None and policy_entropy[1] > 0:
        return RLStats(n, tuple(counts), policy_entropy[0] / policy_entropy[1], "policies")
    ent = float(entropy(np.asarray(probs)).mean()) if n else None
    return RLStats(n, tuple(counts), ent, "mean")


class EntropyMeter:
    """An :class:`Ensemble` that passes every step through and sums each policy's entropy.

    Wraps the ensemble of one replay; :attr:`total` is ``(sum of entropies, policy-symbol-days)``.
    """

    def __init__(self, inner: Ensemble) -> None:
        self.inner = inner
        self._sum = 0.0
        self._n = 0

    @property
    def sha(self) -> str:
        """The wrapped ensemble's."""
        return self.inner.sha

    @property
    def name(self) -> str:
        """The wrapped ensemble's."""
        return self.inner.name

    @property
    def n_policies(self) -> int:
        """The wrapped ensemble's."""
        return self.inner.n_policies

    @property
    def layers(self) -> int:
        """The wrapped ensemble's."""
        return self.inner.layers

    @property
    def hidden(self) -> int:
        """The wrapped ensemble's."""
        return self.inner.hidden

    @property
    def normaliser(self) -> Any:
        """The wrapped ensemble's."""
        return self.inner.normaliser

    @property
    def total(self) -> tuple[float, int]:
        """``(sum, count)`` of per-policy entropies so far."""
        return self._sum, self._n

    def step(self, obs: Any, h: Any, c: Any, episode_start: Any) -> StepResult:
        """Step the wrapped ensemble and add its policies' entropies."""
        res = self.inner.step(obs, h, c, episode_start)
        ent = entropy(softmax(res.logits))  # (P, B)
        self._sum += float(ent.sum())
        self._n += int(ent.size)
        return res


def trade_key(f: Fill) -> tuple[str, str, str, str]:
    """What makes two fills the same trade: day, symbol, side and quantity."""
    return (f.day.isoformat(), f.symbol, f.side.value, str(f.quantity))


def trade_difference(a: Sequence[Fill], b: Sequence[Fill]) -> int:
    """Trades in one list and not the other, both ways (a multiset difference)."""
    ca, cb = Counter(map(trade_key, a)), Counter(map(trade_key, b))
    return sum(((ca - cb) + (cb - ca)).values())


def invested_share(r: BacktestResult) -> float:
    """Mean invested share of equity over a replay."""
    eq = r.equity
    share = np.divide(eq - r.cash, eq, out=np.zeros(len(eq)), where=eq > 0)
    return float(share.mean()) if len(eq) else 0.0


# --------------------------------------------------------------------------- replays


def _settings(
    universe: Sequence[str],
    benchmark: str,
    fills: Mapping[str, Any] | None,
    strategy: str,
    rl: Mapping[str, Any] | None = None,
) -> Settings:
    engine = {"fills": dict(fills)} if fills else {}
    acct: dict[str, Any] = {
        "universe": list(universe),
        "benchmark": benchmark,
        "schedule": "30 16 * * mon-fri",
        "strategy": strategy,
    }
    if rl and strategy != "trend_king":
        acct["rl"] = dict(rl)
    return parse_config({"engine": engine, "accounts": {_ACCOUNT: acct}})


def _strategy(settings: Settings, ensemble: Ensemble) -> Strategy:
    return rl_strategy(settings.account(_ACCOUNT), ensemble, MemoryStateStore())


def _as_ensemble(pack: Path | str | Pack | Ensemble) -> Ensemble:
    if isinstance(pack, str | Path):
        pack = load_pack(resolve_pack(pack))
    return as_ensemble(pack)


def replay_year(
    year: int,
    universe: Sequence[str],
    source: MarketData,
    *,
    benchmark: str = "SP500",
    pack: Path | str | Pack | Ensemble | None = None,
    fills: Mapping[str, Any] | None = None,
    rl: Mapping[str, Any] | None = None,
) -> YearReplay | None:
    """Replay ``year`` once per strategy through the live cycle.

    Args:
        year: the test year.
        universe: the symbols traded.
        source: market data; everything before ``year`` is warm-up.
        benchmark: index of the regime, the policies' market features and the benchmark.
        pack: fold ``year``'s pack (a path, a loaded :class:`Pack` or any ``Ensemble``);
            None replays trend_king alone.
        fills: ``engine.fills`` settings (slippage, commission) to charge.
        rl: the RL strategies' ``rl`` settings (``min_confidence``, ``shrink``...);
            None uses the defaults. The pack comes from ``pack``.

    Returns:
        The year's replays, or None when the data has no session in ``year``.
    """
    tk_settings = _settings(universe, benchmark, fills, "trend_king")
    tk_acct = AccountRuntime.build(_ACCOUNT, tk_settings, paper=True)
    frame = source.load(tk_acct.symbols(), None, date(year, 12, 31))
    market = Market(frame)
    if len(market) == 0 or market.day(len(market) - 1).year != year:
        return None
    start = date(year, 1, 1)
    tk = replay(tk_acct, market, start)
    equity: dict[str, FloatArray] = {
        "trend_king": tk.equity,
        "equal_weight": tk.equal_weight,
        "index": tk.benchmark,
    }
    budget = 1.0 - tk_settings.risk_for(_ACCOUNT).min_cash_pct
    trades = {"trend_king": len(tk.fills)}
    if pack is None:
        return YearReplay(year, tuple(tk.days), equity, budget=budget, trades=trades)
    shared = _as_ensemble(pack)
    meter = EntropyMeter(shared)
    results: dict[str, BacktestResult] = {}
    for name, ens in (("rl_ensemble", meter), ("hybrid", shared)):
        settings = _settings(universe, benchmark, fills, name, rl)
        acct = AccountRuntime.build(
            _ACCOUNT, settings, paper=True, strategy=_strategy(settings, ens)
        )
        results[name] = replay(acct, market, start)
        equity[name] = results[name].equity
        trades[name] = len(results[name].fills)
    run = results["rl_ensemble"]
    return YearReplay(
        year,
        tuple(tk.days),
        equity,
        rl=rl_stats(run.decisions, meter.total),
        exposure=invested_share(run),
        budget=budget,
        trade_diff=trade_difference(tk.fills, results["hybrid"].fills),
        trades=trades,
    )


def replay_folds(
    years: Sequence[int],
    universe: Sequence[str],
    source: MarketData,
    *,
    benchmark: str = "SP500",
    fold_packs: Mapping[int, Path | str | Pack | Ensemble] | None = None,
    fills: Mapping[str, Any] | None = None,
    rl: Mapping[str, Any] | None = None,
) -> list[YearReplay]:
    """:func:`replay_year` for each test year with its own fold's pack (years without data are skipped)."""
    out = []
    for y in years:
        r = replay_year(
            y,
            universe,
            source,
            benchmark=benchmark,
            pack=(fold_packs or {}).get(y),
            fills=fills,
            rl=rl,
        )
        if r is not None:
            out.append(r)
    return out


def strategy_years(
    years: Sequence[int],
    universe: Sequence[str],
    source: MarketData,
    *,
    benchmark: str = "SP500",
    fold_packs: Mapping[int, Path] | None = None,
    fills: Mapping[str, Any] | None = None,
) -> dict[str, dict[int, float | None]]:
    """Total return per strategy and benchmark per test year (from :func:`replay_folds`).

    Returns:
        ``{series: {year: return}}`` for every name of :data:`SERIES`; None where a
        series was not replayed (no pack for that fold, or no data that year).
    """
    reps = replay_folds(
        years, universe, source, benchmark=benchmark, fold_packs=fold_packs, fills=fills
    )
    return year_returns(reps, years)


def year_returns(
    replays: Sequence[YearReplay], years: Sequence[int]
) -> dict[str, dict[int, float | None]]:
    """``{series: {year: total return}}`` for every name of :data:`SERIES` (None: not replayed)."""
    by_year = {r.year: r for r in replays}
    return {
        s: {y: (by_year[y].total_return(s) if y in by_year else None) for y in years}
        for s in SERIES
    }
