"""llm_manager: the two-pass LLM portfolio manager (oracle manager mode) as a strategy.

Each cycle builds an :class:`~invest.runtime.oracle.context.OracleContext` at row ``t``
(portfolio, prices and indicators from the shared features, the deterministic regime,
news, and the manager's previous decisions with their live P&L), asks
:class:`~invest.runtime.oracle.manager.decide.ManagerOracle` for typed actions, and turns them
into target weights:

- ``BUY amount``: the current weight plus ``amount / equity``;
- ``SELL``: 0 without an amount, else the current weight less ``amount / equity``;
- ``HOLD`` and symbols without an action: the current weight.

It proposes, like any strategy; the risk engine then validates and clamps every
action as usual (position cap, cash reserve, minimum holding, trades per cycle,
liquidity, the drawdown brake, halts). Nothing here bypasses it. A symbol outside the
universe (plus the subscribed watchlist) is dropped with a note.

With a dynamic universe (``AccountConfig.dynamic_universe``) the prompt offers only the
period's selection of the configured candidates (:mod:`invest.runtime.universe`; the
watchlist's names join as before) as buyable; every holding stays in the prompt's
portfolio and ``held`` list, so a name that left the universe can still be sold. A BUY
outside the selection is dropped with a note. The notes name the universe when it
changes.

The LLM's ``stop_loss_pct``, ``take_profit_pct`` and ``time_stop_days`` travel in
``Proposal.extra["exits"]`` (symbol -> levels). The cycle hands them to
:meth:`AccountState.plan_exits` for the buys it sends, and the fill puts them on the
position, where the position monitors enforce them.

When the LLM is unavailable, over budget or unusable, the proposal keeps the current
weights: no new buys, and the stops still run. ``Proposal.extra["llm"]`` holds the
analysis and the actions for the explanation record.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt

from invest.runtime.config import AccountConfig, Settings, TrendKingParams
from invest.runtime.config.context import ContextConfig
from invest.runtime.config.mandate import MandateConfig
from invest.runtime.config.oracle import NewsConfig
from invest.runtime.config.universe import DynamicUniverseConfig
from invest.runtime.context import open_earnings
from invest.runtime.domain import AccountState, ExitPlan, Proposal, Regime
from invest.runtime.errors import ConfigError
from invest.runtime.features import FEATURE_NAMES
from invest.runtime.market import Market
from invest.runtime.options.earnings import EarningsCalendar
from invest.runtime.oracle.accounts import Mode, ledger_oracle_store
from invest.runtime.oracle.context import OracleContext, PreviousDecision, cycle_context
from invest.runtime.oracle.manager.decide import ManagerOracle, ManagerResult
from invest.runtime.oracle.news.sources import NewsSource, sources_from_config
from invest.runtime.oracle.schemas import Action, TradeAction
from invest.runtime.oracle.session import build_account_oracle
from invest.runtime.oracle.store import Store
from invest.runtime.regime import ATTACK
from invest.runtime.research.watchlist import Watchlist, effective_universe, load_watchlist
from invest.runtime.universe import Selection, UniverseNotes, selection

if TYPE_CHECKING:
    from invest.runtime.ledger import Ledger

INDICATORS = ("rsi_14", "dist_sma_50", "dist_sma_200", "vol_20", "mom_126", "macd_hist_norm")
RANK_FEATURE = "ram_126_20"

#: Decisions made before a day (newest first is not required), from the ledger.
DecisionSource = Callable[[date], Sequence["PastDecision"]]
#: The newest watchlist at or before a day (point in time), or None.
WatchlistFeed = Callable[[date], Watchlist | None]


@dataclass(frozen=True, slots=True)
class PastDecision:
    """One earlier action of the manager, with the price it was taken at.

    Attributes:
        day: the session of the decision.
        symbol: the ticker.
        action: BUY, SELL or HOLD.
        price: the close the decision saw, or None when unknown.
        thesis: the reason given then.
    """

    day: date
    symbol: str
    action: str
    price: float | None = None
    thesis: str = ""

    def pnl(self, price: float) -> float | None:
        """The price move since, signed by the decision: a BUY or HOLD gains when the price
        rose, a SELL when it fell. None without both prices."""
        if self.price is None or not (self.price > 0 and math.isfinite(price) and price > 0):
            return None
        move = price / self.price - 1
        return -move if self.action == Action.SELL.value else move


def past_decisions(
    records: Iterable[Mapping[str, Any]], *, before: date | None = None
) -> list[PastDecision]:
    """The manager's actions read from explanation records (``Ledger.decisions``).

    Only records with an ``llm`` part written by this strategy count; records of
    ``before`` or later are left out (a cycle never sees its own day).
    """
    out: list[PastDecision] = []
    for rec in records:
        llm = rec.get("llm")
        if not isinstance(llm, Mapping) or llm.get("mode") != "manager":
            continue
        try:
            day = date.fromisoformat(str(rec["day"]))
        except (KeyError, ValueError):
            continue
        if before is not None and day >= before:
            continue
        for act in llm.get("actions") or ():
            if not isinstance(act, Mapping) or "symbol" not in act or "action" not in act:
                continue
            price = act.get("price")
            out.append(
                PastDecision(
                    day,
                    str(act["symbol"]),
                    str(act["action"]),
                    float(price) if isinstance(price, int | float) else None,
                    str(act.get("thesis", "")),
                )
            )
    return out


class LLMManager:
    """The llm_manager strategy of one account.

    Args:
        oracle: the account's :class:`ManagerOracle` (its client, store and audit folder).
        universe: symbols it may buy.
        benchmark: default regime index.
        account: the account name (the cycle id is ``<account>:<day>``, as in the cycle).
        regime: trend_king parameters, for the deterministic regime shown to the model.
        sources: news sources (none: the prompt says there is no news).
        news: news filters.
        history: earlier decisions from the ledger (a restart keeps the track record).
        watchlist: the subscribed research watchlist at a day; its symbols join the universe.
        max_symbols: most candidates shown to the model (best by risk-adjusted momentum;
            held candidates always), to keep the prompt small on a large universe.
        history_limit: most previous decisions shown.
        mandate: the account's buckets by asset class, shown with their current weights.
        asset_classes: symbol -> asset class (the config's ``[assets]``), for the mandate.
        dynamic: the dynamic universe: only its current names of ``universe`` are offered.
        context: the ``[context]`` section (market context in the analysis prompt).
        calendar: the earnings calendar shown to the model (None: unknown).
    """

    name = "llm_manager"

    def __init__(
        self,
        oracle: ManagerOracle,
        universe: Sequence[str],
        benchmark: str,
        *,
        account: str,
        regime: TrendKingParams | None = None,
        sources: Sequence[NewsSource] = (),
        news: NewsConfig | None = None,
        history: DecisionSource | None = None,
        watchlist: WatchlistFeed | None = None,
        max_symbols: int = 40,
        history_limit: int = 20,
        mandate: MandateConfig | None = None,
        asset_classes: Mapping[str, str] | None = None,
        dynamic: DynamicUniverseConfig | None = None,
        context: ContextConfig | None = None,
        calendar: EarningsCalendar | None = None,
    ) -> None:
        self.oracle = oracle
        self.universe = tuple(universe)
        self.account = account
        self.params = regime or TrendKingParams()
        self.index_symbol = self.params.regime_symbol or benchmark
        self.sources = list(sources)
        self.news = news
        self.history_source = history
        self.watchlist = watchlist
        self.max_symbols = max_symbols
        self.history_limit = history_limit
        self.mandate = mandate
        self.asset_classes = asset_classes
        self.dynamic = dynamic
        self._sel: Selection | None = None
        self._unotes = UniverseNotes()
        self.context = context
        self.calendar = calendar
        #: This object's own decisions (the engine keeps it between cycles).
        self.history: list[PastDecision] = []
        self.last_result: ManagerResult | None = None

    def close(self) -> None:
        """Close the LLM client's connections."""
        self.oracle.client.close()

    def prepare(self, market: Market) -> None:
        """Precompute the regime and the shared features over ``market``."""
        p = self.params
        self._m = market
        ix = market.col[self.index_symbol]
        self._regime, self._sma = market.regime(self.index_symbol, p.sma_window, p.hysteresis)
        self._ix = ix
        self._feats: npt.NDArray[np.float32] = market.features().values
        if self.dynamic is not None:
            self._sel = selection(market, self.universe, self.dynamic)

    def propose(self, t: int, state: AccountState) -> Proposal:
        """Ask the manager at row ``t`` and turn its actions into target weights."""
        m, day = self._m, self._m.day(t)
        regime = Regime.ATTACK if self._regime[t] == ATTACK else Regime.DEFENSE
        notes = [
            f"{self.index_symbol} {float(m.close[t, self._ix]):.2f} vs SMA{self.params.sma_window} "
            f"{float(self._sma[t]):.2f}"
        ]
        if self._sel is not None:
            notes += self._unotes.at(self._sel, t)
        prices = m.marks(state.positions, t)
        equity = state.equity(prices)
        weights = {
            s: float(p.quantity) * prices[s] / equity
            for s, p in state.positions.items()
            if s in prices and math.isfinite(prices[s]) and equity > 0
        }
        candidates = self._candidates(t, day)
        shown = self._shown(t, candidates, state)
        ctx = cycle_context(
            m,
            t,
            state,
            shown,
            indicators=INDICATORS,
            regime=regime.value,
            sources=self.sources,
            news=self.news,
            news_symbols=sorted({*shown, *state.positions}),
            previous=self._previous(t, day),
            mandate=self.mandate,
            asset_classes=self.asset_classes,
            context=self.context,
            calendar=self.calendar,
        )
        result = self.oracle.decide(ctx, cycle_id=f"{self.account}:{day.isoformat()}")
        self.last_result = result
        targets = {s: w for s, w in weights.items() if w > 0}
        exits: dict[str, dict[str, float | int | None]] = {}
        actions: list[dict[str, Any]] = []
        if result.status != "decided" or equity <= 0:
            notes.append(
                f"LLM manager abstained ({result.note}): current weights kept, no new buys"
            )
        else:
            for act in result.actions:
                why = self._unknown(act, candidates, state)
                if why:
                    notes.append(why)
                    continue
                price = m.price(act.symbol, t)
                before = weights.get(act.symbol, 0.0)
                after = _target(act, before, equity)
                if after > 0:
                    targets[act.symbol] = after
                else:
                    targets.pop(act.symbol, None)
                if act.action is Action.BUY:
                    exits[act.symbol] = ExitPlan(
                        act.stop_loss_pct, act.take_profit_pct, act.time_stop_days
                    ).as_dict()
                actions.append(_explained(act, price, before, after))
                self.history.append(
                    PastDecision(day, act.symbol, act.action.value, _finite(price), act.thesis)
                )
            notes += [f"LLM dropped: {d}" for d in result.dropped]
        extra = {"llm": self._record(result, ctx, actions), "exits": exits}
        scores = self._scores(t, shown)
        return Proposal(targets, regime, scores, tuple(notes), extra)

    # -- context ---------------------------------------------------------------------------
    def _candidates(self, t: int, day: date) -> tuple[str, ...]:
        wl = self.watchlist(day) if self.watchlist is not None else None
        m = self._m
        out = tuple(
            s for s in effective_universe(self.universe, wl) if s in m.col and m.usable[t, m.col[s]]
        )
        if self._sel is None:
            return out
        # The configured candidates outside this period's selection are not offered; the
        # watchlist's own names are the research agent's point-in-time picks and stay.
        members = set(self._sel.members_at(t))
        return tuple(s for s in out if s in members or s not in self.universe)

    def _shown(self, t: int, candidates: Sequence[str], state: AccountState) -> list[str]:
        held = [s for s in candidates if s in state.positions]
        rest = [s for s in candidates if s not in state.positions]
        k = FEATURE_NAMES.index(RANK_FEATURE)
        score = {s: float(self._feats[t, self._m.col[s], k]) for s in rest}
        rest.sort(key=lambda s: -score[s] if math.isfinite(score[s]) else math.inf)
        return held + rest[: max(self.max_symbols - len(held), 0)]

    def _previous(self, t: int, day: date) -> tuple[PreviousDecision, ...]:
        seen = list(self.history_source(day)) if self.history_source is not None else []
        seen += self.history
        unique = {(d.day, d.symbol, d.action): d for d in seen if d.day < day}
        newest = sorted(unique.values(), key=lambda d: (d.day, d.symbol), reverse=True)
        m = self._m
        return tuple(
            PreviousDecision(
                d.symbol,
                d.action,
                (day - d.day).days,
                d.pnl(m.price(d.symbol, t)) if d.symbol in m.col else None,
                d.thesis,
            )
            for d in newest[: self.history_limit]
        )

    # -- actions ---------------------------------------------------------------------------
    def _unknown(self, act: TradeAction, candidates: Sequence[str], state: AccountState) -> str:
        if act.symbol not in self._m.col:
            return f"LLM {act.action.value} {act.symbol} dropped: no market data"
        if act.action is Action.BUY and act.symbol not in candidates:
            return f"LLM BUY {act.symbol} dropped: not in the universe"
        if act.action is Action.SELL and act.symbol not in state.positions:
            return f"LLM SELL {act.symbol} dropped: not held"
        return ""

    def _scores(self, t: int, symbols: Sequence[str]) -> dict[str, float]:
        k = FEATURE_NAMES.index(RANK_FEATURE)
        out = {}
        for s in symbols:
            v = float(self._feats[t, self._m.col[s], k])
            if math.isfinite(v):
                out[s] = round(v, 4)
        return out

    @staticmethod
    def _record(
        result: ManagerResult, ctx: OracleContext, actions: list[dict[str, Any]]
    ) -> dict[str, Any]:
        return {
            "mode": "manager",
            "status": result.status,
            "note": result.note,
            "news": ctx.news.note,
            "models": list(result.models),
            "analysis": result.analysis.model_dump(mode="json") if result.analysis else None,
            "actions": actions,
            "dropped": list(result.dropped),
            "usage": result.usage.as_dict(),
        }


def _target(act: TradeAction, before: float, equity: float) -> float:
    share = float(act.amount) / equity if act.amount is not None else None
    if act.action is Action.BUY:
        return before + (share or 0.0)
    if act.action is Action.SELL:
        return 0.0 if share is None else max(before - share, 0.0)
    return before


def _finite(x: float) -> float | None:
    return x if math.isfinite(x) else None


def _explained(act: TradeAction, price: float, before: float, after: float) -> dict[str, Any]:
    row = act.model_dump(mode="json")
    row.update(price=_finite(price), weight=round(before, 4), target=round(after, 4))
    return row


def build_llm_manager(
    cfg: AccountConfig,
    account: str,
    home: Path,
    *,
    now: Callable[[], datetime],
    replay_only: bool = False,
    store: Store | None = None,
    history: DecisionSource | None = None,
    watchlist: WatchlistFeed | None = None,
    asset_classes: Mapping[str, str] | None = None,
    context: ContextConfig | None = None,
) -> LLMManager:
    """The llm_manager of an account: cached, budgeted client; audits under ``home/oracle``.

    Args:
        cfg: the account's config; its ``oracle`` section drives the manager.
        account: the account name.
        home: the data directory.
        now: the clock.
        replay_only: never call the LLM (backtests replay cached answers; a miss abstains).
        store: cache, audit and usage storage (default: JSON files in ``home/oracle``;
            the engine passes a :class:`~invest.runtime.oracle.ledger_store.LedgerOracleStore`).
        history: earlier decisions from the ledger.
        watchlist: the subscribed research watchlist at a day.
        asset_classes: symbol -> asset class, for the account's mandate.
        context: the ``[context]`` section (market context and the earnings calendar in
            the analysis prompt; replays see no live calendar).

    Raises:
        ConfigError: the account has no ``oracle`` section.
    """
    if cfg.oracle is None:
        raise ConfigError(f"accounts.{account}.oracle: the llm_manager strategy needs an LLM")
    oracle = build_account_oracle(
        ManagerOracle, cfg.oracle, account, home, now=now, replay_only=replay_only, store=store
    )
    return LLMManager(
        oracle,
        cfg.universe,
        cfg.benchmark,
        account=account,
        regime=cfg.trend_king,
        sources=[] if replay_only else sources_from_config(cfg.oracle.news),
        news=cfg.oracle.news,
        history=history,
        watchlist=watchlist,
        mandate=cfg.mandate,
        asset_classes=asset_classes,
        dynamic=cfg.dynamic_universe,
        context=context,
        calendar=None if replay_only else open_earnings(context),
    )


def build_manager(
    settings: Settings,
    name: str,
    home: Path,
    now: Callable[[], datetime],
    mode: Mode = "live",
    ledger: Ledger | None = None,
    store: Store | None = None,
) -> LLMManager | None:
    """The llm_manager strategy of an account (it needs the ledger and the clock), else None.

    Shared by `invest run`/`invest backtest` and the engine, so both audit to the same
    place (see :mod:`invest.runtime.oracle.accounts`).

    Raises:
        ConfigError: an llm_manager account asked to run with ``--oracle off``.
    """
    cfg = settings.account(name)
    if cfg.strategy != "llm_manager":
        return None
    if mode == "off":
        raise ConfigError(f"accounts.{name}: llm_manager needs its LLM (--oracle live or replay)")
    research = home / "research"
    wl = cfg.watchlist
    return build_llm_manager(
        cfg,
        name,
        home,
        now=now,
        replay_only=mode == "replay",
        store=store or ledger_oracle_store(ledger),
        history=(lambda d: past_decisions(ledger.decisions(name, 200), before=d))
        if ledger
        else None,
        watchlist=(lambda d: load_watchlist(research, wl, as_of=d)) if wl else None,
        asset_classes=settings.assets,
        context=settings.context,
    )
